//! The bottom layer: what is stored and queried, with no knowledge of how.
//!
//! - [`record`]: spans, logs and metric points as the receivers decode them, with shared
//!   (interned) resources;
//! - [`series`]: Prometheus samples, series and label matchers ([`matcher`] compiles them);
//! - [`semconv`]: the attribute keys the queries and pages read;
//! - [`time`]: the one duration parser (PromQL's) and RFC 3339 formatting.
//!
//! Nothing here imports another module of the crate (checked by `tests/layers.rs`).

pub(crate) mod matcher;
pub(crate) mod record;
pub(crate) mod semconv;
pub(crate) mod series;
pub(crate) mod time;

pub use matcher::{InvalidMatcher, MatcherSet};
pub use series::{LabelMatcher, Labels, MatchOp, Sample, Series};
