//! Span ingest throughput: into the memory store, into the SQLite store (committed), and
//! end to end through the OTLP/HTTP receiver (protobuf POST of 1000 spans).
//!
//! `cargo bench -p vystak-otel-viewer --bench ingest`

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use vystak_otel_viewer::{
    AttrValue, SpanKind, SpanRecord, SpanStatus, Store, StoreOptions, Viewer, ViewerConfig,
};

const BATCH: u64 = 1_000;

fn record(i: u64) -> SpanRecord {
    SpanRecord {
        service_name: format!("vystak-agent-{}", i % 10),
        resource: BTreeMap::from([(
            "service.name".to_owned(),
            AttrValue::Str(format!("vystak-agent-{}", i % 10)),
        )])
        .into(),
        scope_name: "bench".into(),
        trace_id: format!("{:032x}", i / 10 + 1),
        span_id: format!("{:016x}", i + 1),
        parent_span_id: (!i.is_multiple_of(10)).then(|| format!("{:016x}", i - i % 10 + 1)),
        name: if i.is_multiple_of(10) {
            "POST /a2a".into()
        } else {
            "gen_ai.chat".into()
        },
        kind: SpanKind::Server,
        status: SpanStatus::Unset,
        start_unix_nanos: 1_700_000_000_000_000_000 + i * 1_000_000,
        end_unix_nanos: 1_700_000_000_000_000_000 + i * 1_000_000 + 500_000,
        attributes: BTreeMap::from([
            ("gen_ai.usage.input_tokens".to_owned(), AttrValue::Int(100)),
            (
                "gen_ai.request.model".to_owned(),
                AttrValue::Str("claude-haiku-4-5".into()),
            ),
        ]),
        events: vec![],
        links: vec![],
    }
}

fn request(offset: u64) -> ExportTraceServiceRequest {
    let kv = |k: &str, v: any_value::Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let spans = (offset..offset + BATCH)
        .map(|i| Span {
            trace_id: (i / 10 + 1).to_be_bytes().repeat(2),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i.is_multiple_of(10) {
                vec![]
            } else {
                (i - i % 10 + 1).to_be_bytes().to_vec()
            },
            name: "gen_ai.chat".into(),
            kind: 3,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000 + 500_000,
            attributes: vec![
                kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(100)),
                kv(
                    "gen_ai.request.model",
                    any_value::Value::StringValue("claude-haiku-4-5".into()),
                ),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("bench".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH));

    let store = Store::new();
    let mut n = 0;
    group.bench_function("memory_store_1000_spans", |b| {
        b.iter_batched(
            || {
                n += BATCH;
                (n..n + BATCH).map(record).collect::<Vec<_>>()
            },
            |spans| store.insert_spans(black_box(spans)),
            BatchSize::SmallInput,
        )
    });

    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_sqlite(dir.path().join("bench.db"), StoreOptions::default()).unwrap();
    let mut n = 0;
    group.bench_function("sqlite_store_1000_spans_committed", |b| {
        b.iter_batched(
            || {
                n += BATCH;
                (n..n + BATCH).map(record).collect::<Vec<_>>()
            },
            |spans| {
                sqlite.insert_spans(black_box(spans));
                sqlite.flush();
            },
            BatchSize::SmallInput,
        )
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let viewer = rt
        .block_on(Viewer::start(ViewerConfig::local().with_ui(None)))
        .unwrap();
    let url = format!("{}/v1/traces", viewer.http_endpoint().unwrap());
    let client = reqwest::Client::new();
    let mut n = 0;
    group.bench_function("otlp_http_protobuf_1000_spans_memory", |b| {
        b.iter_batched(
            || {
                n += BATCH;
                request(n).encode_to_vec()
            },
            |body| {
                rt.block_on(async {
                    let reply = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(reply.status(), 200);
                })
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    drop(viewer);
}

criterion_group!(benches, bench);
criterion_main!(benches);
