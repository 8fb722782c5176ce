//! End to end: an axum server with `OtelServerLayer` that calls on with `OtelClientMiddleware`,
//! both using `W3cTraceContextPropagator`: for tricky incoming headers, the outgoing headers are
//! exactly what W3C Trace Context Level 2 prescribes.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use vystak_otel::client::OtelClientMiddleware;
use vystak_otel::propagator::W3cTraceContextPropagator;
use vystak_otel::server::OtelServerLayer;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

async fn serve(app: Router) -> String {
    vystak_otel_testkit::serve(app).await.0
}

/// Sends `incoming` to the middle service and returns what the downstream service received.
async fn relay(base: &str, incoming: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    let mut req = reqwest::Client::new().get(format!("{base}/relay"));
    for (k, v) in incoming {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_headers_follow_the_spec_for_tricky_incoming_headers() {
    let downstream = serve(Router::new().route(
        "/echo",
        get(|headers: HeaderMap| async move {
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for name in ["traceparent", "tracestate"] {
                let values: Vec<String> = headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                if !values.is_empty() {
                    out.insert(name.to_owned(), values);
                }
            }
            Json(out)
        }),
    ))
    .await;
    let tp = SdkTracerProvider::builder()
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            OtelClientMiddleware::new()
                .with_tracer_provider(&tp)
                .with_propagator(W3cTraceContextPropagator::new()),
        )
        .build();
    let middle = serve(
        Router::new()
            .route(
                "/relay",
                get(move || {
                    let (http, downstream) = (http.clone(), downstream.clone());
                    async move {
                        let got: BTreeMap<String, Vec<String>> = http
                            .get(format!("{downstream}/echo"))
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        Json(got)
                    }
                }),
            )
            .layer(
                OtelServerLayer::new()
                    .with_tracer_provider(&tp)
                    .with_propagator(W3cTraceContextPropagator::new()),
            ),
    )
    .await;

    let valid = format!("00-{TID}-{PID}-01");
    let check_continued = |out: &BTreeMap<String, Vec<String>>, flags: &str| {
        let tp = &out["traceparent"];
        assert_eq!(tp.len(), 1, "one traceparent");
        let parts: Vec<&str> = tp[0].split('-').collect();
        assert_eq!(parts[0], "00", "written as version 00");
        assert_eq!(parts[1], TID, "the trace continues");
        assert_ne!(parts[2], PID, "the parent is our client span");
        assert_eq!(parts[3], flags);
        assert_eq!(tp[0].len(), 55);
    };
    let check_restarted = |out: &BTreeMap<String, Vec<String>>| {
        let tp = &out["traceparent"][0];
        assert!(!tp.contains(TID), "a new trace: {tp}");
        assert!(
            !out.contains_key("tracestate"),
            "no tracestate without a valid parent"
        );
    };

    // §3.3.1.5: two tracestate lines are combined; the order is kept.
    let out = relay(
        &middle,
        &[
            ("traceparent", &valid),
            ("tracestate", "a=1"),
            ("tracestate", "b@sys=2"),
        ],
    )
    .await;
    check_continued(&out, "01");
    assert_eq!(out["tracestate"], ["a=1,b@sys=2"]);

    // §3.2: two traceparent headers restart the trace.
    let other = "00-11111111111111111111111111111111-2222222222222222-01";
    let out = relay(
        &middle,
        &[
            ("traceparent", &valid),
            ("traceparent", other),
            ("tracestate", "a=1"),
        ],
    )
    .await;
    check_restarted(&out);

    // §3.2.2.5.2: the random flag travels on.
    let out = relay(&middle, &[("traceparent", &format!("00-{TID}-{PID}-03"))]).await;
    check_continued(&out, "03");
    assert!(
        !out.contains_key("tracestate"),
        "no empty tracestate header"
    );

    // §3.3.1: one bad member discards the whole tracestate; the trace continues.
    let out = relay(
        &middle,
        &[("traceparent", &valid), ("tracestate", "a=1,Bad=2")],
    )
    .await;
    check_continued(&out, "01");
    assert!(!out.contains_key("tracestate"));

    // §3.3.1.1: 33 members is invalid, not truncated.
    let many: String = (0..33)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let out = relay(&middle, &[("traceparent", &valid), ("tracestate", &many)]).await;
    check_continued(&out, "01");
    assert!(!out.contains_key("tracestate"));

    // §3.2.2.1 / §3.2.2.3: bad widths and uppercase restart the trace.
    for bad in [
        format!("0-{TID}-{PID}-01"),
        format!("00-{TID}-{}-001", &PID[1..]),
        format!("00-{TID}-{PID}-1"),
        format!("00-{}-{PID}-01", TID.to_uppercase()),
        format!("ff-{TID}-{PID}-01"),
    ] {
        let out = relay(&middle, &[("traceparent", &bad), ("tracestate", "a=1")]).await;
        check_restarted(&out);
    }

    // §3.2.4: a future version with extra fields is parsed; we write version 00.
    let out = relay(
        &middle,
        &[
            ("traceparent", &format!("cc-{TID}-{PID}-01-extra")),
            ("tracestate", "a=1"),
        ],
    )
    .await;
    check_continued(&out, "01");
    assert_eq!(out["tracestate"], ["a=1"]);
}
