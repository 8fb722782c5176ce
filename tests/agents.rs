//! The main job: one user message becomes one connected trace across four services, each its own
//! OS process, plus token-usage histograms per model call — the `agents` example run for real
//! against our own OTLP gRPC receiver.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use vystak_otel::viewer::{PointValue, Receiver, SpanKind, SpanRecord, Store};

/// `target/<profile>/examples/agents`, which `cargo test` builds before running tests.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("examples").join("agents");
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test` (which builds examples) or `cargo build --example agents` first",
        bin.display()
    );
    bin
}

fn nats_available() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .any(|d| d.join("nats-server").is_file())
}

struct Run {
    report: Value,
    store: Store,
    stdout: String,
    _receiver: Receiver,
}

async fn run(entry: &str) -> Run {
    let receiver = Receiver::start_local().await.unwrap();
    let report_path = std::env::temp_dir().join(format!(
        "vystak-agents-{entry}-{}-{}.json",
        std::process::id(),
        receiver.local_addr().port()
    ));
    let output = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new(example_binary())
            .args(["--entry", entry, "--report"])
            .arg(&report_path)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the demo finished within 240 s")
    .expect("the demo ran");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "demo failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("report written")).unwrap();
    let _ = std::fs::remove_file(&report_path);
    // Every child flushed on exit, so everything is in already; wait for the last batch anyway.
    let store = receiver.store().clone();
    let calls = report["model_calls"].as_array().unwrap().len();
    assert!(
        store
            .wait_until(Duration::from_secs(30), |s| s
                .spans_named("gen_ai.chat")
                .len()
                == calls
                && s.metric_points("gen_ai.client.token.usage").len() >= 4)
            .await,
        "telemetry did not arrive: {:#?}",
        store.spans()
    );
    Run {
        report,
        store,
        stdout,
        _receiver: receiver,
    }
}

fn ancestors<'a>(
    span: &'a SpanRecord,
    by_id: &'a HashMap<&str, &SpanRecord>,
) -> Vec<&'a SpanRecord> {
    let mut out = Vec::new();
    let mut current = span;
    while let Some(parent) = current.parent_span_id.as_deref().and_then(|p| by_id.get(p)) {
        out.push(*parent);
        current = parent;
        if out.len() > 64 {
            break;
        }
    }
    out
}

fn check(run: &Run, entry: &str) {
    let store = &run.store;
    let spans = store.spans();
    let trace_ids = store.trace_ids();
    assert_eq!(
        trace_ids.len(),
        1,
        "exactly one trace for the turn:\n{}",
        run.stdout
    );
    let by_id: HashMap<&str, &SpanRecord> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();

    // One root, the channel's; every other span's parent is in the trace (nothing unended).
    let roots: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .collect();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    let root = roots[0];
    let channel = format!("vystak-channel-{entry}");
    assert_eq!(root.service_name, channel);
    match entry {
        "slack" => assert_eq!(root.name, "slack.app_mention"),
        _ => {
            assert_eq!(root.name, "POST /chat");
            assert_eq!(root.kind, SpanKind::Server);
        }
    }
    for s in &spans {
        if let Some(p) = &s.parent_span_id {
            assert!(
                by_id.contains_key(p.as_str()),
                "{} has a missing parent {p}",
                s.name
            );
        }
        assert!(s.end_unix_nanos >= s.start_unix_nanos);
    }

    // The four services of the seed's table.
    let services: BTreeSet<&str> = spans.iter().map(|s| s.service_name.as_str()).collect();
    let expected: BTreeSet<&str> = [
        channel.as_str(),
        "vystak-coordinator",
        "vystak-weather-agent",
        "vystak-time-agent",
    ]
    .into_iter()
    .collect();
    assert_eq!(services, expected);

    // Every agent's server span descends from a coordinator client (or producer) span.
    for agent in ["vystak-weather-agent", "vystak-time-agent"] {
        let server = spans
            .iter()
            .find(|s| s.service_name == agent && s.kind == SpanKind::Server)
            .unwrap_or_else(|| panic!("{agent} has a server span"));
        assert!(
            ancestors(server, &by_id)
                .iter()
                .any(|a| a.service_name == "vystak-coordinator"
                    && matches!(a.kind, SpanKind::Client | SpanKind::Producer)),
            "{agent}'s server span does not descend from the coordinator's client span"
        );
    }
    let weather_server = spans
        .iter()
        .find(|s| s.service_name == "vystak-weather-agent" && s.kind == SpanKind::Server)
        .unwrap();
    let parent = by_id[weather_server.parent_span_id.as_deref().unwrap()];
    assert_eq!(
        (parent.service_name.as_str(), parent.kind),
        ("vystak-coordinator", SpanKind::Client)
    );
    if run.report["nats"] == Value::Bool(true) {
        let process = &store.spans_named("process vystak.agents.time-agent")[0];
        let send = by_id[process.parent_span_id.as_deref().unwrap()];
        assert_eq!(send.name, "send vystak.agents.time-agent");
        assert_eq!(send.kind, SpanKind::Producer);
        assert_eq!(send.service_name, "vystak-coordinator");
        assert_eq!(process.service_name, "vystak-time-agent");
    }

    // One gen_ai.chat CLIENT span per model call, with exactly the usage the model reported.
    let calls = run.report["model_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 4, "plan, weather, time, answer");
    let chats = store.spans_named("gen_ai.chat");
    assert_eq!(chats.len(), calls.len());
    let mut expected_tokens: BTreeMap<(String, &str), (u64, f64)> = BTreeMap::new();
    for call in calls {
        let id = call["id"].as_str().unwrap();
        let span = chats
            .iter()
            .find(|s| s.str_attr("gen_ai.response.id") == Some(id))
            .unwrap_or_else(|| panic!("no gen_ai.chat span for {id}"));
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(span.str_attr("gen_ai.system"), Some("anthropic"));
        for (attr, field, ty) in [
            ("gen_ai.usage.input_tokens", "input_tokens", "input"),
            ("gen_ai.usage.output_tokens", "output_tokens", "output"),
            (
                "gen_ai.usage.cache_read_input_tokens",
                "cache_read_input_tokens",
                "cache_read",
            ),
            (
                "gen_ai.usage.cache_creation_input_tokens",
                "cache_creation_input_tokens",
                "cache_creation",
            ),
        ] {
            let mut reported = call[field].as_u64().unwrap();
            if field == "input_tokens" {
                // The total input, as LangChain's usage_metadata has it: Anthropic's raw
                // input_tokens excludes the cache reads and writes.
                reported += call["cache_read_input_tokens"].as_u64().unwrap()
                    + call["cache_creation_input_tokens"].as_u64().unwrap();
                let cache_read = call["cache_read_input_tokens"].as_u64().unwrap();
                assert!(cache_read <= reported, "{id}: cache hit ratio <= 1");
            }
            assert_eq!(span.int_attr(attr), Some(reported as i64), "{id} {attr}");
            let e = expected_tokens
                .entry((span.service_name.clone(), ty))
                .or_default();
            e.0 += 1;
            e.1 += reported as f64;
        }
    }

    // gen_ai.client.token.usage: per service and token type, one point per call, with the sums
    // the model reported, under the right service.name resource.
    let mut got: BTreeMap<(String, &str), (u64, f64)> = BTreeMap::new();
    for p in store.metric_points("gen_ai.client.token.usage") {
        let ty = match p.str_attr("gen_ai.token.type") {
            Some("input") => "input",
            Some("output") => "output",
            Some("cache_read") => "cache_read",
            Some("cache_creation") => "cache_creation",
            other => panic!("unexpected token type {other:?}"),
        };
        if let PointValue::Histogram {
            count, sum, bounds, ..
        } = &p.value
        {
            assert_eq!(bounds.first(), Some(&1.0));
            assert_eq!(bounds.last(), Some(&67108864.0));
            let e = got.entry((p.service_name.clone(), ty)).or_default();
            e.0 += count;
            e.1 += sum;
        }
    }
    assert_eq!(got, expected_tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chat_message_is_one_trace_across_four_processes() {
    let run = run("chat").await;
    assert_eq!(run.report["nats"], Value::Bool(nats_available()));
    assert!(run.stdout.contains("spans across 4 services") || run.stdout.contains("[6/6]"));
    check(&run, "chat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_app_mention_roots_the_trace_at_slack_app_mention() {
    let run = run("slack").await;
    check(&run, "slack");
}
