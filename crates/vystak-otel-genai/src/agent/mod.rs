//! Agent and tool spans: `invoke_agent {gen_ai.agent.name}` around an agent's turn and
//! `execute_tool {gen_ai.tool.name}` around a tool call, with future, stream and `Service`
//! wrappers like the chat span's.
//!
//! Usage is **not** put on agent spans: it lives on the chat spans only, so a backend that sums
//! `gen_ai.usage.*` over every span of a trace gets each call once. An opt-in aggregate
//! ([`GenAiInstrumentation::with_agent_usage_aggregate`]) goes under `vystak.gen_ai.agent.*` keys,
//! which nothing sums as usage.
//!
//! The agent span is here; the tool span is in `tool`, the guard owning either span in `guard`,
//! the future and stream wrappers in `future` and `stream`, the tower layer in `layer`.

use std::borrow::Cow;
use std::future::Future;

use futures_core::Stream;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use crate::aggregate::AgentUsageSink;
use crate::attrs::{key, span_name};
use crate::instrumentation::GenAiInstrumentation;
use crate::semconv::*;

mod future;
mod guard;
mod layer;
mod stream;
mod tool;

pub use crate::usage::ToolCall;
pub use future::{
    AgentTurn, InstrumentedAgent, InstrumentedOperation, InstrumentedTool, RecordOutput, ToolRun,
};
use guard::Op;
pub use guard::OperationGuard;
pub use layer::{GenAiAgentLayer, GenAiAgentService};
pub use stream::InstrumentedOperationStream;
pub use tool::{ToolExecution, ToolOutput};

/// One agent turn: the `invoke_agent {gen_ai.agent.name}` span.
///
/// ```
/// use vystak_otel_genai::AgentInvocation;
/// let turn = AgentInvocation::new("weather-agent")
///     .with_id("asst_5j66UpCpwteGg4YSxUnt7lPY")
///     .with_conversation_id("conv_5j66UpCpwteGg4YSxUnt7lPY")
///     .with_provider("anthropic");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct AgentInvocation {
    name: String,
    remote: bool,
    id: Option<String>,
    description: Option<String>,
    conversation_id: Option<String>,
    provider: Option<Cow<'static, str>>,
    request_model: Option<String>,
    server: Option<(String, u16)>,
}

impl AgentInvocation {
    /// An agent running in this process: span kind INTERNAL.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            remote: false,
            id: None,
            description: None,
            conversation_id: None,
            provider: None,
            request_model: None,
            server: None,
        }
    }

    /// A call to a remote agent (over HTTP, NATS, a vendor's agent API): span kind CLIENT.
    pub fn remote(name: impl Into<String>) -> Self {
        Self {
            remote: true,
            ..Self::new(name)
        }
    }

    /// `gen_ai.agent.id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// `gen_ai.agent.description`.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// `gen_ai.conversation.id`: only an id the application already has (a chat thread, a Slack
    /// thread); never a made-up one.
    pub fn with_conversation_id(mut self, id: impl Into<String>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }

    /// The model provider the agent uses (`gen_ai.provider.name`; in the seed's mode also
    /// `gen_ai.system`).
    pub fn with_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// `gen_ai.request.model`, when the agent uses one model.
    pub fn with_request_model(mut self, model: impl Into<String>) -> Self {
        self.request_model = Some(model.into());
        self
    }

    /// `server.address` / `server.port` of a remote agent.
    pub fn with_server(mut self, address: impl Into<String>, port: u16) -> Self {
        self.server = Some((address.into(), port));
        self
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl GenAiInstrumentation {
    /// Starts an agent turn: an `invoke_agent {gen_ai.agent.name}` span (INTERNAL, or CLIENT for
    /// [`AgentInvocation::remote`]) as a child of the current context.
    pub fn start_agent(&self, agent: AgentInvocation) -> OperationGuard {
        if self.telemetry_off() {
            return OperationGuard::off(Op::Agent);
        }
        let name = if agent.name.is_empty() {
            Cow::Borrowed(OPERATION_INVOKE_AGENT)
        } else {
            Cow::Owned(span_name(OPERATION_INVOKE_AGENT, &agent.name))
        };
        let mut attrs = Vec::with_capacity(8);
        attrs.push(KeyValue::new(
            key(GEN_AI_OPERATION_NAME),
            OPERATION_INVOKE_AGENT,
        ));
        if !agent.name.is_empty() {
            attrs.push(KeyValue::new(key(GEN_AI_AGENT_NAME), agent.name));
        }
        if let Some(provider) = agent.provider {
            self.push_provider(&mut attrs, provider);
        }
        for (k, v) in [
            (GEN_AI_AGENT_ID, agent.id),
            (GEN_AI_AGENT_DESCRIPTION, agent.description),
            (GEN_AI_CONVERSATION_ID, agent.conversation_id),
            (GEN_AI_REQUEST_MODEL, agent.request_model),
        ] {
            if let Some(v) = v {
                attrs.push(KeyValue::new(key(k), v));
            }
        }
        if let Some((address, port)) = agent.server {
            attrs.push(KeyValue::new(key(SERVER_ADDRESS), address));
            attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
        }
        let kind = if agent.remote {
            SpanKind::Client
        } else {
            SpanKind::Internal
        };
        let parent = Context::current();
        let cx = self.start_span(name, kind, attrs, &parent);
        let parent_sink = parent.get::<AgentUsageSink>().cloned();
        let (cx, sink) = if self.agent_usage_aggregate() {
            let sink = AgentUsageSink::default();
            (cx.with_value(sink.clone()), Some(sink))
        } else {
            (cx, None)
        };
        OperationGuard {
            cx: Some(cx),
            op: Op::Agent,
            capture: None,
            sink,
            parent_sink,
        }
    }

    /// Runs an agent's turn (a future returning `Result`) inside its `invoke_agent` span; an
    /// `Err` is recorded with [`GenAiInstrumentation::classify_error`].
    pub fn instrument_agent<F, T, E>(
        &self,
        agent: AgentInvocation,
        future: F,
    ) -> InstrumentedAgent<F>
    where
        F: Future<Output = Result<T, E>>,
        E: 'static,
    {
        InstrumentedOperation::new(future, self.start_agent(agent), self.clone())
    }

    /// Runs a streaming agent turn (a stream of `Result` items) inside its `invoke_agent` span:
    /// the span ends with the stream (or when it is dropped); the first `Err` item marks it
    /// failed.
    pub fn instrument_agent_stream<S, T, E>(
        &self,
        agent: AgentInvocation,
        stream: S,
    ) -> InstrumentedOperationStream<S>
    where
        S: Stream<Item = Result<T, E>>,
        E: 'static,
    {
        InstrumentedOperationStream {
            inner: stream,
            guard: Some(self.start_agent(agent)).filter(|g| g.cx.is_some()),
            error: None,
            inst: self.clone(),
        }
    }
}
