//! Parse + inject cost per request: this propagator next to the stock SDK `TraceContextPropagator`
//! on the same headers, in one run.
//!
//! `cargo bench -p vystak-otel-propagator --bench propagator`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use vystak_otel_propagator::{HeaderMapExtractor, HeaderMapInjector, W3cTraceContextPropagator};

fn round_trip(p: &dyn TextMapPropagator, incoming: &http::HeaderMap) -> http::HeaderMap {
    let cx = p.extract(&HeaderMapExtractor(incoming));
    let mut out = http::HeaderMap::new();
    p.inject_context(&cx, &mut HeaderMapInjector(&mut out));
    out
}

fn bench(c: &mut Criterion) {
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
    let ours = W3cTraceContextPropagator::new();
    let stock = TraceContextPropagator::new();
    let mut group = c.benchmark_group("extract + inject");
    for (label, headers) in [
        ("traceparent", &plain),
        ("traceparent + tracestate(3)", &with_state),
    ] {
        group.bench_function(format!("vystak W3C / {label}"), |b| {
            b.iter(|| black_box(round_trip(&ours, headers)))
        });
        group.bench_function(format!("stock SDK / {label}"), |b| {
            b.iter(|| black_box(round_trip(&stock, headers)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
