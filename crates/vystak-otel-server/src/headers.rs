//! Allow-listed header capture. (Propagation reads headers through
//! `vystak_otel_propagator::HeaderMapExtractor`, which exposes every line of a repeated header.)

use http::{HeaderMap, HeaderName};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

use crate::semconv::REDACTED;

/// Appends `prefix<name>` string-array attributes for the allow-listed headers that are present;
/// values of `sensitive` headers become `REDACTED`.
pub(crate) fn capture(
    names: &[HeaderName],
    sensitive: &[HeaderName],
    headers: &HeaderMap,
    prefix: &str,
    out: &mut Vec<KeyValue>,
) {
    for name in names {
        let mut values = headers.get_all(name).iter().peekable();
        if values.peek().is_none() {
            continue;
        }
        let redact = sensitive.contains(name);
        let list: Vec<StringValue> = values
            .map(|v| {
                if redact {
                    StringValue::from(REDACTED)
                } else {
                    StringValue::from(String::from_utf8_lossy(v.as_bytes()).into_owned())
                }
            })
            .collect();
        out.push(KeyValue::new(
            Key::from(format!("{prefix}{}", name.as_str())),
            Value::Array(Array::String(list)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_uses_lowercase_names_arrays_and_redaction() {
        let mut headers = HeaderMap::new();
        headers.append("x-tenant", "acme".parse().unwrap());
        headers.append("x-tenant", "beta".parse().unwrap());
        headers.insert("authorization", "Bearer secret".parse().unwrap());
        let mut out = Vec::new();
        capture(
            &[
                HeaderName::from_static("x-tenant"),
                http::header::AUTHORIZATION,
                HeaderName::from_static("x-absent"),
            ],
            &[http::header::AUTHORIZATION],
            &headers,
            "http.request.header.",
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].key.as_str(), "http.request.header.x-tenant");
        assert_eq!(out[0].value.to_string(), r#"["acme","beta"]"#);
        assert_eq!(out[1].key.as_str(), "http.request.header.authorization");
        assert_eq!(out[1].value.to_string(), r#"["REDACTED"]"#);
    }
}
