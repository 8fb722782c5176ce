//! Query layer over the store: trace search and the Prometheus-compatible PromQL engine.

pub mod promql;
pub mod traces;
