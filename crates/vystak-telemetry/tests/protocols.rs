//! Every protocol and compression into `vystak-otel-viewer`'s real receivers (OTLP/gRPC and
//! OTLP/HTTP), and a traces-only backend that refuses metrics.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::roundtrip;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use vystak_otel_viewer::Receiver;
use vystak_telemetry::{Compression, Protocol, Signal, Telemetry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_http_protobuf_and_json_with_and_without_gzip_reach_the_viewer() {
    let receiver = Receiver::start_local().await.unwrap();
    let http = receiver.http_endpoint().expect("the OTLP/HTTP receiver");
    for (label, telemetry) in [
        ("grpc", Telemetry::new().with_endpoint(receiver.endpoint())),
        (
            "grpc-gzip",
            Telemetry::new()
                .with_endpoint(receiver.endpoint())
                .with_compression(Compression::Gzip),
        ),
        (
            "http-protobuf",
            Telemetry::new()
                .with_protocol(Protocol::HttpProtobuf)
                .with_endpoint(http.clone()),
        ),
        (
            "http-protobuf-gzip",
            Telemetry::new()
                .with_protocol(Protocol::HttpProtobuf)
                .with_compression(Compression::Gzip)
                .with_endpoint(http.clone()),
        ),
        (
            "http-json",
            Telemetry::new()
                .with_protocol(Protocol::HttpJson)
                .with_endpoint(http.clone()),
        ),
        (
            "http-json-gzip",
            Telemetry::new()
                .with_protocol(Protocol::HttpJson)
                .with_compression(Compression::Gzip)
                .with_endpoint(http.clone()),
        ),
        (
            "per-signal-endpoints",
            Telemetry::new()
                .with_protocol(Protocol::HttpProtobuf)
                .with_traces_endpoint(format!("{http}/v1/traces"))
                .with_metrics_endpoint(format!("{http}/v1/metrics")),
        ),
    ] {
        roundtrip(&receiver, telemetry, label).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_says_what_each_signal_does() {
    let receiver = Receiver::start_local().await.unwrap();
    let http = receiver.http_endpoint().unwrap();
    let guard = Telemetry::new()
        .with_service_name("vystak-summary")
        .with_protocol(Protocol::HttpProtobuf)
        .with_compression(Compression::Gzip)
        .with_endpoint(http.clone())
        .with_metrics(false)
        .with_summary_line(false)
        .build()
        .unwrap();
    let summary = guard.summary();
    assert_eq!(
        summary,
        format!(
            "service vystak-summary; traces → {http}/v1/traces (http/protobuf, gzip, from code); \
             metrics off (turned off in code); sampler parentbased_always_on; propagators \
             tracecontext,baggage"
        )
    );
    let [traces, metrics] = guard.signals();
    assert_eq!(traces.protocol, Protocol::HttpProtobuf);
    assert!(metrics.off.is_some());
    guard.shutdown().unwrap();
}

/// A traces-only backend (Phoenix, Jaeger): 200 on `/v1/traces`, 405 on `/v1/metrics`.
async fn traces_only_backend() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let traces = Arc::new(AtomicUsize::new(0));
    let metrics = Arc::new(AtomicUsize::new(0));
    let (t, m) = (traces.clone(), metrics.clone());
    let app = Router::new()
        .route(
            "/v1/traces",
            post(move || {
                t.fetch_add(1, Ordering::SeqCst);
                // An empty ExportTraceServiceResponse.
                async {
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        )
        .route(
            "/v1/metrics",
            post(move || {
                m.fetch_add(1, Ordering::SeqCst);
                async { (StatusCode::METHOD_NOT_ALLOWED, "metrics are not supported") }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), traces, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_refuses_metrics_stops_metrics_once_and_keeps_traces() {
    let (base, traces, metrics) = traces_only_backend().await;
    let guard = Telemetry::new()
        .with_service_name("vystak-refused")
        .with_protocol(Protocol::HttpProtobuf)
        .with_endpoint(base.clone())
        .with_summary_line(false)
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("refused");
    let counter = guard
        .meter_provider()
        .unwrap()
        .meter("refused")
        .u64_counter("requests")
        .build();
    for round in 0..3 {
        tracer.start(format!("round {round}")).end();
        counter.add(1, &[]);
        // A failed export is an error from flush; the application carries on.
        let _ = guard.force_flush();
    }
    assert_eq!(
        metrics.load(Ordering::SeqCst),
        1,
        "metrics were sent once (405 is not retried), then stopped"
    );
    assert!(traces.load(Ordering::SeqCst) >= 1, "traces still go out");
    assert_eq!(
        guard.refused_signals(),
        vec![(Signal::Metrics, "HTTP 405 Method Not Allowed")]
    );
    assert!(
        guard
            .summary()
            .contains("refused by the backend (HTTP 405 Method Not Allowed)"),
        "{}",
        guard.summary()
    );
    let before = traces.load(Ordering::SeqCst);
    tracer.start("after").end();
    guard.shutdown().unwrap();
    assert!(traces.load(Ordering::SeqCst) > before, "traces unaffected");
    assert_eq!(
        metrics.load(Ordering::SeqCst),
        1,
        "no metrics export at shutdown either"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_endpoint_that_never_answers_is_never_a_hang() {
    // A listener that accepts and never answers: the TLS handshake cannot complete.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let guard = Telemetry::new()
            .with_service_name("vystak-https")
            .with_protocol(protocol)
            .with_endpoint(format!("https://{addr}"))
            .with_export_timeout(Duration::from_secs(2))
            .with_summary_line(false)
            .build()
            .unwrap();
        assert!(
            guard.summary().contains(&format!("https://{addr}")),
            "{protocol}: {}",
            guard.summary()
        );
        guard
            .tracer_provider()
            .unwrap()
            .tracer("https")
            .start("lost")
            .end();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || guard.shutdown())
            .await
            .unwrap();
        assert!(result.is_err(), "{protocol}: the lost span is reported");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{protocol}: shutdown is bounded by the export timeout, took {:?}",
            started.elapsed()
        );
    }
}

/// A traces-only gRPC backend: a real tonic server with the trace service alone, so metrics get
/// `UNIMPLEMENTED` (what a gRPC collector without a metrics pipeline answers).
async fn traces_only_grpc_backend() -> (String, Arc<AtomicUsize>) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };

    #[derive(Clone)]
    struct Traces(Arc<AtomicUsize>);

    #[tonic::async_trait]
    impl TraceService for Traces {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let spans: usize = request
                .get_ref()
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            self.0.fetch_add(spans, Ordering::SeqCst);
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    let spans = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(Traces(spans.clone()));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (format!("http://{addr}"), spans)
}

/// What the README's quick start does: a span and a metric point, then `shutdown()` with no flush
/// before it, so the metrics export that meets the refusal is the one inside `shutdown()`.
async fn quickstart_shutdown(telemetry: Telemetry) -> Result<(), String> {
    let guard = telemetry.with_summary_line(false).build().unwrap();
    guard
        .tracer_provider()
        .unwrap()
        .tracer("quickstart")
        .start("GET /a2a")
        .end();
    guard
        .meter_provider()
        .unwrap()
        .meter("quickstart")
        .f64_histogram("http.server.request.duration")
        .build()
        .record(0.01, &[]);
    assert!(guard.refused_signals().is_empty(), "nothing refused yet");
    tokio::task::spawn_blocking(move || guard.shutdown().map_err(|e| e.to_string()))
        .await
        .unwrap()
}

/// The same with a `force_flush()` first: the refusal is found there, the flush is not a failure,
/// the guard says what was refused, and shutdown is `Ok` too.
async fn flush_then_shutdown(
    telemetry: Telemetry,
) -> (
    Result<(), String>,
    Vec<(Signal, &'static str)>,
    Result<(), String>,
) {
    let guard = telemetry.with_summary_line(false).build().unwrap();
    guard
        .tracer_provider()
        .unwrap()
        .tracer("flush")
        .start("GET /a2a")
        .end();
    guard
        .meter_provider()
        .unwrap()
        .meter("flush")
        .u64_counter("requests")
        .build()
        .add(1, &[]);
    tokio::task::spawn_blocking(move || {
        let flushed = guard.force_flush().map_err(|e| e.to_string());
        let refused = guard.refused_signals();
        (
            flushed,
            refused,
            guard.shutdown().map_err(|e| e.to_string()),
        )
    })
    .await
    .unwrap()
}

/// Regression (issue 25): against a backend that takes traces and answers 405 on `/v1/metrics`,
/// `shutdown()` returned `Err(Flush { operation: "shutdown", message: "metrics: Operation failed:
/// [InternalFailure(\"Failed to shutdown\")]" })`, so the quick start exited with status 1 after
/// its one warning. A refused signal was reported once and stopped: not a shutdown failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_refusal_is_not_a_shutdown_failure_over_http() {
    let (base, traces, metrics) = traces_only_backend().await;
    let http = || {
        Telemetry::new()
            .with_service_name("vystak-traces-only-http")
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint(base.clone())
    };
    assert_eq!(quickstart_shutdown(http()).await, Ok(()));
    assert_eq!(traces.load(Ordering::SeqCst), 1, "the trace was delivered");
    assert_eq!(
        metrics.load(Ordering::SeqCst),
        1,
        "metrics tried once, at shutdown"
    );

    let (flushed, refused, shut) = flush_then_shutdown(http()).await;
    assert_eq!(flushed, Ok(()));
    assert_eq!(
        refused,
        vec![(Signal::Metrics, "HTTP 405 Method Not Allowed")]
    );
    assert_eq!(shut, Ok(()));
    assert_eq!(
        traces.load(Ordering::SeqCst),
        2,
        "the second trace was delivered"
    );
    assert_eq!(metrics.load(Ordering::SeqCst), 2, "once more, then stopped");
}

/// The same against a gRPC backend without a metrics service (`UNIMPLEMENTED`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_refusal_is_not_a_shutdown_failure_over_grpc() {
    let (base, spans) = traces_only_grpc_backend().await;
    let grpc = || {
        Telemetry::new()
            .with_service_name("vystak-traces-only-grpc")
            .with_endpoint(base.clone())
    };
    assert_eq!(quickstart_shutdown(grpc()).await, Ok(()));
    assert_eq!(spans.load(Ordering::SeqCst), 1, "the span was delivered");

    let (flushed, refused, shut) = flush_then_shutdown(grpc()).await;
    assert_eq!(flushed, Ok(()));
    assert_eq!(refused, vec![(Signal::Metrics, "gRPC UNIMPLEMENTED")]);
    assert_eq!(shut, Ok(()));
    assert_eq!(
        spans.load(Ordering::SeqCst),
        2,
        "the second span was delivered"
    );
}
