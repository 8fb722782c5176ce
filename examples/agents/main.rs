//! The main demo: one user message, one connected trace across four services.
//!
//! ```text
//! cargo run --example agents                  # chat entry
//! cargo run --example agents -- --entry slack # a simulated Slack Socket Mode app_mention
//! cargo run --example agents -- --serve       # then keep the web UI up on http://127.0.0.1:13000
//! ```
//!
//! The parent process starts a local Anthropic-compatible model server, `nats-server` (when it is
//! on PATH), and four child processes — `vystak-channel-chat` (or `-slack`), `vystak-coordinator`,
//! `vystak-weather-agent` (HTTP) and `vystak-time-agent` (NATS, via `NatsHttpBridge`, streaming
//! its model reply) — sends one user message, prints the reply, shuts everything down, and prints
//! the trace tree and the token summary per service.
//!
//! Telemetry: with `OTEL_EXPORTER_OTLP_ENDPOINT` unset the demo starts the embedded receiver
//! (`vystak-otel-viewer`) and points every service at it; set, it exports there (any OTLP gRPC
//! collector); set to the empty string, telemetry is off. The run ends by printing the URL of its
//! trace in the embedded viewer's UI; with `--serve` the viewer and its UI (on 127.0.0.1:13000, or a
//! free port when that one is taken) stay up until Ctrl-C.

mod a2a;
mod model;
mod procs;
mod roles;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vystak_otel_viewer::{render, AttrValue, Receiver, Viewer, ViewerConfig};

use procs::{NatsServer, Service};

const USAGE: &str = "usage: agents [--entry chat|slack] [--report FILE] [--message TEXT] [--serve]\n  --serve  keep the embedded viewer and its web UI up after the run, until Ctrl-C";

/// The seed's UI address.
const UI_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 13000);

fn step(n: usize, text: &str) {
    println!("[{n}/6] {text}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role_args = roles::RoleArgs(args.clone());
    let result = match role_args.get("role") {
        Some("agent") => roles::run_agent(&role_args).await,
        Some("coordinator") => roles::run_coordinator(&role_args).await,
        Some("channel") => roles::run_channel(&role_args).await,
        Some(other) => Err(format!("unknown role {other}")),
        None => orchestrate(&role_args).await,
    };
    if let Err(e) = result {
        eprintln!("agents: {e}");
        std::process::exit(1);
    }
}

enum Telemetry {
    Embedded(Receiver),
    External(String),
    Off,
}

async fn orchestrate(args: &roles::RoleArgs) -> Result<(), String> {
    if args.0.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let started = Instant::now();
    let serve = args.flag("serve");
    let entry = args.get("entry").unwrap_or("chat").to_owned();
    if entry != "chat" && entry != "slack" {
        return Err(format!("--entry must be chat or slack\n{USAGE}"));
    }
    let message = args
        .get("message")
        .unwrap_or("What's the weather and the local time in Lisbon?")
        .to_owned();

    let telemetry = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(e) if e.is_empty() => Telemetry::Off,
        Ok(e) => Telemetry::External(e),
        Err(_) => Telemetry::Embedded(start_embedded(serve).await?),
    };
    let endpoint = match &telemetry {
        Telemetry::Embedded(r) => {
            step(
                1,
                &format!("telemetry: embedded OTLP gRPC receiver on {}", r.endpoint()),
            );
            r.endpoint()
        }
        Telemetry::External(e) => {
            step(
                1,
                &format!("telemetry: exporting to {e} (OTEL_EXPORTER_OTLP_ENDPOINT)"),
            );
            e.clone()
        }
        Telemetry::Off => {
            step(
                1,
                "telemetry: off (OTEL_EXPORTER_OTLP_ENDPOINT is set to the empty string)",
            );
            String::new()
        }
    };
    let env = vec![("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), endpoint)];

    let mut model = model::ModelServer::start()
        .await
        .map_err(|e| e.to_string())?;
    step(
        2,
        &format!(
            "model: Anthropic-compatible /v1/messages on {}",
            model.base_url()
        ),
    );

    let nats = match procs::nats_server_path() {
        Some(bin) => {
            let server = NatsServer::start(&bin).await?;
            step(3, &format!("nats: nats-server on {}", server.url));
            Some(server)
        }
        None => {
            step(
                3,
                "nats: nats-server not found on PATH; time-agent is reached over HTTP too",
            );
            None
        }
    };

    let used_nats = nats.is_some();
    step(4, "starting services");
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    let model_url = model.base_url();
    let weather = Service::spawn(
        "vystak-weather-agent",
        &s(&[
            "--role",
            "agent",
            "--name",
            "weather-agent",
            "--model",
            &model_url,
        ]),
        &env,
    )
    .await?;
    println!("      vystak-weather-agent  {} (HTTP)", weather.url);
    let subject = "vystak.agents.time-agent";
    let mut time_args = s(&[
        "--role",
        "agent",
        "--name",
        "time-agent",
        "--model",
        &model_url,
        "--stream",
    ]);
    if let Some(n) = &nats {
        time_args.extend(s(&["--nats", &n.url, "--subject", subject]));
    }
    let time = Service::spawn("vystak-time-agent", &time_args, &env).await?;
    println!(
        "      vystak-time-agent     {} ({})",
        time.url,
        if nats.is_some() {
            "NATS subject vystak.agents.time-agent"
        } else {
            "HTTP"
        }
    );
    let mut coord_args = s(&[
        "--role",
        "coordinator",
        "--model",
        &model_url,
        "--weather",
        &weather.url,
    ]);
    match &nats {
        Some(n) => coord_args.extend(s(&["--nats", &n.url, "--time-subject", subject])),
        None => coord_args.extend(s(&["--time", &time.url])),
    }
    let coordinator = Service::spawn("vystak-coordinator", &coord_args, &env).await?;
    println!("      vystak-coordinator    {}", coordinator.url);
    let channel_name = format!("vystak-channel-{entry}");
    let mut channel = Service::spawn(
        &channel_name,
        &s(&[
            "--role",
            "channel",
            "--entry",
            &entry,
            "--coordinator",
            &coordinator.url,
        ]),
        &env,
    )
    .await?;
    println!("      {channel_name:<21} {}", channel.url);

    step(
        5,
        &format!("sending one user message via {entry}: {message:?}"),
    );
    let reply: Value = if entry == "slack" {
        let event = json!({"type": "event_callback", "event": {"type": "app_mention",
            "user": "U024BE7LH", "channel": "C0LAN2Q65", "text": format!("<@U0LAN0Z89> {message}")}});
        channel.send_line(&format!("event {event}")).await?;
        let line = channel.read_line(Duration::from_secs(120)).await?;
        serde_json::from_str(line.strip_prefix("REPLY ").unwrap_or(&line))
            .map_err(|e| e.to_string())?
    } else {
        reqwest::Client::new()
            .post(format!("{}/chat", channel.url))
            .json(&json!({"text": message}))
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?
    };
    let reply_text = reply["reply"]
        .as_str()
        .ok_or_else(|| format!("the turn failed: {reply}"))?
        .to_owned();
    println!("\nreply: {reply_text}\n");

    step(6, "shutting down (each service flushes its telemetry)");
    let mut failures = Vec::new();
    for svc in [channel, coordinator, time, weather] {
        if let Err(e) = svc.shutdown(Duration::from_secs(30)).await {
            failures.push(e);
        }
    }
    if let Some(n) = nats {
        n.stop().await;
    }
    model.stop();
    let calls = model.calls();

    if let Some(path) = args.get("report") {
        let (_, price) = roles::demo_prices();
        let report = json!({"entry": entry, "reply": reply_text, "nats": used_nats,
                            "model_calls": calls, "model": roles::MODEL,
                            "price_per_million": {"input": price.input, "output": price.output,
                                "cache_read": price.cache_read,
                                "cache_creation": price.cache_creation}});
        std::fs::write(path, report.to_string()).map_err(|e| format!("write {path}: {e}"))?;
    }

    let receiver = match telemetry {
        Telemetry::Embedded(receiver) => {
            print_telemetry(&receiver).await;
            Some(receiver)
        }
        _ => None,
    };
    println!(
        "\nmodel calls: {}; wall time {:.2} s",
        calls.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(receiver) = receiver {
        let store = receiver.store();
        let ui = receiver.ui_url().unwrap_or_default();
        for trace_id in store.trace_ids() {
            println!("trace: {ui}/trace/{trace_id}");
        }
        if serve {
            println!(
                "\nthe viewer stays up: {ui} (traces), {ui}/genai (model calls), {ui}/tokens \
                 (token charts); OTLP gRPC {} — press Ctrl-C to stop",
                receiver.endpoint()
            );
            let _ = tokio::signal::ctrl_c().await;
        } else {
            println!("(the viewer stops with this run; add --serve to keep its UI up)");
        }
        receiver.shutdown().await;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// The embedded viewer: free ports for a plain run; with `--serve` the UI on the seed's port
/// 13000 (a free port, said so, when 13000 is taken).
async fn start_embedded(serve: bool) -> Result<Receiver, String> {
    if serve {
        match Viewer::start(ViewerConfig::local().with_ui(Some(UI_ADDR.into()))).await {
            Ok(v) => return Ok(v),
            Err(e) => eprintln!("agents: {e}; serving the UI on a free port instead"),
        }
    }
    Receiver::start_local().await.map_err(|e| e.to_string())
}

async fn print_telemetry(receiver: &Receiver) {
    let store = receiver.store();
    // The children flushed on exit; give the last export a moment and wait for quiet.
    let mut last = usize::MAX;
    for _ in 0..40 {
        let n = store.span_count();
        if n == last && n > 0 {
            break;
        }
        last = n;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    for trace_id in store.trace_ids() {
        let spans = store.trace(&trace_id);
        let mut services: Vec<&str> = spans.iter().map(|s| s.service_name.as_str()).collect();
        services.sort_unstable();
        services.dedup();
        println!();
        print!("{}", render::trace_tree(&spans));
        println!(
            "{} spans across {} services: {}",
            spans.len(),
            services.len(),
            services.join(", ")
        );
    }
    let summary = render::TokenSummary::from_points(&store.all_metric_points());
    println!("\ntoken usage per service (gen_ai.client.token.usage)\n{summary}");
    // Cost per service from the chat spans' gen_ai.usage.cost (the demo's price table).
    let mut cost: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for span in store.spans() {
        if let Some(AttrValue::Double(c)) = span.attributes.get("gen_ai.usage.cost") {
            let e = cost.entry(span.service_name.clone()).or_default();
            e.0 += c;
            e.1 += 1;
        }
    }
    println!(
        "\ncost per service (gen_ai.usage.cost, {} at $1/$5 per M tokens)",
        roles::MODEL
    );
    for (service, (usd, calls)) in &cost {
        println!("  {service:<24} ${usd:.6} over {calls} calls");
    }
    let total: f64 = cost.values().map(|(c, _)| c).sum();
    println!("  {:<24} ${total:.6}", "total");
}
