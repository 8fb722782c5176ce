//! `GenAiLayer`: a tower layer for model clients that are `Service`s.

use std::task::{Context as TaskContext, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::future::Instrumented;
use crate::instrumentation::GenAiInstrumentation;
use crate::usage::{GenAiRequest, GenAiResponse};

/// Wraps a model client `Service<Req>` (where `Req: GenAiRequest` and the response implements
/// `GenAiResponse`) so every call gets a `gen_ai.chat` span and the token/duration histograms.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct GenAiLayer {
    inst: GenAiInstrumentation,
}

impl GenAiLayer {
    /// A layer with the global providers (looked up at each call, so a layer built before
    /// telemetry is installed records once it is).
    pub fn new() -> Self {
        Self {
            inst: GenAiInstrumentation::new(),
        }
    }

    /// A layer with configured instrumentation.
    pub fn with_instrumentation(inst: GenAiInstrumentation) -> Self {
        Self { inst }
    }
}

impl<S> Layer<S> for GenAiLayer {
    type Service = GenAiService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GenAiService {
            inner,
            inst: self.inst.clone(),
        }
    }
}

/// The service produced by [`GenAiLayer`].
#[derive(Clone, Debug)]
pub struct GenAiService<S> {
    inner: S,
    inst: GenAiInstrumentation,
}

impl<S, Req> Service<Req> for GenAiService<S>
where
    S: Service<Req>,
    S::Error: 'static,
    Req: GenAiRequest,
    S::Response: GenAiResponse,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let guard = self.inst.start(req.gen_ai_call());
        let future = {
            let _attached = guard.context().attach();
            self.inner.call(req)
        };
        Instrumented::new(future, guard)
    }
}
