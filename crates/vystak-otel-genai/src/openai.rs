//! OpenAI Chat Completions and Responses: usage from bodies and stream chunks (feature `openai`).

use serde::Deserialize;

use crate::usage::{GenAiChunk, GenAiResponse, ToolCall, Usage};

/// `prompt_tokens_details` / `input_tokens_details`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct InputDetails {
    /// Cached input tokens (a subset of the input tokens).
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// `completion_tokens_details` / `output_tokens_details`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct OutputDetails {
    /// Reasoning tokens (a subset of the output tokens).
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

/// Chat Completions `usage`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ChatUsage {
    /// Prompt tokens (including cached ones).
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Details of the prompt tokens.
    #[serde(default)]
    pub prompt_tokens_details: Option<InputDetails>,
    /// Details of the completion tokens.
    #[serde(default)]
    pub completion_tokens_details: Option<OutputDetails>,
}

impl From<&ChatUsage> for Usage {
    fn from(u: &ChatUsage) -> Usage {
        Usage {
            input_tokens: Some(u.prompt_tokens),
            output_tokens: Some(u.completion_tokens),
            cache_read_input_tokens: u
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: u
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens),
        }
    }
}

/// One choice: its finish reason and (in a full response) its message's tool calls.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Choice {
    /// `stop`, `length`, `tool_calls`, …
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The assistant message (absent in stream chunks, which carry `delta`).
    #[serde(default)]
    pub message: Option<ChoiceMessage>,
}

/// The parts of a choice's message telemetry needs.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ChoiceMessage {
    /// The tool calls the model asked for.
    #[serde(default)]
    pub tool_calls: Vec<ChatToolCall>,
}

/// One entry of `message.tool_calls`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ChatToolCall {
    /// `call_…`.
    pub id: String,
    /// `function`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The function and its arguments.
    pub function: ChatFunctionCall,
}

/// The `function` of a tool call.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ChatFunctionCall {
    /// The function's name.
    pub name: String,
    /// The arguments, a JSON string.
    #[serde(default)]
    pub arguments: String,
}

/// A Chat Completions response, or one streaming chunk (`chat.completion.chunk`; with
/// `stream_options.include_usage` the last chunk carries `usage`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// The model.
    pub model: String,
    /// Choices.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Usage (absent on most stream chunks).
    #[serde(default)]
    pub usage: Option<ChatUsage>,
}

impl GenAiResponse for ChatCompletion {
    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(Usage::from)
    }
    fn response_model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn response_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn finish_reasons(&self) -> Vec<String> {
        self.choices
            .iter()
            .filter_map(|c| c.finish_reason.clone())
            .collect()
    }
    fn tool_calls(&self) -> Vec<ToolCall> {
        self.choices
            .iter()
            .filter_map(|c| c.message.as_ref())
            .flat_map(|m| &m.tool_calls)
            .map(|t| ToolCall {
                id: t.id.clone(),
                name: t.function.name.clone(),
                arguments: t.function.arguments.clone(),
            })
            .collect()
    }
}

/// A stream chunk reports the same fields as a full response (usage only on the last chunk).
impl GenAiChunk for ChatCompletion {
    fn usage(&self) -> Option<Usage> {
        GenAiResponse::usage(self)
    }
    fn response_model(&self) -> Option<&str> {
        GenAiResponse::response_model(self)
    }
    fn response_id(&self) -> Option<&str> {
        GenAiResponse::response_id(self)
    }
    fn finish_reason(&self) -> Option<&str> {
        self.choices.iter().find_map(|c| c.finish_reason.as_deref())
    }
}

/// Responses API `usage`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ResponsesUsage {
    /// Input tokens (including cached ones).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Details of the input tokens.
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
    /// Details of the output tokens.
    #[serde(default)]
    pub output_tokens_details: Option<OutputDetails>,
}

/// A Responses API response (`POST /v1/responses`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Response {
    /// `resp_…`.
    pub id: String,
    /// The model.
    pub model: String,
    /// `completed`, `incomplete`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<ResponsesUsage>,
    /// The output items (`message`, `function_call`, `reasoning`, …).
    #[serde(default)]
    pub output: Vec<serde_json::Value>,
}

impl GenAiResponse for Response {
    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(|u| Usage {
            input_tokens: Some(u.input_tokens),
            output_tokens: Some(u.output_tokens),
            cache_read_input_tokens: u
                .input_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: u
                .output_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens),
        })
    }
    fn response_model(&self) -> Option<&str> {
        Some(&self.model)
    }
    fn response_id(&self) -> Option<&str> {
        Some(&self.id)
    }
    fn finish_reasons(&self) -> Vec<String> {
        self.status.iter().cloned().collect()
    }
    fn tool_calls(&self) -> Vec<ToolCall> {
        let text = |item: &serde_json::Value, k: &str| {
            item.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        self.output
            .iter()
            .filter(|item| {
                item.get("type").and_then(serde_json::Value::as_str) == Some("function_call")
            })
            .filter_map(|item| {
                Some(ToolCall {
                    id: text(item, "call_id")?,
                    name: text(item, "name")?,
                    arguments: text(item, "arguments").unwrap_or_else(|| "{}".to_owned()),
                })
            })
            .collect()
    }
}

/// The chunks of a streaming Chat Completions reply, decoded as they arrive (feature `sse`):
/// each SSE event's `data` parsed as a [`ChatCompletion`] chunk, the closing `[DONE]` skipped; a
/// non-2xx status or an error object in the stream is a
/// [`StreamError::Provider`](crate::sse::StreamError::Provider). Ask for
/// `"stream_options": {"include_usage": true}` so the last chunk carries the usage.
#[cfg(feature = "sse")]
pub fn events(
    response: reqwest::Response,
) -> impl futures_core::Stream<Item = Result<ChatCompletion, crate::sse::StreamError>> + Send + 'static
{
    crate::sse::response_events(response, parse_chunk)
}

/// [`events`] of the response `send` resolves to — pass the request's `send()` future: it is
/// sent on the first poll, so inside
/// [`instrument_stream`](crate::GenAiInstrumentation::instrument_stream) the HTTP span is a
/// child of the `gen_ai.chat` span.
#[cfg(feature = "sse")]
pub fn send_events<F, E>(
    send: F,
) -> impl futures_core::Stream<Item = Result<ChatCompletion, crate::sse::StreamError>> + Send + 'static
where
    F: std::future::Future<Output = Result<reqwest::Response, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    crate::sse::send_events(send, parse_chunk)
}

#[cfg(feature = "sse")]
fn parse_chunk(
    _event: &str,
    data: &str,
) -> Option<Result<ChatCompletion, crate::sse::StreamError>> {
    if data.trim() == "[DONE]" {
        return None;
    }
    Some(serde_json::from_str(data).map_err(|json| {
        crate::sse::error_event(data).unwrap_or(crate::sse::StreamError::Json(json))
    }))
}

/// The [`GenAiCall`](crate::GenAiCall) of a Chat Completions or Responses request body
/// (`gen_ai.system=openai`): `model`, `max_tokens` / `max_completion_tokens`, `temperature`,
/// `top_p`, `stop` and `stream` read from it, so a call names its model once.
///
/// ```
/// let body = serde_json::json!({"model": "gpt-4o-mini", "max_completion_tokens": 64, "stop": "\n", "messages": []});
/// let call = vystak_otel_genai::openai::call_for(&body);
/// assert_eq!(call, vystak_otel_genai::GenAiCall::chat("openai", "gpt-4o-mini").with_max_tokens(64).with_stop_sequences(["\n"]));
/// ```
pub fn call_for(request: &serde_json::Value) -> crate::GenAiCall {
    let model = request
        .get("model")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let call = crate::GenAiCall::chat(crate::semconv::PROVIDER_OPENAI, model);
    crate::call::with_request_parameters(call, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_completion_with_cached_and_reasoning_tokens() {
        let body = r#"{"id":"chatcmpl-123","object":"chat.completion","created":1677652288,
          "model":"gpt-4o-mini-2024-07-18",
          "choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":"stop"}],
          "usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
                   "prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},
                   "completion_tokens_details":{"reasoning_tokens":64,"audio_tokens":0}}}"#;
        let c: ChatCompletion = serde_json::from_str(body).unwrap();
        assert_eq!(
            GenAiResponse::usage(&c).unwrap(),
            Usage {
                input_tokens: Some(2006),
                output_tokens: Some(300),
                cache_read_input_tokens: Some(1920),
                cache_creation_input_tokens: None,
                reasoning_output_tokens: Some(64),
            }
        );
        assert_eq!(c.finish_reasons(), ["stop"]);
    }

    #[test]
    fn stream_chunks_carry_usage_only_at_the_end() {
        let first = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
        let last = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#;
        let first: ChatCompletion = serde_json::from_str(first).unwrap();
        let last: ChatCompletion = serde_json::from_str(last).unwrap();
        assert_eq!(GenAiChunk::usage(&first), None);
        assert_eq!(GenAiChunk::usage(&last).unwrap().input_tokens, Some(9));
    }

    #[test]
    fn responses_api_usage() {
        let body = r#"{"id":"resp_67cc","object":"response","created_at":1741476542,"status":"completed",
          "model":"gpt-4.1-2025-04-14","output":[],
          "usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":128},
                   "output_tokens":52,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":380}}"#;
        let r: Response = serde_json::from_str(body).unwrap();
        let u = GenAiResponse::usage(&r).unwrap();
        assert_eq!(
            (u.input_tokens, u.cache_read_input_tokens, u.output_tokens),
            (Some(328), Some(128), Some(52))
        );
        assert_eq!(r.finish_reasons(), ["completed"]);
        assert!(r.tool_calls().is_empty());
    }

    #[test]
    fn tool_calls_from_chat_completions_and_responses() {
        let body = r#"{"id":"chatcmpl-9","object":"chat.completion","created":1,"model":"gpt-4.1",
          "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Lisbon\"}"}}]}}],
          "usage":{"prompt_tokens":50,"completion_tokens":12,"total_tokens":62}}"#;
        let c: ChatCompletion = serde_json::from_str(body).unwrap();
        assert_eq!(
            c.tool_calls(),
            [ToolCall {
                id: "call_abc".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Lisbon"}"#.into()
            }]
        );
        let body = r#"{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1",
          "output":[{"type":"reasoning","id":"rs_1","summary":[]},
                    {"type":"function_call","id":"fc_1","call_id":"call_xyz","name":"get_time","arguments":"{}"}]}"#;
        let r: Response = serde_json::from_str(body).unwrap();
        assert_eq!(
            r.tool_calls(),
            [ToolCall {
                id: "call_xyz".into(),
                name: "get_time".into(),
                arguments: "{}".into()
            }]
        );
    }
}
