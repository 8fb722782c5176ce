//! # vystak-otel-server
//!
//! `OtelServerLayer`: every inbound HTTP request becomes an OpenTelemetry **SERVER** span that
//! continues the caller's W3C trace, plus `http.server.request.duration` — from one
//! `.layer(...)` on an axum router, inside a `tower::ServiceBuilder`, or around any
//! `tower::Service<http::Request<B>>`. It uses the OpenTelemetry API only; no `tracing`
//! subscriber is needed (and a `tracing-opentelemetry` setup nests under our spans).
//!
//! ## Default
//!
//! ```no_run
//! use axum::{routing::post, Router};
//! use vystak_otel_server::OtelServerLayer;
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new()
//!     .route("/a2a", post(|| async { "{}" }))
//!     .layer(OtelServerLayer::new()); // global tracer/meter providers and propagator
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
//! # }
//! ```
//!
//! ## Customised
//!
//! ```
//! use http::HeaderName;
//! use opentelemetry::KeyValue;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use vystak_otel_server::{HeaderCapture, InboundPolicy, InboundTrust, OtelServerLayer, ServerMetrics};
//!
//! let provider = SdkTracerProvider::builder().build();
//! let layer = OtelServerLayer::new()
//!     .with_tracer_provider(&provider)
//!     .with_filter(|req| req.path() != "/health")   // no span, but context still propagates
//!     .with_inbound_policy(InboundPolicy::default().with_trust(InboundTrust::NewRootWithLink)) // public ingress
//!     .with_header_capture(HeaderCapture::default().with_request([HeaderName::from_static("x-tenant")]))
//!     .on_request(|req, attrs| attrs.push(KeyValue::new("app.tenant.known", req.headers.contains_key("x-tenant"))))
//!     .with_server_metrics(ServerMetrics::default().with_active_requests(true).with_body_sizes(true));
//! ```
//!
//! ## What is recorded
//!
//! - Span name `{method} {http.route}` (axum `MatchedPath`, or a
//!   [route extractor](OtelServerLayer::with_route_extractor)), else `{method}`; never the raw path.
//!   Unknown methods become `_OTHER` with `http.request.method_original`, span name `HTTP`
//!   (known methods: `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` or
//!   [`with_known_methods`](OtelServerLayer::with_known_methods)).
//! - Attributes: `http.request.method`, `url.path`, `url.scheme` (`http` unless the request says
//!   otherwise), `url.query` (sensitive values `REDACTED`), `http.route`,
//!   `http.response.status_code`, `server.address` / `server.port` (`:authority` or `Host`),
//!   `client.address` (axum `ConnectInfo`; `Forwarded` / `X-Forwarded-*` only from
//!   [trusted proxies](InboundPolicy::trusted_proxies)), `network.peer.address` / `.port`,
//!   `network.protocol.version` (`1.0`, `1.1`, `2`, `3`),
//!   `user_agent.original`, `error.type`. None is ever an empty string.
//! - Status: 5xx → ERROR with `error.type` = the code; 4xx → UNSET; an inner service error →
//!   ERROR with `error.type` = the error's type name; a body error → ERROR; a request dropped before
//!   its response body ended → ERROR with `error.type=cancelled`.
//! - The span and the duration end when the response **body** ends, so SSE and chunked replies
//!   are covered to their last frame.
//! - The request's OTel context is current on every poll of the handler future and of the
//!   response body, so client and GenAI calls made there become children.
//! - Metrics: `http.server.request.duration` (s, semconv buckets; method, scheme, route, status,
//!   `error.type`, protocol version); opt-in `http.server.active_requests` (never leaks on
//!   cancellation) and body-size histograms. With the meter provider `Telemetry::init` installs
//!   (or one declared with [`ServerMetrics::with_bound_instruments`]) the duration goes through
//!   a bound handle per point, so the SDK does not sort and hash its attributes per request.
//! - With no tracer provider installed (telemetry off) the layer does no span or metric work.
//!
//! ## Features
//!
//! - `axum` (default): `http.route` from `MatchedPath`, `client.address` from `ConnectInfo`.
//!   Without it, `client.address` comes from a `SocketAddr` request extension.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod config;
mod event;
mod forwarded;
mod future;
mod headers;
mod intern;
mod layer;
mod make_span;
mod parent;
mod request;
pub mod semconv;
mod service;
mod state;

pub use body::ResponseBody;
pub use config::{HeaderCapture, InboundPolicy, InboundTrust, ServerMetrics};
pub use event::{EventFuture, EventSpan};
pub use forwarded::{ProxyNet, ProxyNetError};
pub use future::ResponseFuture;
pub use layer::OtelServerLayer;
pub use request::RequestView;
pub use semconv::{SLACK_APP_MENTION, SLACK_MESSAGE};
pub use service::OtelServer;

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
