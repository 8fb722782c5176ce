//! The floor: a layer that does nothing but wrap the response future and the response
//! body, as every middleware that ends something at the end of the body must. Axum boxes the
//! wrapped body once more; this is what "telemetry off" is measured against.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

#[derive(Clone, Copy)]
pub(crate) struct Layer;

impl<S> tower::Layer<S> for Layer {
    type Service = Service<S>;
    fn layer(&self, inner: S) -> Service<S> {
        Service { inner }
    }
}

#[derive(Clone)]
pub(crate) struct Service<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Service<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<Wrapped<R>>;
    type Error = S::Error;
    type Future = WrappedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        WrappedFuture {
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    pub(crate) struct WrappedFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, R, E> Future for WrappedFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<Wrapped<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().inner.poll(cx));
        Poll::Ready(response.map(|r| r.map(|inner| Wrapped { inner })))
    }
}

pin_project! {
    pub(crate) struct Wrapped<B> {
        #[pin]
        inner: B,
    }
}

impl<B: Body> Body for Wrapped<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
