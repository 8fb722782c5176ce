//! NATS message headers as a propagation carrier.

use std::str::FromStr;

use async_nats::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

/// Reads propagation fields from NATS message headers.
#[derive(Debug)]
pub struct NatsHeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for NatsHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let name = HeaderName::from_str(key).ok()?;
        self.0
            .get(name)
            .map(HeaderValue::as_str)
            .filter(|v| v.len() <= crate::envelope::MAX_VALUE_LEN)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

/// Writes propagation fields into NATS message headers; names or values NATS cannot carry
/// (control characters, line breaks) are skipped, never a panic.
#[derive(Debug)]
pub struct NatsHeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for NatsHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if value.contains(['\r', '\n']) {
            return;
        }
        let (Ok(name), Ok(value)) = (HeaderName::from_str(key), HeaderValue::from_str(&value))
        else {
            return;
        };
        self.0.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_values_are_skipped() {
        let mut headers = HeaderMap::new();
        let mut inj = NatsHeaderInjector(&mut headers);
        inj.set("traceparent", "00-abc".into());
        inj.set("tracestate", "a=1\r\nInjected: yes".into());
        inj.set("bad name", "x".into());
        let ex = NatsHeaderExtractor(&headers);
        assert_eq!(ex.get("traceparent"), Some("00-abc"));
        assert_eq!(ex.get("tracestate"), None);
        assert_eq!(ex.keys().len(), 1);
        assert_eq!(ex.get("bad name"), None);
    }
}
