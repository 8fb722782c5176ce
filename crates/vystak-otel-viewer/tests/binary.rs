//! The `vystak-otel-viewer` binary prints a trace tree once the trace completes.

use std::process::Stdio;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_each_completed_trace() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--quiet-ms",
            "200",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");

    let exporter = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("vystak-bin-test")
                .build(),
        )
        .build();
    let tracer = tp.tracer("bin");
    tracer.in_span("POST /a2a", |cx| {
        let _child = tracer.start_with_context("gen_ai.chat", &cx);
        cx.span()
            .set_attribute(opentelemetry::KeyValue::new("http.route", "/a2a"));
    });
    tp.shutdown().unwrap();

    let mut printed = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.starts_with("(2 spans)");
            printed.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "{printed:#?}");
    let text = printed.join("\n");
    assert!(
        text.contains("vystak-bin-test POST /a2a [INTERNAL]"),
        "{text}"
    );
    assert!(
        text.contains("\n  vystak-bin-test gen_ai.chat [INTERNAL]"),
        "{text}"
    );
    child.kill().await.unwrap();
}
