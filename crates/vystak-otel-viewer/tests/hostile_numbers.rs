//! Every number a client sends is checked (issue 27): the viewer runs as a child process, is
//! sent the query parameters and OTLP fields that used to panic a handler, drop the connection
//! or abort the process, and must answer each with a clear error (or the right result) and
//! stay alive.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

fn now_nanos() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn metrics(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![text("service.name", "hostile")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn histogram(name: &str, points: Vec<HistogramDataPoint>, temporality: i32) -> Metric {
    Metric {
        name: name.into(),
        unit: "{token}".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: points,
            aggregation_temporality: temporality,
        })),
        ..Default::default()
    }
}

fn gauge_series(n: usize, t: u64) -> Metric {
    Metric {
        name: "hostile_gauge".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: (0..n)
                .map(|i| NumberDataPoint {
                    attributes: vec![text("i", &i.to_string())],
                    time_unix_nano: t,
                    value: Some(number_data_point::Value::AsDouble(1.0)),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    }
}

async fn post(url: &str, body: Vec<u8>) -> (u16, String) {
    let reply = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .expect("the viewer answers");
    let status = reply.status().as_u16();
    (
        status,
        String::from_utf8_lossy(&reply.bytes().await.unwrap()).into_owned(),
    )
}

async fn get(url: &str) -> (u16, String) {
    let reply = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: the viewer dropped the connection: {e}"));
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap())
}

/// Regression (issue 27): these parameters panicked a handler (the connection dropped:
/// `min_duration_ms=1e30`, `series?match[]=up[1e30]`), answered 500 (`/?min_duration_ms=1e30`)
/// or 422 with a panic message (`rate(x[1e30])`, a range query whose steps overflowed `i64`).
/// Each now gets a 400 naming the parameter, or its correct answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_in_query_parameters_are_checked() {
    let (mut child, _http, ui) = common::spawn_viewer_child(&[]).await;
    let cases: &[(&str, u16, &str)] = &[
        ("/api/traces?since=1e30", 400, "since=1e30"),
        (
            "/api/traces?min_duration_ms=1e30",
            400,
            "min_duration_ms=1e30",
        ),
        ("/api/traces?min_duration_ms=-1", 400, "min_duration_ms=-1"),
        ("/api/traces?before=1e30", 400, "before=1e30"),
        ("/api/traces?since=999999999999999999999h", 400, "since="),
        ("/api/traces?limit=1e30", 400, "limit=1e30"),
        ("/?min_duration_ms=1e30", 400, "min_duration_ms=1e30"),
        ("/?since=1e30", 400, "since=1e30"),
        ("/tokens?range=1e30", 400, "range=1e30"),
        ("/tokens?range=300000000y&end=-9e15", 200, "Tokens"),
        ("/api/v1/query?query=1&timeout=1e30", 400, "timeout"),
        ("/api/v1/query?query=1&time=1e30", 400, "time"),
        (
            "/api/v1/query_range?query=1&start=0&end=100&step=1e30",
            400,
            "step",
        ),
        (
            "/api/v1/query_range?query=1&start=-9.2e15&end=9.2e15&step=1",
            400,
            "11,000 points",
        ),
        (
            "/api/v1/query_range?query=1&start=0&end=9.2e15&step=1e15",
            200,
            "[9000000000000000,",
        ),
        ("/api/v1/series?match[]=up[1e30]", 400, "1e30"),
        ("/api/v1/query?query=rate(x[1e30])", 400, "1e30"),
        ("/api/v1/query?query=x%20offset%201e400", 400, "1e400"),
        ("/api/v1/query?query=x[5m:1e30]", 400, "1e30"),
        ("/api/v1/query?query=rate(x[300000000y])", 200, "success"),
        (
            "/api/v1/query?query=x%20offset%20-300000000y",
            200,
            "success",
        ),
        (
            "/api/v1/query?query=x[300000000y]%20offset%20300000000y",
            200,
            "success",
        ),
        ("/api/v1/query?query=x%40-9e15", 200, "success"),
    ];
    let mut wrong = Vec::new();
    for (path, status, needle) in cases {
        let (got, body) = get(&format!("{ui}{path}")).await;
        if got != *status || !body.contains(needle) {
            wrong.push(format!("{path}: {got} {}", &body[..body.len().min(200)]));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "{path} killed the viewer"
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Regression (issue 27): a histogram point with bucket counts `[u64::MAX, 1, 0]`, two delta
/// points of count 2^63 and two token histograms of count 2^63 overflowed the converter or the
/// token totals (`attempt to add with overflow`: the ingest handler panicked or the process
/// aborted). They are stored saturated, the viewer answers every page, and stays alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflowing_histogram_counts_do_not_panic_ingest() {
    let (mut child, http, ui) = common::spawn_viewer_child(&[]).await;
    let t = now_nanos();
    let huge = 1u64 << 63;
    let point = |time: u64, count: u64, buckets: Vec<u64>| HistogramDataPoint {
        attributes: vec![text("gen_ai.token.type", "input")],
        start_time_unix_nano: time - 1_000_000_000,
        time_unix_nano: time,
        count,
        sum: Some(1.0),
        bucket_counts: buckets,
        explicit_bounds: vec![1.0, 10.0],
        ..Default::default()
    };
    let requests = [
        metrics(vec![histogram(
            "buckets_at_max",
            vec![point(t, u64::MAX, vec![u64::MAX, 1, 0])],
            2,
        )]),
        metrics(vec![histogram(
            "two_huge_deltas",
            vec![point(t - 2_000_000_000, huge, vec![huge, 0, 0])],
            1,
        )]),
        metrics(vec![histogram(
            "two_huge_deltas",
            vec![point(t, huge, vec![huge, 0, 0])],
            1,
        )]),
        metrics(vec![histogram(
            "gen_ai.client.token.usage",
            vec![point(t - 2_000_000_000, huge, vec![huge, 0, 0])],
            1,
        )]),
        metrics(vec![histogram(
            "gen_ai.client.token.usage",
            vec![point(t, huge, vec![huge, 0, 0])],
            1,
        )]),
    ];
    for request in requests {
        let (status, body) = post(&format!("{http}/v1/metrics"), request.encode_to_vec()).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest killed the viewer"
        );
    }
    for path in [
        "/api/v1/query?query=sum(two_huge_deltas_count)",
        "/api/v1/query?query=buckets_at_max_bucket",
        "/api/v1/query?query=histogram_quantile(0.5,buckets_at_max_bucket)",
        "/tokens",
        "/genai",
        "/metrics-explorer",
    ] {
        let (status, body) = get(&format!("{ui}{path}")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert!(child.try_wait().unwrap().is_none());
}

/// Regression (issue 27): a span ending at `u64::MAX` made its trace page answer 500; one
/// carrying token counts at `i64::MAX` twice overflowed the trace's totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_span_times_and_token_counts_render() {
    let (mut child, http, ui) = common::spawn_viewer_child(&[]).await;
    let t = now_nanos();
    let trace_id = vec![7u8; 16];
    let span = |id: u8, parent: Option<u8>, end: u64| Span {
        trace_id: trace_id.clone(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: "gen_ai.chat".into(),
        start_time_unix_nano: t,
        end_time_unix_nano: end,
        attributes: vec![
            kv(
                "gen_ai.usage.input_tokens",
                any_value::Value::IntValue(i64::MAX),
            ),
            kv(
                "gen_ai.usage.output_tokens",
                any_value::Value::DoubleValue(f64::MAX),
            ),
        ],
        ..Default::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "hostile")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span(1, None, u64::MAX), span(2, Some(1), t + 1)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let (status, body) = post(&format!("{http}/v1/traces"), request.encode_to_vec()).await;
    assert_eq!(status, 200, "{body}");
    let id = "07".repeat(16);
    for path in [
        format!("/trace/{id}"),
        format!("/api/traces/{id}"),
        "/api/traces".to_owned(),
        "/".to_owned(),
        "/genai".to_owned(),
    ] {
        let (status, body) = get(&format!("{ui}{path}")).await;
        assert_eq!(status, 200, "{path}: {}", &body[..body.len().min(300)]);
    }
    assert!(child.try_wait().unwrap().is_none());
}

/// Issue 27: a query past its sample budget (`--query-max-samples`) gets Prometheus' 422
/// `execution` error while selecting, before it builds its step matrix; one within the budget
/// answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_sample_budget_gets_422() {
    let (mut child, http, ui) = common::spawn_viewer_child(&["--query-max-samples", "10000"]).await;
    let t = now_nanos();
    let (status, body) = post(
        &format!("{http}/v1/metrics"),
        metrics(vec![gauge_series(50, t)]).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let end = t / 1_000_000_000 + 1;
    // 50 series × 1,000 steps = 50,000 values > 10,000.
    let (status, body) = get(&format!(
        "{ui}/api/v1/query_range?query=hostile_gauge&start={}&end={end}&step=1",
        end - 999
    ))
    .await;
    assert_eq!(status, 422, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errorType"], "execution");
    assert_eq!(
        body["error"],
        "query processing would load too many samples into memory in query execution"
    );
    // 50 series × 100 steps = 5,000: within the budget.
    let (status, body) = get(&format!(
        "{ui}/api/v1/query_range?query=sum(hostile_gauge)&start={}&end={end}&step=1",
        end - 99
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"50\""), "{body}");
    assert!(child.try_wait().unwrap().is_none());
}

/// Regression (issue 27): OTLP/JSON `"doubleValue": "NaN"` / `"Infinity"` (the proto3 JSON
/// mapping of non-finite doubles) got the whole batch rejected with `400`. The span and the
/// gauge are stored with their non-finite values, and a string attribute `"NaN"` stays a string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_doubles_in_otlp_json_are_accepted() {
    let (mut child, http, ui) = common::spawn_viewer_child(&[]).await;
    let t = now_nanos();
    let traces = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"json-nan"}}}}]}},
        "scopeSpans":[{{"spans":[{{"traceId":"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b","spanId":"0c0c0c0c0c0c0c0c","name":"nan",
        "startTimeUnixNano":"{t}","endTimeUnixNano":"{t}","attributes":[
        {{"key":"score","value":{{"doubleValue":"NaN"}}}},
        {{"key":"ceiling","value":{{"doubleValue":"Infinity"}}}},
        {{"key":"word","value":{{"stringValue":"NaN"}}}}]}}]}}]}}]}}"#
    );
    let metrics = format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"json_gauge","gauge":{{"dataPoints":[
        {{"timeUnixNano":"{t}","asDouble":"-Infinity"}}]}}}}]}}]}}]}}"#
    );
    let client = reqwest::Client::new();
    for (path, body) in [("/v1/traces", traces), ("/v1/metrics", metrics)] {
        let reply = client
            .post(format!("{http}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        assert_eq!(status, 200, "{path}: {}", reply.text().await.unwrap());
    }
    let (status, body) = get(&format!("{ui}/api/traces/{}", "0b".repeat(16))).await;
    assert_eq!(status, 200, "{body}");
    let trace: serde_json::Value = serde_json::from_str(&body).unwrap();
    let attributes = &trace["spans"][0]["attributes"];
    assert_eq!(attributes["word"], "NaN", "{attributes}");
    assert_ne!(attributes["score"], serde_json::Value::Null, "{attributes}");
    let (status, body) = get(&format!("{ui}/api/v1/query?query=json_gauge")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"-Inf\""), "{body}");
    assert!(child.try_wait().unwrap().is_none());
}

/// Issue 27 (result size): the metadata endpoints take Prometheus' `limit` (what Grafana sends
/// for label values) and say when they cut the answer; a bad `limit` is `400 bad_data`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_answers_honour_limit() {
    let (mut child, http, ui) = common::spawn_viewer_child(&[]).await;
    let (status, body) = post(
        &format!("{http}/v1/metrics"),
        metrics(vec![gauge_series(50, now_nanos())]).encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for (path, expected) in [
        ("/api/v1/series?match[]=hostile_gauge&limit=10", 10),
        ("/api/v1/label/i/values?limit=5", 5),
        ("/api/v1/label/i/values?match[]=hostile_gauge&limit=7", 7),
        ("/api/v1/labels?limit=2", 2),
    ] {
        let (status, body) = get(&format!("{ui}{path}")).await;
        assert_eq!(status, 200, "{path}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), expected, "{path}");
        assert_eq!(
            body["warnings"][0], "results truncated due to limit",
            "{path}"
        );
    }
    let (status, body) = get(&format!("{ui}/api/v1/label/i/values?limit=0")).await;
    assert_eq!(status, 200);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 50);
    assert!(body.get("warnings").is_none());
    let (status, body) = get(&format!("{ui}/api/v1/labels?limit=-1")).await;
    assert_eq!(status, 400, "{body}");
    assert!(child.try_wait().unwrap().is_none());
}

/// Issue 26: summaries and exponential histograms were answered `200` and stored nowhere. A
/// summary is stored as Prometheus' OTLP translation stores it (a series per quantile, `_sum`,
/// `_count`); an exponential histogram keeps `_sum` and `_count`, and the partial-success reply
/// says its buckets were dropped (rejecting nothing). Both survive a restart with `--db`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_and_exponential_histograms_are_stored() {
    use opentelemetry_proto::tonic::metrics::v1::{
        summary_data_point::ValueAtQuantile, ExponentialHistogram, ExponentialHistogramDataPoint,
        Summary, SummaryDataPoint,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinds.db");
    let db = db.to_str().unwrap();
    let t = now_nanos();
    let request = metrics(vec![
        Metric {
            name: "rpc.latency".into(),
            unit: "s".into(),
            data: Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: t,
                    count: 10,
                    sum: 2.5,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 0.2,
                        },
                        ValueAtQuantile {
                            quantile: 0.99,
                            value: f64::NAN,
                        },
                    ],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        },
        Metric {
            name: "queue.wait".into(),
            unit: "s".into(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    time_unix_nano: t,
                    start_time_unix_nano: t - 1_000_000_000,
                    count: 4,
                    sum: Some(1.5),
                    scale: 3,
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        },
    ]);
    let queries = [
        ("rpc_latency_seconds{quantile=\"0.5\"}", "\"0.2\""),
        ("rpc_latency_seconds{quantile=\"0.99\"}", "\"NaN\""),
        ("rpc_latency_seconds_sum", "\"2.5\""),
        ("rpc_latency_seconds_count", "\"10\""),
        ("queue_wait_seconds_sum", "\"1.5\""),
        ("queue_wait_seconds_count", "\"4\""),
    ];
    {
        let (_child, http, ui) = common::spawn_viewer_child(&["--db", db]).await;
        let reply = reqwest::Client::new()
            .post(format!("{http}/v1/metrics"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&request).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let body: serde_json::Value = reply.json().await.unwrap();
        let partial = &body["partialSuccess"];
        assert_eq!(
            partial["rejectedDataPoints"].as_str().unwrap_or("0"),
            "0",
            "{body}"
        );
        assert!(
            partial["errorMessage"]
                .as_str()
                .unwrap()
                .contains("exponential histogram buckets are not stored"),
            "{body}"
        );
        for (q, value) in queries {
            let (status, body) = get(&format!("{ui}/api/v1/query?query={q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
            assert!(body.contains(value), "{q}: {body}");
        }
    }
    // Restarted on the same file: the same answers.
    let (_child, _http, ui) = common::spawn_viewer_child(&["--db", db]).await;
    for (q, value) in queries {
        let (_, body) = get(&format!("{ui}/api/v1/query?query={q}")).await;
        assert!(body.contains(value), "after a restart, {q}: {body}");
    }
}
