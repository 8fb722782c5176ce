//! Parse + inject cost per request: this propagator next to the stock SDK `TraceContextPropagator`
//! on the same headers, in one run.
//!
//! `cargo bench -p vystak-otel-propagator --bench propagator`

use std::alloc::System;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use vystak_otel_propagator::{HeaderMapExtractor, HeaderMapInjector, W3cTraceContextPropagator};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations of one extract + inject, averaged over many.
fn allocations(p: &dyn TextMapPropagator, incoming: &http::HeaderMap) -> f64 {
    const N: usize = 10_000;
    let region = Region::new(GLOBAL);
    for _ in 0..N {
        black_box(round_trip(p, incoming));
    }
    region.change().allocations as f64 / N as f64
}

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
    let mut allocs = Vec::new();
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
        allocs.push((format!("vystak W3C / {label}"), allocations(&ours, headers)));
        allocs.push((format!("stock SDK / {label}"), allocations(&stock, headers)));
    }
    group.finish();
    println!("\nallocations per extract + inject (the outgoing HeaderMap included):");
    for (name, n) in allocs {
        println!("  {name:<42} {n:>5.1}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
