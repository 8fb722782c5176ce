//! `OperationGuard`: the owner of one agent or tool span, which ends it (with the tool's result,
//! the agent's usage aggregate, or an error) when it finishes or is dropped.

use std::fmt;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use crate::aggregate::AgentUsageSink;
use crate::attrs::{cap, key};
use crate::error::GenAiErrorClass;
use crate::semconv::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Agent,
    Tool,
}

/// Owns one agent or tool span; it ends when the guard finishes or is dropped (a dropped guard
/// ends the span without an error: the turn was abandoned, not failed).
#[must_use = "the guard ends the span when it finishes or is dropped"]
pub struct OperationGuard {
    pub(super) cx: Option<Context>,
    pub(super) op: Op,
    pub(super) capture: Option<usize>,
    pub(super) sink: Option<AgentUsageSink>,
    pub(super) parent_sink: Option<AgentUsageSink>,
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
    pub(super) fn off(op: Op) -> Self {
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
                parent.add_totals(&t);
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
