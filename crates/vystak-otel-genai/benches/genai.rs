//! Wrapper overhead per model call over an immediately-ready future: sampled (SDK providers with
//! a discarding exporter) and telemetry off (no provider installed); with a price table; and the
//! agent (`invoke_agent`) and tool (`execute_tool`) wrappers next to `instrument()` and to a
//! hand-written span on the raw API with the same attributes.
//!
//! `cargo bench -p vystak-otel-genai --bench genai`

use std::alloc::System;
use std::future::Future;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use vystak_otel_genai::{
    AgentInvocation, GenAiCall, GenAiInstrumentation, ModelPrice, PriceTable, ToolExecution,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations per call of `f`, averaged over many calls.
fn allocations<F, Fut>(rt: &tokio::runtime::Runtime, f: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future,
{
    const N: usize = 2_000;
    rt.block_on(async { black_box(f().await) });
    let region = Region::new(GLOBAL);
    rt.block_on(async {
        for _ in 0..N {
            black_box(f().await);
        }
    });
    region.change().allocations as f64 / N as f64
}

mod support;
use support as peers;

use peers::{Discard, Peers, Reply};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let off = GenAiInstrumentation::new();
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(Discard)
        .build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    let sampled = GenAiInstrumentation::new()
        .with_tracer_provider(&tp)
        .with_meter_provider(&mp);
    let mut group = c.benchmark_group("genai per call");
    let mut allocs: Vec<(String, f64)> = Vec::new();
    let bare = || async { black_box(async { Ok::<_, ()>(Reply) }.await) };
    group.bench_function("bare ready future", |b| b.to_async(&rt).iter(bare));
    allocs.push(("bare ready future".into(), allocations(&rt, bare)));
    // The caller's own part: building the call description.
    let call_only = || async { black_box(GenAiCall::anthropic("claude-haiku-4-5")) };
    group.bench_function("GenAiCall::anthropic alone (the caller's part)", |b| {
        b.to_async(&rt).iter(call_only)
    });
    allocs.push((
        "GenAiCall::anthropic alone".into(),
        allocations(&rt, call_only),
    ));
    for (name, inst) in [("vystak sampled", &sampled), ("vystak telemetry off", &off)] {
        let run = || async {
            let call = GenAiCall::anthropic("claude-haiku-4-5");
            black_box(inst.instrument(call, async { Ok::<_, ()>(Reply) }).await)
        };
        group.bench_function(name, |b| b.to_async(&rt).iter(run));
        allocs.push((name.into(), allocations(&rt, run)));
    }
    // The peers: a chat call written by hand on the raw API — the minimum, and the
    // same data as ours.
    let peers = Peers::new(&tp, &mp);
    let hand_chat = || async { black_box(peers.chat_minimum().await) };
    let hand_same = || async { black_box(peers.chat_same_data().await) };
    group.bench_function("hand-written raw-API chat, same data as ours", |b| {
        b.to_async(&rt).iter(hand_same)
    });
    allocs.push((
        "hand-written raw-API chat, same data as ours".into(),
        allocations(&rt, hand_same),
    ));
    group.bench_function("hand-written raw-API chat span + 4 records", |b| {
        b.to_async(&rt).iter(hand_chat)
    });
    allocs.push((
        "hand-written raw-API chat span + 4 records".into(),
        allocations(&rt, hand_chat),
    ));
    let priced = sampled.clone().with_prices(
        PriceTable::new().with_model("claude-haiku-4-5-20251001", ModelPrice::anthropic(1.0, 5.0)),
    );
    group.bench_function("vystak sampled, priced", |b| {
        b.to_async(&rt).iter(|| async {
            let call = GenAiCall::anthropic("claude-haiku-4-5");
            black_box(priced.instrument(call, async { Ok::<_, ()>(Reply) }).await)
        })
    });
    for (name, inst) in [("sampled", &sampled), ("telemetry off", &off)] {
        group.bench_function(format!("agent turn {name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let turn = AgentInvocation::new("weather-agent")
                    .with_provider("anthropic")
                    .with_conversation_id("C123");
                black_box(inst.instrument_agent(turn, async { Ok::<_, ()>(1) }).await)
            })
        });
        group.bench_function(format!("tool call {name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let tool = ToolExecution::new("get_weather").with_call_id("toolu_01");
                black_box(
                    inst.instrument_tool(tool, async { Ok::<_, ()>("21 C".to_owned()) })
                        .await,
                )
            })
        });
    }
    // The peer: the same tool span written by hand on the raw API (4 attributes).
    group.bench_function("hand-written raw-API tool span", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(peers.tool().await) })
    });
    group.finish();
    println!("\nallocations per call:");
    for (name, n) in allocs {
        println!("  {name:<46} {n:>6.1}");
    }
    let _ = (tp.shutdown(), mp.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
