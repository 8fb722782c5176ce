//! # vystak-otel
//!
//! One connected OpenTelemetry trace per user message for AI-agent services built on
//! tower/axum, reqwest and NATS — plus GenAI token-usage metrics for every model call.
//!
//! This umbrella crate only re-exports the workspace crates; each of them is usable alone.
//!
//! | Feature      | Module                 | Crate                    | What it gives you |
//! |--------------|------------------------|--------------------------|-------------------|
//! | `telemetry`  | [`telemetry`]          | `vystak-telemetry`       | `Telemetry::init()`: OTLP gRPC tracer + meter providers, env rules, `ServiceName`, `BenignErrorFilter` |
//! | `propagator` | [`propagator`]         | `vystak-otel-propagator` | a W3C Trace Context Level 2 propagator that follows the spec exactly |
//! | `server`     | [`server`]             | `vystak-otel-server`     | `OtelServerLayer`: SERVER spans + `http.server.request.duration`; `EventSpan` roots |
//! | `client`     | [`client`]             | `vystak-otel-client`     | `OtelClientMiddleware`: CLIENT spans + `traceparent` injection for reqwest |
//! | `genai`      | [`genai`]              | `vystak-otel-genai`      | `GenAiLayer`, `instrument()`: `gen_ai.chat` spans + token/duration histograms |
//! | `nats`       | [`nats`]               | `vystak-otel-nats`       | `params._meta.headers` propagation, NATS helpers, `NatsHttpBridge` |
//! | `viewer`     | `viewer`               | `vystak-otel-viewer`     | the local backend (OTLP receivers, SQLite, UI, PromQL); **opt-in** |
//! | `full`       | all of the above       |                          | opt-in |
//!
//! The default features are the instrumentation a service needs (every row but `viewer`): adding
//! this crate does not compile a database, a gRPC server or an HTML engine into your agents.
//! `features = ["full"]` (or `["viewer"]`) adds the viewer.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "client")]
pub use vystak_otel_client as client;
#[cfg(feature = "genai")]
pub use vystak_otel_genai as genai;
#[cfg(feature = "nats")]
pub use vystak_otel_nats as nats;
#[cfg(feature = "propagator")]
pub use vystak_otel_propagator as propagator;
#[cfg(feature = "server")]
pub use vystak_otel_server as server;
#[cfg(feature = "viewer")]
pub use vystak_otel_viewer as viewer;
#[cfg(feature = "telemetry")]
pub use vystak_telemetry as telemetry;
