//! `anthropic::events` / `openai::events` (feature `sse`, on `eventsource-stream`) against a
//! real model server on 127.0.0.1: a body cut into chunks that split lines and UTF-8 characters,
//! an `error` event mid-reply, a non-2xx reply with its error body, OpenAI's `[DONE]`, and the
//! lazy `send_events` inside `instrument_stream` (the HTTP request is made inside the span).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use vystak_otel_genai::anthropic::{self, StreamEvent};
use vystak_otel_genai::sse::StreamError;
use vystak_otel_genai::{openai, GenAiInstrumentation};

/// Anthropic's stream for the reply "Grüße", cut so that chunks split a line, a `\r\n` and the
/// two bytes of `ü`.
fn anthropic_chunks() -> Vec<Vec<u8>> {
    let body = concat!(
        "event: message_start\r\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\r\n\r\n",
        ": a comment line\n",
        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Grüße\"}}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    )
    .as_bytes()
    .to_vec();
    let u = body.windows(2).position(|w| w == "ü".as_bytes()).unwrap();
    let cr = body.windows(2).position(|w| w == b"\r\n").unwrap();
    let mut cuts = vec![5, cr + 1, u + 1, body.len()];
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut at = 0;
    for cut in cuts {
        chunks.push(body[at..cut].to_vec());
        at = cut;
    }
    chunks
}

async fn serve(app: Router) -> String {
    vystak_otel_testkit::serve(app).await.0
}

/// A server answering `POST /` with these chunks (a pause between them, so they arrive apart).
async fn chunked_server(status: u16, chunks: Vec<Vec<u8>>) -> String {
    let app = Router::new().route(
        "/",
        post(move || {
            let chunks = chunks.clone();
            async move {
                let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Ok::<_, Infallible>(Bytes::from(chunk))
                });
                axum::http::Response::builder()
                    .status(status)
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(stream))
                    .unwrap()
            }
        }),
    );
    serve(app).await
}

#[tokio::test]
async fn anthropic_events_decode_a_stream_cut_anywhere() {
    let base = chunked_server(200, anthropic_chunks()).await;
    let response = reqwest::Client::new().post(&base).send().await.unwrap();
    let events: Vec<StreamEvent> = anthropic::events(response)
        .map(Result::unwrap)
        .collect()
        .await;
    let text: String = events.iter().filter_map(StreamEvent::text_delta).collect();
    assert_eq!(text, "Grüße");
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(matches!(events[0], StreamEvent::MessageStart { .. }));
    assert!(matches!(events[1], StreamEvent::Other), "ping");
    assert!(matches!(events[4], StreamEvent::MessageStop));
}

#[tokio::test]
async fn an_error_event_and_an_error_status_are_provider_errors() {
    let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let base = chunked_server(200, vec![overloaded.as_bytes().to_vec()]).await;
    let response = reqwest::Client::new().post(&base).send().await.unwrap();
    let got: Vec<_> = anthropic::events(response).collect().await;
    match &got[..] {
        [Err(StreamError::Provider(p))] => {
            assert_eq!(p.error_type(), Some("overloaded_error"));
            assert_eq!(p.status(), None);
        }
        other => panic!("{other:?}"),
    }

    let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
    let base = chunked_server(429, vec![body.to_vec()]).await;
    let response = reqwest::Client::new().post(&base).send().await.unwrap();
    let got: Vec<_> = openai::events(response).collect().await;
    match &got[..] {
        [Err(StreamError::Provider(p))] => {
            assert_eq!(p.error_type(), Some("rate_limit_exceeded"));
            assert_eq!(p.status(), Some(429));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn openai_events_skip_done_and_keep_the_usage_chunk() {
    let chunks = [
        r#"{"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        r#"{"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"id":"c1","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
        "[DONE]",
    ]
    .map(|data| format!("data: {data}\n\n").into_bytes())
    .to_vec();
    let base = chunked_server(200, chunks).await;
    let response = reqwest::Client::new().post(&base).send().await.unwrap();
    let got: Vec<_> = openai::events(response).map(Result::unwrap).collect().await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].usage.as_ref().unwrap().prompt_tokens, 5);
}

#[tokio::test]
async fn send_events_sends_inside_the_span_and_the_span_gets_the_usage_or_the_error() {
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let genai = GenAiInstrumentation::new().with_tracer_provider(&provider);
    // The send future notes the context it runs in: the request must be sent inside the
    // gen_ai.chat span (on the stream's first poll), not when `send_events` is called.
    let base = chunked_server(200, anthropic_chunks()).await;
    let body = serde_json::json!({"model": "claude-haiku-4-5", "max_tokens": 64, "stream": true});
    let seen_parent = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = seen_parent.clone();
    let send = async move {
        *seen.lock().unwrap() = Some(
            opentelemetry::Context::current()
                .span()
                .span_context()
                .clone(),
        );
        reqwest::Client::new().post(&base).send().await
    };
    let mut events = std::pin::pin!(
        genai.instrument_stream(anthropic::call_for(&body), anthropic::send_events(send))
    );
    let mut text = String::new();
    while let Some(event) = events.next().await {
        text.push_str(event.unwrap().text_delta().unwrap_or_default());
    }
    assert_eq!(text, "Grüße");
    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(finished.len(), 1, "{finished:?}");
    let chat = &finished[0];
    assert_eq!(chat.name, "gen_ai.chat");
    let parent = seen_parent.lock().unwrap().clone().unwrap();
    assert_eq!(
        parent.span_id(),
        chat.span_context.span_id(),
        "sent inside the span"
    );
    let attr = |k: &str| {
        chat.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr("gen_ai.usage.input_tokens").as_deref(), Some("12"));
    assert_eq!(attr("gen_ai.usage.output_tokens").as_deref(), Some("7"));
    assert_eq!(attr("gen_ai.request.max_tokens").as_deref(), Some("64"));

    // A refused connection: the error is the span's, classified from its source chain.
    spans.reset();
    let send = reqwest::Client::new().post("http://127.0.0.1:1/").send();
    let got: Vec<_> = genai
        .instrument_stream(anthropic::call_for(&body), anthropic::send_events(send))
        .collect()
        .await;
    assert!(
        matches!(&got[..], [Err(StreamError::Request(_))]),
        "{got:?}"
    );
    let finished = spans.get_finished_spans().unwrap();
    assert!(matches!(finished[0].status, Status::Error { .. }));
    let _ = provider.shutdown();
}
