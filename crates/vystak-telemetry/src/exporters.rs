//! Per-signal exporter configuration — protocol, endpoint, compression, on/off — resolved as a
//! pure function of the builder and an environment snapshot (so every rule is testable), and the
//! wrapper that stops a signal the backend refuses.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::semconv::*;

/// An OTLP transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/gRPC (the seed's, and the default), port 4317.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318 (`/v1/traces`, `/v1/metrics`).
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies.
    HttpJson,
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` value: `grpc`, `http/protobuf`, `http/json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => PROTOCOL_GRPC,
            Protocol::HttpProtobuf => PROTOCOL_HTTP_PROTOBUF,
            Protocol::HttpJson => PROTOCOL_HTTP_JSON,
        }
    }

    /// Parses an `OTEL_EXPORTER_OTLP_PROTOCOL` value.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            PROTOCOL_GRPC => Some(Protocol::Grpc),
            PROTOCOL_HTTP_PROTOBUF => Some(Protocol::HttpProtobuf),
            PROTOCOL_HTTP_JSON => Some(Protocol::HttpJson),
            _ => None,
        }
    }

    fn is_http(self) -> bool {
        self != Protocol::Grpc
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Export compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// None (the default).
    #[default]
    None,
    /// gzip, built in for both protocols.
    Gzip,
}

impl Compression {
    /// The `OTEL_EXPORTER_OTLP_COMPRESSION` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => COMPRESSION_NONE,
            Compression::Gzip => COMPRESSION_GZIP,
        }
    }
}

/// A telemetry signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
}

impl Signal {
    /// `traces` / `metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }

    /// `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`.
    pub fn exporter_var(self) -> &'static str {
        match self {
            Signal::Traces => ENV_TRACES_EXPORTER,
            Signal::Metrics => ENV_METRICS_EXPORTER,
        }
    }
}

/// What the builder says about exporters (code wins over the environment).
#[derive(Clone, Debug, Default)]
pub(crate) struct ExportOptions {
    pub(crate) endpoint: Option<String>,
    pub(crate) traces_endpoint: Option<String>,
    pub(crate) metrics_endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) compression: Option<Compression>,
    pub(crate) traces: Option<bool>,
    pub(crate) metrics: Option<bool>,
}

/// How one signal is exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalPlan {
    /// Which signal.
    pub signal: Signal,
    /// `None`: exported. `Some(why)`: off, and why.
    pub off: Option<String>,
    /// The transport.
    pub protocol: Protocol,
    /// The full endpoint URL (for OTLP/HTTP with the signal path).
    pub endpoint: String,
    /// Where the endpoint came from (`code`, a variable name, or `default`).
    pub endpoint_source: &'static str,
    /// The compression.
    pub compression: Compression,
}

impl fmt::Display for SignalPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.off {
            Some(why) => write!(f, "{} off ({why})", self.signal.as_str()),
            None => write!(
                f,
                "{} → {} ({}, {}, from {})",
                self.signal.as_str(),
                self.endpoint,
                self.protocol,
                self.compression.as_str(),
                self.endpoint_source
            ),
        }
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `base` + the signal path, with exactly one `/` between them (the OTLP exporter spec's rule for
/// the generic endpoint).
fn with_signal_path(base: &str, signal: Signal) -> String {
    format!("{}{}", base.trim_end_matches('/'), signal.path())
}

/// Resolves one signal's plan. Precedence: code per-signal endpoint > code endpoint >
/// `OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT` (used as is) > `OTEL_EXPORTER_OTLP_ENDPOINT` (for HTTP
/// with `/v1/{signal}` appended) > the protocol's default. Protocol and compression: code >
/// per-signal variable > generic variable > `grpc` / none; unknown values are warnings.
pub(crate) fn plan_signal(
    signal: Signal,
    opts: &ExportOptions,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> SignalPlan {
    let var = |suffix: &str| format!("OTEL_EXPORTER_OTLP_{}_{suffix}", signal.upper());
    // Protocol.
    let protocol = opts.protocol.unwrap_or_else(|| {
        for name in [var("PROTOCOL"), ENV_OTLP_PROTOCOL.to_owned()] {
            if let Some(v) = non_empty(env(&name)) {
                match Protocol::parse(&v) {
                    Some(p) => return p,
                    None => warnings.push(format!(
                        "{name}={v:?} is not a protocol (grpc, http/protobuf, http/json): using grpc"
                    )),
                }
                return Protocol::Grpc;
            }
        }
        Protocol::Grpc
    });
    // Endpoint.
    let code_signal = match signal {
        Signal::Traces => opts.traces_endpoint.clone(),
        Signal::Metrics => opts.metrics_endpoint.clone(),
    };
    let signal_var = var("ENDPOINT");
    let generic = |base: String| {
        if protocol.is_http() {
            with_signal_path(&base, signal)
        } else {
            base
        }
    };
    let (endpoint, endpoint_source) = if let Some(e) = non_empty(code_signal) {
        (e, "code")
    } else if let Some(e) = non_empty(opts.endpoint.clone()) {
        (generic(e), "code")
    } else if let Some(e) = non_empty(env(&signal_var)) {
        (
            e,
            match signal {
                Signal::Traces => ENV_OTLP_TRACES_ENDPOINT,
                Signal::Metrics => ENV_OTLP_METRICS_ENDPOINT,
            },
        )
    } else if let Some(e) = non_empty(env(ENV_OTLP_ENDPOINT)) {
        (generic(e), ENV_OTLP_ENDPOINT)
    } else if protocol.is_http() {
        (with_signal_path(DEFAULT_HTTP_ENDPOINT, signal), "default")
    } else {
        (DEFAULT_ENDPOINT.to_owned(), "default")
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        warnings.push(format!(
            "the {} endpoint {endpoint:?} has no http:// or https:// scheme; the exporter will \
             refuse it",
            signal.as_str()
        ));
    } else if endpoint.starts_with("https://") {
        warnings.push(format!(
            "the {} endpoint {endpoint} is https://, but this build has no TLS: export will fail. \
             Send to a local OpenTelemetry Collector over http:// and let it speak TLS",
            signal.as_str()
        ));
    }
    // Compression.
    let compression = opts.compression.unwrap_or_else(|| {
        for name in [var("COMPRESSION"), ENV_OTLP_COMPRESSION.to_owned()] {
            if let Some(v) = non_empty(env(&name)) {
                return match v.to_ascii_lowercase().as_str() {
                    COMPRESSION_GZIP => Compression::Gzip,
                    COMPRESSION_NONE => Compression::None,
                    _ => {
                        warnings.push(format!(
                            "{name}={v:?} is not a supported compression (gzip, none): sending \
                             uncompressed"
                        ));
                        Compression::None
                    }
                };
            }
        }
        Compression::None
    });
    // On or off.
    let code_on = match signal {
        Signal::Traces => opts.traces,
        Signal::Metrics => opts.metrics,
    };
    let off = match code_on {
        Some(false) => Some("turned off in code".to_owned()),
        Some(true) => None,
        None => exporter_from_env(signal, env, warnings),
    };
    SignalPlan {
        signal,
        off,
        protocol,
        endpoint,
        endpoint_source,
        compression,
    }
}

/// `OTEL_{SIGNAL}_EXPORTER`: `otlp` (default) or `none`; a list is read entry by entry; other
/// names (`console`, `zipkin`, …) are warnings and ignored.
fn exporter_from_env(
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let name = signal.exporter_var();
    let value = non_empty(env(name))?;
    let mut otlp = false;
    let mut none = false;
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry {
            EXPORTER_OTLP => otlp = true,
            EXPORTER_NONE => none = true,
            other => warnings.push(format!(
                "{name}: exporter {other:?} is not supported (otlp, none); ignored"
            )),
        }
    }
    (none && !otlp).then(|| format!("{name}=none"))
}

/// Why a backend refuses a signal outright (as opposed to failing one export): OTLP/HTTP 404,
/// 405, 415, or gRPC UNIMPLEMENTED.
pub(crate) fn refusal(error: &OTelSdkError) -> Option<&'static str> {
    let text = error.to_string();
    for (needle, why) in [
        ("status code: 404", "HTTP 404 Not Found"),
        ("status code: 405", "HTTP 405 Method Not Allowed"),
        ("status code: 415", "HTTP 415 Unsupported Media Type"),
        ("gRPC code: Unimplemented", "gRPC UNIMPLEMENTED"),
    ] {
        if text.contains(needle) {
            return Some(why);
        }
    }
    None
}

/// A signal's refusal state, shared by its exporter wrapper and the guard.
#[derive(Debug)]
pub(crate) struct Refusal {
    signal: Signal,
    endpoint: String,
    /// Set once, by the first refusal.
    why: OnceLock<&'static str>,
}

impl Refusal {
    pub(crate) fn new(signal: Signal, endpoint: String) -> Arc<Self> {
        Arc::new(Self {
            signal,
            endpoint,
            why: OnceLock::new(),
        })
    }

    /// Why the backend refused this signal, once it did.
    pub(crate) fn refused(&self) -> Option<&'static str> {
        self.why.get().copied()
    }

    fn is_refused(&self) -> bool {
        self.why.get().is_some()
    }

    /// Records an export result; the first refusal is warned about, once.
    fn observe(&self, result: &OTelSdkResult) {
        let Err(e) = result else { return };
        let Some(why) = refusal(e) else { return };
        if self.why.set(why).is_ok() {
            crate::accounting::warn(&format!(
                "the backend at {} refused {} ({why}): {} export is stopped for this process \
                 (the other signal is unaffected). If this backend takes no {}, set {}=none",
                self.endpoint,
                self.signal.as_str(),
                self.signal.as_str(),
                self.signal.as_str(),
                self.signal.exporter_var()
            ));
        }
    }
}

/// A span exporter that stops exporting once the backend refused traces.
#[derive(Debug)]
pub(crate) struct RefusableSpans<E> {
    inner: E,
    refusal: Arc<Refusal>,
}

impl<E> RefusableSpans<E> {
    pub(crate) fn new(inner: E, refusal: Arc<Refusal>) -> Self {
        Self { inner, refusal }
    }
}

impl<E: SpanExporter> SpanExporter for RefusableSpans<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let refusal = self.refusal.clone();
        let export = (!refusal.is_refused()).then(|| self.inner.export(batch));
        async move {
            let Some(export) = export else {
                // Refused before, and said so once: these are discarded on purpose.
                return Ok(());
            };
            let result = export.await;
            refusal.observe(&result);
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A metric exporter that stops exporting once the backend refused metrics.
#[derive(Debug)]
pub(crate) struct RefusableMetrics<E> {
    inner: E,
    refusal: Arc<Refusal>,
}

impl<E> RefusableMetrics<E> {
    pub(crate) fn new(inner: E, refusal: Arc<Refusal>) -> Self {
        Self { inner, refusal }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for RefusableMetrics<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        if self.refusal.is_refused() {
            return Ok(());
        }
        let result = self.inner.export(metrics).await;
        self.refusal.observe(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn plan(
        signal: Signal,
        opts: &ExportOptions,
        pairs: &'static [(&'static str, &'static str)],
    ) -> (SignalPlan, Vec<String>) {
        let mut w = Vec::new();
        let p = plan_signal(signal, opts, &env(pairs), &mut w);
        (p, w)
    }

    #[test]
    fn defaults_are_grpc_on_4317_uncompressed_and_on() {
        let (p, w) = plan(Signal::Traces, &ExportOptions::default(), &[]);
        assert_eq!(
            (p.protocol, p.endpoint.as_str(), p.compression, p.off),
            (
                Protocol::Grpc,
                "http://localhost:4317",
                Compression::None,
                None
            )
        );
        assert!(w.is_empty());
    }

    #[test]
    fn endpoint_code_beats_signal_env_beats_generic_env_beats_default() {
        let generic = &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317")];
        let code = ExportOptions {
            endpoint: Some("http://code:4317".into()),
            ..ExportOptions::default()
        };
        let (p, _) = plan(Signal::Traces, &code, generic);
        assert_eq!(
            (p.endpoint.as_str(), p.endpoint_source),
            ("http://code:4317", "code")
        );
        let (p, _) = plan(Signal::Traces, &ExportOptions::default(), generic);
        assert_eq!(
            (p.endpoint.as_str(), p.endpoint_source),
            ("http://env:4317", "OTEL_EXPORTER_OTLP_ENDPOINT")
        );
        let both = &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ];
        let (p, _) = plan(Signal::Traces, &ExportOptions::default(), both);
        assert_eq!(p.endpoint, "http://traces:4317");
        let (p, _) = plan(Signal::Traces, &ExportOptions::default(), &[]);
        assert_eq!(
            (p.endpoint.as_str(), p.endpoint_source),
            ("http://localhost:4317", "default")
        );
    }

    #[test]
    fn an_empty_code_endpoint_counts_as_unset() {
        let code = ExportOptions {
            endpoint: Some("  ".into()),
            ..ExportOptions::default()
        };
        let (p, _) = plan(
            Signal::Traces,
            &code,
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4317")],
        );
        assert_eq!(p.endpoint, "http://env:4317");
    }

    #[test]
    fn http_appends_the_signal_path_to_the_generic_endpoint_only() {
        let pairs = &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://mimir:9009/otlp/v1/metrics",
            ),
        ];
        let (t, _) = plan(Signal::Traces, &ExportOptions::default(), pairs);
        assert_eq!(t.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(t.endpoint_source, "OTEL_EXPORTER_OTLP_ENDPOINT");
        let (m, _) = plan(Signal::Metrics, &ExportOptions::default(), pairs);
        assert_eq!(m.endpoint, "http://mimir:9009/otlp/v1/metrics", "as is");
        assert_eq!(m.endpoint_source, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        // The HTTP default is 4318 with the path.
        let (d, _) = plan(
            Signal::Metrics,
            &ExportOptions::default(),
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
        );
        assert_eq!(
            (d.protocol, d.endpoint.as_str()),
            (Protocol::HttpJson, "http://localhost:4318/v1/metrics")
        );
        // gRPC never appends.
        let (g, _) = plan(
            Signal::Traces,
            &ExportOptions::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")],
        );
        assert_eq!(g.endpoint, "http://collector:4317");
    }

    #[test]
    fn per_signal_protocol_wins_over_generic_and_code_wins_over_both() {
        let pairs = &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ];
        let (t, _) = plan(Signal::Traces, &ExportOptions::default(), pairs);
        let (m, _) = plan(Signal::Metrics, &ExportOptions::default(), pairs);
        assert_eq!(
            (t.protocol, m.protocol),
            (Protocol::HttpProtobuf, Protocol::Grpc)
        );
        let code = ExportOptions {
            protocol: Some(Protocol::HttpJson),
            endpoint: Some("http://code:4318".into()),
            ..ExportOptions::default()
        };
        let (t, _) = plan(Signal::Traces, &code, pairs);
        assert_eq!(
            (t.protocol, t.endpoint.as_str(), t.endpoint_source),
            (Protocol::HttpJson, "http://code:4318/v1/traces", "code")
        );
        let code = ExportOptions {
            traces_endpoint: Some("http://phoenix:6006/v1/traces".into()),
            endpoint: Some("http://code:4318".into()),
            protocol: Some(Protocol::HttpProtobuf),
            ..ExportOptions::default()
        };
        assert_eq!(
            plan(Signal::Traces, &code, &[]).0.endpoint,
            "http://phoenix:6006/v1/traces"
        );
    }

    #[test]
    fn unknown_values_are_warnings_with_the_documented_fallback() {
        let (p, w) = plan(
            Signal::Traces,
            &ExportOptions::default(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
                ("OTEL_TRACES_EXPORTER", "console"),
            ],
        );
        assert_eq!(
            (p.protocol, p.compression, p.off),
            (Protocol::Grpc, Compression::None, None)
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\""));
        assert!(w[1].contains("brotli"));
        assert!(w[2].contains("console"));
    }

    #[test]
    fn compression_and_exporters() {
        let pairs = &[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ];
        let (t, _) = plan(Signal::Traces, &ExportOptions::default(), pairs);
        let (m, _) = plan(Signal::Metrics, &ExportOptions::default(), pairs);
        assert_eq!((t.compression, t.off.as_deref()), (Compression::Gzip, None));
        assert_eq!(
            (m.compression, m.off.as_deref()),
            (Compression::None, Some("OTEL_METRICS_EXPORTER=none"))
        );
        let on = ExportOptions {
            metrics: Some(true),
            ..ExportOptions::default()
        };
        assert_eq!(plan(Signal::Metrics, &on, pairs).0.off, None, "code wins");
    }

    #[test]
    fn https_and_schemeless_endpoints_are_reported() {
        let (_, w) = plan(
            Signal::Traces,
            &ExportOptions::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io")],
        );
        assert!(w[0].contains("no TLS"), "{w:?}");
        let (_, w) = plan(
            Signal::Traces,
            &ExportOptions::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
        );
        assert!(w[0].contains("no http:// or https:// scheme"), "{w:?}");
    }

    #[test]
    fn refusals_are_recognised() {
        for (text, want) in [
            (
                "HTTP export failed with status code: 405",
                Some("HTTP 405 Method Not Allowed"),
            ),
            (
                "TonicMetricsClient export failed with gRPC code: Unimplemented",
                Some("gRPC UNIMPLEMENTED"),
            ),
            ("HTTP export failed with status code: 503", None),
            (
                "TonicTracesClient export failed with gRPC code: Unavailable",
                None,
            ),
        ] {
            assert_eq!(
                refusal(&OTelSdkError::InternalFailure(text.into())),
                want,
                "{text}"
            );
        }
    }
}
