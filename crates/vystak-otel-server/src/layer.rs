//! `OtelServerLayer`: the builder over [`Config`] and the tower `Layer`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use http::HeaderName;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry::KeyValue;
use tower_layer::Layer;
use vystak_otel_propagator::PropagatorChoice;

use crate::config::{Config, HeaderCapture, InboundPolicy, InboundTrust, ServerMetrics};
use crate::forwarded::ProxyNet;
use crate::request::{KnownMethods, RequestView};
use crate::service::OtelServer;
use crate::state::LazyShared;

/// A tower [`Layer`] that gives every request a SERVER span and `http.server.*` metrics.
///
/// See the [crate docs](crate) for what is recorded and how.
#[derive(Clone)]
#[must_use]
pub struct OtelServerLayer {
    config: Config,
    /// Created on the first `layer()` call and shared by every service (axum calls `layer()` per
    /// route and again per connection for handler routes); it resolves the providers on the
    /// first request. Every setter starts a new one.
    cache: Arc<OnceLock<Arc<LazyShared>>>,
}

impl fmt::Debug for OtelServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl Default for OtelServerLayer {
    fn default() -> Self {
        Self::new()
    }
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
            config: Config::new(),
            cache: Arc::default(),
        }
    }

    /// The configuration, for a setter: the services already made keep the old one.
    fn config_mut(&mut self) -> &mut Config {
        self.cache = Arc::default();
        &mut self.config
    }

    /// Spans from this tracer provider instead of the global one.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        let config = self.config_mut();
        config.providers = config.providers.clone().with_tracer_provider(provider);
        self
    }

    /// Metrics from this meter provider instead of the global one.
    pub fn with_meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        let config = self.config_mut();
        config.providers = config.providers.clone().with_meter_provider(provider);
        self
    }

    /// Extract inbound context with this propagator instead of the global one.
    pub fn with_propagator(
        mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().propagator = PropagatorChoice::custom(propagator);
        self
    }

    /// Replaces the known-method list (case-sensitive; methods not in it become `_OTHER`).
    pub fn with_known_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let methods = methods.into_iter().map(Into::into).collect::<Vec<_>>();
        self.config_mut().known_methods = KnownMethods::Custom(methods.into());
        self
    }

    /// Only requests for which `filter` returns `true` get a span and metrics. A skipped request
    /// still runs with the caller's extracted context current, so its outgoing calls continue
    /// the caller's trace.
    pub fn with_filter(
        mut self,
        filter: impl Fn(&RequestView<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().filter = Some(Arc::new(filter));
        self
    }

    /// Where `http.route` comes from when axum's `MatchedPath` is not there (plain tower/hyper
    /// services). Return a low-cardinality template, never the raw path.
    pub fn with_route_extractor(
        mut self,
        extractor: impl Fn(&RequestView<'_>) -> Option<Cow<'static, str>> + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().route_extractor = Some(Arc::new(extractor));
        self
    }

    /// Adds span attributes from the request (before the span starts, so samplers see them).
    pub fn on_request(
        mut self,
        hook: impl Fn(&RequestView<'_>, &mut Vec<KeyValue>) + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().on_request = Some(Arc::new(hook));
        self
    }

    /// Adds span attributes from the response head.
    pub fn on_response(
        mut self,
        hook: impl Fn(http::StatusCode, &http::HeaderMap, &mut Vec<KeyValue>) + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().on_response = Some(Arc::new(hook));
        self
    }

    /// Which headers are captured and which are redacted (default: none captured).
    pub fn with_header_capture(mut self, headers: HeaderCapture) -> Self {
        self.config_mut().headers = headers;
        self
    }

    /// The inbound trace-context trust and the trusted proxies (default: trust the caller's
    /// trace context, believe no proxy).
    pub fn with_inbound_policy(mut self, inbound: InboundPolicy) -> Self {
        self.config_mut().inbound = inbound;
        self
    }

    /// Which `http.server.*` metrics are recorded (default: the request duration only).
    pub fn with_server_metrics(mut self, metrics: ServerMetrics) -> Self {
        self.config_mut().metrics = metrics;
        self
    }

    /// Adds `traceparent` (and `tracestate`) of the server span to the response headers, so a
    /// caller without instrumentation (a browser, a test, a support ticket) can find the trace.
    /// Off by default: it reveals trace ids to whoever made the request.
    pub fn with_response_traceparent(mut self, enabled: bool) -> Self {
        self.config_mut().response_traceparent = enabled;
        self
    }

    /// Captures these request headers as `http.request.header.<name>` (string arrays).
    #[deprecated(
        since = "0.1.0",
        note = "use `with_header_capture(HeaderCapture::default().with_request(..))`"
    )]
    pub fn with_request_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.config_mut().headers.request = names.into_iter().collect();
        self
    }

    /// Captures these response headers as `http.response.header.<name>` (string arrays).
    #[deprecated(
        since = "0.1.0",
        note = "use `with_header_capture(HeaderCapture::default().with_response(..))`"
    )]
    pub fn with_response_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.config_mut().headers.response = names.into_iter().collect();
        self
    }

    /// Captured headers whose values are recorded as `REDACTED`.
    #[deprecated(
        since = "0.1.0",
        note = "use `with_header_capture(HeaderCapture::default().with_sensitive(..))`"
    )]
    pub fn with_sensitive_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.config_mut().headers.sensitive = names.into_iter().collect();
        self
    }

    /// How to treat inbound trace context.
    #[deprecated(
        since = "0.1.0",
        note = "use `with_inbound_policy(InboundPolicy::default().with_trust(..))`"
    )]
    pub fn with_inbound_trust(mut self, trust: InboundTrust) -> Self {
        self.config_mut().inbound.trust = trust;
        self
    }

    /// Believe `Forwarded` / `X-Forwarded-*` from these proxies.
    #[deprecated(
        since = "0.1.0",
        note = "use `with_inbound_policy(InboundPolicy::default().with_trusted_proxies(..))`"
    )]
    pub fn with_trusted_proxies(
        mut self,
        proxies: impl IntoIterator<Item = impl Into<ProxyNet>>,
    ) -> Self {
        self.config_mut().inbound.trusted_proxies = proxies.into_iter().map(Into::into).collect();
        self
    }

    /// Records the `http.server.*` metrics (default `true`).
    #[deprecated(
        since = "0.1.0",
        note = "use `with_server_metrics(ServerMetrics::disabled())`"
    )]
    pub fn with_metrics(mut self, enabled: bool) -> Self {
        self.config_mut().metrics.enabled = enabled;
        self
    }

    /// Records the opt-in `http.server.active_requests`.
    #[deprecated(
        since = "0.1.0",
        note = "use `with_server_metrics(ServerMetrics::default().with_active_requests(..))`"
    )]
    pub fn with_active_requests(mut self, enabled: bool) -> Self {
        self.config_mut().metrics.active_requests = enabled;
        self
    }

    /// Records the opt-in body-size histograms.
    #[deprecated(
        since = "0.1.0",
        note = "use `with_server_metrics(ServerMetrics::default().with_body_sizes(..))`"
    )]
    pub fn with_body_sizes(mut self, enabled: bool) -> Self {
        self.config_mut().metrics.body_sizes = enabled;
        self
    }
}

impl<S> Layer<S> for OtelServerLayer {
    type Service = OtelServer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let lazy = self
            .cache
            .get_or_init(|| Arc::new(LazyShared::new(self.config.clone())))
            .clone();
        OtelServer::new(inner, lazy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deprecated setters (kept one release) set what the option groups set.
    #[test]
    #[allow(deprecated)]
    fn the_deprecated_setters_forward_to_the_option_groups() {
        let tenant = HeaderName::from_static("x-tenant");
        let proxy: ProxyNet = "10.0.0.0/8".parse().unwrap();
        let old = OtelServerLayer::new()
            .with_request_headers([tenant.clone()])
            .with_response_headers([tenant.clone()])
            .with_sensitive_headers([tenant.clone()])
            .with_inbound_trust(InboundTrust::Ignore)
            .with_trusted_proxies([proxy])
            .with_metrics(false)
            .with_active_requests(true)
            .with_body_sizes(true);
        let new = OtelServerLayer::new()
            .with_header_capture(
                HeaderCapture::default()
                    .with_request([tenant.clone()])
                    .with_response([tenant.clone()])
                    .with_sensitive([tenant]),
            )
            .with_inbound_policy(
                InboundPolicy::default()
                    .with_trust(InboundTrust::Ignore)
                    .with_trusted_proxies([proxy]),
            )
            .with_server_metrics(ServerMetrics {
                enabled: false,
                active_requests: true,
                body_sizes: true,
                bound_instruments: false,
            });
        assert_eq!(old.config.headers, new.config.headers);
        assert_eq!(old.config.inbound, new.config.inbound);
        assert_eq!(old.config.metrics, new.config.metrics);
        assert_ne!(new.config.headers, HeaderCapture::default());
        assert_ne!(new.config.inbound, InboundPolicy::default());
        assert_ne!(new.config.metrics, ServerMetrics::default());
    }
}
