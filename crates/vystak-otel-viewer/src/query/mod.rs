//! Query layer over the store: trace search, the Prometheus-compatible PromQL engine, and the
//! rendering of a trace as a tree (the console and the trace page share it).
//!
//! Imports `model`, `storage` and `otlp` only (checked by `tests/layers.rs`).

pub mod promql;
pub mod render;
pub mod traces;
