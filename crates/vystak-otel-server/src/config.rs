//! What an [`OtelServerLayer`](crate::OtelServerLayer) is configured with: the option groups
//! ([`HeaderCapture`], [`InboundPolicy`], [`ServerMetrics`]), the inbound trust policy and the
//! hooks — everything the layer holds before its first request resolves the providers.

use std::borrow::Cow;
use std::sync::Arc;

use http::HeaderName;
use opentelemetry::{InstrumentationScope, KeyValue};
use vystak_otel_core::providers::Providers;
use vystak_otel_propagator::PropagatorChoice;

use crate::forwarded::ProxyNet;
use crate::request::{KnownMethods, RequestView};

/// What to do with an inbound `traceparent` (and baggage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboundTrust {
    /// Continue the caller's trace: the server span is a child of the remote span (default).
    #[default]
    Trust,
    /// Public ingress: start a new trace and add a span link to the remote context; baggage is
    /// dropped.
    NewRootWithLink,
    /// Ignore inbound context entirely: a new trace, no link, no baggage.
    Ignore,
}

/// Which headers the server span records, as `http.request.header.<name>` and
/// `http.response.header.<name>` string arrays, and whose values it records as `REDACTED`.
///
/// ```
/// use http::HeaderName;
/// use vystak_otel_server::{HeaderCapture, OtelServerLayer};
///
/// let layer = OtelServerLayer::new().with_header_capture(
///     HeaderCapture::default()
///         .with_request([HeaderName::from_static("x-tenant"), http::header::AUTHORIZATION])
///         .with_response([HeaderName::from_static("x-request-id")]),
/// ); // `authorization` is captured as REDACTED: it is in the default sensitive list.
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderCapture {
    /// Request headers captured (default: none).
    pub request: Vec<HeaderName>,
    /// Response headers captured (default: none).
    pub response: Vec<HeaderName>,
    /// Captured headers whose values are recorded as `REDACTED` (default: `authorization`,
    /// `cookie`, `set-cookie`, `proxy-authorization`).
    pub sensitive: Vec<HeaderName>,
}

impl Default for HeaderCapture {
    fn default() -> Self {
        Self {
            request: Vec::new(),
            response: Vec::new(),
            sensitive: vec![
                http::header::AUTHORIZATION,
                http::header::COOKIE,
                http::header::SET_COOKIE,
                http::header::PROXY_AUTHORIZATION,
            ],
        }
    }
}

impl HeaderCapture {
    /// Captures these request headers.
    pub fn with_request(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.request = names.into_iter().collect();
        self
    }

    /// Captures these response headers.
    pub fn with_response(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.response = names.into_iter().collect();
        self
    }

    /// Replaces the sensitive list.
    pub fn with_sensitive(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.sensitive = names.into_iter().collect();
        self
    }
}

/// How far the layer believes what a request says about where it comes from: its trace context
/// ([`InboundTrust`]) and its proxies' `Forwarded` / `X-Forwarded-*` headers.
///
/// ```
/// use vystak_otel_server::{InboundPolicy, InboundTrust, OtelServerLayer};
///
/// # fn main() -> Result<(), vystak_otel_server::ProxyNetError> {
/// let layer = OtelServerLayer::new().with_inbound_policy(
///     InboundPolicy::default()
///         .with_trust(InboundTrust::NewRootWithLink) // public ingress
///         .with_trusted_proxies(["10.0.0.0/8".parse::<vystak_otel_server::ProxyNet>()?]),
/// );
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboundPolicy {
    /// What to do with an inbound `traceparent` and baggage (default [`InboundTrust::Trust`]).
    pub trust: InboundTrust,
    /// The proxies whose `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` /
    /// `X-Forwarded-Host` headers are believed for `client.address`, `url.scheme` and
    /// `server.address` — only on requests whose TCP peer is one of them; the peer is then
    /// `network.peer.address`. Default: none, the headers are ignored.
    ///
    /// The client is found the safe way, as proxies append to these headers: the hops are read
    /// from the **right**, trusted proxies are skipped, and the first untrusted address is the
    /// client (a spoofed left-most entry is never believed). A hop that is not an IP address
    /// (`unknown`, an obfuscated `_name`, a malformed value) stops the walk and `client.address`
    /// is left out; when every hop is trusted, the left-most is the client. List every proxy of
    /// your chain (e.g. the ingress and the load balancer).
    pub trusted_proxies: Vec<ProxyNet>,
}

impl InboundPolicy {
    /// Sets [`trust`](Self::trust).
    pub fn with_trust(mut self, trust: InboundTrust) -> Self {
        self.trust = trust;
        self
    }

    /// Sets [`trusted_proxies`](Self::trusted_proxies) (IPs or CIDR blocks).
    pub fn with_trusted_proxies(
        mut self,
        proxies: impl IntoIterator<Item = impl Into<ProxyNet>>,
    ) -> Self {
        self.trusted_proxies = proxies.into_iter().map(Into::into).collect();
        self
    }
}

/// Which `http.server.*` metrics the layer records.
///
/// ```
/// use vystak_otel_server::{OtelServerLayer, ServerMetrics};
///
/// let layer = OtelServerLayer::new().with_server_metrics(
///     ServerMetrics::default().with_active_requests(true).with_body_sizes(true),
/// );
/// let spans_only = OtelServerLayer::new().with_server_metrics(ServerMetrics::disabled());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerMetrics {
    /// `http.server.request.duration` and the opt-in metrics below (default `true`). With
    /// `false` the layer records spans only and never touches a meter.
    pub enabled: bool,
    /// The opt-in `http.server.active_requests` up-down counter (default `false`).
    pub active_requests: bool,
    /// The opt-in `http.server.request.body.size` (from `Content-Length`) and
    /// `http.server.response.body.size` (bytes actually sent) histograms (default `false`).
    pub body_sizes: bool,
    /// The meter provider handed in (`with_meter_provider`) records **bound** instruments: its
    /// SDK has `opentelemetry_sdk`'s `experimental_metrics_bound_instruments` feature, and the
    /// duration is recorded through a bound handle per point (the SDK then skips sorting and
    /// hashing the attributes on each request). Default `false`; the global provider
    /// `vystak-telemetry` installs is recognised without it. Set it for another provider and
    /// its SDK lacks the feature, and the durations are silently dropped by that SDK.
    pub bound_instruments: bool,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self {
            enabled: true,
            active_requests: false,
            body_sizes: false,
            bound_instruments: false,
        }
    }
}

impl ServerMetrics {
    /// No metrics: spans only.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets [`active_requests`](Self::active_requests).
    pub fn with_active_requests(mut self, enabled: bool) -> Self {
        self.active_requests = enabled;
        self
    }

    /// Sets [`body_sizes`](Self::body_sizes).
    pub fn with_body_sizes(mut self, enabled: bool) -> Self {
        self.body_sizes = enabled;
        self
    }

    /// Sets [`bound_instruments`](Self::bound_instruments).
    pub fn with_bound_instruments(mut self, records_bound: bool) -> Self {
        self.bound_instruments = records_bound;
        self
    }
}

pub(crate) type Filter = Arc<dyn Fn(&RequestView<'_>) -> bool + Send + Sync>;
pub(crate) type RouteExtractor =
    Arc<dyn Fn(&RequestView<'_>) -> Option<Cow<'static, str>> + Send + Sync>;
pub(crate) type RequestHook = Arc<dyn Fn(&RequestView<'_>, &mut Vec<KeyValue>) + Send + Sync>;
pub(crate) type ResponseHook =
    Arc<dyn Fn(http::StatusCode, &http::HeaderMap, &mut Vec<KeyValue>) + Send + Sync>;

/// A layer's whole configuration.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) providers: Providers,
    pub(crate) propagator: PropagatorChoice,
    pub(crate) known_methods: KnownMethods,
    pub(crate) filter: Option<Filter>,
    pub(crate) route_extractor: Option<RouteExtractor>,
    pub(crate) on_request: Option<RequestHook>,
    pub(crate) on_response: Option<ResponseHook>,
    pub(crate) headers: HeaderCapture,
    pub(crate) inbound: InboundPolicy,
    pub(crate) metrics: ServerMetrics,
    pub(crate) response_traceparent: bool,
}

impl Config {
    /// The defaults; reads `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` once.
    pub(crate) fn new() -> Self {
        Self {
            providers: Providers::global(scope()),
            propagator: PropagatorChoice::Global,
            known_methods: KnownMethods::from_env(),
            filter: None,
            route_extractor: None,
            on_request: None,
            on_response: None,
            headers: HeaderCapture::default(),
            inbound: InboundPolicy::default(),
            metrics: ServerMetrics::default(),
            response_traceparent: false,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelServerLayer")
            .field("providers", &self.providers)
            .field("known_methods", &self.known_methods)
            .field("filter", &self.filter.is_some())
            .field("route_extractor", &self.route_extractor.is_some())
            .field("on_request", &self.on_request.is_some())
            .field("on_response", &self.on_response.is_some())
            .field("headers", &self.headers)
            .field("inbound", &self.inbound)
            .field("metrics", &self.metrics)
            .field("response_traceparent", &self.response_traceparent)
            .finish()
    }
}

/// The instrumentation scope of the server's spans and metrics.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}
