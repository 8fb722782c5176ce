//! `OtelServerLayer`: configuration and the tower `Layer`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use http::HeaderName;
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry::{InstrumentationScope, KeyValue};
use tower_layer::Layer;
use vystak_otel_propagator::sdk_installed;

use vystak_otel_propagator::PropagatorChoice;

use crate::forwarded::ProxyNet;
use crate::request::{KnownMethods, RequestView};
use crate::service::OtelServer;
use crate::state::{Instruments, Shared};
use vystak_otel_core::spans::SpanStarter;

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

pub(crate) type Filter = Arc<dyn Fn(&RequestView<'_>) -> bool + Send + Sync>;
pub(crate) type RouteExtractor =
    Arc<dyn Fn(&RequestView<'_>) -> Option<Cow<'static, str>> + Send + Sync>;
pub(crate) type RequestHook = Arc<dyn Fn(&RequestView<'_>, &mut Vec<KeyValue>) + Send + Sync>;
pub(crate) type ResponseHook =
    Arc<dyn Fn(http::StatusCode, &http::HeaderMap, &mut Vec<KeyValue>) + Send + Sync>;

/// A tower [`Layer`] that gives every request a SERVER span and `http.server.*` metrics.
///
/// See the [crate docs](crate) for what is recorded and how.
#[derive(Clone)]
#[must_use]
pub struct OtelServerLayer {
    pub(crate) tracer: Option<SpanStarter>,
    pub(crate) meter: Option<Meter>,
    pub(crate) propagator: PropagatorChoice,
    pub(crate) known_methods: KnownMethods,
    pub(crate) filter: Option<Filter>,
    pub(crate) route_extractor: Option<RouteExtractor>,
    pub(crate) on_request: Option<RequestHook>,
    pub(crate) on_response: Option<ResponseHook>,
    pub(crate) request_headers: Arc<[HeaderName]>,
    pub(crate) response_headers: Arc<[HeaderName]>,
    pub(crate) sensitive_headers: Arc<[HeaderName]>,
    pub(crate) trust: InboundTrust,
    pub(crate) active_requests: bool,
    pub(crate) body_sizes: bool,
    pub(crate) response_traceparent: bool,
    pub(crate) metrics: bool,
    pub(crate) trusted_proxies: Arc<[ProxyNet]>,
    /// `true` until `with_tracer_provider`: the global tracer provider, resolved lazily.
    pub(crate) global_tracer: bool,
    /// `true` until `with_meter_provider`: the global meter provider, resolved lazily.
    pub(crate) global_meter: bool,
    /// Created on the first `layer()` call and shared by every service (axum calls `layer()` per
    /// route and again per connection for handler routes); it resolves the providers on the
    /// first request.
    cache: Arc<OnceLock<Arc<LazyShared>>>,
}

/// The layer's configuration and, from the first request on, the state resolved from it.
pub(crate) struct LazyShared {
    layer: OtelServerLayer,
    cell: OnceLock<Arc<Shared>>,
}

impl fmt::Debug for LazyShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyShared")
            .field("resolved", &self.cell.get())
            .finish_non_exhaustive()
    }
}

impl LazyShared {
    /// The resolved state; the global providers are looked up the first time (the first
    /// request), so a layer built before `Telemetry::init()` still records.
    pub(crate) fn get(&self) -> &Arc<Shared> {
        self.cell.get_or_init(|| Arc::new(self.layer.shared()))
    }
}

impl fmt::Debug for OtelServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelServerLayer")
            .field("tracer", &self.tracer.as_ref().map(|_| "custom"))
            .field("meter", &self.meter.as_ref().map(|_| "custom"))
            .field("known_methods", &self.known_methods)
            .field("filter", &self.filter.is_some())
            .field("route_extractor", &self.route_extractor.is_some())
            .field("on_request", &self.on_request.is_some())
            .field("on_response", &self.on_response.is_some())
            .field("request_headers", &self.request_headers)
            .field("response_headers", &self.response_headers)
            .field("sensitive_headers", &self.sensitive_headers)
            .field("trust", &self.trust)
            .field("active_requests", &self.active_requests)
            .field("body_sizes", &self.body_sizes)
            .field("response_traceparent", &self.response_traceparent)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

impl Default for OtelServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl OtelServerLayer {
    /// A layer using the global tracer and meter providers and the global propagator.
    ///
    /// The global providers are looked up when the **first request** arrives, not here, so the
    /// layer may be built before or after `Telemetry::init()`. If no tracer provider is installed
    /// by then (telemetry off) the layer does no span or metric work for its whole life.
    /// Reads `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` once, here.
    pub fn new() -> Self {
        Self {
            tracer: None,
            meter: None,
            global_tracer: true,
            global_meter: true,
            propagator: PropagatorChoice::Global,
            known_methods: KnownMethods::from_env(),
            filter: None,
            route_extractor: None,
            on_request: None,
            on_response: None,
            request_headers: Arc::from([]),
            response_headers: Arc::from([]),
            sensitive_headers: Arc::from([
                http::header::AUTHORIZATION,
                http::header::COOKIE,
                http::header::SET_COOKIE,
                http::header::PROXY_AUTHORIZATION,
            ]),
            trust: InboundTrust::Trust,
            active_requests: false,
            body_sizes: false,
            response_traceparent: false,
            metrics: true,
            trusted_proxies: Arc::from([]),
            cache: Arc::default(),
        }
    }

    /// Spans from this tracer provider instead of the global one.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.cache = Arc::default();
        self.tracer = Some(SpanStarter::new(provider.tracer_with_scope(scope())));
        self.global_tracer = false;
        self
    }

    /// Metrics from this meter provider instead of the global one.
    pub fn with_meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.cache = Arc::default();
        self.meter = Some(provider.meter_with_scope(scope()));
        self.global_meter = false;
        self
    }

    /// Extract inbound context with this propagator instead of the global one.
    pub fn with_propagator(
        mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) -> Self {
        self.cache = Arc::default();
        self.propagator = PropagatorChoice::custom(propagator);
        self
    }

    /// Replaces the known-method list (case-sensitive; methods not in it become `_OTHER`).
    pub fn with_known_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cache = Arc::default();
        self.known_methods = KnownMethods::Custom(
            methods
                .into_iter()
                .map(Into::into)
                .collect::<Vec<_>>()
                .into(),
        );
        self
    }

    /// Only requests for which `filter` returns `true` get a span and metrics. A skipped request
    /// still runs with the caller's extracted context current, so its outgoing calls continue
    /// the caller's trace.
    pub fn with_filter(
        mut self,
        filter: impl Fn(&RequestView<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.cache = Arc::default();
        self.filter = Some(Arc::new(filter));
        self
    }

    /// Where `http.route` comes from when axum's `MatchedPath` is not there (plain tower/hyper
    /// services). Return a low-cardinality template, never the raw path.
    pub fn with_route_extractor(
        mut self,
        extractor: impl Fn(&RequestView<'_>) -> Option<Cow<'static, str>> + Send + Sync + 'static,
    ) -> Self {
        self.cache = Arc::default();
        self.route_extractor = Some(Arc::new(extractor));
        self
    }

    /// Adds span attributes from the request (before the span starts, so samplers see them).
    pub fn on_request(
        mut self,
        hook: impl Fn(&RequestView<'_>, &mut Vec<KeyValue>) + Send + Sync + 'static,
    ) -> Self {
        self.cache = Arc::default();
        self.on_request = Some(Arc::new(hook));
        self
    }

    /// Adds span attributes from the response head.
    pub fn on_response(
        mut self,
        hook: impl Fn(http::StatusCode, &http::HeaderMap, &mut Vec<KeyValue>) + Send + Sync + 'static,
    ) -> Self {
        self.cache = Arc::default();
        self.on_response = Some(Arc::new(hook));
        self
    }

    /// Captures these request headers as `http.request.header.<name>` (string arrays).
    pub fn with_request_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.cache = Arc::default();
        self.request_headers = names.into_iter().collect::<Vec<_>>().into();
        self
    }

    /// Captures these response headers as `http.response.header.<name>` (string arrays).
    pub fn with_response_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.cache = Arc::default();
        self.response_headers = names.into_iter().collect::<Vec<_>>().into();
        self
    }

    /// Captured headers whose values are recorded as `REDACTED` (default: `authorization`,
    /// `cookie`, `set-cookie`, `proxy-authorization`).
    pub fn with_sensitive_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.cache = Arc::default();
        self.sensitive_headers = names.into_iter().collect::<Vec<_>>().into();
        self
    }

    /// How to treat inbound trace context (default [`InboundTrust::Trust`]).
    pub fn with_inbound_trust(mut self, trust: InboundTrust) -> Self {
        self.cache = Arc::default();
        self.trust = trust;
        self
    }

    /// Records `http.server.request.duration` and the other `http.server.*` metrics (default
    /// `true`). With `false` the layer records spans only and never touches a meter; the metric
    /// switches below then have no effect.
    pub fn with_metrics(mut self, enabled: bool) -> Self {
        self.cache = Arc::default();
        self.metrics = enabled;
        self
    }

    /// Records the opt-in `http.server.active_requests` up-down counter.
    pub fn with_active_requests(mut self, enabled: bool) -> Self {
        self.cache = Arc::default();
        self.active_requests = enabled;
        self
    }

    /// Records the opt-in `http.server.request.body.size` (from `Content-Length`) and
    /// `http.server.response.body.size` (bytes actually sent) histograms.
    pub fn with_body_sizes(mut self, enabled: bool) -> Self {
        self.cache = Arc::default();
        self.body_sizes = enabled;
        self
    }

    /// Believe `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Forwarded-Host` for
    /// `client.address`, `url.scheme` and `server.address` — but only on requests whose TCP peer is
    /// one of these proxies (IPs or CIDR blocks, e.g. `"10.0.0.0/8".parse()?`). The peer itself is
    /// then `network.peer.address`. Default: no proxy is trusted, the headers are ignored.
    ///
    /// The client is found the safe way, as proxies append to these headers: the hops are read
    /// from the **right**, trusted proxies are skipped, and the first untrusted address is the
    /// client (a spoofed left-most entry is never believed). A hop that is not an IP address
    /// (`unknown`, an obfuscated `_name`, a malformed value) stops the walk and `client.address`
    /// is left out; when every hop is trusted, the left-most is the client. List every proxy of
    /// your chain (e.g. the ingress and the load balancer).
    pub fn with_trusted_proxies(
        mut self,
        proxies: impl IntoIterator<Item = impl Into<ProxyNet>>,
    ) -> Self {
        self.cache = Arc::default();
        self.trusted_proxies = proxies
            .into_iter()
            .map(Into::into)
            .collect::<Vec<_>>()
            .into();
        self
    }

    /// Adds `traceparent` (and `tracestate`) of the server span to the response headers, so a
    /// caller without instrumentation (a browser, a test, a support ticket) can find the trace.
    /// Off by default: it reveals trace ids to whoever made the request.
    pub fn with_response_traceparent(mut self, enabled: bool) -> Self {
        self.cache = Arc::default();
        self.response_traceparent = enabled;
        self
    }

    pub(crate) fn shared(&self) -> Shared {
        // The global providers count only when an SDK is installed (else: telemetry off).
        let global_on = (self.global_tracer || self.global_meter)
            && sdk_installed(&opentelemetry::global::tracer_with_scope(scope()));
        let tracer = if self.global_tracer {
            global_on.then(|| SpanStarter::new(opentelemetry::global::tracer_with_scope(scope())))
        } else {
            self.tracer.clone()
        };
        let meter = if !self.metrics {
            None
        } else if self.global_meter {
            global_on.then(|| opentelemetry::global::meter_with_scope(scope()))
        } else {
            self.meter.clone()
        };
        // Metrics without spans (a meter provider given, no tracer): a no-op tracer keeps the
        // request path uniform; its spans are never recorded.
        let tracer = tracer.or_else(|| {
            meter
                .as_ref()
                .map(|_| SpanStarter::new(opentelemetry::trace::noop::NoopTracer::new()))
        });
        Shared {
            tracer,
            instruments: meter.map(|m| Instruments::new(&m, self.active_requests, self.body_sizes)),
            propagator: self.propagator.clone(),
            known_methods: self.known_methods.clone(),
            filter: self.filter.clone(),
            route_extractor: self.route_extractor.clone(),
            on_request: self.on_request.clone(),
            on_response: self.on_response.clone(),
            request_headers: self.request_headers.clone(),
            response_headers: self.response_headers.clone(),
            sensitive_headers: self.sensitive_headers.clone(),
            trust: self.trust,
            response_traceparent: self.response_traceparent,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

impl<S> Layer<S> for OtelServerLayer {
    type Service = OtelServer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let lazy = self
            .cache
            .get_or_init(|| {
                let mut layer = self.clone();
                // The copy must not hold the cache that holds it.
                layer.cache = Arc::default();
                Arc::new(LazyShared {
                    layer,
                    cell: OnceLock::new(),
                })
            })
            .clone();
        OtelServer::new(inner, lazy)
    }
}
