//! The main job: one user message becomes one connected trace across four services, each its own
//! OS process, plus token-usage histograms per model call — the `agents` example run for real
//! against our own OTLP gRPC receiver.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use vystak_otel_viewer::{AttrValue, PointValue, Receiver, SpanKind, SpanRecord, Store};

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
    let (report, stdout) = run_into(&receiver, entry, 0).await;
    Run {
        report,
        store: receiver.store().clone(),
        stdout,
        _receiver: receiver,
    }
}

/// Runs the demo exporting into `receiver`, which already holds `chats_before` chat spans;
/// returns the demo's report and stdout once its telemetry arrived.
async fn run_into(receiver: &Receiver, entry: &str, chats_before: usize) -> (Value, String) {
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
                == chats_before + calls
                && s.metric_points("gen_ai.client.token.usage").len() >= 4)
            .await,
        "telemetry did not arrive: {:#?}",
        store.spans()
    );
    (report, stdout)
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
    assert_eq!(
        calls.len(),
        5,
        "plan, weather (asks for the tool), weather (with its result), time, answer"
    );
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
        assert_eq!(span.str_attr("gen_ai.provider.name"), Some("anthropic"));
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
            if let Some(dotted) = attr.strip_suffix("_input_tokens") {
                // The names Phoenix and Langfuse read, beside the seed's, same values.
                let dotted = format!("{dotted}.input_tokens");
                assert_eq!(
                    span.int_attr(&dotted),
                    Some(reported as i64),
                    "{id} {dotted}"
                );
            }
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

    check_agents_tools_and_cost(run, &spans, &by_id);
}

/// Issue 14's shape: one `invoke_agent` span per agent turn, the weather agent's tool between
/// its two model calls, usage on chat spans only, and each call's cost from the price table.
fn check_agents_tools_and_cost(
    run: &Run,
    spans: &[SpanRecord],
    by_id: &HashMap<&str, &SpanRecord>,
) {
    let parent_of = |s: &SpanRecord| by_id[s.parent_span_id.as_deref().unwrap()];
    let mut agents = HashMap::new();
    for (service, agent) in [
        ("vystak-coordinator", "coordinator"),
        ("vystak-weather-agent", "weather-agent"),
        ("vystak-time-agent", "time-agent"),
    ] {
        let name = format!("invoke_agent {agent}");
        let turns: Vec<&SpanRecord> = spans.iter().filter(|s| s.name == name).collect();
        assert_eq!(turns.len(), 1, "{name}");
        let turn = turns[0];
        assert_eq!(turn.service_name, service);
        assert_eq!(turn.kind, SpanKind::Internal, "an in-process agent");
        assert_eq!(turn.str_attr("gen_ai.operation.name"), Some("invoke_agent"));
        assert_eq!(turn.str_attr("gen_ai.agent.name"), Some(agent));
        assert_eq!(
            turn.str_attr("gen_ai.conversation.id"),
            Some("demo-context")
        );
        let server = parent_of(turn);
        assert_eq!(
            (server.service_name.as_str(), server.kind),
            (service, SpanKind::Server)
        );
        agents.insert(service, turn);
    }
    // Every model call is made inside its agent's turn.
    let chats: Vec<&SpanRecord> = spans.iter().filter(|s| s.name == "gen_ai.chat").collect();
    for chat in &chats {
        assert_eq!(
            parent_of(chat).span_id,
            agents[chat.service_name.as_str()].span_id,
            "{} gen_ai.chat under its invoke_agent",
            chat.service_name
        );
    }

    // The tool: asked for by the weather agent's first call, run between its two calls.
    let calls = run.report["model_calls"].as_array().unwrap();
    let asked: Vec<&Value> = calls
        .iter()
        .filter(|c| c["tool_use_id"].is_string())
        .collect();
    assert_eq!(asked.len(), 1, "one call asked for a tool");
    let tools: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.name == "execute_tool get_weather")
        .collect();
    assert_eq!(tools.len(), 1);
    let tool = tools[0];
    assert_eq!(tool.service_name, "vystak-weather-agent");
    assert_eq!(tool.kind, SpanKind::Internal);
    assert_eq!(
        parent_of(tool).span_id,
        agents["vystak-weather-agent"].span_id
    );
    assert_eq!(tool.str_attr("gen_ai.tool.name"), Some("get_weather"));
    assert_eq!(tool.str_attr("gen_ai.tool.type"), Some("function"));
    assert_eq!(
        tool.str_attr("gen_ai.tool.call.id"),
        asked[0]["tool_use_id"].as_str()
    );
    assert!(
        tool.str_attr("gen_ai.tool.call.arguments").is_none(),
        "content capture is off"
    );
    let mut weather_chats: Vec<&&SpanRecord> = chats
        .iter()
        .filter(|s| s.service_name == "vystak-weather-agent")
        .collect();
    weather_chats.sort_by_key(|s| s.start_unix_nanos);
    assert_eq!(weather_chats.len(), 2);
    assert_eq!(
        weather_chats[0].str_attr("gen_ai.response.id"),
        asked[0]["id"].as_str(),
        "the first weather call asked for the tool"
    );
    assert!(weather_chats[0].end_unix_nanos <= tool.start_unix_nanos);
    assert!(tool.end_unix_nanos <= weather_chats[1].start_unix_nanos);

    // Usage on chat spans only: summed over every span, each call counts once, and the sums are
    // the model server's.
    for (attr, fields) in [
        (
            "gen_ai.usage.input_tokens",
            &[
                "input_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ][..],
        ),
        ("gen_ai.usage.output_tokens", &["output_tokens"][..]),
    ] {
        let over = |filter: &dyn Fn(&SpanRecord) -> bool| -> i64 {
            spans
                .iter()
                .filter(|s| filter(s))
                .filter_map(|s| s.int_attr(attr))
                .sum()
        };
        let reported: u64 = calls
            .iter()
            .map(|c| fields.iter().map(|f| c[*f].as_u64().unwrap()).sum::<u64>())
            .sum();
        assert_eq!(over(&|_| true), reported as i64, "{attr} over all spans");
        assert_eq!(
            over(&|s| s.name == "gen_ai.chat"),
            reported as i64,
            "{attr}"
        );
    }
    for s in spans.iter().filter(|s| s.name != "gen_ai.chat") {
        assert!(
            s.attributes.keys().all(|k| !k.starts_with("gen_ai.usage.")),
            "{} carries usage",
            s.name
        );
    }

    // Cost = tokens × prices, per call; the cost histogram sums to the same total.
    let price = &run.report["price_per_million"];
    let p = |k: &str| price[k].as_f64().unwrap();
    let mut total = 0.0;
    for call in calls {
        let n = |f: &str| call[f].as_u64().unwrap() as f64;
        let want = (n("input_tokens") * p("input")
            + n("cache_read_input_tokens") * p("cache_read")
            + n("cache_creation_input_tokens") * p("cache_creation")
            + n("output_tokens") * p("output"))
            / 1e6;
        let span = chats
            .iter()
            .find(|s| s.str_attr("gen_ai.response.id") == call["id"].as_str())
            .unwrap();
        let Some(AttrValue::Double(cost)) = span.attributes.get("gen_ai.usage.cost") else {
            panic!("no gen_ai.usage.cost on {}", call["id"]);
        };
        assert!(
            (cost - want).abs() < 1e-12,
            "{}: {cost} vs {want}",
            call["id"]
        );
        total += want;
    }
    let metric: f64 = run
        .store
        .metric_points("vystak.gen_ai.client.cost")
        .iter()
        .map(|p| match &p.value {
            PointValue::Histogram { sum, .. } => *sum,
            other => panic!("cost is a histogram, got {other:?}"),
        })
        .sum();
    assert!((metric - total).abs() < 1e-12, "{metric} vs {total}");
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

use vystak_otel_testkit::browser;

/// The text of the first `<td class="… {class}">` in `row_html`.
fn cell<'a>(row_html: &'a str, class: &str) -> &'a str {
    let open = format!("class=\"num {class}\">");
    let i = row_html
        .find(&open)
        .unwrap_or_else(|| panic!("no {class} cell in {row_html}"))
        + open.len();
    let j = row_html[i..].find("</td>").unwrap() + i;
    &row_html[i..j]
}

/// The HTML from the element with `id` to the end of its section (`</section>`).
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let i = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let j = dom[i..].find("</section>").map_or(dom.len(), |j| i + j);
    &dom[i..j]
}

/// `{k="v", …}` as the UI writes a series' labels (no `__name__` here).
fn labels_text(metric: &serde_json::Map<String, Value>) -> String {
    let inner: Vec<String> = metric
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap()))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// `12,345` as the UI writes token counts.
fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn dom(url: String) -> String {
    tokio::task::spawn_blocking(move || browser::dump_dom(&url))
        .await
        .unwrap()
}

/// The seed's users' UI: the demo's chat and Slack turns exported over OTLP/gRPC into one
/// viewer, every page read in headless Chromium, every number checked against the store, the
/// model server's report and the Prometheus API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_shows_the_demo_in_a_real_browser() {
    let receiver = Receiver::start_local().await.unwrap();
    let (chat_report, _) = run_into(&receiver, "chat", 0).await;
    let (slack_report, _) = run_into(&receiver, "slack", 5).await;
    let store = receiver.store().clone();
    let ui = receiver.ui_url().unwrap();
    let root_of = |service: &str, name: &str| {
        store
            .spans()
            .into_iter()
            .find(|s| s.parent_span_id.is_none() && s.service_name == service && s.name == name)
            .unwrap_or_else(|| panic!("no {service} {name} root"))
            .trace_id
    };
    let slack_trace = root_of("vystak-channel-slack", "slack.app_mention");
    let chat_trace = root_of("vystak-channel-chat", "POST /chat");

    // Search: by service + operation finds exactly the Slack-rooted trace (and the other way).
    let found = |dom: &str| -> Vec<String> {
        browser::tags_with_class(dom, "tr", "trace-row")
            .iter()
            .map(|t| browser::attr(t, "data-trace-id").unwrap())
            .collect()
    };
    let d = dom(format!(
        "{ui}/?service=vystak-channel-slack&operation=slack.app_mention"
    ))
    .await;
    assert_eq!(found(&d), vec![slack_trace.clone()]);
    let d = dom(format!(
        "{ui}/?service=vystak-channel-chat&operation=POST+%2Fchat"
    ))
    .await;
    assert_eq!(found(&d), vec![chat_trace.clone()]);
    let d = dom(format!("{ui}/")).await;
    assert_eq!(
        found(&d),
        vec![slack_trace.clone(), chat_trace.clone()],
        "newest first"
    );

    // Trace: every span a row, with its parent and depth, in tree order; the chat rows show
    // their tokens inline; the span in the URL's hash is selected by the script and its
    // details panel is the one shown.
    let spans = store.trace(&slack_trace);
    if slack_report["nats"] == Value::Bool(true) {
        assert_eq!(spans.len(), 23, "the demo's 23-span tree");
    }
    let by_id: HashMap<&str, &SpanRecord> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let first_chat = spans
        .iter()
        .filter(|s| s.name == "gen_ai.chat")
        .min_by_key(|s| s.start_unix_nanos)
        .unwrap();
    let d = dom(format!(
        "{ui}/trace/{slack_trace}#span-{}",
        first_chat.span_id
    ))
    .await;
    let rows = browser::tags_with_class(&d, "div", "row");
    assert_eq!(rows.len(), spans.len());
    let mut depth: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let id = browser::attr(row, "data-id").unwrap();
        let parent = browser::attr(row, "data-parent").unwrap();
        let span = by_id[id.as_str()];
        assert_eq!(span.parent_span_id.as_deref().unwrap_or(""), parent);
        assert_eq!(browser::attr(row, "data-name").unwrap(), span.name);
        assert_eq!(
            browser::attr(row, "data-service").unwrap(),
            span.service_name
        );
        let dd: usize = browser::attr(row, "data-depth").unwrap().parse().unwrap();
        if parent.is_empty() {
            assert_eq!(dd, 0);
        } else {
            assert_eq!(depth[&parent] + 1, dd, "{} under its parent", span.name);
        }
        depth.insert(id, dd);
    }
    let selected = browser::tags_with_class(&d, "div", "selected");
    assert_eq!(selected.len(), 1, "the script selected the hashed span");
    assert_eq!(
        browser::attr(selected[0], "data-id").as_deref(),
        Some(first_chat.span_id.as_str())
    );
    assert_eq!(
        d.matches("<span class=\"genai\"").count(),
        5,
        "model, tokens inline on the five chat rows"
    );
    // Agent rows sum the calls below them for display; the tool row is marked.
    let weather_calls: Vec<&Value> = slack_report["model_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["tool_use_id"].is_string())
        .collect();
    assert_eq!(weather_calls.len(), 1);
    let weather_turn = spans
        .iter()
        .find(|s| s.name == "invoke_agent weather-agent")
        .unwrap();
    let turn_tokens: i64 = spans
        .iter()
        .filter(|s| {
            s.name == "gen_ai.chat" && s.parent_span_id.as_deref() == Some(&weather_turn.span_id)
        })
        .map(|s| {
            s.int_attr("gen_ai.usage.input_tokens").unwrap()
                + s.int_attr("gen_ai.usage.output_tokens").unwrap()
        })
        .sum();
    let row = &d[d
        .find(&format!("id=\"row-{}\"", weather_turn.span_id))
        .unwrap()..];
    let row = &row[..row.find("class=\"timeline\"").unwrap()];
    assert!(
        row.contains(&format!(
            "agent · 2 calls · <span class=\"tokens\">{} tok</span>",
            thousands(turn_tokens as u64)
        )),
        "{row}"
    );
    assert_eq!(d.matches("<span class=\"tool\"").count(), 1, "one tool row");
    for call in slack_report["model_calls"].as_array().unwrap() {
        let total = call["input_tokens"].as_u64().unwrap()
            + call["cache_read_input_tokens"].as_u64().unwrap()
            + call["cache_creation_input_tokens"].as_u64().unwrap()
            + call["output_tokens"].as_u64().unwrap();
        let text = format!("<span class=\"tokens\">{} tok</span>", thousands(total));
        assert!(d.contains(&text), "{text}");
    }
    let details = section(&d, &format!("span-{}", first_chat.span_id));
    let cache_read = first_chat
        .int_attr("gen_ai.usage.cache_read_input_tokens")
        .unwrap();
    assert!(
        details.contains(&format!(
            "<th>gen_ai.usage.cache_read_input_tokens</th><td>{cache_read}</td>"
        )),
        "{details}"
    );

    // Model calls: one row per call of both turns, each with the exact numbers the model
    // server reported (input = the total input, as the seed has it).
    let d = dom(format!("{ui}/genai")).await;
    let rows = browser::tags_with_class(&d, "tr", "call");
    assert_eq!(rows.len(), 10);
    // (Each run's model server numbers its responses from 1: a call is its trace + its id.)
    let calls = chat_report["model_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (&chat_trace, c))
        .chain(
            slack_report["model_calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (&slack_trace, c)),
        );
    for (trace, call) in calls {
        let id = call["id"].as_str().unwrap();
        let span = store
            .trace(trace)
            .into_iter()
            .find(|s| s.str_attr("gen_ai.response.id") == Some(id))
            .unwrap_or_else(|| panic!("no span for {id}"));
        let start = d
            .find(&format!("data-span-id=\"{}\"", span.span_id))
            .unwrap_or_else(|| panic!("no row for {id}"));
        let row = &d[start..start + d[start..].find("</tr>").unwrap()];
        let n = |f: &str| call[f].as_u64().unwrap();
        let input =
            n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens");
        assert_eq!(cell(row, "input"), thousands(input), "{id}");
        assert_eq!(cell(row, "output"), thousands(n("output_tokens")), "{id}");
        assert_eq!(
            cell(row, "cache-read"),
            thousands(n("cache_read_input_tokens")),
            "{id}"
        );
        assert_eq!(
            cell(row, "cache-creation"),
            thousands(n("cache_creation_input_tokens")),
            "{id}"
        );
    }
    let d = dom(format!("{ui}/genai?service=vystak-coordinator")).await;
    assert_eq!(browser::tags_with_class(&d, "tr", "call").len(), 4);

    // Tokens: the cache-hit ratio per service on the page is the Prometheus API's answer at
    // the same time.
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let d = dom(format!("{ui}/tokens?range=15m&end={end}")).await;
    for (panel, query) in [
        (
            "cache-hit",
            r#"sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="cache_read"}[5m])) / sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[5m]))"#,
        ),
        (
            "input-total",
            r#"sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1h]))"#,
        ),
    ] {
        let html = section(&d, panel);
        let shown: BTreeMap<String, String> = html
            .match_indices("<tr data-series=")
            .map(|(i, _)| &html[i..i + html[i..].find('>').unwrap() + 1])
            .map(|t| {
                (
                    browser::attr(t, "data-series").unwrap(),
                    browser::attr(t, "data-value").unwrap(),
                )
            })
            .collect();
        let url = reqwest::Url::parse_with_params(
            &format!("{ui}/api/v1/query"),
            [("query", query), ("time", &end.to_string())],
        )
        .unwrap();
        let api: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let expected: BTreeMap<String, String> = api["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    labels_text(r["metric"].as_object().unwrap()),
                    r["value"][1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want = if panel == "cache-hit" { 3 } else { 1 };
        assert_eq!(expected.len(), want, "{panel}: {api}");
        assert_eq!(shown, expected, "{panel}");
    }

    // Metrics: the token histogram's distribution counts every observation: 5 calls × 4
    // token types × 2 turns.
    let d = dom(format!(
        "{ui}/metrics-explorer?metric=gen_ai_client_token_usage&range=15m&end={end}"
    ))
    .await;
    let buckets = &d[d.find("class=\"values buckets\"").expect("bucket table")..];
    let counts =
        &buckets[buckets.find("<th>count</th>").unwrap()..buckets.find("</table>").unwrap()];
    let total: f64 = counts
        .split("<td class=\"num\">")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 40.0, "{counts}");
    assert!(d.contains("class=\"histbar\""));

    // Screenshots at 1280×800 (into crates/vystak-otel-viewer/docs/ with
    // VYSTAK_UPDATE_SCREENSHOTS=1, see scripts/screenshots.sh).
    let dir = browser::screenshot_dir();
    let shots = [
        ("search.png", format!("{ui}/")),
        (
            "trace.png",
            format!("{ui}/trace/{slack_trace}?span={}", first_chat.span_id),
        ),
        ("genai.png", format!("{ui}/genai")),
        ("tokens.png", format!("{ui}/tokens?range=15m&end={end}")),
        (
            "metrics.png",
            format!("{ui}/metrics-explorer?metric=gen_ai_client_token_usage&range=15m&end={end}"),
        ),
    ];
    for (file, url) in shots {
        let out = dir.join(file);
        tokio::task::spawn_blocking(move || browser::screenshot(&url, &out))
            .await
            .unwrap();
    }
    receiver.shutdown().await;
}
