//! `ResponseFuture`: keeps the request's context current on every poll and hands the
//! per-request state to the response body.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use http::Response;
use http_body::Body;
use opentelemetry::Context;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::state::{Outcome, RequestState};

pin_project! {
    /// Response future of [`OtelServer`](crate::OtelServer).
    ///
    /// Dropping it before it completes ends the span with `error.type=cancelled`.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // Boxed: the future and the body are moved several times on their way through axum's
        // wrappers, and a pointer moves for less than the state (~180 bytes) would.
        state: Option<Box<RequestState>>,
        // Context attached while polling a request without a span (filtered requests).
        cx: Option<Context>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("instrumented", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn instrumented(inner: F, state: Box<RequestState>) -> Self {
        Self {
            inner,
            state: Some(state),
            cx: None,
        }
    }

    pub(crate) fn passthrough(inner: F, cx: Option<Context>) -> Self {
        Self {
            inner,
            state: None,
            cx,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _guard = match (this.state.as_ref(), this.cx.as_ref()) {
            (Some(state), _) => Some(state.cx.clone().attach()),
            (None, Some(cx)) => Some(cx.clone().attach()),
            (None, None) => None,
        };
        let result = ready!(this.inner.poll(task));
        Poll::Ready(match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                let mut state = this.state.take();
                if let Some(st) = state.as_mut() {
                    st.inject_response_headers(&mut parts.headers);
                    st.on_response_head(parts.status, &parts.headers);
                    if body.is_end_stream() {
                        st.finish(Outcome::Complete);
                        state = None;
                    }
                }
                Ok(Response::from_parts(parts, ResponseBody::new(body, state)))
            }
            Err(err) => {
                if let Some(mut st) = this.state.take() {
                    st.finish(Outcome::Error(std::any::type_name::<E>()));
                }
                Err(err)
            }
        })
    }
}
