//! `vystak-otel-viewer`: the local OpenTelemetry backend — OTLP/gRPC and OTLP/HTTP receivers,
//! the query API, and a trace tree printed as each trace completes.
//!
//! ```text
//! vystak-otel-viewer [--grpc ADDR] [--http ADDR|off] [--ui ADDR|off] [--db FILE]
//!                    [--max-spans N] [--max-memory SIZE] [--retention DURATION]
//!                    [--query-max-samples N] [--max-connections N] [--allow-host NAME]
//!                    [--enable-feature=promql-experimental-functions]
//!                    [--quiet-ms MS] [--no-print]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use vystak_otel_viewer::query::promql::QueryLimits;
use vystak_otel_viewer::{
    ConnectionLimits, Printer, Store, StoreOptions, Viewer, ViewerConfig, DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_MEMORY, DEFAULT_MAX_SPANS,
};

const USAGE: &str = "usage: vystak-otel-viewer [options]\n\
  --grpc ADDR          OTLP/gRPC listen address (default 127.0.0.1:4317; --listen is an alias)\n\
  --http ADDR|off      OTLP/HTTP listen address (default 127.0.0.1:4318)\n\
  --ui ADDR|off        query API / UI listen address (default 127.0.0.1:13000)\n\
  --allow-host NAME    also answer HTTP requests addressed to NAME (repeatable); by default only\n\
                       127.0.0.1, localhost, [::1] and the bound address are answered (421 else)\n\
  --db FILE            persist traces, metrics and logs in this SQLite file (default: memory only)\n\
  --db-max-size SIZE   keep the --db file's data under SIZE, e.g. 500MiB, 4GiB (default 1GiB);\n\
                       the oldest spans and logs go first\n\
  --max-spans N        keep at most N spans in memory (default 100000); with --db, older\n\
                       traces are read from the file\n\
  --max-memory SIZE    keep at most about SIZE of spans in memory, e.g. 256MiB, 2GiB (default\n\
                       512MiB; logs get a quarter of it); the oldest are evicted first\n\
  --retention DURATION drop data older than this, e.g. 30m, 24h, 7d, 1y (at most 100 years;\n\
                       default: keep until evicted)\n\
  --query-max-samples N  most samples one PromQL query may load (default 50000000, as\n\
                       Prometheus' --query.max-samples); past it the query gets 422\n\
  --enable-feature=promql-experimental-functions\n\
                       allow PromQL's experimental functions (limitk, mad_over_time,\n\
                       double_exponential_smoothing, sort_by_label, ...), as Prometheus\n\
  --max-connections N  connections each port holds (default 256); silent clients are closed\n\
                       after 30 s\n\
  --quiet-ms MS        print a trace once it has a root and no span arrived for MS (default 1000)\n\
  --no-print           do not print trace trees and token summaries\n\
  ADDR is host:port or a bare port (then 127.0.0.1:port)";

#[derive(Debug)]
struct Args {
    config: ViewerConfig,
    db: Option<PathBuf>,
    max_spans: usize,
    max_memory: usize,
    max_file_bytes: u64,
    retention: Option<Duration>,
    quiet: Duration,
    print: bool,
}

fn parse_addr(flag: &str, v: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = v.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    v.parse()
        .map_err(|_| format!("{flag} {v}: expected host:port, e.g. 127.0.0.1:4317"))
}

fn parse_optional_addr(flag: &str, v: &str) -> Result<Option<SocketAddr>, String> {
    match v {
        "off" | "none" => Ok(None),
        _ => parse_addr(flag, v).map(Some),
    }
}

/// `--max-memory`: bytes, or a number with `KiB`, `MiB`, `GiB` (or `KB`, `MB`, `GB`, powers of
/// ten); checked, never wrapped.
fn parse_size(v: &str) -> Result<usize, String> {
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let err = || format!("--max-memory {v}: expected e.g. 256MiB, 2GiB or a number of bytes");
    let n: usize = v[..digits].parse().map_err(|_| err())?;
    let unit: usize = match v[digits..].trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(err()),
    };
    n.checked_mul(unit)
        .filter(|b| *b > 0)
        .ok_or_else(|| format!("--max-memory {v}: must be positive and fit in memory"))
}

/// The longest `--retention`: a century. Longer is a mistake to report, not a number to wrap.
const MAX_RETENTION: Duration = Duration::from_secs(100 * 365 * 86_400);

fn parse_retention(v: &str) -> Result<Duration, String> {
    let age = vystak_otel_viewer::parse_duration(v).map_err(|e| format!("--retention {v}: {e}"))?;
    if age.is_zero() {
        return Err(format!(
            "--retention {v}: must be positive (e.g. 30m, 24h, 7d)"
        ));
    }
    if age > MAX_RETENTION {
        return Err(format!(
            "--retention {v}: too long (longer than 100 years); leave the flag out to keep data \
             until it is evicted by count"
        ));
    }
    Ok(age)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        config: ViewerConfig::default(),
        db: None,
        max_spans: DEFAULT_MAX_SPANS,
        max_memory: DEFAULT_MAX_MEMORY,
        max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        retention: None,
        quiet: Duration::from_millis(1000),
        print: true,
    };
    let mut limits = QueryLimits::default();
    let mut it = std::env::args().skip(1);
    while let Some(raw) = it.next() {
        // `--flag value` or `--flag=value`.
        let (arg, mut inline) = match raw.split_once('=') {
            Some((flag, v)) if flag.starts_with("--") => (flag.to_owned(), Some(v.to_owned())),
            _ => (raw, None),
        };
        let mut value = |what: &str| {
            inline
                .take()
                .or_else(|| it.next())
                .ok_or(format!("{arg} needs {what}\n{USAGE}"))
        };
        match arg.as_str() {
            "--grpc" | "--listen" => {
                let v = value("an address")?;
                args.config = args.config.with_grpc(parse_addr(&arg, &v)?);
            }
            "--http" => {
                let v = value("an address")?;
                args.config = args.config.with_http(parse_optional_addr(&arg, &v)?);
            }
            "--ui" => {
                let v = value("an address")?;
                args.config = args.config.with_ui(parse_optional_addr(&arg, &v)?);
            }
            "--allow-host" => {
                let name = value("a host name")?;
                args.config = args.config.with_allowed_hosts([name]);
            }
            "--db" => args.db = Some(PathBuf::from(value("a file")?)),
            "--max-spans" => {
                let v = value("a number")?;
                args.max_spans = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--max-spans {v}: expected a positive number"))?;
            }
            "--query-max-samples" => {
                let v = value("a number")?;
                let n: usize = v.parse().ok().filter(|n| *n > 0).ok_or(format!(
                    "--query-max-samples {v}: expected a positive number"
                ))?;
                limits = limits.with_max_samples(n);
            }
            "--enable-feature" => {
                // Prometheus' flag: a comma-separated list; only the PromQL one applies here.
                for feature in value("a feature list")?.split(',') {
                    match feature.trim() {
                        "promql-experimental-functions" => {
                            limits = limits.with_experimental_functions(true);
                        }
                        other => eprintln!(
                            "vystak-otel-viewer: warning: --enable-feature={other} has no \
                             effect here (known: promql-experimental-functions)"
                        ),
                    }
                }
            }
            "--max-connections" => {
                let v = value("a number")?;
                let n: usize = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--max-connections {v}: expected a positive number"))?;
                args.config = args
                    .config
                    .with_connection_limits(ConnectionLimits::default().with_max_connections(n));
            }
            "--max-memory" => args.max_memory = parse_size(&value("a size")?)?,
            "--db-max-size" => {
                let size = parse_size(&value("a size")?)?;
                args.max_file_bytes = u64::try_from(size).unwrap_or(u64::MAX);
            }
            "--retention" => args.retention = Some(parse_retention(&value("a duration")?)?),
            "--quiet-ms" => {
                let v = value("a number")?;
                let ms: u64 = v.parse().map_err(|e| format!("--quiet-ms {v}: {e}"))?;
                args.quiet = Duration::from_millis(ms);
            }
            "--no-print" => args.print = false,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
        if let Some(v) = inline {
            return Err(format!("{arg} takes no value (got {v:?})\n{USAGE}"));
        }
    }
    args.config = args.config.with_query_limits(limits);
    Ok(args)
}

async fn terminated() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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
    let options = StoreOptions::default()
        .with_max_spans(args.max_spans)
        .with_max_memory(args.max_memory)
        .with_max_file_bytes(args.max_file_bytes)
        .with_retention(args.retention);
    let store = match &args.db {
        Some(path) => match Store::open_sqlite(path, options) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("vystak-otel-viewer: {e}");
                std::process::exit(1);
            }
        },
        None => Store::with_options(options),
    };
    // Traces loaded from the file are not printed again: the change tracking starts here,
    // before the receivers do (read later, a trace that arrived in between was taken for a
    // loaded one and never printed — the binary test failed that way on a busy CI machine).
    // Without printing nothing tracks changes (the store records none).
    let loaded = if args.print {
        store.take_changed_traces()
    } else {
        Vec::new()
    };
    let mut printer = Printer::new(args.quiet);
    printer.already_printed(&store, loaded);
    let viewer = match Viewer::start(args.config.with_store(store)).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("vystak-otel-viewer: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "vystak-otel-viewer: OTLP/gRPC on {} (OTEL_EXPORTER_OTLP_ENDPOINT={})",
        viewer.local_addr(),
        viewer.endpoint()
    );
    let exposed: Vec<SocketAddr> = [
        Some(viewer.local_addr()),
        viewer.http_addr(),
        viewer.ui_addr(),
    ]
    .into_iter()
    .flatten()
    .filter(|a| !a.ip().is_loopback())
    .collect();
    for addr in exposed {
        eprintln!(
            "vystak-otel-viewer: warning: {addr} is not a loopback address; the viewer has no \
             authentication: anyone who can reach it can read every trace (prompts included) \
             and send data"
        );
    }
    match viewer.http_addr() {
        Some(a) => println!(
            "vystak-otel-viewer: OTLP/HTTP on {a} (POST /v1/traces, /v1/metrics, /v1/logs)"
        ),
        None => println!("vystak-otel-viewer: OTLP/HTTP off"),
    }
    match viewer.ui_url() {
        Some(u) => {
            println!("vystak-otel-viewer: query API on {u} (/api/traces, Prometheus /api/v1/query)")
        }
        None => println!("vystak-otel-viewer: query API off"),
    }
    if let Some(path) = &args.db {
        println!(
            "vystak-otel-viewer: store {} ({} spans loaded)",
            path.display(),
            viewer.store().span_count()
        );
    }
    let store = viewer.store().clone();
    printer.start_tokens(&store);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let stop = terminated();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        if !args.print {
            continue;
        }
        printer.tick(&store);
    }
    eprintln!("vystak-otel-viewer: shutting down");
    viewer.shutdown().await;
    drop(store);
}
