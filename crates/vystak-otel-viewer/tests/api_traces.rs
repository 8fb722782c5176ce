//! The trace API (`/api/traces`, `/api/traces/{id}`, `/api/services`, `/api/operations`) over
//! spans exported by the SDK's real OTLP/gRPC exporter, queried with reqwest.

mod common;

use std::time::{Duration, SystemTime};

use common::{span_exporter, tracer_provider, Transport};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use serde_json::Value;
use vystak_otel_viewer::query::traces::{self, TraceQuery};
use vystak_otel_viewer::Receiver;

struct Exported {
    slack_trace: String,
    chat_trace: String,
    start: SystemTime,
}

/// Slack-rooted trace: vystak-channel-slack `slack.app_mention` (2 s) → vystak-assistant-agent
/// `POST /a2a` → two `gen_ai.chat` spans with token usage. Chat-rooted trace 10 s later:
/// vystak-channel-chat `POST /chat` (50 ms) with an ERROR child.
async fn export(receiver: &Receiver) -> Exported {
    let start = SystemTime::now() - Duration::from_secs(60);
    let at = |ms: u64| start + Duration::from_millis(ms);
    let grpc = Transport::Grpc { gzip: true };
    let slack = tracer_provider(
        span_exporter(grpc, &receiver.endpoint(), ""),
        "vystak-channel-slack",
    );
    let agent = tracer_provider(
        span_exporter(grpc, &receiver.endpoint(), ""),
        "vystak-assistant-agent",
    );
    let chat = tracer_provider(
        span_exporter(grpc, &receiver.endpoint(), ""),
        "vystak-channel-chat",
    );

    let st = slack.tracer("slack");
    let root = st
        .span_builder("slack.app_mention")
        .with_start_time(at(0))
        .with_attributes([KeyValue::new("slack.channel", "C42")])
        .start(&st);
    let slack_trace = root.span_context().trace_id().to_string();
    let root_cx = Context::current_with_span(root);
    let a = agent.tracer("agent");
    let server = a
        .span_builder("POST /a2a")
        .with_kind(SpanKind::Server)
        .with_start_time(at(100))
        .start_with_context(&a, &root_cx);
    let server_cx = root_cx.with_span(server);
    for (i, (input, output, cache_read)) in [(100_i64, 20_i64, 80_i64), (50, 5, 0)]
        .into_iter()
        .enumerate()
    {
        let mut call = a
            .span_builder("gen_ai.chat")
            .with_kind(SpanKind::Client)
            .with_start_time(at(200 + i as u64 * 500))
            .with_attributes([
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5-20251001"),
                KeyValue::new("gen_ai.usage.input_tokens", input),
                KeyValue::new("gen_ai.usage.output_tokens", output),
                KeyValue::new("gen_ai.usage.cache_read_input_tokens", cache_read),
                KeyValue::new("gen_ai.usage.cache_creation_input_tokens", 7_i64),
            ])
            .start_with_context(&a, &server_cx);
        call.end_with_timestamp(at(600 + i as u64 * 500));
    }
    // Token attributes on a non-chat span are not counted.
    a.span_builder("tool.call")
        .with_start_time(at(1_300))
        .with_attributes([KeyValue::new("gen_ai.usage.input_tokens", 9_999_i64)])
        .start_with_context(&a, &server_cx)
        .end_with_timestamp(at(1_400));
    server_cx.span().end_with_timestamp(at(1_500));
    root_cx.span().end_with_timestamp(at(2_000));

    let ct = chat.tracer("chat");
    let mut web = ct
        .span_builder("POST /chat")
        .with_kind(SpanKind::Server)
        .with_start_time(at(10_000))
        .start(&ct);
    let chat_trace = web.span_context().trace_id().to_string();
    let web_cx = Context::current().with_remote_span_context(web.span_context().clone());
    let mut failing = ct
        .span_builder("GET")
        .with_kind(SpanKind::Client)
        .with_start_time(at(10_010))
        .start_with_context(&ct, &web_cx);
    failing.add_event(
        "exception",
        vec![KeyValue::new("exception.type", "Timeout")],
    );
    failing.set_status(Status::error("upstream timed out"));
    failing.end_with_timestamp(at(10_040));
    web.end_with_timestamp(at(10_050));

    for tp in [slack, agent, chat] {
        common::shutdown(tp).await;
    }
    assert_eq!(
        receiver
            .store()
            .wait_for_spans(7, Duration::from_secs(20))
            .await
            .len(),
        7
    );
    Exported {
        slack_trace,
        chat_trace,
        start,
    }
}

async fn get(receiver: &Receiver, path: &str) -> (u16, Value) {
    let reply = reqwest::get(format!("{}{path}", receiver.ui_url().unwrap()))
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap())
}

fn ids(v: &Value) -> Vec<String> {
    v["traces"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_service_and_operation_finds_the_slack_rooted_trace() {
    let receiver = Receiver::start_local().await.unwrap();
    let e = export(&receiver).await;

    let (status, v) = get(
        &receiver,
        "/api/traces?service=vystak-channel-slack&operation=slack.app_mention",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&v), [e.slack_trace.as_str()]);
    let t = &v["traces"][0];
    assert_eq!(t["root_service"], "vystak-channel-slack");
    assert_eq!(t["root_name"], "slack.app_mention");
    assert_eq!(t["has_root"], true);
    assert_eq!(t["span_count"], 5);
    assert_eq!(t["duration_nanos"], 2_000_000_000_u64);
    assert_eq!(t["duration_ms"], 2000.0);
    let start_ns = e
        .start
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert_eq!(t["start_unix_nanos"], start_ns);
    assert_eq!(
        t["services"],
        serde_json::json!(["vystak-assistant-agent", "vystak-channel-slack"])
    );
    assert_eq!(t["error"], false);
    assert_eq!(t["error_count"], 0);
    assert_eq!(
        t["tokens"],
        serde_json::json!({"input": 150, "output": 25, "cache_read": 80, "cache_creation": 14})
    );

    // The operation must be in that service.
    let (_, v) = get(
        &receiver,
        "/api/traces?service=vystak-channel-chat&operation=slack.app_mention",
    )
    .await;
    assert!(ids(&v).is_empty());
    // A span anywhere in the trace matches, not only the root.
    let (_, v) = get(
        &receiver,
        "/api/traces?service=vystak-assistant-agent&operation=gen_ai.chat",
    )
    .await;
    assert_eq!(ids(&v), [e.slack_trace.as_str()]);

    // Errors, durations, attributes, time windows.
    let (_, v) = get(&receiver, "/api/traces?status=error").await;
    assert_eq!(ids(&v), [e.chat_trace.as_str()]);
    assert_eq!(v["traces"][0]["error_count"], 1);
    let (_, v) = get(&receiver, "/api/traces?min_duration_ms=1000").await;
    assert_eq!(ids(&v), [e.slack_trace.as_str()]);
    let (_, v) = get(
        &receiver,
        "/api/traces?attr=gen_ai.request.model%3Dclaude-haiku-4-5-20251001",
    )
    .await;
    assert_eq!(ids(&v), [e.slack_trace.as_str()]);
    let (_, v) = get(
        &receiver,
        "/api/traces?attr=service.name%3Dvystak-channel-chat",
    )
    .await;
    assert_eq!(ids(&v), [e.chat_trace.as_str()]);
    let (_, v) = get(&receiver, "/api/traces?since=1h").await;
    assert_eq!(ids(&v), [e.chat_trace.as_str(), e.slack_trace.as_str()]);
    let (_, v) = get(&receiver, &format!("/api/traces?since={}", start_ns + 1)).await;
    assert_eq!(ids(&v), [e.chat_trace.as_str()]);
    let (_, v) = get(&receiver, "/api/traces?since=2999-01-01T00:00:00Z").await;
    assert!(ids(&v).is_empty());

    // Paging: newest first, `next_before` as the cursor.
    let (_, page1) = get(&receiver, "/api/traces?limit=1").await;
    assert_eq!(ids(&page1), [e.chat_trace.as_str()]);
    let cursor = page1["next_before"].as_str().unwrap().to_owned();
    let (_, page2) = get(&receiver, &format!("/api/traces?limit=1&before={cursor}")).await;
    assert_eq!(ids(&page2), [e.slack_trace.as_str()]);
    let cursor = page2["next_before"].as_str().unwrap().to_owned();
    let (_, page3) = get(&receiver, &format!("/api/traces?limit=1&before={cursor}")).await;
    assert!(ids(&page3).is_empty());
    assert_eq!(page3["next_before"], Value::Null);

    // Bad parameters are a 400 with a message.
    let (status, v) = get(&receiver, "/api/traces?status=weird").await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("status=weird"));
    let (status, _) = get(&receiver, "/api/traces?since=yesterday").await;
    assert_eq!(status, 400);

    // The library function gives the same answer.
    let found = traces::search(
        receiver.store(),
        &TraceQuery::default()
            .with_service("vystak-channel-slack")
            .with_operation("slack.app_mention"),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tokens.input, 150);
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_detail_services_and_operations() {
    let receiver = Receiver::start_local().await.unwrap();
    let e = export(&receiver).await;

    let (status, v) = get(
        &receiver,
        &format!("/api/traces/{}", e.chat_trace.to_uppercase()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["trace_id"], e.chat_trace);
    let spans = v["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["name"], "POST /chat");
    assert_eq!(spans[0]["kind"], "SERVER");
    assert_eq!(spans[0]["parent_span_id"], Value::Null);
    assert_eq!(spans[0]["resource"]["service.name"], "vystak-channel-chat");
    assert_eq!(spans[0]["duration_ms"], 50.0);
    assert_eq!(spans[1]["name"], "GET");
    assert_eq!(spans[1]["kind"], "CLIENT");
    assert_eq!(spans[1]["parent_span_id"], spans[0]["span_id"]);
    assert_eq!(
        spans[1]["status"],
        serde_json::json!({"code": "ERROR", "message": "upstream timed out"})
    );
    assert_eq!(spans[1]["events"][0]["name"], "exception");
    assert_eq!(
        spans[1]["events"][0]["attributes"]["exception.type"],
        "Timeout"
    );
    assert_eq!(v["summary"]["error_count"], 1);

    let (status, v) = get(&receiver, &format!("/api/traces/{}", e.slack_trace)).await;
    assert_eq!(status, 200);
    let chat = v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "gen_ai.chat")
        .unwrap();
    assert_eq!(chat["attributes"]["gen_ai.usage.input_tokens"], 100);
    assert_eq!(chat["attributes"]["gen_ai.system"], "anthropic");
    assert_eq!(chat["tokens"]["cache_read"], 80);

    let (status, v) = get(&receiver, "/api/traces/0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, 404);
    assert!(v["error"].as_str().unwrap().contains("not found"));
    let (status, v) = get(&receiver, "/api/traces/xyz").await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("malformed trace id"));

    let (_, v) = get(&receiver, "/api/services").await;
    assert_eq!(
        v["services"],
        serde_json::json!([
            "vystak-assistant-agent",
            "vystak-channel-chat",
            "vystak-channel-slack"
        ])
    );
    let (_, v) = get(&receiver, "/api/operations?service=vystak-assistant-agent").await;
    assert_eq!(
        v["operations"],
        serde_json::json!(["POST /a2a", "gen_ai.chat", "tool.call"])
    );
    let (_, v) = get(&receiver, "/api/operations").await;
    assert_eq!(v["operations"].as_array().unwrap().len(), 6);
    receiver.shutdown().await;
}
