//! Instructions per model call, for `valgrind --tool=callgrind` (the machine's timings are
//! noisy, instruction counts are not): 5,000 calls of one contestant of the `genai` bench over an
//! immediately ready future — `ours` (`instrument()`, sampled), `call` (building the
//! `GenAiCall` alone, the caller's part), `same` (the hand-written call recording the same data),
//! `min` (the hand-written minimum), `tool-ours` / `tool-hand` (`instrument_tool` and the
//! same tool span by hand), `none` for the baseline. Spans go to a simple
//! processor with a discarding exporter, so all the work is on the measured thread.
//!
//! `scripts/instructions.sh` runs them all and prints the table. Without a contestant (as under
//! `cargo bench`) it prints this usage and exits.

use std::hint::black_box;

use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use vystak_otel_genai::{GenAiCall, GenAiInstrumentation, ToolExecution};

mod support;
use support as peers;

use peers::{Discard, Peers, Reply};

/// Calls per run.
const CALLS: usize = 5_000;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if !matches!(
        mode.as_str(),
        "none" | "call" | "ours" | "ours-unbound" | "same" | "min" | "tool-ours" | "tool-hand"
    ) {
        eprintln!(
            "usage: instructions none|call|ours|ours-unbound|same|min|tool-ours|tool-hand (runs {CALLS} \
             calls; see scripts/instructions.sh)"
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let tp = SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    // As with `Telemetry::init`'s providers: tokens and duration through bound points.
    let ours = GenAiInstrumentation::new()
        .with_tracer_provider(&tp)
        .with_meter_provider(&mp)
        .with_bound_instruments(mode != "ours-unbound");
    let peers = Peers::new(&tp, &mp);
    rt.block_on(async {
        for _ in 0..CALLS {
            match mode.as_str() {
                "call" => drop(black_box(GenAiCall::anthropic("claude-haiku-4-5"))),
                "ours" | "ours-unbound" => {
                    let call = GenAiCall::anthropic("claude-haiku-4-5");
                    let out = ours.instrument(call, async { Ok::<_, ()>(Reply) }).await;
                    drop(black_box(out));
                }
                "same" => drop(black_box(peers.chat_same_data().await)),
                "min" => drop(black_box(peers.chat_minimum().await)),
                "tool-ours" => {
                    let tool = ToolExecution::new("get_weather").with_call_id("toolu_01");
                    let out = ours
                        .instrument_tool(tool, async { Ok::<_, ()>("21 C".to_owned()) })
                        .await;
                    drop(black_box(out));
                }
                "tool-hand" => drop(black_box(peers.tool().await)),
                _ => {}
            }
        }
    });
    let _ = (tp.shutdown(), mp.shutdown());
}
