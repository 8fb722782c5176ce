//! The README's quick start, run as a new user runs it: the `quickstart` example binary against a
//! traces-only backend (Phoenix, Jaeger, Tempo, Langfuse answer 405 on `/v1/metrics`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

/// `target/<profile>/examples/quickstart`, which `cargo test` builds before running tests.
fn quickstart_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = profile_dir.join("examples").join("quickstart");
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test` (which builds examples)",
        bin.display()
    );
    bin
}

/// Regression (issue 25): the quick start against a traces-only backend delivered its trace,
/// printed its one warning, then exited with status 1 because `shutdown()` called the refused
/// metrics signal a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_against_a_traces_only_backend_exits_0_with_one_warning() {
    let traces = Arc::new(AtomicUsize::new(0));
    let metrics = Arc::new(AtomicUsize::new(0));
    let (t, m) = (traces.clone(), metrics.clone());
    let app = Router::new()
        .route(
            "/v1/traces",
            post(move || {
                t.fetch_add(1, Ordering::SeqCst);
                async {
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        )
        .route(
            "/v1/metrics",
            post(move || {
                m.fetch_add(1, Ordering::SeqCst);
                async { (StatusCode::METHOD_NOT_ALLOWED, "traces only") }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let out = tokio::process::Command::new(quickstart_binary())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(stdout.contains("-> sunny"), "{stdout}");
    assert!(traces.load(Ordering::SeqCst) >= 1, "the trace arrived");
    assert_eq!(metrics.load(Ordering::SeqCst), 1, "metrics tried once");
    let warnings: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| l.contains("warning") || l.contains("refused"))
        .filter(|l| !l.starts_with("service "))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "exactly one warning:\n{stdout}\n{stderr}"
    );
    assert!(
        warnings[0].contains("OTEL_METRICS_EXPORTER=none"),
        "the warning names the fix: {}",
        warnings[0]
    );
}
