//! `Telemetry::init()` marks the global meter provider it installs as recording bound
//! instruments, and a layer on the global providers then records its durations through bound
//! handles — every one of them reaches the receiver over OTLP. Global state: its own binary.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use vystak_otel_server::OtelServerLayer;
use vystak_otel_viewer::{PointValue, Receiver};
use vystak_telemetry::Telemetry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_on_the_providers_init_installed_binds_and_loses_nothing() {
    let receiver = Receiver::start_local().await.unwrap();
    assert!(!vystak_otel_core::providers::global_meter_provider_is_marked());
    let guard = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-bound")
        .with_summary_line(false)
        .init()
        .unwrap();
    assert!(
        vystak_otel_core::providers::global_meter_provider_is_marked(),
        "init marks the global meter provider it installed"
    );
    let app = Router::new()
        .route("/a/{id}", get(|| async { "a" }))
        .route("/b", get(|| async { "b" }))
        .layer(OtelServerLayer::new());
    let (base, _) = vystak_otel_testkit::serve(app).await;
    let client = reqwest::Client::new();
    for i in 0..5 {
        client.get(format!("{base}/a/{i}")).send().await.unwrap();
    }
    for _ in 0..2 {
        client.get(format!("{base}/b")).send().await.unwrap();
    }
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();
    let store = receiver.store();
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| !s
                .metric_points("http.server.request.duration")
                .is_empty())
            .await
    );
    let mut counts: Vec<(String, u64)> = store
        .metric_points("http.server.request.duration")
        .iter()
        .map(|p| match &p.value {
            PointValue::Histogram { count, .. } => {
                (p.str_attr("http.route").unwrap().to_owned(), *count)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    counts.sort();
    assert_eq!(counts, [("/a/{id}".to_owned(), 5), ("/b".to_owned(), 2)]);
}
