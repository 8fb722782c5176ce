//! The trace page of a 2,000-span trace, rendered server-side (issue 13's goal: ≤ 200 ms), next to
//! the JSON of the same trace from `/api/traces/{id}` — the same spans, serialised without layout —
//! so the ratio says what the waterfall's HTML costs over the data itself.
//!
//! Each iteration is one full HTTP request to a running viewer on 127.0.0.1 (store read, render,
//! body read by reqwest).
//!
//! `cargo bench -p vystak-otel-viewer --bench ui`

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion};
use vystak_otel_viewer::{
    AttrValue, EventRecord, SpanKind, SpanRecord, SpanStatus, Store, Viewer, ViewerConfig,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPANS: u64 = 2_000;

/// A 2,000-span agent trace: a root, 100 agent turns under it, each with HTTP hops and model
/// calls carrying the GenAI attributes the page puts inline, plus an event every 10th span.
fn record(i: u64) -> SpanRecord {
    let service = format!("vystak-agent-{}", i % 7);
    let parent = match i {
        0 => None,
        i if i.is_multiple_of(20) => Some(0),
        i => Some(i - i % 20),
    };
    let chat = !i.is_multiple_of(20) && i.is_multiple_of(2);
    let mut attributes = BTreeMap::from([
        (
            "http.request.method".to_owned(),
            AttrValue::Str("POST".into()),
        ),
        ("url.path".to_owned(), AttrValue::Str("/a2a".into())),
        ("http.response.status_code".to_owned(), AttrValue::Int(200)),
    ]);
    if chat {
        attributes.extend([
            (
                "gen_ai.system".to_owned(),
                AttrValue::Str("anthropic".into()),
            ),
            (
                "gen_ai.request.model".to_owned(),
                AttrValue::Str("claude-sonnet-4-5".into()),
            ),
            ("gen_ai.usage.input_tokens".to_owned(), AttrValue::Int(1200)),
            ("gen_ai.usage.output_tokens".to_owned(), AttrValue::Int(85)),
            (
                "gen_ai.usage.cache_read_input_tokens".to_owned(),
                AttrValue::Int(900),
            ),
            ("gen_ai.usage.cost".to_owned(), AttrValue::Double(0.0042)),
        ]);
    }
    let start = 1_700_000_000_000_000_000 + i * 1_000_000;
    SpanRecord {
        service_name: service.clone(),
        resource: BTreeMap::from([("service.name".to_owned(), AttrValue::Str(service))]).into(),
        scope_name: "bench".into(),
        trace_id: TRACE_ID.into(),
        span_id: format!("{:016x}", i + 1),
        parent_span_id: parent.map(|p| format!("{:016x}", p + 1)),
        name: if chat {
            "gen_ai.chat".into()
        } else {
            "POST /a2a".into()
        },
        kind: if chat {
            SpanKind::Client
        } else {
            SpanKind::Server
        },
        status: if i.is_multiple_of(97) {
            SpanStatus::Error {
                message: "upstream returned 503".into(),
            }
        } else {
            SpanStatus::Unset
        },
        start_unix_nanos: start,
        end_unix_nanos: start + 700_000,
        attributes,
        events: if i.is_multiple_of(10) {
            vec![EventRecord {
                name: "retry".into(),
                time_unix_nanos: start + 100_000,
                attributes: BTreeMap::from([("attempt".to_owned(), AttrValue::Int(1))]),
            }]
        } else {
            vec![]
        },
        links: vec![],
    }
}

fn bench(c: &mut Criterion) {
    let store = Store::new();
    store.insert_spans((0..SPANS).map(record));
    assert_eq!(store.span_count(), SPANS as usize);

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
    let base = viewer.ui_url().unwrap();
    let client = reqwest::Client::new();
    let get = |url: String, must_contain: &'static str| {
        let client = client.clone();
        let rt = &rt;
        move || {
            rt.block_on(async {
                let response = client.get(&url).send().await.unwrap();
                assert!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                let body = response.text().await.unwrap();
                assert!(body.contains(must_contain), "{url}");
                body.len()
            })
        }
    };

    let page = get(format!("{base}/trace/{TRACE_ID}"), "role=\"treeitem\"");
    let html_bytes = page();
    let selected = get(
        format!("{base}/trace/{TRACE_ID}?q=claude&span={:016x}", 1001),
        "role=\"treeitem\"",
    );
    let json = get(format!("{base}/api/traces/{TRACE_ID}"), TRACE_ID);
    let json_bytes = json();
    eprintln!("trace page {html_bytes} bytes, JSON {json_bytes} bytes for {SPANS} spans");

    let mut group = c.benchmark_group("trace_2000_spans");
    group.sample_size(20);
    group.bench_function("ui_trace_page", |b| b.iter(&page));
    group.bench_function("ui_trace_page_search_and_selected", |b| b.iter(&selected));
    group.bench_function("api_trace_json", |b| b.iter(&json));
    group.finish();
    drop(viewer);
}

criterion_group!(benches, bench);
criterion_main!(benches);
