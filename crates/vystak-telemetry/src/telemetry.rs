//! The `Telemetry` builder: OTLP gRPC providers, resource, propagator.

use std::time::Duration;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::resource::{Resource, TelemetryResourceDetector};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};

use crate::benign::{BenignErrorFilter, BenignRule};
use crate::env::{resolve, DisabledReason, Plan};
use crate::guard::TelemetryGuard;
use crate::semconv::SERVICE_VERSION;
use crate::views::semconv_buckets_view;
use crate::Error;

/// Default cap on spans waiting for export; beyond it new spans are dropped, never buffered
/// without bound (a hanging collector cannot grow memory).
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;

/// Telemetry configuration: a builder for the tracer and meter providers every vystak service
/// installs. See the crate docs for the rules.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Telemetry {
    service_name: Option<String>,
    service_version: Option<String>,
    endpoint: Option<String>,
    sampler: Option<SamplerConfig>,
    export_interval: Option<Duration>,
    export_timeout: Option<Duration>,
    max_queue_size: Option<usize>,
    headers: Vec<(String, String)>,
    resource_attributes: Vec<KeyValue>,
    benign_rules: Option<Vec<BenignRule>>,
    install_propagator: Option<bool>,
}

#[derive(Clone, Debug)]
enum SamplerConfig {
    Ratio(f64),
    Custom(Sampler),
}

/// The propagator `init` installs: W3C Trace Context Level 2 (the strict
/// [`W3cTraceContextPropagator`](vystak_otel_propagator::W3cTraceContextPropagator)) + W3C baggage.
/// The SDK set up here generates random trace ids, so traces started in this process carry the
/// Level 2 `random` flag.
pub fn default_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(
            vystak_otel_propagator::W3cTraceContextPropagator::new().with_random_trace_ids(true),
        ),
        Box::new(BaggagePropagator::new()),
    ])
}

impl Telemetry {
    /// A configuration with everything resolved from the environment and defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// `service.name` (wins over `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`); use
    /// [`crate::ServiceName`] for the seed's `vystak-…` names.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// `service.version`.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// The OTLP gRPC endpoint, e.g. `http://collector:4317`. Wins over `OTEL_EXPORTER_OTLP_*`
    /// endpoints — except that `OTEL_EXPORTER_OTLP_ENDPOINT=""` still turns telemetry off.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Samples this fraction of new traces (parent-based: a sampled caller keeps us sampled).
    /// Values are clamped to `0.0..=1.0`.
    pub fn with_sample_ratio(mut self, ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            1.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        self.sampler = Some(SamplerConfig::Ratio(ratio));
        self
    }

    /// A sampler of your own (replaces any ratio). Without one, the SDK default applies
    /// (`OTEL_TRACES_SAMPLER`, else parent-based always-on).
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(SamplerConfig::Custom(sampler));
        self
    }

    /// How often metrics are exported (default: `OTEL_METRIC_EXPORT_INTERVAL`, else 60 s).
    pub fn with_export_interval(mut self, interval: Duration) -> Self {
        self.export_interval = Some(interval);
        self
    }

    /// Timeout of one export call, which also bounds how long a hanging collector can delay
    /// `shutdown` (default: `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10 s).
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// Cap on spans waiting for export (default [`DEFAULT_MAX_QUEUE_SIZE`]).
    pub fn with_max_queue_size(mut self, size: usize) -> Self {
        self.max_queue_size = Some(size.max(1));
        self
    }

    /// A gRPC metadata header sent with every export (e.g. an API key). Added to
    /// `OTEL_EXPORTER_OTLP_HEADERS`.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// An extra resource attribute (wins over `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn with_resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.resource_attributes.push(attribute);
        self
    }

    /// Adds a [`BenignRule`] to the default [`BenignErrorFilter`] rules.
    pub fn with_benign_rule(mut self, rule: BenignRule) -> Self {
        self.benign_rules
            .get_or_insert_with(|| vec![BenignRule::a2a_queue_shutdown()])
            .push(rule);
        self
    }

    /// Replaces the [`BenignErrorFilter`] rules (an empty list turns the filter off).
    pub fn with_benign_rules(mut self, rules: impl IntoIterator<Item = BenignRule>) -> Self {
        self.benign_rules = Some(rules.into_iter().collect());
        self
    }

    /// Whether [`Telemetry::init`] installs the global W3C propagator (default `true`).
    pub fn with_propagator(mut self, install: bool) -> Self {
        self.install_propagator = Some(install);
        self
    }

    /// Builds the providers without installing anything globally (for tests and for programs
    /// that hand providers to the layers explicitly). Must run inside a Tokio runtime; use the
    /// multi-thread runtime, since `shutdown` blocks while the gRPC exporter flushes.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a Tokio runtime; [`Error::Exporter`] when an exporter cannot be
    /// built (e.g. an invalid endpoint or header). A disabled configuration is not an error: the
    /// guard reports [`TelemetryGuard::disabled_reason`].
    pub fn build(self) -> Result<TelemetryGuard, Error> {
        self.build_with_env(&|k| std::env::var(k).ok())
    }

    /// [`Telemetry::build`], then installs the tracer and meter providers and the W3C
    /// tracecontext + baggage propagator globally.
    ///
    /// When telemetry is off because `OTEL_EXPORTER_OTLP_ENDPOINT` is empty, nothing is installed;
    /// with `OTEL_SDK_DISABLED=true` only the propagator is (as the specification requires).
    ///
    /// # Errors
    /// As [`Telemetry::build`].
    pub fn init(self) -> Result<TelemetryGuard, Error> {
        let install_propagator = self.install_propagator.unwrap_or(true);
        let guard = self.build()?;
        if install_propagator && guard.disabled_reason() != Some(DisabledReason::EmptyEndpoint) {
            opentelemetry::global::set_text_map_propagator(default_propagator());
        }
        if let (Some(tp), Some(mp)) = (guard.tracer_provider(), guard.meter_provider()) {
            opentelemetry::global::set_tracer_provider(tp);
            opentelemetry::global::set_meter_provider(mp);
        }
        Ok(guard)
    }

    pub(crate) fn build_with_env(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TelemetryGuard, Error> {
        let plan = resolve(self.endpoint.as_deref(), self.service_name.as_deref(), env);
        if let Some(reason) = plan.disabled {
            return Ok(TelemetryGuard::disabled(reason, plan));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let resource = self.resource(&plan);
        let metadata = self.metadata()?;

        let mut spans = SpanExporter::builder().with_tonic();
        let mut metrics = MetricExporter::builder().with_tonic();
        if let Some(endpoint) = &plan.explicit_endpoint {
            spans = spans.with_endpoint(endpoint.clone());
            metrics = metrics.with_endpoint(endpoint.clone());
        }
        if let Some(timeout) = self.export_timeout {
            spans = spans.with_timeout(timeout);
            metrics = metrics.with_timeout(timeout);
        }
        if let Some(md) = metadata {
            spans = spans.with_metadata(md.clone());
            metrics = metrics.with_metadata(md);
        }
        let spans = spans.build().map_err(|e| Error::Exporter {
            signal: "traces",
            message: e.to_string(),
        })?;
        let metrics = metrics.build().map_err(|e| Error::Exporter {
            signal: "metrics",
            message: e.to_string(),
        })?;

        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(self.max_queue_size.unwrap_or(DEFAULT_MAX_QUEUE_SIZE));
        let processor = BatchSpanProcessor::builder(spans)
            .with_batch_config(batch.build())
            .build();
        let filtered = BenignErrorFilter::new(processor).with_rules(
            self.benign_rules
                .clone()
                .unwrap_or_else(|| vec![BenignRule::a2a_queue_shutdown()]),
        );
        let mut tracer_provider = SdkTracerProvider::builder()
            .with_span_processor(filtered)
            .with_resource(resource.clone());
        match self.sampler.clone() {
            Some(SamplerConfig::Ratio(r)) => {
                tracer_provider = tracer_provider.with_sampler(Sampler::ParentBased(Box::new(
                    Sampler::TraceIdRatioBased(r),
                )));
            }
            Some(SamplerConfig::Custom(s)) => tracer_provider = tracer_provider.with_sampler(s),
            None => {}
        }
        let tracer_provider = tracer_provider.build();

        let mut reader = PeriodicReader::builder(metrics);
        if let Some(interval) = self.export_interval {
            reader = reader.with_interval(interval);
        }
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(reader.build())
            .with_resource(resource)
            .with_view(semconv_buckets_view)
            .build();
        Ok(TelemetryGuard::enabled(
            tracer_provider,
            meter_provider,
            plan,
        ))
    }

    fn resource(&self, plan: &Plan) -> Resource {
        let mut builder = Resource::builder_empty()
            .with_detector(Box::new(TelemetryResourceDetector))
            .with_attributes(plan.resource_attributes.iter().cloned())
            .with_attributes(self.resource_attributes.iter().cloned())
            .with_service_name(plan.service_name.clone());
        if let Some(version) = &self.service_version {
            builder = builder.with_attribute(KeyValue::new(SERVICE_VERSION, version.clone()));
        }
        builder.build()
    }

    fn metadata(&self) -> Result<Option<tonic::metadata::MetadataMap>, Error> {
        if self.headers.is_empty() {
            return Ok(None);
        }
        let mut md = tonic::metadata::MetadataMap::new();
        for (k, v) in &self.headers {
            let key = tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| Error::Config(format!("invalid header name {k:?}")))?;
            let value = v
                .parse()
                .map_err(|_| Error::Config(format!("invalid value for header {k:?}")))?;
            md.insert(key, value);
        }
        Ok(Some(md))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        move |k| map.get(k).map(|v| (*v).to_owned())
    }

    #[test]
    fn empty_endpoint_env_builds_nothing_even_outside_a_runtime() {
        let guard = Telemetry::new()
            .with_endpoint("http://code:4317")
            .build_with_env(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]))
            .unwrap();
        assert!(!guard.is_enabled());
        assert_eq!(guard.disabled_reason(), Some(DisabledReason::EmptyEndpoint));
        assert!(guard.tracer_provider().is_none() && guard.meter_provider().is_none());
        guard.shutdown().unwrap();
    }

    #[test]
    fn sdk_disabled_builds_nothing() {
        let guard = Telemetry::new()
            .build_with_env(&env(&[("OTEL_SDK_DISABLED", "TRUE")]))
            .unwrap();
        assert_eq!(guard.disabled_reason(), Some(DisabledReason::SdkDisabled));
        assert!(guard.tracer_provider().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn env_endpoint_is_used_when_code_sets_none() {
        let guard = Telemetry::new()
            .build_with_env(&env(&[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:9",
            )]))
            .unwrap();
        assert!(guard.is_enabled());
        assert_eq!(guard.endpoint(), "http://127.0.0.1:9");
        let guard = Telemetry::new().build_with_env(&env(&[])).unwrap();
        assert_eq!(guard.endpoint(), "http://localhost:4317");
        assert!(guard.service_name().starts_with("unknown_service"));
    }

    #[test]
    fn sample_ratio_is_clamped() {
        let t = Telemetry::new().with_sample_ratio(7.0);
        assert!(matches!(t.sampler, Some(SamplerConfig::Ratio(r)) if r == 1.0));
        let t = Telemetry::new().with_sample_ratio(f64::NAN);
        assert!(matches!(t.sampler, Some(SamplerConfig::Ratio(r)) if r == 1.0));
        let t = Telemetry::new().with_sample_ratio(-1.0);
        assert!(matches!(t.sampler, Some(SamplerConfig::Ratio(r)) if r == 0.0));
    }
}
