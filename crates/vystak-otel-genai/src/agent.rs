//! Agent and tool spans: `invoke_agent {gen_ai.agent.name}` around an agent's turn and
//! `execute_tool {gen_ai.tool.name}` around a tool call, with future, stream and `Service`
//! wrappers like the chat span's.
//!
//! Usage is **not** put on agent spans: it lives on the chat spans only, so a backend that sums
//! `gen_ai.usage.*` over every span of a trace gets each call once. An opt-in aggregate
//! ([`GenAiInstrumentation::with_agent_usage_aggregate`]) goes under `vystak.gen_ai.agent.*` keys,
//! which nothing sums as usage.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context as TaskContext, Poll};

use futures_core::Stream;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::GenAiErrorClass;
use crate::instrumentation::{cap, key, span_name, GenAiInstrumentation};
use crate::semconv::*;
use crate::usage::Usage;

/// A tool call a model response asked for (Anthropic `tool_use` blocks, OpenAI `tool_calls` /
/// `function_call` items).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's call id (`toolu_…`, `call_…`): answer with it, record it as
    /// `gen_ai.tool.call.id`.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as a JSON string.
    pub arguments: String,
}

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

/// One tool execution: the `execute_tool {gen_ai.tool.name}` span (INTERNAL).
///
/// ```
/// use vystak_otel_genai::{ToolCall, ToolExecution};
/// let asked = ToolCall { id: "toolu_01".into(), name: "get_weather".into(),
///                        arguments: r#"{"city":"Lisbon"}"#.into() };
/// let tool = ToolExecution::from_call(&asked).with_description("Current weather for a city");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct ToolExecution {
    name: String,
    tool_type: Cow<'static, str>,
    call_id: Option<String>,
    description: Option<String>,
    arguments: Option<String>,
}

impl ToolExecution {
    /// A `function` tool named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tool_type: Cow::Borrowed(TOOL_TYPE_FUNCTION),
            call_id: None,
            description: None,
            arguments: None,
        }
    }

    /// The execution of a tool call a model asked for: name, call id and arguments from it.
    pub fn from_call(call: &ToolCall) -> Self {
        Self::new(call.name.clone())
            .with_call_id(call.id.clone())
            .with_arguments(call.arguments.clone())
    }

    /// `gen_ai.tool.type`: `function` (the default), `extension` or `datastore`.
    pub fn with_type(mut self, tool_type: impl Into<Cow<'static, str>>) -> Self {
        self.tool_type = tool_type.into();
        self
    }

    /// `gen_ai.tool.call.id`.
    pub fn with_call_id(mut self, id: impl Into<String>) -> Self {
        self.call_id = Some(id.into());
        self
    }

    /// `gen_ai.tool.description`.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The arguments (JSON), recorded as `gen_ai.tool.call.arguments` only with content capture.
    pub fn with_arguments(mut self, json: impl Into<String>) -> Self {
        self.arguments = Some(json.into());
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What a tool returned, for `gen_ai.tool.call.result` (recorded only with content capture).
pub trait ToolOutput {
    /// The result as the model will see it; `None` records nothing.
    fn tool_result(&self) -> Option<String>;
}

impl ToolOutput for String {
    fn tool_result(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl ToolOutput for &str {
    fn tool_result(&self) -> Option<String> {
        Some((*self).to_owned())
    }
}

impl ToolOutput for () {
    fn tool_result(&self) -> Option<String> {
        None
    }
}

#[cfg(any(feature = "anthropic", feature = "openai"))]
impl ToolOutput for serde_json::Value {
    fn tool_result(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// Sums of the chat calls made inside an agent's turn (opt-in aggregate).
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
    cost: f64,
    priced: bool,
    calls: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_creation += other.cache_creation;
        self.cost += other.cost;
        self.priced |= other.priced;
        self.calls += other.calls;
    }
}

/// The aggregate sink of the current agent turn, carried in the `Context`.
#[derive(Clone, Debug, Default)]
pub(crate) struct AgentUsageSink(Arc<Mutex<Totals>>);

impl AgentUsageSink {
    /// Adds one chat call (usage as recorded: total input).
    pub(crate) fn add_call(&self, usage: &Usage, cost: Option<f64>) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.add(&Totals {
            input: usage.input_tokens.unwrap_or(0),
            output: usage.output_tokens.unwrap_or(0),
            cache_read: usage.cache_read_input_tokens.unwrap_or(0),
            cache_creation: usage.cache_creation_input_tokens.unwrap_or(0),
            cost: cost.unwrap_or(0.0),
            priced: cost.is_some(),
            calls: 1,
        });
    }

    fn totals(&self) -> Totals {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Agent,
    Tool,
}

/// Owns one agent or tool span; it ends when the guard finishes or is dropped (a dropped guard
/// ends the span without an error: the turn was abandoned, not failed).
#[must_use = "the guard ends the span when it finishes or is dropped"]
pub struct OperationGuard {
    cx: Option<Context>,
    op: Op,
    capture: Option<usize>,
    sink: Option<AgentUsageSink>,
    parent_sink: Option<AgentUsageSink>,
}

impl fmt::Debug for OperationGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationGuard")
            .field("op", &self.op)
            .field("finished", &self.cx.is_none())
            .finish()
    }
}

impl OperationGuard {
    /// A guard that records nothing (telemetry off).
    fn off(op: Op) -> Self {
        Self {
            cx: None,
            op,
            capture: None,
            sink: None,
            parent_sink: None,
        }
    }

    /// The context holding the span: make it current around the work (the wrappers do), so the
    /// chat, tool and HTTP spans inside are its children.
    pub fn context(&self) -> Context {
        self.cx.clone().unwrap_or_else(Context::current)
    }

    /// Finishes successfully.
    pub fn finish(mut self) {
        self.end(None, None);
    }

    /// Finishes a tool execution with its result (`gen_ai.tool.call.result` with content
    /// capture on; ignored otherwise and on agent spans).
    pub fn finish_with_result(mut self, result: &str) {
        self.end(None, Some(result));
    }

    /// Finishes with an error: `error.type` and an ERROR status with the class's description.
    pub fn finish_error(mut self, error: impl Into<GenAiErrorClass>) {
        self.end(Some(error.into()), None);
    }

    fn end(&mut self, error: Option<GenAiErrorClass>, result: Option<&str>) {
        let Some(cx) = self.cx.take() else { return };
        let span = cx.span();
        let mut attrs = Vec::new();
        if let (Op::Tool, Some(cap_bytes), Some(result)) = (self.op, self.capture, result) {
            attrs.push(KeyValue::new(
                key(GEN_AI_TOOL_CALL_RESULT),
                cap(result, cap_bytes),
            ));
        }
        if let Some(sink) = &self.sink {
            let t = sink.totals();
            for (k, v) in [
                (VYSTAK_AGENT_USAGE_INPUT_TOKENS, t.input),
                (VYSTAK_AGENT_USAGE_OUTPUT_TOKENS, t.output),
                (VYSTAK_AGENT_USAGE_CACHE_READ_INPUT_TOKENS, t.cache_read),
                (
                    VYSTAK_AGENT_USAGE_CACHE_CREATION_INPUT_TOKENS,
                    t.cache_creation,
                ),
                (VYSTAK_AGENT_CHAT_CALLS, t.calls),
            ] {
                attrs.push(KeyValue::new(key(k), v as i64));
            }
            if t.priced {
                attrs.push(KeyValue::new(key(VYSTAK_AGENT_USAGE_COST), t.cost));
            }
            // A nested agent's calls count in the enclosing agent's turn too.
            if let Some(parent) = &self.parent_sink {
                parent
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .add(&t);
            }
        }
        if let Some(class) = &error {
            attrs.push(KeyValue::new(
                key(ERROR_TYPE),
                class.error_type().to_owned(),
            ));
        }
        if !attrs.is_empty() {
            span.set_attributes(attrs);
        }
        if let Some(class) = error {
            span.set_status(Status::error(class.description().to_owned()));
        }
        span.end();
    }
}

impl Drop for OperationGuard {
    fn drop(&mut self) {
        self.end(None, None);
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

    /// Starts a tool execution: an `execute_tool {gen_ai.tool.name}` INTERNAL span as a child of
    /// the current context. Arguments (and, at finish, the result) are recorded only with content
    /// capture on.
    pub fn start_tool(&self, tool: ToolExecution) -> OperationGuard {
        if self.telemetry_off() {
            return OperationGuard::off(Op::Tool);
        }
        let name = span_name(OPERATION_EXECUTE_TOOL, &tool.name);
        let mut attrs = Vec::with_capacity(6);
        attrs.push(KeyValue::new(
            key(GEN_AI_OPERATION_NAME),
            OPERATION_EXECUTE_TOOL,
        ));
        attrs.push(KeyValue::new(key(GEN_AI_TOOL_NAME), tool.name));
        attrs.push(KeyValue::new(key(GEN_AI_TOOL_TYPE), tool.tool_type));
        if let Some(id) = tool.call_id {
            attrs.push(KeyValue::new(key(GEN_AI_TOOL_CALL_ID), id));
        }
        if let Some(d) = tool.description {
            attrs.push(KeyValue::new(key(GEN_AI_TOOL_DESCRIPTION), d));
        }
        let capture = self.content_capture_cap();
        if let (Some(cap_bytes), Some(arguments)) = (capture, &tool.arguments) {
            attrs.push(KeyValue::new(
                key(GEN_AI_TOOL_CALL_ARGUMENTS),
                cap(arguments, cap_bytes),
            ));
        }
        let parent = Context::current();
        let cx = self.start_span(Cow::Owned(name), SpanKind::Internal, attrs, &parent);
        OperationGuard {
            cx: Some(cx),
            op: Op::Tool,
            capture,
            sink: None,
            parent_sink: None,
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

    /// Runs a tool (a future returning `Result`) inside its `execute_tool` span; with content
    /// capture on, an `Ok` value's [`ToolOutput`] is recorded as `gen_ai.tool.call.result`.
    pub fn instrument_tool<F, T, E>(&self, tool: ToolExecution, future: F) -> InstrumentedTool<F>
    where
        F: Future<Output = Result<T, E>>,
        T: ToolOutput,
        E: 'static,
    {
        InstrumentedOperation::new(future, self.start_tool(tool), self.clone())
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

pin_project! {
    /// A future inside its agent or tool span: the span is current on every poll and ends when
    /// the future completes (or when it is dropped).
    pub struct InstrumentedOperation<F, R> {
        #[pin]
        inner: F,
        guard: Option<OperationGuard>,
        inst: GenAiInstrumentation,
        record: PhantomData<R>,
    }
}

impl<F, R> fmt::Debug for InstrumentedOperation<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedOperation")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<F, R> InstrumentedOperation<F, R> {
    fn new(inner: F, guard: OperationGuard, inst: GenAiInstrumentation) -> Self {
        Self {
            inner,
            // Telemetry off: nothing to attach or record on any poll.
            guard: guard.cx.is_some().then_some(guard),
            inst,
            record: PhantomData,
        }
    }
}

/// How an operation's `Ok` value is recorded: [`AgentTurn`] records nothing, [`ToolRun`] the
/// tool's result (with content capture on).
pub trait RecordOutput<T> {
    /// The `gen_ai.tool.call.result` for this value, if any.
    fn result(value: &T) -> Option<String>;
}

/// Marker: an agent turn (its output is not recorded).
#[derive(Clone, Copy, Debug)]
pub struct AgentTurn;

/// Marker: a tool run (its [`ToolOutput`] is recorded with content capture on).
#[derive(Clone, Copy, Debug)]
pub struct ToolRun;

impl<T> RecordOutput<T> for AgentTurn {
    fn result(_: &T) -> Option<String> {
        None
    }
}

impl<T: ToolOutput> RecordOutput<T> for ToolRun {
    fn result(value: &T) -> Option<String> {
        value.tool_result()
    }
}

/// An agent turn's future inside its `invoke_agent` span.
pub type InstrumentedAgent<F> = InstrumentedOperation<F, AgentTurn>;
/// A tool's future inside its `execute_tool` span.
pub type InstrumentedTool<F> = InstrumentedOperation<F, ToolRun>;

impl<F, T, E, R> Future for InstrumentedOperation<F, R>
where
    F: Future<Output = Result<T, E>>,
    E: 'static,
    R: RecordOutput<T>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = {
            let _attached = this.guard.as_ref().map(|g| g.context().attach());
            ready!(this.inner.poll(task))
        };
        if let Some(guard) = this.guard.take() {
            match &output {
                Ok(value) => match guard.capture.and_then(|_| R::result(value)) {
                    Some(r) => guard.finish_with_result(&r),
                    None => guard.finish(),
                },
                Err(e) => guard.finish_error(this.inst.classify_error(e)),
            }
        }
        Poll::Ready(output)
    }
}

pin_project! {
    /// A stream inside its agent span (see
    /// [`GenAiInstrumentation::instrument_agent_stream`]).
    pub struct InstrumentedOperationStream<S> {
        #[pin]
        inner: S,
        guard: Option<OperationGuard>,
        error: Option<GenAiErrorClass>,
        inst: GenAiInstrumentation,
    }
}

impl<S> fmt::Debug for InstrumentedOperationStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedOperationStream")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<S, T, E> Stream for InstrumentedOperationStream<S>
where
    S: Stream<Item = Result<T, E>>,
    E: 'static,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = {
            let _attached = this.guard.as_ref().map(|g| g.context().attach());
            ready!(this.inner.poll_next(task))
        };
        match &item {
            Some(Err(e)) if this.error.is_none() => {
                *this.error = Some(this.inst.classify_error(e));
            }
            None => {
                if let Some(guard) = this.guard.take() {
                    match this.error.take() {
                        Some(class) => guard.finish_error(class),
                        None => guard.finish(),
                    }
                }
            }
            _ => {}
        }
        Poll::Ready(item)
    }
}

/// A tower layer making every call of a `Service` an agent turn: `describe` names the turn from
/// the request.
///
/// ```
/// use vystak_otel_genai::{AgentInvocation, GenAiAgentLayer};
/// let layer = GenAiAgentLayer::new(|_req: &String| AgentInvocation::new("weather-agent"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct GenAiAgentLayer<D> {
    describe: D,
    inst: GenAiInstrumentation,
}

impl<D> fmt::Debug for GenAiAgentLayer<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenAiAgentLayer")
            .field("inst", &self.inst)
            .finish_non_exhaustive()
    }
}

impl<D> GenAiAgentLayer<D> {
    /// A layer with the global providers.
    pub fn new(describe: D) -> Self {
        Self::with_instrumentation(GenAiInstrumentation::new(), describe)
    }

    /// A layer with configured instrumentation.
    pub fn with_instrumentation(inst: GenAiInstrumentation, describe: D) -> Self {
        Self { describe, inst }
    }
}

impl<S, D: Clone> Layer<S> for GenAiAgentLayer<D> {
    type Service = GenAiAgentService<S, D>;

    fn layer(&self, inner: S) -> Self::Service {
        GenAiAgentService {
            inner,
            describe: self.describe.clone(),
            inst: self.inst.clone(),
        }
    }
}

/// The service produced by [`GenAiAgentLayer`].
#[derive(Clone)]
pub struct GenAiAgentService<S, D> {
    inner: S,
    describe: D,
    inst: GenAiInstrumentation,
}

impl<S: fmt::Debug, D> fmt::Debug for GenAiAgentService<S, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenAiAgentService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, D, Req> Service<Req> for GenAiAgentService<S, D>
where
    S: Service<Req>,
    S::Error: 'static,
    D: Fn(&Req) -> AgentInvocation,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InstrumentedAgent<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let guard = self.inst.start_agent((self.describe)(&req));
        let future = {
            let _attached = guard.context().attach();
            self.inner.call(req)
        };
        InstrumentedOperation::new(future, guard, self.inst.clone())
    }
}
