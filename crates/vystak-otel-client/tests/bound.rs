//! Bound duration points: with a meter provider that records bound instruments (opted in; this
//! workspace's SDK has the feature), every request is recorded, with the same series, counts
//! and attributes as the unbound path.

mod common;

use common::{echo_server, Telemetry};

/// 3 × 200, 2 × 404, 1 × 503 against one server, through a client with `middleware`.
async fn drive(client: reqwest_middleware::ClientWithMiddleware, base: &str) {
    for code in [200, 200, 200, 404, 404, 503] {
        client
            .get(format!("{base}/status/{code}"))
            .send()
            .await
            .unwrap();
    }
}

fn series(t: &Telemetry) -> Vec<(String, u64)> {
    let mut series: Vec<(String, u64)> = t
        .durations()
        .into_iter()
        .map(|(attrs, count, _)| (format!("{attrs:?}"), count))
        .collect();
    series.sort();
    series
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_points_record_what_the_unbound_path_records() {
    let base = echo_server().await;
    let unbound = Telemetry::new();
    drive(unbound.client(), &base).await;
    let bound = Telemetry::new();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(bound.middleware().with_bound_instruments(true))
        .build();
    drive(client, &base).await;
    let (expected, got) = (series(&unbound), series(&bound));
    assert_eq!(expected.len(), 3, "{expected:#?}");
    assert_eq!(expected.iter().map(|s| s.1).sum::<u64>(), 6);
    assert_eq!(got, expected);
}
