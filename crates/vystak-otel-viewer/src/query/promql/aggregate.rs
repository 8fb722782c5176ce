//! Aggregations over groups of series (`by (…)` / `without (…)`), ported from Prometheus 3.x'
//! `aggregation` in `promql/engine.go`: `sum`, `avg`, `min`, `max`, `count`, `group`,
//! `stddev`, `stdvar` here; the ones with a parameter (`topk`, `bottomk`, `quantile`,
//! `count_values`, `limitk`) in `aggregate_k`.

use std::collections::HashMap;

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMITK, T_LIMIT_RATIO, T_MAX, T_MIN,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::aggregate_k;
use super::eval::{Ctx, StepSeries, Val};
use super::{Labels, PromError};

/// Prometheus' `quantile` (`promql/quantile.go`): the φ-quantile of `values` by linear
/// interpolation between the closest ranks (NaN sorts first); NaN for no values or φ NaN,
/// ∓Inf for φ below 0 / above 1.
#[allow(
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Prometheus' `kahanSumInc` (Kahan–Neumaier compensated summation).
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The output labels of a series in its group.
pub(crate) fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::new(),
        Some(LabelModifier::Include(by)) => by
            .labels
            .iter()
            .filter_map(|name| {
                labels
                    .get(name)
                    .filter(|v| !v.is_empty())
                    .map(|v| (name.clone(), v.clone()))
            })
            .collect(),
        Some(LabelModifier::Exclude(without)) => labels
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__" && !without.labels.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[derive(Clone, Copy)]
enum Op {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
    Stddev,
    Stdvar,
}

#[derive(Clone, Copy, Default)]
struct Acc {
    n: f64,
    value: f64,
    c: f64,
    mean: f64,
    incremental: bool,
}

impl Acc {
    fn add(&mut self, op: Op, f: f64) {
        self.n += 1.0;
        if self.n == 1.0 {
            self.value = f;
            self.c = 0.0;
            if matches!(op, Op::Stddev | Op::Stdvar) {
                // Welford's algorithm: the mean, and the sum of squared deviations.
                self.mean = f;
                self.value = if f.is_finite() { 0.0 } else { f64::NAN };
            }
            return;
        }
        match op {
            Op::Group => {}
            Op::Stddev | Op::Stdvar => {
                let delta = f - self.mean;
                self.mean += delta / self.n;
                self.value += delta * (f - self.mean);
            }
            Op::Sum => (self.value, self.c) = kahan_sum_inc(f, self.value, self.c),
            Op::Count => {}
            Op::Max => {
                if self.value < f || self.value.is_nan() {
                    self.value = f;
                }
            }
            Op::Min => {
                if self.value > f || self.value.is_nan() {
                    self.value = f;
                }
            }
            Op::Avg => {
                // Prometheus 3: direct mean with Kahan summation while the sum does not
                // overflow, then an incremental mean.
                if !self.incremental {
                    let (v, c) = kahan_sum_inc(f, self.value, self.c);
                    if !v.is_infinite() {
                        (self.value, self.c) = (v, c);
                        return;
                    }
                    self.incremental = true;
                    self.mean = self.value / (self.n - 1.0);
                    self.c /= self.n - 1.0;
                }
                if self.mean.is_infinite() {
                    if f.is_infinite() && (self.mean > 0.0) == (f > 0.0) {
                        return;
                    }
                    if !f.is_infinite() && !f.is_nan() {
                        return;
                    }
                }
                let q = (self.n - 1.0) / self.n;
                (self.mean, self.c) = kahan_sum_inc(f / self.n, q * self.mean, q * self.c);
            }
        }
    }

    fn result(&self, op: Op) -> f64 {
        match op {
            Op::Sum => self.value + self.c,
            Op::Count => self.n,
            Op::Group => 1.0,
            Op::Stdvar => self.value / self.n,
            Op::Stddev => (self.value / self.n).sqrt(),
            Op::Min | Op::Max => self.value,
            Op::Avg if self.incremental => self.mean + self.c,
            Op::Avg => self.value / self.n + self.c / self.n,
        }
    }
}

/// Evaluates an aggregation.
pub(crate) fn aggregate(ctx: &Ctx<'_>, agg: &AggregateExpr) -> Result<Val, PromError> {
    let op = match agg.op.id() {
        T_SUM => Op::Sum,
        T_AVG => Op::Avg,
        T_MIN => Op::Min,
        T_MAX => Op::Max,
        T_COUNT => Op::Count,
        T_GROUP => Op::Group,
        T_STDDEV => Op::Stddev,
        T_STDVAR => Op::Stdvar,
        T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO | T_QUANTILE | T_COUNT_VALUES => {
            return aggregate_k::aggregate(ctx, agg)
        }
        _ => {
            return Err(PromError::unsupported(format!(
                "aggregation \"{}\"",
                agg.op
            )))
        }
    };
    let Val::Vector(input) = ctx.eval(&agg.expr)? else {
        return Err(PromError::BadData(format!(
            "expected an instant vector in aggregation \"{}\"",
            agg.op
        )));
    };
    let n = ctx.n();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<Acc>)> = Vec::new();
    for s in &input {
        let key = group_labels(&s.labels, &agg.modifier);
        let g = *index.entry(key).or_insert_with_key(|k| {
            groups.push((k.clone(), vec![Acc::default(); n]));
            groups.len().saturating_sub(1)
        });
        let accs = &mut groups[g].1;
        for (acc, v) in accs.iter_mut().zip(&s.values) {
            if let Some(v) = v {
                acc.add(op, *v);
            }
        }
    }
    let out = groups
        .into_iter()
        .map(|(labels, accs)| StepSeries {
            labels,
            values: accs
                .iter()
                .map(|a| (a.n > 0.0).then(|| a.result(op)))
                .collect(),
        })
        .collect();
    Ok(Val::Vector(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_sum_is_compensated() {
        // 1e16 + 1 + 1 - 1e16: plain summation loses both 1s; Neumaier keeps them → 2.
        let (mut s, mut c) = (0.0, 0.0);
        for x in [1e16, 1.0, 1.0, -1e16] {
            (s, c) = kahan_sum_inc(x, s, c);
        }
        assert_eq!(s + c, 2.0);
    }

    #[test]
    fn accumulators() {
        let run = |op, xs: &[f64]| {
            let mut a = Acc::default();
            xs.iter().for_each(|x| a.add(op, *x));
            a.result(op)
        };
        assert_eq!(run(Op::Sum, &[1.0, 2.0, 3.5]), 6.5);
        assert_eq!(run(Op::Avg, &[1.0, 2.0, 6.0]), 3.0);
        assert_eq!(run(Op::Min, &[f64::NAN, 2.0, 1.0]), 1.0);
        assert_eq!(run(Op::Max, &[1.0, f64::NAN, 3.0]), 3.0);
        assert_eq!(run(Op::Count, &[1.0, f64::NAN]), 2.0);
        // Overflowing sum switches to the incremental mean: avg(MAX, MAX) = MAX.
        assert_eq!(run(Op::Avg, &[f64::MAX, f64::MAX]), f64::MAX);
    }
}
