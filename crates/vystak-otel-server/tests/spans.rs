//! Span names, attributes, status rules, propagation and configuration, through a real axum
//! server on 127.0.0.1 and real reqwest requests.

mod common;

use std::borrow::Cow;
use std::convert::Infallible;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{any, get, post};
use axum::Router;
use common::{attrs, serve, Telemetry, Value, PARENT_ID, TRACEPARENT, TRACE_ID};
use http::HeaderName;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::KeyValue;
use vystak_otel_server::{HeaderCapture, InboundPolicy, InboundTrust, ServerMetrics};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_request_becomes_a_server_span_that_continues_the_callers_trace() {
    let t = Telemetry::new();
    let app = Router::new()
        .route("/agents/{name}/a2a", post(|| async { "ok" }))
        .layer(t.layer());
    let (base, addr) = serve(app).await;
    let resp = client()
        .post(format!("{base}/agents/weather/a2a?color=blue&sig=secret"))
        .header("traceparent", TRACEPARENT)
        .header("user-agent", "vystak-test/1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.text().await.unwrap(),
        "ok",
        "the response passes through"
    );
    t.wait_spans(1).await;
    let span = t.span("POST /agents/{name}/a2a");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(span.parent_span_id.to_string(), PARENT_ID);
    assert!(span.parent_span_is_remote);
    assert_eq!(span.status, Status::Unset);
    let a = attrs(&span);
    let expect = [
        ("http.request.method", "POST".to_owned()),
        ("url.path", "/agents/weather/a2a".to_owned()),
        ("url.scheme", "http".to_owned()),
        ("url.query", "color=blue&sig=REDACTED".to_owned()),
        ("http.route", "/agents/{name}/a2a".to_owned()),
        ("http.response.status_code", "200".to_owned()),
        ("server.address", "127.0.0.1".to_owned()),
        ("server.port", addr.port().to_string()),
        ("client.address", "127.0.0.1".to_owned()),
        ("network.protocol.version", "1.1".to_owned()),
        ("user_agent.original", "vystak-test/1".to_owned()),
    ];
    for (k, v) in &expect {
        assert_eq!(a.get(*k), Some(v), "{k} in {a:#?}");
    }
    assert!(!a.contains_key("error.type"));
    assert!(
        a.values().all(|v| !v.is_empty()),
        "no empty attribute: {a:#?}"
    );
    // integer types where the conventions say int
    let status = span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "http.response.status_code")
        .unwrap();
    assert_eq!(status.value, opentelemetry::Value::I64(200));

    let duration = t.points_named("http.server.request.duration");
    assert_eq!(duration.len(), 1, "{duration:#?}");
    let p = &duration[0];
    assert_eq!(p.unit, "s");
    assert_eq!(
        p.attrs,
        [
            ("http.request.method", "POST"),
            ("url.scheme", "http"),
            ("http.route", "/agents/{name}/a2a"),
            ("network.protocol.version", "1.1"),
            ("http.response.status_code", "200"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    );
    match &p.value {
        Value::Histogram { count, bounds, .. } => {
            assert_eq!(*count, 1);
            assert_eq!(
                bounds,
                &[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn status_rules_5xx_error_4xx_unset_and_unmatched_routes() {
    let t = Telemetry::new();
    let app = Router::new()
        .route("/fail", get(|| async { StatusCode::BAD_GATEWAY }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .layer(t.layer());
    let (base, _) = serve(app).await;
    for path in ["/fail", "/missing"] {
        client().get(format!("{base}{path}")).send().await.unwrap();
    }
    t.wait_spans(2).await;
    let fail = t.span("GET /fail");
    assert!(matches!(fail.status, Status::Error { .. }));
    assert_eq!(attrs(&fail)["error.type"], "502");
    let missing = t.span("GET /missing");
    assert_eq!(missing.status, Status::Unset);
    assert!(!attrs(&missing).contains_key("error.type"));
    let metric_errors: Vec<_> = t
        .points_named("http.server.request.duration")
        .into_iter()
        .filter_map(|p| p.attrs.get("error.type").cloned())
        .collect();
    assert_eq!(metric_errors, ["502"]);
}

#[tokio::test]
async fn unknown_methods_are_other_with_the_original_and_span_name_http() {
    let t = Telemetry::new();
    let app = Router::new()
        .route("/cache", any(|| async { "purged" }))
        .layer(t.layer());
    let (base, _) = serve(app).await;
    client()
        .request(
            reqwest::Method::from_bytes(b"PURGE").unwrap(),
            format!("{base}/cache"),
        )
        .send()
        .await
        .unwrap();
    t.wait_spans(1).await;
    let span = t.span("HTTP /cache");
    let a = attrs(&span);
    assert_eq!(a["http.request.method"], "_OTHER");
    assert_eq!(a["http.request.method_original"], "PURGE");
    let p = &t.points_named("http.server.request.duration")[0];
    assert_eq!(p.attrs["http.request.method"], "_OTHER");

    // With PURGE declared known, it is kept.
    let t = Telemetry::new();
    let app = Router::new()
        .route("/cache", any(|| async { "purged" }))
        .layer(t.layer().with_known_methods(["GET", "PURGE"]));
    let (base, _) = serve(app).await;
    client()
        .request(
            reqwest::Method::from_bytes(b"PURGE").unwrap(),
            format!("{base}/cache"),
        )
        .send()
        .await
        .unwrap();
    t.wait_spans(1).await;
    assert_eq!(
        attrs(&t.span("PURGE /cache"))["http.request.method"],
        "PURGE"
    );
}

#[tokio::test]
async fn the_handler_runs_inside_the_server_span_context() {
    let t = Telemetry::new();
    let app = Router::new()
        .route(
            "/ctx",
            get(|| async {
                tokio::task::yield_now().await; // a second poll still sees the context
                let cx = opentelemetry::Context::current();
                format!(
                    "{}-{}",
                    cx.span().span_context().trace_id(),
                    cx.span().span_context().span_id()
                )
            }),
        )
        .layer(t.layer());
    let (base, _) = serve(app).await;
    let body = client()
        .get(format!("{base}/ctx"))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    t.wait_spans(1).await;
    let span = t.span("GET /ctx");
    assert_eq!(
        body,
        format!("{TRACE_ID}-{}", span.span_context.span_id()),
        "the handler's current span is the server span"
    );
}

#[tokio::test]
async fn handler_tracing_spans_nest_under_the_server_span() {
    use tracing_subscriber::layer::SubscriberExt;
    let t = Telemetry::new();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&t.tp, "tracing-bridge");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    let dispatch = tracing::Dispatch::new(subscriber);
    let app = Router::new()
        .route(
            "/traced",
            get(|| async {
                let span = tracing::info_span!("handler.work");
                let _e = span.enter();
                "done"
            }),
        )
        .layer(t.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let d = dispatch.clone();
    let (installed, subscriber_ready) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _default = tracing::dispatcher::set_global_default(d);
        installed.send(()).unwrap();
        axum::serve(listener, app).await.unwrap();
    });
    // The subscriber is installed process-wide from the server task (this test binary has no other
    // test that sets one), so every handler task sees it once the task says so.
    subscriber_ready.await.unwrap();
    client()
        .get(format!("http://{addr}/traced"))
        .send()
        .await
        .unwrap();
    let spans = t.wait_spans(2).await;
    let server = t.span("GET /traced");
    let work = spans
        .iter()
        .find(|s| s.name == "handler.work")
        .expect("tracing span exported");
    assert_eq!(work.span_context.trace_id(), server.span_context.trace_id());
    assert_eq!(work.parent_span_id, server.span_context.span_id());
}

#[tokio::test]
async fn filtered_requests_get_no_span_but_keep_the_callers_context() {
    let t = Telemetry::new();
    let app = Router::new()
        .route(
            "/health",
            get(|| async {
                opentelemetry::Context::current()
                    .span()
                    .span_context()
                    .trace_id()
                    .to_string()
            }),
        )
        .route("/work", get(|| async { "w" }))
        .layer(t.layer().with_filter(|req| req.path() != "/health"));
    let (base, _) = serve(app).await;
    let seen = client()
        .get(format!("{base}/health"))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        seen, TRACE_ID,
        "the handler still continues the caller's trace"
    );
    client().get(format!("{base}/work")).send().await.unwrap();
    // A span of the filtered request would have ended with its body, which the client read in
    // full before it sent `/work`.
    let spans = t.wait_spans(1).await;
    assert_eq!(t.finished().len(), 1, "{spans:#?}");
    assert_eq!(spans[0].name, "GET /work");
    assert!(t
        .points_named("http.server.request.duration")
        .iter()
        .all(|p| p.attrs.get("http.route").map(String::as_str) == Some("/work")));
}

#[tokio::test]
async fn hooks_and_allow_listed_headers_with_redaction() {
    let t = Telemetry::new();
    let layer = t
        .layer()
        .with_header_capture(
            HeaderCapture::default()
                .with_request([
                    HeaderName::from_static("x-tenant"),
                    http::header::AUTHORIZATION,
                ])
                .with_response([HeaderName::from_static("x-reply")]),
        )
        .on_request(|req, attrs| {
            attrs.push(KeyValue::new(
                "app.has_tenant",
                req.headers.contains_key("x-tenant"),
            ))
        })
        .on_response(|status, _headers, attrs| {
            attrs.push(KeyValue::new("app.ok", status.is_success()))
        });
    let app = Router::new()
        .route("/h", get(|| async { ([("x-reply", "r1")], "h") }))
        .layer(layer);
    let (base, _) = serve(app).await;
    client()
        .get(format!("{base}/h"))
        .header("x-tenant", "acme")
        .header("x-other", "not captured")
        .header("authorization", "Bearer secret-token")
        .send()
        .await
        .unwrap();
    t.wait_spans(1).await;
    let a = attrs(&t.span("GET /h"));
    assert_eq!(a["http.request.header.x-tenant"], r#"["acme"]"#);
    assert_eq!(a["http.request.header.authorization"], r#"["REDACTED"]"#);
    assert!(!a.contains_key("http.request.header.x-other"));
    assert_eq!(a["http.response.header.x-reply"], r#"["r1"]"#);
    assert_eq!(a["app.has_tenant"], "true");
    assert_eq!(a["app.ok"], "true");
    assert!(!a.values().any(|v| v.contains("secret-token")));
}

#[tokio::test]
async fn inbound_trust_policies() {
    for (trust, expect_parent, expect_link) in [
        (InboundTrust::Trust, true, false),
        (InboundTrust::NewRootWithLink, false, true),
        (InboundTrust::Ignore, false, false),
    ] {
        let t = Telemetry::new();
        let app = Router::new().route("/in", get(|| async { "in" })).layer(
            t.layer()
                .with_inbound_policy(InboundPolicy::default().with_trust(trust)),
        );
        let (base, _) = serve(app).await;
        client()
            .get(format!("{base}/in"))
            .header("traceparent", TRACEPARENT)
            .send()
            .await
            .unwrap();
        t.wait_spans(1).await;
        let span = t.span("GET /in");
        let continued = span.span_context.trace_id().to_string() == TRACE_ID;
        assert_eq!(continued, expect_parent, "{trust:?}");
        if !expect_parent {
            assert_eq!(
                span.parent_span_id,
                opentelemetry::trace::SpanId::INVALID,
                "{trust:?} is a root"
            );
        }
        let links: Vec<_> = span.links.iter().collect();
        assert_eq!(!links.is_empty(), expect_link, "{trust:?}");
        if expect_link {
            assert_eq!(links[0].span_context.trace_id().to_string(), TRACE_ID);
            assert_eq!(links[0].span_context.span_id().to_string(), PARENT_ID);
        }
    }
}

#[tokio::test]
async fn malformed_traceparent_starts_a_new_trace_and_still_serves() {
    let t = Telemetry::new();
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(t.layer());
    let (base, _) = serve(app).await;
    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "",
    ] {
        let resp = client()
            .get(format!("{base}/x"))
            .header("traceparent", bad)
            .header("tracestate", "=,,=bad")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{bad:?}");
    }
    let spans = t.wait_spans(5).await;
    assert_eq!(spans.len(), 5);
    for s in spans {
        assert_eq!(s.parent_span_id, opentelemetry::trace::SpanId::INVALID);
        assert_ne!(s.span_context.trace_id().to_string(), TRACE_ID);
    }
}

#[tokio::test]
async fn inner_service_errors_pass_through_and_mark_error() {
    use tower::{service_fn, Layer, ServiceExt};
    let t = Telemetry::new();
    let svc = t
        .layer()
        .layer(service_fn(|_req: http::Request<String>| async {
            Err::<http::Response<String>, std::io::Error>(std::io::Error::other("backend down"))
        }));
    let err = svc
        .oneshot(http::Request::get("/plain").body(String::new()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "backend down", "the error is unchanged");
    let span = t.span("GET");
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(attrs(&span)["error.type"], "std::io::error::Error");
    let p = &t.points_named("http.server.request.duration")[0];
    assert_eq!(p.attrs["error.type"], "std::io::error::Error");
}

#[tokio::test]
async fn plain_tower_services_get_routes_from_an_extractor_and_work_in_service_builder() {
    use tower::{service_fn, ServiceBuilder, ServiceExt};
    let t = Telemetry::new();
    let svc = ServiceBuilder::new()
        .layer(t.layer().with_route_extractor(|req| {
            req.path()
                .starts_with("/users/")
                .then_some(Cow::Borrowed("/users/{id}"))
        }))
        .service(service_fn(|_req: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(String::from("user")))
        }));
    let resp = svc
        .oneshot(
            http::Request::get("https://api.local:8443/users/42")
                .version(http::Version::HTTP_2)
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap();
    assert_eq!(body.to_bytes(), "user");
    let span = t.span("GET /users/{id}");
    let a = attrs(&span);
    assert_eq!(a["http.route"], "/users/{id}");
    assert_eq!(a["url.scheme"], "https");
    assert_eq!(a["server.address"], "api.local");
    assert_eq!(a["server.port"], "8443");
    assert_eq!(a["network.protocol.version"], "2");
    assert!(!a.contains_key("client.address"));
}

#[tokio::test]
async fn http2_requests_report_protocol_version_2() {
    let t = Telemetry::new();
    let app = Router::new()
        .route("/h2", get(|| async { "two" }))
        .layer(t.layer());
    let (base, _) = serve(app).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = client.get(format!("{base}/h2")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    t.wait_spans(1).await;
    let a = attrs(&t.span("GET /h2"));
    assert_eq!(a["network.protocol.version"], "2");
    assert!(a.contains_key("server.address"), "{a:#?}");
}

#[tokio::test]
async fn the_response_can_carry_the_server_spans_traceparent() {
    let t = Telemetry::new();
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .route("/y", get(|| async { "y" }))
        .layer(t.layer().with_response_traceparent(true));
    let (base, _) = serve(app).await;
    let resp = client()
        .get(format!("{base}/x"))
        .header("traceparent", TRACEPARENT)
        .send()
        .await
        .unwrap();
    let header = resp.headers()["traceparent"].to_str().unwrap().to_owned();
    resp.text().await.unwrap();
    t.wait_spans(1).await;
    let span = t.span("GET /x");
    assert_eq!(
        header,
        format!("00-{TRACE_ID}-{}-01", span.span_context.span_id()),
        "the response names the server span"
    );
    // Off by default.
    let t = Telemetry::new();
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(t.layer());
    let (base, _) = serve(app).await;
    let resp = client().get(format!("{base}/x")).send().await.unwrap();
    assert!(!resp.headers().contains_key("traceparent"));
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let headers = [
        ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "api.example.com:8443"),
    ];
    // Default: nobody is trusted, a client cannot spoof its address, scheme or host.
    let t = Telemetry::new();
    let app = Router::new()
        .route("/f", get(|| async { "f" }))
        .layer(t.layer());
    let (base, addr) = serve(app).await;
    let mut req = client().get(format!("{base}/f"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.unwrap();
    t.wait_spans(1).await;
    let a = attrs(&t.span("GET /f"));
    assert_eq!(a["client.address"], "127.0.0.1");
    assert_eq!(a["url.scheme"], "http");
    assert_eq!(a["server.address"], "127.0.0.1");
    assert_eq!(a["server.port"], addr.port().to_string());
    assert_eq!(a["network.peer.address"], "127.0.0.1");

    // The loopback peer is a trusted proxy: the original client, scheme and host are used.
    let t = Telemetry::new();
    let layer =
        t.layer().with_inbound_policy(
            InboundPolicy::default().with_trusted_proxies(
                ["127.0.0.0/8", "10.0.0.0/8"]
                    .map(|n| n.parse::<vystak_otel_server::ProxyNet>().unwrap()),
            ),
        );
    let app = Router::new()
        .route("/f", get(|| async { "f" }))
        .layer(layer);
    let (base, _) = serve(app).await;
    let mut req = client().get(format!("{base}/f"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.unwrap();
    t.wait_spans(1).await;
    let a = attrs(&t.span("GET /f"));
    assert_eq!(a["client.address"], "203.0.113.7");
    assert_eq!(a["url.scheme"], "https");
    assert_eq!(a["server.address"], "api.example.com");
    assert_eq!(a["server.port"], "8443");
    assert_eq!(
        a["network.peer.address"], "127.0.0.1",
        "the proxy is the peer"
    );
    let p = &t.points_named("http.server.request.duration")[0];
    assert_eq!(p.attrs["url.scheme"], "https");

    // RFC 7239 Forwarded wins over X-Forwarded-*.
    let t = Telemetry::new();
    let layer = t.layer().with_inbound_policy(
        InboundPolicy::default().with_trusted_proxies([std::net::IpAddr::from([127, 0, 0, 1])]),
    );
    let app = Router::new()
        .route("/f", get(|| async { "f" }))
        .layer(layer);
    let (base, _) = serve(app).await;
    client()
        .get(format!("{base}/f"))
        .header(
            "forwarded",
            r#"for="[2001:db8:cafe::17]:4711";proto=https;host=example.com"#,
        )
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    t.wait_spans(1).await;
    let a = attrs(&t.span("GET /f"));
    assert_eq!(a["client.address"], "2001:db8:cafe::17");
    assert_eq!(a["server.address"], "example.com");
    assert!(!a.contains_key("server.port"));
}

/// One request from a trusted loopback proxy with `headers`; the span's attributes.
async fn via_trusted_proxy(headers: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    let t = Telemetry::new();
    let layer =
        t.layer().with_inbound_policy(
            InboundPolicy::default().with_trusted_proxies(
                ["127.0.0.0/8", "10.0.0.0/8"]
                    .map(|n| n.parse::<vystak_otel_server::ProxyNet>().unwrap()),
            ),
        );
    let app = Router::new()
        .route("/f", get(|| async { "f" }))
        .layer(layer);
    let (base, _) = serve(app).await;
    let mut req = client().get(format!("{base}/f"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    t.wait_spans(1).await;
    attrs(&t.span("GET /f"))
}

#[tokio::test]
async fn malformed_forwarded_addresses_leave_client_address_absent() {
    for (name, value) in [
        ("forwarded", "for=:80"),
        ("forwarded", r#"for="[]:80""#),
        ("forwarded", r#"for="[""#),
        ("forwarded", "for=not-an-ip"),
        ("x-forwarded-for", ":80"),
        ("x-forwarded-for", "["),
        ("x-forwarded-for", "[]"),
    ] {
        let a = via_trusted_proxy(&[(name, value)]).await;
        assert!(
            !a.contains_key("client.address"),
            "{name}: {value} gave {:?}",
            a.get("client.address")
        );
        assert_eq!(a["network.peer.address"], "127.0.0.1");
    }
}

#[tokio::test]
async fn x_forwarded_for_is_read_from_the_right_skipping_trusted_proxies() {
    // A client behind an appending proxy sends its own spoofed X-Forwarded-For; the proxy appends
    // the address it saw. The right-most untrusted entry is the client.
    let a = via_trusted_proxy(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.0.0.2")]).await;
    assert_eq!(a["client.address"], "203.0.113.7");
    let a = via_trusted_proxy(&[(
        "forwarded",
        "for=1.2.3.4;proto=http, for=203.0.113.7;proto=https, for=10.0.0.2",
    )])
    .await;
    assert_eq!(a["client.address"], "203.0.113.7");
    assert_eq!(a["url.scheme"], "https");
    // Every hop trusted: the left-most is the client.
    let a = via_trusted_proxy(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]).await;
    assert_eq!(a["client.address"], "10.9.9.9");
}

/// Sends one raw HTTP/1.1 request (header bytes as given, so they can be invalid UTF-8) and
/// returns the status line.
async fn raw_request(addr: std::net::SocketAddr, headers: &[(&str, Vec<u8>)]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = b"GET /hostile HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n".to_vec();
    for (name, value) in headers {
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    stream.write_all(&req).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("answered")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn invalid_utf8_and_8_kib_header_values_over_real_http_are_served_and_bounded() {
    let t = Telemetry::new();
    // The propagator `Telemetry::init()` installs.
    let app = Router::new()
        .route("/hostile", get(|| async { "ok" }))
        .layer(
            t.layer()
                .with_propagator(vystak_otel_propagator::W3cTraceContextPropagator::new()),
        );
    let (_, addr) = serve(app).await;
    let valid = TRACEPARENT.as_bytes().to_vec();
    let big = |c: u8| vec![c; 8 * 1024];
    // (headers, whether the span continues the caller's trace)
    type Case = (Vec<(&'static str, Vec<u8>)>, bool);
    let cases: Vec<Case> = vec![
        // A valid traceparent next to a line that is not UTF-8: an invalid value, restart.
        (
            vec![
                ("traceparent", valid.clone()),
                ("traceparent", b"00-\xe9".to_vec()),
            ],
            false,
        ),
        (vec![("traceparent", b"\xff\xfe\xfd".to_vec())], false),
        // 8 KiB traceparent: invalid (55 bytes at version 00).
        (vec![("traceparent", big(b'a'))], false),
        // A valid traceparent with an 8 KiB tracestate (over the 512-byte limit) and a
        // tracestate line that is not UTF-8: the parent is kept, the tracestate is not.
        (
            vec![
                ("traceparent", valid.clone()),
                ("tracestate", [b"k=".as_slice(), &big(b'v')].concat()),
            ],
            true,
        ),
        (
            vec![
                ("traceparent", valid.clone()),
                ("tracestate", b"bar=\xe9".to_vec()),
            ],
            true,
        ),
        // 8 KiB user agent and baggage, invalid UTF-8 in the user agent.
        (
            vec![
                ("traceparent", valid.clone()),
                ("user-agent", big(b'u')),
                ("baggage", big(b'b')),
            ],
            true,
        ),
        (vec![("user-agent", b"agent/\xe9\xff".to_vec())], false),
    ];
    for (i, (headers, continues)) in cases.iter().enumerate() {
        let status = raw_request(addr, headers).await;
        assert_eq!(
            status, "HTTP/1.1 200 OK",
            "case {i}: the request is still served"
        );
        let spans = t.wait_spans(i + 1).await;
        let span = &spans[i];
        assert_eq!(
            span.span_context.trace_id().to_string() == TRACE_ID,
            *continues,
            "case {i}: continues = {continues}"
        );
        if !continues {
            assert!(!span.parent_span_is_remote, "case {i}: a fresh root");
        } else {
            assert_eq!(span.parent_span_id.to_string(), PARENT_ID, "case {i}");
            assert!(
                span.span_context.trace_state().header().len() <= 512,
                "case {i}: the oversized tracestate is not kept"
            );
        }
        for kv in &span.attributes {
            assert!(
                kv.value.as_str().len() <= 8 * 1024,
                "case {i}: {} is {} bytes",
                kv.key,
                kv.value.as_str().len()
            );
        }
    }
}

#[tokio::test]
async fn with_metrics_false_records_the_span_and_no_metric() {
    let t = Telemetry::new();
    let app = Router::new()
        .route("/agents/{name}/a2a", post(|| async { "ok" }))
        .layer(
            t.layer().with_server_metrics(
                ServerMetrics::disabled()
                    .with_active_requests(true)
                    .with_body_sizes(true),
            ),
        );
    let (base, _) = serve(app).await;
    let resp = client()
        .post(format!("{base}/agents/weather/a2a"))
        .header("traceparent", TRACEPARENT)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    t.wait_spans(1).await;
    let span = t.span("POST /agents/{name}/a2a");
    assert_eq!(
        attrs(&span)
            .get("http.response.status_code")
            .map(String::as_str),
        Some("200")
    );
    let points = t.points();
    assert!(points.is_empty(), "no metric at all: {points:#?}");
}
