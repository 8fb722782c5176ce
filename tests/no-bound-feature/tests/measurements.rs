//! Bound instruments and an SDK built without `experimental_metrics_bound_instruments`: such an
//! SDK silently drops bound measurements, so `OtelServerLayer` must never bind for it. Every
//! provider the layer cannot know records bound instruments gets the unbound path: a provider
//! handed in (without the explicit opt-in) and a global provider the application installed
//! itself. The opt-in on this SDK shows the hazard the rule avoids (the test fails if this
//! crate's SDK ever gets the feature, which would make the first two checks prove nothing).

use std::net::SocketAddr;

use axum::{routing::get, Router};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vystak_otel_server::{OtelServerLayer, ServerMetrics};

fn meters() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// Requests `GET /a2a` `n` times on a real server behind `layer` (one connection each).
async fn requests(layer: OtelServerLayer, n: usize) {
    let app = Router::new().route("/a2a", get(|| async { "ok" })).layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    for _ in 0..n {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /a2a HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        assert!(reply.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&reply));
    }
}

/// The count of `http.server.request.duration` points recorded, over all its series.
fn durations(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> u64 {
    provider.force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();
    let Some(last) = exported.last() else { return 0 };
    let mut count = 0;
    for scope in last.scope_metrics() {
        for metric in scope.metrics().filter(|m| m.name() == "http.server.request.duration") {
            if let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() {
                count += h.data_points().map(|p| p.count()).sum::<u64>();
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_measurement_is_lost_with_an_sdk_that_cannot_bind() {
    let tracer = SdkTracerProvider::builder().build();

    // A provider handed in: unbound, every duration recorded.
    let (given, given_out) = meters();
    let layer = OtelServerLayer::new()
        .with_tracer_provider(&tracer)
        .with_meter_provider(&given);
    requests(layer, 5).await;
    assert_eq!(durations(&given, &given_out), 5, "a handed-in provider lost durations");

    // A global provider the application installed itself (not vystak-telemetry): unbound too.
    let (global, global_out) = meters();
    opentelemetry::global::set_tracer_provider(tracer.clone());
    opentelemetry::global::set_meter_provider(global.clone());
    requests(OtelServerLayer::new(), 5).await;
    assert_eq!(durations(&global, &global_out), 5, "the global provider lost durations");

    // The hazard the rule avoids: told to bind, this SDK drops every duration.
    let (told, told_out) = meters();
    let layer = OtelServerLayer::new()
        .with_tracer_provider(&tracer)
        .with_meter_provider(&told)
        .with_server_metrics(ServerMetrics::default().with_bound_instruments(true));
    requests(layer, 5).await;
    assert_eq!(
        durations(&told, &told_out),
        0,
        "this SDK records bound instruments: the checks above prove nothing"
    );
}
