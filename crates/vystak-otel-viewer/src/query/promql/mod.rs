//! A PromQL engine over OTLP metrics, with Prometheus' semantics and JSON shapes.
//!
//! INTERFACE CONTRACT (shared by the store and the HTTP API; keep these names and signatures;
//! the first three groups are defined below the engine and re-exported here):
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

mod aggregate;
mod aggregate_k;
mod api;
mod binary;
mod error;
mod eval;
mod functions;
mod histogram;
mod label_functions;
mod parse;
mod query;
mod range;
mod range_functions;
mod rate;
mod result;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ops;

pub use api::{label_names, label_values, parse_duration_or_seconds, parse_time, series};
pub use error::PromError;
pub(crate) use histogram::parse_le;
pub use parse::{parse_expr, MAX_EXPRESSION_DEPTH};
pub(crate) use query::step_count;
pub use query::{
    instant_query, instant_query_with_limits, range_query, range_query_with_limits, QueryLimits,
    DEFAULT_MAX_SAMPLES, LOOKBACK_DELTA_MS, MAX_POINTS_PER_SERIES,
};
pub use range::DEFAULT_SUBQUERY_STEP_MS;
// The engine's vocabulary lives below it (issue 26): samples and matchers in `model`, the
// series store and its `SeriesSource` querier in `storage`, the OTLP → Prometheus translation in
// `otlp`. Re-exported here, where the engine's users have always found them.
pub use crate::model::{InvalidMatcher, LabelMatcher, Labels, MatchOp, MatcherSet, Sample, Series};
pub use crate::otlp::{
    format_float, prom_label_name, prom_metric_name, OtlpPoint, PromConverter, PromMetricType,
    PROMOTED_RESOURCE_ATTRIBUTES,
};
pub use crate::storage::{MemorySeries, SeriesSource, TooManySamples};
pub use result::{error_json, success_json, QueryResult};

impl From<TooManySamples> for PromError {
    fn from(_: TooManySamples) -> Self {
        PromError::Execution(query::TOO_MANY_SAMPLES.into())
    }
}

impl From<crate::model::InvalidMatcher> for PromError {
    fn from(e: crate::model::InvalidMatcher) -> Self {
        PromError::BadData(e.0)
    }
}
