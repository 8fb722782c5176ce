//! The real export path: layer → SDK → OTLP gRPC → `vystak-otel-viewer`'s receiver.

use std::time::Duration;

use axum::routing::post;
use axum::Router;
use vystak_otel_server::OtelServerLayer;
use vystak_otel_viewer::{Receiver, SpanKind};
use vystak_telemetry::Telemetry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spans_and_duration_reach_the_receiver() {
    let receiver = Receiver::start_local().await.unwrap();
    let telemetry = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-weather-agent")
        .build()
        .unwrap();
    let layer = OtelServerLayer::new()
        .with_tracer_provider(&telemetry.tracer_provider().unwrap())
        .with_meter_provider(&telemetry.meter_provider().unwrap())
        .with_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let app = Router::new()
        .route("/a2a", post(|| async { "{}" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/a2a"))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "{}");
    telemetry.shutdown().unwrap();
    let store = receiver.store();
    let spans = store.wait_for_spans(1, Duration::from_secs(20)).await;
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "POST /a2a");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.service_name, "vystak-weather-agent");
    assert_eq!(span.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(span.parent_span_id.as_deref(), Some("b7ad6b7169203331"));
    assert_eq!(span.scope_name, "vystak-otel-server");
    assert_eq!(span.int_attr("http.response.status_code"), Some(200));
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| !s
                .metric_points("http.server.request.duration")
                .is_empty())
            .await
    );
    let point = &store.metric_points("http.server.request.duration")[0];
    assert_eq!(point.unit, "s");
    assert_eq!(point.str_attr("http.route"), Some("/a2a"));
}
