//! `ResponseBody`: the span and the duration metric end when the body does.

use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::state::{Outcome, RequestState};

pin_project! {
    /// Response body of [`OtelServer`](crate::OtelServer).
    ///
    /// The server span and `http.server.request.duration` end at the end of the stream (SSE and
    /// chunked replies included), on a body error (`ERROR`), or when the body is dropped early
    /// (`error.type=cancelled`). Data bytes are counted as they are sent.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        state: Option<Box<RequestState>>,
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("instrumented", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, state: Option<Box<RequestState>>) -> Self {
        Self { inner, state }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        task: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let _guard = this.state.as_ref().map(|s| s.cx.clone().attach());
        let frame = ready!(this.inner.as_mut().poll_frame(task));
        if let Some(state) = this.state.as_mut() {
            match &frame {
                Some(Ok(f)) => {
                    if let Some(data) = f.data_ref() {
                        state.add_response_bytes(data.remaining() as u64);
                    }
                    if this.inner.is_end_stream() {
                        state.finish(Outcome::Complete);
                        *this.state = None;
                    }
                }
                Some(Err(_)) => {
                    state.finish(Outcome::Error(std::any::type_name::<B::Error>()));
                    *this.state = None;
                }
                None => {
                    state.finish(Outcome::Complete);
                    *this.state = None;
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
