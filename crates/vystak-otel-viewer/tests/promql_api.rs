//! The Prometheus HTTP API end to end: token histograms exported by two services through the
//! SDK's real OTLP exporters (one cumulative over gRPC, one delta over OTLP/HTTP), then the
//! seed's two PromQL queries, verbatim, through reqwest — checked against values computed by
//! hand from the recorded values and the stored sample times.

mod common;

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use serde_json::Value;
use vystak_otel_viewer::Receiver;

const TOTAL_INPUT: &str =
    r#"sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1h]))"#;
const CACHE_HIT: &str = r#"sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="cache_read"}[5m]))
/
sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[5m]))"#;

const A: &str = "vystak-assistant-agent";
const B: &str = "vystak-weather-agent";

fn provider(exporter: MetricExporter, service: &str) -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .with_resource(common::resource(service))
        .build()
}

fn record(mp: &SdkMeterProvider, values: &[(&str, u64)]) {
    let h = mp
        .meter("vystak-otel-genai")
        .u64_histogram("gen_ai.client.token.usage")
        .with_unit("{token}")
        .build();
    for (kind, v) in values {
        h.record(
            *v,
            &[
                KeyValue::new("gen_ai.token.type", kind.to_string()),
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5-20251001"),
            ],
        );
    }
}

async fn flush(mp: &SdkMeterProvider) {
    let mp = mp.clone();
    tokio::task::spawn_blocking(move || mp.force_flush())
        .await
        .unwrap()
        .unwrap();
}

/// Prometheus' `rate()` (extrapolatedRate) over samples `(t seconds, v)` in `(start, end]`.
/// Times are compared in whole milliseconds (the API's precision), so no f64 rounding of
/// epoch seconds creeps in.
fn prom_rate(samples: &[(f64, f64)], start: f64, end: f64) -> f64 {
    let ms = |t: f64| (t * 1000.0).round() as i64;
    let (start, end) = (ms(start), ms(end));
    let s: Vec<(i64, f64)> = samples
        .iter()
        .map(|(t, v)| (ms(*t), *v))
        .filter(|(t, _)| *t > start && *t <= end)
        .collect();
    assert!(s.len() >= 2, "{samples:?}");
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.1 - first.1;
    for w in s.windows(2) {
        if w[1].1 < w[0].1 {
            result += w[0].1;
        }
    }
    let secs = |d: i64| d as f64 / 1000.0;
    let sampled = secs(last.0 - first.0);
    let avg = sampled / (s.len() - 1) as f64;
    let mut to_start = secs(first.0 - start);
    let to_end = secs(end - last.0);
    if result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg / 2.0
    };
    result * (interval / sampled) / secs(end - start)
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn get(&self, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let reply = self
            .client
            .get(format!("{}{path}", self.base))
            .query(params)
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.json().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let reply = self
            .client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.json().await.unwrap())
    }
}

/// (service, token type, samples as (t seconds, value)).
type Raw = Vec<(String, String, Vec<(f64, f64)>)>;

/// The raw samples of `gen_ai_client_token_usage_sum` per (service, token type).
async fn raw_samples(api: &Api, time: &str) -> Raw {
    let (status, v) = api
        .get(
            "/api/v1/query",
            &[
                ("query", "gen_ai_client_token_usage_sum[1h]"),
                ("time", time),
            ],
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["resultType"], "matrix", "{v}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let values = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_f64().unwrap(),
                        p[1].as_str().unwrap().parse::<f64>().unwrap(),
                    )
                })
                .collect();
            (
                s["metric"]["service_name"].as_str().unwrap().to_owned(),
                s["metric"]["gen_ai_token_type"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                values,
            )
        })
        .collect()
}

fn series<'a>(raw: &'a Raw, service: &str, kind: &str) -> &'a [(f64, f64)] {
    &raw.iter()
        .find(|(s, k, _)| s == service && k == kind)
        .unwrap_or_else(|| panic!("{service} {kind}: {raw:?}"))
        .2
}

/// Returns once the wall clock (which stamps the SDK's points) is in a later millisecond than
/// when it was called: a condition, not a guessed duration.
async fn next_millisecond() {
    let ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let start = ms();
    while ms() <= start {
        tokio::task::yield_now().await;
    }
}

fn scalar(v: &Value) -> f64 {
    v[1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_two_queries_over_real_exports() {
    let receiver = Receiver::start_local().await.unwrap();
    let a = provider(
        MetricExporter::builder()
            .with_tonic()
            .with_endpoint(receiver.endpoint())
            .build()
            .unwrap(),
        A,
    );
    let b = provider(
        MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/metrics", receiver.http_endpoint().unwrap()))
            .with_temporality(Temporality::Delta)
            .build()
            .unwrap(),
        B,
    );
    // Round 1.
    record(
        &a,
        &[
            ("input", 100),
            ("input", 200),
            ("cache_read", 150),
            ("output", 20),
        ],
    );
    record(&b, &[("input", 40), ("cache_read", 10)]);
    // The SDK's cumulative start time is the first measurement. Samples have millisecond
    // timestamps, and a zero sample at the start time exists only when the start is at least a
    // millisecond before the point (two samples cannot share a timestamp): the export waits for
    // the clock's next millisecond, as time passes in any real process; so does round 2.
    next_millisecond().await;
    flush(&a).await;
    flush(&b).await;
    next_millisecond().await;
    // Round 2.
    record(&a, &[("input", 300), ("cache_read", 90)]);
    record(&b, &[("input", 60), ("cache_read", 30)]);
    flush(&a).await;
    flush(&b).await;
    let api = Api {
        client: reqwest::Client::new(),
        base: receiver.ui_url().unwrap(),
    };

    // The stored samples: cumulative sums, the deltas of B accumulated.
    let now = format!(
        "{:.3}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            + 1.0
    );
    let raw = raw_samples(&api, &now).await;
    let last = |s: &[(f64, f64)]| s.last().unwrap().1;
    assert_eq!(last(series(&raw, A, "input")), 600.0);
    assert_eq!(last(series(&raw, A, "cache_read")), 240.0);
    assert_eq!(last(series(&raw, A, "output")), 20.0);
    assert_eq!(last(series(&raw, B, "input")), 100.0);
    assert_eq!(last(series(&raw, B, "cache_read")), 40.0);
    // Each export is one sample, after the zero sample at the series' start time.
    let values = |s: &[(f64, f64)]| s.iter().map(|p| p.1).collect::<Vec<_>>();
    assert_eq!(values(series(&raw, A, "input")), [0.0, 300.0, 600.0]);
    assert_eq!(values(series(&raw, A, "cache_read")), [0.0, 150.0, 240.0]);
    let b_input = values(series(&raw, B, "input"));
    assert_eq!(&b_input[b_input.len() - 2..], [40.0, 100.0]);

    // Evaluate at the last sample time, so the windows hold every sample.
    let t = raw
        .iter()
        .map(|(_, _, s)| s.last().unwrap().0)
        .fold(f64::MIN, f64::max);
    let t_param = format!("{t:.3}");
    let expect_total = prom_rate(series(&raw, A, "input"), t - 3600.0, t)
        + prom_rate(series(&raw, B, "input"), t - 3600.0, t);
    let (status, v) = api
        .get(
            "/api/v1/query",
            &[("query", TOTAL_INPUT), ("time", &t_param)],
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{v}");
    assert_eq!(result[0]["metric"], serde_json::json!({}));
    assert_eq!(result[0]["value"][0].as_f64().unwrap(), t);
    let got = scalar(&result[0]["value"]);
    assert!(
        (got - expect_total).abs() <= 1e-9 * expect_total,
        "got {got}, expected {expect_total}"
    );
    // Everything happened within milliseconds, so the 1 h rate is the stored increase (700)
    // over 3600 s, plus what Prometheus' extrapolation adds, which it bounds: A starts at a zero
    // sample (no extension at the start) and, of its three samples, is extended by at most half
    // an average interval at the end (≤ ×1.25: 750); B by at most half an interval at each end
    // of its increase (≤ ×2: 200).
    assert!((700.0 / 3600.0..=950.0 / 3600.0).contains(&got), "{got}");

    // Grafana sends a form POST.
    let (status, v) = api
        .post("/api/v1/query", &[("query", CACHE_HIT), ("time", &t_param)])
        .await;
    assert_eq!(status, 200, "{v}");
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2, "{v}");
    for (service, by_hand) in [(A, 240.0 / 600.0), (B, 40.0 / 100.0)] {
        let row = result
            .iter()
            .find(|r| r["metric"]["service_name"] == service)
            .unwrap();
        assert_eq!(
            row["metric"],
            serde_json::json!({ "service_name": service })
        );
        let rate = |kind| prom_rate(series(&raw, service, kind), t - 300.0, t);
        let expect = rate("cache_read") / rate("input");
        let got = scalar(&row["value"]);
        assert!(
            (got - expect).abs() < 1e-9,
            "{service}: got {got}, expected {expect}"
        );
        // Both series of a service are exported together, so the ratio is the token ratio.
        assert!(
            (got - by_hand).abs() < 0.02,
            "{service}: {got} vs {by_hand}"
        );
    }

    // Range query: the total input rate at three steps.
    let start = format!("{:.3}", t - 2.0);
    let (status, v) = api
        .get(
            "/api/v1/query_range",
            &[
                ("query", TOTAL_INPUT),
                ("start", &start),
                ("end", &t_param),
                ("step", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["resultType"], "matrix");
    let values = v["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.last().unwrap()[0].as_f64().unwrap(), t);
    assert!((scalar(values.last().unwrap()) - expect_total).abs() <= 1e-9 * expect_total);

    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_endpoints_and_errors_have_prometheus_shapes() {
    let receiver = Receiver::start_local().await.unwrap();
    let a = provider(
        MetricExporter::builder()
            .with_tonic()
            .with_endpoint(receiver.endpoint())
            .build()
            .unwrap(),
        A,
    );
    record(&a, &[("input", 5), ("output", 7)]);
    flush(&a).await;
    let api = Api {
        client: reqwest::Client::new(),
        base: receiver.ui_url().unwrap(),
    };
    assert!(
        receiver
            .store()
            .wait_until(Duration::from_secs(20), |s| s.sample_count() > 0)
            .await
    );

    let (status, v) = api.get("/api/v1/status/buildinfo", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "success");
    assert!(v["data"]["version"].as_str().unwrap().starts_with('2'));

    let (_, v) = api.get("/api/v1/labels", &[]).await;
    let labels: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for l in [
        "__name__",
        "gen_ai_request_model",
        "gen_ai_system",
        "gen_ai_token_type",
        "service_name",
    ] {
        assert!(labels.contains(&l), "{l}: {labels:?}");
    }
    let (status, v) = api.post("/api/v1/labels", &[]).await;
    assert_eq!(status, 200, "{v}");

    let (_, v) = api.get("/api/v1/label/service_name/values", &[]).await;
    assert_eq!(v["data"], serde_json::json!([A]));
    let (_, v) = api.get("/api/v1/label/gen_ai_token_type/values", &[]).await;
    assert_eq!(v["data"], serde_json::json!(["input", "output"]));
    let (_, v) = api.get("/api/v1/label/__name__/values", &[]).await;
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"gen_ai_client_token_usage_sum"),
        "{names:?}"
    );
    assert!(
        names.contains(&"gen_ai_client_token_usage_count"),
        "{names:?}"
    );
    assert!(
        names.contains(&"gen_ai_client_token_usage_bucket"),
        "{names:?}"
    );

    let (status, v) = api
        .get(
            "/api/v1/series",
            &[(
                "match[]",
                r#"gen_ai_client_token_usage_sum{gen_ai_token_type="output"}"#,
            )],
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let list = v["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["__name__"], "gen_ai_client_token_usage_sum");
    assert_eq!(list[0]["service_name"], A);
    assert_eq!(list[0]["gen_ai_token_type"], "output");
    let (status, v) = api.get("/api/v1/series", &[]).await;
    assert_eq!(status, 400);
    assert_eq!(v["errorType"], "bad_data");

    let (_, v) = api.get("/api/v1/metadata", &[]).await;
    assert_eq!(
        v["data"]["gen_ai_client_token_usage"][0]["type"], "histogram",
        "{v}"
    );

    // Errors: a parse error is bad_data with 400; a missing query too; bad times too.
    let (status, v) = api.get("/api/v1/query", &[("query", "sum(rate(")]).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    assert!(!v["error"].as_str().unwrap().is_empty());
    let (status, v) = api.get("/api/v1/query", &[]).await;
    assert_eq!((status, v["errorType"].as_str()), (400, Some("bad_data")));
    let (status, v) = api
        .get("/api/v1/query", &[("query", "up"), ("time", "yesterday")])
        .await;
    assert_eq!((status, v["errorType"].as_str()), (400, Some("bad_data")));
    let (status, v) = api
        .get(
            "/api/v1/query_range",
            &[
                ("query", "up"),
                ("start", "10"),
                ("end", "5"),
                ("step", "1"),
            ],
        )
        .await;
    assert_eq!((status, v["errorType"].as_str()), (400, Some("bad_data")));
    let (status, v) = api
        .get(
            "/api/v1/query_range",
            &[
                ("query", "up"),
                ("start", "0"),
                ("end", "100000"),
                ("step", "1"),
            ],
        )
        .await;
    assert_eq!((status, v["errorType"].as_str()), (400, Some("bad_data")));
    // A query that matches nothing is an empty success.
    let (status, v) = api
        .get("/api/v1/query", &[("query", "no_such_metric")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["result"], serde_json::json!([]));
    receiver.shutdown().await;
}

/// The rest of what Grafana and the Prometheus UI call (issue 28), in Prometheus' shapes
/// (`web/api/v1/api.go`, `translate_ast.go`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_and_prometheus_ui_endpoints_have_prometheus_shapes() {
    let receiver = Receiver::start_local().await.unwrap();
    let api = Api {
        client: reqwest::Client::new(),
        base: receiver.ui_url().unwrap(),
    };
    let q = r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m] offset 1m)) > bool 0"#;

    let (status, v) = api.get("/api/v1/format_query", &[("query", q)]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "success");
    let formatted = v["data"].as_str().unwrap();
    assert!(formatted.contains("sum by (job)"), "{formatted}");
    assert!(formatted.contains("> bool"), "{formatted}");

    let (status, v) = api.post("/api/v1/parse_query", &[("query", q)]).await;
    assert_eq!(status, 200, "{v}");
    let ast = &v["data"];
    assert_eq!(ast["type"], "binaryExpr");
    assert_eq!(ast["op"], ">");
    assert_eq!(ast["bool"], true);
    assert_eq!(
        ast["matching"],
        Value::Null,
        "vector > scalar has no matching"
    );
    assert_eq!(
        ast["rhs"],
        serde_json::json!({"type": "numberLiteral", "val": "0"})
    );
    let agg = &ast["lhs"];
    assert_eq!(agg["type"], "aggregation");
    assert_eq!(agg["op"], "sum");
    assert_eq!(agg["grouping"], serde_json::json!(["job"]));
    assert_eq!(agg["without"], false);
    let call = &agg["expr"];
    assert_eq!(call["type"], "call");
    assert_eq!(call["func"]["name"], "rate");
    assert_eq!(call["func"]["argTypes"], serde_json::json!(["matrix"]));
    assert_eq!(call["func"]["returnType"], "vector");
    let m = &call["args"][0];
    assert_eq!(m["type"], "matrixSelector");
    assert_eq!(m["name"], "http_requests_total");
    assert_eq!(m["range"], 300_000);
    assert_eq!(m["offset"], 60_000);
    assert_eq!(
        m["matchers"],
        serde_json::json!([
            {"name": "code", "type": "=~", "value": "5.."},
            {"name": "__name__", "type": "=", "value": "http_requests_total"}
        ])
    );
    let (_, v) = api
        .get(
            "/api/v1/parse_query",
            &[("query", "a + on(x) group_left(y) b")],
        )
        .await;
    assert_eq!(
        v["data"]["matching"],
        serde_json::json!({"card": "many-to-one", "labels": ["x"], "on": true,
            "include": ["y"], "fillValues": {"lhs": null, "rhs": null}})
    );

    // A query that does not parse is Prometheus' bad_data on the `query` parameter.
    let (status, v) = api.get("/api/v1/parse_query", &[("query", "sum(")]).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["errorType"], "bad_data");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .starts_with("invalid parameter \"query\""));

    let (status, v) = api
        .get(
            "/api/v1/query_exemplars",
            &[("query", "up"), ("start", "0"), ("end", "10")],
        )
        .await;
    assert_eq!((status, &v["data"]), (200, &serde_json::json!([])), "{v}");
    let (status, v) = api
        .get(
            "/api/v1/query_exemplars",
            &[("query", "up"), ("start", "10"), ("end", "0")],
        )
        .await;
    assert_eq!(status, 400, "{v}");

    let (status, v) = api.get("/api/v1/status/runtimeinfo", &[]).await;
    assert_eq!(status, 200);
    for key in [
        "startTime",
        "CWD",
        "serverTime",
        "reloadConfigSuccess",
        "storageRetention",
        "GOMAXPROCS",
    ] {
        assert!(v["data"].get(key).is_some(), "{key}: {v}");
    }
    let (_, v) = api.get("/api/v1/targets", &[]).await;
    assert_eq!(
        v["data"],
        serde_json::json!({"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {}})
    );
    let (_, v) = api.get("/api/v1/rules", &[]).await;
    assert_eq!(v["data"], serde_json::json!({"groups": []}));
    let (_, v) = api.get("/api/v1/alerts", &[]).await;
    assert_eq!(v["data"], serde_json::json!({"alerts": []}));
    receiver.shutdown().await;
}
