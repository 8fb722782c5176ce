//! End-to-end tests: the seed's queries over samples that [`PromConverter`] produced from
//! realistic OTLP points, and the rest of the supported PromQL. Expected values are computed by
//! hand in the comments, with Prometheus 3.x' `extrapolatedRate`.

use std::collections::BTreeMap;

use super::*;
use crate::model::record::{AttrValue, PointValue};

/// A fixed origin: 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000;
const NS: u64 = 1_000_000_000;

const SEED_INPUT: &str =
    r#"sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1h]))"#;
const SEED_CACHE_RATIO: &str = "sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type=\"cache_read\"}[5m]))\n/\nsum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type=\"input\"}[5m]))";

fn strs(pairs: &[(&str, &str)]) -> BTreeMap<String, AttrValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), AttrValue::Str(v.to_string())))
        .collect()
}

/// Feeds OTLP points through a converter into a memory store.
struct Harness {
    store: MemorySeries,
    conv: PromConverter,
}

impl Harness {
    fn new() -> Self {
        Self {
            store: MemorySeries::new(),
            conv: PromConverter::new(),
        }
    }

    /// One `gen_ai.client.token.usage` histogram point (unit `{token}`): `sum` tokens in
    /// `count` calls, one bucket layout.
    #[allow(clippy::too_many_arguments)]
    fn tokens(
        &mut self,
        service: &str,
        token_type: &str,
        delta: bool,
        start_s: i64,
        time_s: i64,
        count: u64,
        sum: f64,
    ) {
        let resource = strs(&[
            ("service.name", service),
            ("telemetry.sdk.language", "rust"),
        ]);
        let attributes = strs(&[
            ("gen_ai.token.type", token_type),
            ("gen_ai.system", "anthropic"),
            ("gen_ai.request.model", "claude-haiku-4-5-20251001"),
            ("gen_ai.operation.name", "chat"),
        ]);
        let value = PointValue::Histogram {
            count,
            sum,
            bounds: vec![1.0, 1024.0],
            bucket_counts: vec![0, count, 0],
            min: None,
            max: None,
        };
        self.point(
            &resource,
            &attributes,
            "gen_ai.client.token.usage",
            "{token}",
            &value,
            delta,
            start_s,
            time_s,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn point(
        &mut self,
        resource: &BTreeMap<String, AttrValue>,
        attributes: &BTreeMap<String, AttrValue>,
        name: &str,
        unit: &str,
        value: &PointValue,
        delta: bool,
        start_s: i64,
        time_s: i64,
    ) {
        let p = OtlpPoint {
            resource,
            metric_name: name,
            unit,
            value,
            delta,
            attributes,
            start_unix_nanos: start_s as u64 * NS,
            time_unix_nanos: time_s as u64 * NS,
        };
        for (labels, sample) in self.conv.convert(&p) {
            self.store.insert(labels, sample);
        }
    }

    fn vector(&self, q: &str, t_s: i64) -> Vec<(Labels, Sample)> {
        match instant_query(&self.store, q, t_s * 1000) {
            Ok(QueryResult::Vector(v)) => v,
            other => panic!("{q}: {other:?}"),
        }
    }

    fn err(&self, q: &str) -> PromError {
        instant_query(&self.store, q, (T0 + 3600) * 1000).expect_err(q)
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Two long-running services exporting cumulative points every 10 s since T0:
/// svc-a: input +100, cache_read +80, output +20 per 10 s; svc-b: input +50, cache_read +10.
fn steady() -> Harness {
    let mut h = Harness::new();
    for k in 1..=360 {
        let t = T0 + 10 * k;
        let k = k as u64;
        h.tokens("svc-a", "input", false, T0, t, k, 100.0 * k as f64);
        h.tokens("svc-a", "cache_read", false, T0, t, k, 80.0 * k as f64);
        h.tokens("svc-a", "output", false, T0, t, k, 20.0 * k as f64);
        h.tokens("svc-b", "input", false, T0, t, k, 50.0 * k as f64);
        h.tokens("svc-b", "cache_read", false, T0, t, k, 10.0 * k as f64);
    }
    h
}

#[test]
fn seed_query_total_input_tokens_per_second() {
    let mut h = steady();
    // A short-lived process: ONE cumulative point, start 2 s before its time, 500 input tokens.
    h.tokens("svc-c", "input", false, T0 + 1000, T0 + 1002, 1, 500.0);

    let v = h.vector(SEED_INPUT, T0 + 3600);
    assert_eq!(v.len(), 1);
    assert!(v[0].0.is_empty(), "sum() has no labels");
    assert_eq!(v[0].1.t_ms, (T0 + 3600) * 1000);
    // Window (T0, T0+3600]; the zero sample at T0 is outside (left-open).
    // svc-a: 360 samples 100..36000 at T0+10..T0+3600. Δ = 35900, sampled 3590 s, avg 10 s,
    //   to start 10 s (< 1.1·10; zero point 3590·100/35900 = 10, not smaller), to end 0:
    //   rate = 35900 · (3600/3590) / 3600 = 10.
    // svc-b: same shape with 50 per 10 s: rate 5.
    // svc-c: samples (T0+1000, 0) [zero sample] and (T0+1002, 500). Δ = 500, sampled 2 s, avg 2,
    //   threshold 2.2; to start 1000 s ≥ 2.2 → 1; zero point 2·0/500 = 0 < 1 → 0;
    //   to end 2598 s ≥ 2.2 → 1. factor (2 + 0 + 1)/2 = 1.5: increase 750, rate 750/3600.
    let expected = 10.0 + 5.0 + 750.0 / 3600.0;
    assert!(close(v[0].1.v, expected), "{} vs {expected}", v[0].1.v);
}

#[test]
fn seed_query_cache_hit_ratio_per_service() {
    let mut h = steady();
    let t = T0 + 3600;
    // svc-c lives 2 s: start t-102, one point at t-100 with 400 input and 100 cache_read tokens.
    h.tokens("svc-c", "input", false, t - 102, t - 100, 1, 400.0);
    h.tokens("svc-c", "cache_read", false, t - 102, t - 100, 1, 100.0);

    let v = h.vector(SEED_CACHE_RATIO, t);
    let got: Vec<(&str, f64)> = v
        .iter()
        .map(|(l, s)| (l["service_name"].as_str(), s.v))
        .collect();
    assert_eq!(
        v.iter().map(|(l, _)| l.len()).collect::<Vec<_>>(),
        vec![1, 1, 1],
        "only service_name"
    );
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec!["svc-a", "svc-b", "svc-c"]
    );
    // Window (t-300, t]: 30 samples at t-290..t.
    // svc-a input: 33100..36000, Δ 2900, sampled 290, to start 10 (zero point 290·33100/2900 =
    //   3310 is not smaller), to end 0: rate = 2900·(300/290)/300 = 10; cache_read likewise 8.
    //   ratio 8/10 = 0.8. svc-b: 1/5 = 0.2.
    // svc-c: (t-102, 0), (t-100, 400): Δ 400, sampled 2, to start 198 → 1 → zero point 0;
    //   to end 100 → 1; increase 400·1.5 = 600, rate 2. cache_read: 150/300 = 0.5. ratio 0.25.
    for ((_, got), want) in got.iter().zip([0.8, 0.2, 0.25]) {
        assert!(close(*got, want), "{got} vs {want}");
    }
    // Without svc-c's zero sample, one sample in the window means no rate (Prometheus needs 2).
    let mut store = MemorySeries::new();
    let labels = v[2].0.clone(); // {service_name="svc-c"}
    let mut l = labels.clone();
    l.insert("__name__".into(), "x_total".into());
    store.insert(
        l,
        Sample {
            t_ms: (t - 100) * 1000,
            v: 400.0,
        },
    );
    let r = instant_query(&store, "rate(x_total[5m])", t * 1000).unwrap();
    assert_eq!(r, QueryResult::Vector(vec![]));
}

#[test]
fn seed_cache_ratio_as_a_range_query() {
    let h = steady();
    // From T0+3000 to T0+3600 every 60 s: 11 steps; every step has both rates for both services.
    let r = range_query(
        &h.store,
        SEED_CACHE_RATIO,
        (T0 + 3000) * 1000,
        (T0 + 3600) * 1000,
        60_000,
    )
    .unwrap();
    let QueryResult::Matrix(m) = r else { panic!() };
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].labels["service_name"], "svc-a");
    assert_eq!(m[0].samples.len(), 11);
    assert_eq!(m[0].samples[1].t_ms, (T0 + 3060) * 1000);
    assert!(m[0].samples.iter().all(|s| close(s.v, 0.8)));
    assert!(m[1].samples.iter().all(|s| close(s.v, 0.2)));
    let json = QueryResult::Matrix(m).to_json();
    assert_eq!(json["resultType"], "matrix");
    assert_eq!(json["result"][0]["metric"]["service_name"], "svc-a");
    assert_eq!(json["result"][0]["values"][0][0], T0 + 3000);
    assert!(json["result"][0]["values"][0][1].is_string());
}

#[test]
fn counter_reset_after_a_restart() {
    let mut h = Harness::new();
    // First run: start T0, 10, 20, …, 100 at T0+10..T0+100. Restart at T0+103: 5 at T0+110,
    // 15 at T0+120. The converter adds a zero at T0+103 (new start time).
    for k in 1..=10 {
        h.tokens(
            "svc-d",
            "input",
            false,
            T0,
            T0 + 10 * k,
            k as u64,
            10.0 * k as f64,
        );
    }
    h.tokens("svc-d", "input", false, T0 + 103, T0 + 110, 1, 5.0);
    h.tokens("svc-d", "input", false, T0 + 103, T0 + 120, 2, 15.0);
    let v = h.vector("increase(gen_ai_client_token_usage_sum[1m])", T0 + 120);
    // Window (T0+60, T0+120]: 70, 80, 90, 100, 0 (T0+103), 5, 15. Δ = 15 - 70 = -55, plus 100 at
    // the reset = 45. sampled 50 s over 6 intervals: avg 50/6, threshold 55/6 ≈ 9.17;
    // to start 10 ≥ 9.17 → 25/6; zero point 50·70/45 ≈ 77.8 is not smaller; to end 0.
    // increase = 45 · (50 + 25/6)/50 = 45 · 325/300 = 48.75.
    assert_eq!(v.len(), 1);
    assert!(close(v[0].1.v, 48.75), "{}", v[0].1.v);
    // irate: last two samples (T0+110, 5), (T0+120, 15): 10/10 s = 1.
    let v = h.vector("irate(gen_ai_client_token_usage_sum[1m])", T0 + 120);
    assert!(close(v[0].1.v, 1.0));
    // The labels of a function result drop __name__ but keep the rest.
    assert!(!v[0].0.contains_key("__name__"));
    assert_eq!(v[0].0["gen_ai_token_type"], "input");
    assert_eq!(v[0].0["job"], "svc-d");
}

#[test]
fn delta_temporality_series() {
    let mut h = Harness::new();
    // Delta points: 30 tokens per 10 s interval, (T0+10(k-1), T0+10k].
    for k in 1..=60 {
        h.tokens(
            "svc-e",
            "input",
            true,
            T0 + 10 * (k - 1),
            T0 + 10 * k,
            1,
            30.0,
        );
    }
    // Accumulated: 0 at T0, then 30k at T0+10k. Window (T0+540, T0+600]: 1650..1800, Δ 150,
    // sampled 50, avg 10, to start 10 (zero point 50·1650/150 = 550 is not smaller), to end 0:
    // increase 150·60/50 = 180, rate 180/60 = 3.
    let v = h.vector(
        r#"rate(gen_ai_client_token_usage_sum{service_name="svc-e"}[1m])"#,
        T0 + 600,
    );
    assert!(close(v[0].1.v, 3.0), "{}", v[0].1.v);
    let v = h.vector(
        r#"gen_ai_client_token_usage_count{service_name="svc-e"}"#,
        T0 + 600,
    );
    assert_eq!(v[0].1.v, 60.0);
}

#[test]
fn missing_series_give_an_empty_vector() {
    let h = steady();
    let q = r#"sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="cache_creation"}[5m]))"#;
    let r = instant_query(&h.store, q, (T0 + 3600) * 1000).unwrap();
    assert_eq!(
        r.to_json().to_string(),
        r#"{"result":[],"resultType":"vector"}"#
    );
    assert!(h.vector("no_such_metric", T0 + 3600).is_empty());
    // Lookback: the newest sample is at T0+3600; 5 min later it is gone, 1 ms before not yet.
    let q = r#"gen_ai_client_token_usage_sum{service_name="svc-a",gen_ai_token_type="input"}"#;
    assert!(h.vector(q, T0 + 3900).is_empty());
    let r = instant_query(&h.store, q, (T0 + 3900) * 1000 - 1).unwrap();
    let QueryResult::Vector(v) = r else { panic!() };
    assert_eq!(v[0].1.v, 36_000.0);
}

#[test]
fn matchers_regex_and_not_equal() {
    let h = steady();
    let t = T0 + 3600;
    let count = |q: &str| h.vector(q, t).first().map(|(_, s)| s.v);
    // svc-a: input, cache_read, output; svc-b: input, cache_read → 5 `_sum` series.
    assert_eq!(count("count(gen_ai_client_token_usage_sum)"), Some(5.0));
    assert_eq!(
        count(r#"count(gen_ai_client_token_usage_sum{gen_ai_token_type!="output"})"#),
        Some(4.0)
    );
    assert_eq!(
        count(r#"count(gen_ai_client_token_usage_sum{gen_ai_token_type=~"in.*|out.*"})"#),
        Some(3.0)
    );
    assert_eq!(
        count(r#"count(gen_ai_client_token_usage_sum{gen_ai_token_type=~"put"})"#),
        None
    ); // anchored
    assert_eq!(
        count(r#"count(gen_ai_client_token_usage_sum{service_name!~"svc-a"})"#),
        Some(2.0)
    );
    assert_eq!(
        count(r#"count({__name__=~"gen_ai_client_token_usage_(sum|count)"})"#),
        Some(10.0)
    );
    // Buckets: le 1, 1024, +Inf for 5 histograms.
    assert_eq!(
        count(r#"count(gen_ai_client_token_usage_bucket{le="+Inf"})"#),
        Some(5.0)
    );
    assert_eq!(count("count(gen_ai_client_token_usage_bucket)"), Some(15.0));
    assert_eq!(h.err(r#"x{a=~"("}"#).error_type(), "bad_data");
}

#[test]
fn aggregations_by_and_without() {
    let h = steady();
    let t = T0 + 3600;
    // Values at t (k = 360): svc-a input 36000, cache_read 28800, output 7200; svc-b 18000, 3600.
    let v = h.vector(
        "sum by (gen_ai_token_type) (gen_ai_client_token_usage_sum)",
        t,
    );
    let got: Vec<(&str, f64)> = v
        .iter()
        .map(|(l, s)| (l["gen_ai_token_type"].as_str(), s.v))
        .collect();
    assert_eq!(
        got,
        vec![
            ("cache_read", 32_400.0),
            ("input", 54_000.0),
            ("output", 7_200.0)
        ]
    );
    let v = h.vector(
        "sum without (gen_ai_token_type) (gen_ai_client_token_usage_sum)",
        t,
    );
    assert_eq!(v.len(), 2);
    assert!(!v[0].0.contains_key("__name__") && !v[0].0.contains_key("gen_ai_token_type"));
    assert_eq!(v[0].0["gen_ai_request_model"], "claude-haiku-4-5-20251001");
    assert_eq!(
        (v[0].0["service_name"].as_str(), v[0].1.v),
        ("svc-a", 72_000.0)
    );
    assert_eq!(
        (v[1].0["service_name"].as_str(), v[1].1.v),
        ("svc-b", 21_600.0)
    );
    let one = |q: &str| h.vector(q, t)[0].1.v;
    // avg of 36000, 28800, 7200, 18000, 3600 = 93600 / 5 = 18720.
    assert_eq!(one("avg(gen_ai_client_token_usage_sum)"), 18_720.0);
    assert_eq!(one("min(gen_ai_client_token_usage_sum)"), 3_600.0);
    assert_eq!(one("max(gen_ai_client_token_usage_sum)"), 36_000.0);
    assert_eq!(
        h.vector("count by (service_name) (gen_ai_client_token_usage_sum)", t)[1]
            .1
            .v,
        2.0
    );
}

#[test]
fn arithmetic_and_comparisons() {
    let h = steady();
    let t = T0 + 3600;
    let a_in = r#"gen_ai_client_token_usage_sum{service_name="svc-a",gen_ai_token_type="input"}"#;
    // svc-a input rate 10/s (see the seed test) → 600 per minute.
    let v = h.vector(&format!("rate({a_in}[5m]) * 60"), t);
    assert!(close(v[0].1.v, 600.0));
    let v = h.vector(&format!("2 * {a_in} - 1"), t);
    assert_eq!(v[0].1.v, 71_999.0);
    assert!(
        !v[0].0.contains_key("__name__"),
        "arithmetic drops the name"
    );
    let v = h.vector(&format!("-{a_in}"), t);
    assert_eq!(v[0].1.v, -36_000.0);
    assert_eq!(h.vector(&format!("{a_in} / 0"), t)[0].1.v, f64::INFINITY);
    assert!(h.vector(&format!("({a_in} - {a_in}) / 0"), t)[0]
        .1
        .v
        .is_nan());
    assert_eq!(h.vector(&format!("{a_in} % 7"), t)[0].1.v, 36_000.0 % 7.0);
    assert_eq!(
        h.vector(&format!("{a_in} ^ 0.5"), t)[0].1.v,
        36_000f64.sqrt()
    );
    // Filters keep the element's value and name; 5 series, values 36000, 28800, 7200, 18000, 3600.
    let v = h.vector("gen_ai_client_token_usage_sum > 18000", t);
    // Sorted by labels: cache_read < input.
    assert_eq!(
        v.iter().map(|x| x.1.v).collect::<Vec<_>>(),
        vec![28_800.0, 36_000.0]
    );
    assert_eq!(v[0].0["__name__"], "gen_ai_client_token_usage_sum");
    // Scalar on the left: the vector's value is kept.
    let v = h.vector("18000 >= gen_ai_client_token_usage_sum", t);
    let mut values: Vec<f64> = v.iter().map(|x| x.1.v).collect();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, vec![3_600.0, 7_200.0, 18_000.0]);
    // bool: every element, 0 or 1, no name.
    let v = h.vector("gen_ai_client_token_usage_sum > bool 18000", t);
    assert_eq!(v.len(), 5);
    assert_eq!(v.iter().map(|x| x.1.v).sum::<f64>(), 2.0);
    assert!(!v[0].0.contains_key("__name__"));
    // Scalars.
    let r = instant_query(&h.store, "1 + 2 * 3 ^ 2", 1_000).unwrap();
    assert_eq!(
        r,
        QueryResult::Scalar(Sample {
            t_ms: 1_000,
            v: 19.0
        })
    );
    let r = instant_query(&h.store, "(1 > bool 2) + (3 == bool 3)", 1_000).unwrap();
    assert_eq!(
        r,
        QueryResult::Scalar(Sample {
            t_ms: 1_000,
            v: 1.0
        })
    );
    let r = instant_query(&h.store, r#""hello""#, 1_000).unwrap();
    assert_eq!(
        r.to_json().to_string(),
        r#"{"result":[1,"hello"],"resultType":"string"}"#
    );
}

#[test]
fn vector_matching_on_and_ignoring() {
    let h = steady();
    let t = T0 + 3600;
    let cache = r#"gen_ai_client_token_usage_sum{gen_ai_token_type="cache_read"}"#;
    let input = r#"gen_ai_client_token_usage_sum{gen_ai_token_type="input"}"#;
    // Default matching: all labels but __name__ → gen_ai_token_type differs → nothing.
    assert!(h.vector(&format!("{cache} / {input}"), t).is_empty());
    // ignoring(gen_ai_token_type): svc-a 28800/36000 = 0.8, svc-b 3600/18000 = 0.2; the result
    // keeps the left side's labels minus __name__ and the ignored label.
    let v = h.vector(&format!("{cache} / ignoring(gen_ai_token_type) {input}"), t);
    assert_eq!(v.iter().map(|x| x.1.v).collect::<Vec<_>>(), vec![0.8, 0.2]);
    assert!(!v[0].0.contains_key("gen_ai_token_type"));
    assert_eq!(v[0].0["gen_ai_system"], "anthropic");
    // on(service_name): only that label remains.
    let v = h.vector(&format!("{cache} / on(service_name) {input}"), t);
    assert_eq!(
        v[0].0,
        Labels::from([("service_name".to_string(), "svc-a".to_string())])
    );
    // on(gen_ai_system) matches two series on each side: execution error, not a number.
    let e = h.err(&format!("{cache} / on(gen_ai_system) {input}"));
    assert_eq!(e.error_type(), "execution");
    assert!(
        e.message().contains("many-to-many matching not allowed"),
        "{e}"
    );
    // A comparison between vectors filters by the left value.
    let v = h.vector(&format!("{input} > ignoring(gen_ai_token_type) {cache}"), t);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].0["__name__"], "gen_ai_client_token_usage_sum");
}

#[test]
fn histogram_quantile_over_operation_duration() {
    let mut h = Harness::new();
    let resource = strs(&[("service.name", "svc-a")]);
    let attributes = strs(&[("gen_ai.operation.name", "chat")]);
    // Per 10 s: 1 call ≤ 0.5 s, 2 in (0.5, 1], 1 in (1, 2.5], none above; cumulative since T0.
    for k in 1..=360u64 {
        let value = PointValue::Histogram {
            count: 4 * k,
            sum: 4.2 * k as f64,
            bounds: vec![0.5, 1.0, 2.5],
            bucket_counts: vec![k, 2 * k, k, 0],
            min: None,
            max: None,
        };
        h.point(
            &resource,
            &attributes,
            "gen_ai.client.operation.duration",
            "s",
            &value,
            false,
            T0,
            T0 + 10 * k as i64,
        );
    }
    let t = T0 + 3600;
    // Bucket rates (each grows linearly from 0 at T0, as in the seed test): le 0.5 → 0.1/s,
    // le 1 → 0.3/s, le 2.5 → 0.4/s, +Inf → 0.4/s.
    // φ 0.5: rank 0.2 → bucket (0.5, 1]: 0.5 + 0.5·(0.2 - 0.1)/(0.3 - 0.1) = 0.75.
    // φ 0.9: rank 0.36 → (1, 2.5]: 1 + 1.5·(0.36 - 0.3)/0.1 = 1.9.
    // φ 0.99: rank 0.396 → 1 + 1.5·0.096/0.1 = 2.44.
    // φ 1: rank 0.4 = the le 2.5 count → 2.5.
    for (phi, want) in [(0.5, 0.75), (0.9, 1.9), (0.99, 2.44), (1.0, 2.5)] {
        let q = format!("histogram_quantile({phi}, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket[5m])))");
        let v = h.vector(&q, t);
        assert_eq!(v.len(), 1);
        assert!(v[0].0.is_empty());
        assert!(close(v[0].1.v, want), "φ {phi}: {} vs {want}", v[0].1.v);
    }
    // Without the sum: one result per series group, with its labels minus `le`.
    let v = h.vector(
        "histogram_quantile(0.5, rate(gen_ai_client_operation_duration_seconds_bucket[5m]))",
        t,
    );
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0["service_name"], "svc-a");
    assert!(!v[0].0.contains_key("le"));
    assert!(close(v[0].1.v, 0.75));
    // The _count and _sum series: mean duration = rate(sum)/rate(count) = 0.42/0.4 = 1.05 s.
    let v = h.vector(
        "sum(rate(gen_ai_client_operation_duration_seconds_sum[5m])) / sum(rate(gen_ai_client_operation_duration_seconds_count[5m]))",
        t,
    );
    assert!(close(v[0].1.v, 1.05), "{}", v[0].1.v);
}

#[test]
fn unsupported_constructs_are_bad_data_not_numbers() {
    let h = steady();
    // What is left outside the engine: native histograms, and experimental functions unless
    // enabled (Prometheus' own messages).
    for (q, says) in [
        (
            "histogram_avg(gen_ai_client_token_usage_sum)",
            "native histograms",
        ),
        (
            "mad_over_time(gen_ai_client_token_usage_sum[5m])",
            "function \"mad_over_time\" is not enabled",
        ),
        (
            "limitk(1, gen_ai_client_token_usage_sum)",
            "limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
        ),
    ] {
        let e = h.err(q);
        assert_eq!(e.error_type(), "bad_data", "{q}");
        assert!(e.message().contains(says), "{q}: {e}");
    }
    // Enabled, they answer.
    let limits = QueryLimits::default().with_experimental_functions(true);
    for q in [
        "mad_over_time(gen_ai_client_token_usage_sum[5m])",
        "limitk(1, gen_ai_client_token_usage_sum)",
    ] {
        assert!(
            instant_query_with_limits(&h.store, q, (T0 + 3600) * 1000, &limits).is_ok(),
            "{q}"
        );
    }
    // Parse errors carry the parser's message.
    let e = h.err("sum(rate(x[5m])");
    assert_eq!(e.error_type(), "bad_data");
    assert!(!e.message().is_empty());
    let j = error_json(&e);
    assert_eq!(j["status"], "error");
    assert_eq!(j["errorType"], "bad_data");
}

#[test]
fn offset_at_and_raw_range_selectors() {
    let h = steady();
    let a_in = r#"gen_ai_client_token_usage_sum{service_name="svc-a",gen_ai_token_type="input"}"#;
    // offset 10m at T0+3600 reads T0+3000 → k = 300 → 30000.
    assert_eq!(
        h.vector(&format!("{a_in} offset 10m"), T0 + 3600)[0].1.v,
        30_000.0
    );
    // @ T0+100 → 1000, whatever the evaluation time.
    assert_eq!(
        h.vector(&format!("{a_in} @ {}", T0 + 100), T0 + 3600)[0]
            .1
            .v,
        1_000.0
    );
    // A range selector as the whole instant query: the raw samples in (t - 30s, t].
    let r = instant_query(&h.store, &format!("{a_in}[30s]"), (T0 + 3600) * 1000).unwrap();
    let QueryResult::Matrix(m) = r else { panic!() };
    assert_eq!(
        m[0].samples.iter().map(|s| s.v).collect::<Vec<_>>(),
        vec![35_800.0, 35_900.0, 36_000.0]
    );
    assert_eq!(m[0].labels["__name__"], "gen_ai_client_token_usage_sum");
}

#[test]
fn range_query_limits_and_scalars() {
    let h = steady();
    let bad = |q: &str, s: i64, e: i64, st: i64| range_query(&h.store, q, s, e, st).unwrap_err();
    assert!(bad("1", 0, 11_001_000, 1_000)
        .message()
        .contains("11,000 points"));
    assert!(bad("1", 0, 10, 0).message().contains("step"));
    assert!(bad("1", 10, 0, 1).message().contains("before start"));
    assert!(bad("x[5m]", 0, 10, 1).message().contains("range vector"));
    assert_eq!(
        bad("histogram_sum(x)", 0, 10, 1).error_type(),
        "bad_data",
        "native histograms are not stored"
    );
    // 11,000 steps exactly are fine; a scalar becomes one series with no labels.
    let QueryResult::Matrix(m) = range_query(&h.store, "2", 0, 11_000_000, 1_000).unwrap() else {
        panic!()
    };
    assert_eq!(m.len(), 1);
    assert!(m[0].labels.is_empty());
    assert_eq!(m[0].samples.len(), 11_001);
}

/// Times the seed's cache-hit query over 24 h of 10 s samples for 10 services × 4 token types
/// (40 `_sum` series of 8,640 samples, plus their `_bucket` and `_count` series).
/// Run: `cargo test --release -p vystak-otel-viewer --lib query::promql::tests::timing -- --ignored --nocapture`
#[test]
#[ignore = "timing, run in release by hand"]
fn timing_cache_hit_query_24h_10_services() {
    use std::time::Instant;
    let mut h = Harness::new();
    let built = Instant::now();
    let types = ["input", "output", "cache_read", "cache_creation"];
    for s in 0..10 {
        let service = format!("vystak-agent-{s}");
        for k in 1..=8_640i64 {
            for (i, tt) in types.iter().enumerate() {
                let k = k as u64;
                h.tokens(
                    &service,
                    tt,
                    false,
                    T0,
                    T0 + 10 * k as i64,
                    k,
                    (100 * (i as u64 + 1) * k) as f64,
                );
            }
        }
    }
    println!(
        "built {} series, {} samples in {:?}",
        h.store.series_count(),
        h.store.sample_count(),
        built.elapsed()
    );
    let end = T0 + 86_400;
    for _ in 0..2 {
        let t = Instant::now();
        let r = instant_query(&h.store, SEED_CACHE_RATIO, end * 1000).unwrap();
        println!("instant cache-hit query: {:?}", t.elapsed());
        assert_eq!(r.to_json()["result"].as_array().unwrap().len(), 10);
        let t = Instant::now();
        let r = instant_query(&h.store, SEED_INPUT, end * 1000).unwrap();
        println!("instant total-input query [1h]: {:?}", t.elapsed());
        drop(r);
        for step in [60_000, 10_000] {
            let t = Instant::now();
            let r = range_query(&h.store, SEED_CACHE_RATIO, T0 * 1000, end * 1000, step).unwrap();
            let elapsed = t.elapsed();
            let QueryResult::Matrix(m) = &r else { panic!() };
            println!(
                "range cache-hit query 24h step {}s: {:?} ({} series × {} points)",
                step / 1000,
                elapsed,
                m.len(),
                m[0].samples.len()
            );
            let t = Instant::now();
            let json = r.to_json().to_string();
            println!(
                "  to_json().to_string(): {:?} ({} bytes)",
                t.elapsed(),
                json.len()
            );
            let t = Instant::now();
            let fast = r.to_json_string();
            println!("  to_json_string(): {:?}", t.elapsed());
            assert_eq!(fast, json);
        }
    }
}

/// A store of `series` series of one metric, each with a sample every 15 s for an hour.
fn many_series(series: usize) -> MemorySeries {
    let mut store = MemorySeries::new();
    for i in 0..series {
        let labels: Labels = [("__name__", "load"), ("i", &i.to_string())]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for k in 0..240 {
            store.insert(
                labels.clone(),
                Sample {
                    t_ms: k * 15_000,
                    v: k as f64,
                },
            );
        }
    }
    store
}

/// Issue 27: the sample budget is checked while selecting (before the step matrix is built):
/// 100 series × 240 samples = 24,000 loaded samples against a budget of 10,000.
#[test]
fn a_query_past_the_sample_budget_fails_with_prometheus_error() {
    let store = many_series(100);
    let limits = QueryLimits::default().with_max_samples(10_000);
    let err =
        instant_query_with_limits(&store, "sum(rate(load[1h]))", 3_600_000, &limits).unwrap_err();
    assert_eq!(
        err,
        PromError::Execution(
            "query processing would load too many samples into memory in query execution".into()
        )
    );
    assert_eq!(err.http_status(), 422);
    // The step matrix counts too: 100 series × 721 steps of an instant selector.
    let err = range_query_with_limits(&store, "load", 0, 3_600_000, 5_000, &limits).unwrap_err();
    assert_eq!(err.error_type(), "execution");
    // Within the budget the same queries answer.
    let roomy = QueryLimits::default().with_max_samples(200_000);
    assert!(instant_query_with_limits(&store, "sum(rate(load[1h]))", 3_600_000, &roomy).is_ok());
    assert!(range_query_with_limits(&store, "load", 0, 3_600_000, 5_000, &roomy).is_ok());
}

/// Issue 27: the deadline is checked inside the evaluation, so a query past it stops (and frees
/// what it built) instead of running on after the API answered 503.
#[test]
fn a_query_past_its_deadline_stops_with_prometheus_timeout() {
    let store = many_series(10);
    let expired = QueryLimits::default().with_timeout(std::time::Duration::ZERO);
    let err = range_query_with_limits(
        &store,
        "sum(load) + sum(load)",
        0,
        3_600_000,
        15_000,
        &expired,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PromError::Timeout("query timed out in expression evaluation".into())
    );
    assert_eq!(err.http_status(), 503);
}

/// Issue 27: numbers in a query that do not fit a duration are `bad_data`, not a panic of the
/// upstream parser; offsets and ranges as long as the timestamps allow saturate.
#[test]
fn duration_numbers_that_do_not_fit_are_bad_data() {
    let store = many_series(1);
    for q in [
        "load[1e30]",
        "rate(load[1e30])",
        "load offset 1e400",
        "load offset -1e30",
        "load[5m:1e30]",
    ] {
        let err = instant_query(&store, q, 0).unwrap_err();
        assert_eq!(err.error_type(), "bad_data", "{q}: {err:?}");
    }
    for q in [
        "rate(load[300000000y])",
        "load offset -300000000y",
        "load[300000000y] offset 300000000y",
    ] {
        assert!(instant_query(&store, q, 3_600_000).is_ok(), "{q}");
    }
}
