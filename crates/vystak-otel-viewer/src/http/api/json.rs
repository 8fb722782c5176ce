//! JSON views of the stored records, as the trace API returns them.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::model::record::{AttrValue, LogRecord, SpanRecord, SpanStatus};
use crate::query::traces::{span_tokens, TraceSummary};

/// An attribute value as plain JSON (string, bool, number, array, object; bytes as hex).
pub(crate) fn attr(value: &AttrValue) -> Value {
    match value {
        AttrValue::Str(s) => Value::String(s.clone()),
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::Int(i) => json!(i),
        AttrValue::Double(d) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        AttrValue::Array(items) => Value::Array(items.iter().map(attr).collect()),
        AttrValue::Bytes(b) => Value::String(crate::otlp::records::hex(b)),
        AttrValue::Map(m) => attrs(m),
    }
}

pub(crate) fn attrs(map: &BTreeMap<String, AttrValue>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), attr(v)))
            .collect::<Map<String, Value>>(),
    )
}

pub(crate) fn span(s: &SpanRecord) -> Value {
    let (code, message) = match &s.status {
        SpanStatus::Unset => ("UNSET", ""),
        SpanStatus::Ok => ("OK", ""),
        SpanStatus::Error { message } => ("ERROR", message.as_str()),
    };
    let duration = s.end_unix_nanos.saturating_sub(s.start_unix_nanos);
    let tokens = span_tokens(s);
    json!({
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "name": s.name,
        "kind": s.kind.as_str(),
        "service_name": s.service_name,
        "scope_name": s.scope_name,
        "status": { "code": code, "message": message },
        "start_unix_nanos": s.start_unix_nanos,
        "end_unix_nanos": s.end_unix_nanos,
        "duration_nanos": duration,
        "duration_ms": duration as f64 / 1e6,
        "attributes": attrs(&s.attributes),
        "resource": attrs(&s.resource),
        "events": s.events.iter().map(|e| json!({
            "name": e.name,
            "time_unix_nanos": e.time_unix_nanos,
            "attributes": attrs(&e.attributes),
        })).collect::<Vec<_>>(),
        "links": s.links.iter().map(|l| json!({
            "trace_id": l.trace_id,
            "span_id": l.span_id,
            "attributes": attrs(&l.attributes),
        })).collect::<Vec<_>>(),
        "tokens": tokens,
    })
}

pub(crate) fn log(l: &LogRecord) -> Value {
    json!({
        "time_unix_nanos": l.time_unix_nanos,
        "observed_unix_nanos": l.observed_unix_nanos,
        "severity_number": l.severity_number,
        "severity_text": l.severity_text,
        "body": attr(&l.body),
        "attributes": attrs(&l.attributes),
        "trace_id": l.trace_id,
        "span_id": l.span_id,
        "service_name": l.service_name,
        "scope_name": l.scope_name,
        "event_name": l.event_name,
    })
}

pub(crate) fn summary(t: &TraceSummary) -> Value {
    json!({
        "trace_id": t.trace_id,
        "root_service": t.root_service,
        "root_name": t.root_name,
        "has_root": t.has_root,
        "start_unix_nanos": t.start_unix_nanos,
        "duration_nanos": t.duration_nanos,
        "duration_ms": t.duration_nanos as f64 / 1e6,
        "span_count": t.span_count,
        "services": t.services,
        "error": t.has_error(),
        "error_count": t.error_count,
        "tokens": t.tokens,
    })
}
