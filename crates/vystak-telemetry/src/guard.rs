//! `TelemetryGuard`: owns the providers; flushes and shuts them down.

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::env::{DisabledReason, Plan};
use crate::Error;

/// Owns the tracer and meter providers built by [`crate::Telemetry`]. Flushes and shuts them down
/// on [`TelemetryGuard::shutdown`] or when dropped, so every span ended before that is delivered.
///
/// Shutting down blocks the calling thread while the gRPC exporter flushes (bounded by the export
/// timeout); on a multi-thread Tokio runtime this is done with `block_in_place`.
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    providers: Option<(SdkTracerProvider, SdkMeterProvider)>,
    disabled: Option<DisabledReason>,
    endpoint: String,
    service_name: String,
    warnings: Vec<String>,
}

impl TelemetryGuard {
    pub(crate) fn enabled(tp: SdkTracerProvider, mp: SdkMeterProvider, plan: Plan) -> Self {
        Self {
            providers: Some((tp, mp)),
            disabled: None,
            endpoint: plan.endpoint,
            service_name: plan.service_name,
            warnings: plan.warnings,
        }
    }

    pub(crate) fn disabled(reason: DisabledReason, plan: Plan) -> Self {
        Self {
            providers: None,
            disabled: Some(reason),
            endpoint: plan.endpoint,
            service_name: plan.service_name,
            warnings: plan.warnings,
        }
    }

    /// `true` when providers were built (telemetry is on).
    pub fn is_enabled(&self) -> bool {
        self.providers.is_some()
    }

    /// Why telemetry is off, when it is.
    pub fn disabled_reason(&self) -> Option<DisabledReason> {
        self.disabled
    }

    /// The OTLP gRPC endpoint spans are exported to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The resolved `service.name`.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// Configuration problems that were reported and ignored (e.g. a malformed
    /// `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The tracer provider (a cheap clone), when enabled.
    pub fn tracer_provider(&self) -> Option<SdkTracerProvider> {
        self.providers.as_ref().map(|(tp, _)| tp.clone())
    }

    /// The meter provider (a cheap clone), when enabled.
    pub fn meter_provider(&self) -> Option<SdkMeterProvider> {
        self.providers.as_ref().map(|(_, mp)| mp.clone())
    }

    /// Exports everything finished so far, without shutting down.
    ///
    /// # Errors
    /// [`Error::Flush`] when an exporter failed (e.g. the collector is unreachable).
    pub fn force_flush(&self) -> Result<(), Error> {
        let Some((tp, mp)) = &self.providers else {
            return Ok(());
        };
        let traces = blocking(|| tp.force_flush());
        let metrics = blocking(|| mp.force_flush());
        combine("flush", traces, metrics)
    }

    /// Flushes spans and metrics, then shuts both providers down.
    ///
    /// # Errors
    /// [`Error::Flush`] when an exporter failed; the providers are shut down regardless.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), Error> {
        let Some((tp, mp)) = self.providers.take() else {
            return Ok(());
        };
        let traces = blocking(|| tp.shutdown());
        let metrics = blocking(|| mp.shutdown());
        combine("shutdown", traces, metrics)
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Best effort: errors are not reported from drop.
        let _ = self.shutdown_inner();
    }
}

/// Runs a blocking SDK call; inside a multi-thread Tokio runtime via `block_in_place`, so the
/// runtime keeps driving the gRPC exporter's connection while this thread waits.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn combine(
    operation: &'static str,
    traces: opentelemetry_sdk::error::OTelSdkResult,
    metrics: opentelemetry_sdk::error::OTelSdkResult,
) -> Result<(), Error> {
    let mut messages = Vec::new();
    if let Err(e) = traces {
        messages.push(format!("traces: {e}"));
    }
    if let Err(e) = metrics {
        messages.push(format!("metrics: {e}"));
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(Error::Flush {
            operation,
            message: messages.join("; "),
        })
    }
}
