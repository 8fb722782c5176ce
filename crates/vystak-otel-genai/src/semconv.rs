//! Every GenAI name this crate emits. The seed's names are the default; the released semantic
//! conventions (v1.41, `gen_ai_latest_experimental`) are behind [`SemconvMode::LatestExperimental`].

pub use vystak_otel_core::semconv::{
    ERROR_TYPE, GEN_AI_CLIENT_OPERATION_DURATION, GEN_AI_CLIENT_TOKEN_USAGE,
    GEN_AI_DURATION_BUCKETS as DURATION_BUCKETS, GEN_AI_TOKEN_BUCKETS as TOKEN_BUCKETS,
};

/// Which names to emit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SemconvMode {
    /// The seed's names: span `gen_ai.chat`, `gen_ai.system`,
    /// `gen_ai.usage.cache_read_input_tokens`, token types `input|output|cache_read|cache_creation`.
    /// Input tokens are the total input, cache reads and writes included (LangChain's
    /// `usage_metadata`, which the seed's runtime records), so `cache_read / input <= 1`. The
    /// default.
    #[default]
    Seed,
    /// Released GenAI semantic conventions (v1.41): span `chat {model}`, `gen_ai.provider.name`,
    /// `gen_ai.usage.cache_read.input_tokens`, Anthropic input tokens summed with cache tokens,
    /// token types `input|output` only.
    LatestExperimental,
}

impl SemconvMode {
    /// `LatestExperimental` when `OTEL_SEMCONV_STABILITY_OPT_IN` lists `gen_ai_latest_experimental`.
    pub fn from_env() -> Self {
        Self::from_opt_in(std::env::var(ENV_SEMCONV_STABILITY_OPT_IN).ok().as_deref())
    }

    /// Parses an `OTEL_SEMCONV_STABILITY_OPT_IN` value.
    pub fn from_opt_in(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.split(',').any(|p| p.trim() == GEN_AI_LATEST_EXPERIMENTAL) => {
                Self::LatestExperimental
            }
            _ => Self::Seed,
        }
    }
}

/// `OTEL_SEMCONV_STABILITY_OPT_IN`.
pub const ENV_SEMCONV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// The opt-in value that selects [`SemconvMode::LatestExperimental`].
pub const GEN_AI_LATEST_EXPERIMENTAL: &str = "gen_ai_latest_experimental";
/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
pub const ENV_CAPTURE_MESSAGE_CONTENT: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// Span name of a model call in the seed's form.
pub const SPAN_GEN_AI_CHAT: &str = "gen_ai.chat";
/// `gen_ai.operation.name`.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// The `chat` operation.
pub const OPERATION_CHAT: &str = "chat";
/// `gen_ai.system` (seed; deprecated in semconv v1.37 for `gen_ai.provider.name`).
pub const GEN_AI_SYSTEM: &str = "gen_ai.system";
/// `gen_ai.provider.name` (latest).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.request.model`.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.response.model`.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.response.id`.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// `gen_ai.response.finish_reasons`.
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// `gen_ai.response.time_to_first_chunk` (s).
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// `gen_ai.request.stream`.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// `gen_ai.request.temperature`.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// `gen_ai.request.max_tokens`.
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// `gen_ai.request.top_p`.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// `gen_ai.request.top_k`.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// `gen_ai.request.stop_sequences`.
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// `gen_ai.usage.input_tokens`.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.usage.cache_read_input_tokens` (seed).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read_input_tokens";
/// `gen_ai.usage.cache_creation_input_tokens` (seed).
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation_input_tokens";
/// `gen_ai.usage.cache_read.input_tokens` (latest).
pub const GEN_AI_USAGE_CACHE_READ_DOT_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// `gen_ai.usage.cache_creation.input_tokens` (latest).
pub const GEN_AI_USAGE_CACHE_CREATION_DOT_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// `gen_ai.usage.reasoning.output_tokens` (latest).
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// `gen_ai.input.messages` (opt-in content).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// `gen_ai.output.messages` (opt-in content).
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
/// `error.type` fallback when a failure has no better low-cardinality class.
pub const ERROR_TYPE_OTHER: &str = "_OTHER";
/// `error.type` of a call that timed out.
pub const ERROR_TYPE_TIMEOUT: &str = "timeout";

/// The `invoke_agent` operation (span `invoke_agent {gen_ai.agent.name}`).
pub const OPERATION_INVOKE_AGENT: &str = "invoke_agent";
/// The `execute_tool` operation (span `execute_tool {gen_ai.tool.name}`).
pub const OPERATION_EXECUTE_TOOL: &str = "execute_tool";
/// `gen_ai.agent.name`.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// `gen_ai.agent.id`.
pub const GEN_AI_AGENT_ID: &str = "gen_ai.agent.id";
/// `gen_ai.agent.description`.
pub const GEN_AI_AGENT_DESCRIPTION: &str = "gen_ai.agent.description";
/// `gen_ai.conversation.id` (only when the application has one; never synthesised).
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// `gen_ai.tool.name`.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.tool.type` (`function`, `extension`, `datastore`).
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// `gen_ai.tool.description`.
pub const GEN_AI_TOOL_DESCRIPTION: &str = "gen_ai.tool.description";
/// `gen_ai.tool.call.id`.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `gen_ai.tool.call.arguments` (opt-in content).
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `gen_ai.tool.call.result` (opt-in content).
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// Tool type `function`.
pub const TOOL_TYPE_FUNCTION: &str = "function";
/// `gen_ai.usage.cost`: the call's cost in USD from the configured price table (no released
/// semantic convention yet; the name OpenLIT and the viewer read, on chat spans only).
pub const GEN_AI_USAGE_COST: &str = "gen_ai.usage.cost";
/// Histogram `vystak.gen_ai.client.cost` (`{USD}`): the cost of each priced call. Vendor-prefixed
/// on purpose: semantic-conventions-genai#443 proposes `gen_ai.usage.cost.*` names that may
/// still change, and a future standard metric must not collide with ours.
pub const VYSTAK_GEN_AI_CLIENT_COST: &str = "vystak.gen_ai.client.cost";
/// Unit of the cost histogram (an annotation: Prometheus names drop it, giving
/// `vystak_gen_ai_client_cost_sum`).
pub const UNIT_USD: &str = "{USD}";
/// Cost buckets in USD per call.
pub const COST_BUCKETS: [f64; 12] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 50.0,
];
/// Opt-in aggregate on `invoke_agent` spans: the input tokens of the chat calls made inside the
/// agent's turn (in this process). Never `gen_ai.usage.*`, so a backend that sums usage over all
/// spans does not count a call twice.
pub const VYSTAK_AGENT_USAGE_INPUT_TOKENS: &str = "vystak.gen_ai.agent.usage.input_tokens";
/// Opt-in aggregate: output tokens of the turn's chat calls.
pub const VYSTAK_AGENT_USAGE_OUTPUT_TOKENS: &str = "vystak.gen_ai.agent.usage.output_tokens";
/// Opt-in aggregate: cache-read input tokens of the turn's chat calls.
pub const VYSTAK_AGENT_USAGE_CACHE_READ_INPUT_TOKENS: &str =
    "vystak.gen_ai.agent.usage.cache_read.input_tokens";
/// Opt-in aggregate: cache-creation input tokens of the turn's chat calls.
pub const VYSTAK_AGENT_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "vystak.gen_ai.agent.usage.cache_creation.input_tokens";
/// Opt-in aggregate: cost in USD of the turn's priced chat calls.
pub const VYSTAK_AGENT_USAGE_COST: &str = "vystak.gen_ai.agent.usage.cost";
/// Opt-in aggregate: number of chat calls in the turn.
pub const VYSTAK_AGENT_CHAT_CALLS: &str = "vystak.gen_ai.agent.chat_calls";

/// Histogram `gen_ai.client.operation.time_to_first_chunk` (s).
pub const GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: &str =
    "gen_ai.client.operation.time_to_first_chunk";
/// `gen_ai.token.type`.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// Token type `input`.
pub const TOKEN_TYPE_INPUT: &str = "input";
/// Token type `output`.
pub const TOKEN_TYPE_OUTPUT: &str = "output";
/// Token type `cache_read` (seed).
pub const TOKEN_TYPE_CACHE_READ: &str = "cache_read";
/// Token type `cache_creation` (seed).
pub const TOKEN_TYPE_CACHE_CREATION: &str = "cache_creation";
/// Unit of the token histogram.
pub const UNIT_TOKEN: &str = "{token}";
/// Unit of the duration histograms.
pub const UNIT_SECONDS: &str = "s";
/// Finish reason recorded for a stream that ended before its finish reason arrived.
pub const FINISH_REASON_ERROR: &str = "error";
/// Provider `anthropic` (the default `gen_ai.system` for Vystak's Anthropic-compatible endpoints).
pub const PROVIDER_ANTHROPIC: &str = "anthropic";
/// Provider `openai`.
pub const PROVIDER_OPENAI: &str = "openai";

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the GenAI semantic conventions define, against the
    /// `opentelemetry-semantic-conventions` crate (an independent source; several are deprecated
    /// there, having moved to the GenAI conventions repository, with the same strings). The
    /// seed's own names (`gen_ai.chat`, `gen_ai.usage.cache_read_input_tokens`, the cost) have no
    /// second source to check.
    #[test]
    #[allow(deprecated)]
    fn names_match_the_semantic_conventions_crate() {
        use opentelemetry_semantic_conventions::{attribute as a, metric as m};
        for (ours, spec) in [
            (GEN_AI_OPERATION_NAME, a::GEN_AI_OPERATION_NAME),
            (GEN_AI_SYSTEM, a::GEN_AI_SYSTEM),
            (GEN_AI_PROVIDER_NAME, a::GEN_AI_PROVIDER_NAME),
            (GEN_AI_REQUEST_MODEL, a::GEN_AI_REQUEST_MODEL),
            (GEN_AI_RESPONSE_MODEL, a::GEN_AI_RESPONSE_MODEL),
            (GEN_AI_RESPONSE_ID, a::GEN_AI_RESPONSE_ID),
            (
                GEN_AI_RESPONSE_FINISH_REASONS,
                a::GEN_AI_RESPONSE_FINISH_REASONS,
            ),
            (
                GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
                a::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            ),
            (GEN_AI_USAGE_INPUT_TOKENS, a::GEN_AI_USAGE_INPUT_TOKENS),
            (GEN_AI_USAGE_OUTPUT_TOKENS, a::GEN_AI_USAGE_OUTPUT_TOKENS),
            (
                GEN_AI_USAGE_CACHE_READ_DOT_INPUT_TOKENS,
                a::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            ),
            (
                GEN_AI_USAGE_CACHE_CREATION_DOT_INPUT_TOKENS,
                a::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            ),
            (GEN_AI_TOKEN_TYPE, a::GEN_AI_TOKEN_TYPE),
            (GEN_AI_AGENT_NAME, a::GEN_AI_AGENT_NAME),
            (GEN_AI_AGENT_ID, a::GEN_AI_AGENT_ID),
            (GEN_AI_AGENT_DESCRIPTION, a::GEN_AI_AGENT_DESCRIPTION),
            (GEN_AI_CONVERSATION_ID, a::GEN_AI_CONVERSATION_ID),
            (GEN_AI_TOOL_NAME, a::GEN_AI_TOOL_NAME),
            (GEN_AI_TOOL_TYPE, a::GEN_AI_TOOL_TYPE),
            (GEN_AI_TOOL_DESCRIPTION, a::GEN_AI_TOOL_DESCRIPTION),
            (GEN_AI_TOOL_CALL_ID, a::GEN_AI_TOOL_CALL_ID),
            (GEN_AI_TOOL_CALL_ARGUMENTS, a::GEN_AI_TOOL_CALL_ARGUMENTS),
            (GEN_AI_TOOL_CALL_RESULT, a::GEN_AI_TOOL_CALL_RESULT),
            (GEN_AI_CLIENT_TOKEN_USAGE, m::GEN_AI_CLIENT_TOKEN_USAGE),
            (
                GEN_AI_CLIENT_OPERATION_DURATION,
                m::GEN_AI_CLIENT_OPERATION_DURATION,
            ),
            (
                GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
                m::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            ),
        ] {
            assert_eq!(ours, spec);
        }
    }

    #[test]
    fn opt_in_parsing() {
        assert_eq!(SemconvMode::from_opt_in(None), SemconvMode::Seed);
        assert_eq!(SemconvMode::from_opt_in(Some("http")), SemconvMode::Seed);
        assert_eq!(
            SemconvMode::from_opt_in(Some("http, gen_ai_latest_experimental")),
            SemconvMode::LatestExperimental
        );
    }
}
