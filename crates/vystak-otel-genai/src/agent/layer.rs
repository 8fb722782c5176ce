//! `GenAiAgentLayer`: a tower layer making every call of a `Service` an agent turn.

use std::fmt;
use std::task::{Context as TaskContext, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::future::{InstrumentedAgent, InstrumentedOperation};
use super::AgentInvocation;
use crate::instrumentation::GenAiInstrumentation;

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
