//! Anthropic Messages API: usage from responses and streaming events (feature `anthropic`).

use serde::Deserialize;

use crate::usage::{GenAiChunk, GenAiResponse, ToolCall, Usage};

/// `usage` of a Messages response or stream event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct AnthropicUsage {
    /// Input tokens, excluding cache reads and writes.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Output tokens (cumulative in `message_delta`).
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    /// Tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
}

impl From<&AnthropicUsage> for Usage {
    fn from(u: &AnthropicUsage) -> Usage {
        Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            reasoning_output_tokens: None,
        }
    }
}

/// A Messages API response (`POST /v1/messages`), the parts telemetry needs.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct MessagesResponse {
    /// `msg_…`.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, …
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The content blocks.
    #[serde(default)]
    pub content: Vec<serde_json::Value>,
    /// Token usage.
    pub usage: AnthropicUsage,
}

impl MessagesResponse {
    /// The concatenated text of the text blocks.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|b| b.get("text").and_then(serde_json::Value::as_str))
            .collect()
    }
}

/// A `tool_use` content block as a [`ToolCall`] (`input` serialised as the arguments).
fn tool_use(block: &serde_json::Value) -> Option<ToolCall> {
    if block.get("type")?.as_str()? != "tool_use" {
        return None;
    }
    Some(ToolCall {
        id: block.get("id")?.as_str()?.to_owned(),
        name: block.get("name")?.as_str()?.to_owned(),
        arguments: block
            .get("input")
            .map_or_else(|| "{}".to_owned(), serde_json::Value::to_string),
    })
}

impl GenAiResponse for MessagesResponse {
    fn usage(&self) -> Option<Usage> {
        Some(Usage::from(&self.usage))
    }
    fn response_model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn response_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn finish_reasons(&self) -> Vec<String> {
        self.stop_reason.iter().cloned().collect()
    }
    fn output_messages(&self) -> Option<String> {
        serde_json::to_string(&serde_json::json!([{
            "role": "assistant",
            "parts": self.content,
            "finish_reason": self.stop_reason,
        }]))
        .ok()
    }
    fn tool_calls(&self) -> Vec<ToolCall> {
        self.content.iter().filter_map(tool_use).collect()
    }
}

/// The `message` object of a `message_start` event.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct StartMessage {
    /// `msg_…`.
    pub id: String,
    /// The model.
    pub model: String,
    /// Input and cache usage (output is 1 or so here).
    #[serde(default)]
    pub usage: AnthropicUsage,
}

/// The `delta` of a `message_delta` event.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct MessageDelta {
    /// The stop reason, once known.
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// A Messages streaming event (the `data:` of one SSE event).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamEvent {
    /// First event: id, model, input/cache usage.
    MessageStart {
        /// The message.
        message: StartMessage,
    },
    /// Stop reason and cumulative output usage.
    MessageDelta {
        /// The delta.
        #[serde(default)]
        delta: MessageDelta,
        /// Cumulative usage.
        #[serde(default)]
        usage: AnthropicUsage,
    },
    /// A content block opens (text, `tool_use` with its id and name, thinking).
    ContentBlockStart {
        /// Block index.
        index: u32,
        /// The block as it starts.
        content_block: serde_json::Value,
    },
    /// A content delta (text, tool input, thinking).
    ContentBlockDelta {
        /// Block index.
        index: u32,
        /// The delta object.
        delta: serde_json::Value,
    },
    /// The stream's end.
    MessageStop,
    /// Any other event (`content_block_stop`, `ping`, `error`, …).
    #[serde(other)]
    Other,
}

impl StreamEvent {
    /// Parses the `data:` payload of one SSE event.
    ///
    /// # Errors
    /// The JSON error when the payload is not a stream event.
    pub fn parse(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }

    /// The text of a `text_delta`.
    pub fn text_delta(&self) -> Option<&str> {
        match self {
            StreamEvent::ContentBlockDelta { delta, .. } => {
                delta.get("text").and_then(serde_json::Value::as_str)
            }
            _ => None,
        }
    }
}

/// Collects the tool calls of a streaming reply: `tool_use` blocks from `content_block_start`,
/// their arguments from the `input_json_delta` fragments.
///
/// ```
/// use vystak_otel_genai::anthropic::{StreamEvent, ToolCallCollector};
/// let mut tools = ToolCallCollector::default();
/// for data in [
///     r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#,
///     r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}}"#,
///     r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Lisbon\"}"}}"#,
/// ] {
///     tools.push(&StreamEvent::parse(data).unwrap());
/// }
/// let calls = tools.finish();
/// assert_eq!((calls[0].name.as_str(), calls[0].arguments.as_str()), ("get_weather", r#"{"city": "Lisbon"}"#));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ToolCallCollector {
    calls: Vec<(u32, ToolCall, bool)>,
}

impl ToolCallCollector {
    /// Takes one event into account.
    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                if let Some(mut call) = tool_use(content_block) {
                    // `input` is `{}` at the start; the deltas carry the real arguments.
                    if call.arguments == "{}" {
                        call.arguments.clear();
                    }
                    self.calls.push((*index, call, false));
                }
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                let fragment = delta
                    .get("partial_json")
                    .and_then(serde_json::Value::as_str);
                if let (Some(fragment), Some((_, call, seen))) = (
                    fragment,
                    self.calls.iter_mut().rev().find(|(i, _, _)| i == index),
                ) {
                    call.arguments.push_str(fragment);
                    *seen = true;
                }
            }
            _ => {}
        }
    }

    /// The tool calls, in order (a call without argument fragments has arguments `{}`).
    pub fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_iter()
            .map(|(_, mut call, seen)| {
                if !seen && call.arguments.is_empty() {
                    call.arguments = "{}".to_owned();
                }
                call
            })
            .collect()
    }
}

impl GenAiChunk for StreamEvent {
    fn usage(&self) -> Option<Usage> {
        match self {
            StreamEvent::MessageStart { message } => Some(Usage::from(&message.usage)),
            StreamEvent::MessageDelta { usage, .. } => Some(Usage::from(usage)),
            _ => None,
        }
    }
    fn response_model(&self) -> Option<&str> {
        match self {
            StreamEvent::MessageStart { message } => Some(&message.model),
            _ => None,
        }
    }
    fn response_id(&self) -> Option<&str> {
        match self {
            StreamEvent::MessageStart { message } => Some(&message.id),
            _ => None,
        }
    }
    fn finish_reason(&self) -> Option<&str> {
        match self {
            StreamEvent::MessageDelta { delta, .. } => delta.stop_reason.as_deref(),
            _ => None,
        }
    }
}

/// Splits a whole SSE body into the `data:` payloads of its events (a small helper for tests
/// and simple clients; a streaming client uses [`events`] / [`send_events`]).
pub fn sse_data(body: &str) -> impl Iterator<Item = &str> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| !d.is_empty())
}

/// An incremental Server-Sent Events decoder for streaming replies: feed it the body's chunks as
/// they arrive, get each complete event's `data` (multi-line data joined with `\n`, as the SSE
/// spec says). Chunks may split lines and UTF-8 characters anywhere; `\n`, `\r\n` and `\r`
/// line ends are understood; comments and other fields are skipped.
///
/// Kept one release: [`events`] / [`send_events`] decode a response's stream with
/// `eventsource-stream` and parse its events.
///
/// ```
/// # #![allow(deprecated)]
/// use vystak_otel_genai::anthropic::{SseDecoder, StreamEvent};
/// let mut sse = SseDecoder::default();
/// let mut events = Vec::new();
/// for chunk in ["event: ping\ndata: {\"type\"", ": \"ping\"}\n", "\n"] {
///     events.extend(sse.push(chunk.as_bytes()));
/// }
/// assert_eq!(events, [r#"{"type": "ping"}"#]);
/// assert!(matches!(StreamEvent::parse(&events[0]).unwrap(), StreamEvent::Other));
/// ```
#[derive(Clone, Debug, Default)]
#[deprecated(
    since = "0.1.0",
    note = "use `anthropic::events(response)` / `send_events(send)` (eventsource-stream)"
)]
pub struct SseDecoder {
    buf: Vec<u8>,
    data: Option<String>,
}

#[allow(deprecated)]
impl SseDecoder {
    /// Takes one chunk; returns the `data` of every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
            // A `\r` at the end of the buffer may be the first half of `\r\n`: wait for more.
            if self.buf[end] == b'\r' && end + 1 == self.buf.len() {
                break;
            }
            let skip = if self.buf[end] == b'\r' && self.buf.get(end + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            let line: Vec<u8> = self.buf.drain(..end + skip).take(end).collect();
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                out.extend(self.data.take());
                continue;
            }
            if let Some(value) = line.strip_prefix("data") {
                let Some(value) = value.strip_prefix(':').or(value.is_empty().then_some("")) else {
                    continue;
                };
                let value = value.strip_prefix(' ').unwrap_or(value);
                match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                }
            }
        }
        out
    }

    /// The last event when the body ended without its blank line.
    pub fn finish(&mut self) -> Option<String> {
        // Earlier pushes returned every complete event; what is left is at most one line.
        let mut out = if self.buf.is_empty() {
            Vec::new()
        } else {
            self.push(b"\n")
        };
        out.extend(self.data.take());
        out.pop()
    }
}

/// The events of a streaming Messages reply, decoded as they arrive (feature `sse`): each SSE
/// event's `data` parsed as a [`StreamEvent`]; a non-2xx status or an `error` event (e.g.
/// `overloaded_error` mid-reply) is a [`StreamError::Provider`](crate::sse::StreamError::Provider).
#[cfg(feature = "sse")]
pub fn events(
    response: reqwest::Response,
) -> impl futures_core::Stream<Item = Result<StreamEvent, crate::sse::StreamError>> + Send + 'static
{
    crate::sse::response_events(response, parse_event)
}

/// [`events`] of the response `send` resolves to — pass the request's `send()` future: it is
/// sent on the first poll, so inside
/// [`instrument_stream`](crate::GenAiInstrumentation::instrument_stream) the HTTP span is a
/// child of the `gen_ai.chat` span.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use vystak_otel_genai::{anthropic, GenAiInstrumentation};
///
/// # async fn run(http: reqwest::Client, body: serde_json::Value) -> Result<(), vystak_otel_genai::sse::StreamError> {
/// let send = http.post("https://api.anthropic.com/v1/messages").json(&body).send();
/// let call = anthropic::call_for(&body); // model, max_tokens, … read from the request
/// let mut events = std::pin::pin!(GenAiInstrumentation::new().instrument_stream(call, anthropic::send_events(send)));
/// while let Some(event) = events.next().await {
///     print!("{}", event?.text_delta().unwrap_or_default());
/// }
/// # Ok(()) }
/// ```
#[cfg(feature = "sse")]
pub fn send_events<F, E>(
    send: F,
) -> impl futures_core::Stream<Item = Result<StreamEvent, crate::sse::StreamError>> + Send + 'static
where
    F: std::future::Future<Output = Result<reqwest::Response, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    crate::sse::send_events(send, parse_event)
}

#[cfg(feature = "sse")]
fn parse_event(event: &str, data: &str) -> Option<Result<StreamEvent, crate::sse::StreamError>> {
    if event == "error" {
        if let Some(error) = crate::sse::error_event(data) {
            return Some(Err(error));
        }
    }
    Some(StreamEvent::parse(data).map_err(crate::sse::StreamError::Json))
}

/// The [`GenAiCall`](crate::GenAiCall) of a Messages request body: `model`, `max_tokens`,
/// `temperature`, `top_p`, `top_k`, `stop_sequences` and `stream` read from it, so a call names
/// its model once.
///
/// ```
/// let body = serde_json::json!({"model": "claude-haiku-4-5", "max_tokens": 256, "stream": true, "messages": []});
/// let call = vystak_otel_genai::anthropic::call_for(&body);
/// assert_eq!(call, vystak_otel_genai::GenAiCall::anthropic("claude-haiku-4-5").with_max_tokens(256).with_stream(true));
/// ```
pub fn call_for(request: &serde_json::Value) -> crate::GenAiCall {
    let model = request
        .get("model")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    crate::call::with_request_parameters(crate::GenAiCall::anthropic(model), request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_messages_response_with_cache_fields() {
        let body = r#"{
          "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
          "model": "claude-haiku-4-5-20251001",
          "content": [{"type": "text", "text": "Hello!"}],
          "stop_reason": "end_turn", "stop_sequence": null,
          "usage": {"input_tokens": 12, "output_tokens": 6,
                    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048}
        }"#;
        let r: MessagesResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.text(), "Hello!");
        assert_eq!(
            GenAiResponse::usage(&r),
            Some(Usage {
                input_tokens: Some(12),
                output_tokens: Some(6),
                cache_read_input_tokens: Some(2048),
                cache_creation_input_tokens: Some(0),
                reasoning_output_tokens: None,
            })
        );
        assert_eq!(r.finish_reasons(), ["end_turn"]);
        assert_eq!(
            GenAiResponse::response_id(&r),
            Some("msg_01XFDUDYJgAACzvnptvVoYEL")
        );
    }

    #[test]
    fn a_streaming_transcript() {
        let transcript = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5-20251001\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":10,\"cache_read_input_tokens\":300,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n";
        let events: Vec<StreamEvent> = sse_data(transcript)
            .map(|d| StreamEvent::parse(d).unwrap())
            .collect();
        assert_eq!(events.len(), 7);
        let mut usage = Usage::default();
        let mut reasons = Vec::new();
        for e in &events {
            if let Some(u) = GenAiChunk::usage(e) {
                usage.merge(u);
            }
            reasons.extend(e.finish_reason().map(str::to_owned));
        }
        assert_eq!(usage.input_tokens, Some(25));
        assert_eq!(
            usage.output_tokens,
            Some(15),
            "message_delta's cumulative count wins"
        );
        assert_eq!(usage.cache_read_input_tokens, Some(300));
        assert_eq!(usage.cache_creation_input_tokens, Some(10));
        assert_eq!(reasons, ["end_turn"]);
        assert_eq!(events[3].text_delta(), Some("Hello"));
        assert_eq!(
            events[0].response_model(),
            Some("claude-haiku-4-5-20251001")
        );
        assert!(matches!(events[2], StreamEvent::Other));
    }

    #[test]
    #[allow(deprecated)]
    fn the_sse_decoder_survives_any_chunking() {
        let body =
            "event: content_block_delta\r\ndata: {\"text\": \"caf\u{e9} \u{1f600}\"}\r\n\r\n\
: a comment\n\ndata: line one\ndata: line two\n\nretry: 10\ndata\n\n";
        let want = [
            "{\"text\": \"caf\u{e9} \u{1f600}\"}".to_owned(),
            "line one\nline two".to_owned(),
            String::new(),
        ];
        let bytes = body.as_bytes();
        for size in 1..=bytes.len() {
            let mut sse = SseDecoder::default();
            let mut got = Vec::new();
            for chunk in bytes.chunks(size) {
                got.extend(sse.push(chunk));
            }
            assert_eq!(got, want, "chunk size {size}");
        }
        let mut sse = SseDecoder::default();
        assert!(sse.push(b"data: no blank line at the end").is_empty());
        assert_eq!(sse.finish().as_deref(), Some("no blank line at the end"));
    }

    #[test]
    fn tool_use_blocks_become_tool_calls() {
        let body = r#"{
          "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
          "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Lisbon"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}
          ],
          "stop_reason": "tool_use",
          "usage": {"input_tokens": 10, "output_tokens": 5}
        }"#;
        let r: MessagesResponse = serde_json::from_str(body).unwrap();
        assert_eq!(
            r.tool_calls(),
            [
                ToolCall {
                    id: "toolu_01A".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Lisbon"}"#.into()
                },
                ToolCall {
                    id: "toolu_01B".into(),
                    name: "get_time".into(),
                    arguments: "{}".into()
                },
            ]
        );
        assert_eq!(r.text(), "Let me check.");
    }

    #[test]
    fn streamed_tool_calls_without_arguments_get_an_empty_object() {
        let mut c = ToolCallCollector::default();
        c.push(&StreamEvent::parse(r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"now","input":{}}}"#).unwrap());
        c.push(&StreamEvent::parse(r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#).unwrap());
        let calls = c.finish();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].arguments, "{}");
    }
}
