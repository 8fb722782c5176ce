//! Per-request overrides, read from reqwest-middleware's `Extensions`.

use std::borrow::Cow;

/// Overrides the span name of one request (default: the method).
///
/// ```no_run
/// # async fn run(client: reqwest_middleware::ClientWithMiddleware) -> reqwest_middleware::Result<()> {
/// client
///     .post("http://127.0.0.1:8080/a2a")
///     .with_extension(vystak_otel_client::OtelName("POST /a2a".into()))
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtelName(pub Cow<'static, str>);

/// The low-cardinality template of this request's URL, e.g. `/agents/{name}/a2a`: recorded as
/// `url.template` and used in the span name (`POST /agents/{name}/a2a`), as the HTTP semantic
/// conventions describe for clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate(pub Cow<'static, str>);

/// Do not inject trace context into this request (e.g. calls to third-party APIs that must not
/// see our trace ids). The span is still recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisableOtelPropagation;

/// Record no span and no metric for this request (context is still injected unless
/// [`DisableOtelPropagation`] is set too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisableOtelSpan;

/// Attempt counter kept in the request's `Extensions` across retries (reqwest-retry passes the
/// same `Extensions` to every attempt).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Attempts(pub(crate) u32);
