//! Shared helpers: in-memory telemetry, a real axum server on 127.0.0.1, metric flattening.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use vystak_otel_server::OtelServerLayer;

/// In-memory tracer + meter providers.
pub struct Telemetry {
    pub spans: InMemorySpanExporter,
    pub metrics: InMemoryMetricExporter,
    pub tp: SdkTracerProvider,
    pub mp: SdkMeterProvider,
}

impl Telemetry {
    pub fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporter::default();
        let tp = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let mp = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        Self {
            spans,
            metrics,
            tp,
            mp,
        }
    }

    /// A layer wired to these providers.
    pub fn layer(&self) -> OtelServerLayer {
        OtelServerLayer::new()
            .with_tracer_provider(&self.tp)
            .with_meter_provider(&self.mp)
            .with_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new())
    }

    pub fn finished(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    /// The one finished span named `name`.
    pub fn span(&self, name: &str) -> SpanData {
        let spans: Vec<SpanData> = self
            .finished()
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        assert_eq!(spans.len(), 1, "spans named {name}: {:#?}", self.finished());
        spans.into_iter().next().unwrap()
    }

    /// Waits (bounded) until `n` spans have finished.
    pub async fn wait_spans(&self, n: usize) -> Vec<SpanData> {
        for _ in 0..200 {
            let spans = self.finished();
            if spans.len() >= n {
                return spans;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.finished()
    }

    /// Latest (cumulative) metric points.
    pub fn points(&self) -> Vec<Point> {
        self.mp.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let Some(last) = exported.last() else {
            return vec![];
        };
        let mut out = Vec::new();
        for sm in last.scope_metrics() {
            for m in sm.metrics() {
                let push = |out: &mut Vec<Point>, attrs: BTreeMap<String, String>, value: Value| {
                    out.push(Point {
                        name: m.name().to_owned(),
                        unit: m.unit().to_owned(),
                        attrs,
                        value,
                    })
                };
                let attrs = |it: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                    it.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect()
                };
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for dp in h.data_points() {
                            push(
                                &mut out,
                                attrs(&mut dp.attributes()),
                                Value::Histogram {
                                    count: dp.count(),
                                    sum: dp.sum(),
                                    bounds: dp.bounds().collect(),
                                },
                            );
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        for dp in h.data_points() {
                            push(
                                &mut out,
                                attrs(&mut dp.attributes()),
                                Value::Histogram {
                                    count: dp.count(),
                                    sum: dp.sum() as f64,
                                    bounds: dp.bounds().collect(),
                                },
                            );
                        }
                    }
                    AggregatedMetrics::I64(MetricData::Sum(s)) => {
                        for dp in s.data_points() {
                            push(
                                &mut out,
                                attrs(&mut dp.attributes()),
                                Value::Sum(dp.value() as f64),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    pub fn points_named(&self, name: &str) -> Vec<Point> {
        self.points()
            .into_iter()
            .filter(|p| p.name == name)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Histogram {
        count: u64,
        sum: f64,
        bounds: Vec<f64>,
    },
    Sum(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub name: String,
    pub unit: String,
    pub attrs: BTreeMap<String, String>,
    pub value: Value,
}

/// A string view of a span's attributes.
pub fn attrs(span: &SpanData) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// Serves `app` on 127.0.0.1:0 with `ConnectInfo`; returns the base URL.
pub async fn serve(app: Router) -> (String, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (format!("http://{addr}"), addr)
}

pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const PARENT_ID: &str = "00f067aa0ba902b7";
pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
