//! What both server benches share: the app, the providers, the discarding exporter.

use axum::routing::post;
use axum::Router;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};

/// Drops every batch: the exporter's cost stays out of the measurement.
#[derive(Debug)]
pub(crate) struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

pub(crate) fn app() -> Router {
    Router::new().route("/agents/{name}/a2a", post(|| async { "ok" }))
}

/// A simple (synchronous) span processor: the export cost is the same for every variant and is
/// paid on the serving thread, with no background thread competing for the two cores.
pub(crate) fn providers(sampler: Sampler) -> (SdkTracerProvider, SdkMeterProvider) {
    let tp = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .with_sampler(sampler)
        .build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    (tp, mp)
}
