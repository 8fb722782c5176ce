//! Anthropic Messages API: usage from responses and streaming events (feature `anthropic`).

use serde::Deserialize;

use crate::usage::{GenAiChunk, GenAiResponse, Usage};

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
    /// A content delta (text, tool input, thinking).
    ContentBlockDelta {
        /// Block index.
        index: u32,
        /// The delta object.
        delta: serde_json::Value,
    },
    /// The stream's end.
    MessageStop,
    /// Any other event (`content_block_start`, `content_block_stop`, `ping`, `error`, …).
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

/// Splits an SSE body into the `data:` payloads of its events (a small helper for tests and
/// simple clients; a production client parses incrementally).
pub fn sse_data(body: &str) -> impl Iterator<Item = &str> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| !d.is_empty())
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
}
