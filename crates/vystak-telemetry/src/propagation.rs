//! The propagators: the default W3C Trace Context Level 2 + baggage one, and the set
//! `OTEL_PROPAGATORS` names.

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::propagation::BaggagePropagator;

use crate::semconv::{
    ENV_PROPAGATORS, PROPAGATOR_BAGGAGE, PROPAGATOR_NONE, PROPAGATOR_TRACECONTEXT,
};

/// The propagator `init` installs: W3C Trace Context Level 2 (the strict
/// [`W3cTraceContextPropagator`](vystak_otel_propagator::W3cTraceContextPropagator)) + W3C baggage.
/// The SDK set up here generates random trace ids, so traces started in this process carry the
/// Level 2 `random` flag.
pub fn default_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(
            vystak_otel_propagator::W3cTraceContextPropagator::new().with_random_trace_ids(true),
        ),
        Box::new(BaggagePropagator::new()),
    ])
}

/// `OTEL_PROPAGATORS` (default `tracecontext,baggage`): `tracecontext` (the strict W3C
/// propagator), `baggage`, `none`; other names are warnings and skipped.
pub(crate) fn propagators_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Vec<&'static str> {
    let Some(value) = env(ENV_PROPAGATORS).filter(|v| !v.trim().is_empty()) else {
        return vec![PROPAGATOR_TRACECONTEXT, PROPAGATOR_BAGGAGE];
    };
    let mut out = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            PROPAGATOR_TRACECONTEXT | PROPAGATOR_BAGGAGE => {
                let name = if name == PROPAGATOR_TRACECONTEXT {
                    PROPAGATOR_TRACECONTEXT
                } else {
                    PROPAGATOR_BAGGAGE
                };
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            PROPAGATOR_NONE => return Vec::new(),
            other => warnings.push(format!(
                "{ENV_PROPAGATORS}: propagator {other:?} is not supported (tracecontext, \
                 baggage, none); skipped"
            )),
        }
    }
    out
}

/// The composite propagator for these names (`None` for none).
pub(crate) fn propagator_for(names: &[&str]) -> Option<TextMapCompositePropagator> {
    if names.is_empty() {
        return None;
    }
    if names == [PROPAGATOR_TRACECONTEXT, PROPAGATOR_BAGGAGE] {
        return Some(default_propagator());
    }
    let mut parts: Vec<Box<dyn opentelemetry::propagation::TextMapPropagator + Send + Sync>> =
        Vec::new();
    for name in names {
        match *name {
            PROPAGATOR_TRACECONTEXT => parts.push(Box::new(
                vystak_otel_propagator::W3cTraceContextPropagator::new()
                    .with_random_trace_ids(true),
            )),
            PROPAGATOR_BAGGAGE => parts.push(Box::new(BaggagePropagator::new())),
            _ => {}
        }
    }
    Some(TextMapCompositePropagator::new(parts))
}
