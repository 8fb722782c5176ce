//! Functions: `rate`, `increase`, `irate` and `histogram_quantile`, ported from Prometheus 3.x
//! (`promql/functions.go` `extrapolatedRate` and `instantValue`, `promql/quantile.go`
//! `bucketQuantile`).

use std::collections::HashMap;

use promql_parser::parser::{Call, Expr};

use super::eval::{duration_ms, merge_same_labels, Ctx, StepSeries, Val};
use super::{Labels, PromError, Sample};

/// Evaluates a function call.
pub(crate) fn call(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let name = call.func.name;
    match name {
        "rate" => range_function(ctx, call, |w, start, end, range| {
            extrapolated_rate(w, start, end, range, true, true)
        }),
        "increase" => range_function(ctx, call, |w, start, end, range| {
            extrapolated_rate(w, start, end, range, true, false)
        }),
        "irate" => range_function(ctx, call, |w, _, _, _| instant_rate(w)),
        "histogram_quantile" => histogram_quantile(ctx, call),
        _ => Err(PromError::unsupported(format!("function \"{name}\""))),
    }
}

/// Applies `f(window, range_start, range_end, range_ms)` to the samples of each series in
/// `(t - range, t]` at each step; the output drops `__name__`.
fn range_function(
    ctx: &Ctx<'_>,
    call: &Call,
    f: impl Fn(&[Sample], i64, i64, i64) -> Option<f64>,
) -> Result<Val, PromError> {
    let mut arg: &Expr = &call.args.args[0];
    while let Expr::Paren(p) = arg {
        arg = &p.expr;
    }
    let ms = match arg {
        Expr::MatrixSelector(ms) => ms,
        Expr::Subquery(_) => return Err(PromError::unsupported("subquery")),
        _ => {
            return Err(PromError::BadData(format!(
                "expected a range vector selector in call to function \"{}\"",
                call.func.name
            )))
        }
    };
    let range_ms = duration_ms(ms.range);
    let sel = ctx.select(&ms.vs, range_ms)?;
    let mut out = Vec::with_capacity(sel.series.len());
    for mut s in sel.series {
        ctx.charge(sel.times.len())?;
        let values: Vec<Option<f64>> = sel
            .times
            .iter()
            .map(|&t| {
                let from = t.saturating_sub(range_ms);
                let lo = s.samples.partition_point(|x| x.t_ms <= from);
                let hi = s.samples.partition_point(|x| x.t_ms <= t);
                f(&s.samples[lo..hi.max(lo)], from, t, range_ms)
            })
            .collect();
        s.labels.remove("__name__");
        out.push(StepSeries {
            labels: s.labels,
            values,
        });
    }
    merge_same_labels(out).map(Val::Vector)
}

/// Prometheus' `extrapolatedRate` for float samples (Prometheus 3.x): the increase between the
/// first and last sample of the window, corrected for counter resets, extrapolated towards the
/// window boundaries — all the way when the gap is under 1.1 × the average sample interval,
/// else by half an interval, and (for counters) never below the counter's zero point.
/// `None` with fewer than two samples.
// Ports of Prometheus' float arithmetic: f64 never panics (NaN and ±Inf propagate as in Go),
// and every index below is guarded by the length checks at the top.
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn extrapolated_rate(
    w: &[Sample],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (first, last) = (w[0], w[w.len() - 1]);
    let mut result = last.v - first.v;
    if is_counter {
        for pair in w.windows(2) {
            if pair[1].v < pair[0].v {
                result += pair[0].v;
            }
        }
    }
    // In f64: a window as long as the timestamps allow (`x[300000000y]`) must not overflow.
    let secs = |from: i64, to: i64| (to as f64 - from as f64) / 1000.0;
    let mut duration_to_start = secs(range_start, first.t_ms);
    let mut duration_to_end = secs(last.t_ms, range_end);
    let sampled_interval = secs(first.t_ms, last.t_ms);
    let average_between_samples = sampled_interval / (w.len() - 1) as f64;
    let threshold = average_between_samples * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average_between_samples / 2.0;
    }
    if is_counter {
        let mut duration_to_zero = duration_to_start;
        if result > 0.0 && first.v >= 0.0 {
            duration_to_zero = sampled_interval * (first.v / result);
        }
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average_between_samples / 2.0;
    }
    let mut factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Prometheus' `instantValue` with `isRate` (`irate`): the per-second rate between the last
/// two samples; after a counter reset, the last value over the interval.
// Ports of Prometheus' float arithmetic: f64 never panics (NaN and ±Inf propagate as in Go),
// and every index below is guarded by the length checks at the top.
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn instant_rate(w: &[Sample]) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (prev, last) = (w[w.len() - 2], w[w.len() - 1]);
    let mut v = last.v;
    if last.v.partial_cmp(&prev.v) != Some(std::cmp::Ordering::Less) {
        v = last.v - prev.v;
    }
    if last.t_ms == prev.t_ms {
        return None;
    }
    Some(v / ((last.t_ms as f64 - prev.t_ms as f64) / 1000.0))
}

pub(crate) fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// `histogram_quantile(φ, v)` over classic `_bucket` series: groups `v` by its labels without
/// `le`, and computes [`bucket_quantile`] per group and step. Series without a parsable `le`
/// are ignored, as in Prometheus.
fn histogram_quantile(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let phi = match ctx.eval(&call.args.args[0])? {
        Val::Scalar(v) => v,
        _ => {
            return Err(PromError::BadData(
                "histogram_quantile: φ must be a scalar".into(),
            ))
        }
    };
    let Val::Vector(input) = ctx.eval(&call.args.args[1])? else {
        return Err(PromError::BadData(
            "histogram_quantile: expected an instant vector".into(),
        ));
    };
    // group key (labels without le) → (output labels, [(upper bound, series index)])
    let mut groups: HashMap<Labels, (Labels, Vec<(f64, usize)>)> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        let Some(le) = s.labels.get("le").and_then(|le| parse_le(le)) else {
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        let entry = groups.entry(key).or_insert_with_key(|k| {
            let mut out = k.clone();
            out.remove("__name__");
            (out, Vec::new())
        });
        entry.1.push((le, i));
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for (_, (labels, members)) in groups {
        let values = (0..ctx.n())
            .map(|step| {
                buckets.clear();
                buckets.extend(
                    members
                        .iter()
                        .filter_map(|&(le, i)| input[i].values[step].map(|v| (le, v))),
                );
                (!buckets.is_empty()).then(|| bucket_quantile(phi[step], &mut buckets))
            })
            .collect();
        out.push(StepSeries { labels, values });
    }
    merge_same_labels(out).map(Val::Vector)
}

/// Prometheus' `bucketQuantile`: `buckets` are (upper bound, cumulative count). Sorts them,
/// requires a `+Inf` bucket, merges equal bounds, fixes float precision errors (relative 1e-12)
/// and non-monotonic counts, then interpolates linearly inside the bucket holding rank φ·count
/// (the lowest bucket starts at 0 unless its bound is ≤ 0; a rank in the `+Inf` bucket answers
/// the highest finite bound).
// Ports of Prometheus' float arithmetic: f64 never panics (NaN and ±Inf propagate as in Go),
// and every index below is guarded by the length checks at the top.
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // coalesceBuckets
    buckets.dedup_by(|cur, prev| {
        if cur.0 == prev.0 {
            prev.1 += cur.1;
            true
        } else {
            false
        }
    });
    // correctPrecisionErrors(buckets, 1e-12)
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let delta = (b.1 - prev).abs();
        if delta == 0.0 {
            continue;
        }
        if delta / b.1 <= 1e-12 {
            b.1 = prev;
        } else {
            prev = b.1;
        }
    }
    // ensureMonotonic
    let mut max = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = buckets.len();
    let b = buckets[..n - 1].partition_point(|b| b.1 < rank);
    if b == n - 1 {
        return buckets[n - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].0;
    let mut count = buckets[b].1;
    if b > 0 {
        bucket_start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_s: i64, v: f64) -> Sample {
        Sample {
            t_ms: t_s * 1000,
            v,
        }
    }

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // Window (0 s, 60 s], samples every 10 s from 10 s to 60 s: 0,10,…,50.
        // increase = 50; sampled 50 s, avg 10 s, threshold 11 s.
        // to start = 10 s < 11 → keep 10; zero point: 50 · (0/50) = 0 < 10 → start 0.
        // to end = 0. factor = (50 + 0 + 0)/50 = 1 → increase 50, rate 50/60.
        let w: Vec<Sample> = (1..=6).map(|i| s(i * 10, ((i - 1) * 10) as f64)).collect();
        assert_eq!(
            extrapolated_rate(&w, 0, 60_000, 60_000, true, false),
            Some(50.0)
        );
        // Starting at 100 instead: zero point 50·(100/50) = 100 s > 10 → to start 10.
        // factor (50 + 10)/50 = 1.2 → 60.
        let w: Vec<Sample> = (1..=6)
            .map(|i| s(i * 10, 100.0 + ((i - 1) * 10) as f64))
            .collect();
        let inc = extrapolated_rate(&w, 0, 60_000, 60_000, true, false).unwrap();
        assert!((inc - 60.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn rate_with_gaps_extrapolates_half_an_interval() {
        // Window (0, 300 s]; samples at 100 s = 10, 110 s = 20, 120 s = 30.
        // increase 20, sampled 20 s, avg 10 s, threshold 11 s.
        // to start 100 s ≥ 11 → 5 s; zero point 20·(10/20) = 10 s > 5 → keep 5.
        // to end 180 s ≥ 11 → 5 s. factor (20+5+5)/20 = 1.5 → increase 30; rate 30/300 = 0.1.
        let w = [s(100, 10.0), s(110, 20.0), s(120, 30.0)];
        let r = extrapolated_rate(&w, 0, 300_000, 300_000, true, true).unwrap();
        assert!((r - 0.1).abs() < 1e-12, "{r}");
        assert_eq!(
            extrapolated_rate(&w[..1], 0, 300_000, 300_000, true, true),
            None
        );
    }

    #[test]
    fn counter_reset_is_corrected() {
        // 10, 20, 5 (reset), 15 at 10..40 s in window (9 s, 40 s]:
        // raw 15 - 10 = 5, plus 20 at the reset = 25. sampled 30 s, avg 10, threshold 11.
        // to start 1 s; zero point 30·(10/25) = 12 > 1 → 1. to end 0.
        // factor (30 + 1)/30 → increase 25·31/30 = 25.8333…
        let w = [s(10, 10.0), s(20, 20.0), s(30, 5.0), s(40, 15.0)];
        let inc = extrapolated_rate(&w, 9_000, 40_000, 31_000, true, false).unwrap();
        assert!((inc - 25.0 * 31.0 / 30.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn irate_uses_the_last_two_samples() {
        // (30 - 20)/10 s = 1/s; after a reset 5 at 40 s: 5/10 s = 0.5/s.
        assert_eq!(
            instant_rate(&[s(10, 10.0), s(20, 20.0), s(30, 30.0)]),
            Some(1.0)
        );
        assert_eq!(instant_rate(&[s(30, 30.0), s(40, 5.0)]), Some(0.5));
        assert_eq!(instant_rate(&[s(30, 30.0)]), None);
    }

    #[test]
    fn bucket_quantile_cases() {
        let inf = f64::INFINITY;
        // le 1: 10, le 2: 30, +Inf: 40. φ 0.5 → rank 20 → bucket (1, 2], 20 in it:
        // 1 + (2 - 1)·((20 - 10)/20) = 1.5.
        let mut b = vec![(inf, 40.0), (2.0, 30.0), (1.0, 10.0)];
        assert_eq!(bucket_quantile(0.5, &mut b), 1.5);
        // φ 0.9 → rank 36 > 30 → +Inf bucket → highest finite bound 2.
        assert_eq!(
            bucket_quantile(0.9, &mut vec![(1.0, 10.0), (2.0, 30.0), (inf, 40.0)]),
            2.0
        );
        // φ 0.1 → rank 4 in the first bucket (0, 1]: 0 + 1·(4/10) = 0.4.
        assert_eq!(
            bucket_quantile(0.1, &mut vec![(1.0, 10.0), (2.0, 30.0), (inf, 40.0)]),
            0.4
        );
        // No +Inf bucket, no observations, φ out of range.
        assert!(bucket_quantile(0.5, &mut vec![(1.0, 10.0)]).is_nan());
        assert!(bucket_quantile(0.5, &mut vec![(1.0, 0.0), (inf, 0.0)]).is_nan());
        assert_eq!(bucket_quantile(1.5, &mut vec![(inf, 1.0)]), inf);
        assert_eq!(
            bucket_quantile(-1.0, &mut vec![(inf, 1.0)]),
            f64::NEG_INFINITY
        );
        // Non-monotonic counts are forced up: le 2 = 5 < 10 becomes 10; rank 0.5·20 = 10 is
        // reached in the first bucket: 0 + 1·(10/10) = 1.
        assert_eq!(
            bucket_quantile(0.5, &mut vec![(1.0, 10.0), (2.0, 5.0), (inf, 20.0)]),
            1.0
        );
    }
}
