//! # vystak-otel-propagator
//!
//! [`W3cTraceContextPropagator`]: a `TextMapPropagator` that follows
//! [W3C Trace Context Level 2](https://www.w3.org/TR/trace-context-2/) exactly, on the
//! OpenTelemetry API alone (no SDK), so the server layer, the client middleware and the NATS code
//! can all use it. `vystak-telemetry` installs it (with baggage) by default.
//!
//! ```
//! use opentelemetry::propagation::TextMapPropagator;
//! use vystak_otel_propagator::{HeaderMapExtractor, W3cTraceContextPropagator};
//!
//! let mut headers = http::HeaderMap::new();
//! headers.append("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! headers.append("traceparent", "00-11111111111111111111111111111111-2222222222222222-01".parse().unwrap());
//! // Two traceparent headers: the trace restarts (the stock propagator continues the first one).
//! let p = W3cTraceContextPropagator::new();
//! assert!(p.extract_span_context(&HeaderMapExtractor(&headers)).is_err());
//! ```
//!
//! The parsing functions are public for carriers of your own: [`parse_traceparent`],
//! [`parse_tracestate`], and [`insert_member`] for the §3.5 mutation rules.
//!
//! ## Features
//! - `http` (default): [`HeaderMapExtractor`] / [`HeaderMapInjector`] for `http::HeaderMap`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod choice;
#[cfg(feature = "http")]
mod http;
mod probe;
mod propagator;
mod traceparent;
mod tracestate;

#[cfg(feature = "http")]
pub use crate::http::{HeaderMapExtractor, HeaderMapInjector, INVALID_VALUE};
pub use choice::PropagatorChoice;
#[allow(deprecated)]
pub use probe::sdk_installed;
pub use propagator::{W3cTraceContextPropagator, TRACEPARENT, TRACESTATE};
pub use traceparent::{
    format_traceparent, parse_traceparent, Traceparent, TraceparentError, KNOWN_FLAGS, RANDOM_FLAG,
};
pub use tracestate::{
    format_tracestate, from_trace_state, insert_member, parse_tracestate, to_trace_state,
    valid_key, valid_value, TracestateError, LARGE_MEMBER_LEN, MAX_HEADER_LEN, MAX_MEMBERS,
};

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
