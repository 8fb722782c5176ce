//! The `Telemetry` builder: OTLP (gRPC or HTTP) providers, resource, propagator.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{
    MetricExporter, RetryPolicy, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::resource::{Resource, TelemetryResourceDetector};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};

use crate::accounting::{CountingExporter, CountingProcessor, SelfMetrics, SpanCounters};
use crate::benign::{BenignErrorFilter, BenignRule};
use crate::env::{resolve, DisabledReason, Plan};
use crate::exporters::{
    plan_signal, Compression, ExportOptions, Protocol, RefusableMetrics, RefusableSpans, Refusal,
    Signal, SignalPlan,
};
use crate::guard::TelemetryGuard;
use crate::semconv::{
    ENV_BSP_MAX_QUEUE_SIZE, ENV_OTLP_METRICS_TIMEOUT, ENV_OTLP_TIMEOUT, ENV_OTLP_TRACES_TIMEOUT,
    ENV_PROPAGATORS, ENV_TRACES_SAMPLER, PROPAGATOR_BAGGAGE, PROPAGATOR_NONE,
    PROPAGATOR_TRACECONTEXT, SERVICE_VERSION,
};
use crate::views::semconv_buckets_view;
use crate::Error;

/// Default cap on spans waiting for export; beyond it new spans are dropped — counted and
/// reported, never buffered without bound (a hanging collector cannot grow memory).
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;

/// Default export timeout, which is also the shutdown deadline (the OTLP default, 10 s).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Telemetry configuration: a builder for the tracer and meter providers every vystak service
/// installs. See the crate docs for the rules.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Telemetry {
    service_name: Option<String>,
    service_version: Option<String>,
    sampler: Option<SamplerConfig>,
    export_interval: Option<Duration>,
    export_timeout: Option<Duration>,
    max_queue_size: Option<usize>,
    resource_attributes: Vec<KeyValue>,
    benign_rules: Option<Vec<BenignRule>>,
    install_propagator: Option<bool>,
    export: ExportOptions,
    summary_line: Option<bool>,
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

    /// The OTLP endpoint of both signals, e.g. `http://collector:4317` (gRPC) or
    /// `http://collector:4318` (HTTP: `/v1/traces`, `/v1/metrics` are appended). Wins over
    /// `OTEL_EXPORTER_OTLP_*` endpoints — except that `OTEL_EXPORTER_OTLP_ENDPOINT=""` still turns
    /// telemetry off.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.export.endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP protocol of both signals (default: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` /
    /// `…_METRICS_…`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else [`Protocol::Grpc`]). With an
    /// HTTP protocol the generic endpoint gets `/v1/traces` / `/v1/metrics` appended.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.export.protocol = Some(protocol);
        self
    }

    /// Export compression of both signals (default: `OTEL_EXPORTER_OTLP_*_COMPRESSION`, else
    /// none). gzip is built in for gRPC and HTTP.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.export.compression = Some(compression);
        self
    }

    /// Whether a gRPC endpoint given without a scheme (`collector:4317`) is plain `http://`
    /// (`true`) or TLS `https://` (`false`, the default) — the OTLP exporter spec's
    /// `OTEL_EXPORTER_OTLP_INSECURE` (and per-signal variants). An explicit scheme always wins.
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.export.insecure = Some(insecure);
        self
    }

    /// The full traces endpoint, used as is (e.g. Phoenix' `http://127.0.0.1:6006/v1/traces`);
    /// wins over [`with_endpoint`](Self::with_endpoint) for traces.
    pub fn with_traces_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.export.traces_endpoint = Some(endpoint.into());
        self
    }

    /// The full metrics endpoint, used as is; wins over [`with_endpoint`](Self::with_endpoint)
    /// for metrics.
    pub fn with_metrics_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.export.metrics_endpoint = Some(endpoint.into());
        self
    }

    /// Export traces or not (default: `OTEL_TRACES_EXPORTER`, `otlp` | `none`). Off, spans are
    /// still created and propagated, just not exported.
    pub fn with_traces(mut self, export: bool) -> Self {
        self.export.traces = Some(export);
        self
    }

    /// Export metrics or not (default: `OTEL_METRICS_EXPORTER`, `otlp` | `none`), e.g. off for a
    /// traces-only backend such as Jaeger or Phoenix.
    pub fn with_metrics(mut self, export: bool) -> Self {
        self.export.metrics = Some(export);
        self
    }

    /// Whether building prints the one-line [`TelemetryGuard::summary`] (default `true`;
    /// through `tracing` when a subscriber is installed, else on stderr).
    pub fn with_summary_line(mut self, print: bool) -> Self {
        self.summary_line = Some(print);
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

    /// Timeout of one export call, and the **one deadline** of
    /// [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown) and
    /// [`force_flush`](crate::TelemetryGuard::force_flush): traces and metrics are flushed in
    /// parallel and the call returns by then, whatever the collector does (spans not delivered
    /// by the deadline are counted in [`SpanStats`](crate::SpanStats) and reported). Default:
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `…_METRICS_…` (the longer), else
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (ms), else [`DEFAULT_EXPORT_TIMEOUT`].
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// Cap on spans waiting for export (default: `OTEL_BSP_MAX_QUEUE_SIZE`, else
    /// [`DEFAULT_MAX_QUEUE_SIZE`]). A span ended while the queue is full is dropped, counted
    /// ([`TelemetryGuard::dropped_spans`](crate::TelemetryGuard::dropped_spans), the
    /// `otel.sdk.processor.span.processed` self-metric with `error.type=queue_full`) and
    /// reported by a warning at most every 10 s.
    ///
    /// Sizing: the queue must hold the spans ended while one export is in flight — roughly
    /// *spans per second × (export latency + the 5 s batch delay)* at the peak. For instance
    /// 4 000 requests/s with 3 spans each and a 50 ms export: ≥ 12 000 × 0.05 s = 600 spans
    /// between two size-triggered exports, many more if the collector slows down; watch
    /// [`SpanStats::queued`](crate::SpanStats::queued) / `otel.sdk.processor.span.queue.size`
    /// under load and give it headroom. Each queued span costs memory (≈ 1–2 KiB), so the cap
    /// is also what a hanging collector can cost you.
    pub fn with_max_queue_size(mut self, size: usize) -> Self {
        self.max_queue_size = Some(size.max(1));
        self
    }

    /// A header (gRPC metadata) sent with every export of both signals (e.g. an API key). Added
    /// to `OTEL_EXPORTER_OTLP_HEADERS` or its per-signal variant; the summary names it, never
    /// its value.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.export.headers.push((key.into(), value.into()));
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
            if let Some(p) = propagator_for(guard.propagators()) {
                opentelemetry::global::set_text_map_propagator(p);
            }
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
        let mut plan = resolve(self.service_name.as_deref(), env);
        let traces_plan = plan_signal(Signal::Traces, &self.export, env, &mut plan.warnings);
        let metrics_plan = plan_signal(Signal::Metrics, &self.export, env, &mut plan.warnings);
        for p in [&traces_plan, &metrics_plan] {
            if p.off.is_none() && p.endpoint.starts_with("https://") {
                if let Some(problem) = &crate::tls::system_roots().problem {
                    plan.warnings.push(format!(
                        "the {} endpoint {} is https://, but {problem}; its exports will fail",
                        p.signal.as_str(),
                        p.endpoint
                    ));
                }
            }
        }
        let propagators = propagators_from_env(env, &mut plan.warnings);
        let setup = Setup {
            traces: traces_plan,
            metrics: metrics_plan,
            sampler: self.sampler_description(env),
            propagators,
        };
        let print_summary = self.summary_line.unwrap_or(true);
        if let Some(reason) = plan.disabled {
            let guard = TelemetryGuard::disabled(reason, plan, setup);
            announce(&guard, print_summary);
            return Ok(guard);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let resource = self.resource(&plan);
        let metadata = self.metadata()?;
        let http_headers: HashMap<String, String> = self.export.headers.iter().cloned().collect();
        let deadline = self
            .export_timeout
            .unwrap_or_else(|| export_timeout_from_env(env));
        let queue_size = self
            .max_queue_size
            .or_else(|| {
                env(ENV_BSP_MAX_QUEUE_SIZE)
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .filter(|n| *n > 0)
            })
            .unwrap_or(DEFAULT_MAX_QUEUE_SIZE);
        let traces_refusal = Refusal::new(Signal::Traces, setup.traces.endpoint.clone());
        let metrics_refusal = Refusal::new(Signal::Metrics, setup.metrics.endpoint.clone());
        let exporter_config = ExporterConfig {
            timeout: self.export_timeout,
            https_timeout: deadline,
            metadata,
            headers: http_headers,
        };
        let spans = match setup.traces.off {
            Some(_) => None,
            None => Some(RefusableSpans::new(
                build_span_exporter(&setup.traces, &exporter_config, &traces_refusal)?,
                traces_refusal.clone(),
            )),
        };
        let metrics = match setup.metrics.off {
            Some(_) => None,
            None => Some(RefusableMetrics::new(
                build_metric_exporter(&setup.metrics, &exporter_config, &metrics_refusal)?,
                metrics_refusal.clone(),
            )),
        };

        // The queue bound is enforced (and every drop counted) in front of the batch processor,
        // whose own queue of the same size then never overflows silently.
        let counters = SpanCounters::new(queue_size);
        let mut tracer_provider = SdkTracerProvider::builder().with_resource(resource.clone());
        if let Some(spans) = spans {
            let batch = BatchConfigBuilder::default().with_max_queue_size(queue_size);
            let processor =
                BatchSpanProcessor::builder(CountingExporter::new(spans, counters.clone()))
                    .with_batch_config(batch.build())
                    .build();
            let counted = CountingProcessor::new(processor, counters.clone());
            let filtered = BenignErrorFilter::new(counted).with_rules(
                self.benign_rules
                    .clone()
                    .unwrap_or_else(|| vec![BenignRule::a2a_queue_shutdown()]),
            );
            tracer_provider = tracer_provider.with_span_processor(filtered);
        }
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

        let mut meter_provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_view(semconv_buckets_view);
        if let Some(metrics) = metrics {
            let mut reader = PeriodicReader::builder(metrics);
            if let Some(interval) = self.export_interval {
                reader = reader.with_interval(interval);
            }
            meter_provider = meter_provider.with_reader(reader.build());
        }
        let meter_provider = meter_provider.build();
        let self_metrics = SelfMetrics::register(
            &opentelemetry::metrics::MeterProvider::meter_with_scope(
                &meter_provider,
                opentelemetry::InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
            ),
            &counters,
        );
        let guard = TelemetryGuard::enabled(
            tracer_provider,
            meter_provider,
            plan,
            crate::guard::Accounting {
                counters,
                _self_metrics: self_metrics,
                deadline,
            },
            setup,
            [traces_refusal, metrics_refusal],
        );
        announce(&guard, print_summary);
        Ok(guard)
    }

    fn sampler_description(&self, env: &dyn Fn(&str) -> Option<String>) -> String {
        match &self.sampler {
            Some(SamplerConfig::Ratio(r)) => format!("parentbased_traceidratio({r})"),
            Some(SamplerConfig::Custom(s)) => format!("{s:?}"),
            None => match env(ENV_TRACES_SAMPLER).filter(|v| !v.trim().is_empty()) {
                Some(v) => format!("{v} ({ENV_TRACES_SAMPLER})"),
                None => "parentbased_always_on".to_owned(),
            },
        }
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
        if self.export.headers.is_empty() {
            return Ok(None);
        }
        let mut md = tonic::metadata::MetadataMap::new();
        for (k, v) in &self.export.headers {
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

/// What every exporter of this setup gets besides its plan.
struct ExporterConfig {
    timeout: Option<Duration>,
    /// The request timeout of the `https://` OTLP/HTTP client (which the SDK does not build).
    https_timeout: Duration,
    metadata: Option<tonic::metadata::MetadataMap>,
    headers: HashMap<String, String>,
}

/// The retry policy, set explicitly so behaviour does not move with the SDK's patch version:
/// 3 retries, exponential backoff from 100 ms to 1.6 s with up to 100 ms jitter. What is retried
/// is the OTLP exporter's classification: gRPC UNAVAILABLE, RESOURCE_EXHAUSTED (with
/// `RetryInfo`), … and HTTP 429, 502, 503, 504 (honouring `Retry-After`).
fn retry_policy() -> RetryPolicy {
    RetryPolicy::recommended()
        .with_max_retries(3)
        .with_initial_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_millis(1600))
        .with_max_jitter(Duration::from_millis(100))
}

/// Configures an OTLP exporter builder of either signal from its plan.
macro_rules! build_exporter {
    ($builder:expr, $plan:expr, $config:expr, $refusal:expr, $signal:literal) => {{
        let plan: &SignalPlan = $plan;
        let config: &ExporterConfig = $config;
        let built = match plan.protocol {
            Protocol::Grpc => {
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint(plan.endpoint.clone())
                    .with_retry_policy(retry_policy());
                if plan.compression == Compression::Gzip {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                if let Some(t) = config.timeout {
                    b = b.with_timeout(t);
                }
                if let Some(md) = &config.metadata {
                    b = b.with_metadata(md.clone());
                }
                if plan.endpoint.starts_with("https://") {
                    b = b.with_tls_config(crate::tls::grpc_tls_config());
                }
                b.build()
            }
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                let mut b = $builder
                    .with_http()
                    .with_endpoint(plan.endpoint.clone())
                    .with_protocol(if plan.protocol == Protocol::HttpJson {
                        opentelemetry_otlp::Protocol::HttpJson
                    } else {
                        opentelemetry_otlp::Protocol::HttpBinary
                    })
                    .with_retry_policy(retry_policy());
                if plan.compression == Compression::Gzip {
                    b = b.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                if let Some(t) = config.timeout {
                    b = b.with_timeout(t);
                }
                if !config.headers.is_empty() {
                    b = b.with_headers(config.headers.clone());
                }
                if plan.endpoint.starts_with("https://") {
                    b = b.with_http_client(crate::tls::HttpsClient::new(
                        config.https_timeout,
                        $refusal.clone(),
                    ));
                }
                b.build()
            }
        };
        built.map_err(|e| Error::Exporter {
            signal: $signal,
            message: format!("{} ({})", e, plan),
        })
    }};
}

fn build_span_exporter(
    plan: &SignalPlan,
    config: &ExporterConfig,
    refusal: &Arc<Refusal>,
) -> Result<SpanExporter, Error> {
    build_exporter!(SpanExporter::builder(), plan, config, refusal, "traces")
}

fn build_metric_exporter(
    plan: &SignalPlan,
    config: &ExporterConfig,
    refusal: &Arc<Refusal>,
) -> Result<MetricExporter, Error> {
    build_exporter!(MetricExporter::builder(), plan, config, refusal, "metrics")
}

/// The resolved exporters, sampler and propagators, for [`TelemetryGuard::summary`].
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) traces: SignalPlan,
    pub(crate) metrics: SignalPlan,
    pub(crate) sampler: String,
    pub(crate) propagators: Vec<&'static str>,
}

/// `OTEL_PROPAGATORS` (default `tracecontext,baggage`): `tracecontext` (the strict W3C
/// propagator), `baggage`, `none`; other names are warnings and skipped.
pub(crate) fn propagators_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Vec<&'static str> {
    let Some(value) = env(ENV_PROPAGATORS).filter(|v| !v.trim().is_empty()) else {
        return vec![PROPAGATOR_TRACECONTEXT, PROPAGATOR_BAGGAGE];
    };
    let mut out = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            PROPAGATOR_TRACECONTEXT | PROPAGATOR_BAGGAGE => {
                let name = if name == PROPAGATOR_TRACECONTEXT {
                    PROPAGATOR_TRACECONTEXT
                } else {
                    PROPAGATOR_BAGGAGE
                };
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            PROPAGATOR_NONE => return Vec::new(),
            other => warnings.push(format!(
                "{ENV_PROPAGATORS}: propagator {other:?} is not supported (tracecontext, \
                 baggage, none); skipped"
            )),
        }
    }
    out
}

/// The composite propagator for these names (`None` for none).
fn propagator_for(names: &[&str]) -> Option<TextMapCompositePropagator> {
    if names.is_empty() {
        return None;
    }
    if names == [PROPAGATOR_TRACECONTEXT, PROPAGATOR_BAGGAGE] {
        return Some(default_propagator());
    }
    let mut parts: Vec<Box<dyn opentelemetry::propagation::TextMapPropagator + Send + Sync>> =
        Vec::new();
    for name in names {
        match *name {
            PROPAGATOR_TRACECONTEXT => parts.push(Box::new(
                vystak_otel_propagator::W3cTraceContextPropagator::new()
                    .with_random_trace_ids(true),
            )),
            PROPAGATOR_BAGGAGE => parts.push(Box::new(BaggagePropagator::new())),
            _ => {}
        }
    }
    Some(TextMapCompositePropagator::new(parts))
}

/// Reports the warnings, each once, and the summary line when asked.
fn announce(guard: &TelemetryGuard, print_summary: bool) {
    for w in guard.warnings() {
        crate::accounting::warn(w);
    }
    if print_summary {
        crate::accounting::info(&guard.summary());
    }
}

/// The export timeout the OTLP exporters resolve from the environment (ms values), the longer of
/// the two signals'.
fn export_timeout_from_env(env: &dyn Fn(&str) -> Option<String>) -> Duration {
    let ms = |k: &str| env(k).and_then(|v| v.trim().parse::<u64>().ok());
    let generic = ms(ENV_OTLP_TIMEOUT);
    let traces = ms(ENV_OTLP_TRACES_TIMEOUT).or(generic);
    let metrics = ms(ENV_OTLP_METRICS_TIMEOUT).or(generic);
    match traces.max(metrics) {
        Some(ms) => Duration::from_millis(ms),
        None => DEFAULT_EXPORT_TIMEOUT,
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
    fn export_timeout_resolution() {
        assert_eq!(export_timeout_from_env(&env(&[])), DEFAULT_EXPORT_TIMEOUT);
        assert_eq!(
            export_timeout_from_env(&env(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "1500")])),
            Duration::from_millis(1500)
        );
        assert_eq!(
            export_timeout_from_env(&env(&[
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500"),
                ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3000"),
            ])),
            Duration::from_millis(3000)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_size_code_wins_over_env_which_wins_over_the_default() {
        let stats = |t: Telemetry, e: &[(&'static str, &'static str)]| {
            t.with_endpoint("http://127.0.0.1:9")
                .build_with_env(&env(e))
                .unwrap()
                .span_stats()
                .queue_capacity
        };
        assert_eq!(stats(Telemetry::new(), &[]), DEFAULT_MAX_QUEUE_SIZE as u64);
        assert_eq!(
            stats(Telemetry::new(), &[("OTEL_BSP_MAX_QUEUE_SIZE", "8192")]),
            8192
        );
        assert_eq!(
            stats(
                Telemetry::new().with_max_queue_size(16),
                &[("OTEL_BSP_MAX_QUEUE_SIZE", "8192")]
            ),
            16
        );
    }

    #[test]
    fn otel_propagators_names_what_init_installs() {
        let names = |v: &'static str| {
            let mut w = Vec::new();
            let e = move |k: &str| (k == "OTEL_PROPAGATORS").then(|| v.to_owned());
            (propagators_from_env(&e, &mut w), w)
        };
        assert_eq!(names("").0, ["tracecontext", "baggage"], "the default");
        assert_eq!(names("baggage").0, ["baggage"]);
        assert_eq!(names("tracecontext, tracecontext").0, ["tracecontext"]);
        assert!(names("none").0.is_empty());
        assert!(propagator_for(&names("none").0).is_none());
        let (n, w) = names("b3,tracecontext,xray");
        assert_eq!(n, ["tracecontext"]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("\"b3\""));
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

    #[test]
    fn debug_output_names_headers_but_never_shows_their_values() {
        let telemetry = Telemetry::new().with_header("Authorization", "Bearer s3cret-token");
        let shown = format!("{telemetry:?}");
        assert!(shown.contains("Authorization"), "{shown}");
        assert!(!shown.contains("s3cret"), "a header value leaked: {shown}");
    }
}
