//! Wrapper overhead per model call over an immediately-ready future: sampled (SDK providers with
//! a discarding exporter) and telemetry off (no provider installed).
//!
//! `cargo bench -p vystak-otel-genai --bench genai`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use vystak_otel_genai::{GenAiCall, GenAiInstrumentation, GenAiResponse, Usage};

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
    group.bench_function("bare ready future", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(async { Ok::<_, ()>(Reply) }.await) })
    });
    for (name, inst) in [("vystak sampled", &sampled), ("vystak telemetry off", &off)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let call = GenAiCall::anthropic("claude-haiku-4-5");
                black_box(inst.instrument(call, async { Ok::<_, ()>(Reply) }).await)
            })
        });
    }
    group.finish();
    let _ = (tp.shutdown(), mp.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
