//! `OtelServer`: the middleware service.

use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use opentelemetry::trace::{Link, SpanBuilder, SpanKind, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue, StringValue, Value};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::headers::capture;
use crate::intern::span_name;
use crate::layer::{InboundTrust, LazyShared};
use crate::request::{
    normalize_method, protocol_version, redact_query, server_address, RequestView,
};
use crate::semconv::{
    CLIENT_ADDRESS, HTTP_REQUEST_HEADER_PREFIX, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_ROUTE, HTTP_SPAN_NAME_OTHER, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT,
    NETWORK_PROTOCOL_VERSION, OTHER, SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME,
    USER_AGENT_ORIGINAL,
};
use crate::state::{MetricAttrs, RequestState};
use vystak_otel_core::intern::{recent, Kind};
use vystak_otel_propagator::HeaderMapExtractor;

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

fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
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
        let matched = matched_path(&req);
        let view = RequestView {
            method: req.method(),
            uri: req.uri(),
            version: req.version(),
            headers: req.headers(),
            route: matched,
        };
        let remote = match shared.trust {
            InboundTrust::Ignore => Context::new(),
            _ => shared
                .propagator
                .extract(&HeaderMapExtractor(req.headers())),
        };
        if let Some(filter) = &shared.filter {
            if !filter(&view) {
                let cx = (shared.trust == InboundTrust::Trust).then_some(remote);
                let _guard = cx.clone().map(Context::attach);
                return ResponseFuture::passthrough(self.inner.call(req), cx);
            }
        }
        let method = normalize_method(req.method(), &shared.known_methods);
        let name_method: &str = if method.value == OTHER {
            HTTP_SPAN_NAME_OTHER
        } else {
            &method.value
        };
        // An axum route is a template of the router: its span name and route are made once per
        // (method, route) and shared by every request. A route extractor's value may carry
        // request data, so it is copied per request.
        let (name, route): (Cow<'static, str>, Option<StringValue>) = match matched {
            Some(m) => match crate::intern::route_names(name_method, m) {
                Some(names) => (
                    Cow::Borrowed(names.name),
                    Some(StringValue::from(names.route)),
                ),
                None => (
                    Cow::Owned(span_name(name_method, m)),
                    Some(StringValue::from(Arc::<str>::from(m))),
                ),
            },
            None => {
                let route: Option<StringValue> = shared
                    .route_extractor
                    .as_ref()
                    .and_then(|f| f(&view))
                    .map(StringValue::from);
                let name = match (&route, &method.value) {
                    (Some(r), _) => Cow::Owned(span_name(name_method, r.as_str())),
                    (None, Cow::Borrowed(m)) if *m != OTHER => Cow::Borrowed(*m),
                    (None, Cow::Borrowed(_)) => Cow::Borrowed(HTTP_SPAN_NAME_OTHER),
                    (None, Cow::Owned(m)) => Cow::Owned(m.clone()),
                };
                (name, route)
            }
        };
        let method_value: Value = match &method.value {
            Cow::Borrowed(m) => Value::from(*m),
            Cow::Owned(m) => Value::from(m.clone()),
        };
        let peer = peer_addr(&req);
        let forwarded = match peer {
            Some(p)
                if shared
                    .trusted_proxies
                    .iter()
                    .any(|net| net.contains(p.ip())) =>
            {
                Some(crate::forwarded::read(
                    req.headers(),
                    &shared.trusted_proxies,
                ))
            }
            _ => None,
        };
        let fwd = forwarded.as_ref();
        let scheme: Value = match fwd
            .and_then(|f| f.proto.as_deref())
            .or_else(|| req.uri().scheme_str())
        {
            None | Some("http") => Value::from("http"),
            Some("https") => Value::from("https"),
            Some(other) => Value::from(other.to_owned()),
        };
        let version = protocol_version(req.version());

        let mut attrs = Vec::with_capacity(12);
        attrs.push(KeyValue::new(
            key(HTTP_REQUEST_METHOD),
            method_value.clone(),
        ));
        if let Some(original) = method.original {
            attrs.push(KeyValue::new(key(HTTP_REQUEST_METHOD_ORIGINAL), original));
        }
        let path = req.uri().path();
        if !path.is_empty() {
            attrs.push(KeyValue::new(key(URL_PATH), recent(Kind::Path, path)));
        }
        attrs.push(KeyValue::new(key(URL_SCHEME), scheme.clone()));
        if let Some(query) = req.uri().query().filter(|q| !q.is_empty()) {
            attrs.push(KeyValue::new(
                key(URL_QUERY),
                redact_query(query).into_owned(),
            ));
        }
        if let Some(route) = &route {
            attrs.push(KeyValue::new(key(HTTP_ROUTE), route.clone()));
        }
        let address = match fwd.and_then(|f| f.host.as_deref()) {
            Some(host) => crate::request::parse_host(host),
            None => server_address(req.uri(), req.headers()),
        };
        if let Some((host, port)) = address {
            attrs.push(KeyValue::new(key(SERVER_ADDRESS), recent(Kind::Host, host)));
            if let Some(port) = port {
                attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
            }
        }
        let peer_ip = peer.map(|p| vystak_otel_core::intern::ip(p.ip()));
        match (fwd, &peer_ip) {
            (Some(f), _) if f.client.is_some() || f.client_claimed => {
                // A claimed but unusable client address is unknown, not the proxy's.
                if let Some(client) = f.client.clone() {
                    attrs.push(KeyValue::new(key(CLIENT_ADDRESS), client));
                }
            }
            (_, Some(ip)) => attrs.push(KeyValue::new(key(CLIENT_ADDRESS), ip.clone())),
            (_, None) => {}
        }
        if let (Some(p), Some(ip)) = (peer, peer_ip) {
            attrs.push(KeyValue::new(key(NETWORK_PEER_ADDRESS), ip));
            attrs.push(KeyValue::new(key(NETWORK_PEER_PORT), i64::from(p.port())));
        }
        if let Some(v) = version {
            attrs.push(KeyValue::new(key(NETWORK_PROTOCOL_VERSION), v));
        }
        if let Some(ua) = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
        {
            attrs.push(KeyValue::new(
                key(USER_AGENT_ORIGINAL),
                recent(Kind::UserAgent, ua),
            ));
        }
        capture(
            &shared.request_headers,
            &shared.sensitive_headers,
            req.headers(),
            HTTP_REQUEST_HEADER_PREFIX,
            &mut attrs,
        );
        if let Some(hook) = &shared.on_request {
            hook(&view, &mut attrs);
        }

        let mut builder = SpanBuilder::from_name(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attrs);
        let parent = match shared.trust {
            InboundTrust::Trust => remote,
            InboundTrust::NewRootWithLink => {
                let remote_sc = remote.span().span_context().clone();
                if remote_sc.is_valid() {
                    builder = builder.with_links(vec![Link::with_context(remote_sc)]);
                }
                Context::new()
            }
            InboundTrust::Ignore => Context::new(),
        };
        let cx = tracer.start(builder, &parent);

        let metric_attrs = MetricAttrs {
            method: method_value,
            scheme,
            route,
            version,
        };
        let request_size = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let state = Box::new(RequestState::new(
            shared.clone(),
            cx,
            metric_attrs,
            request_size,
        ));
        let future = {
            let _guard = state.cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture::instrumented(future, state)
    }
}
