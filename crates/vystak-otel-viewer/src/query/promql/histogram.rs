//! `histogram_quantile` and `histogram_fraction` over classic `_bucket` series, ported from
//! Prometheus 3.x (`promql/quantile.go` `bucketQuantile`, `BucketFraction`). Native histograms
//! are not stored by this viewer.

use std::collections::HashMap;

use promql_parser::parser::{Call, Expr};

use super::eval::{merge_same_labels, Ctx, StepSeries, Val};
use super::range_functions::scalar_arg;
use super::{Labels, PromError};

pub(crate) fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// `histogram_quantile(φ, v)` over classic `_bucket` series: [`bucket_quantile`] per group
/// (the labels without `le` and `__name__`) and step.
pub(crate) fn histogram_quantile(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let phi = scalar_arg(ctx, &call.args.args[0], "histogram_quantile")?;
    classic(
        ctx,
        &call.args.args[1],
        "histogram_quantile",
        |step, buckets| bucket_quantile(phi[step], buckets),
    )
}

/// `histogram_fraction(lower, upper, v)` over classic `_bucket` series (Prometheus 3.4+):
/// [`bucket_fraction`] per group and step.
pub(crate) fn histogram_fraction(ctx: &Ctx<'_>, call: &Call) -> Result<Val, PromError> {
    let lower = scalar_arg(ctx, &call.args.args[0], "histogram_fraction")?;
    let upper = scalar_arg(ctx, &call.args.args[1], "histogram_fraction")?;
    classic(
        ctx,
        &call.args.args[2],
        "histogram_fraction",
        |step, buckets| bucket_fraction(lower[step], upper[step], buckets),
    )
}

/// Groups the `_bucket` series of `arg` as Prometheus' `signatureToMetricWithBuckets` (by
/// their labels without `le` and `__name__`; series without a parsable `le` are ignored) and
/// computes `f(step, buckets)` for each group with buckets at the step.
fn classic(
    ctx: &Ctx<'_>,
    arg: &Expr,
    function: &str,
    f: impl Fn(usize, &mut Vec<(f64, f64)>) -> f64,
) -> Result<Val, PromError> {
    let Val::Vector(input) = ctx.eval(arg)? else {
        return Err(PromError::BadData(format!(
            "expected type instant vector in call to function \"{function}\""
        )));
    };
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
    for (i, s) in input.iter().enumerate() {
        let Some(le) = s.labels.get("le").and_then(|le| parse_le(le)) else {
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        key.remove("__name__");
        let g = *index.entry(key).or_insert_with_key(|k| {
            groups.push((k.clone(), Vec::new()));
            groups.len().saturating_sub(1)
        });
        groups[g].1.push((le, i));
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for (labels, members) in groups {
        let values = (0..ctx.n())
            .map(|step| {
                buckets.clear();
                buckets.extend(
                    members
                        .iter()
                        .filter_map(|&(le, i)| input[i].values[step].map(|v| (le, v))),
                );
                (!buckets.is_empty()).then(|| f(step, &mut buckets))
            })
            .collect();
        out.push(StepSeries { labels, values });
    }
    merge_same_labels(out).map(Val::Vector)
}

/// Sorts `buckets` by upper bound and merges equal bounds (Prometheus' `coalesceBuckets`);
/// `false` when there is no `+Inf` bucket (the answer is then NaN).
#[allow(clippy::arithmetic_side_effects)]
fn sort_and_coalesce(buckets: &mut Vec<(f64, f64)>) -> bool {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return false;
    }
    buckets.dedup_by(|cur, prev| {
        if cur.0 == prev.0 {
            prev.1 += cur.1;
            true
        } else {
            false
        }
    });
    true
}

/// Prometheus' `BucketFraction`: the estimated fraction of observations between `lower` and
/// `upper`, interpolating linearly inside the buckets (the lowest starts at 0 unless its bound
/// is ≤ 0; nothing is interpolated in an infinite bucket).
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    if !sort_and_coalesce(buckets) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].0 <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, &(upper_bound, bucket_count)) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].0;
        }
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                bucket_count
            } else {
                rank + (bucket_count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = bucket_count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
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
    if !sort_and_coalesce(buckets) {
        return f64::NAN;
    }
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
