//! Instructions per request, for `valgrind --tool=callgrind`: the machine's timings are noisy,
//! instruction counts are not. Runs 5,000 requests through one contestant of the `server` bench:
//!
//! `bare` · `identity` · `wrap` (a do-nothing layer wrapping the future and the body) · `off`
//! (ours, telemetry off) · `sampled` · `unsampled` · `min` (the hand-written minimal layer) ·
//! `minm` (the same with the duration metric) · `oit` (opentelemetry-instrumentation-tower).
//!
//! `scripts/instructions.sh` runs every contestant and prints the table; by hand:
//! `valgrind --tool=callgrind target/release/deps/instructions-* sampled`. Without a contestant
//! (as under `cargo bench`) it prints this usage and exits.

#[allow(dead_code)]
mod support;
use std::hint::black_box;
use support::{common, minimal, wrapper};

use axum::Router;
use http_body_util::BodyExt;
use opentelemetry_sdk::trace::Sampler;
use tower::ServiceExt;
use vystak_otel_server::{OtelServerLayer, ServerMetrics};

use common::{app, in_process_runtime, providers, request};

/// Requests per run.
const REQUESTS: usize = 5_000;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rt = in_process_runtime();
    let _enter = rt.enter();
    let sampler = if mode == "unsampled" {
        Sampler::AlwaysOff
    } else {
        Sampler::AlwaysOn
    };
    let (tp, mp) = providers(sampler);
    let app: Router = match mode.as_str() {
        "bare" => app(),
        "identity" => app().layer(tower::layer::util::Identity::new()),
        "wrap" => app().layer(wrapper::Layer),
        "off" => app().layer(OtelServerLayer::new()),
        // As with `Telemetry::init`'s providers: the duration through bound points.
        "sampled" | "unsampled" => app().layer(
            OtelServerLayer::new()
                .with_tracer_provider(&tp)
                .with_meter_provider(&mp)
                .with_server_metrics(ServerMetrics::default().with_bound_instruments(true)),
        ),
        // A provider not known to record bound instruments: the unbound path.
        "sampled-unbound" => app().layer(
            OtelServerLayer::new()
                .with_tracer_provider(&tp)
                .with_meter_provider(&mp),
        ),
        "min" => app().layer(minimal::layer(&tp)),
        "minm" => app().layer(minimal::with_metric(&tp, &mp)),
        "oit" => {
            opentelemetry::global::set_tracer_provider(tp.clone());
            opentelemetry::global::set_meter_provider(mp.clone());
            app().layer(opentelemetry_instrumentation_tower::http::server::Layer::new())
        }
        _ => {
            eprintln!(
                "usage: instructions bare|identity|wrap|off|sampled|sampled-unbound|unsampled|min|minm|oit \
                 (runs {REQUESTS} requests; see scripts/instructions.sh)"
            );
            return;
        }
    };
    let app = app.with_state(());
    rt.block_on(async {
        for _ in 0..REQUESTS {
            let resp = app.clone().oneshot(request()).await.unwrap();
            black_box(resp.into_body().collect().await.unwrap());
        }
    });
    let _ = (tp.shutdown(), mp.shutdown());
}
