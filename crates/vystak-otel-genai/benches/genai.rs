//! Wrapper overhead per model call over an immediately-ready future: sampled (SDK providers with
//! a discarding exporter) and telemetry off (no provider installed); with a price table; and the
//! agent (`invoke_agent`) and tool (`execute_tool`) wrappers next to `instrument()` and to a
//! hand-written span on the raw API with the same attributes.
//!
//! `cargo bench -p vystak-otel-genai --bench genai`

use std::alloc::System;
use std::future::Future;
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{FutureExt as _, SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use vystak_otel_genai::{
    AgentInvocation, GenAiCall, GenAiInstrumentation, GenAiResponse, ModelPrice, PriceTable,
    ToolExecution, Usage,
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

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

struct Reply;
impl GenAiResponse for Reply {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: Some(20),
            output_tokens: Some(5),
            cache_read_input_tokens: Some(1000),
            cache_creation_input_tokens: Some(30),
            reasoning_output_tokens: None,
        })
    }
    fn response_model(&self) -> Option<&str> {
        Some("claude-haiku-4-5-20251001")
    }
}

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
    // The peer: a chat span written by hand on the raw API — 6 attributes, 3 token points and
    // the duration (4 histogram records).
    let tracer = tp.tracer("hand-written");
    let meter = mp.meter("hand-written");
    let tokens = meter.u64_histogram("gen_ai.client.token.usage").build();
    let duration = meter
        .f64_histogram("gen_ai.client.operation.duration")
        .build();
    let hand_chat = || async {
        let start = Instant::now();
        let span = tracer
            .span_builder("gen_ai.chat")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.provider.name", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5"),
            ])
            .start(&tracer);
        let cx = Context::current_with_span(span);
        let out = async { Ok::<_, ()>(Reply) }.with_context(cx.clone()).await;
        let usage = out
            .as_ref()
            .ok()
            .and_then(GenAiResponse::usage)
            .unwrap_or_default();
        let span = cx.span();
        span.set_attributes([
            KeyValue::new(
                "gen_ai.usage.input_tokens",
                usage.input_tokens.unwrap_or(0) as i64,
            ),
            KeyValue::new(
                "gen_ai.usage.output_tokens",
                usage.output_tokens.unwrap_or(0) as i64,
            ),
        ]);
        span.end();
        let attrs = |ty: &'static str| {
            [
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5"),
                KeyValue::new("gen_ai.token.type", ty),
            ]
        };
        tokens.record(usage.input_tokens.unwrap_or(0), &attrs("input"));
        tokens.record(usage.output_tokens.unwrap_or(0), &attrs("output"));
        tokens.record(
            usage.cache_read_input_tokens.unwrap_or(0),
            &attrs("cache_read"),
        );
        duration.record(start.elapsed().as_secs_f64(), &attrs("input")[..3]);
        black_box(out)
    };
    // The same data as `instrument()` records for this call, written by hand: 11 span
    // attributes (the seed's and the v1.40 cache names), 4 token points and the duration. The
    // difference to ours is the wrapper's own cost.
    let hand_same = || async {
        let start = Instant::now();
        let span = tracer
            .span_builder("gen_ai.chat")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.provider.name", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5".to_owned()),
            ])
            .start(&tracer);
        let cx = Context::current_with_span(span);
        let out = async { Ok::<_, ()>(Reply) }.with_context(cx.clone()).await;
        let reply = out.as_ref().ok();
        let usage = reply.and_then(GenAiResponse::usage).unwrap_or_default();
        let model = reply
            .and_then(GenAiResponse::response_model)
            .unwrap_or("claude-haiku-4-5")
            .to_owned();
        let read = usage.cache_read_input_tokens.unwrap_or(0);
        let creation = usage.cache_creation_input_tokens.unwrap_or(0);
        let input = usage.input_tokens.unwrap_or(0) + read + creation;
        let output = usage.output_tokens.unwrap_or(0);
        let span = cx.span();
        span.set_attributes([
            KeyValue::new("gen_ai.response.model", model.clone()),
            KeyValue::new("gen_ai.usage.input_tokens", input as i64),
            KeyValue::new("gen_ai.usage.output_tokens", output as i64),
            KeyValue::new("gen_ai.usage.cache_read.input_tokens", read as i64),
            KeyValue::new("gen_ai.usage.cache_creation.input_tokens", creation as i64),
            KeyValue::new("gen_ai.usage.cache_read_input_tokens", read as i64),
            KeyValue::new("gen_ai.usage.cache_creation_input_tokens", creation as i64),
        ]);
        span.end();
        let mut attrs = [
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.system", "anthropic"),
            KeyValue::new("gen_ai.request.model", model),
            KeyValue::new("gen_ai.token.type", "input"),
        ];
        for (ty, v) in [
            ("input", input),
            ("output", output),
            ("cache_read", read),
            ("cache_creation", creation),
        ] {
            attrs[3] = KeyValue::new("gen_ai.token.type", ty);
            tokens.record(v, &attrs);
        }
        duration.record(start.elapsed().as_secs_f64(), &attrs[..3]);
        black_box(out)
    };
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
        b.to_async(&rt).iter(|| async {
            let span = tracer
                .span_builder("execute_tool get_weather")
                .with_kind(SpanKind::Internal)
                .with_attributes([
                    KeyValue::new("gen_ai.operation.name", "execute_tool"),
                    KeyValue::new("gen_ai.tool.name", "get_weather"),
                    KeyValue::new("gen_ai.tool.type", "function"),
                    KeyValue::new("gen_ai.tool.call.id", "toolu_01"),
                ])
                .start(&tracer);
            let cx = Context::current_with_span(span);
            let out = async { Ok::<_, ()>("21 C".to_owned()) }
                .with_context(cx.clone())
                .await;
            cx.span().end();
            black_box(out)
        })
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
