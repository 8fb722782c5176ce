//! The SERVER span of a request: its name (`{method} {route}`, interned per route), its route,
//! and its request attributes (HTTP semantic conventions), with the metric attributes known at
//! the start.

use std::borrow::Cow;
use std::sync::Arc;

use http::Request;
use opentelemetry::trace::{SpanBuilder, SpanKind};
use opentelemetry::{Key, KeyValue, StringValue, Value};
use vystak_otel_core::intern::{recent, Kind};

use crate::forwarded::Forwarded;
use crate::headers::capture;
use crate::intern::span_name;
use crate::request::{
    normalize_method, protocol_version, redact_query, server_address, NormalizedMethod, RequestView,
};
use crate::semconv::{
    CLIENT_ADDRESS, HTTP_REQUEST_HEADER_PREFIX, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_ROUTE, HTTP_SPAN_NAME_OTHER, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT,
    NETWORK_PROTOCOL_VERSION, OTHER, SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME,
    USER_AGENT_ORIGINAL,
};
use crate::state::{MetricAttrs, Shared};

fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
}

/// A request's span builder (kind SERVER, name, attributes) and its metric attributes.
pub(crate) struct MadeSpan {
    pub(crate) builder: SpanBuilder,
    pub(crate) metric_attrs: MetricAttrs,
}

/// Builds the span of `req` (the parent is chosen by [`crate::parent`]).
pub(crate) fn make_span<B>(
    shared: &Shared,
    req: &Request<B>,
    view: &RequestView<'_>,
    peer: Option<std::net::SocketAddr>,
) -> MadeSpan {
    let mut method = normalize_method(req.method(), &shared.config.known_methods);
    let (name, route) = name_and_route(shared, view, &method);
    let method_value: Value = match &method.value {
        Cow::Borrowed(m) => Value::from(*m),
        Cow::Owned(m) => Value::from(m.clone()),
    };
    let (forwarded, scheme) = forwarded_and_scheme(shared, req, peer);
    let version = protocol_version(req.version());
    let request = RequestAttrs {
        method_original: method.original.take(),
        method_value: &method_value,
        scheme: &scheme,
        route: route.as_ref(),
        forwarded: forwarded.as_ref(),
        peer,
        version,
    };
    let mut attrs = request_attributes(req, request);
    capture(
        &shared.config.headers.request,
        &shared.config.headers.sensitive,
        req.headers(),
        HTTP_REQUEST_HEADER_PREFIX,
        &mut attrs,
    );
    if let Some(hook) = &shared.config.on_request {
        hook(view, &mut attrs);
    }
    MadeSpan {
        builder: SpanBuilder::from_name(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attrs),
        metric_attrs: MetricAttrs {
            method: method_value,
            scheme,
            route,
            version,
        },
    }
}

/// The `Forwarded` / `X-Forwarded-*` view of a request from a trusted proxy, and `url.scheme`.
#[inline]
fn forwarded_and_scheme<B>(
    shared: &Shared,
    req: &Request<B>,
    peer: Option<std::net::SocketAddr>,
) -> (Option<Forwarded>, Value) {
    let forwarded = peer
        .filter(|p| {
            shared
                .config
                .inbound
                .trusted_proxies
                .iter()
                .any(|net| net.contains(p.ip()))
        })
        .map(|_| crate::forwarded::read(req.headers(), &shared.config.inbound.trusted_proxies));
    let scheme: Value = match forwarded
        .as_ref()
        .and_then(|f| f.proto.as_deref())
        .or_else(|| req.uri().scheme_str())
    {
        None | Some("http") => Value::from("http"),
        Some("https") => Value::from("https"),
        Some(other) => Value::from(other.to_owned()),
    };
    (forwarded, scheme)
}

/// The span name and `http.route`. An axum route is a template of the router: its span name
/// and route are made once per (method, route) and shared by every request. A route
/// extractor's value may carry request data, so it is copied per request.
fn name_and_route(
    shared: &Shared,
    view: &RequestView<'_>,
    method: &NormalizedMethod,
) -> (Cow<'static, str>, Option<StringValue>) {
    let name_method: &str = if method.value == OTHER {
        HTTP_SPAN_NAME_OTHER
    } else {
        &method.value
    };
    match view.route {
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
                .config
                .route_extractor
                .as_ref()
                .and_then(|f| f(view))
                .map(StringValue::from);
            let name = match (&route, &method.value) {
                (Some(r), _) => Cow::Owned(span_name(name_method, r.as_str())),
                (None, Cow::Borrowed(m)) if *m != OTHER => Cow::Borrowed(*m),
                (None, Cow::Borrowed(_)) => Cow::Borrowed(HTTP_SPAN_NAME_OTHER),
                (None, Cow::Owned(m)) => Cow::Owned(m.clone()),
            };
            (name, route)
        }
    }
}

/// What the request attributes are built from, besides the request.
struct RequestAttrs<'a> {
    /// `http.request.method_original`, moved into its attribute.
    method_original: Option<String>,
    method_value: &'a Value,
    scheme: &'a Value,
    route: Option<&'a StringValue>,
    forwarded: Option<&'a Forwarded>,
    peer: Option<std::net::SocketAddr>,
    version: Option<&'static str>,
}

/// The HTTP server span's request attributes, in the conventions' order.
fn request_attributes<B>(req: &Request<B>, mut r: RequestAttrs<'_>) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(12);
    attrs.push(KeyValue::new(
        key(HTTP_REQUEST_METHOD),
        r.method_value.clone(),
    ));
    if let Some(original) = r.method_original.take() {
        attrs.push(KeyValue::new(key(HTTP_REQUEST_METHOD_ORIGINAL), original));
    }
    let path = req.uri().path();
    if !path.is_empty() {
        attrs.push(KeyValue::new(key(URL_PATH), recent(Kind::Path, path)));
    }
    attrs.push(KeyValue::new(key(URL_SCHEME), r.scheme.clone()));
    if let Some(query) = req.uri().query().filter(|q| !q.is_empty()) {
        attrs.push(KeyValue::new(
            key(URL_QUERY),
            redact_query(query).into_owned(),
        ));
    }
    if let Some(route) = r.route {
        attrs.push(KeyValue::new(key(HTTP_ROUTE), route.clone()));
    }
    push_addresses(req, &r, &mut attrs);
    if let Some(v) = r.version {
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
    attrs
}

/// `server.address` / `server.port`, `client.address` and `network.peer.*`.
#[inline]
fn push_addresses<B>(req: &Request<B>, r: &RequestAttrs<'_>, attrs: &mut Vec<KeyValue>) {
    let address = match r.forwarded.and_then(|f| f.host.as_deref()) {
        Some(host) => crate::request::parse_host(host),
        None => server_address(req.uri(), req.headers()),
    };
    if let Some((host, port)) = address {
        attrs.push(KeyValue::new(key(SERVER_ADDRESS), recent(Kind::Host, host)));
        if let Some(port) = port {
            attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
        }
    }
    let peer_ip = r.peer.map(|p| vystak_otel_core::intern::ip(p.ip()));
    match (r.forwarded, &peer_ip) {
        (Some(f), _) if f.client.is_some() || f.client_claimed => {
            // A claimed but unusable client address is unknown, not the proxy's.
            if let Some(client) = f.client.clone() {
                attrs.push(KeyValue::new(key(CLIENT_ADDRESS), client));
            }
        }
        (_, Some(ip)) => attrs.push(KeyValue::new(key(CLIENT_ADDRESS), ip.clone())),
        (_, None) => {}
    }
    if let (Some(p), Some(ip)) = (r.peer, peer_ip) {
        attrs.push(KeyValue::new(key(NETWORK_PEER_ADDRESS), ip));
        attrs.push(KeyValue::new(key(NETWORK_PEER_PORT), i64::from(p.port())));
    }
}
