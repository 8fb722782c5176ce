//! Shutdown is bounded by one deadline, the export timeout, whatever the collector does.

use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use vystak_telemetry::Telemetry;

/// A collector that accepts TCP connections and never answers.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket); // hold it open, never read or write
        }
    });
    (format!("http://{addr}"), held)
}

async fn shutdown_time(timeout: Option<Duration>) -> Duration {
    let (endpoint, held) = black_hole().await;
    let mut t = Telemetry::new()
        .with_endpoint(endpoint)
        .with_max_queue_size(64);
    if let Some(timeout) = timeout {
        t = t.with_export_timeout(timeout);
    }
    let telemetry = t.build().unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("black-hole");
    let meter = telemetry.meter_provider().unwrap().meter("black-hole");
    for i in 0..200 {
        tracer.start(format!("s{i}")).end();
        meter.u64_counter("c").build().add(1, &[]);
    }
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!("export timeout {timeout:?}: shutdown took {took:?} ({result:?})");
    held.abort();
    took
}

/// Regression (issue 11): traces then metrics, each with its own SDK timeouts, made shutdown take
/// 10.0 s with the default export timeout, 3.0–4.0 s with a 1 s one and 6.0 s with a 3 s one,
/// against a collector that never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_by_the_export_timeout_against_a_black_hole_collector() {
    for timeout in [Duration::from_secs(1), Duration::from_secs(3)] {
        let took = shutdown_time(Some(timeout)).await;
        // A generous bound, not a performance assertion: one deadline, not one per signal.
        assert!(
            took < timeout + Duration::from_secs(2),
            "{timeout:?}: {took:?}"
        );
    }
}
