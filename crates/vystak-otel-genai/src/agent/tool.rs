//! Tool spans: [`ToolExecution`] describes an `execute_tool {gen_ai.tool.name}` span,
//! [`ToolOutput`] what a tool returned; `start_tool` and `instrument_tool` run one.

use std::borrow::Cow;
use std::future::Future;

use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use super::future::{InstrumentedOperation, InstrumentedTool};
use super::guard::{Op, OperationGuard};
use crate::attrs::{cap, key, span_name};
use crate::instrumentation::GenAiInstrumentation;
use crate::semconv::*;
use crate::usage::ToolCall;

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

impl GenAiInstrumentation {
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
}
