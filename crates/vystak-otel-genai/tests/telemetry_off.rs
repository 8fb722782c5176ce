//! Telemetry off (no tracer or meter provider installed): `instrument()` adds no allocation to
//! the caller's own, and a tracer provider installed later, even alone, is picked up. Global
//! state and a counting allocator, so this file holds one test.

use std::alloc::System;

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use vystak_otel_genai::{instrument, GenAiCall, GenAiResponse, Usage};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

struct Reply;
impl GenAiResponse for Reply {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: Some(3),
            output_tokens: Some(2),
            ..Usage::default()
        })
    }
}

const N: usize = 500;

/// Allocations of `N` calls: the caller's part (the call description and its future) and, when
/// `wrapped`, `instrument()` around it.
fn allocations(rt: &tokio::runtime::Runtime, wrapped: bool) -> usize {
    let region = Region::new(GLOBAL);
    rt.block_on(async {
        for _ in 0..N {
            let call = GenAiCall::chat("anthropic", "claude-haiku-4-5");
            let future = async { Ok::<_, std::io::Error>(Reply) };
            let reply = if wrapped {
                instrument(call, future).await
            } else {
                drop(call);
                future.await
            };
            std::hint::black_box(reply.unwrap());
        }
    });
    region.change().allocations
}

#[test]
fn telemetry_off_costs_no_allocation_and_a_later_tracer_provider_is_picked_up() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Warm: the first call probes the global providers.
    allocations(&rt, true);
    let caller = allocations(&rt, false);
    let instrumented = allocations(&rt, true);
    assert_eq!(
        instrumented,
        caller,
        "telemetry off: {} extra allocations per call",
        (instrumented as f64 - caller as f64) / N as f64
    );

    // A tracer provider alone (no meter provider): picked up once the off answer is re-checked,
    // at once when the application says the providers changed (else within 100 ms).
    let spans = InMemorySpanExporter::default();
    let tp = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    opentelemetry::global::set_tracer_provider(tp.clone());
    vystak_otel_genai::GenAiInstrumentation::global_providers_changed();
    rt.block_on(instrument(
        GenAiCall::chat("anthropic", "after-tracer-only"),
        async { Ok::<_, std::io::Error>(Reply) },
    ))
    .unwrap();
    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0].name, "gen_ai.chat");
    let _ = tp.shutdown();
}
