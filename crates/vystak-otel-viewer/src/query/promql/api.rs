//! Helpers for the other endpoints of Prometheus' HTTP API: `/api/v1/series`, `/api/v1/labels`,
//! `/api/v1/label/<name>/values`, and the parsing of `time`/`start`/`end`/`step` parameters.

use std::collections::BTreeSet;

use promql_parser::parser::Expr;

use super::eval::selector_matchers;
use super::{LabelMatcher, Labels, MatchOp, PromError, SeriesSource};

/// Parses each `match[]` selector (e.g. `up{job="x"}`) into its matchers.
fn parse_match_sets<S: AsRef<str>>(matchers: &[S]) -> Result<Vec<Vec<LabelMatcher>>, PromError> {
    matchers
        .iter()
        .map(|m| {
            let m = m.as_ref();
            match super::parse::parse(m) {
                Ok(Expr::VectorSelector(vs)) => {
                    let set = selector_matchers(&vs)?;
                    // Prometheus: a selector that matches the empty label set selects everything.
                    if set.iter().all(|matcher| matcher.matches("")) {
                        return Err(PromError::BadData(
                            "invalid parameter \"match[]\": match[] must contain at least one \
                             non-empty matcher"
                                .into(),
                        ));
                    }
                    Ok(set)
                }
                Ok(_) => Err(PromError::BadData(format!(
                    "invalid parameter \"match[]\": {m:?} is not a series selector"
                ))),
                Err(e) => Err(PromError::BadData(format!(
                    "invalid parameter \"match[]\": {}",
                    e.message()
                ))),
            }
        })
        .collect()
}

/// The union of the series matching any selector; every series when there is none.
fn matching_series<S: AsRef<str>>(
    src: &dyn SeriesSource,
    matchers: &[S],
    start_ms: i64,
    end_ms: i64,
) -> Result<BTreeSet<Labels>, PromError> {
    let mut sets = parse_match_sets(matchers)?;
    if sets.is_empty() {
        sets.push(vec![LabelMatcher::new("__name__", MatchOp::Regex, ".+")]);
    }
    let mut out = BTreeSet::new();
    for set in sets {
        super::MatcherSet::new(&set)?;
        out.extend(
            src.select(&set, start_ms, end_ms)
                .into_iter()
                .map(|s| s.labels),
        );
    }
    Ok(out)
}

/// `/api/v1/series`: the label sets of the series matching any of the `match[]` selectors with
/// a sample in `[start_ms, end_ms]`, sorted.
///
/// # Errors
/// [`PromError::BadData`] when no selector is given or one does not parse.
pub fn series<S: AsRef<str>>(
    src: &dyn SeriesSource,
    matchers: &[S],
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<Labels>, PromError> {
    if matchers.is_empty() {
        return Err(PromError::BadData("no match[] parameter provided".into()));
    }
    Ok(matching_series(src, matchers, start_ms, end_ms)?
        .into_iter()
        .collect())
}

/// `/api/v1/labels`: the label names of the matching series (all series when `matchers` is
/// empty), sorted.
///
/// # Errors
/// [`PromError::BadData`] when a selector does not parse.
pub fn label_names<S: AsRef<str>>(
    src: &dyn SeriesSource,
    matchers: &[S],
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<String>, PromError> {
    let series = matching_series(src, matchers, start_ms, end_ms)?;
    let names: BTreeSet<&str> = series
        .iter()
        .flat_map(|l| l.keys().map(String::as_str))
        .collect();
    Ok(names.into_iter().map(str::to_string).collect())
}

/// `/api/v1/label/<name>/values`: the values of label `name` in the matching series (all
/// series when `matchers` is empty), sorted.
///
/// # Errors
/// [`PromError::BadData`] when a selector does not parse.
pub fn label_values<S: AsRef<str>>(
    src: &dyn SeriesSource,
    name: &str,
    matchers: &[S],
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<String>, PromError> {
    let series = matching_series(src, matchers, start_ms, end_ms)?;
    let values: BTreeSet<&str> = series
        .iter()
        .filter_map(|l| l.get(name).map(String::as_str))
        .collect();
    Ok(values.into_iter().map(str::to_string).collect())
}

/// Parses a Prometheus API timestamp (`time`, `start`, `end`): Unix seconds as a float
/// (`1712345678.123`) or RFC 3339 (`2024-04-05T19:34:38.123Z`), to ms since the epoch.
///
/// ```
/// use vystak_otel_viewer::query::promql::parse_time;
/// assert_eq!(parse_time("1712345678.123").unwrap(), 1_712_345_678_123);
/// assert_eq!(parse_time("2024-04-05T19:34:38.123Z").unwrap(), 1_712_345_678_123);
/// ```
///
/// # Errors
/// [`PromError::BadData`] `cannot parse "…" to a valid timestamp`.
pub fn parse_time(s: &str) -> Result<i64, PromError> {
    let err = || PromError::BadData(format!("cannot parse {s:?} to a valid timestamp"));
    if let Ok(t) = s.parse::<f64>() {
        if !t.is_finite() || t.abs() > 9.2e15 {
            return Err(err());
        }
        // Go: s, ns := math.Modf(t); ns = math.Round(ns*1000) / 1000
        let whole = t.trunc();
        let frac_ms = ((t - whole) * 1000.0).round();
        // |t| ≤ 9.2e15 s: the product fits i64 (checked anyway, never wrapped).
        #[allow(clippy::cast_possible_truncation)]
        let (whole, frac_ms) = (whole as i64, frac_ms as i64);
        return whole
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(frac_ms))
            .ok_or_else(err);
    }
    // RFC 3339 as Go's `time.RFC3339Nano` reads it: `T` (or `t`) between date and time.
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        return Err(err());
    }
    crate::model::time::parse_rfc3339_nanos(s)
        .ok()
        .and_then(|ns| i64::try_from(ns.div_euclid(1_000_000)).ok())
        .ok_or_else(err)
}

/// Parses a Prometheus duration (`step`, `timeout`): float seconds (`15`, `0.5`) or a duration
/// such as `15s`, `5m`, `1h30m`, `2d`, `1w`, `1y`, `100ms`, to ms.
///
/// ```
/// use vystak_otel_viewer::query::promql::parse_duration_or_seconds;
/// assert_eq!(parse_duration_or_seconds("15s").unwrap(), 15_000);
/// assert_eq!(parse_duration_or_seconds("1h30m").unwrap(), 5_400_000);
/// assert_eq!(parse_duration_or_seconds("0.5").unwrap(), 500);
/// ```
///
/// # Errors
/// [`PromError::BadData`] `cannot parse "…" to a valid duration`.
pub fn parse_duration_or_seconds(s: &str) -> Result<i64, PromError> {
    let err = || PromError::BadData(format!("cannot parse {s:?} to a valid duration"));
    if let Ok(d) = s.parse::<f64>() {
        let ns = d * 1e9;
        if !ns.is_finite() || ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(PromError::BadData(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            )));
        }
        // Finite and within i64 (checked above): the cast is exact up to float precision.
        #[allow(clippy::cast_possible_truncation)]
        let ns = ns as i64;
        return Ok(ns / 1_000_000);
    }
    // A unit duration (`5m`, `1h30m`): the one duration parser of the crate (PromQL's own,
    // through `crate::model::time::parse_duration`).
    crate::model::time::parse_duration(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::super::{MemorySeries, Sample};
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("0").unwrap(), 0);
        assert_eq!(parse_time("1.5").unwrap(), 1_500);
        assert_eq!(parse_time("1712345678").unwrap(), 1_712_345_678_000);
        // 2024-04-05: days_from_civil = 19818 (2024-01-01 is day 19723, + 31 + 29 + 31 + 4 = 95).
        assert_eq!(
            parse_time("2024-04-05T00:00:00Z").unwrap(),
            19_818 * 86_400_000
        );
        assert_eq!(
            parse_time("2024-04-05T02:00:00+02:00").unwrap(),
            19_818 * 86_400_000
        );
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").unwrap(), 1_500);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2024-13-05T00:00:00Z").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_or_seconds("60").unwrap(), 60_000);
        assert_eq!(parse_duration_or_seconds("5m").unwrap(), 300_000);
        assert_eq!(parse_duration_or_seconds("1d2h").unwrap(), 93_600_000);
        assert_eq!(parse_duration_or_seconds("250ms").unwrap(), 250);
        assert!(parse_duration_or_seconds("2h1d").is_err()); // wrong order
        assert!(parse_duration_or_seconds("5x").is_err());
        assert!(parse_duration_or_seconds("").is_err());
    }

    #[test]
    fn series_and_labels() {
        let mut m = MemorySeries::new();
        let l = |name: &str, job: &str| -> Labels {
            [("__name__", name), ("job", job)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        m.insert(
            l("up", "a"),
            Sample {
                t_ms: 1_000,
                v: 1.0,
            },
        );
        m.insert(
            l("up", "b"),
            Sample {
                t_ms: 1_000,
                v: 1.0,
            },
        );
        m.insert(
            l("other", "c"),
            Sample {
                t_ms: 5_000,
                v: 1.0,
            },
        );
        let s = series(&m, &[r#"up{job=~"a|c"}"#, "other"], 0, 10_000).unwrap();
        assert_eq!(s, vec![l("other", "c"), l("up", "a")]);
        assert!(series(&m, &["up"], 2_000, 3_000).unwrap().is_empty());
        assert_eq!(
            series::<&str>(&m, &[], 0, 1).unwrap_err().error_type(),
            "bad_data"
        );
        assert_eq!(
            series(&m, &["rate(up[5m])"], 0, 1)
                .unwrap_err()
                .error_type(),
            "bad_data"
        );
        assert_eq!(
            label_names::<&str>(&m, &[], 0, 10_000).unwrap(),
            vec!["__name__", "job"]
        );
        assert_eq!(
            label_values(&m, "job", &["up"], 0, 10_000).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(
            label_values::<&str>(&m, "__name__", &[], 0, 10_000).unwrap(),
            vec!["other", "up"]
        );
    }
}
