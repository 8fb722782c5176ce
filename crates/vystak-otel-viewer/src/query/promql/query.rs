//! The entry points: [`instant_query`] and [`range_query`], with [`QueryLimits`].

use std::time::Duration;

use promql_parser::parser::{self, Expr};

use super::eval::{Ctx, StepSeries, Val};
use super::parse::{check_experimental, parse};
use super::range::unparen;
use super::{Labels, PromError, QueryResult, Sample, Series, SeriesSource};

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
    experimental_functions: bool,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_samples: DEFAULT_MAX_SAMPLES,
            timeout: None,
            experimental_functions: false,
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

    /// Enables the functions and aggregations Prometheus marks experimental (its
    /// `--enable-feature=promql-experimental-functions`): `limitk`, `limit_ratio`,
    /// `double_exponential_smoothing`, `mad_over_time`, `sort_by_label`, `ts_of_*_over_time`, ….
    /// Off by default, like Prometheus: they answer `function "…" is not enabled`.
    #[must_use]
    pub fn with_experimental_functions(mut self, enabled: bool) -> Self {
        self.experimental_functions = enabled;
        self
    }

    /// The sample budget.
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }

    /// The deadline after the query starts, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether experimental functions are enabled.
    pub fn experimental_functions(&self) -> bool {
        self.experimental_functions
    }
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
    check_experimental(&expr, limits.experimental_functions())?;
    let ctx = Ctx::new(src, vec![time_ms], time_ms, time_ms, limits);
    let top = unparen(&expr);
    if matches!(top, Expr::MatrixSelector(_) | Expr::Subquery(_)) {
        let arg = super::range::range_arg(&ctx, top, "")?;
        let mut out: Vec<Series> = arg
            .series
            .iter()
            .filter_map(|s| {
                let window = arg.window(s, 0);
                (!window.is_empty()).then(|| Series {
                    labels: s.labels.clone(),
                    samples: window.to_vec(),
                })
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
            order_instant_vector(top, &mut out);
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
    check_experimental(&expr, limits.experimental_functions())?;
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
    let ctx = Ctx::new(src, steps, start_ms, end_ms, limits);
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

/// The order of an instant query's vector: by labels, except where the query orders it —
/// `sort` (ascending value), `sort_desc` (descending), NaN last in both, as Prometheus'
/// `funcSort`/`funcSortDesc`; `sort_by_label(_desc)` by the named labels, then all labels.
fn order_instant_vector(top: &Expr, out: &mut [(Labels, Sample)]) {
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let Expr::Call(call) = top else { return };
    let nan_last = |a: f64, b: f64, desc: bool| {
        use std::cmp::Ordering;
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if desc => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
            _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        }
    };
    match call.func.name {
        "sort" => out.sort_by(|a, b| nan_last(a.1.v, b.1.v, false)),
        "sort_desc" => out.sort_by(|a, b| nan_last(a.1.v, b.1.v, true)),
        name @ ("sort_by_label" | "sort_by_label_desc") => {
            let names: Vec<String> = call
                .args
                .args
                .iter()
                .skip(1)
                .filter_map(|a| match unparen(a) {
                    Expr::StringLiteral(s) => Some(s.val.clone()),
                    _ => None,
                })
                .collect();
            let key = |l: &Labels| -> Vec<String> {
                names
                    .iter()
                    .map(|n| l.get(n).cloned().unwrap_or_default())
                    .collect()
            };
            out.sort_by(|a, b| {
                let ord = key(&a.0).cmp(&key(&b.0)).then_with(|| a.0.cmp(&b.0));
                if name == "sort_by_label_desc" {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
        _ => {}
    }
}
