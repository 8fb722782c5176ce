//! Helpers shared by the integration tests: SDK providers exporting through the real OTLP
//! exporters into a running viewer.

#![allow(dead_code, unreachable_pub)]

use opentelemetry_otlp::{
    Compression, MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
    WithTonicConfig,
};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

/// How the SDK exports.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    Grpc { gzip: bool },
    HttpProto { gzip: bool },
    HttpJson { gzip: bool },
}

pub fn resource(service: &str) -> Resource {
    Resource::builder()
        .with_service_name(service.to_owned())
        .build()
}

pub fn span_exporter(transport: Transport, grpc: &str, http: &str) -> SpanExporter {
    match transport {
        Transport::Grpc { gzip } => {
            let b = SpanExporter::builder().with_tonic().with_endpoint(grpc);
            let b = if gzip {
                b.with_compression(Compression::Gzip)
            } else {
                b
            };
            b.build().expect("grpc span exporter")
        }
        Transport::HttpProto { gzip } | Transport::HttpJson { gzip } => {
            let protocol = match transport {
                Transport::HttpJson { .. } => Protocol::HttpJson,
                _ => Protocol::HttpBinary,
            };
            let b = SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(format!("{http}/v1/traces"));
            let b = if gzip {
                b.with_compression(Compression::Gzip)
            } else {
                b
            };
            b.build().expect("http span exporter")
        }
    }
}

pub fn metric_exporter(transport: Transport, grpc: &str, http: &str) -> MetricExporter {
    match transport {
        Transport::Grpc { gzip } => {
            let b = MetricExporter::builder().with_tonic().with_endpoint(grpc);
            let b = if gzip {
                b.with_compression(Compression::Gzip)
            } else {
                b
            };
            b.build().expect("grpc metric exporter")
        }
        Transport::HttpProto { gzip } | Transport::HttpJson { gzip } => {
            let protocol = match transport {
                Transport::HttpJson { .. } => Protocol::HttpJson,
                _ => Protocol::HttpBinary,
            };
            let b = MetricExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(format!("{http}/v1/metrics"));
            let b = if gzip {
                b.with_compression(Compression::Gzip)
            } else {
                b
            };
            b.build().expect("http metric exporter")
        }
    }
}

pub fn tracer_provider(exporter: SpanExporter, service: &str) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(service))
        .build()
}

/// A meter provider whose reader only exports on `force_flush` / `shutdown`.
pub fn meter_provider(exporter: MetricExporter, service: &str) -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(std::time::Duration::from_secs(3600))
                .build(),
        )
        .with_resource(resource(service))
        .build()
}

/// Shuts a tracer provider down (exporting what it holds) off the async threads; panics when
/// the export fails.
pub async fn shutdown(tp: SdkTracerProvider) {
    tokio::task::spawn_blocking(move || tp.shutdown())
        .await
        .unwrap()
        .expect("shutdown exports");
}

/// Starts the `vystak-otel-viewer` binary with `args` (plus `--grpc` and `--http` on free
/// loopback ports, `--ui off`, `--no-print`) and returns it with its OTLP/HTTP address, read
/// from the line it prints.
pub async fn spawn_viewer_binary(args: &[&std::ffi::OsStr]) -> (tokio::process::Child, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--ui".as_ref(), "off".as_ref()];
    all.extend_from_slice(args);
    let (child, http, _) = spawn(&all, false).await;
    (child, http.trim_start_matches("http://").to_owned())
}

/// Starts the `vystak-otel-viewer` binary with every port on a free loopback port (`--no-print`)
/// and `args`, and returns it with its OTLP/HTTP and query API base URLs (`http://…`), read from the lines it
/// prints. The child is killed when dropped.
pub async fn spawn_viewer_child(args: &[&str]) -> (tokio::process::Child, String, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    let (child, http, ui) = spawn(&args, true).await;
    (child, http, ui.expect("the query API line"))
}

/// Starts the binary (every port on a free loopback port, `--no-print`, then `args`) and reads
/// the OTLP/HTTP URL and, when `want_ui`, the query API URL from the lines it prints.
async fn spawn(
    args: &[&std::ffi::OsStr],
    want_ui: bool,
) -> (tokio::process::Child, String, Option<String>) {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
        .args([
            "--grpc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--ui",
            "127.0.0.1:0",
            "--no-print",
        ])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut http, mut ui) = (None, None);
    while http.is_none() || (want_ui && ui.is_none()) {
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the binary prints its addresses")
            .unwrap()
            .expect("the binary prints its addresses");
        let first_word = |rest: &str| rest.split_whitespace().next().unwrap().to_owned();
        if let Some(rest) = line.strip_prefix("vystak-otel-viewer: OTLP/HTTP on ") {
            http = Some(format!("http://{}", first_word(rest)));
        } else if let Some(rest) = line.strip_prefix("vystak-otel-viewer: query API on ") {
            ui = Some(first_word(rest));
        }
    }
    // Keep draining stdout so the binary never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, http.unwrap(), ui)
}
