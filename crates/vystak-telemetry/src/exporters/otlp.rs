//! Building the OTLP span and metric exporters from their plans: gRPC (tonic) or HTTP, with the
//! retry policy, compression, timeout, headers and TLS, each wrapped to stop on a refusal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::{
    MetricExporter, RetryPolicy, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};

use super::config::{Compression, Protocol, Signal, SignalPlan};
use super::refusal::{RefusableMetrics, RefusableSpans, Refusal};
use crate::Error;

/// What every exporter of this setup gets besides its plan.
pub(crate) struct ExporterConfig {
    timeout: Option<Duration>,
    /// The request timeout of the `https://` OTLP/HTTP client (which the SDK does not build).
    https_timeout: Duration,
    metadata: Option<tonic::metadata::MetadataMap>,
    headers: HashMap<String, String>,
}

impl ExporterConfig {
    /// The settings for the headers added in code (gRPC metadata or HTTP headers), the export
    /// timeout set in code (else the exporters read the environment's) and the `https://`
    /// client's request timeout.
    ///
    /// # Errors
    /// [`Error::Config`] for a header name or value gRPC metadata cannot carry.
    pub(crate) fn new(
        headers: &[(String, String)],
        timeout: Option<Duration>,
        https_timeout: Duration,
    ) -> Result<Self, Error> {
        Ok(Self {
            timeout,
            https_timeout,
            metadata: metadata(headers)?,
            headers: headers.iter().cloned().collect(),
        })
    }
}

/// The headers added in code as gRPC metadata (`None` without any).
fn metadata(headers: &[(String, String)]) -> Result<Option<tonic::metadata::MetadataMap>, Error> {
    if headers.is_empty() {
        return Ok(None);
    }
    let mut md = tonic::metadata::MetadataMap::new();
    for (k, v) in headers {
        let key = tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
            .map_err(|_| Error::Config(format!("invalid header name {k:?}")))?;
        let value = v
            .parse()
            .map_err(|_| Error::Config(format!("invalid value for header {k:?}")))?;
        md.insert(key, value);
    }
    Ok(Some(md))
}

/// The exporters of the signals that are on, and both signals' refusal states (traces, metrics).
pub(crate) struct Exporters {
    pub(crate) spans: Option<RefusableSpans<SpanExporter>>,
    pub(crate) metrics: Option<RefusableMetrics<MetricExporter>>,
    pub(crate) refusals: [Arc<Refusal>; 2],
}

/// Builds the exporter of each signal that is on (the traces', then the metrics').
///
/// # Errors
/// [`Error::Exporter`] when an exporter cannot be built.
pub(crate) fn build_exporters(
    traces: &SignalPlan,
    metrics: &SignalPlan,
    config: &ExporterConfig,
) -> Result<Exporters, Error> {
    let traces_refusal = Refusal::new(Signal::Traces, traces.endpoint.clone());
    let metrics_refusal = Refusal::new(Signal::Metrics, metrics.endpoint.clone());
    let spans = match traces.off {
        Some(_) => None,
        None => Some(RefusableSpans::new(
            build_span_exporter(traces, config, &traces_refusal)?,
            traces_refusal.clone(),
        )),
    };
    let metrics = match metrics.off {
        Some(_) => None,
        None => Some(RefusableMetrics::new(
            build_metric_exporter(metrics, config, &metrics_refusal)?,
            metrics_refusal.clone(),
        )),
    };
    Ok(Exporters {
        spans,
        metrics,
        refusals: [traces_refusal, metrics_refusal],
    })
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
                    b = b.with_tls_config(super::tls::grpc_tls_config());
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
                    b = b.with_http_client(super::tls::HttpsClient::new(
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
