//! Rust client (our middleware) → Rust server (`OtelServerLayer`) is one trace, seen through the
//! real OTLP gRPC path in `vystak-otel-viewer`'s receiver.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use vystak_otel_client::OtelClientMiddleware;
use vystak_otel_server::OtelServerLayer;
use vystak_otel_viewer::{Receiver, SpanKind};
use vystak_telemetry::Telemetry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_to_server_is_one_trace_with_correct_parents() {
    let receiver = Receiver::start_local().await.unwrap();
    let caller = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-coordinator")
        .build()
        .unwrap();
    let callee = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-weather-agent")
        .build()
        .unwrap();
    let app = Router::new()
        .route("/forecast", get(|| async { "sunny" }))
        .layer(
            OtelServerLayer::new()
                .with_tracer_provider(&callee.tracer_provider().unwrap())
                .with_propagator(TraceContextPropagator::new()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let tp = caller.tracer_provider().unwrap();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            OtelClientMiddleware::new()
                .with_tracer_provider(&tp)
                .with_meter_provider(&caller.meter_provider().unwrap())
                .with_propagator(TraceContextPropagator::new()),
        )
        .build();
    let root = tp.tracer("test").start("coordinator.turn");
    let cx = opentelemetry::Context::current_with_span(root);
    let body = client
        .get(format!("http://{addr}/forecast"))
        .send()
        .with_context(cx.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "sunny");
    cx.span().end();
    caller.shutdown().unwrap();
    callee.shutdown().unwrap();

    let store = receiver.store();
    let spans = store.wait_for_spans(3, Duration::from_secs(20)).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    assert_eq!(store.trace_ids().len(), 1, "one trace");
    let root = &store.spans_named("coordinator.turn")[0];
    let client_span = &store.spans_named("GET")[0];
    let server_span = &store.spans_named("GET /forecast")[0];
    assert_eq!(root.parent_span_id, None);
    assert_eq!(client_span.kind, SpanKind::Client);
    assert_eq!(client_span.service_name, "vystak-coordinator");
    assert_eq!(
        client_span.parent_span_id.as_deref(),
        Some(root.span_id.as_str())
    );
    assert_eq!(server_span.kind, SpanKind::Server);
    assert_eq!(server_span.service_name, "vystak-weather-agent");
    assert_eq!(
        server_span.parent_span_id.as_deref(),
        Some(client_span.span_id.as_str())
    );
    assert_eq!(client_span.int_attr("http.response.status_code"), Some(200));
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| !s
                .metric_points("http.client.request.duration")
                .is_empty())
            .await
    );
}
