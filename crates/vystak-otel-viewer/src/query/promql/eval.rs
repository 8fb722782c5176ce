//! The evaluator: [`instant_query`] and [`range_query`].
//!
//! Every node is evaluated once for all steps of the query (like Prometheus' range
//! evaluation): a vector is a list of series with one optional value per step, so label work
//! (grouping, matching, dropping `__name__`) is done once per series, not once per step, and each
//! selector reads the store once.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};

use super::{aggregate, binary, functions};
use super::{LabelMatcher, Labels, MatchOp, PromError, QueryResult, Sample, Series, SeriesSource};

/// Prometheus' default lookback delta for instant vector selectors: 5 minutes.
pub const LOOKBACK_DELTA_MS: i64 = 5 * 60 * 1000;

/// Prometheus' limit on the number of steps of a range query.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// A series of an instant vector over all steps: one optional value per step.
#[derive(Clone, Debug)]
pub(crate) struct StepSeries {
    pub(crate) labels: Labels,
    pub(crate) values: Vec<Option<f64>>,
}

/// The value of a node over all steps.
#[derive(Debug)]
pub(crate) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    Vector(Vec<StepSeries>),
    String(String),
}

/// What an evaluation needs: the source and the steps.
pub(crate) struct Ctx<'a> {
    src: &'a dyn SeriesSource,
    /// Evaluation timestamps, ms, increasing.
    pub(crate) steps: Vec<i64>,
    start_ms: i64,
    end_ms: i64,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("steps", &self.steps.len())
            .finish()
    }
}

/// A selector's series with the effective evaluation time of each step (after `@` / `offset`).
pub(crate) struct Selected {
    pub(crate) series: Vec<Series>,
    pub(crate) times: Vec<i64>,
}

/// The deepest expression evaluated (nested calls, aggregations, operators, parentheses). The
/// evaluator recurses once per level; a query nested deeper is refused with `bad_data` before
/// any evaluation, so no query can overflow the evaluating thread's stack (one `GET` nested
/// 1,000 deep used to abort the whole viewer). Real dashboards nest a handful of levels.
pub const MAX_EXPRESSION_DEPTH: usize = 128;

fn parse(query: &str) -> Result<Expr, PromError> {
    let expr = parser::parse(query).map_err(PromError::BadData)?;
    let depth = expression_depth(&expr);
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(PromError::BadData(format!(
            "the query is nested {depth} levels deep; at most {MAX_EXPRESSION_DEPTH} are evaluated"
        )));
    }
    Ok(expr)
}

/// The depth of `expr`'s tree, walked with an explicit stack (no recursion on client depth).
fn expression_depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 1usize)];
    while let Some((e, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let next = depth.saturating_add(1);
        match e {
            Expr::Aggregate(a) => {
                stack.push((&a.expr, next));
                if let Some(p) = &a.param {
                    stack.push((p, next));
                }
            }
            Expr::Unary(u) => stack.push((&u.expr, next)),
            Expr::Binary(b) => {
                stack.push((&b.lhs, next));
                stack.push((&b.rhs, next));
            }
            Expr::Paren(p) => stack.push((&p.expr, next)),
            Expr::Subquery(q) => stack.push((&q.expr, next)),
            Expr::Call(c) => stack.extend(c.args.args.iter().map(|a| (&**a, next))),
            _ => {}
        }
    }
    deepest
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The matchers of a selector, with its metric name as a `__name__` matcher.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<LabelMatcher>, PromError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(PromError::unsupported("\"or\" inside label matchers"));
    }
    let mut matchers: Vec<LabelMatcher> = vs
        .matchers
        .matchers
        .iter()
        .map(LabelMatcher::from)
        .collect();
    if let Some(name) = &vs.name {
        matchers.push(LabelMatcher::new("__name__", MatchOp::Equal, name.clone()));
    }
    Ok(matchers)
}

impl<'a> Ctx<'a> {
    fn new(src: &'a dyn SeriesSource, steps: Vec<i64>) -> Self {
        let start_ms = steps.first().copied().unwrap_or(0);
        let end_ms = steps.last().copied().unwrap_or(0);
        Self {
            src,
            steps,
            start_ms,
            end_ms,
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.steps.len()
    }

    /// Reads the series of `vs` for windows of `range_ms` ending at each step's effective time.
    pub(crate) fn select(&self, vs: &VectorSelector, range_ms: i64) -> Result<Selected, PromError> {
        let offset_ms = match &vs.offset {
            None => 0,
            Some(Offset::Pos(d)) => d.as_millis() as i64,
            Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        };
        let at = match &vs.at {
            None => None,
            Some(AtModifier::Start) => Some(self.start_ms),
            Some(AtModifier::End) => Some(self.end_ms),
            Some(AtModifier::At(t)) => Some(system_time_ms(t)),
        };
        let times: Vec<i64> = self
            .steps
            .iter()
            .map(|&t| at.unwrap_or(t) - offset_ms)
            .collect();
        let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
            return Ok(Selected {
                series: Vec::new(),
                times,
            });
        };
        let matchers = selector_matchers(vs)?;
        // Fail on a bad regex here rather than silently selecting nothing.
        super::MatcherSet::new(&matchers)?;
        let lo = first.min(last) - range_ms + 1;
        let hi = first.max(last);
        let series = self.src.select(&matchers, lo, hi);
        Ok(Selected { series, times })
    }

    /// Evaluates an expression to a scalar, vector or string.
    pub(crate) fn eval(&self, expr: &Expr) -> Result<Val, PromError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.n()])),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(v) => {
                    let out = v
                        .into_iter()
                        .map(|mut s| {
                            s.labels.remove("__name__");
                            s.values.iter_mut().for_each(|x| *x = x.map(|x| -x));
                            s
                        })
                        .collect();
                    merge_same_labels(out).map(Val::Vector)
                }
                Val::String(_) => Err(PromError::BadData("unary minus on a string".into())),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.eval_vector_selector(vs)?)),
            Expr::MatrixSelector(_) => Err(PromError::unsupported(
                "range vector outside of rate(), increase() or irate()",
            )),
            Expr::Call(call) => functions::call(self, call),
            Expr::Aggregate(agg) => aggregate::aggregate(self, agg),
            Expr::Binary(b) => binary::binary(self, b),
            Expr::Subquery(_) => Err(PromError::unsupported("subquery")),
            Expr::Extension(_) => Err(PromError::unsupported("extension expression")),
        }
    }

    fn eval_vector_selector(&self, vs: &VectorSelector) -> Result<Vec<StepSeries>, PromError> {
        let sel = self.select(vs, LOOKBACK_DELTA_MS)?;
        let mut out = Vec::with_capacity(sel.series.len());
        for s in sel.series {
            let values: Vec<Option<f64>> = sel
                .times
                .iter()
                .map(|&t| {
                    let i = s.samples.partition_point(|x| x.t_ms <= t);
                    (i > 0 && s.samples[i - 1].t_ms > t - LOOKBACK_DELTA_MS)
                        .then(|| s.samples[i - 1].v)
                })
                .collect();
            if values.iter().any(Option::is_some) {
                out.push(StepSeries {
                    labels: s.labels,
                    values,
                });
            }
        }
        Ok(out)
    }
}

/// Merges series whose labels became equal (after dropping `__name__`); two values at the same
/// step is Prometheus' "vector cannot contain metrics with the same labelset".
pub(crate) fn merge_same_labels(series: Vec<StepSeries>) -> Result<Vec<StepSeries>, PromError> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    for s in series {
        if !s.values.iter().any(Option::is_some) {
            continue;
        }
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
            Some(&i) => {
                let target = &mut out[i];
                for (a, b) in target.values.iter_mut().zip(s.values) {
                    match (&a, b) {
                        (Some(_), Some(_)) => {
                            return Err(PromError::Execution(
                                "vector cannot contain metrics with the same labelset".into(),
                            ))
                        }
                        (None, Some(v)) => *a = Some(v),
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Evaluates `query` at `time_ms`, like `GET /api/v1/query?query=…&time=…`.
///
/// # Errors
/// [`PromError::BadData`] for a parse error or an unsupported construct;
/// [`PromError::Execution`] for an evaluation error (e.g. duplicate series in a vector match).
pub fn instant_query(
    src: &dyn SeriesSource,
    query: &str,
    time_ms: i64,
) -> Result<QueryResult, PromError> {
    let expr = parse(query)?;
    let ctx = Ctx::new(src, vec![time_ms]);
    let mut top = &expr;
    while let Expr::Paren(p) = top {
        top = &p.expr;
    }
    if let Expr::MatrixSelector(ms) = top {
        let range_ms = ms.range.as_millis() as i64;
        let sel = ctx.select(&ms.vs, range_ms)?;
        let t = sel.times[0];
        let mut out: Vec<Series> = sel
            .series
            .into_iter()
            .filter_map(|mut s| {
                s.samples.retain(|x| x.t_ms > t - range_ms && x.t_ms <= t);
                (!s.samples.is_empty()).then_some(s)
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        return Ok(QueryResult::Matrix(out));
    }
    Ok(match ctx.eval(&expr)? {
        Val::Scalar(v) => QueryResult::Scalar(Sample {
            t_ms: time_ms,
            v: v[0],
        }),
        Val::String(s) => QueryResult::String(time_ms, s),
        Val::Vector(v) => {
            let mut out: Vec<(Labels, Sample)> = v
                .into_iter()
                .filter_map(|s| s.values[0].map(|v| (s.labels, Sample { t_ms: time_ms, v })))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            QueryResult::Vector(out)
        }
    })
}

/// Evaluates `query` at `start_ms`, `start_ms + step_ms`, … ≤ `end_ms`, like
/// `GET /api/v1/query_range`; the result is always a [`QueryResult::Matrix`], sorted by labels.
///
/// # Errors
/// [`PromError::BadData`] for a parse error, an unsupported construct, `end < start`, a
/// non-positive step, more than [`MAX_POINTS_PER_SERIES`] steps, or an expression that is not a
/// scalar or an instant vector; [`PromError::Execution`] for an evaluation error.
pub fn range_query(
    src: &dyn SeriesSource,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<QueryResult, PromError> {
    if end_ms < start_ms {
        return Err(PromError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    if step_ms <= 0 {
        return Err(PromError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if (end_ms - start_ms) / step_ms > MAX_POINTS_PER_SERIES {
        return Err(PromError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let expr = parse(query)?;
    match expr.value_type() {
        parser::value::ValueType::Scalar | parser::value::ValueType::Vector => {}
        other => {
            let name = match other {
                parser::value::ValueType::Matrix => "range vector",
                _ => "string",
            };
            return Err(PromError::BadData(format!(
                "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
            )));
        }
    }
    let steps: Vec<i64> = (0..)
        .map(|k| start_ms + k * step_ms)
        .take_while(|&t| t <= end_ms)
        .collect();
    let ctx = Ctx::new(src, steps);
    let series = match ctx.eval(&expr)? {
        Val::Scalar(v) => vec![StepSeries {
            labels: Labels::new(),
            values: v.into_iter().map(Some).collect(),
        }],
        Val::Vector(v) => v,
        Val::String(_) => return Err(PromError::BadData(
            "invalid expression type \"string\" for range query, must be Scalar or instant Vector"
                .into(),
        )),
    };
    let mut out: Vec<Series> = series
        .into_iter()
        .filter_map(|s| {
            let samples: Vec<Sample> = s
                .values
                .iter()
                .zip(&ctx.steps)
                .filter_map(|(v, &t)| v.map(|v| Sample { t_ms: t, v }))
                .collect();
            (!samples.is_empty()).then_some(Series {
                labels: s.labels,
                samples,
            })
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(QueryResult::Matrix(out))
}
