//! `vystak-otel-viewer`: a local OTLP gRPC receiver that prints each trace tree as it completes.
//!
//! ```text
//! vystak-otel-viewer [--listen 127.0.0.1:4317] [--quiet-ms 1000]
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use vystak_otel_viewer::{render, Receiver};

const USAGE: &str = "usage: vystak-otel-viewer [--listen ADDR] [--quiet-ms MS]\n\
  --listen ADDR   address to listen on (default 127.0.0.1:4317)\n\
  --quiet-ms MS   a trace is printed once it has a root and no span arrived for MS (default 1000)";

struct Args {
    listen: SocketAddr,
    quiet: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 4317)),
        quiet: Duration::from_millis(1000),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => {
                let v = it.next().ok_or("--listen needs an address")?;
                args.listen = v.parse().map_err(|e| format!("--listen {v}: {e}"))?;
            }
            "--quiet-ms" => {
                let v = it.next().ok_or("--quiet-ms needs a number")?;
                let ms: u64 = v.parse().map_err(|e| format!("--quiet-ms {v}: {e}"))?;
                args.quiet = Duration::from_millis(ms);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let receiver = match Receiver::start(args.listen).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vystak-otel-viewer: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "vystak-otel-viewer: OTLP gRPC receiver on {} (OTEL_EXPORTER_OTLP_ENDPOINT={})",
        receiver.local_addr(),
        receiver.endpoint()
    );
    let store = receiver.store().clone();
    // trace id → (span count, when that count was first seen, printed count)
    let mut seen: HashMap<String, (usize, Instant, usize)> = HashMap::new();
    let mut last_tokens = render::TokenSummary::default();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        for trace_id in store.trace_ids() {
            let spans = store.trace(&trace_id);
            let entry = seen.entry(trace_id).or_insert((0, now, 0));
            if entry.0 != spans.len() {
                *entry = (spans.len(), now, entry.2);
                continue;
            }
            let has_root = spans.iter().any(|s| s.is_root());
            if has_root && entry.2 != spans.len() && now.duration_since(entry.1) >= args.quiet {
                entry.2 = spans.len();
                print!("\n{}", render::trace_tree(&spans));
                println!("({} spans)", spans.len());
            }
        }
        let tokens = render::TokenSummary::from_points(&store.all_metric_points());
        if tokens != last_tokens && !tokens.services.is_empty() {
            println!("\ntoken usage (gen_ai.client.token.usage)\n{tokens}");
            last_tokens = tokens;
        }
    }
    receiver.shutdown().await;
}
