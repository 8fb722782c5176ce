//! The `Telemetry` builder: OTLP (gRPC or HTTP) providers, resource, propagator.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::resource::{Resource, TelemetryResourceDetector};
use opentelemetry_sdk::trace::Sampler;

use crate::accounting::SpanCounters;
use crate::benign::BenignRule;
use crate::env::{resolve, DisabledReason, Plan};
use crate::exporters::{
    build_exporters, missing_roots_warnings, plan_signal, Compression, ExportOptions,
    ExporterConfig, Protocol, Signal,
};
use crate::guard::{Accounting, Setup, TelemetryGuard};
use crate::propagation::{propagator_for, propagators_from_env};
use crate::semconv::{
    ENV_BSP_MAX_QUEUE_SIZE, ENV_OTLP_METRICS_TIMEOUT, ENV_OTLP_TIMEOUT, ENV_OTLP_TRACES_TIMEOUT,
    ENV_TRACES_SAMPLER, SERVICE_VERSION,
};
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

    /// Adds a [`BenignRule`] to the default [`BenignErrorFilter`](crate::BenignErrorFilter) rules.
    pub fn with_benign_rule(mut self, rule: BenignRule) -> Self {
        self.benign_rules
            .get_or_insert_with(|| vec![BenignRule::a2a_queue_shutdown()])
            .push(rule);
        self
    }

    /// Replaces the [`BenignErrorFilter`](crate::BenignErrorFilter) rules (an empty list turns the
    /// filter off).
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
        install(&guard, install_propagator);
        Ok(guard)
    }

    /// [`Telemetry::build`] against the environment `env`.
    pub(crate) fn build_with_env(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TelemetryGuard, Error> {
        let (plan, setup) = self.resolve_setup(env);
        let print_summary = self.summary_line.unwrap_or(true);
        if let Some(reason) = plan.disabled {
            let guard = TelemetryGuard::disabled(reason, plan, setup);
            announce(&guard, print_summary);
            return Ok(guard);
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let guard = self.build_enabled(plan, setup, env)?;
        announce(&guard, print_summary);
        Ok(guard)
    }

    /// Everything decided before anything is built: whether telemetry is on, the service name
    /// and resource attributes ([`resolve`]), each signal's exporter plan, the sampler and the
    /// propagators — with the warnings, in that order.
    fn resolve_setup(&self, env: &dyn Fn(&str) -> Option<String>) -> (Plan, Setup) {
        let mut plan = resolve(self.service_name.as_deref(), env);
        let traces = plan_signal(Signal::Traces, &self.export, env, &mut plan.warnings);
        let metrics = plan_signal(Signal::Metrics, &self.export, env, &mut plan.warnings);
        missing_roots_warnings([&traces, &metrics], &mut plan.warnings);
        let propagators = propagators_from_env(env, &mut plan.warnings);
        let setup = Setup {
            traces,
            metrics,
            sampler: self.sampler_description(env),
            propagators,
        };
        (plan, setup)
    }

    /// Builds the resource, the exporters and the providers of an enabled setup (inside a Tokio
    /// runtime).
    fn build_enabled(
        &self,
        plan: Plan,
        setup: Setup,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TelemetryGuard, Error> {
        let resource = self.resource(&plan);
        let deadline = self
            .export_timeout
            .unwrap_or_else(|| export_timeout_from_env(env));
        let queue_size = self.queue_size(env);
        let config = ExporterConfig::new(&self.export.headers, self.export_timeout, deadline)?;
        let exporters = build_exporters(&setup.traces, &setup.metrics, &config)?;
        let counters = SpanCounters::new(queue_size);
        let tracer_provider = crate::providers::tracer_provider(
            resource.clone(),
            exporters.spans,
            &counters,
            queue_size,
            self.benign_rules(),
            self.sampler(),
        );
        let meter_provider =
            crate::providers::meter_provider(resource, exporters.metrics, self.export_interval);
        let self_metrics = crate::providers::self_metrics(&meter_provider, &counters);
        let accounting = Accounting {
            counters,
            _self_metrics: self_metrics,
            deadline,
        };
        Ok(TelemetryGuard::enabled(
            tracer_provider,
            meter_provider,
            plan,
            accounting,
            setup,
            exporters.refusals,
        ))
    }

    /// The span queue's cap: code, else `OTEL_BSP_MAX_QUEUE_SIZE` (a positive number), else
    /// [`DEFAULT_MAX_QUEUE_SIZE`].
    fn queue_size(&self, env: &dyn Fn(&str) -> Option<String>) -> usize {
        self.max_queue_size
            .or_else(|| {
                env(ENV_BSP_MAX_QUEUE_SIZE)
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .filter(|n| *n > 0)
            })
            .unwrap_or(DEFAULT_MAX_QUEUE_SIZE)
    }

    /// The benign-error rules: those set in code, else the default one.
    fn benign_rules(&self) -> Vec<BenignRule> {
        self.benign_rules
            .clone()
            .unwrap_or_else(|| vec![BenignRule::a2a_queue_shutdown()])
    }

    /// The sampler set in code (a ratio is parent-based); `None` leaves the SDK default.
    fn sampler(&self) -> Option<Sampler> {
        match self.sampler.clone() {
            Some(SamplerConfig::Ratio(r)) => Some(Sampler::ParentBased(Box::new(
                Sampler::TraceIdRatioBased(r),
            ))),
            Some(SamplerConfig::Custom(s)) => Some(s),
            None => None,
        }
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
}

/// Installs the propagator (unless asked not to, or telemetry is off for an empty endpoint) and
/// the providers globally.
fn install(guard: &TelemetryGuard, install_propagator: bool) {
    if install_propagator && guard.disabled_reason() != Some(DisabledReason::EmptyEndpoint) {
        if let Some(p) = propagator_for(guard.propagators()) {
            opentelemetry::global::set_text_map_propagator(p);
        }
    }
    if let (Some(tp), Some(mp)) = (guard.tracer_provider(), guard.meter_provider()) {
        opentelemetry::global::set_tracer_provider(tp);
        opentelemetry::global::set_meter_provider(mp);
        // Built with the SDK's bound-instrument feature: the instrumentation may bind.
        vystak_otel_core::providers::mark_global_meter_provider();
    }
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
