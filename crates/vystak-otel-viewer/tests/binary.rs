//! The `vystak-otel-viewer` binary prints a trace tree once the trace completes.

mod common;

use std::process::Stdio;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_each_completed_trace() {
    // Port 0: the binary picks a free port and prints it (no race with the other tests' ports).
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--http",
            "off",
            "--ui",
            "off",
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
    let port: u16 = first
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no address in {first:?}"));

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
    // Off the runtime's worker threads: the exporter's I/O runs on this runtime.
    tokio::task::spawn_blocking(move || tp.shutdown())
        .await
        .unwrap()
        .unwrap();

    let mut printed = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_names_the_flag_to_change() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    for (flag, args) in [
        ("--grpc", vec!["--grpc".to_owned(), busy_port.to_string()]),
        (
            "--http",
            vec![
                "--grpc".to_owned(),
                free_port().to_string(),
                "--http".to_owned(),
                format!("127.0.0.1:{busy_port}"),
            ],
        ),
        (
            "--ui",
            vec![
                "--grpc".to_owned(),
                free_port().to_string(),
                "--http".to_owned(),
                "off".to_owned(),
                "--ui".to_owned(),
                format!("127.0.0.1:{busy_port}"),
            ],
        ),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
            .args(&args)
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "cannot listen on 127.0.0.1:{busy_port}: it is in use: pick another with {flag} ADDR"
            )),
            "{flag}: {stderr}"
        );
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
        .args(["--retention", "soon"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--retention soon"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly_and_the_db_keeps_the_spans() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("term.db");
    let (grpc, http, ui) = (free_port(), free_port(), free_port());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vystak-otel-viewer"))
        .args([
            "--grpc",
            &format!("127.0.0.1:{grpc}"),
            "--http",
            &format!("127.0.0.1:{http}"),
            "--ui",
            &format!("127.0.0.1:{ui}"),
            "--no-print",
            "--db",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    for _ in 0..4 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        banner.push(line);
    }
    assert!(
        banner[0].contains(&format!("OTLP/gRPC on 127.0.0.1:{grpc}")),
        "{banner:?}"
    );
    assert!(
        banner[1].contains(&format!("OTLP/HTTP on 127.0.0.1:{http}")),
        "{banner:?}"
    );
    assert!(
        banner[2].contains(&format!("query API on http://127.0.0.1:{ui}")),
        "{banner:?}"
    );
    assert!(banner[3].contains("0 spans loaded"), "{banner:?}");

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("http://127.0.0.1:{http}/v1/traces"))
        .build()
        .unwrap();
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("term-test").build())
        .build();
    let tracer = tp.tracer("bin");
    for _ in 0..3 {
        tracer.in_span("turn", |_| {});
    }
    tokio::task::spawn_blocking(move || tp.shutdown().unwrap())
        .await
        .unwrap();
    // The API sees them, then SIGTERM.
    let url = format!("http://127.0.0.1:{ui}/api/traces?service=term-test");
    let mut n = 0;
    for _ in 0..100 {
        let v: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        n = v["traces"].as_array().unwrap().len();
        if n == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(n, 3);
    let pid = child.id().unwrap().to_string();
    let kill = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let store = vystak_otel_viewer::Store::open_sqlite(&db, Default::default()).unwrap();
    let names: Vec<_> = store
        .spans()
        .into_iter()
        .map(|s| (s.service_name, s.name))
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names
        .iter()
        .all(|(svc, n)| svc == "term-test" && n == "turn"));
}

/// Prometheus' flag for PromQL's experimental functions (issue 28): off by default with
/// Prometheus' parse error, on with `--enable-feature=promql-experimental-functions` (also
/// written as two arguments); an unknown feature is a warning, not a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experimental_promql_functions_follow_prometheus_flag() {
    let client = reqwest::Client::new();
    let ask = |ui: String| {
        let client = client.clone();
        async move {
            let reply = client
                .get(format!("{ui}/api/v1/query"))
                .query(&[("query", "mad_over_time(vector(1)[5m:1m])")])
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (_off, _, ui) = common::spawn_viewer_child(&[]).await;
    let (status, v) = ask(ui).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], "function \"mad_over_time\" is not enabled");
    for args in [
        &["--enable-feature=promql-experimental-functions"][..],
        &[
            "--enable-feature",
            "exemplar-storage,promql-experimental-functions",
        ][..],
    ] {
        let (_on, _, ui) = common::spawn_viewer_child(args).await;
        let (status, v) = ask(ui).await;
        assert_eq!(status, 200, "{args:?}: {v}");
        assert_eq!(v["data"]["result"][0]["value"][1], "0");
    }
}
