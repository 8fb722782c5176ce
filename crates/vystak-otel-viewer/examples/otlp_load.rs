//! A load generator for the viewer's OTLP/HTTP receiver, run as its own process: GenAI-shaped
//! spans (a chat span with model, tokens, cost; a realistic resource) in protobuf requests from
//! concurrent senders, retrying a throttled (503) request after its `Retry-After`.
//!
//! ```text
//! cargo run --release -p vystak-otel-viewer --example otlp_load -- \
//!     http://127.0.0.1:4318 [SPANS=200000] [PER_REQUEST=500] [SENDERS=2]
//! ```
//!
//! Prints the spans acknowledged per second, end to end (encode, send, store, reply).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

/// Request `n` of a sender: `per` chat spans, ids unique across senders and requests.
fn request(sender: u64, n: u64, per: u64) -> ExportTraceServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let spans = (0..per)
        .map(|i| {
            let id = (sender << 48) | (n << 16) | i;
            Span {
                trace_id: (u128::from(id / 10) + 1).to_be_bytes().to_vec(),
                span_id: (id + 1).to_be_bytes().to_vec(),
                parent_span_id: if i % 10 == 0 {
                    vec![]
                } else {
                    (id - id % 10 + 1).to_be_bytes().to_vec()
                },
                name: "chat claude-haiku-4-5".into(),
                kind: 3,
                start_time_unix_nano: now,
                end_time_unix_nano: now + 850_000_000,
                attributes: vec![
                    kv("gen_ai.operation.name", s("chat")),
                    kv("gen_ai.provider.name", s("anthropic")),
                    kv("gen_ai.request.model", s("claude-haiku-4-5-20251001")),
                    kv("gen_ai.response.model", s("claude-haiku-4-5-20251001")),
                    kv(
                        "gen_ai.usage.input_tokens",
                        any_value::Value::IntValue(1_234),
                    ),
                    kv("gen_ai.usage.output_tokens", any_value::Value::IntValue(87)),
                    kv("gen_ai.usage.cost", any_value::Value::DoubleValue(0.0016)),
                    kv("gen_ai.response.finish_reasons", s("end_turn")),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s(&format!("vystak-load-{sender}"))),
                    kv("service.version", s("0.1.0")),
                    kv("telemetry.sdk.name", s("opentelemetry")),
                    kv("telemetry.sdk.language", s("rust")),
                    kv("telemetry.sdk.version", s("0.33.1")),
                    kv("host.name", s("agents-7f9c")),
                    kv("process.pid", any_value::Value::IntValue(4242)),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let base = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:4318".into());
    let num = |i: usize, default: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (total, per, senders) = (num(1, 200_000), num(2, 500).max(1), num(3, 2).max(1));
    let requests_each = total / per / senders;
    let url = format!("{base}/v1/traces");
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..senders {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut throttled = 0u64;
            for n in 0..requests_each {
                let body = request(sender, n, per).encode_to_vec();
                loop {
                    let reply = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("the viewer answers");
                    match reply.status().as_u16() {
                        200 => break,
                        503 | 429 => {
                            throttled += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => panic!("unexpected status {other}"),
                    }
                }
            }
            throttled
        }));
    }
    let mut throttled = 0;
    for t in tasks {
        throttled += t.await.unwrap();
    }
    let took = started.elapsed();
    let sent = requests_each * senders * per;
    println!(
        "{sent} spans acknowledged in {:.2} s: {:.0} spans/s ({senders} senders, {per} per request, {throttled} throttled replies retried)",
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64()
    );
}
