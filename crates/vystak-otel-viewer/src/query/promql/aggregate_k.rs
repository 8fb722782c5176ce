//! Aggregations with a parameter, ported from Prometheus 3.x (`aggregationK`,
//! `aggregationCountValues` and the `quantile` case of `aggregation` in `promql/engine.go`):
//! `topk`, `bottomk` and the experimental `limitk` and `limit_ratio` keep input series (with
//! their labels);
//! `quantile` and `count_values` produce one value per group.
//!
//! Input series are taken in label order, as Prometheus reads them from its storage, and
//! `topk`/`bottomk` keep Go's `container/heap` algorithm, so ties select the same series.

use std::collections::HashMap;

use promql_parser::parser::token::{
    T_BOTTOMK, T_COUNT_VALUES, T_LIMITK, T_LIMIT_RATIO, T_QUANTILE, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::aggregate::{group_labels, quantile};
use super::eval::{Ctx, StepSeries, Val};
use super::range::unparen;
use super::range_functions::scalar_arg;
use super::{format_float, Labels, PromError};

/// Evaluates `topk`, `bottomk`, `limitk`, `quantile` or `count_values`.
pub(crate) fn aggregate(ctx: &Ctx<'_>, agg: &AggregateExpr) -> Result<Val, PromError> {
    let op = agg.op.id();
    let param = agg
        .param
        .as_deref()
        .ok_or_else(|| PromError::BadData(format!("{}: missing parameter", agg.op)))?;
    if op == T_COUNT_VALUES {
        return count_values(ctx, agg, param);
    }
    let p = scalar_arg(ctx, param, &agg.op.to_string())?;
    let Val::Vector(mut input) = ctx.eval(&agg.expr)? else {
        return Err(PromError::BadData(format!(
            "expected type instant vector in aggregation \"{}\"",
            agg.op
        )));
    };
    input.sort_by(|a, b| a.labels.cmp(&b.labels));
    let n = ctx.n();
    let keys: Vec<Labels> = input
        .iter()
        .map(|s| group_labels(&s.labels, &agg.modifier))
        .collect();
    if op == T_QUANTILE {
        let mut index: HashMap<&Labels, usize> = HashMap::new();
        let mut groups: Vec<(&Labels, Vec<usize>)> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let g = *index.entry(key).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len().saturating_sub(1)
            });
            groups[g].1.push(i);
        }
        let mut values = Vec::new();
        let out = groups
            .into_iter()
            .map(|(labels, members)| StepSeries {
                labels: labels.clone(),
                values: (0..n)
                    .map(|step| {
                        values.clear();
                        values.extend(members.iter().filter_map(|&i| input[i].values[step]));
                        (!values.is_empty()).then(|| quantile(p[step], &mut values))
                    })
                    .collect(),
            })
            .collect();
        return Ok(Val::Vector(out));
    }
    if op == T_LIMIT_RATIO {
        // Each series is in or out by its label hash, the same at every step.
        let offsets: Vec<f64> = input.iter().map(|s| ratio_offset(&s.labels)).collect();
        let out = input
            .into_iter()
            .zip(offsets)
            .filter_map(|(mut s, offset)| {
                for (step, v) in s.values.iter_mut().enumerate() {
                    let r = p[step].clamp(-1.0, 1.0);
                    let keep = (r > 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r);
                    if !keep {
                        *v = None;
                    }
                }
                s.values.iter().any(Option::is_some).then_some(s)
            })
            .collect();
        return Ok(Val::Vector(out));
    }
    // topk, bottomk, limitk: per step and group, a heap of input indices.
    let mut keep: Vec<Vec<Option<f64>>> = vec![vec![None; n]; input.len()];
    for step in 0..n {
        ctx.check_deadline()?;
        let k = go_int64(p[step]).min(i64::try_from(input.len()).unwrap_or(i64::MAX));
        if k < 1 {
            continue;
        }
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        let mut heaps: HashMap<&Labels, Vec<usize>> = HashMap::new();
        for (i, s) in input.iter().enumerate() {
            let Some(v) = s.values[step] else { continue };
            let heap = heaps.entry(&keys[i]).or_default();
            let value = |j: usize| input[j].values[step].unwrap_or(f64::NAN);
            match op {
                T_TOPK => {
                    // The smallest kept on top; a bigger value replaces it.
                    let less = |a: usize, b: usize| value(a).is_nan() || value(a) < value(b);
                    if heap.len() < k {
                        push(heap, i, &less);
                    } else if value(heap[0]) < v || (value(heap[0]).is_nan() && !v.is_nan()) {
                        heap[0] = i;
                        if k > 1 {
                            fix_top(heap, &less);
                        }
                    }
                }
                T_BOTTOMK => {
                    let less = |a: usize, b: usize| value(a).is_nan() || value(a) > value(b);
                    if heap.len() < k {
                        push(heap, i, &less);
                    } else if value(heap[0]) > v || (value(heap[0]).is_nan() && !v.is_nan()) {
                        heap[0] = i;
                        if k > 1 {
                            fix_top(heap, &less);
                        }
                    }
                }
                T_LIMITK => {
                    if heap.len() < k {
                        heap.push(i);
                    }
                }
                _ => {
                    return Err(PromError::unsupported(format!(
                        "aggregation \"{}\"",
                        agg.op
                    )))
                }
            }
        }
        for heap in heaps.values() {
            for &i in heap {
                keep[i][step] = input[i].values[step];
            }
        }
    }
    let out = input
        .into_iter()
        .zip(keep)
        .filter(|(_, values)| values.iter().any(Option::is_some))
        .map(|(s, values)| StepSeries {
            labels: s.labels,
            values,
        })
        .collect();
    Ok(Val::Vector(out))
}

/// Prometheus' `ratiosampler`: a series' place in `[0, 1)`, its label hash (`Labels.Hash`:
/// xxHash64 of `name 0xff value 0xff …` in label order) over `u64::MAX`.
#[allow(clippy::cast_precision_loss)]
fn ratio_offset(labels: &Labels) -> f64 {
    let mut bytes = Vec::new();
    for (k, v) in labels {
        bytes.extend_from_slice(k.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&bytes, 0) as f64 / u64::MAX as f64
}

/// Go's `int64(f)` on amd64: NaN and values out of range become `i64::MIN`.
#[allow(clippy::cast_possible_truncation)]
fn go_int64(f: f64) -> i64 {
    if f.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// Go's `heap.Push`: append, then move up.
fn push(heap: &mut Vec<usize>, item: usize, less: &impl Fn(usize, usize) -> bool) {
    heap.push(item);
    let mut j = heap.len().saturating_sub(1);
    while j > 0 {
        let i = (j.saturating_sub(1)) / 2;
        if !less(heap[j], heap[i]) {
            break;
        }
        heap.swap(i, j);
        j = i;
    }
}

/// Go's `heap.Fix(h, 0)`: move the top down to its place.
fn fix_top(heap: &mut [usize], less: &impl Fn(usize, usize) -> bool) {
    let n = heap.len();
    let mut i = 0usize;
    loop {
        let j1 = i.saturating_mul(2).saturating_add(1);
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1.saturating_add(1);
        if j2 < n && less(heap[j2], heap[j1]) {
            j = j2;
        }
        if !less(heap[j], heap[i]) {
            break;
        }
        heap.swap(i, j);
        i = j;
    }
}

/// `count_values("label", v)`: per group, the number of elements with each value, the value
/// ([`format_float`], Go's `FormatFloat(f, 'f', -1, 64)`) in `label`.
fn count_values(ctx: &Ctx<'_>, agg: &AggregateExpr, param: &Expr) -> Result<Val, PromError> {
    let Expr::StringLiteral(label) = unparen(param) else {
        return Err(PromError::BadData(
            "count_values: expected a string literal as the label name".into(),
        ));
    };
    let label = label.val.clone();
    if label.is_empty() {
        return Err(PromError::BadData(format!("invalid label name {label:?}")));
    }
    let Val::Vector(input) = ctx.eval(&agg.expr)? else {
        return Err(PromError::BadData(
            "expected type instant vector in aggregation \"count_values\"".into(),
        ));
    };
    // The value label is one of the grouping labels (`by`, or none given), or stays with the
    // series' other labels (`without`).
    let modifier = match &agg.modifier {
        Some(LabelModifier::Include(by)) => {
            let mut by = by.clone();
            by.labels.push(label.clone());
            Some(LabelModifier::Include(by))
        }
        None => Some(LabelModifier::Include(promql_parser::label::Labels::new(
            vec![label.as_str()],
        ))),
        other => other.clone(),
    };
    let n = ctx.n();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<StepSeries> = Vec::new();
    for s in &input {
        for (step, v) in s.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let mut labels = s.labels.clone();
            labels.insert(label.clone(), format_float(*v));
            let key = group_labels(&labels, &modifier);
            let g = *index.entry(key).or_insert_with_key(|k| {
                out.push(StepSeries {
                    labels: k.clone(),
                    values: vec![None; n],
                });
                out.len().saturating_sub(1)
            });
            let slot = &mut out[g].values[step];
            *slot = Some(slot.unwrap_or(0.0) + 1.0);
        }
    }
    Ok(Val::Vector(out))
}
