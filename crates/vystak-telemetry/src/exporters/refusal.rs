//! The refusal of a signal: recognising an export error by which the backend refuses a signal
//! outright (OTLP/HTTP 404, 405, 415, gRPC UNIMPLEMENTED), reporting it (and a TLS failure of an
//! `https://` endpoint) once, and the exporter wrappers that stop a refused signal.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::config::Signal;

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
    /// Set once, by the first TLS failure (the error text).
    tls: OnceLock<String>,
}

impl Refusal {
    pub(crate) fn new(signal: Signal, endpoint: String) -> Arc<Self> {
        Arc::new(Self {
            signal,
            endpoint,
            why: OnceLock::new(),
            tls: OnceLock::new(),
        })
    }

    /// Why the backend refused this signal, once it did.
    pub(crate) fn refused(&self) -> Option<&'static str> {
        self.why.get().copied()
    }

    /// The first TLS failure of this signal's exports, if any.
    pub(crate) fn tls_failure(&self) -> Option<&str> {
        self.tls.get().map(String::as_str)
    }

    fn is_refused(&self) -> bool {
        self.why.get().is_some()
    }

    /// Records the error text of a failed export: a TLS failure (certificate, handshake) of an
    /// export to an `https://` endpoint is kept and warned about, once; anything else is left to
    /// the exporter's own reporting. (The OTLP/HTTP exporter reduces its client's error to
    /// "network error", so the `https://` client reports its own.)
    pub(crate) fn export_failed(&self, text: String) {
        if !self.endpoint.starts_with("https://") || !super::tls::tls_failure(&text) {
            return;
        }
        if self.tls.set(text).is_err() {
            return; // warned already
        }
        crate::accounting::warn(&format!(
            "TLS with the {} backend at {} failed: {}. Retrying will not fix this: if the \
             backend has a private or self-signed certificate, put its CA in a PEM file and point \
             SSL_CERT_FILE at it; or send to a local OpenTelemetry Collector over http://",
            self.signal.as_str(),
            self.endpoint,
            self.tls.get().map_or("", String::as_str),
        ));
    }

    /// Records an export result; the first refusal is warned about, once.
    fn observe(&self, result: &OTelSdkResult) {
        let Err(e) = result else { return };
        let Some(why) = refusal(e) else {
            self.export_failed(e.to_string());
            return;
        };
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
