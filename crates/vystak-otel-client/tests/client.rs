//! `OtelClientMiddleware` against a real axum server on 127.0.0.1.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{attrs, echo_server, Telemetry};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::Context;
use vystak_otel_client::{
    DisableOtelPropagation, DisableOtelSpan, OtelClientMiddleware, OtelName, UrlTemplate,
};

type Headers = BTreeMap<String, String>;

#[tokio::test]
async fn injected_traceparent_names_the_client_span_which_is_a_child_of_the_current_context() {
    let t = Telemetry::new();
    let base = echo_server().await;
    let parent = t.tp.tracer("test").start("parent.op");
    let cx = Context::current_with_span(parent);
    let headers: Headers = t
        .client()
        .get(format!("{base}/echo"))
        .send()
        .with_context(cx.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spans = t.finished();
    assert_eq!(spans.len(), 1, "no tracing subscriber needed");
    let span = &spans[0];
    assert_eq!(span.name, "GET");
    assert_eq!(span.span_kind, SpanKind::Client);
    let parent_sc = cx.span().span_context().clone();
    assert_eq!(span.span_context.trace_id(), parent_sc.trace_id());
    assert_eq!(span.parent_span_id, parent_sc.span_id());
    assert_eq!(
        headers["traceparent"],
        format!(
            "00-{}-{}-01",
            span.span_context.trace_id(),
            span.span_context.span_id()
        ),
        "the server sees the client span as its parent"
    );
    let a = attrs(span);
    assert_eq!(a["http.request.method"], "GET");
    assert_eq!(a["server.address"], "127.0.0.1");
    assert_eq!(a["url.full"], format!("{base}/echo"));
    assert_eq!(a["http.response.status_code"], "200");
    assert_eq!(a["network.protocol.version"], "1.1");
    // The peer the response came from (recommended by HTTP semconv, set by Python's httpx
    // instrumentation): the listener's address and port.
    assert_eq!(a["network.peer.address"], "127.0.0.1");
    assert_eq!(a["network.peer.port"], a["server.port"]);
    assert!(!a.contains_key("error.type") && !a.contains_key("http.request.resend_count"));
    assert_eq!(span.status, Status::Unset);
    let d = t.durations();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0["http.request.method"], "GET");
    assert_eq!(d[0].0["http.response.status_code"], "200");
    assert_eq!(d[0].0["server.address"], "127.0.0.1");
    assert!(d[0].0.contains_key("server.port"));
    assert!(
        !d[0].0.contains_key("url.full") && !d[0].0.contains_key("network.peer.port"),
        "no high-cardinality url or peer on metrics"
    );
    assert_eq!(
        d[0].2,
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
    );
}

#[tokio::test]
async fn a_traceparent_set_by_the_caller_is_kept_unless_overwrite_is_on() {
    let t = Telemetry::new();
    let base = echo_server().await;
    let mine = "00-11111111111111111111111111111111-2222222222222222-01";
    let headers: Headers = t
        .client()
        .get(format!("{base}/echo"))
        .header("traceparent", mine)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(headers["traceparent"], mine);

    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(t.middleware().with_overwrite_traceparent(true))
        .build();
    let headers: Headers = client
        .get(format!("{base}/echo"))
        .header("traceparent", mine)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(headers["traceparent"], mine);
}

#[tokio::test]
async fn per_request_opt_outs_and_span_names() {
    let t = Telemetry::new();
    let base = echo_server().await;
    let client = t.client();
    let headers: Headers = client
        .get(format!("{base}/third-party"))
        .with_extension(DisableOtelPropagation)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !headers.contains_key("traceparent"),
        "third parties see no trace id"
    );
    assert_eq!(t.finished().len(), 1, "the span is still recorded");

    client
        .get(format!("{base}/nospan"))
        .with_extension(DisableOtelSpan)
        .send()
        .await
        .unwrap();
    assert_eq!(t.finished().len(), 1, "no span for DisableOtelSpan");

    client
        .post(format!("{base}/a2a"))
        .with_extension(OtelName("POST /a2a".into()))
        .send()
        .await
        .unwrap();
    assert!(t.finished().iter().any(|s| s.name == "POST /a2a"));
}

#[tokio::test]
async fn url_full_is_redacted() {
    let t = Telemetry::new();
    let base = echo_server().await;
    let with_creds = base.replace("http://", "http://alice:hunter2@");
    t.client()
        .get(format!(
            "{with_creds}/o?X-Amz-Signature=abc&color=blue&sig=s3cr3t"
        ))
        .send()
        .await
        .unwrap();
    let a = attrs(&t.finished()[0]);
    // reqwest moves URL credentials into an Authorization header before middleware runs, so they
    // never reach `url.full` (the redaction of a URL that still has them is unit-tested in url.rs).
    assert_eq!(
        a["url.full"],
        format!("{base}/o?X-Amz-Signature=REDACTED&color=blue&sig=REDACTED")
    );
    assert!(!a["url.full"].contains("hunter2") && !a["url.full"].contains("s3cr3t"));
    assert!(!a["url.full"].contains("alice"));
}

#[tokio::test]
async fn status_rules_4xx_and_5xx_are_errors() {
    let t = Telemetry::new();
    let base = echo_server().await;
    for code in [200, 404, 503] {
        t.client()
            .get(format!("{base}/status/{code}"))
            .send()
            .await
            .unwrap();
    }
    let spans = t.finished();
    for (span, code) in spans.iter().zip([200, 404, 503]) {
        let a = attrs(span);
        assert_eq!(a["http.response.status_code"], code.to_string());
        if code >= 400 {
            assert!(matches!(span.status, Status::Error { .. }), "{code}");
            assert_eq!(a["error.type"], code.to_string());
        } else {
            assert_eq!(span.status, Status::Unset);
            assert!(!a.contains_key("error.type"));
        }
    }
    let errors: Vec<String> = t
        .durations()
        .into_iter()
        .filter_map(|(a, _, _)| a.get("error.type").cloned())
        .collect();
    assert_eq!(errors.len(), 2);
}

#[tokio::test]
async fn retries_give_one_span_per_attempt_with_resend_count() {
    use reqwest_retry::policies::ExponentialBackoff;
    use reqwest_retry::RetryTransientMiddleware;
    let t = Telemetry::new();
    let base = echo_server().await;
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
        .build_with_max_retries(3);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .with(t.middleware())
        .build();
    let resp = client.get(format!("{base}/flaky")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let spans = t.finished();
    assert_eq!(spans.len(), 3);
    let resend: Vec<Option<String>> = spans
        .iter()
        .map(|s| attrs(s).get("http.request.resend_count").cloned())
        .collect();
    assert_eq!(resend, [None, Some("1".into()), Some("2".into())]);
    let codes: Vec<String> = spans
        .iter()
        .map(|s| attrs(s)["http.response.status_code"].clone())
        .collect();
    assert_eq!(codes, ["503", "503", "200"]);
}

#[tokio::test]
async fn transport_errors_timeout_and_connection_refused() {
    let t = Telemetry::new();
    // A server that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let client = reqwest_middleware::ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    )
    .with(t.middleware())
    .build();
    assert!(client
        .get(format!("http://{silent}/"))
        .send()
        .await
        .is_err());
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    assert!(client
        .get(format!("http://{refused}/"))
        .send()
        .await
        .is_err());
    let spans = t.finished();
    assert_eq!(spans.len(), 2);
    assert_eq!(attrs(&spans[0])["error.type"], "timeout");
    assert_eq!(attrs(&spans[1])["error.type"], "connect");
    for s in &spans {
        assert!(matches!(s.status, Status::Error { .. }));
        assert!(!attrs(s).contains_key("http.response.status_code"));
    }
    let errors: Vec<String> = t
        .durations()
        .into_iter()
        .filter_map(|(a, _, _)| a.get("error.type").cloned())
        .collect();
    assert_eq!(errors.len(), 2);
}

#[tokio::test]
async fn a_request_dropped_by_the_caller_is_not_an_error() {
    let t = Telemetry::new();
    let base = echo_server().await;
    let client = t.client();
    let call = client.get(format!("{base}/slow")).send();
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());
    let spans = t.finished();
    assert_eq!(spans.len(), 1, "the span is ended, not leaked");
    assert_eq!(spans[0].status, Status::Unset);
    assert!(!attrs(&spans[0]).contains_key("error.type"));
}

#[tokio::test]
async fn unknown_methods_are_other() {
    let t = Telemetry::new();
    let base = echo_server().await;
    t.client()
        .request(
            reqwest::Method::from_bytes(b"PURGE").unwrap(),
            format!("{base}/x"),
        )
        .send()
        .await
        .unwrap();
    let span = &t.finished()[0];
    assert_eq!(span.name, "HTTP");
    let a = attrs(span);
    assert_eq!(a["http.request.method"], "_OTHER");
    assert_eq!(a["http.request.method_original"], "PURGE");
}

#[tokio::test]
async fn a_url_template_names_the_span_and_is_recorded() {
    let t = Telemetry::new();
    let base = echo_server().await;
    t.client()
        .post(format!("{base}/agents/weather/a2a"))
        .with_extension(UrlTemplate("/agents/{name}/a2a".into()))
        .send()
        .await
        .unwrap();
    let span = &t.finished()[0];
    assert_eq!(span.name, "POST /agents/{name}/a2a");
    assert_eq!(attrs(span)["url.template"], "/agents/{name}/a2a");
    assert_eq!(
        attrs(span)["url.full"],
        format!("{base}/agents/weather/a2a")
    );
    assert!(
        !t.durations()[0].0.contains_key("url.template"),
        "url.template is opt-in on the duration metric"
    );
}

#[tokio::test]
async fn a_transport_error_never_puts_the_unredacted_url_in_the_span() {
    let t = Telemetry::new();
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{refused}/o?X-Amz-Signature=s3cr3t&sig=hush&page=2");
    assert!(t.client().get(&url).send().await.is_err());
    let spans = t.finished();
    assert_eq!(spans.len(), 1);
    let Status::Error { description } = &spans[0].status else {
        panic!("{:?}", spans[0].status);
    };
    assert!(!description.contains("s3cr3t"), "{description}");
    assert!(!description.contains("hush"), "{description}");
    assert!(
        description.contains("X-Amz-Signature=REDACTED"),
        "{description}"
    );
    assert!(description.contains("page=2"), "{description}");
    assert!(!format!("{:?}", spans[0]).contains("s3cr3t"));
}

#[tokio::test]
async fn metrics_only_records_the_duration() {
    let t = Telemetry::new();
    let base = echo_server().await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OtelClientMiddleware::new().with_meter_provider(&t.mp))
        .build();
    assert_eq!(
        client
            .get(format!("{base}/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let points = t.durations();
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(points[0].1, 1);
    assert_eq!(points[0].0["http.response.status_code"], "200");
    assert!(t.finished().is_empty());
}
