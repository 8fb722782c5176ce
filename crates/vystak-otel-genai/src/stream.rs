//! `InstrumentedStream`: a streaming reply inside its `gen_ai.chat` span.

use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::call::GenAiCall;
use crate::error::GenAiErrorClass;
use crate::instrumentation::{CallGuard, CallResult, End, GenAiInstrumentation};
use crate::usage::GenAiChunk;

/// The guard plus what the stream reported so far; dropped early, it still records that usage.
struct StreamState {
    guard: CallGuard,
    result: CallResult,
    /// The first error item seen (the stream goes on; the call ends as failed).
    error: Option<GenAiErrorClass>,
    done: bool,
}

impl StreamState {
    fn end(&mut self, cancelled: bool) {
        let seen = std::mem::take(&mut self.result);
        let how = match (self.error.take(), cancelled) {
            (Some(class), _) => End::Error(class),
            (None, true) => End::Cancelled,
            (None, false) => End::Ok,
        };
        self.guard.end(how, seen);
    }
}

impl Drop for StreamState {
    fn drop(&mut self) {
        if !self.done {
            self.end(true);
        }
    }
}

pin_project! {
    /// A streaming reply: the span and the duration end at the last chunk; the time to the first
    /// chunk is recorded; usage comes from the chunks (e.g. Anthropic's `message_start` and
    /// `message_delta`). Dropped early, the span ends with finish reason `error` and whatever
    /// usage was seen.
    ///
    /// Items are passed through unchanged, errors included: an `Err` item is recorded on the span
    /// (the first one sets `error.type` and the status) and the stream goes on until the inner
    /// stream ends.
    pub struct InstrumentedStream<S> {
        #[pin]
        inner: S,
        state: StreamState,
    }
}

impl<S> std::fmt::Debug for InstrumentedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedStream")
            .field("done", &self.state.done)
            .field("seen", &self.state.result)
            .finish_non_exhaustive()
    }
}

impl<S> InstrumentedStream<S> {
    /// The context holding the call's span: make it current around the HTTP request that
    /// produces the stream, so that request's span is a child of the model-call span.
    pub fn context(&self) -> opentelemetry::Context {
        self.state.guard.context()
    }
}

impl<S, C, E> Stream for InstrumentedStream<S>
where
    S: Stream<Item = Result<C, E>>,
    C: GenAiChunk,
    E: 'static,
{
    type Item = Result<C, E>;

    fn poll_next(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let state = this.state;
        if state.done {
            return Poll::Ready(None);
        }
        let item = {
            let _attached = state.guard.context().attach();
            ready!(this.inner.poll_next(task))
        };
        match &item {
            Some(Ok(chunk)) => {
                state.guard.first_chunk();
                let r = &mut state.result;
                if let Some(u) = chunk.usage() {
                    r.usage.merge(u);
                }
                if let Some(m) = chunk.response_model() {
                    r.response_model.get_or_insert_with(|| m.to_owned());
                }
                if let Some(id) = chunk.response_id() {
                    r.response_id.get_or_insert_with(|| id.to_owned());
                }
                if let Some(reason) = chunk.finish_reason() {
                    r.finish_reasons.push(reason.to_owned());
                }
            }
            Some(Err(e)) => {
                if state.error.is_none() {
                    state.error = Some(state.guard.classify_error(e));
                }
            }
            None => {
                state.done = true;
                state.end(false);
            }
        }
        Poll::Ready(item)
    }
}

impl GenAiInstrumentation {
    /// Wraps a streaming reply (a stream of `Result<chunk, error>`); the call is marked
    /// `gen_ai.request.stream=true`. Create it right before the request is sent: the duration
    /// starts now.
    pub fn instrument_stream<S>(&self, call: GenAiCall, stream: S) -> InstrumentedStream<S> {
        InstrumentedStream {
            inner: stream,
            state: StreamState {
                guard: self.start(call.with_stream(true)),
                result: CallResult::default(),
                error: None,
                done: false,
            },
        }
    }
}
