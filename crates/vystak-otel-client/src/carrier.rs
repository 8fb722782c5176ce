//! Injecting propagation fields into request headers.

use http::HeaderMap;
use opentelemetry::propagation::Injector;

/// Writes propagation fields into headers; invalid names or values are skipped, never a panic.
pub(crate) struct HeaderInjector<'a> {
    pub(crate) headers: &'a mut HeaderMap,
    /// Keep a `traceparent` (and `tracestate`) that the caller set explicitly.
    pub(crate) keep_existing_traceparent: bool,
}

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if self.keep_existing_traceparent && matches!(key, "traceparent" | "tracestate") {
            return;
        }
        // Static header names and the value's bytes without a copy; invalid ones skipped.
        vystak_otel_propagator::HeaderMapInjector(self.headers).set(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_are_skipped_and_existing_traceparent_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", "00-mine".parse().unwrap());
        let mut inj = HeaderInjector {
            headers: &mut headers,
            keep_existing_traceparent: true,
        };
        inj.set("traceparent", "00-theirs".into());
        inj.set("baggage", "k=v".into());
        inj.set("bad header", "x".into());
        inj.set("x-ok", "line\nbreak".into());
        assert_eq!(headers["traceparent"], "00-mine");
        assert_eq!(headers["baggage"], "k=v");
        assert_eq!(headers.len(), 2);
    }
}
