//! Range vectors: what a range-vector function reads at each step — a range selector `x[5m]`
//! or a subquery `expr[10m:1m]` (Prometheus 3.x' `subqueryTimeRange` and `runSubquery`).

use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr};

use super::eval::{duration_ms, system_time_ms, Ctx, Val};
use super::{Labels, PromError, Sample, Series};

/// The step of a subquery written without one (`x[10m:]`): Prometheus' default global
/// evaluation interval, 1 m.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// A range-vector argument: each series with its samples (time order), and the end of each
/// step's window (after `@` and `offset`); a step's window is `(time - range_ms, time]`.
#[derive(Debug)]
pub(crate) struct RangeArg {
    pub(crate) series: Vec<Series>,
    pub(crate) times: Vec<i64>,
    pub(crate) range_ms: i64,
}

impl RangeArg {
    /// The samples of `series` in step `step`'s window.
    pub(crate) fn window<'s>(&self, series: &'s Series, step: usize) -> &'s [Sample] {
        let t = self.times[step];
        let from = t.saturating_sub(self.range_ms);
        let lo = series.samples.partition_point(|x| x.t_ms <= from);
        let hi = series.samples.partition_point(|x| x.t_ms <= t);
        &series.samples[lo..hi.max(lo)]
    }
}

/// Strips parentheses.
pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// Evaluates a range-vector argument of `function`.
pub(crate) fn range_arg(ctx: &Ctx<'_>, expr: &Expr, function: &str) -> Result<RangeArg, PromError> {
    match unparen(expr) {
        Expr::MatrixSelector(ms) => {
            let range_ms = duration_ms(ms.range);
            let sel = ctx.select(&ms.vs, range_ms)?;
            Ok(RangeArg {
                series: sel.series,
                times: sel.times,
                range_ms,
            })
        }
        Expr::Subquery(sq) => subquery(ctx, sq),
        _ => Err(PromError::BadData(format!(
            "expected type range vector in call to function \"{function}\""
        ))),
    }
}

fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(*d),
        Some(Offset::Neg(d)) => duration_ms(*d).saturating_neg(),
    }
}

/// The effective evaluation time of each step under `@` and `offset`.
pub(crate) fn shifted_times(
    ctx: &Ctx<'_>,
    at: &Option<AtModifier>,
    offset: &Option<Offset>,
) -> Vec<i64> {
    let at = match at {
        None => None,
        Some(AtModifier::Start) => Some(ctx.start_ms),
        Some(AtModifier::End) => Some(ctx.end_ms),
        Some(AtModifier::At(t)) => Some(system_time_ms(t)),
    };
    let offset = offset_ms(offset);
    ctx.steps
        .iter()
        .map(|&t| at.unwrap_or(t).saturating_sub(offset))
        .collect()
}

/// Evaluates a subquery: its expression at every multiple of its step in
/// `(first time - range, last time]` (left-open, as Prometheus 3.x), as a range vector.
pub(crate) fn subquery(ctx: &Ctx<'_>, sq: &SubqueryExpr) -> Result<RangeArg, PromError> {
    let range_ms = duration_ms(sq.range);
    let step_ms = match sq.step {
        Some(d) if duration_ms(d) > 0 => duration_ms(d),
        _ => DEFAULT_SUBQUERY_STEP_MS,
    };
    let times = shifted_times(ctx, &sq.at, &sq.offset);
    let (Some(&lo_t), Some(&hi_t)) = (times.iter().min(), times.iter().max()) else {
        return Ok(RangeArg {
            series: Vec::new(),
            times,
            range_ms,
        });
    };
    let lo = lo_t.saturating_sub(range_ms);
    // The first multiple of the step after `lo`.
    let mut start = lo.div_euclid(step_ms).saturating_mul(step_ms);
    if start <= lo {
        start = start.saturating_add(step_ms);
    }
    let count = if hi_t < start {
        0
    } else {
        // Both in i64, so the difference fits i128; step_ms > 0. The count is checked against
        // the budget before any allocation.
        let span = i128::from(hi_t).saturating_sub(i128::from(start));
        usize::try_from(span.checked_div(i128::from(step_ms)).unwrap_or(0))
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    };
    ctx.check_steps(count)?;
    let mut steps = Vec::with_capacity(count);
    let mut t = start;
    for _ in 0..count {
        steps.push(t);
        t = t.saturating_add(step_ms);
    }
    let inner = ctx.child(steps);
    let value = inner.eval(&sq.expr);
    ctx.absorb(&inner);
    let series = match value? {
        Val::Scalar(values) => vec![Series {
            labels: Labels::new(),
            samples: values
                .iter()
                .zip(&inner.steps)
                .map(|(&v, &t_ms)| Sample { t_ms, v })
                .collect(),
        }],
        Val::Vector(v) => v
            .into_iter()
            .map(|s| Series {
                labels: s.labels,
                samples: s
                    .values
                    .iter()
                    .zip(&inner.steps)
                    .filter_map(|(v, &t_ms)| v.map(|v| Sample { t_ms, v }))
                    .collect(),
            })
            .filter(|s| !s.samples.is_empty())
            .collect(),
        Val::String(_) => {
            return Err(PromError::BadData(
                "subquery is only allowed on instant vector, got string".into(),
            ))
        }
    };
    Ok(RangeArg {
        series,
        times,
        range_ms,
    })
}
