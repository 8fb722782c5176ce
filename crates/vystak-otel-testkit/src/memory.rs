//! SDK tracer and meter providers exporting to memory, with the finished spans, a bounded wait
//! for them, and the metric points flattened.

use std::collections::BTreeMap;

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

/// In-memory tracer + meter providers.
#[derive(Debug)]
pub struct InMemory {
    /// The finished spans.
    pub spans: InMemorySpanExporter,
    /// The exported metrics.
    pub metrics: InMemoryMetricExporter,
    /// The tracer provider (a simple exporter: a span is exported when it ends).
    pub tp: SdkTracerProvider,
    /// The meter provider (read on [`InMemory::points`]).
    pub mp: SdkMeterProvider,
}

impl Default for InMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemory {
    /// New providers.
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

    /// The spans finished so far.
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
    /// The latest (cumulative) point of every histogram and up-down counter.
    pub fn points(&self) -> Vec<Point> {
        self.mp.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let Some(last) = exported.last() else {
            return vec![];
        };
        let mut out = Vec::new();
        for sm in last.scope_metrics() {
            for m in sm.metrics() {
                let values = match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => histogram(h, |sum| sum),
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        histogram(h, |sum| sum as f64)
                    }
                    AggregatedMetrics::I64(MetricData::Sum(s)) => s
                        .data_points()
                        .map(|dp| (attributes(dp.attributes()), Value::Sum(dp.value() as f64)))
                        .collect(),
                    _ => Vec::new(),
                };
                out.extend(values.into_iter().map(|(attrs, value)| Point {
                    name: m.name().to_owned(),
                    unit: m.unit().to_owned(),
                    attrs,
                    value,
                }));
            }
        }
        out
    }

    /// [`Self::points`] of the metric `name`.
    pub fn points_named(&self, name: &str) -> Vec<Point> {
        self.points()
            .into_iter()
            .filter(|p| p.name == name)
            .collect()
    }
}

/// A point's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A histogram point.
    Histogram {
        /// Its count.
        count: u64,
        /// Its sum.
        sum: f64,
        /// Its bucket bounds.
        bounds: Vec<f64>,
    },
    /// A sum point.
    Sum(f64),
}

/// One metric point, its attributes as strings.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The metric name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// The point's attributes.
    pub attrs: BTreeMap<String, String>,
    /// Its value.
    pub value: Value,
}

/// A histogram's points: attributes and value, the sum as `f64`.
fn histogram<T: Copy>(
    h: &opentelemetry_sdk::metrics::data::Histogram<T>,
    sum: impl Fn(T) -> f64,
) -> Vec<(BTreeMap<String, String>, Value)> {
    h.data_points()
        .map(|dp| {
            let value = Value::Histogram {
                count: dp.count(),
                sum: sum(dp.sum()),
                bounds: dp.bounds().collect(),
            };
            (attributes(dp.attributes()), value)
        })
        .collect()
}

/// Attributes as strings, by key.
fn attributes<'a>(
    it: impl Iterator<Item = &'a opentelemetry::KeyValue>,
) -> BTreeMap<String, String> {
    it.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// A string view of a span's attributes.
pub fn attrs(span: &SpanData) -> BTreeMap<String, String> {
    attributes(span.attributes.iter())
}

/// A span processor that counts the spans started and ended (clones share the counts): to show
/// that something starts no span, or ends each span once.
#[derive(Clone, Debug, Default)]
pub struct CountingProcessor {
    started: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ended: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingProcessor {
    /// Spans started so far.
    pub fn started(&self) -> usize {
        self.started.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Spans ended so far.
    pub fn ended(&self) -> usize {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl opentelemetry_sdk::trace::SpanProcessor for CountingProcessor {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn on_end(&self, _: SpanData) {
        self.ended.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(
        &self,
        _: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}
