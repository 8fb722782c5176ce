//! `OtelServer`: the middleware service, in tower-http's `Trace` shape: the filter, then
//! [`make_span`](crate::make_span) (name, route, request attributes), [`parent`](crate::parent)
//! (the inbound trust policy), then the instrumented future.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use opentelemetry::Context;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::config::InboundTrust;
use crate::future::ResponseFuture;
use crate::request::RequestView;
use crate::state::{LazyShared, RequestState};
use crate::{make_span, parent};

/// The service produced by [`OtelServerLayer`](crate::OtelServerLayer).
#[derive(Clone, Debug)]
pub struct OtelServer<S> {
    inner: S,
    shared: Arc<LazyShared>,
}

impl<S> OtelServer<S> {
    pub(crate) fn new(inner: S, shared: Arc<LazyShared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

#[cfg(feature = "axum")]
fn matched_path<B>(req: &Request<B>) -> Option<&str> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
fn matched_path<B>(_req: &Request<B>) -> Option<&str> {
    None
}

#[cfg(feature = "axum")]
fn peer_addr<B>(req: &Request<B>) -> Option<std::net::SocketAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
        .or_else(|| req.extensions().get::<std::net::SocketAddr>().copied())
}

#[cfg(not(feature = "axum"))]
fn peer_addr<B>(req: &Request<B>) -> Option<std::net::SocketAddr> {
    req.extensions().get::<std::net::SocketAddr>().copied()
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for OtelServer<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: http_body::Body,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let shared = self.shared.get();
        let Some(tracer) = &shared.tracer else {
            // Telemetry off: no work at all.
            return ResponseFuture::passthrough(self.inner.call(req), None);
        };
        let (config, remote) = (&shared.config, parent::remote_context(shared, &req));
        let view = RequestView {
            method: req.method(),
            uri: req.uri(),
            version: req.version(),
            headers: req.headers(),
            route: matched_path(&req),
        };
        if config.filter.as_ref().is_some_and(|filter| !filter(&view)) {
            let cx = (config.inbound.trust == InboundTrust::Trust).then_some(remote);
            let _guard = cx.clone().map(Context::attach);
            return ResponseFuture::passthrough(self.inner.call(req), cx);
        }
        let made = make_span::make_span(shared, &req, &view, peer_addr(&req));
        let (parent, builder) = parent::parent(config.inbound.trust, remote, made.builder);
        let cx = tracer.start(builder, &parent);
        let request_size = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let state = Box::new(RequestState::new(
            shared.clone(),
            cx,
            made.metric_attrs,
            request_size,
        ));
        let future = {
            let _guard = state.cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture::instrumented(future, state)
    }
}
