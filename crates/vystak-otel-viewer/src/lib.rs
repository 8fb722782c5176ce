//! # vystak-otel-viewer
//!
//! The local OpenTelemetry backend of vystak-otel (the seed's otel-lgtm, without Docker):
//!
//! - receivers: OTLP/gRPC (traces, metrics, logs) and OTLP/HTTP (`/v1/traces`, `/v1/metrics`,
//!   `/v1/logs`; protobuf and JSON, gzip) — [`Viewer`], also known as [`Receiver`];
//! - a [`Store`]: bounded in memory, or a SQLite file ([`Store::open_sqlite`]); metric data
//!   points are kept as Prometheus samples over time and as the latest point per series;
//! - queries: trace search and lookup ([`query::traces`]), PromQL ([`query::promql`]), and the
//!   HTTP API over both ([`api::router`]: `/api/traces…`, the Prometheus `/api/v1/…`);
//! - rendering ([`render`]): a trace as an indented tree, the token-usage summary of the seed's
//!   two PromQL examples.
//!
//! It is what the examples use when `OTEL_EXPORTER_OTLP_ENDPOINT` is unset, what every end-to-end
//! test in the workspace exports into, and a binary (`vystak-otel-viewer`: `127.0.0.1:4317`,
//! `:4318` and the API on `:13000`) that prints each trace tree as it completes.
//!
//! ## Example
//!
//! ```no_run
//! use std::time::Duration;
//! use vystak_otel_viewer::{render, Receiver};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Receiver::start_local().await?;
//! // point an OTLP exporter at receiver.endpoint() (gRPC) or receiver.http_endpoint() …
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
//! ## A persistent backend on chosen ports
//!
//! ```no_run
//! use std::time::Duration;
//! use vystak_otel_viewer::{Store, StoreOptions, Viewer, ViewerConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open_sqlite(
//!     "viewer.db",
//!     StoreOptions::default().with_retention(Some(Duration::from_secs(7 * 86_400))),
//! )?;
//! let viewer = Viewer::start(
//!     ViewerConfig::default()
//!         .with_grpc("127.0.0.1:14317".parse()?)
//!         .with_store(store),
//! )
//! .await?;
//! # viewer.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Bounds
//! At most [`DEFAULT_MAX_SPANS`] spans, [`DEFAULT_MAX_LOGS`] logs and [`DEFAULT_MAX_POINTS`]
//! latest-point series are kept by default ([`StoreOptions`] changes that); the oldest are
//! evicted first. With a SQLite file these bound the in-memory cache; the file is bounded by
//! age and size ([`StoreOptions::with_max_file_bytes`]) and read back when memory lacks a trace.

#![cfg_attr(docsrs, feature(doc_cfg))]
// Client numbers (query parameters, OTLP fields) pass through this crate: every integer
// operation and narrowing cast is checked, saturating or an explicit, commented exception
// (issue 27). The store and the records, which only count their own rows, are exempt below;
// tests are not held to it.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

// Layers, bottom to top; a module imports only the layers below it (`tests/layers.rs` checks
// every `crate::` path): `model` (records, samples, matchers) → `storage` (the store, its
// memory and SQLite halves, the `SeriesSource` querier) → `otlp` (OTLP → records and
// Prometheus samples) → `query` (trace search, PromQL, rendering) → `http` (receivers, API,
// pages) → `app` (the running viewer). `error` is a leaf any layer may use.
mod app;
mod error;
mod http;
mod model;
mod otlp;
pub mod query;
#[allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
mod storage;

pub use app::{Printer, Receiver, Viewer, ViewerConfig};
pub use error::Error;
pub use http::conn::{
    ConnectionLimits, DEFAULT_BODY_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};
pub use http::receiver::DEFAULT_MAX_REQUEST_BYTES;
pub use http::{api, ui};
pub use model::record::{
    AttrValue, Attributes, EventRecord, LinkRecord, LogRecord, MetricPoint, PointValue,
    QuantileValue, SharedAttributes, SpanKind, SpanRecord, SpanStatus,
};
pub use model::time::parse_duration;
pub use query::render;
pub use storage::{
    SeriesSource, Store, StoreOptions, TraceIdQuery, TraceReader, DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_LOGS, DEFAULT_MAX_MEMORY, DEFAULT_MAX_POINTS, DEFAULT_MAX_SPANS,
    DEFAULT_WRITE_QUEUE, FILE_SEARCH_BY_OPERATION_SQL, FILE_SEARCH_SQL, FILE_TRACE_LOGS_SQL,
    FILE_TRACE_SQL, RARE_OPERATION_SPANS,
};

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
