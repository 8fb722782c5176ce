//! `GenAiCall`: what a model call is (operation, provider, model, parameters).

use std::borrow::Cow;

/// Describes one model call before it is made.
///
/// ```
/// use vystak_otel_genai::GenAiCall;
/// let call = GenAiCall::chat("anthropic", "claude-haiku-4-5-20251001")
///     .with_max_tokens(1024)
///     .with_temperature(0.2)
///     .with_server("api.anthropic.com", 443);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct GenAiCall {
    pub(crate) operation: Cow<'static, str>,
    pub(crate) provider: Cow<'static, str>,
    pub(crate) request_model: String,
    pub(crate) temperature: Option<f64>,
    pub(crate) top_p: Option<f64>,
    pub(crate) top_k: Option<f64>,
    pub(crate) max_tokens: Option<i64>,
    pub(crate) stop_sequences: Vec<String>,
    pub(crate) server_address: Option<String>,
    pub(crate) server_port: Option<u16>,
    pub(crate) stream: bool,
    pub(crate) input_messages: Option<String>,
}

impl GenAiCall {
    /// A `chat` call to `provider` (`gen_ai.system`, e.g. `anthropic`, `openai`) for `model`.
    pub fn chat(provider: impl Into<Cow<'static, str>>, model: impl Into<String>) -> Self {
        Self {
            operation: Cow::Borrowed(crate::semconv::OPERATION_CHAT),
            provider: provider.into(),
            request_model: model.into(),
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            stop_sequences: Vec::new(),
            server_address: None,
            server_port: None,
            stream: false,
            input_messages: None,
        }
    }

    /// A `chat` call to an Anthropic-compatible endpoint (`gen_ai.system=anthropic`, the seed's
    /// default for Vystak's endpoints).
    pub fn anthropic(model: impl Into<String>) -> Self {
        Self::chat(crate::semconv::PROVIDER_ANTHROPIC, model)
    }

    /// `gen_ai.request.temperature`.
    pub fn with_temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// `gen_ai.request.top_p`.
    pub fn with_top_p(mut self, p: f64) -> Self {
        self.top_p = Some(p);
        self
    }

    /// `gen_ai.request.top_k`.
    pub fn with_top_k(mut self, k: f64) -> Self {
        self.top_k = Some(k);
        self
    }

    /// `gen_ai.request.max_tokens`.
    pub fn with_max_tokens(mut self, n: i64) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// `gen_ai.request.stop_sequences`.
    pub fn with_stop_sequences(
        mut self,
        stops: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.stop_sequences = stops.into_iter().map(Into::into).collect();
        self
    }

    /// `server.address` / `server.port` of the model endpoint.
    pub fn with_server(mut self, address: impl Into<String>, port: u16) -> Self {
        self.server_address = Some(address.into());
        self.server_port = Some(port);
        self
    }

    /// Marks the call as streaming (`gen_ai.request.stream=true`); the stream wrapper sets it.
    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    /// The input messages as JSON, recorded as `gen_ai.input.messages` only when content capture
    /// is enabled.
    pub fn with_input_messages(mut self, json: impl Into<String>) -> Self {
        self.input_messages = Some(json.into());
        self
    }

    /// The requested model.
    pub fn request_model(&self) -> &str {
        &self.request_model
    }

    /// The provider (`gen_ai.system` / `gen_ai.provider.name`).
    pub fn provider(&self) -> &str {
        &self.provider
    }
}

/// `call` with the request parameters of a provider's JSON request body: `temperature`,
/// `top_p`, `top_k`, `max_tokens` (or OpenAI's `max_completion_tokens` / `max_output_tokens`),
/// `stop_sequences` (or OpenAI's `stop`, a string or a list) and `stream`.
#[cfg(any(feature = "anthropic", feature = "openai"))]
pub(crate) fn with_request_parameters(
    mut call: GenAiCall,
    request: &serde_json::Value,
) -> GenAiCall {
    use serde_json::Value;
    let number = |key: &str| request.get(key).and_then(Value::as_f64);
    call.temperature = number("temperature");
    call.top_p = number("top_p");
    call.top_k = number("top_k");
    call.max_tokens = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|key| request.get(*key).and_then(Value::as_i64));
    call.stop_sequences = match request
        .get("stop_sequences")
        .or_else(|| request.get("stop"))
    {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    call.stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    call
}
