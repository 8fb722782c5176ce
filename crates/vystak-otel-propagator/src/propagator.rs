//! `W3cTraceContextPropagator`.

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::Context;

use crate::traceparent::{format_traceparent, parse_traceparent, TraceparentError};
use crate::tracestate::{parse_tracestate, to_trace_state};

/// `traceparent`.
pub const TRACEPARENT: &str = "traceparent";
/// `tracestate`.
pub const TRACESTATE: &str = "tracestate";

/// A W3C Trace Context Level 2 propagator that follows the specification exactly.
///
/// Differences from `opentelemetry_sdk::propagation::TraceContextPropagator`:
/// - repeated `traceparent` headers restart the trace; repeated `tracestate` lines are combined
///   (carriers that implement [`Extractor::get_all`], like [`HeaderMapExtractor`](crate::HeaderMapExtractor));
/// - exact field widths (`0-…`, 15-digit ids, `1` as flags are invalid), lowercase hex only,
///   version `ff` rejected, later versions parsed by the forward-compatibility rules;
/// - `tracestate` grammar and limits: multi-tenant keys, ≤ 32 members, no duplicates, one bad
///   member discards the whole header, an invalid `traceparent` discards it too;
/// - the Level 2 `random` flag is kept on read and written back;
/// - no empty `tracestate` header is ever written.
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
/// use vystak_otel_propagator::W3cTraceContextPropagator;
///
/// let p = W3cTraceContextPropagator::new();
/// let mut headers = HashMap::new();
/// headers.insert("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned());
/// let cx = p.extract(&headers);
/// assert_eq!(cx.span().span_context().trace_flags().to_u8(), 0x03); // sampled + random
/// let mut out = HashMap::new();
/// p.inject_context(&cx, &mut out);
/// assert_eq!(out["traceparent"], headers["traceparent"]);
/// assert!(!out.contains_key("tracestate"));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct W3cTraceContextPropagator {
    _private: (),
}

impl W3cTraceContextPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self { _private: () }
    }

    /// The remote span context in `extractor`, or why there is none.
    ///
    /// # Errors
    /// The reason the `traceparent` was rejected (the trace restarts).
    pub fn extract_span_context(
        &self,
        extractor: &dyn Extractor,
    ) -> Result<SpanContext, TraceparentError> {
        let parent = match extractor.get_all(TRACEPARENT) {
            Some(values) if values.len() > 1 => return Err(TraceparentError::Multiple),
            Some(values) => values.first().copied(),
            None => extractor.get(TRACEPARENT),
        }
        .ok_or(TraceparentError::TooShort)?;
        let tp = parse_traceparent(parent)?;
        let lines = extractor
            .get_all(TRACESTATE)
            .or_else(|| extractor.get(TRACESTATE).map(|v| vec![v]))
            .unwrap_or_default();
        let state = match parse_tracestate(&lines) {
            Ok(members) => to_trace_state(&members),
            Err(_) => TraceState::NONE,
        };
        Ok(SpanContext::new(
            tp.trace_id,
            tp.parent_id,
            tp.flags,
            true,
            state,
        ))
    }
}

impl TextMapPropagator for W3cTraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        injector.set(
            TRACEPARENT,
            format_traceparent(sc.trace_id(), sc.span_id(), sc.trace_flags()),
        );
        let state = sc.trace_state().header();
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match self.extract_span_context(extractor) {
            Ok(sc) => cx.with_remote_span_context(sc),
            Err(_) => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        fn fields() -> &'static [String; 2] {
            static F: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
            F.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()])
        }
        FieldIter::new(fields())
    }
}
