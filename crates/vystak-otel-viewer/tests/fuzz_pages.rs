//! Property tests (issue 27): random OTLP — structured requests biased towards extreme numbers,
//! and raw random bytes — go through a running viewer's OTLP/HTTP receiver (protobuf and
//! JSON), then every page and API route is rendered. Whatever arrives, the receiver answers
//! `200` or `4xx`, no page answers `5xx`, and no handler panics (a panic drops the connection,
//! which fails the property).
//!
//! Bounded: `PROPTEST_CASES` cases per property (default 32; `.ci/run` runs the default). The
//! corpus of extremes the other tests found is in the strategies (`u64::MAX` times and counts,
//! `i64::MAX` tokens, NaN and infinite doubles, parent cycles, empty and odd-length ids).

use std::sync::OnceLock;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, summary_data_point::ValueAtQuantile, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use prost::Message;
use vystak_otel_viewer::Viewer;

/// One viewer (and runtime) for every case: the store accumulates what the cases sent, so
/// later pages render earlier cases' data too.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    http: String,
    ui: String,
    _viewer: Viewer,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let viewer = runtime.block_on(Viewer::start_local()).unwrap();
        Fixture {
            http: format!("http://{}", viewer.http_addr().unwrap()),
            ui: format!("http://{}", viewer.ui_addr().unwrap()),
            _viewer: viewer,
            runtime,
        }
    })
}

fn u64_extreme() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(1u64 << 63),
        Just(1_700_000_000_000_000_000u64),
        1_700_000_000_000_000_000u64..1_900_000_000_000_000_000u64,
        any::<u64>(),
    ]
}

fn f64_extreme() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(-0.0),
        any::<f64>(),
        -1e6f64..1e6,
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        ".{0,12}".prop_map(any_value::Value::StringValue),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), any::<i64>()]
            .prop_map(any_value::Value::IntValue),
        f64_extreme().prop_map(any_value::Value::DoubleValue),
        any::<bool>().prop_map(any_value::Value::BoolValue),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(any_value::Value::BytesValue),
    ]
    .prop_map(|v| AnyValue { value: Some(v) });
    leaf.prop_recursive(3, 12, 4, |inner| {
        proptest::collection::vec(inner, 0..4).prop_map(|values| AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
        })
    })
}

fn int_extreme() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MAX),
        Just(i64::MIN),
        Just(0i64),
        0i64..5_000,
        any::<i64>()
    ]
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// GenAI attributes the pages compute with (each present or not, with extreme values, of the
/// right type or not), then random ones.
fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    let number = || {
        prop_oneof![
            int_extreme().prop_map(any_value::Value::IntValue),
            f64_extreme().prop_map(any_value::Value::DoubleValue),
            ".{0,4}".prop_map(any_value::Value::StringValue),
        ]
    };
    let operation = prop_oneof![
        Just("chat"),
        Just("invoke_agent"),
        Just("execute_tool"),
        Just("x")
    ]
    .prop_map(|op| any_value::Value::StringValue(op.into()));
    let random = proptest::collection::vec(
        ("[a-z._]{0,10}", any_value()).prop_map(|(key, value)| KeyValue {
            key,
            value: Some(value),
            ..Default::default()
        }),
        0..3,
    );
    (
        proptest::option::of(operation),
        proptest::option::of(number()),
        proptest::option::of(number()),
        proptest::option::of(number()),
        proptest::option::of(number()),
        random,
    )
        .prop_map(|(op, input, output, cache, cost, mut random)| {
            let mut out = Vec::new();
            let named = [
                ("gen_ai.operation.name", op),
                ("gen_ai.usage.input_tokens", input),
                ("gen_ai.usage.output_tokens", output),
                ("gen_ai.usage.cache_read_input_tokens", cache),
                ("gen_ai.usage.cost", cost),
            ];
            for (key, value) in named {
                if let Some(value) = value {
                    out.push(kv(key, value));
                }
            }
            out.append(&mut random);
            out
        })
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (1u8..6).prop_map(move |b| vec![b; len]),
        1 => proptest::collection::vec(any::<u8>(), 0..20),
    ]
}

fn span() -> impl Strategy<Value = Span> {
    (
        id(16),
        id(8),
        prop_oneof![Just(Vec::new()), id(8)],
        prop_oneof![Just("gen_ai.chat".to_owned()), ".{0,10}"],
        u64_extreme(),
        u64_extreme(),
        attributes(),
        prop_oneof![Just(0i32), Just(1), Just(2), any::<i32>()],
        prop_oneof![Just(0i32), Just(1), Just(2), any::<i32>()],
    )
        .prop_map(
            |(trace_id, span_id, parent_span_id, name, start, end, attributes, kind, code)| Span {
                trace_id,
                span_id,
                parent_span_id,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                status: Some(Status {
                    code,
                    message: String::new(),
                }),
                events: vec![span::Event {
                    time_unix_nano: start,
                    name: "e".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
}

fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    (attributes(), proptest::collection::vec(span(), 0..12)).prop_map(|(resource, spans)| {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    })
}

fn metric_strategy() -> impl Strategy<Value = Metric> {
    let name = prop_oneof![
        Just("gen_ai.client.token.usage".to_owned()),
        Just("gen_ai.client.operation.duration".to_owned()),
        "[a-z._]{1,10}",
    ];
    fn number() -> impl Strategy<Value = NumberDataPoint> {
        (u64_extreme(), f64_extreme(), attributes()).prop_map(|(t, v, attributes)| {
            NumberDataPoint {
                attributes,
                time_unix_nano: t,
                start_time_unix_nano: t / 2,
                value: Some(number_data_point::Value::AsDouble(v)),
                ..Default::default()
            }
        })
    }
    fn temporality() -> impl Strategy<Value = i32> {
        prop_oneof![Just(1i32), Just(2), any::<i32>()]
    }
    let histogram_point = (
        u64_extreme(),
        u64_extreme(),
        proptest::collection::vec(u64_extreme(), 0..5),
        proptest::collection::vec(f64_extreme(), 0..4),
        proptest::option::of(f64_extreme()),
        attributes(),
    )
        .prop_map(
            |(t, count, bucket_counts, explicit_bounds, sum, attributes)| HistogramDataPoint {
                attributes,
                start_time_unix_nano: t / 2,
                time_unix_nano: t,
                count,
                sum,
                bucket_counts,
                explicit_bounds,
                ..Default::default()
            },
        );
    let data = prop_oneof![
        proptest::collection::vec(number(), 0..4)
            .prop_map(|data_points| metric::Data::Gauge(Gauge { data_points })),
        (
            proptest::collection::vec(number(), 0..4),
            temporality(),
            any::<bool>()
        )
            .prop_map(|(data_points, aggregation_temporality, is_monotonic)| {
                metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality,
                    is_monotonic,
                })
            }),
        (
            proptest::collection::vec(histogram_point, 0..4),
            temporality()
        )
            .prop_map(
                |(data_points, aggregation_temporality)| metric::Data::Histogram(Histogram {
                    data_points,
                    aggregation_temporality,
                })
            ),
        (
            u64_extreme(),
            u64_extreme(),
            f64_extreme(),
            proptest::collection::vec((f64_extreme(), f64_extreme()), 0..3)
        )
            .prop_map(|(t, count, sum, quantiles)| metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: t,
                    count,
                    sum,
                    quantile_values: quantiles
                        .into_iter()
                        .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                        .collect(),
                    ..Default::default()
                }],
            })),
        (
            u64_extreme(),
            u64_extreme(),
            proptest::option::of(f64_extreme()),
            temporality()
        )
            .prop_map(|(t, count, sum, aggregation_temporality)| {
                metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        time_unix_nano: t,
                        start_time_unix_nano: t / 2,
                        count,
                        sum,
                        ..Default::default()
                    }],
                    aggregation_temporality,
                })
            }),
    ];
    (name, data).prop_map(|(name, data)| Metric {
        name,
        unit: "{token}".into(),
        data: Some(data),
        ..Default::default()
    })
}

fn metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    (
        attributes(),
        proptest::collection::vec(metric_strategy(), 0..4),
    )
        .prop_map(|(resource, metrics)| ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
}

/// Posts `body` and checks the receiver answered 200 or 4xx.
async fn post(client: &reqwest::Client, url: String, content_type: &str, body: Vec<u8>) {
    let reply = client
        .post(&url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: the receiver dropped the connection: {e}"));
    let status = reply.status().as_u16();
    assert!(
        status == 200 || (400..500).contains(&status),
        "{url}: {status}"
    );
}

/// Renders every page and API route (each trace of `trace_ids` too): none may answer 5xx.
async fn render_everything(client: &reqwest::Client, trace_ids: &[String]) {
    let ui = &fixture().ui;
    let mut paths: Vec<String> = [
        "/",
        "/?status=error",
        "/genai",
        "/tokens",
        "/metrics-explorer",
        "/api/traces",
        "/api/services",
        "/api/v1/labels",
        "/api/v1/label/__name__/values",
        "/api/v1/query?query=sum(rate(gen_ai_client_token_usage_sum[5m]))",
        "/api/v1/query?query=histogram_quantile(0.9,sum%20by%20(le)(rate(gen_ai_client_operation_duration_seconds_bucket[5m])))",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    for id in trace_ids {
        paths.push(format!("/trace/{id}"));
        paths.push(format!("/api/traces/{id}"));
    }
    for path in paths {
        let url = format!("{ui}{path}");
        let reply = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: the viewer dropped the connection: {e}"));
        let status = reply.status().as_u16();
        assert!(status < 500, "{path}: {status}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_traces_never_break_the_receiver_or_a_page(request in traces(), json in any::<bool>()) {
        let f = fixture();
        f.runtime.block_on(async {
            let client = reqwest::Client::new();
            let (content_type, body) = if json {
                ("application/json", serde_json::to_vec(&request).unwrap())
            } else {
                ("application/x-protobuf", request.encode_to_vec())
            };
            post(&client, format!("{}/v1/traces", f.http), content_type, body).await;
            let ids: Vec<String> = request.resource_spans.iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|s| hex(&s.trace_id))
                .collect();
            render_everything(&client, &ids).await;
        });
    }

    #[test]
    fn random_metrics_never_break_the_receiver_or_a_page(request in metrics()) {
        let f = fixture();
        f.runtime.block_on(async {
            let client = reqwest::Client::new();
            post(&client, format!("{}/v1/metrics", f.http), "application/x-protobuf", request.encode_to_vec()).await;
            render_everything(&client, &[]).await;
        });
    }

    #[test]
    fn random_bytes_are_answered_not_fatal(body in proptest::collection::vec(any::<u8>(), 0..512), signal in 0usize..3) {
        let f = fixture();
        let path = ["/v1/traces", "/v1/metrics", "/v1/logs"][signal];
        f.runtime.block_on(async {
            let client = reqwest::Client::new();
            post(&client, format!("{}{path}", f.http), "application/x-protobuf", body.clone()).await;
            post(&client, format!("{}{path}", f.http), "application/json", body).await;
        });
    }
}
