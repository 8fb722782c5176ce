//! `/api/traces` search over 100k spans (10k traces of 10 spans, 10 services), through the
//! library function and through HTTP.
//!
//! `cargo bench -p vystak-otel-viewer --bench search`

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use vystak_otel_viewer::query::traces::{search, TraceQuery};
use vystak_otel_viewer::{
    AttrValue, SpanKind, SpanRecord, SpanStatus, Store, Viewer, ViewerConfig,
};

fn record(i: u64) -> SpanRecord {
    let trace = i / 10;
    let root = i.is_multiple_of(10);
    let service = if root {
        format!("vystak-channel-{}", trace % 10)
    } else {
        format!("vystak-agent-{}", trace % 10)
    };
    SpanRecord {
        service_name: service.clone(),
        resource: BTreeMap::from([("service.name".to_owned(), AttrValue::Str(service))]).into(),
        scope_name: "bench".into(),
        trace_id: format!("{:032x}", trace + 1),
        span_id: format!("{:016x}", i + 1),
        parent_span_id: (!root).then(|| format!("{:016x}", i - i % 10 + 1)),
        name: if root {
            "slack.app_mention".into()
        } else {
            "gen_ai.chat".into()
        },
        kind: SpanKind::Internal,
        status: if i.is_multiple_of(997) {
            SpanStatus::Error {
                message: "x".into(),
            }
        } else {
            SpanStatus::Unset
        },
        start_unix_nanos: 1_700_000_000_000_000_000 + i * 1_000_000,
        end_unix_nanos: 1_700_000_000_000_000_000 + i * 1_000_000 + 500_000,
        attributes: BTreeMap::from([
            ("gen_ai.usage.input_tokens".to_owned(), AttrValue::Int(100)),
            ("gen_ai.usage.output_tokens".to_owned(), AttrValue::Int(20)),
        ]),
        events: vec![],
        links: vec![],
    }
}

fn bench(c: &mut Criterion) {
    let store = Store::new();
    store.insert_spans((0..100_000).map(record));
    assert_eq!(store.span_count(), 100_000);
    let mut group = c.benchmark_group("search_100k_spans");
    group.bench_function("newest_20", |b| {
        b.iter(|| black_box(search(&store, &TraceQuery::default())))
    });
    let q = TraceQuery::default()
        .with_service("vystak-channel-3")
        .with_operation("slack.app_mention");
    assert_eq!(search(&store, &q).len(), 20);
    group.bench_function("service_and_operation", |b| {
        b.iter(|| black_box(search(&store, &q)))
    });
    let q = TraceQuery::default()
        .with_errors_only(true)
        .with_attribute("service.name", "vystak-agent-7");
    group.bench_function("errors_with_attribute", |b| {
        b.iter(|| black_box(search(&store, &q)))
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let viewer = rt
        .block_on(Viewer::start(
            ViewerConfig::local()
                .with_http(None)
                .with_store(store.clone()),
        ))
        .unwrap();
    let url = format!(
        "{}/api/traces?service=vystak-channel-3&operation=slack.app_mention&limit=20",
        viewer.ui_url().unwrap()
    );
    let client = reqwest::Client::new();
    group.bench_function("http_api_traces_service_and_operation", |b| {
        b.iter(|| {
            rt.block_on(async {
                let v: serde_json::Value =
                    client.get(&url).send().await.unwrap().json().await.unwrap();
                assert_eq!(v["traces"].as_array().unwrap().len(), 20);
            })
        })
    });
    group.finish();
    drop(viewer);
}

criterion_group!(benches, bench);
criterion_main!(benches);
