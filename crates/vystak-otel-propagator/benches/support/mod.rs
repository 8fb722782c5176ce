//! What both propagator benches measure: extract from the incoming headers, inject into new ones.

use opentelemetry::propagation::TextMapPropagator;
use vystak_otel_propagator::{HeaderMapExtractor, HeaderMapInjector};

/// One extract + inject, the outgoing `HeaderMap` included.
pub(crate) fn round_trip(p: &dyn TextMapPropagator, incoming: &http::HeaderMap) -> http::HeaderMap {
    let cx = p.extract(&HeaderMapExtractor(incoming));
    let mut out = http::HeaderMap::new();
    p.inject_context(&cx, &mut HeaderMapInjector(&mut out));
    out
}

/// The two header sets: a plain `traceparent`, and the same with a 3-member `tracestate`.
pub(crate) fn headers() -> (http::HeaderMap, http::HeaderMap) {
    let mut plain = http::HeaderMap::new();
    plain.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let mut with_state = plain.clone();
    with_state.insert(
        "tracestate",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,fw529a3039@dt=-2"
            .parse()
            .unwrap(),
    );
    (plain, with_state)
}
