//! The middleware resolves the global providers at the first request, not when it is built.
//! Global state: its own test binary.

mod common;

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use vystak_otel_client::OtelClientMiddleware;

#[tokio::test(flavor = "multi_thread")]
async fn a_middleware_built_before_init_records() {
    let base = common::echo_server().await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OtelClientMiddleware::new())
        .build();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider);
    let resp = client.get(format!("{base}/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].name, "GET");
    assert_eq!(spans[0].span_kind, opentelemetry::trace::SpanKind::Client);
}
