//! Shared per-service state and the per-request state that ends the span and records metrics
//! exactly once — on completion, on error, or when dropped (cancellation).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue, StringValue, Value};

use vystak_otel_core::attrs::StackAttrs;
use vystak_otel_core::bound::BoundPoints;
use vystak_otel_core::spans::SpanStarter;

use crate::config::Config;
use crate::semconv::{
    ERROR_TYPE, ERROR_TYPE_CANCELLED, HTTP_DURATION_BUCKETS, HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, HTTP_SERVER_ACTIVE_REQUESTS,
    HTTP_SERVER_REQUEST_BODY_SIZE, HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_RESPONSE_BODY_SIZE,
    NETWORK_PROTOCOL_VERSION, UNIT_BYTES, UNIT_REQUESTS, UNIT_SECONDS, URL_SCHEME,
};

/// The instruments of one layer.
#[derive(Debug)]
pub(crate) struct Instruments {
    duration: Histogram<f64>,
    /// Bound duration points, when the meter provider records bound instruments.
    bound: Option<BoundPoints<f64>>,
    active: Option<UpDownCounter<i64>>,
    request_size: Option<Histogram<u64>>,
    response_size: Option<Histogram<u64>>,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter, active: bool, sizes: bool, bound: bool) -> Self {
        Self {
            bound: bound.then(BoundPoints::default),
            duration: meter
                .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
                .with_unit(UNIT_SECONDS)
                .with_description("Duration of HTTP server requests.")
                .with_boundaries(HTTP_DURATION_BUCKETS.to_vec())
                .build(),
            active: active.then(|| {
                meter
                    .i64_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
                    .with_unit(UNIT_REQUESTS)
                    .with_description("Number of active HTTP server requests.")
                    .build()
            }),
            request_size: sizes.then(|| {
                meter
                    .u64_histogram(HTTP_SERVER_REQUEST_BODY_SIZE)
                    .with_unit(UNIT_BYTES)
                    .with_description("Size of HTTP server request bodies.")
                    .build()
            }),
            response_size: sizes.then(|| {
                meter
                    .u64_histogram(HTTP_SERVER_RESPONSE_BODY_SIZE)
                    .with_unit(UNIT_BYTES)
                    .with_description("Size of HTTP server response bodies.")
                    .build()
            }),
        }
    }
}

/// Everything a service needs: the layer's configuration and what its first request resolved.
pub(crate) struct Shared {
    /// `None`: no tracer provider is installed (telemetry off) — no span or metric work.
    pub(crate) tracer: Option<SpanStarter>,
    pub(crate) instruments: Option<Instruments>,
    pub(crate) config: Config,
}

impl Shared {
    /// Resolves a layer's configuration: looks the providers up (once per layer, at its first
    /// request) and builds the instruments.
    fn resolve(config: &Config) -> Self {
        let resolved = config
            .providers
            .clone()
            .with_bound_instruments(config.metrics.bound_instruments)
            .resolve(config.metrics.enabled);
        let metrics = config.metrics;
        let bound = resolved.bound_instruments;
        Self {
            tracer: resolved.tracer,
            instruments: resolved
                .meter
                .map(|m| Instruments::new(&m, metrics.active_requests, metrics.body_sizes, bound)),
            config: config.clone(),
        }
    }
}

/// A layer's configuration and, from the first request on, the state resolved from it.
pub(crate) struct LazyShared {
    config: Config,
    cell: OnceLock<Arc<Shared>>,
}

impl std::fmt::Debug for LazyShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyShared")
            .field("resolved", &self.cell.get())
            .finish_non_exhaustive()
    }
}

impl LazyShared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            cell: OnceLock::new(),
        }
    }

    /// The resolved state; the global providers are looked up the first time (the first
    /// request), so a layer built before `Telemetry::init()` still records.
    pub(crate) fn get(&self) -> &Arc<Shared> {
        self.cell
            .get_or_init(|| Arc::new(Shared::resolve(&self.config)))
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("tracing", &self.tracer.is_some())
            .field("metrics", &self.instruments.is_some())
            .field("trust", &self.config.inbound.trust)
            .finish_non_exhaustive()
    }
}

/// The duration metric's attributes known at request start (low cardinality only), kept as
/// values: the attribute list is built on the stack when the metric is recorded, always in one
/// order, so the SDK finds the series on its first (unsorted) lookup.
pub(crate) struct MetricAttrs {
    pub(crate) method: Value,
    pub(crate) scheme: Value,
    pub(crate) route: Option<StringValue>,
    pub(crate) version: Option<&'static str>,
}

/// The most attributes a server metric point has: method, scheme, route, protocol version,
/// status code, `error.type`.
const MAX_METRIC_ATTRS: usize = 6;

impl MetricAttrs {
    /// `http.request.method` and `url.scheme`: the required attributes of
    /// `http.server.active_requests`.
    fn active(&self) -> [KeyValue; 2] {
        [
            KeyValue::new(
                Key::from_static_str(HTTP_REQUEST_METHOD),
                self.method.clone(),
            ),
            KeyValue::new(Key::from_static_str(URL_SCHEME), self.scheme.clone()),
        ]
    }

    /// Every attribute of a duration / size point, in a fixed order, pushed onto `attrs`: the
    /// [`Self::active`] two first, then route, protocol version, status code, `error.type`.
    fn push_point(
        &self,
        status: Option<u16>,
        error_type: Option<Value>,
        attrs: &mut StackAttrs<MAX_METRIC_ATTRS>,
    ) {
        let [method, scheme] = self.active();
        attrs.push(method);
        attrs.push(scheme);
        if let Some(route) = &self.route {
            attrs.push(KeyValue::new(
                Key::from_static_str(HTTP_ROUTE),
                route.clone(),
            ));
        }
        if let Some(version) = self.version {
            attrs.push(KeyValue::new(
                Key::from_static_str(NETWORK_PROTOCOL_VERSION),
                version,
            ));
        }
        if let Some(code) = status {
            attrs.push(KeyValue::new(
                Key::from_static_str(HTTP_RESPONSE_STATUS_CODE),
                i64::from(code),
            ));
        }
        if let Some(ty) = error_type {
            attrs.push(KeyValue::new(Key::from_static_str(ERROR_TYPE), ty));
        }
    }
}

/// How a request ended.
pub(crate) enum Outcome {
    /// The response body finished (or was empty).
    Complete,
    /// The inner service or the body failed with an error of this (static) type name.
    Error(&'static str),
    /// Dropped before completing.
    Cancelled,
}

/// One instrumented request: its context (holding the server span), start time and metric
/// attributes. Finishing is idempotent; dropping an unfinished state finishes it as cancelled.
pub(crate) struct RequestState {
    shared: Arc<Shared>,
    pub(crate) cx: Context,
    start: Instant,
    metric_attrs: MetricAttrs,
    status: Option<u16>,
    request_size: Option<u64>,
    response_bytes: u64,
    finished: bool,
}

impl RequestState {
    pub(crate) fn new(
        shared: Arc<Shared>,
        cx: Context,
        metric_attrs: MetricAttrs,
        request_size: Option<u64>,
    ) -> Self {
        if let Some(active) = shared.instruments.as_ref().and_then(|i| i.active.as_ref()) {
            active.add(1, &metric_attrs.active());
        }
        Self {
            shared,
            cx,
            start: Instant::now(),
            metric_attrs,
            status: None,
            request_size,
            response_bytes: 0,
            finished: false,
        }
    }

    /// Records the response head: status code, span status for 5xx, response hook and headers.
    pub(crate) fn on_response_head(&mut self, status: http::StatusCode, headers: &http::HeaderMap) {
        let code = status.as_u16();
        self.status = Some(code);
        let span = self.cx.span();
        if !span.is_recording() {
            return;
        }
        let status_code = KeyValue::new(
            Key::from_static_str(HTTP_RESPONSE_STATUS_CODE),
            i64::from(code),
        );
        if status.is_server_error() {
            span.set_attributes([
                status_code,
                KeyValue::new(Key::from_static_str(ERROR_TYPE), status_str(code)),
            ]);
        } else {
            span.set_attribute(status_code);
        }
        if self.shared.config.headers.response.is_empty()
            && self.shared.config.on_response.is_none()
        {
            return;
        }
        let mut attrs = Vec::new();
        crate::headers::capture(
            &self.shared.config.headers.response,
            &self.shared.config.headers.sensitive,
            headers,
            crate::semconv::HTTP_RESPONSE_HEADER_PREFIX,
            &mut attrs,
        );
        if let Some(hook) = &self.shared.config.on_response {
            hook(status, headers, &mut attrs);
        }
        span.set_attributes(attrs);
    }

    /// Writes the server span's `traceparent` / `tracestate` into the response headers when
    /// configured.
    pub(crate) fn inject_response_headers(&self, headers: &mut http::HeaderMap) {
        use opentelemetry::propagation::TextMapPropagator;
        if self.shared.config.response_traceparent {
            vystak_otel_propagator::W3cTraceContextPropagator::new().inject_context(
                &self.cx,
                &mut vystak_otel_propagator::HeaderMapInjector(headers),
            );
        }
    }

    pub(crate) fn add_response_bytes(&mut self, n: u64) {
        self.response_bytes += n;
    }

    /// Ends the span and records the metrics, once.
    pub(crate) fn finish(&mut self, outcome: Outcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        let error_type: Option<Value> = match outcome {
            Outcome::Complete => match self.status {
                Some(code) if code >= 500 => Some(status_str(code)),
                _ => None,
            },
            Outcome::Error(ty) => Some(StringValue::from(ty).into()),
            Outcome::Cancelled => Some(StringValue::from(ERROR_TYPE_CANCELLED).into()),
        };
        let span = self.cx.span();
        if span.is_recording() {
            match (&outcome, &error_type) {
                (Outcome::Complete, Some(_)) => span.set_status(Status::error("")),
                (Outcome::Complete, None) => {}
                (Outcome::Error(ty), Some(ty_value)) => {
                    span.set_attribute(KeyValue::new(
                        Key::from_static_str(ERROR_TYPE),
                        ty_value.clone(),
                    ));
                    span.set_status(Status::error(format!("request failed: {ty}")));
                }
                (Outcome::Cancelled, Some(ty_value)) => {
                    span.set_attribute(KeyValue::new(
                        Key::from_static_str(ERROR_TYPE),
                        ty_value.clone(),
                    ));
                    span.set_status(Status::error(
                        "request cancelled before the response completed",
                    ));
                }
                _ => {}
            }
        }
        span.end();
        self.record_metrics(error_type);
    }

    /// The request's metric points: duration (bound when the provider records bound
    /// instruments), body sizes, and the active-requests decrement.
    fn record_metrics(&self, error_type: Option<Value>) {
        let Some(instruments) = &self.shared.instruments else {
            return;
        };
        let mut point = StackAttrs::new();
        self.metric_attrs
            .push_point(self.status, error_type, &mut point);
        let attrs = point.as_slice();
        let seconds = self.start.elapsed().as_secs_f64();
        match &instruments.bound {
            Some(bound) => bound.record(&instruments.duration, seconds, attrs),
            None => instruments.duration.record(seconds, attrs),
        }
        if let Some(h) = &instruments.response_size {
            h.record(self.response_bytes, attrs);
        }
        if let (Some(h), Some(size)) = (&instruments.request_size, self.request_size) {
            h.record(size, attrs);
        }
        if let Some(active) = &instruments.active {
            // The point starts with the active counter's two attributes.
            active.add(-1, &attrs[..2]);
        }
    }
}

impl Drop for RequestState {
    fn drop(&mut self) {
        self.finish(Outcome::Cancelled);
    }
}

/// The status code as a string, without allocating for the common 5xx codes.
fn status_str(code: u16) -> Value {
    match static_code(code) {
        Some(s) => Value::from(s),
        None => Value::from(code.to_string()),
    }
}

fn static_code(code: u16) -> Option<&'static str> {
    Some(match code {
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return None,
    })
}
#[cfg(test)]
mod size_tests {
    use std::mem::size_of;

    /// axum moves the response future and body several times before it boxes them; the request
    /// state rides along behind a pointer, so a request with telemetry off moves almost nothing
    /// more than the inner future and body.
    #[test]
    fn the_future_and_the_body_add_little_to_what_they_wrap() {
        type Inner = std::future::Ready<()>;
        let future = size_of::<crate::future::ResponseFuture<Inner>>() - size_of::<Inner>();
        let body = size_of::<crate::body::ResponseBody<()>>();
        assert!(future <= 40, "the future adds {future} bytes");
        assert!(body <= 8, "the body adds {body} bytes");
    }
}
