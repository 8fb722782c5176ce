//! Span accounting: nothing is lost without a word.
//!
//! The SDK's `BatchSpanProcessor` drops spans when its bounded queue is full and only says so
//! through `otel_warn!` (invisible without the SDK's `internal-logs` feature) and a private
//! counter. Its own self-metric, `otel.sdk.processor.span.processed`, is behind the SDK's
//! `experimental_metrics_bound_instruments` feature and binds to the *global* meter provider when
//! the processor is built (before `init` installs ours). So the queue bound is enforced here,
//! in front of the batch processor, where every drop can be counted:
//!
//! - [`CountingProcessor`] reserves a queue slot for every ended span (`pending`, an atomic
//!   counter); when `pending` has reached the queue size the span is dropped and counted
//!   (`queue_full`) instead of being handed to the batch processor — whose own queue, of the same
//!   size, therefore never overflows;
//! - [`CountingExporter`] releases the slots of every batch the processor hands to the exporter
//!   and counts the spans exported and those whose export failed.
//!
//! `pending` is an upper bound of the batch processor's queue (spans taken off the queue but not
//! yet handed to the exporter still count), so the reservation is exact: `ended = exported +
//! export_failed + dropped + queued + in_export`, at any time. At the shutdown deadline, what is
//! still queued or in an unfinished export is counted as dropped at shutdown.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

/// Drops and export failures are logged at most once per this interval (with the counts since
/// the previous warning).
pub const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// What happened to the spans ended so far: a snapshot from [`crate::TelemetryGuard::span_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanStats {
    /// Spans ended (sampled ones: those that reach the processor).
    pub ended: u64,
    /// Spans handed to the exporter in a batch whose export succeeded.
    pub exported: u64,
    /// Spans handed to the exporter in a batch whose export failed (collector unavailable,
    /// refused, timed out).
    pub export_failed: u64,
    /// Spans dropped because the export queue was full.
    pub dropped_queue_full: u64,
    /// Spans ended after shutdown, or still queued when the shutdown deadline passed.
    pub dropped_at_shutdown: u64,
    /// Spans waiting for export now.
    pub queued: u64,
    /// Spans in an export call that has not returned yet.
    pub in_export: u64,
    /// The export queue's capacity.
    pub queue_capacity: u64,
}

impl SpanStats {
    /// Spans that were never handed to the exporter: `dropped_queue_full + dropped_at_shutdown`.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_at_shutdown
    }

    /// Every span that was not delivered: dropped or failed.
    pub fn lost(&self) -> u64 {
        self.dropped() + self.export_failed
    }
}

#[derive(Debug)]
pub(crate) struct SpanCounters {
    capacity: usize,
    pending: AtomicUsize,
    in_export: AtomicU64,
    /// Set at the shutdown deadline: exports finishing later are not counted again.
    finalized: AtomicBool,
    ended: AtomicU64,
    exported: AtomicU64,
    export_failed: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_at_shutdown: AtomicU64,
    shut_down: AtomicBool,
    created: Instant,
    /// Milliseconds after `created` before which no periodic warning is written.
    next_warning_ms: AtomicU64,
    warning: Mutex<Warning>,
}

#[derive(Debug)]
struct Warning {
    /// When the last warning was written (`None`: never).
    last: Option<Instant>,
    /// `lost()` reported by the last warning.
    reported: u64,
}

impl SpanCounters {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity: capacity.max(1),
            pending: AtomicUsize::new(0),
            in_export: AtomicU64::new(0),
            finalized: AtomicBool::new(false),
            ended: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            export_failed: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            dropped_at_shutdown: AtomicU64::new(0),
            shut_down: AtomicBool::new(false),
            created: Instant::now(),
            next_warning_ms: AtomicU64::new(0),
            warning: Mutex::new(Warning {
                last: None,
                reported: 0,
            }),
        })
    }

    pub(crate) fn stats(&self) -> SpanStats {
        SpanStats {
            ended: self.ended.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            export_failed: self.export_failed.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_at_shutdown: self.dropped_at_shutdown.load(Ordering::Relaxed),
            queued: self.pending.load(Ordering::Relaxed) as u64,
            in_export: self.in_export.load(Ordering::Relaxed),
            queue_capacity: self.capacity as u64,
        }
    }

    /// After shutdown (or its deadline): later spans are dropped, and what is still queued will
    /// not be delivered any more.
    pub(crate) fn finish_shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
        if !self.finalized.swap(true, Ordering::AcqRel) {
            let left = self.pending.swap(0, Ordering::AcqRel) as u64
                + self.in_export.swap(0, Ordering::AcqRel);
            self.dropped_at_shutdown.fetch_add(left, Ordering::Relaxed);
        }
        self.report(true);
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
    }

    /// Logs lost spans, at most once per [`DROP_WARNING_INTERVAL`] (`force`: now, if any new).
    fn report(&self, force: bool) {
        let now_ms = self.created.elapsed().as_millis() as u64;
        // The hot path (a drop within the interval) is one atomic load.
        if !force && now_ms < self.next_warning_ms.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut w) = self.warning.try_lock() else {
            return; // another thread is reporting
        };
        if !force && w.last.is_some_and(|t| t.elapsed() < DROP_WARNING_INTERVAL) {
            return;
        }
        let s = self.stats();
        let new = s.lost().saturating_sub(w.reported);
        if new == 0 {
            return;
        }
        w.last = Some(Instant::now());
        w.reported = s.lost();
        self.next_warning_ms.store(
            now_ms + DROP_WARNING_INTERVAL.as_millis() as u64,
            Ordering::Relaxed,
        );
        drop(w);
        warn(&format!(
            "{new} spans not delivered since the last report ({} dropped because the export \
             queue of {} was full, {} dropped at or after shutdown, {} in failed exports; {} of {} \
             ended spans lost in total). Raise the queue with OTEL_BSP_MAX_QUEUE_SIZE or \
             Telemetry::with_max_queue_size, or check the collector.",
            s.dropped_queue_full,
            s.queue_capacity,
            s.dropped_at_shutdown,
            s.export_failed,
            s.lost(),
            s.ended,
        ));
    }
}

/// Writes a warning: through `tracing` when a subscriber is installed, else to stderr (a lost
/// span must never go unreported).
pub(crate) fn warn(message: &str) {
    let _suppressed = Context::enter_telemetry_suppressed_scope();
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(target: "vystak_telemetry", "{message}");
    } else {
        eprintln!("WARN vystak_telemetry: {message}");
    }
}

/// Writes an informational line, like [`warn`].
pub(crate) fn info(message: &str) {
    let _suppressed = Context::enter_telemetry_suppressed_scope();
    if tracing::dispatcher::has_been_set() {
        tracing::info!(target: "vystak_telemetry", "{message}");
    } else {
        eprintln!("INFO vystak_telemetry: {message}");
    }
}

/// In front of the batch processor: counts ended spans and enforces the queue bound, counting
/// what it drops. See the module docs.
#[derive(Debug)]
pub(crate) struct CountingProcessor<P> {
    inner: P,
    counters: Arc<SpanCounters>,
}

impl<P> CountingProcessor<P> {
    pub(crate) fn new(inner: P, counters: Arc<SpanCounters>) -> Self {
        Self { inner, counters }
    }
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let c = &self.counters;
        c.ended.fetch_add(1, Ordering::Relaxed);
        if c.shut_down.load(Ordering::Acquire) {
            c.dropped_at_shutdown.fetch_add(1, Ordering::Relaxed);
            c.report(false);
            return;
        }
        // Reserve a slot; at capacity, drop here, counted (the batch queue would drop silently).
        // Only ever incremented below capacity, so `queued` never reads above the queue size
        // (an add-then-undo let a concurrent reader see capacity + 1).
        let reserved = c
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < c.capacity).then_some(n + 1)
            })
            .is_ok();
        if !reserved {
            c.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            c.report(false);
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Around the OTLP exporter: releases queue slots and counts exported and failed spans.
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    counters: Arc<SpanCounters>,
}

impl<E> CountingExporter<E> {
    pub(crate) fn new(inner: E, counters: Arc<SpanCounters>) -> Self {
        Self { inner, counters }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let n = batch.len();
        let counters = self.counters.clone();
        // Saturating: after a shutdown deadline `pending` was zeroed (those spans were counted
        // as dropped); a late export must not wrap it.
        let _ = counters
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                Some(p.saturating_sub(n))
            });
        counters.in_export.fetch_add(n as u64, Ordering::AcqRel);
        let export = self.inner.export(batch);
        async move {
            let result = export.await;
            if !counters.finalized.load(Ordering::Acquire) {
                let _ = counters
                    .in_export
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                        Some(p.saturating_sub(n as u64))
                    });
                match &result {
                    Ok(()) => {
                        counters.exported.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Err(_) => {
                        counters
                            .export_failed
                            .fetch_add(n as u64, Ordering::Relaxed);
                        counters.report(false);
                    }
                }
            }
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

/// Keeps the self-metric instruments alive (their callbacks read the counters).
#[derive(Debug)]
pub(crate) struct SelfMetrics {
    _processed: opentelemetry::metrics::ObservableCounter<u64>,
    _queue_size: opentelemetry::metrics::ObservableUpDownCounter<i64>,
    _queue_capacity: opentelemetry::metrics::ObservableUpDownCounter<i64>,
}

impl SelfMetrics {
    /// The semantic conventions' SDK self-metrics, on `meter`:
    /// `otel.sdk.processor.span.processed` (`error.type` = `queue_full` | `already_shutdown` for
    /// drops), `otel.sdk.processor.span.queue.size` and `…queue.capacity`.
    pub(crate) fn register(
        meter: &opentelemetry::metrics::Meter,
        counters: &Arc<SpanCounters>,
    ) -> Self {
        let component = component_attributes();
        Self {
            _processed: processed_counter(meter, counters, &component),
            _queue_size: queue_size_counter(meter, counters, &component),
            _queue_capacity: queue_capacity_counter(meter, counters, &component),
        }
    }
}

/// `otel.component.type` and a process-unique `otel.component.name` for the next batching span
/// processor.
fn component_attributes() -> [opentelemetry::KeyValue; 2] {
    use crate::semconv::{
        COMPONENT_TYPE_BATCHING_SPAN_PROCESSOR, OTEL_COMPONENT_NAME, OTEL_COMPONENT_TYPE,
    };
    use opentelemetry::KeyValue;
    static INSTANCE: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "{COMPONENT_TYPE_BATCHING_SPAN_PROCESSOR}/{}",
        INSTANCE.fetch_add(1, Ordering::Relaxed)
    );
    [
        KeyValue::new(OTEL_COMPONENT_TYPE, COMPONENT_TYPE_BATCHING_SPAN_PROCESSOR),
        KeyValue::new(OTEL_COMPONENT_NAME, name),
    ]
}

/// `otel.sdk.processor.span.processed`: finished spans, with `error.type` for the dropped ones.
fn processed_counter(
    meter: &opentelemetry::metrics::Meter,
    counters: &Arc<SpanCounters>,
    component: &[opentelemetry::KeyValue; 2],
) -> opentelemetry::metrics::ObservableCounter<u64> {
    use crate::semconv::{
        ERROR_TYPE, ERROR_TYPE_ALREADY_SHUTDOWN, ERROR_TYPE_QUEUE_FULL,
        OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
    };
    use opentelemetry::KeyValue;
    let with_error = |ty: &'static str| {
        let mut attrs = component.to_vec();
        attrs.push(KeyValue::new(ERROR_TYPE, ty));
        attrs
    };
    let (ok, full, shut) = (
        component.to_vec(),
        with_error(ERROR_TYPE_QUEUE_FULL),
        with_error(ERROR_TYPE_ALREADY_SHUTDOWN),
    );
    let c = counters.clone();
    meter
        .u64_observable_counter(OTEL_SDK_PROCESSOR_SPAN_PROCESSED)
        .with_unit("{span}")
        .with_description(
            "The number of spans for which the processing has finished, either successful or failed.",
        )
        .with_callback(move |o| {
            let s = c.stats();
            o.observe(s.exported + s.export_failed, &ok);
            o.observe(s.dropped_queue_full, &full);
            o.observe(s.dropped_at_shutdown, &shut);
        })
        .build()
}

/// `otel.sdk.processor.span.queue.size`: the spans in the queue now.
fn queue_size_counter(
    meter: &opentelemetry::metrics::Meter,
    counters: &Arc<SpanCounters>,
    component: &[opentelemetry::KeyValue; 2],
) -> opentelemetry::metrics::ObservableUpDownCounter<i64> {
    use crate::semconv::OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE;
    let c = counters.clone();
    let attrs = component.to_vec();
    meter
        .i64_observable_up_down_counter(OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE)
        .with_unit("{span}")
        .with_description(
            "The number of spans in the queue of a given instance of an SDK span processor.",
        )
        .with_callback(move |o| o.observe(c.stats().queued as i64, &attrs))
        .build()
}

/// `otel.sdk.processor.span.queue.capacity`: the queue's cap.
fn queue_capacity_counter(
    meter: &opentelemetry::metrics::Meter,
    counters: &Arc<SpanCounters>,
    component: &[opentelemetry::KeyValue; 2],
) -> opentelemetry::metrics::ObservableUpDownCounter<i64> {
    use crate::semconv::OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY;
    let capacity = counters.capacity as i64;
    let attrs = component.to_vec();
    meter
        .i64_observable_up_down_counter(OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY)
        .with_unit("{span}")
        .with_description("The maximum number of spans the queue of a given instance of an SDK span processor can hold.")
        .with_callback(move |o| o.observe(capacity, &attrs))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider,
    };
    use std::sync::Mutex;

    /// An exporter that blocks every export until released: the queue fills up.
    #[derive(Debug, Clone)]
    struct Gate {
        inner: InMemorySpanExporter,
        open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    }

    impl SpanExporter for Gate {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            {
                let (lock, cv) = &*self.open;
                let mut open = lock.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
            }
            self.inner.export(batch).await
        }
    }

    /// Regression (issue 11): with a full queue the batch processor dropped spans silently.
    #[test]
    fn a_tiny_queue_and_a_slow_exporter_count_every_drop() {
        let counters = SpanCounters::new(4);
        let memory = InMemorySpanExporter::default();
        let gate = Gate {
            inner: memory.clone(),
            open: Arc::default(),
        };
        let batch =
            BatchSpanProcessor::builder(CountingExporter::new(gate.clone(), counters.clone()))
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(4)
                        .with_max_export_batch_size(2)
                        .with_scheduled_delay(Duration::from_millis(10))
                        .build(),
                )
                .build();
        let tp = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor::new(batch, counters.clone()))
            .build();
        let tracer = tp.tracer("drops");
        const N: u64 = 100;
        for i in 0..N {
            tracer.start(format!("s{i}")).end();
        }
        let before = counters.stats();
        assert_eq!(before.ended, N);
        assert!(before.queued <= 4, "{before:?}");
        assert!(before.dropped_queue_full >= N - 4 - 2, "{before:?}");
        // Open the gate: everything not dropped is delivered.
        *gate.open.0.lock().unwrap() = true;
        gate.open.1.notify_all();
        tp.shutdown().unwrap();
        counters.finish_shutdown();
        let after = counters.stats();
        let delivered = memory.get_finished_spans().unwrap().len() as u64;
        assert_eq!(after.exported, delivered);
        assert_eq!(after.dropped_at_shutdown, 0);
        assert_eq!(
            after.exported + after.dropped_queue_full,
            N,
            "every span is delivered or counted as dropped: {after:?}"
        );
        assert_eq!(after.dropped(), before.dropped_queue_full);
    }
}
