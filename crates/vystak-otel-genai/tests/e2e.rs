//! End to end: an axum agent behind `OtelServerLayer` calls a real Anthropic-shaped model server on
//! 127.0.0.1 (JSON and SSE) through reqwest + `OtelClientMiddleware` inside the GenAI wrappers; the
//! trace and the histograms are read back through the OTLP path into the viewer's receiver.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{json, Value};
use vystak_otel_client::OtelClientMiddleware;
use vystak_otel_genai::anthropic::{sse_data, MessagesResponse, StreamEvent};
use vystak_otel_genai::{GenAiCall, GenAiInstrumentation};
use vystak_otel_server::OtelServerLayer;
use vystak_otel_viewer::{PointValue, Receiver, SpanKind};
use vystak_telemetry::Telemetry;

async fn model(Json(body): Json<Value>) -> axum::response::Response {
    let usage = json!({"input_tokens": 31, "output_tokens": 9,
                       "cache_read_input_tokens": 2048, "cache_creation_input_tokens": 64});
    if body["stream"].as_bool() == Some(true) {
        let events = vec![
            json!({"type":"message_start","message":{"id":"msg_stream","type":"message","role":"assistant","content":[],"model":"claude-haiku-4-5-20251001","usage":{"input_tokens":31,"cache_read_input_tokens":2048,"cache_creation_input_tokens":64,"output_tokens":1}}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Sunny"}}),
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}),
            json!({"type":"message_stop"}),
        ];
        let stream = futures_util::stream::iter(events).map(|e| {
            Ok::<_, Infallible>(
                Event::default()
                    .event(e["type"].as_str().unwrap())
                    .data(e.to_string()),
            )
        });
        return Sse::new(stream).into_response();
    }
    Json(
        json!({"id": "msg_json", "type": "message", "role": "assistant",
                "model": "claude-haiku-4-5-20251001",
                "content": [{"type": "text", "text": "Sunny"}], "stop_reason": "end_turn",
                "usage": usage}),
    )
    .into_response()
}

async fn serve(app: Router) -> String {
    vystak_otel_testkit::serve(app).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_span_to_gen_ai_chat_to_http_client_with_exact_usage_and_histograms() {
    let receiver = Receiver::start_local().await.unwrap();
    let telemetry = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-weather-agent")
        .build()
        .unwrap();
    let (tp, mp) = (
        telemetry.tracer_provider().unwrap(),
        telemetry.meter_provider().unwrap(),
    );
    let model_url = serve(Router::new().route("/v1/messages", post(model))).await;

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            OtelClientMiddleware::new()
                .with_tracer_provider(&tp)
                .with_meter_provider(&mp)
                .with_propagator(TraceContextPropagator::new()),
        )
        .build();
    let genai = GenAiInstrumentation::new()
        .with_tracer_provider(&tp)
        .with_meter_provider(&mp);
    let url = format!("{model_url}/v1/messages");
    let handler = move |streaming: bool| {
        let (http, genai, url) = (http.clone(), genai.clone(), url.clone());
        async move {
            let call = GenAiCall::anthropic("claude-haiku-4-5").with_max_tokens(64);
            let body = json!({"model": "claude-haiku-4-5", "max_tokens": 64, "stream": streaming,
                              "messages": [{"role": "user", "content": "weather?"}]});
            if !streaming {
                let reply = genai
                    .instrument(call, async {
                        http.post(&url)
                            .json(&body)
                            .send()
                            .await?
                            .json::<MessagesResponse>()
                            .await
                            .map_err(Into::into)
                    })
                    .await
                    .map_err(|e: reqwest_middleware::Error| e.to_string())
                    .unwrap();
                return reply.text();
            }
            // Streaming: the wrapper starts before the request, so the HTTP span is its child.
            let (tx, rx) =
                tokio::sync::mpsc::unbounded_channel::<Result<StreamEvent, Infallible>>();
            let events = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
            let mut stream = Box::pin(genai.instrument_stream(call, events));
            let cx = stream.context();
            let text = {
                use opentelemetry::context::FutureExt as _;
                let raw = http
                    .post(&url)
                    .json(&body)
                    .send()
                    .with_context(cx)
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                for data in sse_data(&raw) {
                    tx.send(Ok(StreamEvent::parse(data).unwrap())).unwrap();
                }
                drop(tx);
                let mut text = String::new();
                while let Some(Ok(ev)) = stream.next().await {
                    text.push_str(ev.text_delta().unwrap_or_default());
                }
                text
            };
            text
        }
    };
    let h1 = handler.clone();
    let app = Router::new()
        .route("/ask", get(move || h1(false)))
        .route("/ask-stream", get(move || handler(true)))
        .layer(
            OtelServerLayer::new()
                .with_tracer_provider(&tp)
                .with_meter_provider(&mp),
        );
    let agent = serve(app).await;
    assert_eq!(
        reqwest::get(format!("{agent}/ask"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Sunny"
    );
    assert_eq!(
        reqwest::get(format!("{agent}/ask-stream"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Sunny"
    );
    telemetry.shutdown().unwrap();

    let store = receiver.store();
    store.wait_for_spans(6, Duration::from_secs(20)).await;
    // JSON call: server → gen_ai.chat → HTTP client span.
    let server = &store.spans_named("GET /ask")[0];
    let json_chat = store
        .spans_named("gen_ai.chat")
        .into_iter()
        .find(|s| s.str_attr("gen_ai.response.id") == Some("msg_json"))
        .expect("json chat span");
    assert_eq!(json_chat.kind, SpanKind::Client);
    assert_eq!(
        json_chat.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    let http_span = store
        .children_of(&json_chat.span_id)
        .into_iter()
        .find(|s| s.name == "POST")
        .expect("the HTTP client span is a child of gen_ai.chat");
    assert_eq!(http_span.kind, SpanKind::Client);
    for (k, v) in [
        // Total input: 31 + 2048 cache read + 64 cache creation (LangChain's usage_metadata).
        ("gen_ai.usage.input_tokens", 2143),
        ("gen_ai.usage.output_tokens", 9),
        ("gen_ai.usage.cache_read_input_tokens", 2048),
        ("gen_ai.usage.cache_creation_input_tokens", 64),
    ] {
        assert_eq!(json_chat.int_attr(k), Some(v), "{k}");
    }
    assert_eq!(json_chat.str_attr("gen_ai.system"), Some("anthropic"));
    // Streaming call: exact usage from message_start + message_delta.
    let stream_chat = store
        .spans_named("gen_ai.chat")
        .into_iter()
        .find(|s| s.str_attr("gen_ai.response.id") == Some("msg_stream"))
        .expect("stream chat span");
    assert_eq!(stream_chat.int_attr("gen_ai.usage.output_tokens"), Some(9));
    assert_eq!(
        stream_chat.int_attr("gen_ai.usage.cache_read_input_tokens"),
        Some(2048)
    );
    let stream_server = &store.spans_named("GET /ask-stream")[0];
    assert_eq!(
        stream_chat.parent_span_id.as_deref(),
        Some(stream_server.span_id.as_str())
    );

    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| s
                .metric_points("gen_ai.client.token.usage")
                .len()
                == 4)
            .await
    );
    for point in store.metric_points("gen_ai.client.token.usage") {
        assert_eq!(point.service_name, "vystak-weather-agent");
        assert_eq!(point.unit, "{token}");
        let expected = match point.str_attr("gen_ai.token.type").unwrap() {
            "input" => 4286.0,
            "output" => 18.0,
            "cache_read" => 4096.0,
            "cache_creation" => 128.0,
            other => panic!("unexpected token type {other}"),
        };
        match &point.value {
            PointValue::Histogram {
                count, sum, bounds, ..
            } => {
                assert_eq!((*count, *sum), (2, expected));
                assert_eq!(bounds.len(), 14);
                assert_eq!((bounds[0], bounds[13]), (1.0, 67108864.0));
            }
            other => panic!("{other:?}"),
        }
    }
}
