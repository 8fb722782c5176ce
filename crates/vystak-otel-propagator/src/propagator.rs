//! `W3cTraceContextPropagator`.

use std::sync::Arc;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use crate::traceparent::{format_traceparent, parse_traceparent, TraceparentError, RANDOM_FLAG};
use crate::tracestate::{
    canonical_tracestate, first_occurrences, format_tracestate, from_trace_state,
    sdk_trace_state_and_fit, split_canonical,
};

/// What arrived with a trace, kept in the `Context` beside the remote span context: the full
/// `tracestate` list (the SDK's `TraceState` cannot hold every valid key) and the flags (the SDK
/// gives an unsampled child default flags, which loses `random`).
#[derive(Debug)]
struct Inbound {
    trace_id: TraceId,
    flags: TraceFlags,
    /// The list as received, canonical (`k=v,k=v`; see `tracestate::canonical_tracestate`).
    list: String,
    /// What the SDK type was given, to tell later edits (a sampler's) from the original: `None`
    /// when it was the first occurrence of each key of `list` (the common case, kept without a
    /// copy), else a copy.
    sdk_state: Option<TraceState>,
}

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
/// - the Level 2 `random` flag is kept on read and written back for as long as the trace id is
///   kept, even through a child the sampler dropped (the SDK gives such a span default flags);
///   with [`with_random_trace_ids(true)`](Self::with_random_trace_ids) traces started here are
///   marked random too;
/// - the `tracestate` list travels in the `Context` as received (current key grammar, duplicates
///   as the sender wrote them), so keys the SDK's `TraceState` rejects are not lost; edits made to
///   the SDK `TraceState` (by a sampler) are applied with the §3.5 mutation rules;
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
    random_trace_ids: bool,
}

impl W3cTraceContextPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self {
            random_trace_ids: false,
        }
    }

    /// Promises that trace ids created in this process are random (the SDK's default
    /// `RandomIdGenerator`; `vystak-telemetry` sets this), so a trace that did not arrive from a
    /// caller is written with the Level 2 `random` flag (§3.2.2.5.2). Traces that arrived keep
    /// the caller's flag either way. Off by default.
    #[must_use]
    pub fn with_random_trace_ids(mut self, random: bool) -> Self {
        self.random_trace_ids = random;
        self
    }

    /// The remote span context in `extractor`, or why there is none.
    ///
    /// # Errors
    /// The reason the `traceparent` was rejected (the trace restarts).
    pub fn extract_span_context(
        &self,
        extractor: &dyn Extractor,
    ) -> Result<SpanContext, TraceparentError> {
        self.extract_inbound(extractor).map(|(sc, _)| sc)
    }

    fn extract_inbound(
        &self,
        extractor: &dyn Extractor,
    ) -> Result<(SpanContext, Inbound), TraceparentError> {
        let parent = match extractor.get_all(TRACEPARENT) {
            Some(values) if values.len() > 1 => return Err(TraceparentError::Multiple),
            Some(values) => values.first().copied(),
            None => extractor.get(TRACEPARENT),
        }
        .ok_or(TraceparentError::TooShort)?;
        let tp = parse_traceparent(parent)?;
        // Most requests carry no `tracestate`: one lookup says so. Only a present one is read
        // again for every line.
        let lines = match extractor.get(TRACESTATE) {
            None => Vec::new(),
            Some(first) => extractor.get_all(TRACESTATE).unwrap_or_else(|| vec![first]),
        };
        let list = canonical_tracestate(&lines).unwrap_or_default();
        let (state, fits) = sdk_trace_state_and_fit(split_canonical(&list));
        let inbound = Inbound {
            trace_id: tp.trace_id,
            flags: tp.flags,
            list,
            sdk_state: (!fits).then(|| state.clone()),
        };
        Ok((
            SpanContext::new(tp.trace_id, tp.parent_id, tp.flags, true, state),
            inbound,
        ))
    }

    /// The flags to write for `sc`: its own, plus `random` when the trace is random.
    fn flags(&self, sc: &SpanContext, inbound: Option<&Inbound>) -> TraceFlags {
        let random = match inbound {
            Some(inbound) => inbound.flags.to_u8() & RANDOM_FLAG != 0,
            None => self.random_trace_ids,
        };
        let bits = sc.trace_flags().to_u8();
        if random {
            TraceFlags::new(bits | RANDOM_FLAG)
        } else {
            sc.trace_flags()
        }
    }
}

/// The list to write: the inbound list, with the edits made to the SDK `TraceState` since it was
/// extracted applied by the §3.5 rules (deleted keys removed, added or updated members moved to
/// the left, each key once).
fn outgoing_state(sc: &SpanContext, inbound: Option<&Inbound>) -> String {
    let current = sc.trace_state();
    let Some(inbound) = inbound else {
        return current.header();
    };
    // Without a copy the SDK type was given each key's first occurrence: the whole list when no
    // key repeats (the common case, compared in one pass); the quadratic first-occurrence walk
    // runs only when that fails (a repeated key, or an edit).
    let unchanged = match &inbound.sdk_state {
        Some(state) => current == state,
        None => {
            current.into_iter().eq(split_canonical(&inbound.list))
                || current.into_iter().eq(first_occurrences(&inbound.list))
        }
    };
    if unchanged {
        return inbound.list.clone();
    }
    let before: Vec<(String, String)> = match &inbound.sdk_state {
        Some(state) => from_trace_state(state),
        None => first_occurrences(&inbound.list)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    let now = from_trace_state(current);
    let added: Vec<&(String, String)> = now.iter().filter(|m| !before.contains(m)).collect();
    let mut out: Vec<(String, String)> = added.iter().map(|m| (*m).clone()).collect();
    for (key, value) in split_canonical(&inbound.list) {
        let deleted = before.iter().any(|(k, _)| k == key) && !now.iter().any(|(k, _)| k == key);
        let replaced = added.iter().any(|(k, _)| k == key);
        if !deleted && !replaced {
            out.push((key.to_owned(), value.to_owned()));
        }
    }
    out.truncate(crate::tracestate::MAX_MEMBERS);
    format_tracestate(&out)
}

impl TextMapPropagator for W3cTraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let inbound = cx
            .get::<Arc<Inbound>>()
            .map(Arc::as_ref)
            .filter(|inbound| inbound.trace_id == sc.trace_id());
        injector.set(
            TRACEPARENT,
            format_traceparent(sc.trace_id(), sc.span_id(), self.flags(sc, inbound)),
        );
        let state = outgoing_state(sc, inbound);
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match self.extract_inbound(extractor) {
            // The inbound record is kept only when it says more than the span context and the
            // propagator's own default would (a tracestate list, or a `random` flag that differs
            // from it), and no earlier record would otherwise be read in its place: a plain
            // `traceparent` then costs no record and no context entry.
            Ok((sc, inbound))
                if inbound.list.is_empty()
                    && (inbound.flags.to_u8() & RANDOM_FLAG != 0) == self.random_trace_ids
                    && cx.get::<Arc<Inbound>>().is_none() =>
            {
                cx.with_remote_span_context(sc)
            }
            Ok((sc, inbound)) => cx
                .with_remote_span_context(sc)
                .with_value(Arc::new(inbound)),
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
