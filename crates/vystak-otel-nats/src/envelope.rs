//! Trace context in JSON-RPC 2.0 envelopes: written to `params._meta.headers` (the seed), read
//! from `params._meta.headers`, MCP SEP-414 `params._meta`, `params.message.metadata` and
//! `params.metadata` (where today's Python Vystak runtime puts it).

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use serde_json::{Map, Value};

use crate::semconv::{ENVELOPE_HEADERS, ENVELOPE_META, ENVELOPE_PARAMS};

/// Longest propagation value read from an envelope; longer ones are ignored.
pub const MAX_VALUE_LEN: usize = 8 * 1024;

/// What [`inject`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectOutcome {
    /// Fields were written to `params._meta.headers`.
    Injected,
    /// The propagator had nothing to write (no active span, no baggage).
    Nothing,
    /// The envelope's shape does not allow it without destroying data (`params` is an array,
    /// `_meta` a string, the root not an object, …): the envelope is left unchanged.
    Skipped,
}

/// Writes the context's `traceparent` (+ `tracestate`, baggage) into `params._meta.headers` with
/// the global propagator, creating `params` / `_meta` / `headers` when absent and keeping every
/// other key.
pub fn inject(envelope: &mut Value, cx: &Context) -> InjectOutcome {
    opentelemetry::global::get_text_map_propagator(|p| inject_with(envelope, cx, p))
}

/// [`inject`] with a given propagator.
pub fn inject_with(
    envelope: &mut Value,
    cx: &Context,
    propagator: &dyn TextMapPropagator,
) -> InjectOutcome {
    let mut fields = Vec::new();
    propagator.inject_context(cx, &mut VecInjector(&mut fields));
    if fields.is_empty() {
        return InjectOutcome::Nothing;
    }
    let Some(headers) = headers_mut(envelope) else {
        return InjectOutcome::Skipped;
    };
    for (k, v) in fields {
        headers.insert(k, Value::String(v));
    }
    InjectOutcome::Injected
}

fn headers_mut(envelope: &mut Value) -> Option<&mut Map<String, Value>> {
    let root = envelope.as_object_mut()?;
    let params = root
        .entry(ENVELOPE_PARAMS)
        .or_insert_with(|| Value::Object(Map::new()));
    if params.is_null() {
        *params = Value::Object(Map::new());
    }
    let meta = params
        .as_object_mut()?
        .entry(ENVELOPE_META)
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    let headers = meta
        .as_object_mut()?
        .entry(ENVELOPE_HEADERS)
        .or_insert_with(|| Value::Object(Map::new()));
    if headers.is_null() {
        *headers = Value::Object(Map::new());
    }
    headers.as_object_mut()
}

struct VecInjector<'a>(&'a mut Vec<(String, String)>);

impl Injector for VecInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// Reads string values from one JSON object; non-string and oversized values are ignored.
struct MapExtractor<'a>(&'a Map<String, Value>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match self.0.get(key) {
            Some(v) => v,
            // Header names are case-insensitive; JSON keys are not. Accept any case.
            None => self
                .0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)?,
        };
        value.as_str().filter(|s| s.len() <= MAX_VALUE_LEN)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The carrier locations, in the order they are tried.
fn locations(envelope: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    let params = envelope.get(ENVELOPE_PARAMS);
    let meta = params.and_then(|p| p.get(ENVELOPE_META));
    [
        meta.and_then(|m| m.get(ENVELOPE_HEADERS)),
        meta,
        params
            .and_then(|p| p.get("message"))
            .and_then(|m| m.get("metadata")),
        params.and_then(|p| p.get("metadata")),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_object)
}

/// Reads the caller's context from the envelope with the global propagator. The first location
/// that yields a valid remote span context wins; a malformed value at one location falls through
/// to the next. Anything unusable → an empty context (no parent), never a panic or an error.
pub fn extract(envelope: &Value) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| extract_with(envelope, p))
}

/// [`extract`] with a given propagator.
pub fn extract_with(envelope: &Value, propagator: &dyn TextMapPropagator) -> Context {
    for map in locations(envelope) {
        let cx = propagator.extract(&MapExtractor(map));
        if cx.span().span_context().is_valid() {
            return cx;
        }
    }
    Context::new()
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use serde_json::json;

    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn remote() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ))
    }

    fn parent_of(envelope: &Value) -> Option<String> {
        let cx = extract_with(envelope, &TraceContextPropagator::new());
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| sc.span_id().to_string())
    }

    #[test]
    fn inject_creates_the_path_and_keeps_other_keys() {
        let p = TraceContextPropagator::new();
        let mut env = json!({"jsonrpc": "2.0", "id": 1, "method": "message/send",
                             "params": {"message": {"text": "hi"}, "_meta": {"progressToken": 7}}});
        assert_eq!(
            inject_with(&mut env, &remote(), &p),
            InjectOutcome::Injected
        );
        assert_eq!(env["params"]["_meta"]["headers"]["traceparent"], TP);
        assert_eq!(env["params"]["_meta"]["progressToken"], 7);
        assert_eq!(env["params"]["message"]["text"], "hi");
        let mut bare = json!({"jsonrpc": "2.0", "id": 2, "method": "m"});
        inject_with(&mut bare, &remote(), &p);
        assert_eq!(bare["params"]["_meta"]["headers"]["traceparent"], TP);
        let mut nulls = json!({"params": {"_meta": null}});
        inject_with(&mut nulls, &remote(), &p);
        assert_eq!(nulls["params"]["_meta"]["headers"]["traceparent"], TP);
    }

    #[test]
    fn inject_never_destroys_data_of_the_wrong_shape() {
        let p = TraceContextPropagator::new();
        for env in [
            json!({"params": [1, 2]}),
            json!({"params": {"_meta": "string"}}),
            json!({"params": {"_meta": {"headers": ["x"]}}}),
            json!([1, 2]),
            json!("text"),
            Value::Null,
        ] {
            let mut copy = env.clone();
            assert_eq!(
                inject_with(&mut copy, &remote(), &p),
                InjectOutcome::Skipped,
                "{env}"
            );
            assert_eq!(copy, env);
        }
        let mut env = json!({});
        assert_eq!(
            inject_with(&mut env, &Context::new(), &p),
            InjectOutcome::Nothing
        );
        assert_eq!(env, json!({}));
    }

    #[test]
    fn round_trip_through_each_location() {
        let p = TraceContextPropagator::new();
        let mut env = json!({"jsonrpc": "2.0", "method": "message/send", "params": {}});
        inject_with(&mut env, &remote(), &p);
        assert_eq!(parent_of(&env).as_deref(), Some("00f067aa0ba902b7"));
        for env in [
            json!({"params": {"_meta": {"traceparent": TP}}}),
            json!({"params": {"message": {"metadata": {"traceparent": TP}}}}),
            json!({"params": {"metadata": {"traceparent": TP}}}),
            json!({"params": {"_meta": {"headers": {"Traceparent": TP}}}}),
        ] {
            assert_eq!(
                parent_of(&env).as_deref(),
                Some("00f067aa0ba902b7"),
                "{env}"
            );
        }
    }

    #[test]
    fn a_bad_value_in_one_location_falls_through_to_the_next() {
        let env = json!({"params": {"_meta": {"headers": {"traceparent": "garbage"}},
                                     "metadata": {"traceparent": TP}}});
        assert_eq!(parent_of(&env).as_deref(), Some("00f067aa0ba902b7"));
    }

    #[test]
    fn malformed_envelopes_mean_no_parent() {
        let huge = format!("00-{}-00f067aa0ba902b7-01", "a".repeat(MAX_VALUE_LEN));
        for env in [
            Value::Null,
            json!([]),
            json!("x"),
            json!({}),
            json!({"params": [1]}),
            json!({"params": {"_meta": "string"}}),
            json!({"params": {"_meta": {"headers": ["traceparent", TP]}}}),
            json!({"params": {"_meta": {"headers": {"traceparent": 42}}}}),
            json!({"params": {"_meta": {"headers": {"traceparent": null}}}}),
            json!({"params": {"_meta": {"headers": {"traceparent": {"v": TP}}}}}),
            json!({"params": {"_meta": {"headers": {"traceparent": "00-0000-bad"}}}}),
            json!({"params": {"_meta": {"headers": {"traceparent": huge}}}}),
            json!({"params": {"message": "metadata"}}),
        ] {
            assert_eq!(parent_of(&env), None, "{env}");
        }
    }
}
