//! # vystak-otel-client
//!
//! `OtelClientMiddleware` for [reqwest-middleware](reqwest_middleware): every outbound request
//! attempt becomes an OpenTelemetry **CLIENT** span, child of the current OTel context, and
//! carries `traceparent` / `tracestate` / baggage to the server — with no `tracing` subscriber
//! required. It also records `http.client.request.duration`.
//!
//! ## Default
//!
//! ```no_run
//! use reqwest_middleware::ClientBuilder;
//! use vystak_otel_client::OtelClientMiddleware;
//!
//! # async fn run() -> reqwest_middleware::Result<()> {
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(OtelClientMiddleware::new()) // global providers and propagator
//!     .build();
//! client.post("http://127.0.0.1:8080/a2a").body("{}").send().await?;
//! # Ok(()) }
//! ```
//!
//! ## Customised, with retries
//!
//! Put the retry middleware **before** ours, so each attempt gets its own span with
//! `http.request.resend_count`:
//!
//! ```
//! use reqwest_middleware::ClientBuilder;
//! use reqwest_retry::{policies::ExponentialBackoff, RetryTransientMiddleware};
//! use vystak_otel_client::OtelClientMiddleware;
//!
//! let tp = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let retry = RetryTransientMiddleware::new_with_policy(
//!     ExponentialBackoff::builder().build_with_max_retries(2),
//! );
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(retry)
//!     .with(OtelClientMiddleware::new().with_tracer_provider(&tp).with_overwrite_traceparent(true))
//!     .build();
//! ```
//!
//! ## What is recorded
//!
//! - Span name `{method}` (or [`OtelName`]); kind CLIENT; one per attempt.
//! - `http.request.method` (unknown → `_OTHER` + `http.request.method_original`),
//!   `server.address`, `server.port` (80/443 filled in), `url.full` (credentials →
//!   `REDACTED:REDACTED`, `sig`, `X-Amz-Signature`, … values → `REDACTED`),
//!   `http.response.status_code`, `network.protocol.version`, `http.request.resend_count`,
//!   `error.type`.
//! - Status: 4xx and 5xx → ERROR with `error.type` = the code; transport errors → ERROR with
//!   `timeout`, `connect`, `redirect`, `body`, `decode`, `request`; a request dropped by the caller
//!   ends the span without an error. The span ends when the response headers arrive.
//! - `http.client.request.duration` (s, semconv buckets) with method, server address/port,
//!   status code, `error.type`, protocol version.
//! - Per request: [`OtelName`], [`UrlTemplate`] (`url.template` and span name
//!   `{method} {template}`), [`DisableOtelPropagation`] (third-party APIs that must not see
//!   our trace ids), [`DisableOtelSpan`], set with `RequestBuilder::with_extension`.
//! - With no tracer provider installed (telemetry off), no span or metric work is done; the
//!   global propagator is still applied.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod carrier;
mod extensions;
mod middleware;
pub mod semconv;
mod url;

pub use extensions::{DisableOtelPropagation, DisableOtelSpan, OtelName, UrlTemplate};
pub use middleware::OtelClientMiddleware;
pub use vystak_otel_core::redact::redact_urls_in;

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
