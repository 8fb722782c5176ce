//! # vystak-otel-nats
//!
//! One trace across NATS: the seed's "traceparent is injected into the JSON-RPC envelope's
//! `params._meta.headers` on publish, and the NATS↔HTTP bridge inside the receiving agent extracts
//! it and starts the agent-side span as a child of the caller's."
//!
//! - [`inject`] / [`extract`]: trace context in JSON-RPC 2.0 envelopes (`params._meta.headers`;
//!   also read from MCP SEP-414 `params._meta`, `params.message.metadata`, `params.metadata`).
//!   Malformed envelopes never panic and never error: they mean "no parent".
//! - [`NatsHeaderInjector`] / [`NatsHeaderExtractor`]: NATS message headers as a carrier.
//! - [`NatsTracing`]: PRODUCER `send {subject}` spans around request/publish (context injected into
//!   the envelope and the headers) and CONSUMER `process {subject}` spans for received messages.
//! - `NatsHttpBridge` (feature `bridge`, on by default): an agent's subject forwarded to its local
//!   `/a2a` endpoint through `OtelClientMiddleware`, so the agent's server span descends from the
//!   publisher's span. Without the feature the crate pulls in no HTTP client (no reqwest).
//!
//! ## Default
//!
//! ```
//! use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState, TraceContextExt};
//! use opentelemetry_sdk::propagation::TraceContextPropagator;
//! use vystak_otel_nats::{extract_with, inject_with};
//!
//! let cx = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
//!     TraceId::from(7u128), SpanId::from(9u64), TraceFlags::SAMPLED, true, TraceState::NONE));
//! let mut envelope = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {}});
//! inject_with(&mut envelope, &cx, &TraceContextPropagator::new());
//! assert!(envelope["params"]["_meta"]["headers"]["traceparent"].is_string());
//! let back = extract_with(&envelope, &TraceContextPropagator::new());
//! assert_eq!(back.span().span_context().span_id(), SpanId::from(9u64));
//! ```
//!
//! Spans: `messaging.system=nats`, `messaging.destination.name`, `messaging.operation.name` and
//! `.type` (`send` / `process`), `messaging.message.body.size`, `error.type`; `_INBOX.*` reply
//! subjects never appear in span names. A JSON-RPC envelope adds the RPC conventions' attributes:
//! `rpc.system.name=jsonrpc`, `jsonrpc.protocol.version`, `rpc.method`, `jsonrpc.request.id`
//! (not for a null id), and on an error reply `rpc.response.status_code` (the error code as a
//! string) with `error.type` = the code.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "bridge")]
mod bridge;
pub mod envelope;
mod error;
mod headers;
mod jsonrpc;
pub mod semconv;
mod tracing;

#[cfg(feature = "bridge")]
#[cfg_attr(docsrs, doc(cfg(feature = "bridge")))]
pub use bridge::{BridgeHandle, NatsHttpBridge, JSONRPC_INTERNAL_ERROR};
pub use envelope::{extract, extract_with, inject, inject_with, InjectOutcome};
pub use error::NatsError;
pub use headers::{NatsHeaderExtractor, NatsHeaderInjector};
pub use tracing::NatsTracing;

/// The `async-nats` crate this crate is built against, re-exported: connect with
/// `vystak_otel_nats::async_nats::connect(…)` and the [`async_nats::Client`] you get is the one
/// [`NatsTracing`] and `NatsHttpBridge` take, whatever `async-nats` release is newest when you
/// add this crate (a separately added `async-nats` of another minor version is another type).
pub use async_nats;

/// The crate README, compiled as a doctest.
#[cfg(all(doctest, feature = "bridge"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
