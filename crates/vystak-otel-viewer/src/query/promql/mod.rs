//! A PromQL engine over OTLP metrics, with Prometheus' semantics and JSON shapes.
//!
//! INTERFACE CONTRACT (shared by the store and the HTTP API; keep these names and signatures):
//! - [`Labels`], [`Sample`], [`Series`], [`MatchOp`], [`LabelMatcher`], [`SeriesSource`]
//! - [`PromConverter`]: OTLP data points → Prometheus samples (naming rules of otel-lgtm)
//! - [`MemorySeries`]: an in-memory [`SeriesSource`]
//! - [`instant_query`], [`range_query`], [`QueryResult`], [`PromError`]
//!
//! # Which Prometheus
//!
//! The semantics are those of **Prometheus 3.x** (otel-lgtm pins v3.14.0), with delayed name
//! removal off (the default):
//! - instant vector selectors pick the newest sample in `(t - 5m, t]` (the lookback window is
//!   left-open since 3.0); range selectors `x[d]` select the samples in `(t - d, t]` (also
//!   left-open since 3.0); `offset` and `@` (a timestamp, `start()`, `end()`) shift that `t`;
//! - regex matchers are fully anchored and `.` matches a newline: `^(?s:re)$` (3.0);
//! - `rate`/`increase` are ports of `extrapolatedRate` in `promql/functions.go`, `irate` of
//!   `instantValue`, `histogram_quantile` of `bucketQuantile` in `promql/quantile.go`, `sum` and
//!   `avg` use Prometheus' Kahan–Neumaier summation;
//! - `__name__` is dropped by functions, aggregations, arithmetic and `bool` comparisons.
//!
//! # Supported PromQL
//!
//! Number literals, string literals (as an instant-query result), parentheses, unary minus,
//! vector selectors with the four matcher kinds, range selectors (as an instant-query result or
//! as the argument of a function), `rate`, `increase`, `irate`, `histogram_quantile`,
//! `sum`/`avg`/`min`/`max`/`count` with `by (…)` / `without (…)`, the arithmetic operators
//! `+ - * / % ^` and the comparisons `== != > < >= <=` (with and without `bool`) between
//! scalars and vectors, with one-to-one vector matching (default, `on (…)`, `ignoring (…)`).
//!
//! Everything else — other functions, other aggregations (`topk`, `quantile`, …), subqueries,
//! `and`/`or`/`unless`, `atan2`, `group_left`/`group_right`, `fill(…)` — is answered with
//! [`PromError::BadData`] naming the construct, never with a silently wrong number.
//!
//! # Example
//!
//! ```
//! use vystak_otel_viewer::query::promql::{instant_query, Labels, MemorySeries, QueryResult, Sample};
//!
//! let mut store = MemorySeries::new();
//! let labels: Labels = [("__name__", "requests_total"), ("job", "api")]
//!     .into_iter()
//!     .map(|(k, v)| (k.to_string(), v.to_string()))
//!     .collect();
//! for i in 0..=6 {
//!     store.insert(labels.clone(), Sample { t_ms: i * 10_000, v: (i * 5) as f64 });
//! }
//! let result = instant_query(&store, "sum(rate(requests_total[1m]))", 60_000).unwrap();
//! let QueryResult::Vector(v) = result else { panic!() };
//! assert!((v[0].1.v - 0.5).abs() < 1e-12);
//! ```

use std::collections::BTreeMap;

mod aggregate;
mod api;
mod binary;
mod convert;
mod error;
mod eval;
mod functions;
mod matcher;
mod memory;
mod naming;
mod result;
#[cfg(test)]
mod tests;

pub use api::{label_names, label_values, parse_duration_or_seconds, parse_time, series};
pub use convert::{OtlpPoint, PromConverter, PROMOTED_RESOURCE_ATTRIBUTES};
pub use error::PromError;
pub(crate) use eval::step_count;
pub use eval::{
    instant_query, instant_query_with_limits, range_query, range_query_with_limits, QueryLimits,
    DEFAULT_MAX_SAMPLES, LOOKBACK_DELTA_MS, MAX_EXPRESSION_DEPTH, MAX_POINTS_PER_SERIES,
};
pub(crate) use functions::parse_le;
pub use matcher::MatcherSet;
pub use memory::MemorySeries;
pub use naming::{format_float, prom_label_name, prom_metric_name, PromMetricType};
pub use result::{error_json, success_json, QueryResult};

/// A Prometheus label set, sorted by name, including `__name__`.
pub type Labels = BTreeMap<String, String>;

/// One sample: milliseconds since the Unix epoch and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Timestamp, ms since the Unix epoch.
    pub t_ms: i64,
    /// Value.
    pub v: f64,
}

/// A series: its labels and its samples, sorted by time, no two with the same timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The labels (with `__name__`).
    pub labels: Labels,
    /// Samples in time order.
    pub samples: Vec<Sample>,
}

/// The four PromQL label matcher kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored RE2 syntax)
    Regex,
    /// `!~`
    NotRegex,
}

/// One label matcher, e.g. `gen_ai_token_type="input"`.
#[derive(Clone, Debug)]
pub struct LabelMatcher {
    /// Label name (`__name__` for the metric name).
    pub name: String,
    /// Kind.
    pub op: MatchOp,
    /// Value or pattern.
    pub value: String,
}

/// A selection would copy more samples than the query's budget allows
/// ([`QueryLimits::with_max_samples`]); the query fails with Prometheus' 422 `execution` error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManySamples;

impl From<TooManySamples> for PromError {
    fn from(_: TooManySamples) -> Self {
        PromError::Execution(eval::TOO_MANY_SAMPLES.into())
    }
}

/// Where the engine reads samples from: the memory store or the SQLite store.
pub trait SeriesSource: Send + Sync {
    /// Every series whose labels satisfy all `matchers` (a missing label is the empty string,
    /// as in Prometheus), with its samples whose timestamp is in `[start_ms, end_ms]`.
    /// A series with no sample in the window may be omitted.
    ///
    /// # Errors
    /// [`TooManySamples`] as soon as the series copied so far hold more than `max_samples`
    /// samples: an implementation stops copying there, so a query's memory stays bounded.
    fn select_limited(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, TooManySamples>;

    /// [`select_limited`](Self::select_limited) without a limit.
    fn select(&self, matchers: &[LabelMatcher], start_ms: i64, end_ms: i64) -> Vec<Series> {
        self.select_limited(matchers, start_ms, end_ms, usize::MAX)
            .unwrap_or_default()
    }
}
