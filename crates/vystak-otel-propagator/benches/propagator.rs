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
use vystak_otel_propagator::W3cTraceContextPropagator;

mod support;

use support::{headers, round_trip};

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

fn bench(c: &mut Criterion) {
    let (plain, with_state) = headers();
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
