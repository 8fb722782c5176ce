//! `InstrumentedOperation`: an agent turn's or a tool's future inside its span, and how its `Ok`
//! value is recorded ([`RecordOutput`]).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use super::guard::OperationGuard;
use super::tool::ToolOutput;
use crate::instrumentation::GenAiInstrumentation;

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
    pub(super) fn new(inner: F, guard: OperationGuard, inst: GenAiInstrumentation) -> Self {
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
