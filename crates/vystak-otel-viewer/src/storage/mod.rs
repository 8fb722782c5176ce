//! The store behind the receivers: a cheap-clone [`Store`] handle over a bounded in-memory
//! working set, optionally written through to a SQLite file ([`Store::open_sqlite`]).

mod memory;
mod recent;
mod samples;
mod series;
mod sqlite;

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::error::Error;
use crate::model::record::{IncomingPoint, LogRecord, MetricPoint, SpanRecord};
use crate::model::{LabelMatcher, Labels, Sample, Series};

pub(crate) use memory::{log_time, MemoryState};
use samples::Samples;
pub use series::MemorySeries;
pub use sqlite::TraceIdQuery;
use sqlite::{Op, SpanRow, Writer};
pub use sqlite::{
    RARE_OPERATION_SPANS, SEARCH_BY_OPERATION_QUERY as FILE_SEARCH_BY_OPERATION_SQL,
    SEARCH_QUERY as FILE_SEARCH_SQL, TRACE_LOGS_QUERY as FILE_TRACE_LOGS_SQL,
    TRACE_QUERY as FILE_TRACE_SQL,
};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// Why a receiver's write was not stored: the exporter is asked to retry later (HTTP 503 with
/// `Retry-After`, gRPC `UNAVAILABLE` with `RetryInfo`), as the OTLP specification says for
/// throttling and transient failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The SQLite write queue is full: the file is behind the exporters.
    Busy,
    /// The write was queued but its transaction failed (the message says why).
    Failed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Busy => f.write_str(
                "the viewer's write queue is full (its SQLite file is behind the exporters): \
                 nothing of this request was stored; retry later",
            ),
            Refusal::Failed(why) => write!(f, "{why}; nothing of this request was stored"),
        }
    }
}

/// A receiver's admitted write. [`Pending::durable`] resolves once it is committed to the SQLite
/// file (at once for a memory store): only then does the receiver acknowledge it.
#[derive(Debug)]
#[must_use = "acknowledge only after `durable()`"]
pub(crate) struct Pending(Option<oneshot::Receiver<Result<(), String>>>);

/// Places in the write queue, taken before a request's records are stored (`None`: a memory
/// store, no queue).
#[derive(Debug)]
pub(crate) struct Admission(Option<OwnedSemaphorePermit>);

impl Pending {
    /// Waits for the commit.
    pub(crate) async fn durable(self) -> Result<(), Refusal> {
        match self.0 {
            None => Ok(()),
            Some(committed) => match committed.await {
                Ok(result) => result.map_err(Refusal::Failed),
                Err(_) => Err(Refusal::Failed(
                    "the SQLite writer stopped before committing".to_owned(),
                )),
            },
        }
    }
}

/// Default maximum number of spans kept.
pub const DEFAULT_MAX_SPANS: usize = 100_000;
/// Default maximum number of metric series kept in the latest-point view.
pub const DEFAULT_MAX_POINTS: usize = 100_000;
/// Default maximum number of log records kept.
pub const DEFAULT_MAX_LOGS: usize = 100_000;
/// Default bound of the spans' memory, in bytes: 512 MiB ([`StoreOptions::with_max_memory`]).
pub const DEFAULT_MAX_MEMORY: usize = 512 * 1024 * 1024;

/// Default [`StoreOptions::with_max_file_bytes`]: 1 GiB of SQLite pages in use.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 30;
/// Default bound of the SQLite write queue, in records ([`StoreOptions::with_write_queue`]).
pub const DEFAULT_WRITE_QUEUE: u32 = 200_000;

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
    write_queue: u32,
    max_memory: usize,
    max_file_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_spans: DEFAULT_MAX_SPANS,
            max_points: DEFAULT_MAX_POINTS,
            max_logs: DEFAULT_MAX_LOGS,
            retention: None,
            write_queue: DEFAULT_WRITE_QUEUE,
            max_memory: DEFAULT_MAX_MEMORY,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

impl StoreOptions {
    /// At most `n` spans in memory (at least 1); the oldest are evicted first. With a SQLite
    /// file this bounds the cache only: the file keeps what its own bounds allow
    /// ([`with_max_file_bytes`](Self::with_max_file_bytes), the retention), and a trace evicted
    /// from memory is read back from it.
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

    /// With a SQLite file: at most `records` spans, logs and metric points (at least 1) received
    /// and not yet committed. The receivers acknowledge a request only once it is committed; when
    /// the queue is full they answer with the OTLP specification's retryable throttling (HTTP 503
    /// with `Retry-After`, gRPC `UNAVAILABLE` with `RetryInfo`) and store nothing of it, so the
    /// exporters wait instead of the viewer's memory growing. A request larger than the queue
    /// is admitted only when the queue is empty, and then takes all of it. Default
    /// [`DEFAULT_WRITE_QUEUE`].
    #[must_use]
    pub fn with_write_queue(mut self, records: u32) -> Self {
        self.write_queue = records.max(1);
        self
    }

    /// At most about `bytes` of memory for the stored spans (their text, attributes, events and
    /// links, and each distinct resource once), and a quarter of it for log records; the oldest
    /// are evicted first, whatever [`with_max_spans`](Self::with_max_spans) allows. Resources are
    /// interned (records of one resource share it), so a large resource costs its size once,
    /// not once per span. Default [`DEFAULT_MAX_MEMORY`].
    #[must_use]
    pub fn with_max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes.max(1);
        self
    }

    /// With a SQLite file: keep its data under about `bytes` (pages in use), deleting the
    /// oldest spans and logs first. The memory bounds ([`with_max_spans`](Self::with_max_spans),
    /// [`with_max_memory`](Self::with_max_memory)) bound the in-memory cache only; a trace
    /// evicted from memory is read back from the file. Default [`DEFAULT_MAX_FILE_BYTES`].
    #[must_use]
    pub fn with_max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes.max(1);
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
/// PromQL API, read through [`SeriesSource`]) and as the latest point of each series — a series is
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
    /// Trace ids that received spans since [`Store::take_changed_traces`] last drained them;
    /// `None` until it is first called (nobody tracks changes: nothing is recorded).
    changed_traces: Mutex<Option<HashSet<String>>>,
    /// State that a layer above keeps per store (see [`Store::extension`]).
    extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn retention_ms(options: &StoreOptions) -> Option<i64> {
    options
        .retention
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration in nanoseconds, saturating (a retention of 600 years is "keep everything", not a
/// wrap to a fraction of a second).
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Unix nanoseconds → milliseconds as SQLite and the samples keep them.
pub(crate) fn nanos_to_ms(nanos: u64) -> i64 {
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// The oldest sample time kept: the retention cutoff, else the samples' default age.
pub(crate) fn samples_cutoff_ms(now_unix_nanos: u64, cutoff_unix_nanos: Option<u64>) -> i64 {
    match cutoff_unix_nanos {
        Some(c) => nanos_to_ms(c),
        None => nanos_to_ms(now_unix_nanos).saturating_sub(samples::DEFAULT_MAX_AGE_MS),
    }
}

pub(crate) fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(saturating_nanos)
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
        samples.insert(loaded.samples);
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
                state: RwLock::new(
                    MemoryState::new(options.max_spans, options.max_points, options.max_logs)
                        .with_max_bytes(options.max_memory),
                ),
                samples,
                changed,
                version: Mutex::new(0),
                retention: options.retention,
                last_prune: Mutex::new(Instant::now()),
                writer,
                changed_traces: Mutex::new(None),
                extensions: Mutex::new(HashMap::new()),
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

    /// Adds spans (oldest evicted first when full). With a SQLite file they are written behind
    /// (see [`Store::flush`]); the receivers instead wait for the commit before they answer.
    pub fn insert_spans(&self, spans: impl IntoIterator<Item = SpanRecord>) {
        // Written behind: nothing to wait for.
        let _ = self.store_spans(spans.into_iter().collect(), None);
    }

    /// The receivers' path for spans: admitted to the write queue or refused whole ([`Refusal::Busy`]
    /// when it is full), then stored; acknowledge after [`Pending::durable`].
    pub(crate) fn accept_spans(&self, spans: Vec<SpanRecord>) -> Result<Pending, Refusal> {
        let places = self.admit(spans.len())?;
        Ok(self.store_spans(spans, places))
    }

    fn store_spans(
        &self,
        mut spans: Vec<SpanRecord>,
        places: Option<OwnedSemaphorePermit>,
    ) -> Pending {
        // The file's rows are made here, on the receiver's thread (in parallel with the other
        // requests' and outside the store's lock), so the one writer thread only inserts.
        let rows: Option<Vec<SpanRow>> = self
            .inner
            .writer
            .as_ref()
            .map(|_| spans.iter_mut().map(SpanRow::new).collect());
        {
            let mut state = self.write();
            let mut changed = self.change_log();
            for span in spans {
                if let Some(set) = changed.as_mut() {
                    if !set.contains(&span.trace_id) {
                        set.insert(span.trace_id.clone());
                    }
                }
                state.push_span(span);
            }
        }
        let pending = match rows {
            Some(rows) => self.persist_admitted(Op::Spans(rows), places),
            None => Pending(None),
        };
        self.inserted();
        pending
    }

    /// Adds log records (oldest evicted first when full); written behind like
    /// [`Store::insert_spans`].
    pub fn insert_logs(&self, logs: impl IntoIterator<Item = LogRecord>) {
        let _ = self.store_logs(logs.into_iter().collect(), None);
    }

    /// The receivers' path for logs, like [`Store::accept_spans`].
    pub(crate) fn accept_logs(&self, logs: Vec<LogRecord>) -> Result<Pending, Refusal> {
        let places = self.admit(logs.len())?;
        Ok(self.store_logs(logs, places))
    }

    fn store_logs(&self, logs: Vec<LogRecord>, places: Option<OwnedSemaphorePermit>) -> Pending {
        let mut state = self.write();
        let pending = if self.inner.writer.is_none() {
            for log in logs {
                state.push_log(log);
            }
            drop(state);
            Pending(None)
        } else {
            for log in &logs {
                state.push_log(log.clone());
            }
            drop(state);
            self.persist_admitted(Op::Logs(logs), places)
        };
        self.inserted();
        pending
    }

    /// Stores metric points — in the latest-point view — and the Prometheus samples translated
    /// from them; written behind like [`Store::insert_spans`]. (The OTLP receivers translate and
    /// store through `otlp::insert_metrics`.)
    pub(crate) fn insert_points(&self, points: Vec<IncomingPoint>, samples: Vec<(Labels, Sample)>) {
        let _ = self.store_points(points, samples, None);
    }

    /// Places in the write queue for `records` records, or why there are none: the first half of
    /// [`Store::accept_points`], taken before the points are translated (a refused request must
    /// leave no trace, not even in the translation's running totals).
    pub(crate) fn admit_points(&self, records: usize) -> Result<Admission, Refusal> {
        self.admit(records).map(Admission)
    }

    /// The receivers' path for metric points, like [`Store::accept_spans`], with places taken
    /// by [`Store::admit_points`].
    pub(crate) fn accept_points(
        &self,
        admission: Admission,
        points: Vec<IncomingPoint>,
        samples: Vec<(Labels, Sample)>,
    ) -> Pending {
        self.store_points(points, samples, admission.0)
    }

    fn store_points(
        &self,
        points: Vec<IncomingPoint>,
        samples: Vec<(Labels, Sample)>,
        places: Option<OwnedSemaphorePermit>,
    ) -> Pending {
        let persistent = self.inner.writer.is_some();
        // A memory store hands its samples over; a file store keeps them for the writer.
        let samples = if persistent {
            self.inner.samples.insert(samples.iter().cloned());
            samples
        } else {
            self.inner.samples.insert(samples);
            Vec::new()
        };
        let mut latest = Vec::new();
        {
            let mut state = self.write();
            for p in points {
                let (key, point) = state.push_point(p.point, p.delta);
                if persistent {
                    latest.push((key.to_owned(), point.clone()));
                }
            }
        }
        let pending = if persistent {
            self.persist_admitted(Op::Metrics { samples, latest }, places)
        } else {
            Pending(None)
        };
        self.inserted();
        pending
    }

    /// The newest sample of every series, and the samples' epoch: (number of clears, last
    /// prune cutoff in ms). What a translation above the store restores its per-series state
    /// from, and checks it against.
    pub(crate) fn last_samples(&self) -> Vec<(Labels, Sample)> {
        self.inner.samples.last_samples()
    }

    /// See [`Store::last_samples`].
    pub(crate) fn samples_epoch(&self) -> (u64, i64) {
        self.inner.samples.epoch()
    }

    /// The `T` this store keeps for a layer above it, made by `init` on first use: one per
    /// store (shared by its clones and every receiver writing into it), dropped with it. The
    /// store never looks inside; this is how the OTLP → Prometheus translation keeps its
    /// per-series totals without the store importing it.
    pub(crate) fn extension<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut map = self
            .inner
            .extensions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = map
            .get(&TypeId::of::<T>())
            .and_then(|any| Arc::clone(any).downcast::<T>().ok())
        {
            return found;
        }
        let made = Arc::new(init());
        map.insert(TypeId::of::<T>(), made.clone());
        made
    }

    /// Places in the SQLite write queue for `records` records (`None` for a memory store).
    fn admit(&self, records: usize) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        match &self.inner.writer {
            None => Ok(None),
            Some(writer) => writer.admit(records).map(Some).ok_or(Refusal::Busy),
        }
    }

    /// Queues `op` for the file: admitted (the receiver waits for its commit) or written behind.
    fn persist_admitted(&self, op: Op, places: Option<OwnedSemaphorePermit>) -> Pending {
        match (&self.inner.writer, places) {
            (Some(writer), Some(places)) => Pending(Some(writer.send_admitted(op, places))),
            (Some(writer), None) => {
                writer.send(op);
                Pending(None)
            }
            (None, _) => Pending(None),
        }
    }

    fn change_log(&self) -> std::sync::MutexGuard<'_, Option<HashSet<String>>> {
        self.inner
            .changed_traces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ids of the traces that received spans since the previous call, without reading or
    /// copying any span (what a printer or a live page needs to see what changed, in time
    /// proportional to the change, not to the store). The first call starts the tracking and
    /// returns the ids of every stored trace.
    pub fn take_changed_traces(&self) -> Vec<String> {
        let mut changed = self.change_log();
        match changed.as_mut() {
            Some(set) => set.drain().collect(),
            None => {
                *changed = Some(HashSet::new());
                drop(changed);
                self.trace_ids()
            }
        }
    }

    /// Number of stored spans of one trace (0 for an unknown trace), without copying them.
    pub fn trace_span_count(&self, trace_id: &str) -> usize {
        self.read().trace(trace_id).map_or(0, |t| t.iter().count())
    }

    /// `true` when one of the trace's stored spans has no parent.
    pub fn trace_has_root(&self, trace_id: &str) -> bool {
        self.read()
            .trace(trace_id)
            .is_some_and(|t| t.iter().any(SpanRecord::is_root))
    }

    /// After every insert: retention when due, and the change notification.
    fn inserted(&self) {
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
            .map(|age| now.saturating_sub(saturating_nanos(age)));
        if let Some(cutoff) = cutoff {
            self.write().prune_before(cutoff);
        }
        let samples_cutoff_ms = samples_cutoff_ms(now, cutoff);
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
        let shared = self.read().spans_shared();
        shared.iter().map(|s| (**s).clone()).collect()
    }

    /// With a SQLite file: trace ids (and starts) matching the file search's SQL filters,
    /// newest first; `None` without a file.
    fn file_search(&self, q: &TraceIdQuery<'_>) -> Option<rusqlite::Result<Vec<(String, u64)>>> {
        self.inner.writer.as_ref().map(|w| w.search(q))
    }

    /// The retention age, if any ([`StoreOptions::with_retention`]).
    pub fn retention(&self) -> Option<Duration> {
        self.inner.retention
    }

    /// Number of stored spans.
    pub fn span_count(&self) -> usize {
        self.read().span_count()
    }

    /// The approximate memory the stored spans hold, in bytes (what
    /// [`StoreOptions::with_max_memory`] bounds).
    pub fn span_bytes(&self) -> usize {
        self.read().span_bytes()
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
    ///
    /// With a SQLite file, the file's spans of the trace are read too (through its
    /// `(trace_id, span_id)` index) and merged with the memory's: memory is a bounded cache, and
    /// a trace it evicted, in whole or in part, is still found whole.
    pub fn trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        // Pointers under the lock, copies after it: the receivers are not kept waiting.
        let shared = self.read().trace_shared(trace_id);
        let mut spans: Vec<SpanRecord> = shared.iter().map(|s| (**s).clone()).collect();
        if let Some(writer) = &self.inner.writer {
            match writer.read_trace(trace_id) {
                Ok(stored) => {
                    let known: HashSet<String> = spans.iter().map(|s| s.span_id.clone()).collect();
                    spans.extend(stored.into_iter().filter(|s| !known.contains(&s.span_id)));
                }
                Err(e) => eprintln!(
                    "vystak-otel-viewer: warning: cannot read trace {trace_id} from the file: {e}"
                ),
            }
        }
        spans
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
    ///
    /// With a SQLite file, the file's logs of the trace come first (through its index on
    /// `logs (trace_id)`), then memory's that are not among them (not committed yet).
    pub fn logs_for_trace(&self, trace_id: &str) -> Vec<LogRecord> {
        let in_memory: Vec<LogRecord> = self
            .read()
            .logs()
            .filter(|l| l.trace_id.as_deref() == Some(trace_id))
            .cloned()
            .collect();
        let Some(writer) = &self.inner.writer else {
            return in_memory;
        };
        match writer.read_trace_logs(trace_id) {
            Ok(mut stored) => {
                // Logs have no id: one is known when its times, span and body are.
                let key = |l: &LogRecord| {
                    (
                        l.time_unix_nanos,
                        l.observed_unix_nanos,
                        l.span_id.clone(),
                        l.body.to_string(),
                    )
                };
                let known: HashSet<_> = stored.iter().map(key).collect();
                stored.extend(in_memory.into_iter().filter(|l| !known.contains(&key(l))));
                stored
            }
            Err(e) => {
                eprintln!(
                    "vystak-otel-viewer: warning: cannot read the logs of trace {trace_id} from \
                     the file: {e}"
                );
                in_memory
            }
        }
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

/// Reads traces: the store's side of trace search and lookup, in the shape of Jaeger's
/// `tracestore.Reader` (`GetTraces`, `GetServices`, `GetOperations`, `FindTraceIDs`). The
/// query layer ([`crate::query::traces`]) searches, summarises and pages through it alone.
pub trait TraceReader: Send + Sync {
    /// `GetTraces`: every stored span of one trace, in no particular order (empty: unknown).
    fn get_trace(&self, trace_id: &str) -> Vec<SpanRecord>;

    /// `GetServices`: distinct `service.name`s of the traces held in memory, sorted.
    fn get_services(&self) -> Vec<String>;

    /// `GetOperations`: distinct span names (of one service), sorted.
    fn get_operations(&self, service: Option<&str>) -> Vec<String>;

    /// The traces held in memory, each visited once with its spans (borrowed, not copied;
    /// a writer waits while this runs, so keep `visit` cheap).
    fn for_each_recent_trace(
        &self,
        visit: &mut dyn FnMut(&str, &mut dyn Iterator<Item = &SpanRecord>),
    );

    /// `FindTraceIDs` over what memory does not hold: ids and start times of the traces that
    /// pass `query`'s indexed filters, newest first from its cursor. `None` when the store has
    /// nothing beyond memory (no file).
    ///
    /// # Errors
    /// The file's error, as text.
    fn find_trace_ids(
        &self,
        query: &TraceIdQuery<'_>,
    ) -> Option<Result<Vec<(String, u64)>, String>>;
}

/// Writes traces, in the shape of Jaeger's `tracestore.Writer` (`WriteTraces`): admitted or
/// refused at once, acknowledged once durable ([`Pending::durable`]).
pub(crate) trait TraceWriter {
    /// Stores `spans`, or refuses all of them ([`Refusal::Busy`] when the write queue is full).
    fn write_traces(&self, spans: Vec<SpanRecord>) -> Result<Pending, Refusal>;
}

impl TraceReader for Store {
    fn get_trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        self.trace(trace_id)
    }

    fn get_services(&self) -> Vec<String> {
        self.services()
    }

    fn get_operations(&self, service: Option<&str>) -> Vec<String> {
        self.operations(service)
    }

    fn for_each_recent_trace(
        &self,
        visit: &mut dyn FnMut(&str, &mut dyn Iterator<Item = &SpanRecord>),
    ) {
        let state = self.read();
        for (trace_id, spans) in state.traces() {
            visit(trace_id, &mut spans.iter());
        }
    }

    fn find_trace_ids(
        &self,
        query: &TraceIdQuery<'_>,
    ) -> Option<Result<Vec<(String, u64)>, String>> {
        self.file_search(query)
            .map(|r| r.map_err(|e| e.to_string()))
    }
}

impl TraceWriter for Store {
    fn write_traces(&self, spans: Vec<SpanRecord>) -> Result<Pending, Refusal> {
        self.accept_spans(spans)
    }
}

/// A selection would copy more samples than the query's budget allows
/// (`QueryLimits::with_max_samples`); the query fails with Prometheus' 422 `execution` error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManySamples;

/// Where the PromQL engine reads samples from (the memory store or the SQLite store): the
/// `Select` of Prometheus' `storage.Querier` (label names and values are derived from a
/// selection, as Prometheus does with matchers).
pub trait SeriesSource: Send + Sync {
    /// Every series whose labels satisfy all `matchers` (a missing label is the empty string,
    /// as in Prometheus), with its samples whose timestamp is in `[start_ms, end_ms]`.
    /// A series with no sample in the window may be omitted.
    ///
    /// # Errors
    /// [`TooManySamples`] as soon as the series copied so far hold more than `max_samples`
    /// samples: an implementation stops copying there, so a query's memory stays bounded.
    fn select_limited(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, TooManySamples>;

    /// [`select_limited`](Self::select_limited) without a limit.
    fn select(&self, matchers: &[LabelMatcher], start_ms: i64, end_ms: i64) -> Vec<Series> {
        self.select_limited(matchers, start_ms, end_ms, usize::MAX)
            .unwrap_or_default()
    }
}

impl SeriesSource for Store {
    fn select_limited(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, TooManySamples> {
        self.inner
            .samples
            .select(matchers, start_ms, end_ms, max_samples)
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
