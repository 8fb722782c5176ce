//! The tracer and meter providers: the span pipeline (benign-error filter, queue accounting,
//! batch processor) with its sampler, the meter provider with the semantic conventions' views
//! and a periodic reader, and the SDK self-metrics registered on it.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::resource::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};

use crate::accounting::{CountingExporter, CountingProcessor, SelfMetrics, SpanCounters};
use crate::benign::{BenignErrorFilter, BenignRule};
use crate::exporters::{RefusableMetrics, RefusableSpans};
use crate::views::semconv_buckets_view;

/// The tracer provider. With an exporter, ended spans pass the benign-error filter, then the
/// counting processor, which enforces the queue bound (and counts every drop) in front of the
/// batch processor, whose own queue of the same size then never overflows silently.
pub(crate) fn tracer_provider(
    resource: Resource,
    spans: Option<RefusableSpans<SpanExporter>>,
    counters: &Arc<SpanCounters>,
    queue_size: usize,
    benign_rules: Vec<BenignRule>,
    sampler: Option<Sampler>,
) -> SdkTracerProvider {
    let mut tracer_provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(spans) = spans {
        let batch = BatchConfigBuilder::default().with_max_queue_size(queue_size);
        let processor = BatchSpanProcessor::builder(CountingExporter::new(spans, counters.clone()))
            .with_batch_config(batch.build())
            .build();
        let counted = CountingProcessor::new(processor, counters.clone());
        let filtered = BenignErrorFilter::new(counted).with_rules(benign_rules);
        tracer_provider = tracer_provider.with_span_processor(filtered);
    }
    if let Some(sampler) = sampler {
        tracer_provider = tracer_provider.with_sampler(sampler);
    }
    tracer_provider.build()
}

/// The meter provider: the semantic conventions' bucket views and, with an exporter, a periodic
/// reader (every `interval`, else the SDK's `OTEL_METRIC_EXPORT_INTERVAL` / 60 s).
pub(crate) fn meter_provider(
    resource: Resource,
    metrics: Option<RefusableMetrics<MetricExporter>>,
    interval: Option<Duration>,
) -> SdkMeterProvider {
    let mut meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_view(semconv_buckets_view);
    if let Some(metrics) = metrics {
        let mut reader = PeriodicReader::builder(metrics);
        if let Some(interval) = interval {
            reader = reader.with_interval(interval);
        }
        meter_provider = meter_provider.with_reader(reader.build());
    }
    meter_provider.build()
}

/// The SDK self-metrics of the span pipeline, on this crate's meter of `meter_provider`.
pub(crate) fn self_metrics(
    meter_provider: &SdkMeterProvider,
    counters: &Arc<SpanCounters>,
) -> SelfMetrics {
    SelfMetrics::register(
        &opentelemetry::metrics::MeterProvider::meter_with_scope(
            meter_provider,
            opentelemetry::InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        ),
        counters,
    )
}
