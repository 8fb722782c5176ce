//! Shared helpers: in-memory telemetry and real servers on 127.0.0.1.
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use axum::{Json, Router};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use vystak_otel_client::OtelClientMiddleware;
pub use vystak_otel_testkit::memory::{attrs, InMemory};

/// In-memory tracer + meter providers (dereferences to [`InMemory`]).
pub struct Telemetry(InMemory);

impl std::ops::Deref for Telemetry {
    type Target = InMemory;
    fn deref(&self) -> &InMemory {
        &self.0
    }
}

impl Telemetry {
    pub fn new() -> Self {
        Self(InMemory::new())
    }

    pub fn middleware(&self) -> OtelClientMiddleware {
        OtelClientMiddleware::new()
            .with_tracer_provider(&self.tp)
            .with_meter_provider(&self.mp)
            .with_propagator(TraceContextPropagator::new())
    }

    pub fn client(&self) -> reqwest_middleware::ClientWithMiddleware {
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(self.middleware())
            .build()
    }

    /// `http.client.request.duration` points: (attributes, count, bounds).
    pub fn durations(&self) -> Vec<(BTreeMap<String, String>, u64, Vec<f64>)> {
        self.mp.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let mut out = Vec::new();
        if let Some(last) = exported.last() {
            for sm in last.scope_metrics() {
                for m in sm.metrics() {
                    if m.name() != "http.client.request.duration" {
                        continue;
                    }
                    assert_eq!(m.unit(), "s");
                    if let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() {
                        for dp in h.data_points() {
                            out.push((
                                dp.attributes()
                                    .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                                    .collect(),
                                dp.count(),
                                dp.bounds().collect(),
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

/// A server that echoes the request headers as a JSON object, answers `/status/{code}` with that
/// status, `/flaky` with 503 twice then 200, and `/slow` after 30 s.
pub async fn echo_server() -> String {
    let flaky = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/status/{code}",
            any(
                |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                    StatusCode::from_u16(code).unwrap()
                },
            ),
        )
        .route(
            "/flaky",
            any(move || {
                let flaky = flaky.clone();
                async move {
                    if flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        )
        .route(
            "/slow",
            any(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .fallback(|headers: HeaderMap| async move {
            let map: BTreeMap<String, String> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            Json(map)
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
