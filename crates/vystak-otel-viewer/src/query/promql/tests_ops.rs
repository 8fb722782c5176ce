//! Operators, modifiers and functions over small hand-made series, each expected value worked
//! out from Prometheus' evaluation (`promql/engine.go`, `promql/functions.go`). The
//! differential test against real Prometheus (`tests/promtool_diff.rs`) covers them at scale.

use super::*;

/// Parses `name{a="b",…}` (values without quotes or commas).
fn labels(spec: &str) -> Labels {
    let (name, rest) = spec.split_once('{').unwrap_or((spec, "}"));
    let mut l = Labels::new();
    if !name.is_empty() {
        l.insert("__name__".into(), name.into());
    }
    for pair in rest
        .trim_end_matches('}')
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap();
        l.insert(k.into(), v.trim_matches('"').into());
    }
    l
}

/// Series every 10 s from 0 to `until_s`, value `f(t_s)`.
type Generator = fn(i64) -> f64;

fn store(series: &[(&str, Generator)], until_s: i64) -> MemorySeries {
    let mut s = MemorySeries::new();
    for (spec, f) in series {
        for t in (0..=until_s).step_by(10) {
            s.insert(
                labels(spec),
                Sample {
                    t_ms: t * 1000,
                    v: f(t),
                },
            );
        }
    }
    s
}

fn vector(src: &MemorySeries, q: &str, t_s: i64) -> Vec<(Labels, f64)> {
    match instant_query(src, q, t_s * 1000).unwrap_or_else(|e| panic!("{q}: {e}")) {
        QueryResult::Vector(v) => v.into_iter().map(|(l, s)| (l, s.v)).collect(),
        other => panic!("{q}: not a vector: {other:?}"),
    }
}

fn requests() -> MemorySeries {
    store(
        &[
            (r#"http_requests_total{code="200",job="api"}"#, |t| t as f64),
            (r#"http_requests_total{code="500",job="api"}"#, |t| {
                (t / 2) as f64
            }),
            (r#"http_requests_total{code="200",job="web"}"#, |t| {
                (3 * t) as f64
            }),
        ],
        600,
    )
}

/// Regression (issue 28): a comparison filter with `ignoring` answered 422 "multiple matches
/// for labels": the match group was marked used before the filter dropped the element.
/// Prometheus (`VectorBinop`) skips a filtered element before recording its match.
#[test]
fn a_comparison_filter_with_ignoring_marks_a_match_only_when_kept() {
    let s = requests();
    // Per job, the 200 series is the one side; the api job has two left elements (200: 600,
    // 500: 300) matching it: 600 >= 600 is kept, 300 >= 600 is dropped — one match, no error.
    let v = vector(
        &s,
        r#"http_requests_total >= ignoring(code) http_requests_total{code="200"}"#,
        600,
    );
    // One-to-one matching drops the ignored label from the result (`resultMetric`).
    let mut got: Vec<(String, f64)> = v
        .iter()
        .map(|(l, v)| {
            assert!(!l.contains_key("code"), "{l:?}");
            (l["job"].clone(), *v)
        })
        .collect();
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got, vec![("api".into(), 600.0), ("web".into(), 1800.0)]);
    // A comparison without `bool` keeps the metric name.
    assert!(v
        .iter()
        .all(|(l, _)| l["__name__"] == "http_requests_total"));
}

/// Regression (issue 28): with one side empty, the duplicate check still ran and answered 422;
/// Prometheus short-circuits to an empty vector.
#[test]
fn a_vector_operation_with_an_empty_side_is_empty() {
    let s = requests();
    for q in [
        "nonexistent_metric / ignoring(code) http_requests_total",
        "http_requests_total / ignoring(code) nonexistent_metric",
        "nonexistent_metric / on(job) http_requests_total",
    ] {
        assert!(vector(&s, q, 600).is_empty(), "{q}");
    }
}

/// Regression (issue 28): `@ end()` in a range query used the last step, not the query's end
/// (they differ when `end - start` is not a multiple of `step`).
#[test]
fn at_end_in_a_range_query_is_the_query_end_not_the_last_step() {
    let s = store(&[("x", |t| t as f64)], 8000);
    let QueryResult::Matrix(m) =
        range_query(&s, "x @ end()", 6_005_000, 7_395_000, 90_000).unwrap()
    else {
        panic!("not a matrix")
    };
    // The last step is 6005 + 15 × 90 = 7355 s; end() is 7395 s, whose newest sample is at 7390.
    assert!(
        m[0].samples.iter().all(|s| s.v == 7390.0),
        "{:?}",
        m[0].samples
    );
    let QueryResult::Matrix(m) =
        range_query(&s, "x @ start()", 6_005_000, 7_395_000, 90_000).unwrap()
    else {
        panic!("not a matrix")
    };
    assert!(m[0].samples.iter().all(|s| s.v == 6000.0));
}

/// One value per series, keyed by the listed label values joined with `/`.
fn by(v: &[(Labels, f64)], names: &[&str]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = v
        .iter()
        .map(|(l, v)| {
            let key: Vec<&str> = names
                .iter()
                .map(|n| l.get(*n).map(String::as_str).unwrap_or("-"))
                .collect();
            (key.join("/"), *v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn pairs(list: &[(&str, f64)]) -> Vec<(String, f64)> {
    list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn group_left_copies_labels_from_the_one_side() {
    let mut s = requests();
    for (spec, team) in [
        (r#"info{job="api",team="a"}"#, 1.0),
        (r#"info{job="web",team="b"}"#, 2.0),
    ] {
        s.insert(
            labels(spec),
            Sample {
                t_ms: 600_000,
                v: team,
            },
        );
    }
    let v = vector(
        &s,
        "http_requests_total * on(job) group_left(team) info",
        600,
    );
    // Arithmetic drops the name; the many side keeps its labels, `team` comes from `info`.
    assert!(v.iter().all(|(l, _)| !l.contains_key("__name__")));
    assert_eq!(
        by(&v, &["job", "code", "team"]),
        pairs(&[
            ("api/200/a", 600.0),
            ("api/500/a", 300.0),
            ("web/200/b", 3600.0)
        ])
    );
    // Without group_left, two api series match one info series: Prometheus' error.
    let e = instant_query(&s, "http_requests_total * on(job) info", 600_000).unwrap_err();
    assert!(
        e.message()
            .contains("many-to-one matching must be explicit"),
        "{e}"
    );
    // group_right: the right side is the many side.
    let v = vector(&s, "info * on(job) group_right http_requests_total", 600);
    assert_eq!(by(&v, &["job", "code"]).len(), 3);
}

#[test]
fn set_operators_follow_prometheus() {
    let s = requests();
    let v = vector(
        &s,
        r#"http_requests_total and http_requests_total{code="200"}"#,
        600,
    );
    assert_eq!(
        by(&v, &["job", "code"]),
        pairs(&[("api/200", 600.0), ("web/200", 1800.0)])
    );
    assert!(v
        .iter()
        .all(|(l, _)| l["__name__"] == "http_requests_total"));
    let v = vector(
        &s,
        r#"http_requests_total unless on(job) http_requests_total{code="500"}"#,
        600,
    );
    assert_eq!(by(&v, &["job", "code"]), pairs(&[("web/200", 1800.0)]));
    let v = vector(&s, r#"http_requests_total{job="web"} or vector(7)"#, 600);
    assert_eq!(by(&v, &["job"]), pairs(&[("-", 7.0), ("web", 1800.0)]));
}

#[test]
fn aggregations_with_parameters() {
    let s = requests();
    // Values at 600 s: api/200 600, api/500 300, web/200 1800.
    let v = vector(&s, "topk(1, http_requests_total)", 600);
    assert_eq!(by(&v, &["job", "code"]), pairs(&[("web/200", 1800.0)]));
    assert_eq!(
        v[0].0["__name__"], "http_requests_total",
        "topk keeps the series' labels"
    );
    let v = vector(&s, "bottomk by (job) (1, http_requests_total)", 600);
    assert_eq!(
        by(&v, &["job", "code"]),
        pairs(&[("api/500", 300.0), ("web/200", 1800.0)])
    );
    assert_eq!(vector(&s, "topk(0, http_requests_total)", 600), vec![]);
    // The median of 300, 600, 1800; the 0.25-quantile interpolates: 300 + 0.5 × 300.
    assert_eq!(
        vector(&s, "quantile(0.5, http_requests_total)", 600)[0].1,
        600.0
    );
    assert_eq!(
        vector(&s, "quantile(0.25, http_requests_total)", 600)[0].1,
        450.0
    );
    // Mean 900; squared deviations 360,000 + 90,000 + 810,000 = 1,260,000; / 3 = 420,000.
    assert_eq!(
        vector(&s, "stdvar(http_requests_total)", 600)[0].1,
        420_000.0
    );
    assert_eq!(
        vector(&s, "stddev(http_requests_total)", 600)[0].1,
        420_000f64.sqrt()
    );
    assert_eq!(
        by(
            &vector(&s, "group by (job) (http_requests_total)", 600),
            &["job"]
        ),
        pairs(&[("api", 1.0), ("web", 1.0)])
    );
    let v = vector(
        &s,
        r#"count_values by (job) ("value", http_requests_total)"#,
        600,
    );
    assert_eq!(
        by(&v, &["job", "value"]),
        pairs(&[("api/300", 1.0), ("api/600", 1.0), ("web/1800", 1.0)])
    );
}

#[test]
fn subqueries_align_to_their_step_and_are_left_open() {
    let s = requests();
    // At 600 s, [5m:1m] evaluates at the multiples of 60 s in (300 s, 600 s]: 360 … 600.
    let q = r#"min_over_time(http_requests_total{job="web"}[5m:1m])"#;
    assert_eq!(vector(&s, q, 600)[0].1, 3.0 * 360.0);
    let q = r#"count_over_time(http_requests_total{job="web"}[5m:1m])"#;
    assert_eq!(vector(&s, q, 600)[0].1, 5.0);
    // Nested: the rate of the web series is 3/s everywhere.
    let q = r#"max_over_time(rate(http_requests_total{job="web"}[1m])[5m:30s])"#;
    assert!((vector(&s, q, 600)[0].1 - 3.0).abs() < 1e-9);
    // As a whole query, a subquery is a matrix of its points.
    let r = instant_query(&s, r#"http_requests_total{job="web"}[2m:1m]"#, 600_000).unwrap();
    let QueryResult::Matrix(m) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        m[0].samples.iter().map(|s| s.t_ms).collect::<Vec<_>>(),
        vec![540_000, 600_000]
    );
}

#[test]
fn range_functions_over_windows() {
    let s = store(
        &[
            ("ramp", |t| t as f64),
            // 0, 10, 20, then a reset to 0 at 30 s, growing again.
            ("reset", |t| (t % 30) as f64),
        ],
        600,
    );
    assert_eq!(vector(&s, "deriv(ramp[1m])", 600)[0].1, 1.0);
    // Intercept at 600 s is 600; 60 s later: 660.
    assert!((vector(&s, "predict_linear(ramp[1m], 60)", 600)[0].1 - 660.0).abs() < 1e-9);
    // (540, 600]: 550 … 600 = 6 samples; sum 3,450; avg 575.
    assert_eq!(vector(&s, "count_over_time(ramp[1m])", 600)[0].1, 6.0);
    assert_eq!(vector(&s, "sum_over_time(ramp[1m])", 600)[0].1, 3450.0);
    assert_eq!(vector(&s, "avg_over_time(ramp[1m])", 600)[0].1, 575.0);
    assert_eq!(vector(&s, "last_over_time(ramp[1m])", 600)[0].1, 600.0);
    assert_eq!(vector(&s, "idelta(ramp[1m])", 600)[0].1, 10.0);
    // reset at 550..600: 10, 20, 0, 10, 20, 0 → two resets, five changes.
    assert_eq!(vector(&s, "resets(reset[1m])", 600)[0].1, 2.0);
    assert_eq!(vector(&s, "changes(reset[1m])", 600)[0].1, 5.0);
    assert_eq!(
        vector(&s, "quantile_over_time(0.5, reset[1m])", 600)[0].1,
        10.0
    );
    assert_eq!(
        vector(&s, r#"absent_over_time(nothing{job="x"}[1m])"#, 600)[0].0["job"],
        "x"
    );
    assert!(vector(&s, "absent_over_time(ramp[1m])", 600).is_empty());
    assert_eq!(vector(&s, "present_over_time(ramp[1m])", 600)[0].1, 1.0);
}

#[test]
fn instant_functions_and_labels() {
    let s = requests();
    let v = vector(&s, r#"absent(nonexistent{job="x",code=~"5.."})"#, 600);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, labels(r#"{job="x"}"#));
    assert!(vector(&s, "absent(http_requests_total)", 600).is_empty());
    // The newest sample before 605 s is at 600 s.
    let v = vector(&s, r#"timestamp(http_requests_total{job="web"})"#, 605);
    assert_eq!(v[0].1, 600.0);
    assert!(!v[0].0.contains_key("__name__"));
    let v = vector(
        &s,
        r#"label_replace(http_requests_total{job="web"}, "svc", "$1-x", "job", "(w.*)")"#,
        600,
    );
    assert_eq!(v[0].0["svc"], "web-x");
    assert_eq!(v[0].0["__name__"], "http_requests_total");
    let v = vector(
        &s,
        r#"label_join(http_requests_total{job="web"}, "id", ":", "job", "code")"#,
        600,
    );
    assert_eq!(v[0].0["id"], "web:200");
    let one = |q: &str| vector(&s, q, 600)[0].1;
    assert_eq!(one("abs(vector(-2.5))"), 2.5);
    assert_eq!(one("round(vector(2.5))"), 3.0);
    assert_eq!(one("round(vector(-2.5))"), -2.0, "ties round up");
    assert_eq!(one("round(vector(7), 5)"), 5.0);
    assert_eq!(one("clamp(vector(7), 0, 5)"), 5.0);
    assert_eq!(one("clamp_min(vector(-7), 0)"), 0.0);
    assert_eq!(one("sgn(vector(-3))"), -1.0);
    assert!(vector(&s, "clamp(vector(7), 5, 0)", 600).is_empty());
    // 2021-03-04T05:06:07Z = 1614834367.
    assert_eq!(one("year(vector(1614834367))"), 2021.0);
    assert_eq!(one("month(vector(1614834367))"), 3.0);
    assert_eq!(one("day_of_month(vector(1614834367))"), 4.0);
    assert_eq!(one("day_of_week(vector(1614834367))"), 4.0);
    assert_eq!(one("hour(vector(1614834367))"), 5.0);
    assert_eq!(one("minute(vector(1614834367))"), 6.0);
    assert_eq!(one("days_in_month(vector(1614834367))"), 31.0);
    assert_eq!(one("day_of_year(vector(1614834367))"), 63.0);
    match instant_query(&s, "scalar(http_requests_total)", 600_000).unwrap() {
        QueryResult::Scalar(x) => assert!(x.v.is_nan(), "three series: NaN"),
        other => panic!("{other:?}"),
    }
    match instant_query(&s, "time()", 600_000).unwrap() {
        QueryResult::Scalar(x) => assert_eq!(x.v, 600.0),
        other => panic!("{other:?}"),
    }
    // sort_desc orders the instant vector by value.
    let QueryResult::Vector(v) =
        instant_query(&s, "sort_desc(http_requests_total)", 600_000).unwrap()
    else {
        panic!()
    };
    let values: Vec<f64> = v.iter().map(|(_, s)| s.v).collect();
    assert_eq!(values, vec![1800.0, 600.0, 300.0]);
}

/// Regression (issue 28, found by `tests/promtool_diff.rs`): `count_values` without `by`
/// grouped everything into one `{}` series instead of one series per value.
#[test]
fn count_values_without_grouping_counts_each_value() {
    let mut s = requests();
    s.insert(
        labels(r#"http_requests_total{code="404",job="api"}"#),
        Sample {
            t_ms: 600_000,
            v: 600.0,
        },
    );
    let v = vector(&s, r#"count_values("value", http_requests_total)"#, 600);
    assert_eq!(
        by(&v, &["value"]),
        pairs(&[("1800", 1.0), ("300", 1.0), ("600", 2.0)])
    );
}

#[test]
fn histogram_fraction_over_classic_buckets() {
    let mut s = MemorySeries::new();
    for (le, count) in [("1", 10.0), ("2", 30.0), ("+Inf", 40.0)] {
        s.insert(
            labels(&format!(r#"latency_bucket{{le="{le}"}}"#)),
            Sample {
                t_ms: 600_000,
                v: count,
            },
        );
    }
    // (0, 1]: 10; half of (1, 2]: 10 more → 20 of 40.
    assert_eq!(
        vector(&s, "histogram_fraction(0, 1.5, latency_bucket)", 600)[0].1,
        0.5
    );
    // φ 0.5: rank 20 in (1, 2] → 1.5.
    assert_eq!(
        vector(&s, "histogram_quantile(0.5, latency_bucket)", 600)[0].1,
        1.5
    );
}

#[test]
fn limit_ratio_samples_by_label_hash_and_its_complement_is_the_rest() {
    let mut s = MemorySeries::new();
    for i in 0..200 {
        s.insert(
            labels(&format!(r#"x{{pod="p{i}"}}"#)),
            Sample {
                t_ms: 600_000,
                v: 1.0,
            },
        );
    }
    let limits = QueryLimits::default().with_experimental_functions(true);
    let run = |q: &str| -> Vec<String> {
        match instant_query_with_limits(&s, q, 600_000, &limits).unwrap() {
            QueryResult::Vector(v) => v.into_iter().map(|(l, _)| l["pod"].clone()).collect(),
            other => panic!("{other:?}"),
        }
    };
    let half = run("limit_ratio(0.5, x)");
    let rest = run("limit_ratio(-0.5, x)");
    // Prometheus: `limit_ratio(r, v)` and `limit_ratio(-(1 - r), v)` partition v.
    assert!(half.iter().all(|p| !rest.contains(p)));
    assert_eq!(half.len() + rest.len(), 200);
    assert!((60..=140).contains(&half.len()), "{}", half.len());
    assert_eq!(run("limit_ratio(1, x)").len(), 200);
    assert!(run("limit_ratio(0, x)").is_empty());
    // The same series at every evaluation: the hash, not chance, decides.
    assert_eq!(run("limit_ratio(0.5, x)"), half);
}
