//! `http::HeaderMap` carriers that expose every value of a repeated header.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector};

/// Reads propagation fields from a `HeaderMap`; [`Extractor::get_all`] returns every line of a
/// repeated header, so repeated `traceparent` can be rejected and `tracestate` lines combined.
///
/// A line that is not visible ASCII is never skipped: it is returned as [`INVALID_VALUE`], a
/// string no propagation grammar accepts, so it counts as an invalid value (a second
/// `traceparent` still restarts the trace; a bad `tracestate` line discards the list).
#[derive(Debug)]
pub struct HeaderMapExtractor<'a>(pub &'a HeaderMap);

/// What [`HeaderMapExtractor`] returns for a header line that is not visible ASCII.
pub const INVALID_VALUE: &str = "\u{0}invalid header value";

/// `HeaderValue::to_str`, word-at-a-time: a `HeaderValue` holds no control byte but tab (`http`
/// checks on construction), so it is visible ASCII exactly when it is ASCII.
fn as_str(value: &HeaderValue) -> &str {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(s) if s.is_ascii() => s,
        _ => INVALID_VALUE,
    }
}

impl Extractor for HeaderMapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // The propagators' own names are parsed once, not on every lookup.
        match static_name(key) {
            Some(name) => self.0.get(name),
            None => self.0.get(key),
        }
        .map(as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = match static_name(key) {
            Some(name) => self.0.get_all(name),
            None => self.0.get_all(key),
        }
        .iter()
        .map(as_str)
        .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// Writes propagation fields into a `HeaderMap`, replacing earlier values; invalid names or
/// values are skipped, never a panic.
#[derive(Debug)]
pub struct HeaderMapInjector<'a>(pub &'a mut HeaderMap);

/// The header names the propagators of this workspace write, parsed once: a custom
/// `HeaderName` made from a `&str` copies it, a static one does not.
pub(crate) fn static_name(key: &str) -> Option<&'static HeaderName> {
    static TRACEPARENT: HeaderName = HeaderName::from_static(crate::propagator::TRACEPARENT);
    static TRACESTATE: HeaderName = HeaderName::from_static(crate::propagator::TRACESTATE);
    static BAGGAGE: HeaderName = HeaderName::from_static("baggage");
    match key {
        crate::propagator::TRACEPARENT => Some(&TRACEPARENT),
        crate::propagator::TRACESTATE => Some(&TRACESTATE),
        "baggage" => Some(&BAGGAGE),
        _ => None,
    }
}

impl Injector for HeaderMapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = match static_name(key) {
            Some(name) => Ok(name.clone()),
            None => HeaderName::from_bytes(key.as_bytes()),
        };
        // The value's bytes become the header's without a copy (validated all the same).
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_maybe_shared(Bytes::from(value))) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path agrees with `HeaderValue::to_str` on every value `http` lets exist: each
    /// single byte, and UTF-8 text that is not ASCII.
    #[test]
    fn as_str_agrees_with_to_str() {
        let mut values: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b'a', b, b'z']).collect();
        values.push("caf\u{e9}".as_bytes().to_vec());
        values.push(b"00-\t-01".to_vec());
        let mut checked = 0;
        for bytes in values {
            let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                continue;
            };
            assert_eq!(
                as_str(&value),
                value.to_str().unwrap_or(INVALID_VALUE),
                "{bytes:?}"
            );
            checked += 1;
        }
        // Tab, the 95 visible ASCII bytes, the 128 bytes of obs-text, and the two texts.
        assert_eq!(checked, 1 + 95 + 128 + 2);
    }
}
