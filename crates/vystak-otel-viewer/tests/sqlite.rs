//! The SQLite store: data survives a restart, bounds and retention hold in the file, a file of
//! another schema version is recreated, and a viewer killed with SIGKILL mid-ingest leaves a
//! readable, consistent file.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{span_exporter, tracer_provider, Transport};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use vystak_otel_viewer::query::promql::{
    instant_query, LabelMatcher, MatchOp, QueryResult, SeriesSource as _,
};
use vystak_otel_viewer::query::traces::{self, TraceQuery};
use vystak_otel_viewer::{
    PointValue, SpanKind, SpanRecord, SpanStatus, Store, StoreOptions, Viewer, ViewerConfig,
    FILE_SEARCH_BY_OPERATION_SQL, FILE_SEARCH_SQL, FILE_TRACE_LOGS_SQL, FILE_TRACE_SQL,
};

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn span(i: u64, start: u64) -> SpanRecord {
    SpanRecord {
        service_name: "svc".into(),
        resource: Default::default(),
        scope_name: "scope".into(),
        trace_id: format!("{:032x}", i + 1),
        span_id: format!("{:016x}", i + 1),
        parent_span_id: None,
        name: format!("op-{i}"),
        kind: SpanKind::Server,
        status: SpanStatus::Unset,
        start_unix_nanos: start,
        end_unix_nanos: start + 1_000,
        attributes: BTreeMap::new(),
        events: vec![],
        links: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_metrics_and_logs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("viewer.db");
    let store = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
    assert!(store.is_persistent());
    let viewer = Viewer::start(ViewerConfig::local().with_store(store))
        .await
        .unwrap();

    let tp = tracer_provider(
        span_exporter(Transport::Grpc { gzip: false }, &viewer.endpoint(), ""),
        "vystak-channel-slack",
    );
    let tracer = tp.tracer("sqlite-test");
    tracer.in_span("slack.app_mention", |_| {
        tracer.in_span("gen_ai.chat", |cx| {
            use opentelemetry::trace::TraceContextExt as _;
            cx.span()
                .set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 321_i64));
        });
    });
    // Delta temporality over OTLP/HTTP: the running totals must survive the restart.
    let delta_exporter = || {
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_temporality(opentelemetry_sdk::metrics::Temporality::Delta)
    };
    use opentelemetry_otlp::WithExportConfig as _;
    let mp = common::meter_provider(
        delta_exporter()
            .with_endpoint(format!("{}/v1/metrics", viewer.http_endpoint().unwrap()))
            .build()
            .unwrap(),
        "vystak-channel-slack",
    );
    let h = mp
        .meter("m")
        .u64_histogram("gen_ai.client.token.usage")
        .build();
    h.record(321, &[KeyValue::new("gen_ai.token.type", "input")]);
    tokio::task::spawn_blocking(move || {
        tp.shutdown().unwrap();
        mp.shutdown().unwrap();
    })
    .await
    .unwrap();
    assert!(
        viewer
            .store()
            .wait_until(Duration::from_secs(20), |s| s.span_count() == 2
                && s.metric_points("gen_ai.client.token.usage").len() == 1)
            .await
    );
    let log = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"vystak-channel-slack"}}]},
        "scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":13,"body":{"stringValue":"rate limited"}}]}]}]}"#;
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/logs", viewer.http_endpoint().unwrap()))
        .header("content-type", "application/json")
        .body(log)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let before_logs = viewer.store().logs();
    assert_eq!(before_logs.len(), 1);
    let before_spans = viewer.store().spans();
    let before_points = viewer.store().all_metric_points();
    let before_samples = viewer.store().sample_count();
    let now_ms = (now_ns() / 1_000_000) as i64 + 1;
    let query = r#"sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1h]))"#;
    let before_answer = instant_query(viewer.store(), query, now_ms)
        .unwrap()
        .to_json();
    let QueryResult::Vector(v) = instant_query(viewer.store(), query, now_ms).unwrap() else {
        panic!("not a vector");
    };
    assert_eq!(v.len(), 1);
    assert!(v[0].1.v > 0.0, "{before_answer}");
    viewer.shutdown().await;

    let reopened = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
    assert_eq!(reopened.spans(), before_spans);
    assert_eq!(reopened.logs(), before_logs);
    assert_eq!(reopened.all_metric_points(), before_points);
    assert_eq!(reopened.sample_count(), before_samples);
    match &reopened.metric_points("gen_ai.client.token.usage")[0].value {
        PointValue::Histogram { count, sum, .. } => assert_eq!((*count, *sum), (1, 321.0)),
        other => panic!("{other:?}"),
    }
    let found = traces::search(
        &reopened,
        &TraceQuery::default()
            .with_service("vystak-channel-slack")
            .with_operation("slack.app_mention"),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].span_count, 2);
    assert_eq!(found[0].tokens.input, 321);
    // The seed's query gives the same answer from the file.
    assert_eq!(
        instant_query(&reopened, query, now_ms).unwrap().to_json(),
        before_answer
    );

    // A new delta export continues the restored running total: 321 + 100.
    let viewer = Viewer::start(ViewerConfig::local().with_store(reopened))
        .await
        .unwrap();
    let mp = common::meter_provider(
        delta_exporter()
            .with_endpoint(format!("{}/v1/metrics", viewer.http_endpoint().unwrap()))
            .build()
            .unwrap(),
        "vystak-channel-slack",
    );
    mp.meter("m")
        .u64_histogram("gen_ai.client.token.usage")
        .build()
        .record(100, &[KeyValue::new("gen_ai.token.type", "input")]);
    tokio::task::spawn_blocking(move || mp.shutdown().unwrap())
        .await
        .unwrap();
    let sum_series = |store: &Store| {
        store.select(
            &[LabelMatcher {
                name: "__name__".into(),
                op: MatchOp::Equal,
                value: "gen_ai_client_token_usage_sum".into(),
            }],
            0,
            i64::MAX,
        )
    };
    assert!(
        viewer
            .store()
            .wait_until(Duration::from_secs(20), |s| sum_series(s)
                .first()
                .is_some_and(|x| x.samples.last().unwrap().v == 421.0))
            .await,
        "{:?}",
        sum_series(viewer.store())
    );
    viewer.shutdown().await;
}

/// Issue 26: memory is a bounded cache, not the only copy a query can read. With 50 spans of
/// memory and 120 in the file, the file keeps all 120; a restarted store holds the newest 50 in
/// memory and still finds the oldest trace (it was "stored but unfindable").
#[test]
fn memory_is_a_cache_and_an_evicted_trace_is_read_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bounded.db");
    let options = StoreOptions::default().with_max_spans(50);
    let store = Store::open_sqlite(&path, options.clone()).unwrap();
    let now = now_ns();
    let failing = |i: u64| {
        let mut s = span(i, now);
        if i == 3 {
            s.status = SpanStatus::Error {
                message: "boom".into(),
            };
        }
        s
    };
    store.insert_spans((0..70).map(failing));
    store.insert_spans((70..120).map(|i| span(i, now)));
    // An exporter's retry of the failed span counts its error once.
    store.insert_spans([failing(3)]);
    assert_eq!(store.span_count(), 50);
    store.flush();
    let oldest = format!("{:032x}", 1);
    let found = store.trace(&oldest);
    assert_eq!(found.len(), 1, "evicted from memory, read from the file");
    assert_eq!(found[0].name, "op-0");
    drop(store);
    let reopened = Store::open_sqlite(&path, options.clone()).unwrap();
    let names: Vec<String> = reopened.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 50);
    assert_eq!(names.first().map(String::as_str), Some("op-70"));
    assert_eq!(names.last().map(String::as_str), Some("op-119"));
    assert_eq!(reopened.trace(&oldest)[0].name, "op-0");
    assert_eq!(
        vystak_otel_viewer::query::traces::get(&reopened, &oldest).unwrap()[0].name,
        "op-0"
    );
    // The search reaches the file's traces beyond memory, pages through all of them exactly,
    // and filters them by operation there too.
    let mut query = TraceQuery {
        limit: 30,
        ..TraceQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = traces::search(&reopened, &query);
        seen.extend(page.iter().map(|t| t.root_name.clone()));
        match traces::next_cursor(&page, &query).and_then(|c| traces::parse_cursor(&c)) {
            Some((start, id)) => {
                query.before_unix_nanos = Some(start);
                query.before_trace_id = Some(id);
            }
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 120, "every trace of the file is found once");
    let op3 = traces::search(&reopened, &TraceQuery::default().with_operation("op-3"));
    assert_eq!(op3.len(), 1);
    assert_eq!(op3[0].root_name, "op-3");
    let errors = traces::search(
        &reopened,
        &TraceQuery {
            errors_only: true,
            ..TraceQuery::default()
        },
    );
    assert_eq!(errors.len(), 1, "the failed trace, found in the file");
    assert_eq!(
        (errors[0].root_name.as_str(), errors[0].error_count),
        ("op-3", 1)
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 120);
    let errors: i64 = conn
        .query_row("SELECT SUM(errors) FROM traces", [], |r| r.get(0))
        .unwrap();
    assert_eq!(errors, 1);
    // The search walks the traces by their start-time index.
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {FILE_SEARCH_SQL}"))
        .unwrap()
        .query_map(
            rusqlite::params![i64::MAX, "", 0, 0, "svc", None::<String>, 20, 1],
            |r| r.get::<_, String>(3),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter().any(|p| p.contains("USING INDEX traces_start")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|p| p.contains("USING INDEX spans_trace_span (trace_id=?)")),
        "{plan:?}"
    );
    assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
    // A rare operation is listed through the span-name index (op-3 has one span, under
    // `RARE_OPERATION_SPANS`), then walked by start.
    let plan: Vec<String> = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {FILE_SEARCH_BY_OPERATION_SQL}"
        ))
        .unwrap()
        .query_map(
            rusqlite::params![i64::MAX, "", 0, 0, None::<String>, "op-3", 20, 0],
            |r| r.get::<_, String>(3),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter()
            .any(|p| p.contains("USING INDEX spans_name (name=?)")),
        "{plan:?}"
    );
    // The lookup uses the (trace_id, span_id) index, not a scan of the table.
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {FILE_TRACE_SQL}"))
        .unwrap()
        .query_map([&oldest], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter()
            .any(|p| p.contains("USING INDEX spans_trace_span (trace_id=?)")),
        "{plan:?}"
    );
    drop(conn);
    drop(reopened);

    // Size: a file bounded to 256 KiB of pages keeps deleting its oldest spans.
    let small = dir.path().join("small.db");
    let store = Store::open_sqlite(
        &small,
        StoreOptions::default().with_max_file_bytes(256 * 1024),
    )
    .unwrap();
    for batch in 0..20u64 {
        store.insert_spans((batch * 200..(batch + 1) * 200).map(|i| span(i, now)));
        store.flush();
    }
    drop(store);
    let conn = rusqlite::Connection::open(&small).unwrap();
    let (rows, first): (i64, String) = conn
        .query_row("SELECT COUNT(*), MIN(name) FROM spans", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let used: i64 = conn
        .query_row(
            "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count, \
             pragma_freelist_count, pragma_page_size",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(rows > 0 && rows < 4_000, "{rows} rows kept of 4,000");
    assert!(used <= 256 * 1024 + 64 * 1024, "{used} bytes in use");
    assert_ne!(first, "op-0", "the oldest went first");
    drop(conn);

    // Age: spans that started two hours ago go, recent ones stay — in memory and in the file.
    let options = StoreOptions::default().with_retention(Some(Duration::from_secs(3600)));
    let store = Store::open_sqlite(dir.path().join("aged.db"), options.clone()).unwrap();
    let two_hours_ago = now - 7_200_000_000_000;
    let with_resource = |mut s: SpanRecord, name: &str| {
        let mut resource = vystak_otel_viewer::Attributes::new();
        resource.insert(
            "service.name".into(),
            vystak_otel_viewer::AttrValue::Str(name.into()),
        );
        s.resource = std::sync::Arc::new(resource);
        s
    };
    store.insert_spans((0..5).map(|i| with_resource(span(i, two_hours_ago), "old-service")));
    store.insert_spans((5..8).map(|i| with_resource(span(i, now), "new-service")));
    store.apply_retention();
    assert_eq!(store.span_count(), 3);
    store.flush();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("aged.db")).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 3);
    // The old spans' resource went with them (issue 26: resources were never deleted).
    let resources: Vec<String> = conn
        .prepare("SELECT attrs FROM resources")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(resources.len(), 1, "{resources:?}");
    assert!(resources[0].contains("new-service"), "{resources:?}");
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[test]
fn a_file_with_another_schema_version_is_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE spans (x TEXT); INSERT INTO spans VALUES ('old'); PRAGMA user_version = 99;")
            .unwrap();
    }
    let store = Store::open_sqlite(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.span_count(), 0);
    store.insert_spans([span(1, now_ns())]);
    store.flush();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let names: Vec<String> = conn
        .prepare("SELECT name FROM spans")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(names, ["op-1"]);

    // A file that is not a database is an error, never deleted.
    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        b"this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = Store::open_sqlite(&junk, StoreOptions::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot use the store file"),
        "{err}"
    );
    assert!(junk.exists());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_ingest_leaves_a_consistent_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.db");
    let grpc = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
        .args([
            "--grpc",
            &grpc.to_string(),
            "--http",
            "off",
            "--ui",
            "off",
            "--no-print",
            "--db",
        ])
        .arg(&path)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.contains(&format!("127.0.0.1:{grpc}")), "{first}");

    // Export batches continuously from a thread while the viewer is killed.
    let endpoint = format!("http://127.0.0.1:{grpc}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let exporter_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let tp = tracer_provider(
            span_exporter(Transport::Grpc { gzip: false }, &endpoint, ""),
            "killed",
        );
        let tracer = tp.tracer("kill");
        let mut n = 0_u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            for _ in 0..200 {
                tracer.in_span("work", |_| {});
                n += 1;
            }
            let _ = tp.force_flush();
        }
        let _ = tp.shutdown();
        n
    });
    // Wait until the file holds spans, then SIGKILL while batches are still arriving.
    let mut committed = 0_i64;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(conn) =
            rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        {
            committed = conn
                .query_row("SELECT COUNT(*) FROM spans", [], |r| r.get(0))
                .unwrap_or(0);
        }
        if committed > 1_000 {
            break;
        }
    }
    assert!(committed > 1_000, "{committed}");
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(9));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = tokio::task::spawn_blocking(move || exporter_thread.join().unwrap())
        .await
        .unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let store =
        Store::open_sqlite(&path, StoreOptions::default().with_max_spans(1_000_000)).unwrap();
    let kept = store.span_count() as u64;
    assert!(
        kept as i64 >= committed && kept <= sent,
        "committed {committed}, kept {kept}, sent {sent}"
    );
    assert!(store
        .spans()
        .iter()
        .all(|s| s.name == "work" && s.service_name == "killed"));
}

/// Issue 26: a trace's logs evicted from memory are read from the file (through the partial
/// index on `logs (trace_id)`), with memory's not-yet-committed ones after them, once each.
#[test]
fn a_traces_logs_beyond_memory_are_read_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.db");
    let options = StoreOptions::default().with_max_logs(10);
    let trace_id = format!("{:032x}", 7);
    let log = |i: u64| vystak_otel_viewer::LogRecord {
        service_name: "svc".into(),
        resource: Default::default(),
        scope_name: "scope".into(),
        time_unix_nanos: now_ns() + i,
        observed_unix_nanos: 0,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: vystak_otel_viewer::AttrValue::Str(format!("line {i}")),
        attributes: BTreeMap::new(),
        trace_id: Some(trace_id.clone()),
        span_id: Some(format!("{:016x}", 1)),
        event_name: String::new(),
    };
    let store = Store::open_sqlite(&path, options.clone()).unwrap();
    store.insert_logs((0..30).map(log));
    store.flush();
    assert_eq!(store.log_count(), 10, "memory holds ten");
    let logs = store.logs_for_trace(&trace_id);
    assert_eq!(logs.len(), 30, "the file holds all thirty, each once");
    assert_eq!(logs[0].body.to_string(), "line 0");
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {FILE_TRACE_LOGS_SQL}"))
        .unwrap()
        .query_map([&trace_id], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter().any(|p| p.contains("USING INDEX logs_trace")),
        "{plan:?}"
    );
}
