//! # vystak-otel-viewer
//!
//! The embedded local backend of vystak-otel: a real **OTLP gRPC receiver** (traces and metrics)
//! that stores what it receives in a bounded in-memory [`Store`], a query API over it, and
//! rendering — a trace as an indented tree and the token-usage summary of the seed's two PromQL
//! examples (total input tokens; cache-read ÷ input per service).
//!
//! It is what the examples use when `OTEL_EXPORTER_OTLP_ENDPOINT` is unset, what every end-to-end
//! test in the workspace exports into, and a binary (`vystak-otel-viewer`, listening on
//! `127.0.0.1:4317`) that prints each trace tree as it completes.
//!
//! ## Example
//!
//! ```no_run
//! use std::time::Duration;
//! use vystak_otel_viewer::{render, Receiver};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Receiver::start_local().await?;
//! // point an OTLP gRPC exporter at receiver.endpoint(), run your code, flush …
//! let spans = receiver.store().wait_for_spans(2, Duration::from_secs(10)).await;
//! for trace_id in receiver.store().trace_ids() {
//!     print!("{}", render::trace_tree(&receiver.store().trace(&trace_id)));
//! }
//! let tokens = render::TokenSummary::from_points(&receiver.store().all_metric_points());
//! println!("{tokens}");
//! receiver.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Bounds
//! At most [`DEFAULT_MAX_SPANS`] spans and [`DEFAULT_MAX_POINTS`] metric series are kept by
//! default ([`Store::with_capacity`] changes that); the oldest are evicted first.

pub mod api;
mod convert;
mod error;
pub mod query;
mod receiver;
mod record;
pub mod render;
mod store;
mod time;

pub use error::Error;
pub use receiver::{Receiver, Viewer, ViewerConfig, DEFAULT_MAX_REQUEST_BYTES};
pub use record::{
    AttrValue, EventRecord, LinkRecord, LogRecord, MetricPoint, PointValue, SpanKind, SpanRecord,
    SpanStatus,
};
pub use store::{Store, StoreOptions, DEFAULT_MAX_LOGS, DEFAULT_MAX_POINTS, DEFAULT_MAX_SPANS};

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
