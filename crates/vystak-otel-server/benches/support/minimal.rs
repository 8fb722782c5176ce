//! The hand-written minimum on the raw API (the "direct-API layer"): one SERVER span
//! with 4 attributes and the status code, no body tracking; no metric, or (`with_metric`) the
//! duration histogram with the 5 attributes semconv asks for — the floor of any layer recording
//! both on this SDK.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
use opentelemetry::KeyValue;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct Layer(pub(crate) Arc<BoxedTracer>, Option<Histogram<f64>>);

impl<S> tower::Layer<S> for Layer {
    type Service = Service<S>;
    fn layer(&self, inner: S) -> Service<S> {
        Service {
            inner,
            tracer: self.0.clone(),
            duration: self.1.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Service<S> {
    inner: S,
    tracer: Arc<BoxedTracer>,
    duration: Option<Histogram<f64>>,
}

impl<S, B, R> tower::Service<http::Request<B>> for Service<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
        });
        let mut span = self
            .tracer
            .span_builder(format!("{} {route}", req.method()))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", req.method().as_str().to_owned()),
                KeyValue::new("url.path", req.uri().path().to_owned()),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("http.route", route),
            ])
            .start_with_context(&*self.tracer, &parent);
        let method = req.method().as_str().to_owned();
        let duration = self.duration.clone();
        let start = std::time::Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            if let Ok(r) = &res {
                let status = i64::from(r.status().as_u16());
                span.set_attribute(KeyValue::new("http.response.status_code", status));
                if let Some(d) = duration {
                    d.record(
                        start.elapsed().as_secs_f64(),
                        &[
                            KeyValue::new("http.request.method", method),
                            KeyValue::new("url.scheme", "http"),
                            KeyValue::new("http.response.status_code", status),
                            KeyValue::new("http.route", "/agents/{name}/a2a"),
                            KeyValue::new("network.protocol.version", "1.1"),
                        ],
                    );
                }
            }
            span.end();
            res
        })
    }
}

/// The layer on its own tracer from `provider`.
pub(crate) fn layer(provider: &opentelemetry_sdk::trace::SdkTracerProvider) -> Layer {
    Layer(
        Arc::new(BoxedTracer::new(Box::new(
            opentelemetry::trace::TracerProvider::tracer(provider, "minimal"),
        ))),
        None,
    )
}

/// The same, recording `http.server.request.duration` on `meters` too.
#[allow(dead_code)] // the loopback bench does not use it
pub(crate) fn with_metric(
    provider: &opentelemetry_sdk::trace::SdkTracerProvider,
    meters: &opentelemetry_sdk::metrics::SdkMeterProvider,
) -> Layer {
    let duration = opentelemetry::metrics::MeterProvider::meter(meters, "minimal")
        .f64_histogram("http.server.request.duration")
        .with_unit("s")
        .build();
    Layer(layer(provider).0, Some(duration))
}
