//! Faulty collectors under concurrent load: a real axum service on 127.0.0.1 keeps answering every
//! request, the span queue stays bounded, every span is delivered or counted, and shutdown is
//! bounded by the export timeout. The collectors are small tonic OTLP servers that answer
//! UNAVAILABLE, RESOURCE_EXHAUSTED, or OK but slowly.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::{Code, Request, Response, Status};
use vystak_otel_viewer::Receiver;
use vystak_telemetry::{SpanStats, Telemetry, TelemetryGuard};

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Refuse(Code),
    Slow(Duration),
}

#[derive(Clone, Debug)]
struct Collector {
    behaviour: Behaviour,
    spans: Arc<AtomicU64>,
}

impl Collector {
    async fn answer(&self) -> Result<(), Status> {
        match self.behaviour {
            Behaviour::Refuse(code) => Err(Status::new(code, "collector says no")),
            Behaviour::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.answer().await?;
        let n: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(n as u64, Ordering::Relaxed);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        _request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.answer().await?;
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// Starts a collector; returns its endpoint and the count of spans it accepted.
async fn collector(behaviour: Behaviour) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let c = Collector {
        behaviour,
        spans: Arc::default(),
    };
    let spans = c.spans.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(c.clone()))
            .add_service(MetricsServiceServer::new(c))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (format!("http://{addr}"), spans)
}

/// A real service: every request ends three spans.
async fn service(tp: SdkTracerProvider) -> String {
    let tracer = Arc::new(tp.tracer("faults"));
    let app = Router::new().route(
        "/work",
        get(move || {
            let tracer = tracer.clone();
            async move {
                let mut parent = tracer.start("GET /work");
                for name in ["db", "model"] {
                    tracer.start(name).end();
                }
                parent.end();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/work")
}

const QUEUE: usize = 256;
const REQUESTS: usize = 1_500;
const CONCURRENCY: usize = 24;

/// Drives `REQUESTS` requests, `CONCURRENCY` at a time; returns the failures and the largest
/// queue seen.
async fn load(url: &str, guard: &TelemetryGuard) -> (usize, u64) {
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (http, url, next, failures) =
                (http.clone(), url.to_owned(), next.clone(), failures.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < REQUESTS {
                    match http.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    let mut max_queued = 0;
    while !workers.iter().all(|w| w.is_finished()) {
        max_queued = max_queued.max(guard.span_stats().queued);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for w in workers {
        w.await.unwrap();
    }
    (failures.load(Ordering::Relaxed), max_queued)
}

/// Waits until no span is queued or in an export, then returns the stats.
async fn settled(guard: &TelemetryGuard) -> SpanStats {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let s = guard.span_stats();
        if (s.queued == 0 && s.in_export == 0) || Instant::now() > until {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(behaviour: Behaviour) -> (SpanStats, u64) {
    let (endpoint, accepted) = collector(behaviour).await;
    let timeout = Duration::from_secs(2);
    let guard = Telemetry::new()
        .with_endpoint(endpoint)
        .with_service_name("vystak-faults-test")
        .with_export_timeout(timeout)
        .with_max_queue_size(QUEUE)
        .build()
        .unwrap();
    let url = service(guard.tracer_provider().unwrap()).await;
    let (failures, max_queued) = load(&url, &guard).await;
    assert_eq!(
        failures, 0,
        "{behaviour:?}: no request fails because of telemetry"
    );
    assert!(
        max_queued <= QUEUE as u64,
        "{behaviour:?}: bounded memory, at most {QUEUE} queued spans, saw {max_queued}"
    );
    // Collect what happened once the pipeline is quiet: every span is accounted for.
    let stats = settled(&guard).await;
    assert_eq!(stats.ended, 3 * REQUESTS as u64, "{behaviour:?}");
    assert_eq!(
        stats.ended,
        stats.exported + stats.export_failed + stats.dropped() + stats.queued + stats.in_export,
        "{behaviour:?}: {stats:?}"
    );
    assert_eq!(
        accepted.load(Ordering::Relaxed),
        stats.exported,
        "{stats:?}"
    );
    let started = Instant::now();
    let _ = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!("{behaviour:?}: {stats:?}; shutdown took {took:?}");
    assert!(
        took < timeout + Duration::from_secs(2),
        "{behaviour:?}: shutdown is bounded, took {took:?}"
    );
    (stats, accepted.load(Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_collector_fails_no_request_and_every_lost_span_is_counted() {
    let (stats, accepted) = run(Behaviour::Refuse(Code::Unavailable)).await;
    assert_eq!(accepted, 0);
    assert!(stats.export_failed > 0, "{stats:?}");
    assert_eq!(stats.lost(), stats.ended, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_exhausted_collector_fails_no_request_and_every_lost_span_is_counted() {
    let (stats, accepted) = run(Behaviour::Refuse(Code::ResourceExhausted)).await;
    assert_eq!(accepted, 0);
    assert!(stats.export_failed > 0, "{stats:?}");
    assert_eq!(stats.lost(), stats.ended, "{stats:?}");
}

/// A collector that takes 300 ms per export: the small queue overflows, and the drops are
/// counted, not silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_collector_drops_are_counted_and_the_rest_is_delivered() {
    let (stats, accepted) = run(Behaviour::Slow(Duration::from_millis(300))).await;
    assert!(accepted > 0, "{stats:?}");
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
    assert_eq!(stats.export_failed, 0, "{stats:?}");
    assert_eq!(
        accepted + stats.dropped_queue_full,
        stats.ended,
        "{stats:?}"
    );
}

/// SIGTERM during load with a healthy receiver: the handler stops the load, waits for the
/// in-flight work, and shuts down; every finished span is delivered (the queue never filled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_load_delivers_every_finished_span() {
    let receiver = Receiver::start_local().await.unwrap();
    let guard = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-sigterm-test")
        .with_export_timeout(Duration::from_secs(5))
        .with_max_queue_size(1 << 16)
        .build()
        .unwrap();
    let tracer = Arc::new(guard.tracer_provider().unwrap().tracer("sigterm"));
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ended = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (tracer, stop, ended) = (tracer.clone(), stop.clone(), ended.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut span = tracer.start(format!("w{w}-{i}"));
                    tokio::task::yield_now().await;
                    span.end();
                    ended.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    // Let the load run, then deliver a real SIGTERM to this process.
    while ended.load(Ordering::Relaxed) < 5_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    term.recv().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let ended = ended.load(Ordering::Relaxed);
    let before = guard.span_stats();
    assert_eq!(before.ended, ended);
    assert_eq!(before.dropped(), 0, "{before:?}");
    let started = Instant::now();
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(7));
    let spans = receiver
        .store()
        .wait_for_spans(ended as usize, Duration::from_secs(30))
        .await;
    assert_eq!(
        spans.len() as u64,
        ended,
        "every finished span is delivered"
    );
}
