//! Prometheus samples and series: what the metric store keeps and PromQL reads.

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
