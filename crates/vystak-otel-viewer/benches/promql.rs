//! The seed's cache-hit query over 24 h of 10 s samples for 10 services (8640 exports of a
//! cumulative token histogram per service, two token types).
//!
//! Plus `topk` over 10,000 series (issue 28).
//!
//! `cargo bench -p vystak-otel-viewer --bench promql`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, AggregationTemporality, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
    ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use vystak_otel_viewer::query::promql::{instant_query, range_query, Labels, MemorySeries, Sample};
use vystak_otel_viewer::Store;

const CACHE_HIT: &str = r#"sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="cache_read"}[5m]))
/
sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[5m]))"#;
const TOTAL_INPUT: &str =
    r#"sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1h]))"#;

const START_NS: u64 = 1_700_000_000_000_000_000;
const STEP_NS: u64 = 10_000_000_000;
const STEPS: u64 = 24 * 360;
const SERVICES: u64 = 10;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn export(step: u64) -> ExportMetricsServiceRequest {
    let resource_metrics = (0..SERVICES)
        .map(|svc| {
            let points = ["input", "cache_read"]
                .iter()
                .enumerate()
                .map(|(k, kind)| {
                    let calls = step + 1;
                    HistogramDataPoint {
                        attributes: vec![
                            kv("gen_ai.token.type", kind),
                            kv("gen_ai.system", "anthropic"),
                        ],
                        start_time_unix_nano: START_NS,
                        time_unix_nano: START_NS + (step + 1) * STEP_NS,
                        count: calls,
                        sum: Some((calls * (100 + svc * 10) / (k as u64 + 1)) as f64),
                        bucket_counts: vec![0, calls],
                        explicit_bounds: vec![1.0],
                        ..Default::default()
                    }
                })
                .collect();
            ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", &format!("vystak-agent-{svc}"))],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "gen_ai.client.token.usage".into(),
                        unit: "{token}".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: points,
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

fn bench(c: &mut Criterion) {
    let store = Store::new();
    for step in 0..STEPS {
        store.insert_metrics(&export(step));
    }
    let end_ms = ((START_NS + STEPS * STEP_NS) / 1_000_000) as i64;
    let result = instant_query(&store, CACHE_HIT, end_ms).unwrap().to_json();
    assert_eq!(
        result["result"].as_array().map(Vec::len),
        Some(SERVICES as usize),
        "{result}"
    );

    let mut group = c.benchmark_group("promql_24h_10s_10_services");
    group.bench_function("cache_hit_ratio_5m", |b| {
        b.iter(|| black_box(instant_query(&store, CACHE_HIT, end_ms).unwrap()))
    });
    group.bench_function("total_input_rate_1h", |b| {
        b.iter(|| black_box(instant_query(&store, TOTAL_INPUT, end_ms).unwrap()))
    });
    let day_ms = 24 * 3600 * 1000;
    group.bench_function("cache_hit_ratio_5m_range_24h_step_5m", |b| {
        b.iter(|| {
            black_box(range_query(&store, CACHE_HIT, end_ms - day_ms, end_ms, 300_000).unwrap())
        })
    });
    group.finish();

    // topk over 10,000 series of 1 h of 15 s samples (counters, one per pod).
    let mut many = MemorySeries::new();
    let start_ms = (START_NS / 1_000_000) as i64;
    for pod in 0..10_000u32 {
        let labels: Labels = [
            ("__name__", "http_requests_total".to_string()),
            ("pod", format!("pod-{pod}")),
            ("job", format!("job-{}", pod % 10)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for i in 0..240i64 {
            let v = (i * i64::from(pod % 97 + 1)) as f64;
            many.insert(
                labels.clone(),
                Sample {
                    t_ms: start_ms + i * 15_000,
                    v,
                },
            );
        }
    }
    let at = start_ms + 239 * 15_000;
    let mut group = c.benchmark_group("promql_10k_series");
    group.sample_size(20);
    group.bench_function("topk_10_rate_5m", |b| {
        b.iter(|| {
            black_box(instant_query(&many, "topk(10, rate(http_requests_total[5m]))", at).unwrap())
        })
    });
    group.bench_function("topk_3_by_job_rate_5m", |b| {
        b.iter(|| {
            black_box(
                instant_query(
                    &many,
                    "topk by (job) (3, rate(http_requests_total[5m]))",
                    at,
                )
                .unwrap(),
            )
        })
    });
    group.bench_function("sum_by_job_rate_5m", |b| {
        b.iter(|| {
            black_box(
                instant_query(&many, "sum by (job) (rate(http_requests_total[5m]))", at).unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
