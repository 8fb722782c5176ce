//! The evaluator: [`instant_query`] and [`range_query`].
//!
//! Every node is evaluated once for all steps of the query (like Prometheus' range
//! evaluation): a vector is a list of series with one optional value per step, so label work
//! (grouping, matching, dropping `__name__`) is done once per series, not once per step, and each
//! selector reads the store once.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promql_parser::parser::token::{T_ADD, T_COLON, T_LEFT_BRACKET, T_NUMBER, T_OFFSET, T_SUB};
use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};

use super::{aggregate, binary, functions};
use super::{LabelMatcher, Labels, MatchOp, PromError, QueryResult, Sample, Series, SeriesSource};

/// Prometheus' default lookback delta for instant vector selectors: 5 minutes.
pub const LOOKBACK_DELTA_MS: i64 = 5 * 60 * 1000;

/// Prometheus' limit on the number of steps of a range query.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Prometheus' default `--query.max-samples`: the most samples one query may load.
pub const DEFAULT_MAX_SAMPLES: usize = 50_000_000;

/// Prometheus' message for a query past its sample budget (HTTP 422, `execution`).
pub(crate) const TOO_MANY_SAMPLES: &str =
    "query processing would load too many samples into memory in query execution";

/// Prometheus' message for a query past its deadline (HTTP 503, `timeout`).
pub(crate) const TIMED_OUT: &str = "query timed out in expression evaluation";

/// What one query may use: a sample budget and a deadline, both checked while selecting and
/// evaluating, so a query past either stops working and frees its memory.
///
/// The budget counts every sample copied from the store and every value of the step matrices
/// that selectors and range functions build (a range query of `n` steps over `s` series costs
/// `n × s`); aggregations and operators produce no more than they read. Like Prometheus'
/// `--query.max-samples`, default [`DEFAULT_MAX_SAMPLES`].
///
/// ```
/// use std::time::Duration;
/// use vystak_otel_viewer::query::promql::{instant_query_with_limits, MemorySeries, QueryLimits};
///
/// let store = MemorySeries::new();
/// let limits = QueryLimits::default().with_max_samples(1_000).with_timeout(Duration::from_secs(5));
/// assert!(instant_query_with_limits(&store, "1 + 1", 0, &limits).is_ok());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    max_samples: usize,
    timeout: Option<Duration>,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_samples: DEFAULT_MAX_SAMPLES,
            timeout: None,
        }
    }
}

impl QueryLimits {
    /// At most `max_samples` samples per query (Prometheus' `--query.max-samples`).
    #[must_use]
    pub fn with_max_samples(mut self, max_samples: usize) -> Self {
        self.max_samples = max_samples;
        self
    }

    /// Stop evaluating after `timeout` with Prometheus' `timeout` error.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The sample budget.
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }
}

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

/// What an evaluation needs: the source, the steps, and what is left of the query's budget.
pub(crate) struct Ctx<'a> {
    src: &'a dyn SeriesSource,
    /// Evaluation timestamps, ms, increasing.
    pub(crate) steps: Vec<i64>,
    start_ms: i64,
    end_ms: i64,
    max_samples: usize,
    samples: Cell<usize>,
    deadline: Option<Instant>,
    depth: Cell<usize>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("steps", &self.steps.len())
            .field("samples", &self.samples.get())
            .finish()
    }
}

/// A selector's series with the effective evaluation time of each step (after `@` / `offset`).
pub(crate) struct Selected {
    pub(crate) series: Vec<Series>,
    pub(crate) times: Vec<i64>,
}

/// The deepest expression evaluated (nested calls, aggregations, operators, parentheses). A
/// query nested deeper is refused with `bad_data` before any evaluation (one `GET` nested 1,000
/// deep used to abort the whole viewer); the evaluator counts its depth as well, and the HTTP
/// API runs it on a thread whose stack holds this depth many times over. Real dashboards nest
/// a handful of levels.
pub const MAX_EXPRESSION_DEPTH: usize = 128;

/// Parses a query: upstream `promql_parser` panics on a number duration that does not fit a
/// `Duration` (`x[1e30]`, `offset 1e400`), so those are refused first; any other panic of the
/// parser is caught and answered as `bad_data`; then the depth limit.
pub(crate) fn parse(query: &str) -> Result<Expr, PromError> {
    check_number_durations(query)?;
    let parsed = std::panic::catch_unwind(|| parser::parse(query))
        .map_err(|_| PromError::BadData(format!("cannot parse the query {query:?}")))?;
    let expr = parsed.map_err(PromError::BadData)?;
    let depth = expression_depth(&expr);
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(PromError::BadData(format!(
            "the query is nested {depth} levels deep; at most {MAX_EXPRESSION_DEPTH} are evaluated"
        )));
    }
    Ok(expr)
}

/// Refuses a plain number used as a duration (after `[`, a subquery's `:` or `offset`) that is
/// negative, not finite or too large for a duration.
fn check_number_durations(query: &str) -> Result<(), PromError> {
    use lrpar::{Lexeme, Lexer, NonStreamingLexer};
    let Ok(lexer) = parser::lexer(query) else {
        return Ok(()); // the parser reports the lexing error
    };
    let mut previous: [Option<parser::token::TokenId>; 2] = [None, None];
    for lexeme in lexer.iter().flatten() {
        let tok = lexeme.tok_id();
        let is_duration_context = matches!(
            previous,
            [_, Some(T_LEFT_BRACKET | T_COLON | T_OFFSET)] | [Some(T_OFFSET), Some(T_ADD | T_SUB)]
        );
        if tok == T_NUMBER && is_duration_context {
            let text = lexer.span_str(lexeme.span());
            let fits = promql_parser::util::parse_str_radix(text)
                .is_ok_and(|secs| Duration::try_from_secs_f64(secs).is_ok());
            if !fits {
                return Err(PromError::BadData(format!(
                    "invalid duration {text:?}: not a number of seconds a duration can hold"
                )));
            }
        }
        previous = [previous[1], Some(tok)];
    }
    Ok(())
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

/// A duration in whole milliseconds, saturating at `i64::MAX`.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => duration_ms(d),
        Err(e) => duration_ms(e.duration()).saturating_neg(),
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
    fn new(src: &'a dyn SeriesSource, steps: Vec<i64>, limits: &QueryLimits) -> Self {
        let start_ms = steps.first().copied().unwrap_or(0);
        let end_ms = steps.last().copied().unwrap_or(0);
        Self {
            src,
            steps,
            start_ms,
            end_ms,
            max_samples: limits.max_samples,
            samples: Cell::new(0),
            deadline: limits.timeout.and_then(|t| Instant::now().checked_add(t)),
            depth: Cell::new(0),
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.steps.len()
    }

    /// Counts `n` more samples against the query's budget, then checks the deadline.
    pub(crate) fn charge(&self, n: usize) -> Result<(), PromError> {
        let used = self.samples.get().saturating_add(n);
        self.samples.set(used);
        if used > self.max_samples {
            return Err(PromError::Execution(TOO_MANY_SAMPLES.into()));
        }
        self.check_deadline()
    }

    /// Fails with Prometheus' `timeout` error once the deadline has passed.
    pub(crate) fn check_deadline(&self) -> Result<(), PromError> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => {
                Err(PromError::Timeout(TIMED_OUT.into()))
            }
            _ => Ok(()),
        }
    }

    /// Reads the series of `vs` for windows of `range_ms` ending at each step's effective time.
    pub(crate) fn select(&self, vs: &VectorSelector, range_ms: i64) -> Result<Selected, PromError> {
        self.check_deadline()?;
        let offset_ms = match &vs.offset {
            None => 0,
            Some(Offset::Pos(d)) => duration_ms(*d),
            Some(Offset::Neg(d)) => duration_ms(*d).saturating_neg(),
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
            .map(|&t| at.unwrap_or(t).saturating_sub(offset_ms))
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
        let lo = first.min(last).saturating_sub(range_ms).saturating_add(1);
        let hi = first.max(last);
        let left = self.max_samples.saturating_sub(self.samples.get());
        let series = self.src.select_limited(&matchers, lo, hi, left)?;
        self.charge(series.iter().map(|s| s.samples.len()).sum())?;
        Ok(Selected { series, times })
    }

    /// Evaluates an expression to a scalar, vector or string.
    pub(crate) fn eval(&self, expr: &Expr) -> Result<Val, PromError> {
        self.check_deadline()?;
        let depth = self.depth.get().saturating_add(1);
        if depth > MAX_EXPRESSION_DEPTH {
            return Err(PromError::BadData(format!(
                "the query is nested more than {MAX_EXPRESSION_DEPTH} levels deep"
            )));
        }
        self.depth.set(depth);
        let val = self.eval_node(expr);
        self.depth.set(depth.saturating_sub(1));
        val
    }

    fn eval_node(&self, expr: &Expr) -> Result<Val, PromError> {
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
            self.charge(sel.times.len())?;
            let values: Vec<Option<f64>> = sel
                .times
                .iter()
                .map(|&t| {
                    let i = s.samples.partition_point(|x| x.t_ms <= t);
                    let newest = i.checked_sub(1).map(|i| s.samples[i])?;
                    (newest.t_ms > t.saturating_sub(LOOKBACK_DELTA_MS)).then_some(newest.v)
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

/// Evaluates `query` at `time_ms`, like `GET /api/v1/query?query=…&time=…`, with the default
/// [`QueryLimits`] (no deadline).
///
/// # Errors
/// [`PromError::BadData`] for a parse error or an unsupported construct;
/// [`PromError::Execution`] for an evaluation error (e.g. duplicate series in a vector match)
/// or a query past its sample budget.
pub fn instant_query(
    src: &dyn SeriesSource,
    query: &str,
    time_ms: i64,
) -> Result<QueryResult, PromError> {
    instant_query_with_limits(src, query, time_ms, &QueryLimits::default())
}

/// [`instant_query`] within `limits`.
///
/// # Errors
/// As [`instant_query`]; [`PromError::Execution`] past the sample budget and
/// [`PromError::Timeout`] past the deadline, Prometheus' errors for both.
pub fn instant_query_with_limits(
    src: &dyn SeriesSource,
    query: &str,
    time_ms: i64,
    limits: &QueryLimits,
) -> Result<QueryResult, PromError> {
    let expr = parse(query)?;
    let ctx = Ctx::new(src, vec![time_ms], limits);
    let mut top = &expr;
    while let Expr::Paren(p) = top {
        top = &p.expr;
    }
    if let Expr::MatrixSelector(ms) = top {
        let range_ms = duration_ms(ms.range);
        let sel = ctx.select(&ms.vs, range_ms)?;
        let t = sel.times[0];
        let from = t.saturating_sub(range_ms);
        let mut out: Vec<Series> = sel
            .series
            .into_iter()
            .filter_map(|mut s| {
                s.samples.retain(|x| x.t_ms > from && x.t_ms <= t);
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

/// The number of steps of a range query, checked: `end < start`, a non-positive step and more
/// than [`MAX_POINTS_PER_SERIES`] steps are Prometheus' `bad_data` errors. Computed in 128 bits,
/// so no timestamps the API accepts can overflow it.
pub(crate) fn step_count(start_ms: i64, end_ms: i64, step_ms: i64) -> Result<usize, PromError> {
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
    // i64 - i64 always fits i128; step_ms > 0.
    #[allow(clippy::arithmetic_side_effects)]
    let intervals = (i128::from(end_ms) - i128::from(start_ms)) / i128::from(step_ms);
    if intervals > i128::from(MAX_POINTS_PER_SERIES) {
        return Err(PromError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    // At most 11,001 steps, each at most `end_ms`: the conversions below cannot fail.
    Ok(usize::try_from(intervals).unwrap_or(0).saturating_add(1))
}

/// Evaluates `query` at `start_ms`, `start_ms + step_ms`, … ≤ `end_ms`, like
/// `GET /api/v1/query_range`, with the default [`QueryLimits`]; the result is always a
/// [`QueryResult::Matrix`], sorted by labels.
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
    range_query_with_limits(
        src,
        query,
        start_ms,
        end_ms,
        step_ms,
        &QueryLimits::default(),
    )
}

/// [`range_query`] within `limits`.
///
/// # Errors
/// As [`range_query`]; [`PromError::Execution`] past the sample budget and
/// [`PromError::Timeout`] past the deadline.
pub fn range_query_with_limits(
    src: &dyn SeriesSource,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    limits: &QueryLimits,
) -> Result<QueryResult, PromError> {
    let count = step_count(start_ms, end_ms, step_ms)?;
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
    let mut steps = Vec::with_capacity(count);
    let mut t = start_ms;
    for _ in 0..count {
        steps.push(t);
        t = t.saturating_add(step_ms);
    }
    let ctx = Ctx::new(src, steps, limits);
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
