//! The OTLP exporters of both signals, in four parts:
//!
//! - `config`: the exporter configuration types (protocol, compression, signal, the builder's
//!   options, a signal's resolved plan);
//! - `plan`: the environment plan, each signal's exporter resolved as a pure function of the
//!   builder and an environment snapshot (so every rule is testable);
//! - `refusal`: the wrapper that stops a signal the backend refuses, and its reporting;
//! - `otlp` (with `tls`): building the gRPC or HTTP exporters, with TLS for `https://`.

mod config;
mod otlp;
mod plan;
mod refusal;
mod tls;

pub(crate) use config::ExportOptions;
pub use config::{Compression, Protocol, Signal, SignalPlan};
pub(crate) use otlp::{build_exporters, ExporterConfig};
pub(crate) use plan::plan_signal;
pub(crate) use refusal::{RefusableMetrics, RefusableSpans, Refusal};
pub(crate) use tls::missing_roots_warnings;
