//! A PromQL engine over OTLP metrics, with Prometheus' semantics and JSON shapes.
//!
//! The types shared by the store and the HTTP API: [`Labels`], [`Sample`], [`Series`],
//! [`MatchOp`], [`LabelMatcher`] and the [`SeriesSource`] trait the engine reads from.

use std::collections::BTreeMap;

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

/// Where the engine reads samples from: the memory store or the SQLite store.
pub trait SeriesSource: Send + Sync {
    /// Every series whose labels satisfy all `matchers` (a missing label is the empty string,
    /// as in Prometheus), with its samples whose timestamp is in `[start_ms, end_ms]`.
    /// A series with no sample in the window may be omitted.
    fn select(&self, matchers: &[LabelMatcher], start_ms: i64, end_ms: i64) -> Vec<Series>;
}
