//! A local, deterministic Anthropic-compatible `/v1/messages` server.
//!
//! It answers both plain JSON and SSE streaming requests, with `usage` that includes
//! `cache_read_input_tokens` / `cache_creation_input_tokens`, and remembers every usage it reported
//! so the demo (and its test) can compare the telemetry with what the "provider" said.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};

/// What the model server reported for one call.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ReportedCall {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) cache_read_input_tokens: u64,
    pub(crate) cache_creation_input_tokens: u64,
    /// The `tool_use` id when the model asked for a tool.
    pub(crate) tool_use_id: Option<String>,
}

#[derive(Clone, Default)]
struct ModelState {
    calls: Arc<Mutex<Vec<ReportedCall>>>,
}

/// A running model server.
pub(crate) struct ModelServer {
    pub(crate) addr: SocketAddr,
    state: ModelState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ModelServer {
    pub(crate) async fn start() -> std::io::Result<Self> {
        let state = ModelState::default();
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn calls(&self) -> Vec<ReportedCall> {
        self.state.calls.lock().expect("model state").clone()
    }

    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Word count, the demo's deterministic "tokenizer".
fn tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn prompt_text(body: &Value) -> String {
    let mut out = String::new();
    if let Some(system) = body.get("system").and_then(Value::as_str) {
        out.push_str(system);
        out.push(' ');
    }
    for message in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match message.get("content") {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Array(parts)) => {
                for part in parts {
                    // Text blocks, and the text of tool results.
                    let text = part
                        .get("text")
                        .or_else(|| part.get("content"))
                        .and_then(Value::as_str);
                    if let Some(t) = text {
                        out.push_str(t);
                        out.push(' ');
                    }
                }
            }
            _ => {}
        }
        out.push(' ');
    }
    out
}

/// The tool the model asks for: `get_weather` when the request offers it and no tool result has
/// come back yet.
fn wants_tool(body: &Value) -> Option<&'static str> {
    let offered = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| tools.iter().any(|t| t["name"] == "get_weather"));
    let answered = body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .any(|part| part["type"] == "tool_result");
    (offered && !answered).then_some("get_weather")
}

/// The deterministic answer for a prompt.
fn answer(prompt: &str) -> String {
    let p = prompt.to_ascii_lowercase();
    if p.contains("role: weather") {
        "Lisbon: 21 C, clear skies, light wind from the north-west.".to_owned()
    } else if p.contains("role: time") {
        "It is 14:05 in Lisbon (WET, UTC+0).".to_owned()
    } else if p.contains("role: plan") {
        "Ask weather-agent for the forecast and time-agent for the local time.".to_owned()
    } else {
        "In Lisbon it is 14:05 and 21 C with clear skies: a good afternoon for a walk.".to_owned()
    }
}

async fn messages(State(state): State<ModelState>, Json(body): Json<Value>) -> Response {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-haiku-4-5-20251001")
        .to_owned();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let prompt = prompt_text(&body);
    let tool = wants_tool(&body);
    let text = match tool {
        Some(_) => "Let me look up the current weather.".to_owned(),
        None => answer(&prompt),
    };
    let has_system = body.get("system").is_some();
    let call = {
        let mut calls = state.calls.lock().expect("model state");
        let n = calls.len() as u64 + 1;
        let call = ReportedCall {
            id: format!("msg_demo_{n:04}"),
            model: model.clone(),
            stream,
            input_tokens: tokens(&prompt),
            output_tokens: tokens(&text),
            // A system prompt is "cached": the first time it is written, then read.
            cache_read_input_tokens: if has_system { 1024 + 16 * n } else { 0 },
            cache_creation_input_tokens: if has_system { 128 } else { 0 },
            tool_use_id: tool.map(|_| format!("toolu_msg_demo_{n:04}")),
        };
        calls.push(call.clone());
        call
    };
    // A little latency, so durations are visible in the tree.
    tokio::time::sleep(Duration::from_millis(15)).await;
    if !stream {
        let mut content = vec![json!({"type": "text", "text": text})];
        if let Some(name) = tool {
            content.push(json!({"type": "tool_use", "id": call.tool_use_id,
                                "name": name, "input": {"city": "Lisbon"}}));
        }
        return Json(json!({
            "id": call.id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": if tool.is_some() { "tool_use" } else { "end_turn" },
            "stop_sequence": null,
            "usage": {
                "input_tokens": call.input_tokens,
                "output_tokens": call.output_tokens,
                "cache_read_input_tokens": call.cache_read_input_tokens,
                "cache_creation_input_tokens": call.cache_creation_input_tokens,
            }
        }))
        .into_response();
    }
    let mut events: Vec<(&'static str, Value)> = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
        "id": call.id, "type": "message", "role": "assistant", "content": [],
        "model": model, "stop_reason": null, "stop_sequence": null,
        "usage": {
            "input_tokens": call.input_tokens,
            "cache_read_input_tokens": call.cache_read_input_tokens,
            "cache_creation_input_tokens": call.cache_creation_input_tokens,
            "output_tokens": 1
        }}}),
    )];
    events.push((
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    for word in text.split_inclusive(' ') {
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}),
        ));
    }
    events.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": call.output_tokens}}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    let stream = futures_util::stream::iter(events).then(|(name, data)| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok::<_, Infallible>(Event::default().event(name).data(data.to_string()))
    });
    Sse::new(stream).into_response()
}

use futures_util::StreamExt as _;
