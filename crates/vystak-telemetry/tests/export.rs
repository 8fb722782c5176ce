//! The real OTLP gRPC path into `vystak-otel-viewer`'s receiver.

use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Status, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use vystak_otel_viewer::{AttrValue, PointValue, Receiver, SpanStatus};
use vystak_telemetry::{Error, ServiceName, Telemetry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_ended_before_shutdown_is_delivered() {
    let receiver = Receiver::start_local().await.unwrap();
    let telemetry = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name(ServiceName::agent("delivery-test").unwrap())
        .with_service_version("1.2.3")
        .with_resource_attribute(KeyValue::new("deployment.environment", "test"))
        .build()
        .unwrap();
    assert!(telemetry.is_enabled());
    assert_eq!(telemetry.endpoint(), receiver.endpoint());
    let tracer = telemetry.tracer_provider().unwrap().tracer("delivery");
    const N: usize = 500;
    for i in 0..N {
        let mut span = tracer.start(format!("span-{i}"));
        span.set_attribute(KeyValue::new("i", i as i64));
        span.end();
    }
    telemetry.shutdown().unwrap();
    let spans = receiver
        .store()
        .wait_for_spans(N, Duration::from_secs(20))
        .await;
    assert_eq!(spans.len(), N);
    let first = &spans[0];
    assert_eq!(first.service_name, "vystak-delivery-test");
    assert_eq!(
        first.resource.get("service.version"),
        Some(&AttrValue::Str("1.2.3".into()))
    );
    assert_eq!(
        first.resource.get("deployment.environment"),
        Some(&AttrValue::Str("test".into()))
    );
    assert_eq!(
        first.resource.get("telemetry.sdk.language"),
        Some(&AttrValue::Str("rust".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_give_the_semconv_buckets_to_instruments_without_advice() {
    let receiver = Receiver::start_local().await.unwrap();
    let telemetry = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-views-test")
        .build()
        .unwrap();
    let meter = telemetry.meter_provider().unwrap().meter("views");
    for (name, _) in vystak_telemetry::BUCKETS {
        // No with_boundaries: the SDK default would be [0, 5, 10, 25, …].
        meter.f64_histogram(name).build().record(0.3, &[]);
    }
    meter
        .f64_histogram("other.histogram")
        .build()
        .record(1.0, &[]);
    telemetry.shutdown().unwrap();
    let store = receiver.store();
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| s
                .all_metric_points()
                .iter()
                .filter(|p| !p.metric_name.starts_with("otel.sdk."))
                .count()
                == 5)
            .await
    );
    for (name, expected) in vystak_telemetry::BUCKETS {
        let point = &store.metric_points(name)[0];
        match &point.value {
            PointValue::Histogram { bounds, count, .. } => {
                assert_eq!(bounds.as_slice(), expected, "{name}");
                assert_eq!(*count, 1);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    match &store.metric_points("other.histogram")[0].value {
        PointValue::Histogram { bounds, .. } => assert_eq!(bounds[..3], [0.0, 5.0, 10.0]),
        other => panic!("{other:?}"),
    }
    // The token buckets as the GenAI conventions (v1.41) write them, not as we declare them.
    match &store.metric_points("gen_ai.client.token.usage")[0].value {
        PointValue::Histogram { bounds, .. } => assert_eq!(
            bounds.as_slice(),
            [
                1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
                4194304.0, 16777216.0, 67108864.0
            ]
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benign_filter_is_in_the_default_pipeline() {
    let receiver = Receiver::start_local().await.unwrap();
    let telemetry = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .build()
        .unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("a2a");
    for (name, ty) in [
        (
            "a2a.server.events.event_queue_v2.EventQueue.close",
            "culsans.QueueShutDown",
        ),
        (
            "a2a.server.events.event_queue_v2.EventQueue.dequeue",
            "ValueError",
        ),
    ] {
        let mut span = tracer.start(name);
        span.add_event("exception", vec![KeyValue::new("exception.type", ty)]);
        span.set_status(Status::error("raised"));
        span.end();
    }
    telemetry.shutdown().unwrap();
    let store = receiver.store();
    store.wait_for_spans(2, Duration::from_secs(20)).await;
    let benign = &store.spans_named("a2a.server.events.event_queue_v2.EventQueue.close")[0];
    assert_eq!(benign.status, SpanStatus::Unset);
    assert_eq!(benign.events[0].name, "exception", "the event is kept");
    let real = &store.spans_named("a2a.server.events.event_queue_v2.EventQueue.dequeue")[0];
    assert!(real.status.is_error());
}

/// Spans keep being created quickly and shutdown returns: the collector refuses connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_collector_never_blocks_or_fails_the_application() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // dropped: connections to it are refused
    let telemetry = Telemetry::new()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_export_timeout(Duration::from_secs(1))
        .with_max_queue_size(64)
        .build()
        .unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("refused");
    for i in 0..5_000 {
        tracer.start(format!("s{i}")).end();
    }
    let result = tokio::time::timeout(Duration::from_secs(60), async move {
        tokio::task::spawn_blocking(move || telemetry.shutdown())
            .await
            .unwrap()
    })
    .await
    .expect("shutdown must not hang on a refusing collector");
    // Delivery failed: that is reported by shutdown (once, with the count of every span lost),
    // never raised into the application.
    let Err(Error::Flush { operation, message }) = result else {
        panic!("shutdown must report the lost spans: {result:?}");
    };
    assert_eq!(operation, "shutdown");
    assert!(
        message.contains("traces: 5000 of 5000 spans not delivered ("),
        "{message}"
    );
    assert_eq!(
        message.matches("spans not delivered").count(),
        1,
        "{message}"
    );
}

/// A collector that accepts TCP connections but never answers: shutdown is bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_collector_never_blocks_the_application() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket); // hold it open, never read or write
        }
    });
    let telemetry = Telemetry::new()
        .with_endpoint(format!("http://{addr}"))
        .with_export_timeout(Duration::from_secs(1))
        .with_max_queue_size(64)
        .build()
        .unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("hanging");
    let meter = telemetry.meter_provider().unwrap().meter("hanging");
    let started = Instant::now();
    for i in 0..5_000 {
        tracer.start(format!("s{i}")).end();
        meter.u64_counter("c").build().add(1, &[]);
    }
    let creation = started.elapsed();
    let result = tokio::time::timeout(Duration::from_secs(60), async move {
        tokio::task::spawn_blocking(move || telemetry.shutdown())
            .await
            .unwrap()
    })
    .await;
    assert!(result.is_ok(), "shutdown hung on a silent collector");
    // Not a performance assertion: 5000 spans must not each wait for the 1 s export timeout.
    assert!(creation < Duration::from_secs(60), "{creation:?}");
    held.abort();
}

#[test]
fn building_outside_a_tokio_runtime_is_a_clear_error() {
    let err = Telemetry::new()
        .with_endpoint("http://127.0.0.1:4317")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::NoRuntime), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_header_is_a_configuration_error() {
    let err = Telemetry::new()
        .with_endpoint("http://127.0.0.1:4317")
        .with_header("bad header", "x")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

/// Regression (issue 11): spans dropped by the bounded queue were invisible. With a one-slot
/// queue and a burst of spans, the drops are counted on the guard and exported as the SDK
/// self-metric `otel.sdk.processor.span.processed{error.type=queue_full}`; delivered + dropped
/// = ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_drops_are_counted_and_exported_as_the_sdk_self_metric() {
    let receiver = Receiver::start_local().await.unwrap();
    let telemetry = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-drops-test")
        .with_max_queue_size(1)
        .build()
        .unwrap();
    let tracer = telemetry.tracer_provider().unwrap().tracer("drops");
    const N: u64 = 5_000;
    for i in 0..N {
        tracer.start(format!("s{i}")).end();
    }
    // Wait until the pipeline is quiet.
    let until = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let s = telemetry.span_stats();
        if (s.queued == 0 && s.in_export == 0) || Instant::now() > until {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stats.ended, N);
    assert_eq!(stats.queue_capacity, 1);
    assert!(telemetry.dropped_spans() > 0, "{stats:?}");
    assert_eq!(telemetry.dropped_spans(), stats.dropped_queue_full);
    assert_eq!(stats.exported + stats.dropped_queue_full, N, "{stats:?}");
    telemetry
        .shutdown()
        .expect_err("lost spans are reported by shutdown");
    let store = receiver.store();
    store
        .wait_for_spans(stats.exported as usize, Duration::from_secs(20))
        .await;
    assert_eq!(store.span_count() as u64, stats.exported);
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| !s
                .metric_points("otel.sdk.processor.span.processed")
                .is_empty())
            .await
    );
    let processed = store.metric_points("otel.sdk.processor.span.processed");
    let value = |error: Option<&str>| -> f64 {
        processed
            .iter()
            .filter(|p| p.str_attr("error.type") == error)
            .map(|p| {
                assert_eq!(
                    p.str_attr("otel.component.type"),
                    Some("batching_span_processor")
                );
                assert_eq!(p.unit, "{span}");
                p.value_sum()
            })
            .sum()
    };
    assert_eq!(value(Some("queue_full")), stats.dropped_queue_full as f64);
    assert_eq!(value(None), stats.exported as f64);
    let capacity = store.metric_points("otel.sdk.processor.span.queue.capacity");
    assert_eq!(capacity[0].value_sum(), 1.0);
}
