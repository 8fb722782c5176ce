//! `TelemetryGuard`: owns the providers; flushes and shuts them down.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::accounting::{SelfMetrics, SpanCounters, SpanStats};
use crate::env::{DisabledReason, Plan};
use crate::exporters::{Refusal, Signal, SignalPlan};
use crate::Error;

/// The resolved exporters, sampler and propagators, for [`TelemetryGuard::summary`].
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) traces: SignalPlan,
    pub(crate) metrics: SignalPlan,
    pub(crate) sampler: String,
    pub(crate) propagators: Vec<&'static str>,
}

/// Span accounting and the shutdown deadline of an enabled guard.
#[derive(Debug)]
pub(crate) struct Accounting {
    pub(crate) counters: Arc<SpanCounters>,
    pub(crate) _self_metrics: SelfMetrics,
    pub(crate) deadline: Duration,
}

/// Owns the tracer and meter providers built by [`crate::Telemetry`]. Flushes and shuts them down
/// on [`TelemetryGuard::shutdown`] or when dropped, so every span ended before that is delivered.
///
/// Shutting down blocks the calling thread while the gRPC exporters flush, traces and metrics in
/// parallel, for at most one deadline: the export timeout
/// ([`Telemetry::with_export_timeout`](crate::Telemetry::with_export_timeout)). On a
/// multi-thread Tokio runtime the wait is done with `block_in_place`.
///
/// Nothing is lost without a word: spans dropped because the export queue was full, ended after
/// shutdown, still queued at the deadline, or in a failed export are counted
/// ([`TelemetryGuard::span_stats`]), exported as the `otel.sdk.processor.span.processed`
/// self-metric, and reported by a warning (through `tracing` when a subscriber is installed,
/// else on stderr) at most every 10 s and at shutdown.
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    providers: Option<(SdkTracerProvider, SdkMeterProvider)>,
    accounting: Option<Accounting>,
    disabled: Option<DisabledReason>,
    service_name: String,
    warnings: Vec<String>,
    setup: Setup,
    refusals: Vec<Arc<Refusal>>,
}

impl TelemetryGuard {
    pub(crate) fn enabled(
        tp: SdkTracerProvider,
        mp: SdkMeterProvider,
        plan: Plan,
        accounting: Accounting,
        setup: Setup,
        refusals: [Arc<Refusal>; 2],
    ) -> Self {
        Self {
            providers: Some((tp, mp)),
            accounting: Some(accounting),
            disabled: None,
            service_name: plan.service_name,
            warnings: plan.warnings,
            setup,
            refusals: refusals.into(),
        }
    }

    pub(crate) fn disabled(reason: DisabledReason, plan: Plan, setup: Setup) -> Self {
        Self {
            providers: None,
            accounting: None,
            disabled: Some(reason),
            service_name: plan.service_name,
            warnings: plan.warnings,
            setup,
            refusals: Vec::new(),
        }
    }

    /// How each signal is exported (protocol, endpoint, compression), or why it is off.
    pub fn signals(&self) -> [&SignalPlan; 2] {
        [&self.setup.traces, &self.setup.metrics]
    }

    /// The propagators [`Telemetry::init`](crate::Telemetry::init) installs (from
    /// `OTEL_PROPAGATORS`, default `tracecontext`, `baggage`).
    pub fn propagators(&self) -> &[&'static str] {
        &self.setup.propagators
    }

    /// Signals the backend refused (HTTP 404/405/415, gRPC UNIMPLEMENTED) and that are no
    /// longer exported, with why. Warned about once when it happened.
    pub fn refused_signals(&self) -> Vec<(Signal, &'static str)> {
        self.refusals
            .iter()
            .zip([Signal::Traces, Signal::Metrics])
            .filter_map(|(r, s)| r.refused().map(|why| (s, why)))
            .collect()
    }

    /// Signals whose exports to an `https://` endpoint failed in TLS (an untrusted or
    /// self-signed certificate, a failed handshake), with the first error. Warned about once;
    /// unlike a refusal the signal keeps trying, since the certificate may be fixed.
    pub fn tls_failures(&self) -> Vec<(Signal, String)> {
        self.refusals
            .iter()
            .zip([Signal::Traces, Signal::Metrics])
            .filter_map(|(r, s)| r.tls_failure().map(|e| (s, e.to_owned())))
            .collect()
    }

    /// One line saying what this process does with its telemetry: service name; per signal the
    /// endpoint, protocol and compression, or why it is off (and whether the backend refused
    /// it); the sampler; the propagators. Printed once when the guard is built (unless
    /// [`Telemetry::with_summary_line(false)`](crate::Telemetry::with_summary_line)).
    pub fn summary(&self) -> String {
        let mut out = format!("service {}", self.service_name);
        if let Some(reason) = self.disabled {
            out.push_str(&format!("; telemetry off ({reason})"));
        } else {
            let refused = self.refused_signals();
            for plan in self.signals() {
                out.push_str("; ");
                out.push_str(&plan.to_string());
                if let Some((_, why)) = refused.iter().find(|(s, _)| *s == plan.signal) {
                    out.push_str(&format!(" — refused by the backend ({why}), stopped"));
                }
            }
            out.push_str(&format!("; sampler {}", self.setup.sampler));
        }
        let none = self.disabled == Some(DisabledReason::EmptyEndpoint)
            || self.setup.propagators.is_empty();
        let propagators = if none {
            "none".to_owned()
        } else {
            self.setup.propagators.join(",")
        };
        out.push_str(&format!("; propagators {propagators}"));
        if !self.warnings.is_empty() {
            out.push_str(&format!("; {} warning(s)", self.warnings.len()));
        }
        out
    }

    /// `true` when providers were built (telemetry is on).
    pub fn is_enabled(&self) -> bool {
        self.providers.is_some()
    }

    /// Why telemetry is off, when it is.
    pub fn disabled_reason(&self) -> Option<DisabledReason> {
        self.disabled
    }

    /// The endpoint spans are exported to (the full URL for OTLP/HTTP); see
    /// [`signals`](Self::signals) for both signals.
    pub fn endpoint(&self) -> &str {
        &self.setup.traces.endpoint
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

    /// What happened to the spans ended so far (all zero when telemetry is off).
    pub fn span_stats(&self) -> SpanStats {
        self.accounting
            .as_ref()
            .map(|a| a.counters.stats())
            .unwrap_or_default()
    }

    /// Spans never handed to the exporter: dropped because the export queue was full, or at
    /// shutdown. See [`TelemetryGuard::span_stats`] for the breakdown and failed exports.
    pub fn dropped_spans(&self) -> u64 {
        self.span_stats().dropped()
    }

    /// The one deadline of [`shutdown`](Self::shutdown) and [`force_flush`](Self::force_flush):
    /// the export timeout.
    pub fn shutdown_timeout(&self) -> Duration {
        self.accounting
            .as_ref()
            .map_or(Duration::ZERO, |a| a.deadline)
    }

    /// Exports everything finished so far, without shutting down; traces and metrics in
    /// parallel, returning by [`shutdown_timeout`](Self::shutdown_timeout).
    ///
    /// # Errors
    /// [`Error::Flush`] when an exporter failed (e.g. the collector is unreachable) or the
    /// deadline passed.
    pub fn force_flush(&self) -> Result<(), Error> {
        let Some((tp, mp)) = &self.providers else {
            return Ok(());
        };
        let (tp, mp) = (tp.clone(), mp.clone());
        let failures = in_parallel(
            self.shutdown_timeout(),
            move || tp.force_flush(),
            move || mp.force_flush(),
        );
        combine("flush", self.unrefused(failures))
    }

    /// Flushes spans and metrics — in parallel, for at most
    /// [`shutdown_timeout`](Self::shutdown_timeout) altogether — then shuts both providers down.
    /// Every span ended before this call is delivered unless it was dropped (counted and
    /// reported) or the collector did not take it by the deadline (counted and reported).
    ///
    /// A signal the backend refused (HTTP 404/405/415, gRPC UNIMPLEMENTED: a traces-only backend
    /// such as Jaeger or Phoenix refusing metrics) was reported once, when it happened, and
    /// stopped: its failed export is not a shutdown failure, and
    /// [`refused_signals`](Self::refused_signals) still says what was refused.
    ///
    /// # Errors
    /// [`Error::Flush`] when an exporter failed, the deadline passed, or spans were lost (the
    /// message says how many); the providers are shut down regardless.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), Error> {
        let Some((tp, mp)) = self.providers.take() else {
            return Ok(());
        };
        let deadline = self.shutdown_timeout();
        let failures = in_parallel(
            deadline,
            move || tp.shutdown_with_timeout(deadline),
            move || mp.shutdown_with_timeout(deadline),
        );
        let mut results = self.unrefused(failures);
        if let Some(a) = &self.accounting {
            a.counters.begin_shutdown();
            a.counters.finish_shutdown();
            let s = a.counters.stats();
            if s.lost() > 0 {
                results.push(format!(
                    "traces: {} of {} spans not delivered ({} queue full, {} at shutdown, {} in failed exports)",
                    s.lost(),
                    s.ended,
                    s.dropped_queue_full,
                    s.dropped_at_shutdown,
                    s.export_failed
                ));
            }
        }
        combine("shutdown", results)
    }
}

impl TelemetryGuard {
    /// The failures' messages, less those of a signal the backend refused: that refusal was
    /// warned about once and the signal stopped on purpose, so its failing export (at shutdown,
    /// the first one may be the one that found the refusal) is not an error of the caller's.
    fn unrefused(&self, failures: Vec<(Signal, String)>) -> Vec<String> {
        let refused = self.refused_signals();
        failures
            .into_iter()
            .filter(|(signal, _)| !refused.iter().any(|(r, _)| r == signal))
            .map(|(signal, message)| format!("{}: {message}", signal.as_str()))
            .collect()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Best effort: errors are not reported from drop.
        let _ = self.shutdown_inner();
    }
}

/// Runs the traces and metrics calls on two threads and waits for both until `deadline`;
/// returns the failures, each with its signal (a call still running at the deadline is one, and
/// is left to finish on its own thread).
fn in_parallel(
    deadline: Duration,
    traces: impl FnOnce() -> OTelSdkResult + Send + 'static,
    metrics: impl FnOnce() -> OTelSdkResult + Send + 'static,
) -> Vec<(Signal, String)> {
    let (tx, rx) = mpsc::channel::<(Signal, OTelSdkResult)>();
    let mut failures = Vec::new();
    let mut waiting = Vec::new();
    for (signal, call) in [
        (
            Signal::Traces,
            Box::new(traces) as Box<dyn FnOnce() -> OTelSdkResult + Send>,
        ),
        (Signal::Metrics, Box::new(metrics)),
    ] {
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("vystak-telemetry-{}-flush", signal.as_str()))
            .spawn(move || {
                let _ = tx.send((signal, call()));
            });
        match spawned {
            Ok(_) => waiting.push(signal),
            Err(e) => failures.push((signal, format!("cannot start the flush thread: {e}"))),
        }
    }
    drop(tx);
    let end = Instant::now() + deadline;
    blocking(|| {
        while !waiting.is_empty() {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((signal, result)) => {
                    waiting.retain(|s| *s != signal);
                    if let Err(e) = result {
                        failures.push((signal, e.to_string()));
                    }
                }
                Err(_) => break,
            }
        }
    });
    for signal in waiting {
        failures.push((signal, format!("not done within {deadline:?}")));
    }
    failures
}

/// Runs a blocking wait; inside a multi-thread Tokio runtime via `block_in_place`, so the
/// runtime keeps driving the gRPC exporter's connection while this thread waits.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn combine(operation: &'static str, messages: Vec<String>) -> Result<(), Error> {
    if messages.is_empty() {
        Ok(())
    } else {
        Err(Error::Flush {
            operation,
            message: messages.join("; "),
        })
    }
}
