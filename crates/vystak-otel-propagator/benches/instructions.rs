//! Instructions per extract + inject, for `valgrind --tool=callgrind` (the machine's timings are
//! noisy, instruction counts are not): 20,000 round trips of one contestant of the
//! `propagator` bench — `ours` / `stock` (the SDK's `TraceContextPropagator`) on a plain
//! `traceparent`, `ours-ts` / `stock-ts` with a 3-member `tracestate`, `none` for the baseline.
//!
//! `scripts/instructions.sh` runs them all and prints the table. Without a contestant (as under
//! `cargo bench`) it prints this usage and exits.

use std::hint::black_box;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use vystak_otel_propagator::W3cTraceContextPropagator;

mod support;

use support::{headers, round_trip};

/// Round trips per run.
const ROUND_TRIPS: usize = 20_000;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let (plain, with_state) = headers();
    let ours = W3cTraceContextPropagator::new();
    let stock = TraceContextPropagator::new();
    let (p, h, n): (&dyn TextMapPropagator, _, _) = match mode.as_str() {
        "none" => (&ours, &plain, 0),
        "ours" => (&ours, &plain, ROUND_TRIPS),
        "stock" => (&stock, &plain, ROUND_TRIPS),
        "ours-ts" => (&ours, &with_state, ROUND_TRIPS),
        "stock-ts" => (&stock, &with_state, ROUND_TRIPS),
        _ => {
            eprintln!(
                "usage: instructions none|ours|stock|ours-ts|stock-ts \
                 (runs {ROUND_TRIPS} round trips; see scripts/instructions.sh)"
            );
            return;
        }
    };
    for _ in 0..n {
        black_box(round_trip(p, h));
    }
}
