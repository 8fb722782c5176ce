//! Odd numbers from clients and flags never wrap, panic or silently lose data.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vystak_otel_viewer::{SpanKind, SpanRecord, SpanStatus, Store, StoreOptions};

fn span_started(ago: Duration) -> SpanRecord {
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .saturating_sub(ago)
        .as_nanos() as u64;
    SpanRecord {
        service_name: "vystak-odd".into(),
        resource: Default::default(),
        scope_name: "odd".into(),
        trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        span_id: "b7ad6b7169203331".into(),
        parent_span_id: None,
        name: "odd".into(),
        kind: SpanKind::Internal,
        status: SpanStatus::Unset,
        start_unix_nanos: start,
        end_unix_nanos: start + 1_000,
        attributes: BTreeMap::new(),
        events: vec![],
        links: vec![],
    }
}

/// Regression (issue 26): `--retention 18446744074s` wrapped to 0.29 s (the age in nanoseconds
/// cast to u64), so a 10-second-old span was dropped by a retention of 584 years.
#[test]
fn a_retention_longer_than_u64_nanoseconds_keeps_everything() {
    let store = Store::with_options(
        StoreOptions::default().with_retention(Some(Duration::from_secs(18_446_744_074))),
    );
    store.insert_spans([span_started(Duration::from_secs(10))]);
    store.apply_retention();
    assert_eq!(store.span_count(), 1);
}

/// The binary's flag: an overflowing or absurd duration is a clear error, exit status 2.
#[test]
fn the_retention_flag_refuses_overflowing_durations() {
    for (value, says) in [
        ("18446744074s", "too long"),
        ("1000000h", "too long (longer than 100 years)"),
        ("1e30", "invalid duration"),
        ("-5", "invalid duration"),
        ("7x", "invalid duration"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
            .args(["--retention", value, "--ui", "off", "--http", "off"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains(says), "{value}: {stderr}");
    }
}

mod retries {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    use vystak_otel_viewer::{PointValue, Store, StoreOptions, Viewer, ViewerConfig};

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv("service.name", "vystak-retry")],
            ..Default::default()
        })
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    fn two_spans(t: u64) -> ExportTraceServiceRequest {
        let span = |id: u8, parent: Vec<u8>| Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent,
            name: format!("span {id}"),
            kind: 2,
            start_time_unix_nano: t,
            end_time_unix_nano: t + 1_000_000,
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(1, vec![]), span(2, vec![1; 8])],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// One delta histogram point of 100 input tokens.
    fn hundred_tokens(t: u64) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "gen_ai.client.token.usage".into(),
                        unit: "{token}".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes: vec![kv("gen_ai.token.type", "input")],
                                start_time_unix_nano: t - 10_000_000_000,
                                time_unix_nano: t,
                                count: 1,
                                sum: Some(100.0),
                                bucket_counts: vec![0, 1],
                                explicit_bounds: vec![50.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: 1, // DELTA
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    async fn post(url: &str, body: Vec<u8>) {
        let reply = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }

    /// Regression (issue 26): an exporter's retry of a stored batch doubled spans and tokens (4
    /// spans and 200 tokens instead of 2 and 100), in memory, in the file and in PromQL.
    async fn a_retry_stores_nothing_twice(store: Store) -> Store {
        let viewer = Viewer::start(ViewerConfig::local().with_store(store))
            .await
            .unwrap();
        let http = viewer.http_endpoint().unwrap();
        let t = now();
        for _ in 0..2 {
            post(&format!("{http}/v1/traces"), two_spans(t).encode_to_vec()).await;
            post(
                &format!("{http}/v1/metrics"),
                hundred_tokens(t).encode_to_vec(),
            )
            .await;
        }
        let store = viewer.store().clone();
        assert_eq!(store.span_count(), 2);
        let points = store.metric_points("gen_ai.client.token.usage");
        assert_eq!(points.len(), 1);
        match &points[0].value {
            PointValue::Histogram { count, sum, .. } => assert_eq!((*count, *sum), (1, 100.0)),
            other => panic!("{other:?}"),
        }
        let ui = viewer.ui_url().unwrap();
        let answer: serde_json::Value = reqwest::get(format!(
            "{ui}/api/v1/query?query=gen_ai_client_token_usage_sum&time={}",
            t / 1_000_000_000 + 1
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(
            answer["data"]["result"][0]["value"][1], "100",
            "PromQL sees 100 tokens: {answer}"
        );
        viewer.shutdown().await;
        store
    }

    /// Regression (issue 26): one metric point stamped 2^63 ns moved the samples' 7-day age bound
    /// past every real sample, so every later sample was dropped; a span starting at 2^63 ns
    /// was stored and vanished on restart. Both are now rejected per record in the
    /// partial-success reply, with a message, and later data is unaffected.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn far_future_times_are_rejected_per_record_and_poison_nothing() {
        let viewer = Viewer::start(ViewerConfig::local()).await.unwrap();
        let http = viewer.http_endpoint().unwrap();
        let client = reqwest::Client::new();
        let send = |path: &'static str, body: Vec<u8>| {
            let (client, url) = (client.clone(), format!("{http}{path}"));
            async move {
                let reply = client
                    .post(url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 200);
                reply.bytes().await.unwrap()
            }
        };
        let future = 1u64 << 63;
        let reply = send("/v1/metrics", hundred_tokens(future).encode_to_vec()).await;
        let reply = opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse::decode(reply).unwrap();
        let partial = reply.partial_success.expect("a partial success");
        assert_eq!(partial.rejected_data_points, 1);
        assert!(
            partial.error_message.contains("outside 1970-01-02"),
            "{}",
            partial.error_message
        );

        let mut spans = two_spans(future);
        spans.resource_spans[0].scope_spans[0].spans[1].start_time_unix_nano = now();
        spans.resource_spans[0].scope_spans[0].spans[1].end_time_unix_nano = now();
        let reply = send("/v1/traces", spans.encode_to_vec()).await;
        let reply =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
                reply,
            )
            .unwrap();
        assert_eq!(reply.partial_success.unwrap().rejected_spans, 1);
        assert_eq!(viewer.store().span_count(), 1, "the good span is stored");

        // A real point afterwards is a sample PromQL answers.
        let t = now();
        send("/v1/metrics", hundred_tokens(t).encode_to_vec()).await;
        let ui = viewer.ui_url().unwrap();
        let answer: serde_json::Value = reqwest::get(format!(
            "{ui}/api/v1/query?query=gen_ai_client_token_usage_sum&time={}",
            t / 1_000_000_000 + 1
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(answer["data"]["result"][0]["value"][1], "100", "{answer}");
        viewer.shutdown().await;
    }

    /// Regression (issue 26): a span with a NaN attribute was written to the file as JSON `null`
    /// and silently skipped when the file was loaded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn non_finite_doubles_survive_the_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.db");
        let store = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
        let viewer = Viewer::start(ViewerConfig::local().with_store(store))
            .await
            .unwrap();
        let mut request = two_spans(now());
        for (span, v) in request.resource_spans[0].scope_spans[0]
            .spans
            .iter_mut()
            .zip([f64::NAN, f64::NEG_INFINITY])
        {
            span.attributes.push(KeyValue {
                key: "ratio".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::DoubleValue(v)),
                }),
                ..Default::default()
            });
        }
        post(
            &format!("{}/v1/traces", viewer.http_endpoint().unwrap()),
            request.encode_to_vec(),
        )
        .await;
        viewer.shutdown().await;
        let reopened = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
        let mut ratios: Vec<String> = reopened
            .spans()
            .iter()
            .map(|s| format!("{:?}", s.attributes["ratio"]))
            .collect();
        ratios.sort();
        assert_eq!(ratios, ["Double(-inf)", "Double(NaN)"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_stores_nothing_twice_in_memory() {
        a_retry_stores_nothing_twice(Store::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_stores_nothing_twice_in_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retry.db");
        let store = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
        a_retry_stores_nothing_twice(store).await.flush();
        let file = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = file
            .query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2, "the file holds each span once");
        // And a restart loads them once.
        let reopened = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
        assert_eq!(reopened.span_count(), 2);
        let _ = Duration::ZERO;
    }
}

/// Today's (version 1) schema, as `vystak-otel-viewer` 0.1.0 wrote it.
const SCHEMA_V1: &str = "
CREATE TABLE spans (seq INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
    service TEXT NOT NULL, name TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
    record TEXT NOT NULL);
CREATE INDEX spans_trace_id ON spans (trace_id);
CREATE INDEX spans_service_name ON spans (service, name);
CREATE INDEX spans_name ON spans (name);
CREATE INDEX spans_start ON spans (start_ns);
CREATE TABLE logs (seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, trace_id TEXT,
    service TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX logs_time ON logs (time_ns);
CREATE INDEX logs_trace_id ON logs (trace_id);
CREATE TABLE series (id INTEGER PRIMARY KEY, labels TEXT NOT NULL UNIQUE);
CREATE TABLE samples (series_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, v REAL,
    PRIMARY KEY (series_id, t_ms)) WITHOUT ROWID;
CREATE INDEX samples_t ON samples (t_ms);
CREATE TABLE latest (key TEXT PRIMARY KEY, time_ns INTEGER NOT NULL, record TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 1;
";

/// A version-1 file (with the duplicate rows a retry left in it) is migrated (1 → 2 → 3), not
/// recreated: its spans are kept, once each, a retry can no longer add a copy, and its traces
/// are in the search's table.
#[test]
fn a_version_1_file_is_migrated_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let mut span = span_started(Duration::from_secs(5));
    span.status = SpanStatus::Error {
        message: "failed".into(),
    };
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        let record = serde_json::to_string(&span).unwrap();
        for _ in 0..2 {
            conn.execute(
                "INSERT INTO spans (trace_id, span_id, service, name, start_ns, end_ns, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    span.trace_id,
                    span.span_id,
                    span.service_name,
                    span.name,
                    span.start_unix_nanos as i64,
                    span.end_unix_nanos as i64,
                    record
                ],
            )
            .unwrap();
        }
    }
    let store = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.spans(), vec![span.clone()], "kept, once");
    store.insert_spans([span]);
    store.flush();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (version, rows, traces, errors): (i64, i64, i64, i64) = (
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
        conn.query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))
            .unwrap(),
        conn.query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))
            .unwrap(),
        conn.query_row("SELECT SUM(errors) FROM traces", [], |r| r.get(0))
            .unwrap(),
    );
    // Version 3: the trace search's `traces` table is built from the migrated spans, their
    // error spans counted from the records.
    assert_eq!((version, rows, traces, errors), (3, 1, 1, 1));
}

/// Regression (issue 26): paging with `next_before` when 30 traces share one start time reached
/// 20 of them (the cursor was the start time alone). The cursor is now start time + trace id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_reaches_every_trace_when_start_times_tie() {
    use std::collections::HashSet;
    use vystak_otel_viewer::{Viewer, ViewerConfig};

    let viewer = Viewer::start(ViewerConfig::local()).await.unwrap();
    let base = span_started(Duration::from_secs(5));
    viewer.store().insert_spans((0..30u32).map(|i| SpanRecord {
        trace_id: format!("{:032x}", 0x1000 + i),
        ..base.clone()
    }));
    let ui = viewer.ui_url().unwrap();
    let mut seen = HashSet::new();
    let mut url = format!("{ui}/api/traces?limit=20");
    for page in 0.. {
        assert!(page < 5, "paging does not end");
        let reply: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        for t in reply["traces"].as_array().unwrap() {
            assert!(
                seen.insert(t["trace_id"].as_str().unwrap().to_owned()),
                "{t} twice"
            );
        }
        match reply["next_before"].as_str() {
            Some(cursor) => url = format!("{ui}/api/traces?limit=20&before={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    viewer.shutdown().await;
}
