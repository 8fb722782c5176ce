//! Against a real nats-server: publisher → bridge → axum agent is one trace; errors become
//! JSON-RPC error replies.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{json, Value};
use vystak_otel_nats::{NatsHttpBridge, NatsTracing};
use vystak_otel_server::OtelServerLayer;
use vystak_otel_testkit::nats::NatsServer;
use vystak_otel_viewer::{Receiver, SpanKind};
use vystak_telemetry::Telemetry;

fn envelope(text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": "req-1", "method": "message/send",
           "params": {"message": {"kind": "message", "role": "user",
                                  "parts": [{"kind": "text", "text": text}]}}})
}

async fn serve(app: Router) -> String {
    vystak_otel_testkit::serve(app).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_bridge_agent_is_one_trace() {
    let nats = NatsServer::start();
    let receiver = Receiver::start_local().await.unwrap();
    let coordinator = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-coordinator")
        .build()
        .unwrap();
    let agent = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-time-agent")
        .build()
        .unwrap();
    let agent_tp = agent.tracer_provider().unwrap();
    let app = Router::new()
        .route(
            "/a2a",
            post(|body: axum::body::Bytes| async move {
                let req: Value = serde_json::from_slice(&body).unwrap();
                let text = req["params"]["message"]["parts"][0]["text"].as_str().unwrap().to_owned();
                axum::Json(json!({"jsonrpc": "2.0", "id": req["id"],
                                  "result": {"parts": [{"kind": "text", "text": format!("echo: {text}")}]}}))
            }),
        )
        .layer(
            OtelServerLayer::new()
                .with_tracer_provider(&agent_tp)
                .with_propagator(TraceContextPropagator::new()),
        );
    let agent_url = serve(app).await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let bridge = NatsHttpBridge::new(
        client.clone(),
        "vystak.agents.time-agent",
        format!("{agent_url}/a2a"),
    )
    .with_queue_group("time-agent")
    .with_tracer_provider(&agent_tp)
    .with_propagator(TraceContextPropagator::new())
    .spawn()
    .await
    .unwrap();

    let ctp = coordinator.tracer_provider().unwrap();
    let tracing = NatsTracing::new()
        .with_tracer_provider(&ctp)
        .with_propagator(TraceContextPropagator::new());
    let root = ctp.tracer("coordinator").start("coordinator.turn");
    let cx = opentelemetry::Context::current_with_span(root);
    let mut env = envelope("what time is it?");
    let reply = {
        use opentelemetry::context::FutureExt as _;
        tracing
            .request(
                &client,
                "vystak.agents.time-agent",
                &mut env,
                Duration::from_secs(10),
            )
            .with_context(cx.clone())
            .await
            .unwrap()
    };
    cx.span().end();
    let reply: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(
        reply["result"]["parts"][0]["text"],
        "echo: what time is it?"
    );
    assert_eq!(reply["id"], "req-1");
    assert!(
        env["params"]["_meta"]["headers"]["traceparent"].is_string(),
        "the seed's carrier"
    );

    bridge.shutdown().await;
    coordinator.shutdown().unwrap();
    agent.shutdown().unwrap();
    let store = receiver.store();
    let spans = store.wait_for_spans(5, Duration::from_secs(20)).await;
    assert_eq!(spans.len(), 5, "{spans:#?}");
    assert_eq!(store.trace_ids().len(), 1, "one trace");
    let root = &store.spans_named("coordinator.turn")[0];
    let send = &store.spans_named("send vystak.agents.time-agent")[0];
    let process = &store.spans_named("process vystak.agents.time-agent")[0];
    let http = &store.spans_named("POST")[0];
    let server = &store.spans_named("POST /a2a")[0];
    assert_eq!(send.kind, SpanKind::Producer);
    assert_eq!(process.kind, SpanKind::Consumer);
    assert_eq!(http.kind, SpanKind::Client);
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(send.parent_span_id.as_deref(), Some(root.span_id.as_str()));
    assert_eq!(
        process.parent_span_id.as_deref(),
        Some(send.span_id.as_str())
    );
    assert_eq!(
        http.parent_span_id.as_deref(),
        Some(process.span_id.as_str())
    );
    assert_eq!(
        server.parent_span_id.as_deref(),
        Some(http.span_id.as_str())
    );
    assert_eq!(send.service_name, "vystak-coordinator");
    assert_eq!(server.service_name, "vystak-time-agent");
    assert_eq!(send.str_attr("messaging.system"), Some("nats"));
    assert_eq!(send.str_attr("messaging.operation.type"), Some("send"));
    assert_eq!(
        send.str_attr("messaging.destination.name"),
        Some("vystak.agents.time-agent")
    );
    assert_eq!(
        process.str_attr("messaging.operation.name"),
        Some("process")
    );
    assert_eq!(
        process.str_attr("messaging.consumer.group.name"),
        Some("time-agent")
    );
    assert!(spans.iter().all(|s| !s.name.contains("_INBOX")));
    // The RPC conventions' JSON-RPC attributes on both messaging spans.
    for span in [send, process] {
        for (k, v) in [
            ("rpc.system.name", "jsonrpc"),
            ("jsonrpc.protocol.version", "2.0"),
            ("rpc.method", "message/send"),
            ("jsonrpc.request.id", "req-1"),
        ] {
            assert_eq!(span.str_attr(k), Some(v), "{} {k}", span.name);
        }
        assert_eq!(span.str_attr("rpc.response.status_code"), None);
    }
}

fn memory_tracer() -> (
    opentelemetry_sdk::trace::SdkTracerProvider,
    opentelemetry_sdk::trace::InMemorySpanExporter,
) {
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (tp, exporter)
}

fn attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_rpc_error_reply_is_the_error_of_both_messaging_spans() {
    let nats = NatsServer::start();
    let url = serve(Router::new().route(
        "/a2a",
        post(|body: axum::body::Bytes| async move {
            let req: Value = serde_json::from_slice(&body).unwrap();
            axum::Json(json!({"jsonrpc": "2.0", "id": req["id"],
                              "error": {"code": -32602, "message": "no parts in the message"}}))
        }),
    ))
    .await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let (agent_tp, agent_spans) = memory_tracer();
    let bridge = NatsHttpBridge::new(client.clone(), "agents.picky", format!("{url}/a2a"))
        .with_tracer_provider(&agent_tp)
        .spawn()
        .await
        .unwrap();
    let (tp, spans) = memory_tracer();
    let mut env = json!({"jsonrpc": "2.0", "id": 42, "method": "message/send", "params": {}});
    let reply = NatsTracing::new()
        .with_tracer_provider(&tp)
        .request(&client, "agents.picky", &mut env, Duration::from_secs(10))
        .await
        .unwrap();
    let reply: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(reply["error"]["code"], -32602, "passed through unchanged");
    bridge.shutdown().await;
    let send = spans.get_finished_spans().unwrap();
    let process = agent_spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.name.starts_with("process"))
        .collect::<Vec<_>>();
    assert_eq!((send.len(), process.len()), (1, 1));
    for span in [&send[0], &process[0]] {
        assert_eq!(attr(span, "jsonrpc.request.id").as_deref(), Some("42"));
        assert_eq!(
            attr(span, "rpc.response.status_code").as_deref(),
            Some("-32602")
        );
        assert_eq!(attr(span, "error.type").as_deref(), Some("-32602"));
        assert_eq!(
            span.status,
            opentelemetry::trace::Status::error("no parts in the message"),
            "{}",
            span.name
        );
    }

    // A bridge-made error reply keeps its specific error.type and adds the code.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (agent_tp, agent_spans) = memory_tracer();
    let bridge = NatsHttpBridge::new(
        client.clone(),
        "agents.gone",
        format!("http://{closed}/a2a"),
    )
    .with_tracer_provider(&agent_tp)
    .spawn()
    .await
    .unwrap();
    let mut env = envelope("hi");
    NatsTracing::new()
        .with_tracer_provider(&tp)
        .request(&client, "agents.gone", &mut env, Duration::from_secs(10))
        .await
        .unwrap();
    bridge.shutdown().await;
    let process = agent_spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .find(|s| s.name.starts_with("process"))
        .unwrap();
    assert_eq!(attr(&process, "error.type").as_deref(), Some("http"));
    assert_eq!(
        attr(&process, "rpc.response.status_code").as_deref(),
        Some("-32603")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_envelopes_through_a_running_bridge_are_answered_and_harm_nothing() {
    let nats = NatsServer::start();
    let url = serve(Router::new().route(
        "/a2a",
        post(|body: axum::body::Bytes| async move {
            match serde_json::from_slice::<Value>(&body) {
                Ok(req) if req.is_object() => axum::Json(
                    json!({"jsonrpc": "2.0", "id": req.get("id").cloned().unwrap_or(Value::Null), "result": {}}),
                ),
                _ => axum::Json(
                    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}),
                ),
            }
        }),
    ))
    .await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let (agent_tp, agent_spans) = memory_tracer();
    let bridge = NatsHttpBridge::new(client.clone(), "agents.robust", format!("{url}/a2a"))
        .with_tracer_provider(&agent_tp)
        .spawn()
        .await
        .unwrap();
    let long_method = "m".repeat(10_000);
    let hostile: Vec<Vec<u8>> = vec![
        b"not json at all".to_vec(),
        b"".to_vec(),
        b"[1,2,3]".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        br#"{"jsonrpc":"2.0","method":5,"id":{"x":1}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"m","params":{"_meta":{"headers":{"traceparent":"00-zz-zz-01"}}}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"m","params":{"_meta":{"headers":["not","an","object"]}}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","method":"m","params":{"_meta":"string"}}"#.to_vec(),
        format!(r#"{{"jsonrpc":"2.0","method":"{long_method}","id":1}}"#).into_bytes(),
        "{\"a\":".repeat(2_000).into_bytes(),
    ];
    for payload in &hostile {
        let reply = tokio::time::timeout(
            Duration::from_secs(10),
            client.request("agents.robust", payload.clone().into()),
        )
        .await
        .expect("answered, never a hang")
        .expect("a reply");
        let v: Value = serde_json::from_slice(&reply.payload).expect("the reply is JSON-RPC");
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
    }
    // Still serving, and tracing, a good request afterwards.
    let v = ask(&client, "agents.robust").await;
    assert_eq!(v["id"], "req-1");
    bridge.shutdown().await;
    let process: Vec<_> = agent_spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.name.starts_with("process"))
        .collect();
    assert_eq!(process.len(), hostile.len() + 1, "one span per message");
    for s in &process {
        if let Some(m) = attr(s, "rpc.method") {
            assert!(m.len() <= 128, "capped rpc.method");
        }
        // A bad traceparent is no parent: a fresh trace, not a crash.
        assert!(s.span_context.is_valid());
    }
}

async fn bridge_to(
    nats: &NatsServer,
    target: String,
    subject: &str,
) -> (async_nats::Client, vystak_otel_nats::BridgeHandle) {
    let client = async_nats::connect(&nats.url).await.unwrap();
    let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let bridge = NatsHttpBridge::new(client.clone(), subject, target)
        .with_tracer_provider(&tp)
        .with_request_timeout(Duration::from_secs(2))
        .spawn()
        .await
        .unwrap();
    (client, bridge)
}

async fn ask(client: &async_nats::Client, subject: &str) -> Value {
    let mut env = envelope("hi");
    let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let reply = NatsTracing::new()
        .with_tracer_provider(&tp)
        .request(
            client,
            subject.to_owned(),
            &mut env,
            Duration::from_secs(10),
        )
        .await
        .expect("a reply, never a hang");
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_failures_become_json_rpc_error_replies() {
    let nats = NatsServer::start();
    // Nothing listens on the target.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (client, b1) = bridge_to(&nats, format!("http://{closed}/a2a"), "agents.down").await;
    let reply = ask(&client, "agents.down").await;
    assert_eq!(reply["error"]["code"], -32603);
    assert_eq!(reply["id"], "req-1");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{reply}"
    );

    // The agent answers a plain 500.
    let url = serve(Router::new().route(
        "/a2a",
        post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
    ))
    .await;
    let (client, b2) = bridge_to(&nats, format!("{url}/a2a"), "agents.broken").await;
    let reply = ask(&client, "agents.broken").await;
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{reply}"
    );

    // The agent hangs: the bridge's timeout answers.
    let url = serve(Router::new().route(
        "/a2a",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    ))
    .await;
    let (client, b3) = bridge_to(&nats, format!("{url}/a2a"), "agents.slow").await;
    let reply = ask(&client, "agents.slow").await;
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{reply}"
    );
    for b in [b1, b2, b3] {
        b.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_larger_than_max_payload_is_a_clear_error_not_a_hang() {
    let nats = NatsServer::start();
    let url =
        serve(Router::new().route("/a2a", post(|| async { "x".repeat(2 * 1024 * 1024) }))).await;
    let (client, bridge) = bridge_to(&nats, format!("{url}/a2a"), "agents.big").await;
    let max = client.server_info().max_payload;
    let reply = ask(&client, "agents.big").await;
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("exceeds the NATS max_payload"),
        "{message}"
    );
    assert!(message.contains(&max.to_string()), "{message}");
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_headers_are_a_carrier_too() {
    let nats = NatsServer::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let mut sub = client.subscribe("plain.headers").await.unwrap();
    client.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    client
        .publish_with_headers("plain.headers", headers, "not json".into())
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();
    let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracing = NatsTracing::new()
        .with_tracer_provider(&tp)
        .with_propagator(TraceContextPropagator::new());
    let cx = tracing.extract(&message);
    assert_eq!(
        cx.span().span_context().trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let process = tracing.process_span(&message, "plain.headers", None);
    process.span().set_attribute(KeyValue::new("test", true));
    assert_eq!(
        process.span().span_context().trace_id(),
        cx.span().span_context().trace_id()
    );
    process.span().end();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_honours_a_timeout_longer_than_the_nats_default() {
    // async-nats' own request timeout is 10 s; the caller asks for 30 s and the responder takes 12.
    let nats = NatsServer::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let mut sub = client.subscribe("slow.agent").await.unwrap();
    client.flush().await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        if let Some(m) = sub.next().await {
            tokio::time::sleep(Duration::from_secs(12)).await;
            if let Some(reply) = m.reply {
                responder.publish(reply, "late".into()).await.unwrap();
                responder.flush().await.unwrap();
            }
        }
    });
    let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracing = NatsTracing::new().with_tracer_provider(&tp);
    let mut env = envelope("slow");
    let started = std::time::Instant::now();
    let reply = tracing
        .request(&client, "slow.agent", &mut env, Duration::from_secs(30))
        .await
        .expect("the reply arrives within the caller's 30 s");
    assert_eq!(&reply.payload[..], b"late");
    assert!(started.elapsed() >= Duration::from_secs(12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_agent_url_never_reaches_a_reply_or_a_span() {
    let nats = NatsServer::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let (agent_tp, agent_spans) = memory_tracer();
    let bridge = NatsHttpBridge::new(
        client.clone(),
        "agents.signed",
        format!("http://user:hunter2@{closed}/a2a?sig=s3cr3t&X-Amz-Signature=amzsecret&ok=1"),
    )
    .with_tracer_provider(&agent_tp)
    .spawn()
    .await
    .unwrap();
    let (tp, spans) = memory_tracer();
    let mut env = envelope("hi");
    let reply = NatsTracing::new()
        .with_tracer_provider(&tp)
        .request(&client, "agents.signed", &mut env, Duration::from_secs(10))
        .await
        .unwrap();
    bridge.shutdown().await;
    let reply = String::from_utf8_lossy(&reply.payload).into_owned();
    assert!(reply.contains("unreachable"), "{reply}");
    let mut everything = vec![reply];
    for s in spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .chain(agent_spans.get_finished_spans().unwrap())
    {
        everything.push(format!("{:?} {:?} {:?}", s.status, s.attributes, s.events));
    }
    for text in &everything {
        for secret in ["s3cr3t", "amzsecret", "hunter2"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
    assert!(
        everything.iter().any(|t| t.contains("sig=REDACTED")),
        "the URL is still there, redacted: {everything:?}"
    );
}
