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

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_capped_at_a_char_boundary() {
        assert_eq!(cap("héllo", 2), "h");
        assert_eq!(cap("héllo", 3), "hé");
        assert_eq!(cap("abc", 10), "abc");
    }
}
