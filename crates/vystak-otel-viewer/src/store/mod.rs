//! The store behind the receivers: a cheap-clone [`Store`] handle over a bounded in-memory
//! working set, optionally written through to a SQLite file ([`Store::open_sqlite`]).

mod memory;
mod samples;
mod sqlite;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use tokio::sync::watch;

use crate::error::Error;
use crate::query::promql::{LabelMatcher, Series, SeriesSource};
use crate::record::{LogRecord, MetricPoint, SpanRecord};

pub(crate) use memory::{log_time, MemoryState};
use samples::Samples;
use sqlite::{Op, Writer};

/// Default maximum number of spans kept.
pub const DEFAULT_MAX_SPANS: usize = 100_000;
/// Default maximum number of metric series kept in the latest-point view.
pub const DEFAULT_MAX_POINTS: usize = 100_000;
/// Default maximum number of log records kept.
pub const DEFAULT_MAX_LOGS: usize = 100_000;

/// Bounds of a [`Store`].
///
/// ```
/// use std::time::Duration;
/// use vystak_otel_viewer::{Store, StoreOptions};
///
/// let store = Store::with_options(
///     StoreOptions::default()
///         .with_max_spans(10_000)
///         .with_retention(Some(Duration::from_secs(24 * 3600))),
/// );
/// assert_eq!(store.span_count(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct StoreOptions {
    max_spans: usize,
    max_points: usize,
    max_logs: usize,
    retention: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_spans: DEFAULT_MAX_SPANS,
            max_points: DEFAULT_MAX_POINTS,
            max_logs: DEFAULT_MAX_LOGS,
            retention: None,
        }
    }
}

impl StoreOptions {
    /// At most `n` spans (at least 1); the oldest are evicted first.
    #[must_use]
    pub fn with_max_spans(mut self, n: usize) -> Self {
        self.max_spans = n.max(1);
        self
    }

    /// At most `n` series in the latest-point view (at least 1).
    #[must_use]
    pub fn with_max_points(mut self, n: usize) -> Self {
        self.max_points = n.max(1);
        self
    }

    /// At most `n` log records (at least 1).
    #[must_use]
    pub fn with_max_logs(mut self, n: usize) -> Self {
        self.max_logs = n.max(1);
        self
    }

    /// Drop spans, logs and metric samples older than `age` (`None`: keep until evicted by count).
    #[must_use]
    pub fn with_retention(mut self, age: Option<Duration>) -> Self {
        self.retention = age;
        self
    }

    /// The span bound.
    pub fn max_spans(&self) -> usize {
        self.max_spans
    }

    /// The retention age.
    pub fn retention(&self) -> Option<Duration> {
        self.retention
    }
}

/// A bounded, shareable store of received spans, logs and metrics.
///
/// Spans are kept in arrival order; when the span bound is reached the oldest span is evicted.
/// Metrics are kept twice: as Prometheus samples over time (every exported data point, for the
/// PromQL API; see [`crate::query::promql`]) and as the latest point of each series — a series is
/// (resource `service.name`, scope, metric name, attribute set) — where a cumulative point
/// replaces the stored one and a delta point is added to it.
///
/// [`Store::open_sqlite`] makes the same store durable: everything is written through to a SQLite
/// file by one writer thread and loaded back on the next start.
///
/// Cloning is cheap: clones share the same data.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: RwLock<MemoryState>,
    samples: Samples,
    changed: watch::Sender<u64>,
    version: Mutex<u64>,
    retention: Option<Duration>,
    last_prune: Mutex<Instant>,
    writer: Option<Writer>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn retention_ms(options: &StoreOptions) -> Option<i64> {
    options.retention.map(|d| d.as_millis() as i64)
}

pub(crate) fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

impl Store {
    /// A memory store with the default bounds ([`DEFAULT_MAX_SPANS`], [`DEFAULT_MAX_POINTS`]).
    pub fn new() -> Self {
        Self::with_options(StoreOptions::default())
    }

    /// A memory store that keeps at most `max_spans` spans and `max_points` metric series
    /// (each at least 1).
    pub fn with_capacity(max_spans: usize, max_points: usize) -> Self {
        Self::with_options(
            StoreOptions::default()
                .with_max_spans(max_spans)
                .with_max_points(max_points),
        )
    }

    /// A memory store with these bounds.
    pub fn with_options(options: StoreOptions) -> Self {
        Self::build(&options, None, Samples::new(retention_ms(&options)))
    }

    /// A store persisted in the SQLite file at `path` (created when missing; WAL journal).
    ///
    /// What the file holds (within `options`' bounds) is loaded back: spans, logs, metric samples,
    /// the latest points and the delta-accumulation state. A file with another schema version is
    /// recreated, with a warning on stderr. Writes go through one writer thread that batches them
    /// in transactions; [`Store::flush`] waits for it.
    ///
    /// # Errors
    /// [`Error::Storage`] when the file cannot be opened or read.
    pub fn open_sqlite(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self, Error> {
        let path = path.as_ref();
        let (writer, loaded) = Writer::open(path, &options)?;
        let samples = Samples::new(retention_ms(&options));
        samples.load(loaded.samples);
        let store = Self::build(&options, Some(writer), samples);
        {
            let mut state = store.write();
            for span in loaded.spans {
                state.push_span(span);
            }
            for log in loaded.logs {
                state.push_log(log);
            }
            for point in loaded.points {
                state.restore_point(point);
            }
        }
        store.prune_if_due(true);
        Ok(store)
    }

    fn build(options: &StoreOptions, writer: Option<Writer>, samples: Samples) -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                state: RwLock::new(MemoryState::new(
                    options.max_spans,
                    options.max_points,
                    options.max_logs,
                )),
                samples,
                changed,
                version: Mutex::new(0),
                retention: options.retention,
                last_prune: Mutex::new(Instant::now()),
                writer,
            }),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave the data inconsistent in a way that matters
        // here; keep serving.
        self.inner
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, MemoryState> {
        self.inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bump(&self) {
        let mut version = self
            .inner
            .version
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *version += 1;
        self.inner.changed.send_replace(*version);
    }

    fn persist(&self, op: Op) {
        if let Some(writer) = &self.inner.writer {
            writer.send(op);
        }
    }

    /// `true` when this store writes through to a SQLite file.
    pub fn is_persistent(&self) -> bool {
        self.inner.writer.is_some()
    }

    /// Adds spans (oldest evicted first when full).
    pub fn insert_spans(&self, spans: impl IntoIterator<Item = SpanRecord>) {
        if self.inner.writer.is_none() {
            let mut state = self.write();
            for span in spans {
                state.push_span(span);
            }
        } else {
            let spans: Vec<SpanRecord> = spans.into_iter().collect();
            {
                let mut state = self.write();
                for span in &spans {
                    state.push_span(span.clone());
                }
            }
            self.persist(Op::Spans(spans));
        }
        self.prune_if_due(false);
        self.bump();
    }

    /// Adds log records (oldest evicted first when full).
    pub fn insert_logs(&self, logs: impl IntoIterator<Item = LogRecord>) {
        if self.inner.writer.is_none() {
            let mut state = self.write();
            for log in logs {
                state.push_log(log);
            }
        } else {
            let logs: Vec<LogRecord> = logs.into_iter().collect();
            {
                let mut state = self.write();
                for log in &logs {
                    state.push_log(log.clone());
                }
            }
            self.persist(Op::Logs(logs));
        }
        self.prune_if_due(false);
        self.bump();
    }

    /// Stores every data point of an OTLP metrics export: as Prometheus samples (PromQL) and in
    /// the latest-point view. This is what the receivers call.
    pub fn insert_metrics(&self, request: &ExportMetricsServiceRequest) {
        let points = crate::convert::points(request);
        let samples = self.inner.samples.ingest(&points);
        let mut latest = Vec::new();
        {
            let mut state = self.write();
            for p in points {
                let (key, point) = state.push_point(p.point, p.delta);
                if self.inner.writer.is_some() {
                    latest.push((key.to_owned(), point.clone()));
                }
            }
        }
        if self.inner.writer.is_some() {
            self.persist(Op::Samples(samples));
            self.persist(Op::Latest(latest));
        }
        self.prune_if_due(false);
        self.bump();
    }

    /// Applies the retention age (spans, logs, latest points, samples) — or, without one, the
    /// samples' default age bound — at most once a second unless `force`.
    fn prune_if_due(&self, force: bool) {
        let period = if self.inner.retention.is_some() {
            1
        } else {
            60
        };
        {
            let mut last = self
                .inner
                .last_prune
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !force && last.elapsed() < Duration::from_secs(period) {
                return;
            }
            *last = Instant::now();
        }
        let now = now_unix_nanos();
        let cutoff = self
            .inner
            .retention
            .map(|age| now.saturating_sub(age.as_nanos() as u64));
        if let Some(cutoff) = cutoff {
            self.write().prune_before(cutoff);
        }
        let samples_cutoff_ms = match cutoff {
            Some(c) => (c / 1_000_000) as i64,
            None => (now / 1_000_000) as i64 - samples::DEFAULT_MAX_AGE_MS,
        };
        self.inner.samples.prune_before(samples_cutoff_ms);
        self.persist(Op::Prune {
            cutoff_unix_nanos: cutoff,
            samples_cutoff_ms,
        });
    }

    /// Applies the retention age now (it is otherwise applied at most once a second on insert).
    pub fn apply_retention(&self) {
        self.prune_if_due(true);
        self.bump();
    }

    /// Waits until every write so far is committed to the SQLite file (no-op for a memory store).
    pub fn flush(&self) {
        if let Some(writer) = &self.inner.writer {
            writer.flush();
        }
    }

    /// Every stored span, in arrival order.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.read().spans().cloned().collect()
    }

    /// Number of stored spans.
    pub fn span_count(&self) -> usize {
        self.read().span_count()
    }

    /// Distinct trace ids, in the order their first span arrived.
    pub fn trace_ids(&self) -> Vec<String> {
        let state = self.read();
        let mut seen = std::collections::HashSet::new();
        state
            .spans()
            .filter(|s| seen.insert(s.trace_id.as_str()))
            .map(|s| s.trace_id.clone())
            .collect()
    }

    /// The spans of one trace, in arrival order.
    pub fn trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        self.read()
            .trace(trace_id)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Spans with this name.
    pub fn spans_named(&self, name: &str) -> Vec<SpanRecord> {
        self.filtered(|s| s.name == name)
    }

    /// Spans whose resource `service.name` is `service`.
    pub fn spans_by_service(&self, service: &str) -> Vec<SpanRecord> {
        self.filtered(|s| s.service_name == service)
    }

    /// The direct children of a span.
    pub fn children_of(&self, span_id: &str) -> Vec<SpanRecord> {
        self.filtered(|s| s.parent_span_id.as_deref() == Some(span_id))
    }

    fn filtered(&self, f: impl Fn(&SpanRecord) -> bool) -> Vec<SpanRecord> {
        self.read().spans().filter(|s| f(s)).cloned().collect()
    }

    /// Distinct `service.name`s of the stored spans, sorted.
    pub fn services(&self) -> Vec<String> {
        let state = self.read();
        let set: std::collections::BTreeSet<&str> =
            state.spans().map(|s| s.service_name.as_str()).collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// Distinct span names of one service, sorted (every service when `service` is `None`).
    pub fn operations(&self, service: Option<&str>) -> Vec<String> {
        let state = self.read();
        let set: std::collections::BTreeSet<&str> = state
            .spans()
            .filter(|s| service.is_none_or(|svc| s.service_name == svc))
            .map(|s| s.name.as_str())
            .collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// Every stored log record, in arrival order.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.read().logs().cloned().collect()
    }

    /// Number of stored log records.
    pub fn log_count(&self) -> usize {
        self.read().log_count()
    }

    /// The log records correlated with one trace, in arrival order.
    pub fn logs_for_trace(&self, trace_id: &str) -> Vec<LogRecord> {
        self.read()
            .logs()
            .filter(|l| l.trace_id.as_deref() == Some(trace_id))
            .cloned()
            .collect()
    }

    /// The latest point of every series of a metric.
    pub fn metric_points(&self, metric_name: &str) -> Vec<MetricPoint> {
        self.read()
            .latest_points()
            .filter(|p| p.metric_name == metric_name)
            .cloned()
            .collect()
    }

    /// The latest point of every series of every metric.
    pub fn all_metric_points(&self) -> Vec<MetricPoint> {
        self.read().latest_points().cloned().collect()
    }

    /// Number of Prometheus samples stored for the PromQL API.
    pub fn sample_count(&self) -> usize {
        self.inner.samples.sample_count()
    }

    /// Label names of the stored series (PromQL), sorted.
    pub fn label_names(&self) -> Vec<String> {
        self.inner.samples.label_names()
    }

    /// Values of one label over the stored series (PromQL), sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.inner.samples.label_values(name)
    }

    /// Removes everything.
    pub fn clear(&self) {
        self.write().clear();
        self.inner.samples.clear();
        self.persist(Op::Clear);
        self.bump();
    }

    /// A receiver that changes whenever data arrives (for render loops).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Waits until at least `n` spans are stored, then returns all spans; at `timeout` returns
    /// whatever is stored (check the length).
    pub async fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<SpanRecord> {
        self.wait_until(timeout, |s| s.span_count() >= n).await;
        self.spans()
    }

    /// Waits until `f(store)` holds; `false` when `timeout` passed first.
    pub async fn wait_until(&self, timeout: Duration, f: impl Fn(&Store) -> bool) -> bool {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if f(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                // Sender lives as long as the store; a closed channel cannot happen while `self` exists.
                Ok(Err(_)) | Err(_) => return f(self),
            }
        }
    }
}

impl SeriesSource for Store {
    fn select(&self, matchers: &[LabelMatcher], start_ms: i64, end_ms: i64) -> Vec<Series> {
        self.inner.samples.select(matchers, start_ms, end_ms)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(writer) = &self.writer {
            writer.flush();
        }
    }
}

#[cfg(test)]
mod tests;
