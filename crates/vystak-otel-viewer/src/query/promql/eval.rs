//! The evaluator: a [`Ctx`] holds the steps, the sample budget and the deadline, and evaluates
//! each node for all steps at once.
//!
//! Every node is evaluated once for all steps of the query (like Prometheus' range
//! evaluation): a vector is a list of series with one optional value per step, so label work
//! (grouping, matching, dropping `__name__`) is done once per series, not once per step, and each
//! selector reads the store once.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{Expr, VectorSelector};

use super::parse::MAX_EXPRESSION_DEPTH;
use super::query::{QueryLimits, LOOKBACK_DELTA_MS, TIMED_OUT, TOO_MANY_SAMPLES};
use super::range::shifted_times;
use super::{aggregate, binary, functions};
use super::{LabelMatcher, Labels, MatchOp, PromError, Series, SeriesSource};

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
    /// The query's start and end (what `@ start()` and `@ end()` read, in subqueries too).
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    max_samples: usize,
    samples: Cell<usize>,
    deadline: Option<Instant>,
    depth: Cell<usize>,
    /// Prometheus' `--enable-feature=promql-experimental-functions`.
    pub(crate) experimental: bool,
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

/// A duration in whole milliseconds, saturating at `i64::MAX`.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn system_time_ms(t: &SystemTime) -> i64 {
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
    /// `start_ms` and `end_ms` are the query's (what `@ start()` and `@ end()` read): the
    /// last step is before `end_ms` when `end - start` is not a multiple of the step.
    pub(crate) fn new(
        src: &'a dyn SeriesSource,
        steps: Vec<i64>,
        start_ms: i64,
        end_ms: i64,
        limits: &QueryLimits,
    ) -> Self {
        Self {
            src,
            steps,
            start_ms,
            end_ms,
            max_samples: limits.max_samples(),
            samples: Cell::new(0),
            deadline: limits.timeout().and_then(|t| Instant::now().checked_add(t)),
            depth: Cell::new(0),
            experimental: limits.experimental_functions(),
        }
    }

    /// An evaluator over other steps (a subquery's), sharing this one's budget, deadline and
    /// depth; [`Ctx::absorb`] takes its spending back.
    pub(crate) fn child(&self, steps: Vec<i64>) -> Ctx<'a> {
        Ctx {
            src: self.src,
            steps,
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            max_samples: self.max_samples,
            samples: Cell::new(self.samples.get()),
            deadline: self.deadline,
            depth: Cell::new(self.depth.get()),
            experimental: self.experimental,
        }
    }

    /// Takes over what a [`Ctx::child`] spent.
    pub(crate) fn absorb(&self, child: &Ctx<'_>) {
        self.samples
            .set(self.samples.get().max(child.samples.get()));
    }

    /// Fails with the budget's error when `n` more steps (each at least one value) would not
    /// fit, before anything of that size is allocated.
    pub(crate) fn check_steps(&self, n: usize) -> Result<(), PromError> {
        if self.samples.get().saturating_add(n) > self.max_samples {
            return Err(PromError::Execution(TOO_MANY_SAMPLES.into()));
        }
        self.check_deadline()
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
        let times = shifted_times(self, &vs.at, &vs.offset);
        let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else {
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
            Expr::MatrixSelector(_) => Err(PromError::BadData(
                "a range vector is only allowed as a function argument or a query's result".into(),
            )),
            Expr::Call(call) => functions::call(self, call),
            Expr::Aggregate(agg) => aggregate::aggregate(self, agg),
            Expr::Binary(b) => binary::binary(self, b),
            // Where an instant vector is expected the parser already refuses a subquery.
            Expr::Subquery(_) => Err(PromError::BadData(
                "a subquery is only allowed as a function argument or a query's result".into(),
            )),
            Expr::Extension(_) => Err(PromError::unsupported("extension expression")),
        }
    }

    fn eval_vector_selector(&self, vs: &VectorSelector) -> Result<Vec<StepSeries>, PromError> {
        self.eval_selector_with(vs, |sample, _| sample.v)
    }

    /// An instant selector's value at each step, or (for `timestamp()`) `f(sample, step time)`
    /// of the newest sample in the lookback window `(t - 5m, t]`.
    pub(crate) fn eval_selector_with(
        &self,
        vs: &VectorSelector,
        f: impl Fn(&super::Sample, i64) -> f64,
    ) -> Result<Vec<StepSeries>, PromError> {
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
                    (newest.t_ms > t.saturating_sub(LOOKBACK_DELTA_MS)).then(|| f(&newest, t))
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
