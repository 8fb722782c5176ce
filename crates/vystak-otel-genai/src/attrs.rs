//! Attribute helpers shared by every span and metric: static keys, string arrays, `{operation}
//! {target}` span names and content capped at a character boundary.

use opentelemetry::{Array, Key, StringValue, Value};

pub(crate) fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
}

pub(crate) fn string_array(items: &[String]) -> Value {
    Value::Array(Array::String(
        items.iter().map(|s| StringValue::from(s.clone())).collect(),
    ))
}

/// `{operation} {target}`, the span name of the latest conventions, without `format!`'s
/// machinery (one exact allocation).
pub(crate) fn span_name(operation: &str, target: &str) -> String {
    let mut name = String::with_capacity(operation.len() + 1 + target.len());
    name.push_str(operation);
    name.push(' ');
    name.push_str(target);
    name
}

pub(crate) use vystak_otel_core::attrs::cap;
