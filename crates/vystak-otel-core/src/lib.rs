//! # vystak-otel-core
//!
//! What every vystak-otel instrumentation crate (server, client, GenAI, NATS) shares, as a small
//! public crate in the manner of `axum-core`: documented, semver'd, and required with `=` by the
//! workspace's crates, so a patch release of one can never pair it with an incompatible other.
//! On the OpenTelemetry API alone (no SDK).
//!
//! - [`spans::SpanStarter`]: starts a span under a parent context through one `dyn` call, keeping
//!   a provider's concrete tracer (a `BoxedTracer` would box each span twice).
//! - [`attrs::StackAttrs`]: up to `N` metric attributes on the stack, in a fixed order, for
//!   `Histogram::record` without allocating.
//! - [`bound::BoundPoints`]: a histogram's bound handles, one per attribute set (for meter
//!   providers known to record bound instruments).
//! - [`intern`]: recent attribute values (paths, hosts, URLs, peers) shared as `Arc<str>` per
//!   thread instead of copied per request.
//! - [`semconv`]: the names more than one crate records (HTTP attributes, buckets, GenAI
//!   metrics), declared once.
//! - [`providers`]: one lazy resolution of the tracer and meter providers (handed in, else
//!   global) and the probe telling an installed SDK from the no-op provider.
//! - [`redact`]: the sensitive query keys and the query and URL redactors.
//!
//! ```
//! use opentelemetry::trace::{noop::NoopTracer, SpanBuilder, TraceContextExt};
//! use opentelemetry::{Context, KeyValue};
//! use vystak_otel_core::attrs::StackAttrs;
//! use vystak_otel_core::intern::{recent, Kind};
//! use vystak_otel_core::spans::SpanStarter;
//!
//! let starter = SpanStarter::new(NoopTracer::new());
//! let cx = starter.start(SpanBuilder::from_name("GET /users/{id}"), &Context::new());
//! assert!(cx.has_active_span());
//!
//! let mut attrs = StackAttrs::<2>::new();
//! attrs.push(KeyValue::new("http.request.method", "GET"));
//! attrs.push(KeyValue::new("url.scheme", recent(Kind::Url, "https")));
//! assert_eq!(attrs.as_slice().len(), 2);
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attrs;
pub mod bound;
pub mod intern;
pub mod providers;
pub mod redact;
pub mod semconv;
pub mod spans;

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
