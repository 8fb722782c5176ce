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

/// The in-process benches' runtime (one thread), with the global propagator every contestant
/// extracts the request's `traceparent` with: the one `Telemetry::init` installs.
#[allow(dead_code)] // the loopback bench serves on its own runtime
pub(crate) fn in_process_runtime() -> tokio::runtime::Runtime {
    opentelemetry::global::set_text_map_propagator(
        vystak_otel_propagator::W3cTraceContextPropagator::new(),
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The in-process benches' request: a POST to the route with a sampled inbound `traceparent`.
#[allow(dead_code)] // the loopback bench sends its own over a socket
pub(crate) fn request() -> http::Request<axum::body::Body> {
    http::Request::post("/agents/weather/a2a")
        .header("host", "127.0.0.1:8080")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("user-agent", "bench")
        .body(axum::body::Body::from("{}"))
        .unwrap()
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
