//! Failed model calls: `error.type` is a class (status, provider error type, `timeout`,
//! `_OTHER`), never a Rust type name; the status holds the redacted message. Real reqwest against
//! a real axum model server on 127.0.0.1.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use opentelemetry::trace::Status;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use vystak_otel_genai::anthropic::MessagesResponse;
use vystak_otel_genai::{GenAiCall, GenAiErrorClass, GenAiInstrumentation, ProviderError};

const OVERLOADED: &str =
    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;

async fn model_server() -> String {
    let app = Router::new()
        .route(
            "/v1/messages",
            post(|| async {
                (
                    StatusCode::from_u16(529).unwrap(),
                    [("content-type", "application/json")],
                    OVERLOADED,
                )
                    .into_response()
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

struct T {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    tp: SdkTracerProvider,
    mp: SdkMeterProvider,
}

impl T {
    fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporter::default();
        Self {
            tp: SdkTracerProvider::builder()
                .with_simple_exporter(spans.clone())
                .build(),
            mp: SdkMeterProvider::builder()
                .with_reader(PeriodicReader::builder(metrics.clone()).build())
                .build(),
            spans,
            metrics,
        }
    }
    fn inst(&self) -> GenAiInstrumentation {
        GenAiInstrumentation::new()
            .with_tracer_provider(&self.tp)
            .with_meter_provider(&self.mp)
    }
    fn span(&self) -> SpanData {
        let mut spans = self.spans.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1, "{spans:#?}");
        spans.remove(0)
    }
    /// `error.type` of every `gen_ai.client.operation.duration` point.
    fn duration_error_types(&self) -> Vec<String> {
        self.mp.force_flush().unwrap();
        let all = self.metrics.get_finished_metrics().unwrap();
        let mut out = Vec::new();
        for sm in all.last().unwrap().scope_metrics() {
            for m in sm
                .metrics()
                .filter(|m| m.name() == "gen_ai.client.operation.duration")
            {
                if let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() {
                    for dp in h.data_points() {
                        out.extend(
                            dp.attributes()
                                .filter(|kv| kv.key.as_str() == "error.type")
                                .map(|kv| kv.value.to_string()),
                        );
                    }
                }
            }
        }
        out
    }
}

fn attrs(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn description(span: &SpanData) -> String {
    match &span.status {
        Status::Error { description } => description.to_string(),
        other => panic!("not an error: {other:?}"),
    }
}

/// Regression (issue 11): `error.type` was `alloc::boxed::Box<dyn core::error::Error + …>` for the
/// common boxed error while the HTTP span said `529`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_boxed_reqwest_error_is_classified_by_its_http_status_with_the_url_redacted() {
    let t = T::new();
    let url = format!("{}/v1/messages?sig=s3cret&beta=1", model_server().await);
    let http = reqwest::Client::new();
    let result = t
        .inst()
        .instrument(GenAiCall::anthropic("claude-haiku-4-5"), async {
            let reply = http
                .post(&url)
                .body("{}")
                .send()
                .await?
                .error_for_status()?
                .json::<MessagesResponse>()
                .await?;
            Ok::<_, Box<dyn Error + Send + Sync>>(reply)
        })
        .await;
    assert!(result.is_err());
    let span = t.span();
    assert_eq!(attrs(&span)["error.type"], "529");
    let d = description(&span);
    assert!(d.contains("529"), "{d}");
    assert!(d.contains("sig=REDACTED&beta=1"), "{d}");
    assert!(!d.contains("s3cret") && !d.contains("Box<"), "{d}");
    assert_eq!(t.duration_error_types(), ["529"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_middleware_errors_and_timeouts() {
    let base = model_server().await;
    // The demo's shape: reqwest_middleware::Error from `error_for_status`.
    let t = T::new();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    let url = format!("{base}/v1/messages");
    let _ = t
        .inst()
        .instrument(GenAiCall::anthropic("m"), async {
            http.post(&url)
                .body("{}")
                .send()
                .await?
                .error_for_status()?
                .json::<MessagesResponse>()
                .await
                .map_err(reqwest_middleware::Error::from)
        })
        .await;
    assert_eq!(attrs(&t.span())["error.type"], "529");
    assert_eq!(t.duration_error_types(), ["529"]);

    let t = T::new();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let url = format!("{base}/slow");
    let _ = t
        .inst()
        .instrument(GenAiCall::anthropic("m"), async {
            http.post(&url)
                .send()
                .await?
                .json::<MessagesResponse>()
                .await
        })
        .await;
    assert_eq!(attrs(&t.span())["error.type"], "timeout");
    assert_eq!(t.duration_error_types(), ["timeout"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_error_type_from_the_body_wins_over_the_status() {
    let t = T::new();
    let url = format!("{}/v1/messages", model_server().await);
    let http = reqwest::Client::new();
    let _ = t
        .inst()
        .instrument(GenAiCall::anthropic("m"), async {
            let resp = http.post(&url).body("{}").send().await?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.text().await?;
                return Err(ProviderError::from_body(status.as_u16(), &body).into());
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(resp.json::<MessagesResponse>().await?)
        })
        .await;
    let span = t.span();
    assert_eq!(attrs(&span)["error.type"], "overloaded_error");
    assert_eq!(description(&span), "Overloaded (HTTP 529)");
    assert_eq!(t.duration_error_types(), ["overloaded_error"]);
}

#[tokio::test]
async fn a_classifier_hook_classifies_the_callers_own_error_type() {
    #[derive(Debug)]
    struct Throttled;
    let t = T::new();
    let _ = t
        .inst()
        .with_error_classifier(|e| {
            e.downcast_ref::<Throttled>()
                .map(|_| GenAiErrorClass::new("throttled", "throttled by the gateway"))
        })
        .instrument(GenAiCall::anthropic("m"), async {
            Err::<MessagesResponse, _>(Throttled)
        })
        .await;
    let span = t.span();
    assert_eq!(attrs(&span)["error.type"], "throttled");
    assert_eq!(description(&span), "throttled by the gateway");
    assert_eq!(t.duration_error_types(), ["throttled"]);
}
