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
//! The semantics are those of **Prometheus 3.x** (ported from its `promql/engine.go`,
//! `functions.go` and `quantile.go`; otel-lgtm pins v3.14.0), with delayed name removal off
//! (the default):
//! - instant vector selectors pick the newest sample in `(t - 5m, t]` (the lookback window is
//!   left-open since 3.0); range selectors `x[d]` select the samples in `(t - d, t]` (also
//!   left-open since 3.0); `offset` and `@` (a timestamp, `start()`, `end()` — the query's
//!   start and end) shift that `t`;
//! - subqueries `expr[d:s]` evaluate `expr` at the multiples of `s` in `(t - d, t]` (3.0's
//!   left-open alignment; no step: [`DEFAULT_SUBQUERY_STEP_MS`], Prometheus' default
//!   evaluation interval);
//! - regex matchers are fully anchored and `.` matches a newline: `^(?s:re)$` (3.0);
//! - sums and means use Prometheus' Kahan–Neumaier summation, `avg`/`avg_over_time` its direct
//!   mean with the incremental fallback, `stddev_over_time` its compensated Welford;
//! - `__name__` is dropped by functions (except `last_over_time`, `first_over_time`, `sort*`,
//!   `label_*`), aggregations (except `topk`/`bottomk`/`limitk`), arithmetic and `bool`
//!   comparisons;
//! - `holt_winters` is gone (3.0 renamed it `double_exponential_smoothing`, experimental);
//! - one deliberate exception: a filtering comparison between vectors records a match only for
//!   the elements it keeps (Prometheus up to 3.8, and what issue 28 asked for, so that
//!   `x >= ignoring(code) x{code="200"}` answers the filtered vector); Prometheus 3.9
//!   (prometheus/prometheus#17668) counts the match before filtering and answers 422.
//!
//! # Supported PromQL
//!
//! Every float construct of Prometheus 3.x: literals, selectors, range selectors, subqueries
//! (nested, with `offset` and `@`), unary minus, the arithmetic operators `+ - * / % ^ atan2`,
//! the comparisons (with and without `bool`), the set operators `and or unless`, one-to-one,
//! many-to-one (`group_left (…)`) and one-to-many (`group_right (…)`) matching on `on (…)` /
//! `ignoring (…)`, every aggregation (`sum avg min max count group stddev stdvar topk bottomk
//! quantile count_values`, `by`/`without`), and every function of `promql/parser/functions.go`
//! that reads floats. Experimental functions and aggregations (`limitk`, `mad_over_time`,
//! `double_exponential_smoothing`, `sort_by_label`, `ts_of_*_over_time`, …) answer Prometheus'
//! `function "…" is not enabled` until [`QueryLimits::with_experimental_functions`] (the
//! binary's `--enable-feature=promql-experimental-functions`, Prometheus' flag).
//!
//! Not supported, answered with [`PromError::BadData`] that says so, never with a silently
//! wrong number: native histograms (`histogram_avg`, `histogram_count`, …: this viewer stores
//! OTLP exponential histograms as `_sum`/`_count` only), `limit_ratio`, `fill(…)` modifiers.
//!
//! # Layout
//!
//! `parse` (the parser adapter and the experimental gate), `query` (the entry points, limits
//! and result order), `eval` (the evaluator context and selectors), `range` (range vectors and
//! subqueries), `rate` and `range_functions` (functions of a range vector), `functions` (the
//! dispatch and instant-vector functions), `label_functions`, `histogram`, `aggregate` and
//! `aggregate_k`, `binary` and `set_operators`, `result` (JSON), `api` (series and labels).

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
mod set_operators;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ops;

pub use api::{label_names, label_values, parse_duration_or_seconds, parse_time, series};
pub use error::PromError;
pub(crate) use histogram::parse_le;
pub(crate) use parse::children;
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
