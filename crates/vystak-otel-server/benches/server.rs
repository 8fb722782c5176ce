//! Per-request cost of `OtelServerLayer` over a bare axum router, in one run:
//! bare · identity layer · a do-nothing layer wrapping the future and the body · ours sampled
//! (span + duration metric) · ours unsampled · ours with telemetry off · a hand-written minimal
//! layer · `opentelemetry-instrumentation-tower` (spans + metrics) as the peer.
//!
//! Requests go through `tower::ServiceExt::oneshot` in-process (no sockets), so the numbers are
//! the middleware's. Allocations per request are counted with `stats_alloc` and printed.
//!
//! `cargo bench -p vystak-otel-server --bench server`

#[allow(dead_code)]
mod support;
use std::alloc::System;
use std::hint::black_box;
use support::{common, minimal, wrapper};

use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt;
use opentelemetry_sdk::trace::Sampler;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::ServiceExt;
use vystak_otel_server::{OtelServerLayer, ServerMetrics};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

use common::{app, in_process_runtime, providers, request};

/// What `axum::serve` does per connection: turn handlers into routes (and apply the layers) once.
fn ready(router: Router) -> Router {
    router.with_state(())
}

async fn one(router: &Router) {
    let resp = router.clone().oneshot(request()).await.unwrap();
    let body = resp.into_body().collect().await.unwrap();
    black_box(body);
}

fn allocations(rt: &tokio::runtime::Runtime, router: &Router) -> f64 {
    const N: usize = 2_000;
    rt.block_on(one(router)); // warm
    let region = Region::new(GLOBAL);
    rt.block_on(async {
        for _ in 0..N {
            one(router).await;
        }
    });
    region.change().allocations as f64 / N as f64
}

fn bench(c: &mut Criterion) {
    let rt = in_process_runtime();
    let _enter = rt.enter();

    // The global providers, none installed yet: telemetry off.
    let off = ready(app().layer(OtelServerLayer::new()));
    let (tp, mp) = providers(Sampler::AlwaysOn);
    // As with `Telemetry::init`'s providers: the duration through bound points.
    let bound = ServerMetrics::default().with_bound_instruments(true);
    let sampled = ready(
        app().layer(
            OtelServerLayer::new()
                .with_tracer_provider(&tp)
                .with_meter_provider(&mp)
                .with_server_metrics(bound),
        ),
    );
    let (tp_off, mp_off) = providers(Sampler::AlwaysOff);
    let unsampled = ready(
        app().layer(
            OtelServerLayer::new()
                .with_tracer_provider(&tp_off)
                .with_meter_provider(&mp_off)
                .with_server_metrics(bound),
        ),
    );
    let (tp_min, _mp_min) = providers(Sampler::AlwaysOn);
    let minimal = ready(app().layer(minimal::layer(&tp_min)));
    let (tp_min2, mp_min2) = providers(Sampler::AlwaysOn);
    let minimal_metric = ready(app().layer(minimal::with_metric(&tp_min2, &mp_min2)));
    let bare = ready(app());
    // What any layer costs in axum (a boxed future and body per layered route): the floor.
    let identity = ready(app().layer(tower::layer::util::Identity::new()));
    // The floor for "telemetry off": a layer that only wraps the future and the body.
    let wrapping = ready(app().layer(wrapper::Layer));

    let mut group = c.benchmark_group("server per request");
    let mut allocs = Vec::new();
    // Everything but the peer first: the layers resolve the global providers at request time,
    // so "telemetry off" must be measured before the peer's global providers are installed.
    for (name, router) in [
        ("bare router", &bare),
        ("identity layer (axum's per-layer cost)", &identity),
        ("do-nothing layer wrapping future + body", &wrapping),
        ("vystak sampled", &sampled),
        ("vystak unsampled", &unsampled),
        ("vystak telemetry off", &off),
        (
            "hand-written minimal layer (span, 4 attrs, no metric)",
            &minimal,
        ),
        (
            "hand-written minimal layer + duration metric (5 attrs)",
            &minimal_metric,
        ),
    ] {
        group.bench_function(name, |b| b.to_async(&rt).iter(|| one(router)));
        allocs.push((name, allocations(&rt, router)));
    }
    // The peer reads the global providers only.
    let (gtp, gmp) = providers(Sampler::AlwaysOn);
    opentelemetry::global::set_tracer_provider(gtp.clone());
    opentelemetry::global::set_meter_provider(gmp.clone());
    let peer = ready(app().layer(opentelemetry_instrumentation_tower::http::server::Layer::new()));
    let name = "opentelemetry-instrumentation-tower 0.19";
    group.bench_function(name, |b| b.to_async(&rt).iter(|| one(&peer)));
    allocs.push((name, allocations(&rt, &peer)));
    group.finish();
    println!("\nallocations per request:");
    for (name, n) in allocs {
        println!("  {name:<42} {n:>6.1}");
    }
    let _ = (
        tp.shutdown(),
        tp_off.shutdown(),
        tp_min.shutdown(),
        tp_min2.shutdown(),
        mp_min2.shutdown(),
        gtp.shutdown(),
        mp.shutdown(),
        mp_off.shutdown(),
        gmp.shutdown(),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
