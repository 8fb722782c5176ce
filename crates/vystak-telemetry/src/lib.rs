//! # vystak-telemetry
//!
//! Telemetry initialisation for vystak-otel services: OTLP **gRPC** tracer and meter providers
//! (batch spans, periodic metrics), strict W3C Trace Context Level 2 + baggage propagation, a resource with
//! `service.name` / `service.version` / `OTEL_RESOURCE_ATTRIBUTES`, views with the semantic
//! conventions' bucket boundaries, the seed's service names and its benign-error filter.
//!
//! ## Default
//!
//! ```no_run
//! use vystak_telemetry::{ServiceName, Telemetry};
//!
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> Result<(), vystak_telemetry::Error> {
//! let telemetry = Telemetry::new()
//!     .with_service_name(ServiceName::agent("assistant-agent")?)
//!     .init()?;
//! // … serve requests: the layers pick up the global providers …
//! telemetry.shutdown()?; // every finished span and metric point is delivered
//! # Ok(()) }
//! ```
//!
//! ## Customised
//!
//! ```no_run
//! use std::time::Duration;
//! use vystak_telemetry::{BenignRule, Telemetry};
//!
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> Result<(), vystak_telemetry::Error> {
//! let telemetry = Telemetry::new()
//!     .with_endpoint("http://otel-collector:4317")
//!     .with_service_name("vystak-channel-slack")
//!     .with_service_version(env!("CARGO_PKG_VERSION"))
//!     .with_sample_ratio(0.25)
//!     .with_export_interval(Duration::from_secs(15))
//!     .with_header("x-api-key", "secret")
//!     .with_benign_rule(BenignRule::new("jobs.poll", ["Elapsed"]))
//!     .build()?; // no globals: hand telemetry.tracer_provider() to the layers yourself
//! # Ok(()) }
//! ```
//!
//! ## Rules
//!
//! | Setting | Rule |
//! |---|---|
//! | endpoint | [`Telemetry::with_endpoint`] > `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `…_METRICS_…` > `OTEL_EXPORTER_OTLP_ENDPOINT` > `http://localhost:4317` |
//! | off | `OTEL_EXPORTER_OTLP_ENDPOINT=""` (wins over code: the seed's per-environment kill switch; nothing installed) or `OTEL_SDK_DISABLED=true` (propagator still installed) |
//! | `service.name` | [`Telemetry::with_service_name`] > `OTEL_SERVICE_NAME` > `service.name` in `OTEL_RESOURCE_ATTRIBUTES` > `unknown_service:<exe>` |
//! | resource | `OTEL_RESOURCE_ATTRIBUTES` (percent-decoded; malformed → ignored whole, see [`TelemetryGuard::warnings`]) + code attributes (win) |
//! | headers | `OTEL_EXPORTER_OTLP_HEADERS` + [`Telemetry::with_header`] |
//! | buckets | views give `http.server.request.duration`, `http.client.request.duration`, `gen_ai.client.token.usage`, `gen_ai.client.operation.duration` their semconv boundaries |
//!
//! An unreachable or hanging collector never blocks or fails the application: exports run on the
//! batch processor's thread, errors never reach the application, the span queue is capped
//! ([`DEFAULT_MAX_QUEUE_SIZE`], `OTEL_BSP_MAX_QUEUE_SIZE`) and `shutdown` is bounded by one
//! deadline, the export timeout, with traces and metrics flushed in parallel.
//!
//! ## Nothing lost without a word
//!
//! A span dropped because the queue is full, ended after shutdown, still queued at the shutdown
//! deadline or in a failed export is counted ([`TelemetryGuard::span_stats`],
//! [`TelemetryGuard::dropped_spans`]), exported as the semantic conventions' SDK self-metrics
//! (`otel.sdk.processor.span.processed` with `error.type=queue_full|already_shutdown`,
//! `otel.sdk.processor.span.queue.size`, `…queue.capacity`) and reported by a warning at most
//! every [`DROP_WARNING_INTERVAL`] (through `tracing` when a subscriber is installed, else on
//! stderr). Size the queue for your peak with [`Telemetry::with_max_queue_size`] or
//! `OTEL_BSP_MAX_QUEUE_SIZE`: see [`Telemetry::with_max_queue_size`].
//!
//! Run providers in a **multi-thread** Tokio runtime: the tonic exporter behind a blocking flush on
//! a current-thread runtime can only time out (opentelemetry-rust #2188, #2071).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod accounting;
mod benign;
mod env;
mod error;
mod exporters;
mod guard;
mod propagation;
mod providers;
pub mod semconv;
mod service_name;
mod telemetry;
mod views;

pub use accounting::{SpanStats, DROP_WARNING_INTERVAL};
pub use benign::{BenignErrorFilter, BenignRule, EXCEPTION_EVENT, EXCEPTION_TYPE};
pub use env::DisabledReason;
pub use error::Error;
pub use exporters::{Compression, Protocol, Signal, SignalPlan};
pub use guard::TelemetryGuard;
pub use propagation::default_propagator;
pub use service_name::{Channel, ServiceName, PREFIX};
pub use telemetry::{Telemetry, DEFAULT_EXPORT_TIMEOUT, DEFAULT_MAX_QUEUE_SIZE};
pub use views::{semconv_buckets_view, BUCKETS};

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
