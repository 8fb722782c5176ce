//! `PropagatorChoice`: the global propagator or a given one, as every instrumentation crate of
//! the workspace offers it (`with_propagator`).

use std::fmt;
use std::sync::Arc;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;

/// Which propagator a component uses: the global one, looked up on every use (so one installed
/// after the component was built is honoured), or its own.
#[derive(Clone, Default)]
pub enum PropagatorChoice {
    /// `opentelemetry::global::get_text_map_propagator`.
    #[default]
    Global,
    /// A propagator of the component's own.
    Custom(Arc<dyn TextMapPropagator + Send + Sync>),
}

impl fmt::Debug for PropagatorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PropagatorChoice::Global => "Global",
            PropagatorChoice::Custom(_) => "Custom",
        })
    }
}

impl PropagatorChoice {
    /// A custom propagator.
    pub fn custom(propagator: impl TextMapPropagator + Send + Sync + 'static) -> Self {
        PropagatorChoice::Custom(Arc::new(propagator))
    }

    /// Runs `f` with the chosen propagator.
    pub fn with<T>(&self, mut f: impl FnMut(&dyn TextMapPropagator) -> T) -> T {
        match self {
            PropagatorChoice::Global => opentelemetry::global::get_text_map_propagator(f),
            PropagatorChoice::Custom(p) => f(p.as_ref()),
        }
    }

    /// The context in `extractor`, on top of an empty context.
    pub fn extract(&self, extractor: &dyn Extractor) -> Context {
        self.with(|p| p.extract_with_context(&Context::new(), extractor))
    }

    /// Writes `cx` into `injector`.
    pub fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        self.with(|p| p.inject_context(cx, injector));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::trace::TraceContextExt;

    use super::*;
    use crate::W3cTraceContextPropagator;

    #[test]
    fn a_custom_choice_uses_its_propagator_and_global_defaults_to_noop() {
        let mut headers = HashMap::new();
        headers.insert(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        );
        let custom = PropagatorChoice::custom(W3cTraceContextPropagator::new());
        let cx = custom.extract(&headers);
        assert!(cx.span().span_context().is_valid());
        let mut out: HashMap<String, String> = HashMap::new();
        custom.inject(&cx, &mut out);
        assert_eq!(out["traceparent"], headers["traceparent"]);
        assert_eq!(format!("{custom:?}"), "Custom");
        assert_eq!(format!("{:?}", PropagatorChoice::default()), "Global");
    }
}
