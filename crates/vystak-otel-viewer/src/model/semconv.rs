//! The attribute keys and span names the viewer reads, declared once: the seed's names and the
//! `gen_ai_latest_experimental` names of the GenAI semantic conventions.

/// The seed's chat span name.
pub(crate) const GEN_AI_CHAT_SPAN: &str = "gen_ai.chat";
/// Prefix of the latest conventions' chat span name, `chat {gen_ai.request.model}`.
pub(crate) const CHAT_SPAN_PREFIX: &str = "chat ";
/// `gen_ai.operation.name`.
pub(crate) const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.system` (the seed's provider key).
pub(crate) const GEN_AI_SYSTEM: &str = "gen_ai.system";
/// `gen_ai.provider.name` (the latest conventions' provider key).
pub(crate) const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.request.model`.
pub(crate) const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.response.model`.
pub(crate) const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.response.finish_reasons`.
pub(crate) const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// `gen_ai.response.time_to_first_chunk` (seconds).
pub(crate) const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// `gen_ai.usage.input_tokens`.
pub(crate) const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub(crate) const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// The seed's cache-read key.
pub(crate) const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_read_input_tokens";
/// The latest conventions' cache-read key.
pub(crate) const GEN_AI_USAGE_CACHE_READ_DOTTED: &str = "gen_ai.usage.cache_read.input_tokens";
/// The seed's cache-creation key.
pub(crate) const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation_input_tokens";
/// The latest conventions' cache-creation key.
pub(crate) const GEN_AI_USAGE_CACHE_CREATION_DOTTED: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// `gen_ai.usage.cost` (USD), as `vystak-otel-genai` records it when a price table is set.
pub(crate) const GEN_AI_USAGE_COST: &str = "gen_ai.usage.cost";
/// `error.type`.
pub(crate) const ERROR_TYPE: &str = "error.type";
/// `gen_ai.operation.name` of an agent turn (span `invoke_agent {gen_ai.agent.name}`).
pub(crate) const OPERATION_INVOKE_AGENT: &str = "invoke_agent";
/// `gen_ai.operation.name` of a tool call (span `execute_tool {gen_ai.tool.name}`).
pub(crate) const OPERATION_EXECUTE_TOOL: &str = "execute_tool";
/// `gen_ai.tool.call.id`.
pub(crate) const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `gen_ai.response.id`.
pub(crate) const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
