//! [`SpanStarter`]: how the workspace's instrumentation starts its spans.

use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::{SpanBuilder, TraceContextExt, Tracer};
use opentelemetry::Context;

/// Starts a span under a parent context and returns the context holding it.
///
/// The tracer keeps its concrete type behind this one `dyn` call. A tracer provider handed in
/// (`with_tracer_provider`) thereby has its span boxed once, by `Context::with_span`; going
/// through `BoxedTracer` (all the global provider offers) boxes it twice — the `BoxedSpan`, then
/// that again — and puts two `dyn` calls in front of every later call on the span.
#[derive(Clone)]
pub struct SpanStarter(Arc<StartFn>);

type StartFn = dyn Fn(SpanBuilder, &Context) -> Context + Send + Sync;

impl SpanStarter {
    /// Spans of `tracer`.
    pub fn new<T>(tracer: T) -> Self
    where
        T: Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        Self(Arc::new(move |builder, parent| {
            parent.with_span(tracer.build_with_context(builder, parent))
        }))
    }

    /// `parent` with a new span built from `builder`.
    pub fn start(&self, builder: SpanBuilder, parent: &Context) -> Context {
        (self.0)(builder, parent)
    }
}

impl fmt::Debug for SpanStarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpanStarter")
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::noop::NoopTracer;

    use super::*;

    #[test]
    fn the_span_starts_under_the_parent() {
        let parent = Context::new();
        let cx = SpanStarter::new(NoopTracer::new()).start(SpanBuilder::from_name("x"), &parent);
        assert!(cx.has_active_span());
        assert!(!parent.has_active_span());
    }
}
