//! `InstrumentedOperationStream`: a streaming agent turn inside its `invoke_agent` span.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::guard::OperationGuard;
use crate::error::GenAiErrorClass;
use crate::instrumentation::GenAiInstrumentation;

pin_project! {
    /// A stream inside its agent span (see
    /// [`GenAiInstrumentation::instrument_agent_stream`]).
    pub struct InstrumentedOperationStream<S> {
        #[pin]
        pub(super) inner: S,
        pub(super) guard: Option<OperationGuard>,
        pub(super) error: Option<GenAiErrorClass>,
        pub(super) inst: GenAiInstrumentation,
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
