//! The SQLite file behind a persistent store: one writer thread, batched transactions, WAL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{params, Connection};

use super::StoreOptions;
use crate::error::Error;
use crate::query::promql::{Labels, Sample};
use crate::record::{LogRecord, MetricPoint, SpanRecord};

/// `PRAGMA user_version` of the files this version writes. A file with another version is
/// recreated.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Most operations applied in one transaction.
const MAX_BATCH: usize = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spans (
    seq INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace_id ON spans (trace_id);
CREATE INDEX IF NOT EXISTS spans_service_name ON spans (service, name);
CREATE INDEX IF NOT EXISTS spans_name ON spans (name);
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    trace_id TEXT,
    service TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ns);
CREATE INDEX IF NOT EXISTS logs_trace_id ON logs (trace_id);
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
";

/// One write, applied by the writer thread.
#[derive(Debug)]
pub(crate) enum Op {
    Spans(Vec<SpanRecord>),
    Logs(Vec<LogRecord>),
    Samples(Vec<(Labels, Sample)>),
    Latest(Vec<(String, MetricPoint)>),
    Prune {
        cutoff_unix_nanos: Option<u64>,
        samples_cutoff_ms: i64,
    },
    Clear,
}

#[derive(Debug)]
enum Msg {
    Op(Op),
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
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
    if version != 0 && version != SCHEMA_VERSION {
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
    let cutoff_ns = options
        .retention
        .map(|age| super::now_unix_nanos().saturating_sub(age.as_nanos() as u64) as i64)
        .unwrap_or(0);
    let mut stmt = conn.prepare(
        "SELECT record FROM (SELECT seq, record FROM spans WHERE start_ns >= ?1 \
         ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![cutoff_ns, options.max_spans as i64], |r| {
        r.get::<_, String>(0)
    })?;
    for row in rows {
        if let Ok(span) = serde_json::from_str(&row?) {
            loaded.spans.push(span);
        }
    }
    let mut stmt = conn.prepare(
        "SELECT record FROM (SELECT seq, record FROM logs WHERE time_ns >= ?1 \
         ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![cutoff_ns, options.max_logs as i64], |r| {
        r.get::<_, String>(0)
    })?;
    for row in rows {
        if let Ok(log) = serde_json::from_str(&row?) {
            loaded.logs.push(log);
        }
    }
    let mut stmt = conn.prepare("SELECT record FROM latest ORDER BY rowid")?;
    for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
        if let Ok(point) = serde_json::from_str(&row?) {
            loaded.points.push(point);
        }
    }
    let mut stmt = conn.prepare(
        "SELECT s.labels, x.t_ms, x.v FROM samples x JOIN series s ON s.id = x.series_id \
         WHERE x.t_ms >= ?1 ORDER BY x.series_id, x.t_ms",
    )?;
    let samples_cutoff_ms = if options.retention.is_some() {
        cutoff_ns / 1_000_000
    } else {
        (super::now_unix_nanos() / 1_000_000) as i64 - super::samples::DEFAULT_MAX_AGE_MS
    };
    let rows = stmt.query_map(params![samples_cutoff_ms], |r| {
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
    /// Opens (or creates) the file, loads what it holds and starts the writer thread.
    pub(crate) fn open(path: &Path, options: &StoreOptions) -> Result<(Writer, Loaded), Error> {
        let conn = open_connection(path)?;
        let loaded = load(&conn, options).map_err(|e| storage(path, e))?;
        let (tx, rx) = mpsc::channel::<Msg>();
        let mut state = WriterState {
            conn,
            path: path.to_owned(),
            max_spans: options.max_spans as i64,
            max_logs: options.max_logs as i64,
            series_ids: HashMap::new(),
            reported: false,
        };
        let thread = std::thread::Builder::new()
            .name("vystak-otel-viewer-sqlite".into())
            .spawn(move || state.run(rx))
            .map_err(|e| storage(path, e))?;
        Ok((
            Writer {
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
            },
            loaded,
        ))
    }

    pub(crate) fn send(&self, op: Op) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(Msg::Op(op));
        }
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
    max_spans: i64,
    max_logs: i64,
    series_ids: HashMap<String, i64>,
    reported: bool,
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
            let result = self.apply(batch, &mut waiters);
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
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let (mut spans, mut logs) = (false, false);
        for msg in batch {
            let op = match msg {
                Msg::Flush(w) => {
                    waiters.push(w);
                    continue;
                }
                Msg::Op(op) => op,
            };
            match op {
                Op::Spans(list) => {
                    spans = true;
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO spans (trace_id, span_id, service, name, start_ns, end_ns, record) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?;
                    for s in list {
                        let record = serde_json::to_string(&s).unwrap_or_default();
                        stmt.execute(params![
                            s.trace_id,
                            s.span_id,
                            s.service_name,
                            s.name,
                            s.start_unix_nanos as i64,
                            s.end_unix_nanos as i64,
                            record
                        ])?;
                    }
                }
                Op::Logs(list) => {
                    logs = true;
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO logs (time_ns, trace_id, service, record) VALUES (?1, ?2, ?3, ?4)",
                    )?;
                    for l in list {
                        let record = serde_json::to_string(&l).unwrap_or_default();
                        stmt.execute(params![
                            super::log_time(&l) as i64,
                            l.trace_id,
                            l.service_name,
                            record
                        ])?;
                    }
                }
                Op::Samples(samples) => {
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
                }
                Op::Latest(points) => {
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO latest (key, time_ns, record) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(key) DO UPDATE SET time_ns = excluded.time_ns, record = excluded.record",
                    )?;
                    for (key, point) in points {
                        let record = serde_json::to_string(&point).unwrap_or_default();
                        stmt.execute(params![key, point.time_unix_nanos as i64, record])?;
                    }
                }
                Op::Prune {
                    cutoff_unix_nanos,
                    samples_cutoff_ms,
                } => {
                    if let Some(cutoff) = cutoff_unix_nanos {
                        let cutoff = cutoff as i64;
                        tx.execute("DELETE FROM spans WHERE start_ns < ?1", params![cutoff])?;
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
                        "DELETE FROM spans; DELETE FROM logs; DELETE FROM latest; \
                         DELETE FROM samples; DELETE FROM series; DELETE FROM meta;",
                    )?;
                    self.series_ids.clear();
                }
            }
        }
        if spans {
            bound(&tx, "spans", self.max_spans)?;
        }
        if logs {
            bound(&tx, "logs", self.max_logs)?;
        }
        tx.commit()
    }
}

/// Keeps at most `max` rows of `table` (the newest by `seq`).
fn bound(tx: &rusqlite::Transaction<'_>, table: &str, max: i64) -> rusqlite::Result<()> {
    let last: Option<i64> =
        tx.query_row(&format!("SELECT MAX(seq) FROM {table}"), [], |r| r.get(0))?;
    if let Some(last) = last {
        tx.execute(
            &format!("DELETE FROM {table} WHERE seq <= ?1"),
            params![last - max],
        )?;
    }
    Ok(())
}
