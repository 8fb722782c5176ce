//! Server CPU per request over loopback: each variant serves the same axum app on 127.0.0.1
//! (`axum::serve`, `ConnectInfo`, one current-thread runtime on its own thread) while a reqwest
//! client on another thread sends POSTs with a `traceparent` over one keep-alive connection. The
//! server thread's CPU time (`/proc/self/task/<tid>/stat`, user + system) is divided by the
//! number of requests. Rounds are interleaved; the median round is reported, as overhead over
//! the bare router and as a ratio of opentelemetry-instrumentation-tower's overhead.
//!
//! `cargo bench -p vystak-otel-server --bench loopback` (Linux only: it reads `/proc`).

#[allow(dead_code)]
mod support;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;
use support::{common, minimal};

use axum::Router;
use opentelemetry_sdk::trace::Sampler;
use vystak_otel_server::OtelServerLayer;

use common::{app, providers};

const REQUESTS: u64 = 40_000;
const ROUNDS: usize = 5;

/// user + system CPU seconds of one thread of this process.
fn thread_cpu_seconds(tid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let after = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

/// Serves `router` on its own thread; returns its address, its thread id and a stop handle.
fn serve(router: Router) -> (SocketAddr, String, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let tid = std::fs::read_link("/proc/thread-self")
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), tid)).unwrap();
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let (addr, tid) = rx.recv().unwrap();
    (addr, tid, stop_tx)
}

/// Server CPU microseconds per request for one round.
fn round(router: Router, client_rt: &tokio::runtime::Runtime) -> f64 {
    let (addr, tid, stop) = serve(router);
    let url = format!("http://{addr}/agents/weather/a2a");
    let client = reqwest::Client::new();
    let send = |n: u64| {
        client_rt.block_on(async {
            for _ in 0..n {
                let resp = client
                    .post(&url)
                    .header(
                        "traceparent",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    )
                    .header("user-agent", "loopback-bench")
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                std::hint::black_box(resp.bytes().await.unwrap());
            }
        })
    };
    send(1_000); // warm: connection, route tables, metric series
    let before = thread_cpu_seconds(&tid);
    send(REQUESTS);
    let after = thread_cpu_seconds(&tid);
    let _ = stop.send(());
    (after - before) * 1e6 / REQUESTS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !std::path::Path::new("/proc/thread-self").exists() {
        eprintln!("loopback bench: needs Linux /proc; skipped");
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once quickly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    opentelemetry::global::set_text_map_propagator(
        vystak_otel_propagator::W3cTraceContextPropagator::new(),
    );
    let (tp, mp) = providers(Sampler::AlwaysOn);
    let (tp_off, mp_off) = providers(Sampler::AlwaysOff);
    let (tp_min, _mp_min) = providers(Sampler::AlwaysOn);
    type Make<'a> = (&'a str, Box<dyn Fn() -> Router + 'a>);
    let variants: Vec<Make<'_>> = vec![
        ("bare router", Box::new(app)),
        (
            "identity layer",
            Box::new(|| app().layer(tower::layer::util::Identity::new())),
        ),
        (
            "vystak sampled",
            Box::new(|| {
                app().layer(
                    OtelServerLayer::new()
                        .with_tracer_provider(&tp)
                        .with_meter_provider(&mp),
                )
            }),
        ),
        (
            "vystak unsampled",
            Box::new(|| {
                app().layer(
                    OtelServerLayer::new()
                        .with_tracer_provider(&tp_off)
                        .with_meter_provider(&mp_off),
                )
            }),
        ),
        (
            "hand-written minimal layer",
            Box::new(|| app().layer(minimal::layer(&tp_min))),
        ),
    ];
    if quick {
        let us = round(variants[2].1(), &client_rt);
        println!("loopback (quick check): vystak sampled {us:.1} µs server CPU per request");
        return;
    }
    // Phase 1, before any global provider exists: telemetry off against the bare router.
    let (mut off, mut off_bare) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        off_bare.push(round(app(), &client_rt));
        off.push(round(app().layer(OtelServerLayer::new()), &client_rt));
    }
    // Phase 2: the peer reads the global providers only; every other variant in the same
    // interleaved rounds.
    let (gtp, gmp) = providers(Sampler::AlwaysOn);
    opentelemetry::global::set_tracer_provider(gtp.clone());
    opentelemetry::global::set_meter_provider(gmp.clone());
    let mut results: Vec<(String, Vec<f64>)> = variants
        .iter()
        .map(|(n, _)| ((*n).to_owned(), Vec::new()))
        .collect();
    let mut peer = Vec::new();
    for _ in 0..ROUNDS {
        for (i, (_, make)) in variants.iter().enumerate() {
            results[i].1.push(round(make(), &client_rt));
        }
        peer.push(round(
            app().layer(opentelemetry_instrumentation_tower::http::server::Layer::new()),
            &client_rt,
        ));
    }
    let bare = median(results[0].1.clone());
    let peer_overhead = median(peer.clone()) - bare;
    println!(
        "\nserver CPU per request over loopback ({REQUESTS} requests × {ROUNDS} interleaved rounds, median):"
    );
    println!(
        "  {:<44} {:>9} {:>10} {:>7}",
        "variant", "µs/req", "overhead", "× OIT"
    );
    let line = |name: &str, us: f64, base: f64| {
        let over = us - base;
        println!(
            "  {name:<44} {us:>9.2} {over:>+10.2} {:>7.2}",
            over / peer_overhead
        );
    };
    for (name, v) in &results {
        line(name, median(v.clone()), bare);
    }
    line(
        "opentelemetry-instrumentation-tower 0.19",
        median(peer),
        bare,
    );
    let off_base = median(off_bare);
    println!("  telemetry off, in its own rounds against the bare router:");
    line("bare router (off phase)", off_base, off_base);
    line("vystak telemetry off", median(off), off_base);
    std::thread::sleep(Duration::from_millis(100));
    let _ = (
        tp.shutdown(),
        tp_off.shutdown(),
        tp_min.shutdown(),
        gtp.shutdown(),
        mp.shutdown(),
        mp_off.shutdown(),
        gmp.shutdown(),
    );
}
