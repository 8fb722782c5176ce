//! The global providers are resolved when the first request arrives, not when the layer is
//! built, and resolving them starts no span. Global state: this file is its own test binary and
//! runs its steps in one test, in order.

mod common;

use axum::{routing::get, Router};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, SimpleSpanProcessor,
};
use vystak_otel_server::OtelServerLayer;
use vystak_otel_testkit::memory::CountingProcessor;

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_built_before_init_records_and_building_layers_leaks_no_span() {
    // 1. Built before any provider is installed, served after init: the request is traced.
    let early = OtelServerLayer::new();
    let app = Router::new()
        .route("/a2a", get(|| async { "ok" }))
        .layer(early);

    let exporter = InMemorySpanExporter::default();
    let counting = CountingProcessor::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(counting.clone())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());

    // 2. Building layers with an AlwaysOn global sampler starts no span.
    for _ in 0..3 {
        let _layer = OtelServerLayer::new();
    }
    assert_eq!(counting.started(), 0, "building layers started spans");

    let (base, _) = common::serve(app).await;
    let body = reqwest::get(format!("{base}/a2a"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
    // The span ends with the body; give the server a moment to finish it.
    for _ in 0..100 {
        if !exporter.get_finished_spans().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].name, "GET /a2a");
    assert_eq!(counting.started(), 1);
    assert_eq!(counting.ended(), 1);
}
