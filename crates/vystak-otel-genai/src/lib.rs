//! # vystak-otel-genai
//!
//! A `gen_ai.chat` CLIENT span and the token and duration histograms for every model call, with
//! any Rust model client — the seed's "GenAI calls" and "Token-usage metrics". Three ways in,
//! one recorder underneath:
//!
//! 1. [`GenAiLayer`]: a tower layer for a model client that is a `Service<Req>`, where the request
//!    implements [`GenAiRequest`] and the response [`GenAiResponse`];
//! 2. [`instrument`] / [`GenAiInstrumentation::instrument`]: any future returning
//!    `Result<T, E>` where `T: GenAiResponse`;
//! 3. [`GenAiInstrumentation::instrument_stream`]: streaming replies; the span and duration end at
//!    the last chunk, the time to first chunk is recorded, usage comes from the chunks, and a
//!    stream dropped early still records the usage it saw.
//!
//! Agent turns and tool calls: [`GenAiInstrumentation::instrument_agent`] (`invoke_agent
//! {gen_ai.agent.name}`, also as a stream and as [`GenAiAgentLayer`]) and
//! [`GenAiInstrumentation::instrument_tool`] (`execute_tool {gen_ai.tool.name}`), with
//! [`GenAiResponse::tool_calls`] from the adapters. Usage is recorded on chat spans only, never
//! on agent spans, so summing usage over a trace counts each call once.
//!
//! The span is a child of the current context at call time but **owned by the wrapper**: it ends
//! when the model call ends, even if the parent (say, an agent's server span whose a2a handler
//! spawned the call in a background task) ended first.
//!
//! ## Default
//!
//! ```no_run
//! use vystak_otel_genai::{anthropic::MessagesResponse, instrument, GenAiCall};
//!
//! # async fn run(http: reqwest::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let call = GenAiCall::anthropic("claude-haiku-4-5-20251001").with_max_tokens(512);
//! let reply: MessagesResponse = instrument(call, async {
//!     http.post("http://127.0.0.1:8080/v1/messages")
//!         .json(&serde_json::json!({"model": "claude-haiku-4-5-20251001", "max_tokens": 512,
//!                                   "messages": [{"role": "user", "content": "Hi"}]}))
//!         .send().await?.json::<MessagesResponse>().await
//! }).await?;
//! # Ok(()) }
//! ```
//!
//! ## Customised
//!
//! ```
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use vystak_otel_genai::{GenAiInstrumentation, GenAiLayer, SemconvMode};
//!
//! let (tp, mp) = (SdkTracerProvider::builder().build(), SdkMeterProvider::builder().build());
//! let genai = GenAiInstrumentation::new()
//!     .with_tracer_provider(&tp)
//!     .with_meter_provider(&mp)
//!     .with_semconv_mode(SemconvMode::LatestExperimental) // or OTEL_SEMCONV_STABILITY_OPT_IN
//!     .with_content_capture(false);                      // the default
//! let layer = GenAiLayer::with_instrumentation(genai);
//! ```
//!
//! ## What is recorded (seed names, the default)
//!
//! - Span `gen_ai.chat`, kind CLIENT: `gen_ai.operation.name=chat`, `gen_ai.system`,
//!   `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.response.id`,
//!   `gen_ai.response.finish_reasons`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
//!   `gen_ai.usage.cache_read_input_tokens`, `gen_ai.usage.cache_creation_input_tokens`,
//!   request parameters, `server.address`/`server.port`, `error.type` + ERROR on failure; beside
//!   them, with the same values, `gen_ai.provider.name` and the dotted
//!   `gen_ai.usage.cache_read.input_tokens` / `…cache_creation.input_tokens` (what Phoenix and
//!   Langfuse read); `gen_ai.usage.cost` (USD) when a [`PriceTable`] prices the model.
//! - Failures ([`GenAiErrorClass`]): `error.type` is the provider's error type from the body
//!   ([`ProviderError`], e.g. `overloaded_error`), else its HTTP status (`529`, from
//!   `reqwest::Error` too), else `timeout`, else `_OTHER` — never a Rust type name; the status
//!   description is the error's message with URL credentials and signed-URL query values
//!   redacted. Your own error types: [`GenAiInstrumentation::with_error_classifier`].
//! - Input tokens are the **total** input in both modes: Anthropic's raw `input_tokens` plus its
//!   cache reads and writes, as LangChain's `usage_metadata` (the seed's source) and semconv
//!   v1.41 count them, so `cache_read / input <= 1`.
//! - `gen_ai.client.token.usage` (`{token}`, buckets 1…67108864): one point per reported direction,
//!   `gen_ai.token.type` = `input` | `output` | `cache_read` | `cache_creation`;
//!   `gen_ai.client.operation.duration` (s, buckets 0.01…81.92), also on failure with `error.type`;
//!   `gen_ai.client.operation.time_to_first_chunk` for streams. Attributes: `gen_ai.system`,
//!   `gen_ai.request.model` (the response's model when known, as the seed does),
//!   `gen_ai.operation.name`. The buckets are set on the instruments, so they hold with any SDK
//!   setup. `vystak.gen_ai.client.cost` (`{USD}`) for priced calls.
//! - [`SemconvMode::LatestExperimental`]: span `chat {model}`, `gen_ai.provider.name`,
//!   `gen_ai.usage.cache_read.input_tokens` / `…cache_creation.input_tokens`, token types
//!   `input`/`output` only.
//! - Content (`gen_ai.input.messages`, `gen_ai.output.messages`) only when enabled
//!   (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true|SPAN_ONLY|SPAN_AND_EVENT`), capped.
//!
//! ## Features
//! - `anthropic` (default): [`anthropic`] Messages response and stream-event types.
//! - `openai` (default): [`openai`] Chat Completions / Responses types.
//! - `reqwest` (default): `error.type` from `reqwest::Error` (HTTP status, `timeout`).
//! - `reqwest-middleware` (default): the same through `reqwest_middleware::Error`.
//!
//! The global providers ([`instrument`], [`GenAiInstrumentation::new`], [`GenAiLayer::new`]) are
//! looked up at each call, so instrumentation built or used before telemetry is installed
//! records as soon as it is.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod agent;
mod aggregate;
#[cfg(feature = "anthropic")]
pub mod anthropic;
mod attrs;
mod call;
mod cost;
mod error;
mod future;
mod instrumentation;
mod layer;
#[cfg(feature = "openai")]
pub mod openai;
pub mod semconv;
#[cfg(feature = "sse")]
pub mod sse;
mod stream;
mod usage;

pub use agent::{
    AgentInvocation, AgentTurn, GenAiAgentLayer, GenAiAgentService, InstrumentedAgent,
    InstrumentedOperation, InstrumentedOperationStream, InstrumentedTool, OperationGuard,
    RecordOutput, ToolCall, ToolExecution, ToolOutput, ToolRun,
};
pub use call::GenAiCall;
pub use cost::{
    ModelPrice, PriceTable, ANTHROPIC_CACHE_READ_MULTIPLIER, ANTHROPIC_CACHE_WRITE_MULTIPLIER,
};
pub use error::{
    redact_message, GenAiErrorClass, ProviderError, MAX_ERROR_DESCRIPTION, SENSITIVE_QUERY_KEYS,
};
pub use future::{instrument, Instrumented};
pub use instrumentation::{
    capture_content_from_env, CallGuard, CallResult, GenAiInstrumentation, DEFAULT_CONTENT_CAP,
};
pub use layer::{GenAiLayer, GenAiService};
pub use semconv::SemconvMode;
pub use stream::InstrumentedStream;
pub use usage::{GenAiChunk, GenAiRequest, GenAiResponse, Usage};

/// The crate README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
