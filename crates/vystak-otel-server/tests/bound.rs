//! Bound duration points: with a meter provider that records bound instruments (opted in; this
//! workspace's SDK has the feature), every request is recorded, with the same series, counts
//! and attributes as the unbound path.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use common::{serve, Telemetry, Value};
use vystak_otel_server::{OtelServerLayer, ServerMetrics};

/// 3 × `GET /a` (200), 2 × `POST /b/{id}` (201), 2 × `GET /fail` (500), 1 × `GET /nope` (404).
async fn drive(layer: OtelServerLayer) {
    let app = Router::new()
        .route("/a", get(|| async { "a" }))
        .route("/b/{id}", post(|| async { (StatusCode::CREATED, "b") }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .layer(layer);
    let (base, _) = serve(app).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        client.get(format!("{base}/a")).send().await.unwrap();
    }
    for id in 0..2 {
        client.post(format!("{base}/b/{id}")).send().await.unwrap();
    }
    for _ in 0..2 {
        client.get(format!("{base}/fail")).send().await.unwrap();
    }
    client.get(format!("{base}/nope")).send().await.unwrap();
}

/// Each duration series (its attributes) with its count.
fn series(t: &Telemetry) -> BTreeMap<String, u64> {
    t.points_named("http.server.request.duration")
        .into_iter()
        .map(|p| match p.value {
            Value::Histogram { count, .. } => (format!("{:?}", p.attrs), count),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_points_record_what_the_unbound_path_records() {
    let unbound = Telemetry::new();
    drive(unbound.layer()).await;
    let bound = Telemetry::new();
    drive(
        bound
            .layer()
            .with_server_metrics(ServerMetrics::default().with_bound_instruments(true)),
    )
    .await;
    let (expected, got) = (series(&unbound), series(&bound));
    assert_eq!(expected.len(), 4, "{expected:#?}");
    assert_eq!(expected.values().sum::<u64>(), 8);
    assert_eq!(got, expected);
}
