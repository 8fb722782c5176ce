//! `OtelClientMiddleware`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::Extensions;
use opentelemetry::context::FutureExt as _;
use opentelemetry::metrics::{Histogram, MeterProvider};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanBuilder, SpanKind, Status, TraceContextExt, Tracer, TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue, StringValue, Value};
use reqwest_middleware::{Middleware, Next};

use vystak_otel_core::attrs::StackAttrs;
use vystak_otel_core::bound::BoundPoints;
use vystak_otel_core::intern::{ip, recent, Kind};
use vystak_otel_core::providers::Providers;
use vystak_otel_core::spans::SpanStarter;
use vystak_otel_propagator::PropagatorChoice;

use crate::carrier::HeaderInjector;
use crate::extensions::{DisableOtelPropagation, DisableOtelSpan, OtelName, UrlTemplate};
use crate::semconv::{
    error_types, ERROR_TYPE, HTTP_CLIENT_REQUEST_DURATION, HTTP_DURATION_BUCKETS,
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_REQUEST_RESEND_COUNT,
    HTTP_RESPONSE_STATUS_CODE, HTTP_SPAN_NAME_OTHER, KNOWN_METHODS, NETWORK_PEER_ADDRESS,
    NETWORK_PEER_PORT, NETWORK_PROTOCOL_VERSION, OTHER, SERVER_ADDRESS, SERVER_PORT, UNIT_SECONDS,
    URL_FULL, URL_TEMPLATE,
};
use crate::url::redacted_url;

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
}

/// reqwest-middleware instrumentation: one CLIENT span per attempt, `traceparent` injection and
/// `http.client.request.duration`. See the [crate docs](crate).
#[derive(Clone)]
#[must_use]
pub struct OtelClientMiddleware {
    /// The providers handed in, else the global ones; resolved at the first request.
    providers: Providers,
    resolved: Arc<OnceLock<Resolved>>,
    propagator: PropagatorChoice,
    known_methods: Option<Arc<[String]>>,
    overwrite_traceparent: bool,
    metrics: bool,
}

/// What the middleware records with, resolved at the first request. `tracer` is `None` only
/// when neither spans nor metrics are recorded (telemetry off); with metrics only it is a no-op
/// tracer, so the request path stays the same.
#[derive(Default)]
struct Resolved {
    tracer: Option<SpanStarter>,
    duration: Option<DurationMetric>,
}

/// `http.client.request.duration`, with its bound points when the meter provider records bound
/// instruments.
struct DurationMetric {
    histogram: Histogram<f64>,
    bound: Option<BoundPoints<f64>>,
}

impl fmt::Debug for OtelClientMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelClientMiddleware")
            .field("providers", &self.providers)
            .field("known_methods", &self.known_methods)
            .field("overwrite_traceparent", &self.overwrite_traceparent)
            .finish_non_exhaustive()
    }
}

impl Default for OtelClientMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

fn duration_histogram(meter: &opentelemetry::metrics::Meter) -> Histogram<f64> {
    meter
        .f64_histogram(HTTP_CLIENT_REQUEST_DURATION)
        .with_unit(UNIT_SECONDS)
        .with_description("Duration of HTTP client requests.")
        .with_boundaries(HTTP_DURATION_BUCKETS.to_vec())
        .build()
}

impl OtelClientMiddleware {
    /// Uses the global tracer and meter providers and the global propagator.
    ///
    /// The global providers are looked up at the **first request**, not here, so the middleware
    /// may be built before or after `Telemetry::init()`. If no tracer provider is installed by
    /// then (telemetry off), it only propagates the current context, for its whole life.
    /// Reads `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` once, here.
    pub fn new() -> Self {
        let known_methods = std::env::var(crate::semconv::ENV_KNOWN_METHODS)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                    .into()
            });
        Self {
            providers: Providers::global(scope()),
            resolved: Arc::default(),
            propagator: PropagatorChoice::Global,
            known_methods,
            overwrite_traceparent: false,
            metrics: true,
        }
    }

    /// Spans from this tracer provider.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.providers = self.providers.with_tracer_provider(provider);
        self.resolved = Arc::default();
        self
    }

    /// Metrics from this meter provider.
    pub fn with_meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.providers = self.providers.with_meter_provider(provider);
        self.resolved = Arc::default();
        self
    }

    /// The tracer and histogram, resolved once (the global providers count only when an SDK is
    /// installed).
    fn resolved(&self) -> &Resolved {
        self.resolved.get_or_init(|| {
            let resolved = self.providers.resolve(self.metrics);
            let bound = resolved.bound_instruments;
            Resolved {
                tracer: resolved.tracer,
                duration: resolved.meter.as_ref().map(|meter| DurationMetric {
                    histogram: duration_histogram(meter),
                    bound: bound.then(BoundPoints::default),
                }),
            }
        })
    }

    /// Injects with this propagator instead of the global one.
    pub fn with_propagator(
        mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) -> Self {
        self.propagator = PropagatorChoice::custom(propagator);
        self
    }

    /// Replaces the known-method list (case-sensitive).
    pub fn with_known_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.known_methods = Some(
            methods
                .into_iter()
                .map(Into::into)
                .collect::<Vec<_>>()
                .into(),
        );
        self
    }

    /// Replace a `traceparent` the caller set explicitly (default `false`: it is kept, and so is
    /// its `tracestate`).
    pub fn with_overwrite_traceparent(mut self, overwrite: bool) -> Self {
        self.overwrite_traceparent = overwrite;
        self
    }

    /// Record `http.client.request.duration` (default `true`).
    pub fn with_metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self.resolved = Arc::default();
        self
    }

    /// The meter provider handed in (`with_meter_provider`) records **bound** instruments: its
    /// SDK has `opentelemetry_sdk`'s `experimental_metrics_bound_instruments` feature, and each
    /// (method, server, status, …) point is recorded through a bound handle. Default `false`; the
    /// global provider `vystak-telemetry` installs is recognised without it. Set it for a
    /// provider whose SDK lacks the feature and that SDK silently drops the durations.
    pub fn with_bound_instruments(mut self, records_bound: bool) -> Self {
        self.providers = self.providers.with_bound_instruments(records_bound);
        self.resolved = Arc::default();
        self
    }

    fn inject(&self, cx: &Context, req: &mut reqwest::Request) {
        let keep = !self.overwrite_traceparent && req.headers().contains_key("traceparent");
        let mut injector = HeaderInjector {
            headers: req.headers_mut(),
            keep_existing_traceparent: keep,
        };
        self.propagator.inject(cx, &mut injector);
    }

    /// The normalised method (static for the standard ones) and, for `_OTHER`, the original.
    fn method(&self, method: &http::Method) -> (Cow<'static, str>, Option<String>) {
        let s = method.as_str();
        let known = match &self.known_methods {
            Some(list) => list.iter().any(|m| m == s),
            None => KNOWN_METHODS.contains(&s),
        };
        if !known {
            return (Cow::Borrowed(OTHER), Some(s.to_owned()));
        }
        let value = match *method {
            http::Method::GET => "GET",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::DELETE => "DELETE",
            http::Method::PATCH => "PATCH",
            http::Method::HEAD => "HEAD",
            http::Method::OPTIONS => "OPTIONS",
            _ => return (Cow::Owned(s.to_owned()), None),
        };
        (Cow::Borrowed(value), None)
    }
}

/// Ends the span once; if the caller drops the request future first, the span ends with status
/// UNSET and no `error.type` (a cancellation is not an error).
struct Ender {
    cx: Context,
    done: bool,
}

impl Drop for Ender {
    fn drop(&mut self) {
        if !self.done {
            self.cx.span().end();
        }
    }
}

fn version(v: http::Version) -> Option<&'static str> {
    Some(match v {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// A low-cardinality `error.type` for a transport error.
pub(crate) fn error_type(err: &reqwest_middleware::Error) -> &'static str {
    match err {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => error_types::TIMEOUT,
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => error_types::CONNECT,
        reqwest_middleware::Error::Reqwest(e) if e.is_redirect() => error_types::REDIRECT,
        reqwest_middleware::Error::Reqwest(e) if e.is_body() => error_types::BODY,
        reqwest_middleware::Error::Reqwest(e) if e.is_decode() => error_types::DECODE,
        reqwest_middleware::Error::Reqwest(e) if e.is_request() => error_types::REQUEST,
        reqwest_middleware::Error::Reqwest(_) => OTHER,
        reqwest_middleware::Error::Middleware(_) => error_types::MIDDLEWARE,
    }
}

#[async_trait::async_trait]
impl Middleware for OtelClientMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let propagate = extensions.get::<DisableOtelPropagation>().is_none();
        let resolved = self.resolved();
        let tracer = match &resolved.tracer {
            Some(t) if extensions.get::<DisableOtelSpan>().is_none() => t,
            _ => {
                if propagate {
                    self.inject(&Context::current(), &mut req);
                }
                return next.run(req, extensions).await;
            }
        };
        let attempt = crate::extensions::next_attempt(extensions);
        let outgoing = self.make_span(&req, extensions, attempt);
        let cx = tracer.start(outgoing.builder, &Context::current());
        if propagate {
            self.inject(&cx, &mut req);
        }
        let mut ender = Ender {
            cx: cx.clone(),
            done: false,
        };
        let start = Instant::now();
        let result = next.run(req, extensions).with_context(cx.clone()).await;
        let elapsed = start.elapsed().as_secs_f64();
        let span = cx.span();
        let outcome = on_response(&span, &result);
        span.end();
        ender.done = true;
        if let Some(h) = &resolved.duration {
            record_duration(h, elapsed, outgoing.metric, outcome);
        }
        result
    }
}

/// What the span and the duration metric of one outgoing request share.
struct MetricStart {
    method: Value,
    host: Option<StringValue>,
    port: Option<u16>,
}

/// A request's CLIENT span builder and its metric attributes known at the start.
struct Outgoing {
    builder: SpanBuilder,
    metric: MetricStart,
}

/// What the response added to the span that the metric records too.
struct Outcome {
    status_code: Option<i64>,
    protocol_version: Option<&'static str>,
    error: Option<Value>,
}

impl OtelClientMiddleware {
    /// The span of an outgoing request: its name (`{method} {url.template}`, `HTTP` for
    /// `_OTHER`, or an `OtelName`) and request attributes (HTTP client conventions).
    fn make_span(&self, req: &reqwest::Request, extensions: &Extensions, attempt: u32) -> Outgoing {
        let (method, original) = self.method(req.method());
        let template = extensions.get::<UrlTemplate>().map(|t| t.0.clone());
        // `{method}`, or `HTTP` for `_OTHER` (semconv §1.1).
        let method_name: Cow<'static, str> = match original {
            Some(_) => Cow::Borrowed(HTTP_SPAN_NAME_OTHER),
            None => method.clone(),
        };
        let method = Value::String(StringValue::from(method));
        let name: Cow<'static, str> = match (extensions.get::<OtelName>(), &template) {
            (Some(OtelName(n)), _) => n.clone(),
            (None, Some(t)) => Cow::Owned(format!("{method_name} {t}")),
            (None, None) => method_name,
        };
        let url = req.url();
        // One shared string for the span and the metric attribute.
        let host: Option<StringValue> = url
            .host_str()
            .filter(|h| !h.is_empty())
            .map(|h| recent(Kind::Host, h));
        let port = url.port_or_known_default();
        // Room for the attributes set after the response too (status, peer, version, error).
        let mut attrs = Vec::with_capacity(14);
        attrs.push(KeyValue::new(key(HTTP_REQUEST_METHOD), method.clone()));
        if let Some(original) = original {
            attrs.push(KeyValue::new(key(HTTP_REQUEST_METHOD_ORIGINAL), original));
        }
        if let Some(host) = &host {
            attrs.push(KeyValue::new(key(SERVER_ADDRESS), host.clone()));
        }
        if let Some(port) = port {
            attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
        }
        attrs.push(KeyValue::new(key(URL_FULL), redacted_url(url)));
        if let Some(t) = template {
            attrs.push(KeyValue::new(key(URL_TEMPLATE), t));
        }
        if attempt > 0 {
            attrs.push(KeyValue::new(
                key(HTTP_REQUEST_RESEND_COUNT),
                i64::from(attempt),
            ));
        }
        Outgoing {
            builder: SpanBuilder::from_name(name)
                .with_kind(SpanKind::Client)
                .with_attributes(attrs),
            metric: MetricStart { method, host, port },
        }
    }
}

/// Sets the response's attributes (status, peer, version, error) and status on `span`.
fn on_response(
    span: &opentelemetry::trace::SpanRef<'_>,
    result: &reqwest_middleware::Result<reqwest::Response>,
) -> Outcome {
    let mut outcome = Outcome {
        status_code: None,
        protocol_version: None,
        error: None,
    };
    match result {
        Ok(resp) => {
            let code = i64::from(resp.status().as_u16());
            outcome.status_code = Some(code);
            span.set_attribute(KeyValue::new(key(HTTP_RESPONSE_STATUS_CODE), code));
            // The connection's peer (span only: the metric keeps its low-cardinality set).
            if let Some(peer) = resp.remote_addr() {
                span.set_attribute(KeyValue::new(key(NETWORK_PEER_ADDRESS), ip(peer.ip())));
                span.set_attribute(KeyValue::new(
                    key(NETWORK_PEER_PORT),
                    i64::from(peer.port()),
                ));
            }
            if let Some(v) = version(resp.version()) {
                span.set_attribute(KeyValue::new(key(NETWORK_PROTOCOL_VERSION), v));
                outcome.protocol_version = Some(v);
            }
            if resp.status().is_client_error() || resp.status().is_server_error() {
                let ty = Value::from(StringValue::from(Arc::<str>::from(resp.status().as_str())));
                span.set_attribute(KeyValue::new(key(ERROR_TYPE), ty.clone()));
                span.set_status(Status::error(""));
                outcome.error = Some(ty);
            }
        }
        Err(err) => {
            let ty = error_type(err);
            span.set_attribute(KeyValue::new(key(ERROR_TYPE), ty));
            // The message quotes the request URL: redact it like `url.full`.
            span.set_status(Status::error(vystak_otel_core::redact::redact_urls_in(
                &err.to_string(),
            )));
            outcome.error = Some(Value::from(ty));
        }
    }
    outcome
}

/// `http.client.request.duration`, its attributes in one fixed order, on the stack.
fn record_duration(h: &DurationMetric, elapsed: f64, start: MetricStart, outcome: Outcome) {
    let mut attrs = StackAttrs::<6>::new();
    attrs.push(KeyValue::new(key(HTTP_REQUEST_METHOD), start.method));
    if let Some(host) = start.host {
        attrs.push(KeyValue::new(key(SERVER_ADDRESS), host));
    }
    if let Some(port) = start.port {
        attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
    }
    if let Some(code) = outcome.status_code {
        attrs.push(KeyValue::new(key(HTTP_RESPONSE_STATUS_CODE), code));
    }
    if let Some(v) = outcome.protocol_version {
        attrs.push(KeyValue::new(key(NETWORK_PROTOCOL_VERSION), v));
    }
    if let Some(ty) = outcome.error {
        attrs.push(KeyValue::new(key(ERROR_TYPE), ty));
    }
    match &h.bound {
        Some(bound) => bound.record(&h.histogram, elapsed, attrs.as_slice()),
        None => h.histogram.record(elapsed, attrs.as_slice()),
    }
}
