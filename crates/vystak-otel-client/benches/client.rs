//! Per-request overhead of `OtelClientMiddleware` over a bare `reqwest_middleware` client, both
//! against the same axum server on loopback, in one run; plus telemetry off (no provider).
//!
//! `cargo bench -p vystak-otel-client --bench client`

use std::alloc::System;
use std::hint::black_box;

use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use vystak_otel_client::OtelClientMiddleware;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations per request in the whole process (the in-process server's included: the
/// difference to the bare client is the middleware's, plus the server reading the extra
/// `traceparent` header).
fn allocations(rt: &tokio::runtime::Runtime, client: &ClientWithMiddleware, url: &str) -> f64 {
    const N: usize = 1_000;
    rt.block_on(one(client, url));
    let region = Region::new(GLOBAL);
    rt.block_on(async {
        for _ in 0..N {
            one(client, url).await;
        }
    });
    region.change().allocations as f64 / N as f64
}

/// Drops every batch: the exporter's cost stays out of the measurement.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

async fn one(client: &ClientWithMiddleware, url: &str) {
    let resp = client.get(url).send().await.unwrap();
    black_box(resp.bytes().await.unwrap());
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(async {
        let app = Router::new().route("/ping", get(|| async { "pong" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/ping")
    });
    let _enter = rt.enter();
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(Discard)
        .build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let bare = ClientBuilder::new(reqwest::Client::new()).build();
    let off = ClientBuilder::new(reqwest::Client::new())
        .with(OtelClientMiddleware::new())
        .build();
    let ours = OtelClientMiddleware::new()
        .with_tracer_provider(&tp)
        .with_meter_provider(&mp)
        // The propagator `Telemetry::init` installs.
        .with_propagator(vystak_otel_propagator::W3cTraceContextPropagator::new());
    // As with `Telemetry::init`'s providers: the duration through bound points.
    let sampled = ClientBuilder::new(reqwest::Client::new())
        .with(ours.clone().with_bound_instruments(true))
        .build();
    // A meter provider not known to record bound instruments: the unbound path.
    let unbound = ClientBuilder::new(reqwest::Client::new())
        .with(ours)
        .build();
    let mut group = c.benchmark_group("client per request (loopback)");
    let mut allocs = Vec::new();
    for (name, client) in [
        ("bare reqwest-middleware", &bare),
        ("vystak sampled", &sampled),
        ("vystak sampled, unbound", &unbound),
        ("vystak telemetry off", &off),
    ] {
        group.bench_function(name, |b| b.to_async(&rt).iter(|| one(client, &url)));
        allocs.push((name, allocations(&rt, client, &url)));
    }
    group.finish();
    println!("\nallocations per request (client and in-process server):");
    for (name, n) in allocs {
        println!("  {name:<28} {n:>6.1}");
    }
    let _ = (tp.shutdown(), mp.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
