//! The span's lifetime: streaming bodies, body errors, cancellation, the active-request counter,
//! and `EventSpan` roots.

mod common;

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use common::{attrs, serve, Telemetry, Value};
use futures_util::StreamExt;
use opentelemetry::trace::{Status, TraceContextExt, Tracer as _, TracerProvider as _};
use vystak_otel_server::{EventSpan, ServerMetrics, SLACK_APP_MENTION};

fn active_requests(t: &Telemetry) -> f64 {
    t.points_named("http.server.active_requests")
        .iter()
        .map(|p| match p.value {
            Value::Sum(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_keeps_the_span_open_until_its_last_frame() {
    let t = Telemetry::new();
    let last_sent = std::sync::Arc::new(std::sync::Mutex::new(None::<SystemTime>));
    let marker = last_sent.clone();
    // The test releases the stream's frames: the first one, then (after checking that no span
    // has ended) the other four.
    let (release, frames) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let frames = std::sync::Arc::new(std::sync::Mutex::new(Some(frames)));
    let app = Router::new()
        .route(
            "/stream",
            get(move || {
                let marker = marker.clone();
                let frames = frames.lock().unwrap().take().expect("one request");
                async move {
                    let events = tokio_stream::wrappers::UnboundedReceiverStream::new(frames).map(
                        move |i| {
                            *marker.lock().unwrap() = Some(SystemTime::now());
                            Ok::<_, Infallible>(Event::default().data(format!("chunk {i}")))
                        },
                    );
                    Sse::new(events)
                }
            }),
        )
        .layer(
            t.layer()
                .with_server_metrics(ServerMetrics::default().with_body_sizes(true)),
        );
    let (base, _) = serve(app).await;
    release.send(0).unwrap();
    let mut resp = reqwest::get(format!("{base}/stream")).await.unwrap();
    let first = resp.chunk().await.unwrap().expect("the first frame");
    // A frame is in, the stream is still running: no span yet.
    assert!(
        t.finished().is_empty(),
        "span ended before the body finished"
    );
    for i in 1..5 {
        release.send(i).unwrap();
    }
    drop(release);
    let text = String::from_utf8(first.to_vec()).unwrap() + &resp.text().await.unwrap();
    assert_eq!(text.matches("chunk").count(), 5);
    t.wait_spans(1).await;
    let span = t.span("GET /stream");
    assert_eq!(span.status, Status::Unset);
    let last = last_sent.lock().unwrap().unwrap();
    assert!(
        span.end_time >= last,
        "span ended at the last frame or after"
    );
    let sizes = t.points_named("http.server.response.body.size");
    match &sizes[0].value {
        Value::Histogram { sum, .. } => assert_eq!(*sum as usize, text.len()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_error_marks_the_span_error() {
    let t = Telemetry::new();
    let app = Router::new()
        .route(
            "/broken",
            get(|| async {
                let chunks = futures_util::stream::iter(0..2).then(|i| async move {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    if i == 0 {
                        Ok(Bytes::from_static(b"partial"))
                    } else {
                        Err(std::io::Error::other("disk gone"))
                    }
                });
                Body::from_stream(chunks)
            }),
        )
        .layer(t.layer());
    let (base, _) = serve(app).await;
    let resp = reqwest::get(format!("{base}/broken")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text().await.is_err(),
        "the client sees the broken body"
    );
    t.wait_spans(1).await;
    let span = t.span("GET /broken");
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attrs(&span)["error.type"], "axum_core::error::Error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_stream_cancels_the_span_and_releases_the_counter() {
    let t = Telemetry::new();
    let app = Router::new()
        .route(
            "/endless",
            get(|| async {
                let ticks = futures_util::stream::unfold(0u64, |i| async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Some((Ok::<_, Infallible>(Bytes::from(format!("{i}\n"))), i + 1))
                });
                Body::from_stream(ticks)
            }),
        )
        .layer(
            t.layer()
                .with_server_metrics(ServerMetrics::default().with_active_requests(true)),
        );
    let (base, _) = serve(app).await;
    let resp = reqwest::get(format!("{base}/endless")).await.unwrap();
    let mut stream = resp.bytes_stream();
    stream.next().await.unwrap().unwrap();
    assert_eq!(active_requests(&t), 1.0);
    drop(stream); // disconnect mid-stream
    let spans = t.wait_spans(1).await;
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attrs(span)["error.type"], "cancelled");
    assert_eq!(active_requests(&t), 0.0, "the counter does not leak");
    let duration = &t.points_named("http.server.request.duration")[0];
    assert_eq!(duration.attrs["error.type"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_future_cancels_the_span_and_releases_the_counter() {
    let t = Telemetry::new();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .layer(
            t.layer()
                .with_server_metrics(ServerMetrics::default().with_active_requests(true)),
        );
    let (base, _) = serve(app).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(client.get(format!("{base}/slow")).send().await.is_err());
    let spans = t.wait_spans(1).await;
    assert_eq!(
        spans.len(),
        1,
        "hyper drops the handler future when the client goes away"
    );
    assert_eq!(attrs(&spans[0])["error.type"], "cancelled");
    assert_eq!(active_requests(&t), 0.0);
    let counter = &t.points_named("http.server.active_requests")[0];
    assert_eq!(
        counter.attrs.keys().collect::<Vec<_>>(),
        ["http.request.method", "url.scheme"],
        "active requests carry only the required attributes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_spans_are_roots_whatever_the_ambient_context() {
    let t = Telemetry::new();
    let tracer = t.tp.tracer("ambient");
    let ambient = tracer.start("ambient.parent");
    let ambient_cx = opentelemetry::Context::current_with_span(ambient);
    let _g = ambient_cx.clone().attach();
    let seen = EventSpan::root(SLACK_APP_MENTION)
        .with_attribute(opentelemetry::KeyValue::new("slack.channel.id", "C123"))
        .with_tracer_provider(&t.tp)
        .instrument_result(async {
            tokio::task::yield_now().await;
            let cx = opentelemetry::Context::current();
            Ok::<_, std::io::Error>(cx.span().span_context().span_id())
        })
        .await
        .unwrap();
    let span = t.span("slack.app_mention");
    assert_eq!(
        span.span_context.span_id(),
        seen,
        "current during the handler"
    );
    assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_ne!(
        span.span_context.trace_id(),
        ambient_cx.span().span_context().trace_id(),
        "a new trace"
    );
    assert_eq!(attrs(&span)["slack.channel.id"], "C123");
    assert_eq!(span.status, Status::Unset);

    let failed = EventSpan::root("slack.message")
        .with_tracer_provider(&t.tp)
        .instrument_result(async { Err::<(), _>(std::fmt::Error) })
        .await;
    assert!(failed.is_err());
    let span = t.span("slack.message");
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attrs(&span)["error.type"], "core::fmt::Error");

    let dropped = EventSpan::root("dropped.event")
        .with_tracer_provider(&t.tp)
        .instrument(std::future::pending::<()>());
    drop(dropped);
    assert_eq!(attrs(&t.span("dropped.event"))["error.type"], "cancelled");
}
