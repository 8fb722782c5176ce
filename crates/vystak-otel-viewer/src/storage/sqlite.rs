//! The SQLite file behind a persistent store: one writer thread, batched transactions, WAL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::recent::RecentResources;
use super::StoreOptions;
use crate::error::Error;
use crate::model::record::{LogRecord, MetricPoint, SharedAttributes, SpanRecord};
use crate::model::{Labels, Sample};

/// `PRAGMA user_version` of the files this version writes. A file of version 1 is migrated; a
/// file with any other version is recreated (with a warning).
///
/// - 1: the first schema.
/// - 2: a span is identified by (trace id, span id): a unique index, so that an exporter's retry
///   stores nothing twice (migration: the first copy of each duplicate is kept); resources are
///   stored once each (`resources`), spans and logs name theirs by `resource_id` (rows migrated
///   from version 1 keep the resource inside their record, `resource_id` NULL). The indexes no
///   query read (`spans (service, name)`, `spans (name)`, `logs (trace_id)`) are dropped: each
///   cost every insert.
/// - 3: `traces` (trace id, first start, last end, error spans), kept with the spans, so the trace search
///   reaches every trace the file holds through the index on start time (migration: built
///   from the spans).
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// The `traces` table (schema version 3), created by the schema and by the migration to it.
macro_rules! traces_table {
    () => {
        "
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    errors INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"
    };
}

/// Version 2 → 3.
const MIGRATE_2_TO_3: &str = concat!(
    traces_table!(),
    "
INSERT OR IGNORE INTO traces (trace_id, start_ns, end_ns, errors)
    SELECT trace_id, MIN(start_ns), MAX(end_ns),
           SUM(json_type(record, '$.status.Error') IS NOT NULL)
    FROM spans GROUP BY trace_id;
"
);

/// Version 1 → 2.
const MIGRATE_1_TO_2: &str = "
DELETE FROM spans WHERE seq NOT IN (SELECT MIN(seq) FROM spans GROUP BY trace_id, span_id);
DROP INDEX IF EXISTS spans_trace_id;
CREATE UNIQUE INDEX IF NOT EXISTS spans_trace_span ON spans (trace_id, span_id);
DROP INDEX IF EXISTS spans_service_name;
DROP INDEX IF EXISTS spans_name;
DROP INDEX IF EXISTS logs_trace_id;
ALTER TABLE spans ADD COLUMN resource_id INTEGER;
ALTER TABLE logs ADD COLUMN resource_id INTEGER;
";

/// Most operations applied in one transaction.
const MAX_BATCH: usize = 512;

const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS spans (
    seq INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    record TEXT NOT NULL,
    resource_id INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS spans_trace_span ON spans (trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);
CREATE INDEX IF NOT EXISTS spans_name ON spans (name);
",
    traces_table!(),
    "
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_ns DESC, trace_id ASC);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    trace_id TEXT,
    service TEXT NOT NULL,
    record TEXT NOT NULL,
    resource_id INTEGER
);
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY,
    attrs TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ns);
CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    labels TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,
    v REAL,
    PRIMARY KEY (series_id, t_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_t ON samples (t_ms);
CREATE TABLE IF NOT EXISTS latest (
    key TEXT PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"
);

/// A span as the file stores it: the indexed columns, the record as JSON without its resource
/// (which is a row of `resources`), and the resource.
#[derive(Debug)]
pub(crate) struct SpanRow {
    trace_id: String,
    span_id: String,
    service: String,
    name: String,
    start_ns: i64,
    end_ns: i64,
    error: bool,
    record: String,
    resource: SharedAttributes,
}

/// The empty resource a record is serialized with (its resource is stored apart).
static NO_RESOURCE: std::sync::LazyLock<SharedAttributes> =
    std::sync::LazyLock::new(SharedAttributes::default);

impl SpanRow {
    /// The row of `span` (left as it was).
    pub(crate) fn new(span: &mut SpanRecord) -> Self {
        let resource = std::mem::replace(&mut span.resource, NO_RESOURCE.clone());
        let record = serde_json::to_string(&*span).unwrap_or_default();
        span.resource = resource.clone();
        Self {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            service: span.service_name.clone(),
            name: span.name.clone(),
            start_ns: i64::try_from(span.start_unix_nanos).unwrap_or(i64::MAX),
            end_ns: i64::try_from(span.end_unix_nanos).unwrap_or(i64::MAX),
            error: span.status.is_error(),
            record,
            resource,
        }
    }
}

/// One write, applied by the writer thread.
#[derive(Debug)]
pub(crate) enum Op {
    Spans(Vec<SpanRow>),
    Logs(Vec<LogRecord>),
    /// One metrics export: its samples and its latest points, committed together.
    Metrics {
        samples: Vec<(Labels, Sample)>,
        latest: Vec<(String, MetricPoint)>,
    },
    Prune {
        cutoff_unix_nanos: Option<u64>,
        samples_cutoff_ms: i64,
    },
    Clear,
}

/// The receiver's side of an admitted write: told once the write is committed (or why not),
/// and holding the write's places in the queue until then.
#[derive(Debug)]
pub(crate) struct Ack {
    done: oneshot::Sender<Result<(), String>>,
    places: OwnedSemaphorePermit,
}

impl Ack {
    /// Frees the write's places in the queue, then answers it: in this order, so that an
    /// exporter that sends its next request on the answer finds the room it freed (answered
    /// first, the next request could race the release and be refused as if the queue were
    /// still full — `tests/durability.rs` did, once in about 20 runs).
    fn answer(self, outcome: Result<(), String>) {
        let Ack { done, places } = self;
        drop(places);
        let _ = done.send(outcome);
    }
}

#[derive(Debug)]
enum Msg {
    Op(Op, Option<Ack>),
    Flush(mpsc::Sender<()>),
}

/// What a file held when it was opened.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) spans: Vec<SpanRecord>,
    pub(crate) logs: Vec<LogRecord>,
    pub(crate) points: Vec<MetricPoint>,
    pub(crate) samples: Vec<(Labels, Sample)>,
}

/// The handle of the writer thread. Dropping it commits what is queued and joins the thread.
#[derive(Debug)]
pub(crate) struct Writer {
    /// A second connection for reads (WAL: readers never wait for the writer, nor it for them).
    reader: Mutex<Connection>,
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Places in the write queue, one per record (`StoreOptions::with_write_queue`): admitted
    /// writes hold theirs until they are committed.
    places: Arc<Semaphore>,
    queue: u32,
}

fn storage(path: &Path, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Storage {
        path: path.to_owned(),
        source: source.into(),
    }
}

fn open_connection(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path).map_err(|e| storage(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| storage(path, e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| storage(path, e))?;
    if version == 1 || version == 2 {
        let steps = if version == 1 {
            format!("{MIGRATE_1_TO_2}{MIGRATE_2_TO_3}")
        } else {
            MIGRATE_2_TO_3.to_owned()
        };
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {steps} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))
        .map_err(|e| storage(path, e))?;
        eprintln!(
            "vystak-otel-viewer: {} migrated from schema version {version} to {SCHEMA_VERSION}",
            path.display()
        );
    } else if version != 0 && version != SCHEMA_VERSION {
        eprintln!(
            "vystak-otel-viewer: warning: {} has schema version {version}, this version uses \
             {SCHEMA_VERSION}; recreating the file (its data is dropped)",
            path.display()
        );
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| storage(&p, e))?;
            }
        }
        return open_connection(path);
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| storage(path, e))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| storage(path, e))?;
    conn.execute_batch(SCHEMA).map_err(|e| storage(path, e))?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| storage(path, e))?;
    Ok(conn)
}

fn load(conn: &Connection, options: &StoreOptions) -> rusqlite::Result<Loaded> {
    let mut loaded = Loaded::default();
    let now = super::now_unix_nanos();
    let cutoff = options
        .retention
        .map(|age| now.saturating_sub(super::saturating_nanos(age)));
    let cutoff_ns = cutoff.map_or(0, |c| i64::try_from(c).unwrap_or(i64::MAX));
    let mut records = RecordLoader::default();
    loaded.spans = records.load(
        conn,
        "spans",
        "start_ns",
        cutoff_ns,
        options.max_spans,
        |s: &mut SpanRecord| &mut s.resource,
    )?;
    loaded.logs = records.load(
        conn,
        "logs",
        "time_ns",
        cutoff_ns,
        options.max_logs,
        |l: &mut LogRecord| &mut l.resource,
    )?;
    if records.unreadable > 0 {
        eprintln!(
            "vystak-otel-viewer: warning: {} stored spans, logs or resources could not be read \
             and were not loaded",
            records.unreadable
        );
    }
    let mut stmt = conn.prepare("SELECT record FROM latest ORDER BY rowid")?;
    for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
        if let Ok(point) = serde_json::from_str(&row?) {
            loaded.points.push(point);
        }
    }
    let mut stmt = conn.prepare(
        "SELECT s.labels, x.t_ms, x.v FROM samples x JOIN series s ON s.id = x.series_id \
         WHERE x.t_ms >= ?1 AND x.t_ms <= ?2 ORDER BY x.series_id, x.t_ms",
    )?;
    let samples_cutoff_ms = super::samples_cutoff_ms(now, cutoff);
    // A sample stamped in the far future (written before the receivers checked times) would
    // move the samples' age bound past every real sample: it is not loaded.
    let latest_ms = super::nanos_to_ms(now.saturating_add(86_400_000_000_000));
    let rows = stmt.query_map(params![samples_cutoff_ms, latest_ms], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Option<f64>>(2)?,
        ))
    })?;
    let mut last: Option<(String, Labels)> = None;
    for row in rows {
        let (text, t_ms, v) = row?;
        let labels = match &last {
            Some((t, l)) if *t == text => l.clone(),
            _ => match serde_json::from_str::<Labels>(&text) {
                Ok(l) => {
                    last = Some((text, l.clone()));
                    l
                }
                Err(_) => continue,
            },
        };
        loaded.samples.push((
            labels,
            Sample {
                t_ms,
                v: v.unwrap_or(f64::NAN),
            },
        ));
    }
    Ok(loaded)
}

impl Writer {
    /// Trace ids (with their start) matching `q`'s SQL filters, newest first.
    pub(crate) fn search(&self, q: &TraceIdQuery<'_>) -> rusqlite::Result<Vec<(String, u64)>> {
        let conn = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let rare = match q.operation {
            Some(op) => {
                conn.prepare_cached(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM spans WHERE name = ?1 LIMIT ?2)",
                )?
                .query_row(params![op, RARE_OPERATION_SPANS], |r| r.get::<_, i64>(0))?
                    < RARE_OPERATION_SPANS
            }
            None => false,
        };
        let mut stmt = conn.prepare_cached(if rare {
            SEARCH_BY_OPERATION_QUERY
        } else {
            SEARCH_QUERY
        })?;
        let rows = stmt.query_map(
            params![
                q.before.0,
                q.before.1,
                q.since,
                q.min_duration_ns,
                q.service,
                q.operation,
                i64::try_from(q.limit).unwrap_or(i64::MAX),
                i64::from(q.errors_only)
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                ))
            },
        )?;
        rows.collect()
    }

    /// The spans of one trace as the file holds them (committed ones).
    pub(crate) fn read_trace(&self, trace_id: &str) -> rusqlite::Result<Vec<SpanRecord>> {
        self.read_records(TRACE_QUERY, trace_id, |s: &mut SpanRecord| &mut s.resource)
    }

    /// The logs of one trace as the file holds them (committed ones), in arrival order.
    pub(crate) fn read_trace_logs(&self, trace_id: &str) -> rusqlite::Result<Vec<LogRecord>> {
        self.read_records(TRACE_LOGS_QUERY, trace_id, |l: &mut LogRecord| {
            &mut l.resource
        })
    }

    /// The records `query` selects for `trace_id`, each with its resource.
    fn read_records<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        trace_id: &str,
        resource: fn(&mut T) -> &mut SharedAttributes,
    ) -> rusqlite::Result<Vec<T>> {
        let conn = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stmt = conn.prepare_cached(query)?;
        let rows: Vec<(String, Option<i64>)> = stmt
            .query_map(params![trace_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut loader = RecordLoader::default();
        let mut out = Vec::with_capacity(rows.len());
        for (record, resource_id) in rows {
            let Ok(mut item) = serde_json::from_str::<T>(&record) else {
                loader.unreadable += 1;
                continue;
            };
            if let Some(id) = resource_id {
                *resource(&mut item) = loader.resource(&conn, id)?;
            }
            out.push(item);
        }
        Ok(out)
    }

    /// Opens (or creates) the file, loads what it holds and starts the writer thread.
    pub(crate) fn open(path: &Path, options: &StoreOptions) -> Result<(Writer, Loaded), Error> {
        let conn = open_connection(path)?;
        let loaded = load(&conn, options).map_err(|e| storage(path, e))?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| storage(path, e))?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| storage(path, e))?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let mut state = WriterState {
            conn,
            path: path.to_owned(),
            max_bytes: i64::try_from(options.max_file_bytes).unwrap_or(i64::MAX),
            series_ids: HashMap::new(),
            resource_ids: RecentResources::new(RESOURCE_IDS),
            reported: false,
        };
        let thread = std::thread::Builder::new()
            .name("vystak-otel-viewer-sqlite".into())
            .spawn(move || state.run(rx))
            .map_err(|e| storage(path, e))?;
        Ok((
            Writer {
                reader: Mutex::new(reader),
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                places: Arc::new(Semaphore::new(options.write_queue as usize)),
                queue: options.write_queue,
            },
            loaded,
        ))
    }

    pub(crate) fn send(&self, op: Op) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(Msg::Op(op, None));
        }
    }

    /// Places in the write queue for a write of `records` records, or `None` when the queue is
    /// full (the receiver then asks the exporter to retry later). Never waits.
    pub(crate) fn admit(&self, records: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(records)
            .unwrap_or(self.queue)
            .clamp(1, self.queue);
        self.places.clone().try_acquire_many_owned(n).ok()
    }

    /// Queues an admitted write; the receiver is told once it is committed to the file (with the
    /// writes queued beside it: one transaction for all of them), or why it was not.
    pub(crate) fn send_admitted(
        &self,
        op: Op,
        places: OwnedSemaphorePermit,
    ) -> oneshot::Receiver<Result<(), String>> {
        let (done, committed) = oneshot::channel();
        let ack = Ack { done, places };
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            // A send fails only once the writer is gone; the dropped `done` tells the receiver.
            let _ = tx.send(Msg::Op(op, Some(ack)));
        }
        committed
    }

    /// Blocks until everything sent so far is committed.
    pub(crate) fn flush(&self) {
        let (done_tx, done_rx) = mpsc::channel();
        let sent = self
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|tx| tx.send(Msg::Flush(done_tx)).is_ok());
        if sent {
            let _ = done_rx.recv();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel makes the thread commit what is queued and exit.
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

struct WriterState {
    conn: Connection,
    path: PathBuf,
    max_bytes: i64,
    series_ids: HashMap<String, i64>,
    /// The row ids of recently written resources.
    resource_ids: RecentResources<i64>,
    reported: bool,
}

/// Reads stored spans or logs back: each record with its resource, every resource row parsed
/// once and shared by its records; counts what cannot be read (it is reported, not skipped
/// silently).
#[derive(Default)]
struct RecordLoader {
    resources: HashMap<i64, SharedAttributes>,
    unreadable: usize,
}

impl RecordLoader {
    /// The newest `limit` rows of `table` whose `time_column` is at least `cutoff_ns`, oldest
    /// first. `resource` names the record's resource field (rows of schema version 1 have no
    /// `resource_id` and keep the resource in their record).
    fn load<T: serde::de::DeserializeOwned>(
        &mut self,
        conn: &Connection,
        table: &str,
        time_column: &str,
        cutoff_ns: i64,
        limit: usize,
        resource: fn(&mut T) -> &mut SharedAttributes,
    ) -> rusqlite::Result<Vec<T>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT record, resource_id FROM (SELECT seq, record, resource_id FROM {table} \
             WHERE {time_column} >= ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![cutoff_ns, limit], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (record, resource_id) = row?;
            let Ok(mut item) = serde_json::from_str::<T>(&record) else {
                self.unreadable += 1;
                continue;
            };
            if let Some(id) = resource_id {
                *resource(&mut item) = self.resource(conn, id)?;
            }
            out.push(item);
        }
        Ok(out)
    }

    /// Resource row `id`, parsed once; a missing or unreadable row is counted and read as an
    /// empty resource (the record itself is kept).
    fn resource(&mut self, conn: &Connection, id: i64) -> rusqlite::Result<SharedAttributes> {
        if let Some(r) = self.resources.get(&id) {
            return Ok(r.clone());
        }
        let text: Option<String> = conn
            .query_row(
                "SELECT attrs FROM resources WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        let attrs = text.and_then(|t| serde_json::from_str(&t).ok());
        if attrs.is_none() {
            self.unreadable += 1;
        }
        let attrs: SharedAttributes = Arc::new(attrs.unwrap_or_default());
        self.resources.insert(id, attrs.clone());
        Ok(attrs)
    }
}

/// Distinct resources whose row id the writer remembers.
const RESOURCE_IDS: usize = 64;

/// The row id of `resource` in `resources`, written when new. Records of one resource share one
/// row, whatever their number: a 1 MiB resource on 5,000 spans is 1 MiB in the file, not 5 GB.
fn resource_id(
    tx: &rusqlite::Transaction<'_>,
    cache: &mut RecentResources<i64>,
    resource: &SharedAttributes,
) -> rusqlite::Result<i64> {
    if let Some((_, id)) = cache.find(resource) {
        return Ok(*id);
    }
    let text = serde_json::to_string(&**resource).unwrap_or_default();
    tx.prepare_cached("INSERT OR IGNORE INTO resources (attrs) VALUES (?1)")?
        .execute(params![text])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM resources WHERE attrs = ?1")?
        .query_row(params![text], |r| r.get(0))?;
    cache.insert(resource.clone(), id);
    Ok(id)
}

impl WriterState {
    fn run(&mut self, rx: mpsc::Receiver<Msg>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(msg) => batch.push(msg),
                    Err(_) => break,
                }
            }
            let mut waiters = Vec::new();
            let mut acks = Vec::new();
            let result = self.apply(batch, &mut waiters, &mut acks);
            // Committed (or not): only now is each admitted write answered, and its places in
            // the queue freed.
            let outcome = result
                .as_ref()
                .map(|_| ())
                .map_err(|e| format!("cannot commit to {}: {e}", self.path.display()));
            for ack in acks {
                ack.answer(outcome.clone());
            }
            if let Err(err) = result {
                if !self.reported {
                    eprintln!(
                        "vystak-otel-viewer: cannot write to {}: {err}",
                        self.path.display()
                    );
                    self.reported = true;
                }
                // The cached ids may name rows of a rolled-back transaction.
                self.series_ids.clear();
                self.resource_ids.clear();
            }
            for w in waiters {
                let _ = w.send(());
            }
        }
    }

    fn apply(
        &mut self,
        batch: Vec<Msg>,
        waiters: &mut Vec<mpsc::Sender<()>>,
        acks: &mut Vec<Ack>,
    ) -> rusqlite::Result<()> {
        // Taken out first, so that a failure halfway still answers every admitted write.
        let ops: Vec<Op> = batch
            .into_iter()
            .filter_map(|msg| match msg {
                Msg::Flush(w) => {
                    waiters.push(w);
                    None
                }
                Msg::Op(op, ack) => {
                    acks.extend(ack);
                    Some(op)
                }
            })
            .collect();
        let tx = self.conn.transaction()?;
        let mut deleted = 0usize;
        let (mut spans, mut logs) = (false, false);
        for op in ops {
            match op {
                Op::Spans(list) => {
                    spans = true;
                    let mut stmt = tx.prepare_cached(
                        "INSERT OR IGNORE INTO spans \
                         (trace_id, span_id, service, name, start_ns, end_ns, record, resource_id) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?;
                    // Each trace's first start, last end and new error spans in this batch,
                    // for `traces`.
                    let mut extents: HashMap<&str, (i64, i64, i64)> = HashMap::new();
                    for row in &list {
                        let resource_id = resource_id(&tx, &mut self.resource_ids, &row.resource)?;
                        let inserted = stmt.execute(params![
                            row.trace_id,
                            row.span_id,
                            row.service,
                            row.name,
                            row.start_ns,
                            row.end_ns,
                            row.record,
                            resource_id
                        ])?;
                        let e = extents.entry(row.trace_id.as_str()).or_insert((
                            row.start_ns,
                            row.end_ns,
                            0,
                        ));
                        e.0 = e.0.min(row.start_ns);
                        e.1 = e.1.max(row.end_ns);
                        // A retried span is ignored by the insert: its error is not counted again.
                        if row.error && inserted > 0 {
                            e.2 = e.2.saturating_add(1);
                        }
                    }
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO traces (trace_id, start_ns, end_ns, errors) \
                         VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT(trace_id) DO UPDATE SET \
                         start_ns = MIN(start_ns, excluded.start_ns), \
                         end_ns = MAX(end_ns, excluded.end_ns), \
                         errors = errors + excluded.errors",
                    )?;
                    for (trace_id, (start, end, errors)) in extents {
                        stmt.execute(params![trace_id, start, end, errors])?;
                    }
                }
                Op::Logs(list) => {
                    logs = true;
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO logs (time_ns, trace_id, service, record, resource_id) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?;
                    for mut l in list {
                        let resource_id = resource_id(&tx, &mut self.resource_ids, &l.resource)?;
                        l.resource = NO_RESOURCE.clone();
                        let record = serde_json::to_string(&l).unwrap_or_default();
                        stmt.execute(params![
                            i64::try_from(super::log_time(&l)).unwrap_or(i64::MAX),
                            l.trace_id,
                            l.service_name,
                            record,
                            resource_id
                        ])?;
                    }
                }
                Op::Metrics { samples, latest } => {
                    for (labels, sample) in samples {
                        let text = serde_json::to_string(&labels).unwrap_or_default();
                        let id = match self.series_ids.get(&text) {
                            Some(id) => *id,
                            None => {
                                tx.prepare_cached(
                                    "INSERT OR IGNORE INTO series (labels) VALUES (?1)",
                                )?
                                .execute(params![text])?;
                                let id: i64 = tx
                                    .prepare_cached("SELECT id FROM series WHERE labels = ?1")?
                                    .query_row(params![text], |r| r.get(0))?;
                                self.series_ids.insert(text, id);
                                id
                            }
                        };
                        let v = (!sample.v.is_nan()).then_some(sample.v);
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO samples (series_id, t_ms, v) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![id, sample.t_ms, v])?;
                    }
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO latest (key, time_ns, record) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(key) DO UPDATE SET time_ns = excluded.time_ns, record = excluded.record",
                    )?;
                    for (key, point) in latest {
                        let record = serde_json::to_string(&point).unwrap_or_default();
                        stmt.execute(params![key, point.time_unix_nanos as i64, record])?;
                    }
                }
                Op::Prune {
                    cutoff_unix_nanos,
                    samples_cutoff_ms,
                } => {
                    if let Some(cutoff) = cutoff_unix_nanos {
                        let cutoff = i64::try_from(cutoff).unwrap_or(i64::MAX);
                        deleted +=
                            tx.execute("DELETE FROM spans WHERE start_ns < ?1", params![cutoff])?;
                        forget_deleted_traces(&tx)?;
                        deleted +=
                            tx.execute("DELETE FROM logs WHERE time_ns < ?1", params![cutoff])?;
                        tx.execute("DELETE FROM latest WHERE time_ns < ?1", params![cutoff])?;
                    }
                    tx.execute(
                        "DELETE FROM samples WHERE t_ms < ?1",
                        params![samples_cutoff_ms],
                    )?;
                }
                Op::Clear => {
                    tx.execute_batch(
                        "DELETE FROM spans; DELETE FROM traces; DELETE FROM logs; DELETE FROM latest; \
                         DELETE FROM samples; DELETE FROM series; DELETE FROM meta; \
                         DELETE FROM resources;",
                    )?;
                    self.series_ids.clear();
                    self.resource_ids.clear();
                }
            }
        }
        if spans || logs {
            deleted += bound_size(&tx, self.max_bytes)?;
        }
        if deleted > 0 {
            // Resources no span or log names any more go too; the writer's cache of resource
            // ids is dropped with them (it could name a deleted row).
            tx.execute(
                "DELETE FROM resources WHERE \
                 id NOT IN (SELECT resource_id FROM spans WHERE resource_id IS NOT NULL) \
                 AND id NOT IN (SELECT resource_id FROM logs WHERE resource_id IS NOT NULL)",
                [],
            )?;
            self.resource_ids.clear();
        }
        tx.commit()
    }
}

/// The bytes of the pages in use (the file's pages less its free list).
fn used_bytes(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<i64> {
    let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = tx.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = tx.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(pages.saturating_sub(free).saturating_mul(size))
}

/// Keeps the file's pages in use under `max_bytes`: while over, the oldest tenth of the spans
/// and of the logs go (freed pages are reused by later writes; the file does not shrink).
fn bound_size(tx: &rusqlite::Transaction<'_>, max_bytes: i64) -> rusqlite::Result<usize> {
    let mut total = 0usize;
    for _ in 0..20 {
        if used_bytes(tx)? <= max_bytes {
            return Ok(total);
        }
        let mut deleted = 0;
        for table in ["spans", "logs"] {
            let (first, last): (Option<i64>, Option<i64>) = tx.query_row(
                &format!("SELECT MIN(seq), MAX(seq) FROM {table}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let (Some(first), Some(last)) = (first, last) {
                let tenth = (last.saturating_sub(first) / 10).max(1);
                deleted += tx.execute(
                    &format!("DELETE FROM {table} WHERE seq < ?1"),
                    params![first.saturating_add(tenth)],
                )?;
            }
        }
        if deleted == 0 {
            return Ok(total);
        }
        total = total.saturating_add(deleted);
        forget_deleted_traces(tx)?;
    }
    Ok(total)
}

/// Drops the `traces` rows whose spans were all deleted (each probes the spans' trace index).
fn forget_deleted_traces(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM traces WHERE NOT EXISTS \
         (SELECT 1 FROM spans WHERE spans.trace_id = traces.trace_id)",
        [],
    )?;
    Ok(())
}

/// The file's trace search: traces whose first span starts before the cursor (start, then
/// trace id on ties) and at or after `since`, newest first, through `traces_start`; with a
/// service (and operation) filter, only traces holding such a span (probed through the spans'
/// trace index — `INDEXED BY`: with `spans_name` beside it, SQLite once probed by name, a scan
/// of every span of a common operation per trace — and its columns: no record is parsed); with
/// `status=error`, only traces with an
/// error span (the `errors` count kept with the trace).
pub const SEARCH_QUERY: &str = "
SELECT t.trace_id, t.start_ns FROM traces t
WHERE (t.start_ns < ?1 OR (t.start_ns = ?1 AND t.trace_id > ?2))
  AND t.start_ns >= ?3
  AND t.end_ns - t.start_ns >= ?4
  AND (?5 IS NULL OR EXISTS (SELECT 1 FROM spans s INDEXED BY spans_trace_span
        WHERE s.trace_id = t.trace_id AND s.service = ?5 AND (?6 IS NULL OR s.name = ?6)))
  AND (?5 IS NOT NULL OR ?6 IS NULL OR EXISTS (SELECT 1 FROM spans s INDEXED BY spans_trace_span
        WHERE s.trace_id = t.trace_id AND s.name = ?6))
  AND (?8 = 0 OR t.errors > 0)
ORDER BY t.start_ns DESC, t.trace_id ASC
LIMIT ?7";

/// The file's trace search for a rare operation: the traces holding a span of that name (and
/// service), listed through `spans_name`, then ordered by start. [`SEARCH_QUERY`] walks every
/// trace for an operation that matches none; this one builds the whole list for one that
/// matches most, so the search counts the operation's spans first (up to
/// [`RARE_OPERATION_SPANS`]) and picks.
pub const SEARCH_BY_OPERATION_QUERY: &str = "
SELECT t.trace_id, t.start_ns FROM traces t
WHERE (t.start_ns < ?1 OR (t.start_ns = ?1 AND t.trace_id > ?2))
  AND t.start_ns >= ?3
  AND t.end_ns - t.start_ns >= ?4
  AND t.trace_id IN (SELECT s.trace_id FROM spans s
        WHERE s.name = ?6 AND (?5 IS NULL OR s.service = ?5))
  AND (?8 = 0 OR t.errors > 0)
ORDER BY t.start_ns DESC, t.trace_id ASC
LIMIT ?7";

/// Below this many spans of an operation, the search lists its traces
/// ([`SEARCH_BY_OPERATION_QUERY`]) instead of walking all traces.
pub const RARE_OPERATION_SPANS: i64 = 5_000;

/// What [`TraceReader::find_trace_ids`](super::TraceReader::find_trace_ids) filters on in
/// SQL — the index-friendly half of a trace search, like the parameters of Jaeger's
/// `FindTraceIDs`; the rest (errors, attributes) is checked on the spans by the caller.
#[derive(Clone, Debug)]
pub struct TraceIdQuery<'a> {
    /// Exclusive cursor: start time (Unix ns), and trace id on ties (`"~"`: after every id).
    pub before: (i64, &'a str),
    /// Traces starting at or after this time (Unix ns).
    pub since: i64,
    /// Traces at least this long (ns).
    pub min_duration_ns: i64,
    /// A span of this service …
    pub service: Option<&'a str>,
    /// … with this name (on one span when both are set).
    pub operation: Option<&'a str>,
    /// Traces with an error span.
    pub errors_only: bool,
    /// At most this many ids.
    pub limit: usize,
}

/// The query [`Store::logs_for_trace`](crate::Store::logs_for_trace) runs on the file: one
/// trace's logs through the partial index on
/// `logs (trace_id)`, in arrival order.
pub const TRACE_LOGS_QUERY: &str =
    "SELECT record, resource_id FROM logs WHERE trace_id = ?1 AND trace_id IS NOT NULL ORDER BY seq";

/// The query [`Store::trace`](crate::Store::trace) runs on the file: one trace's spans through the `(trace_id, span_id)`
/// index (`EXPLAIN QUERY PLAN` in the tests checks it).
pub const TRACE_QUERY: &str = "SELECT record, resource_id FROM spans WHERE trace_id = ?1";
