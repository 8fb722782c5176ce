//! The in-memory working set: spans (with a per-trace index), logs and the latest point of each
//! metric series. The SQLite store keeps the same set in memory and writes it through to its file.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::recent::RecentResources;
use crate::model::record::{
    AttrValue, Attributes, LogRecord, MetricPoint, PointValue, SharedAttributes, SpanRecord,
};

/// Distinct resources remembered for interning: a new record's resource that equals one of these
/// shares its allocation.
const RECENT_RESOURCES: usize = 64;

/// Bounded spans, logs and latest metric points. Not synchronised; [`super::Store`] wraps it.
#[derive(Debug)]
pub(crate) struct MemoryState {
    pub(crate) max_spans: usize,
    pub(crate) max_points: usize,
    pub(crate) max_logs: usize,
    /// Spans in arrival order; `spans[i]` has sequence number `first_seq + i`. Behind `Arc`s so
    /// that a reader copies pointers under the lock and the spans after it: a 100k-span trace
    /// page no longer holds the lock (and so the receivers) while 100k spans are cloned.
    spans: Charged<Arc<SpanRecord>>,
    first_seq: u64,
    /// trace id → sequence numbers of its spans, ascending.
    by_trace: HashMap<String, Vec<u64>>,
    /// (trace id, span id) of every stored span: a span is identified by the two, so an
    /// exporter's retry of a batch that was stored stores nothing twice.
    ids: HashSet<(u128, u64)>,
    /// Bound of the spans' charged bytes (see [`span_size`]); logs get a quarter of it.
    max_bytes: usize,
    logs: Charged<LogRecord>,
    series: HashMap<String, MetricPoint>,
    series_order: VecDeque<String>,
    /// The most recent distinct resources, for interning.
    resources: RecentResources<()>,
}

/// Records in arrival order, each with the bytes charged for it, and the sum of the charges:
/// the spans' and the logs' bounded queues.
#[derive(Debug)]
struct Charged<T> {
    items: VecDeque<T>,
    charges: VecDeque<usize>,
    bytes: usize,
}

impl<T> Default for Charged<T> {
    fn default() -> Self {
        Self {
            items: VecDeque::new(),
            charges: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<T> Charged<T> {
    /// `true` while the oldest record must go before one of `charge` bytes fits under
    /// `max_items` records and `max_bytes` bytes (never for an empty queue: one record always
    /// fits).
    fn must_evict(&self, max_items: usize, charge: usize, max_bytes: usize) -> bool {
        !self.items.is_empty()
            && (self.items.len() >= max_items || self.bytes.saturating_add(charge) > max_bytes)
    }

    fn push_back(&mut self, item: T, charge: usize) {
        self.items.push_back(item);
        self.charges.push_back(charge);
        self.bytes = self.bytes.saturating_add(charge);
    }

    fn pop_front(&mut self) -> Option<T> {
        let item = self.items.pop_front()?;
        let charge = self.charges.pop_front().unwrap_or(0);
        self.bytes = self.bytes.saturating_sub(charge);
        Some(item)
    }

    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let items = std::mem::take(&mut self.items);
        let charges = std::mem::take(&mut self.charges);
        self.bytes = 0;
        for (item, charge) in items.into_iter().zip(charges) {
            if keep(&item) {
                self.push_back(item, charge);
            }
        }
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    fn iter(&self) -> std::collections::vec_deque::Iter<'_, T> {
        self.items.iter()
    }
}

/// The key of a metric series in the latest-point view.
pub(crate) fn series_key(point: &MetricPoint) -> String {
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{:?}",
        point.service_name, point.scope_name, point.metric_name, point.attributes
    )
}

impl MemoryState {
    pub(crate) fn new(max_spans: usize, max_points: usize, max_logs: usize) -> Self {
        Self {
            max_spans: max_spans.max(1),
            max_points: max_points.max(1),
            max_logs: max_logs.max(1),
            spans: Charged::default(),
            first_seq: 0,
            by_trace: HashMap::new(),
            ids: HashSet::new(),
            max_bytes: usize::MAX,
            logs: Charged::default(),
            series: HashMap::new(),
            series_order: VecDeque::new(),
            resources: RecentResources::new(RECENT_RESOURCES),
        }
    }

    /// Bounds the spans' approximate memory to `bytes` (and the logs' to a quarter of it): the
    /// oldest are evicted first, whatever the count bound allows.
    pub(crate) fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.max(1);
        self
    }

    /// Makes `resource` share the allocation of an equal resource seen recently; returns the
    /// bytes to charge for it: its size the first time, nothing when it is shared.
    fn intern(&mut self, resource: &mut SharedAttributes) -> usize {
        if let Some((shared, ())) = self.resources.find(resource) {
            *resource = shared.clone();
            return 0;
        }
        self.resources.insert(resource.clone(), ());
        attributes_size(resource)
    }

    /// Stores a span unless one with its trace id and span id is stored already (a retried
    /// export); `false` then.
    pub(crate) fn push_span(&mut self, mut span: SpanRecord) -> bool {
        if !self.ids.insert(span_key(&span)) {
            return false;
        }
        let charge = self
            .intern(&mut span.resource)
            .saturating_add(span_size(&span));
        while self
            .spans
            .must_evict(self.max_spans, charge, self.max_bytes)
        {
            self.pop_span();
        }
        let seq = self.first_seq + self.spans.len() as u64;
        self.by_trace
            .entry(span.trace_id.clone())
            .or_default()
            .push(seq);
        self.spans.push_back(Arc::new(span), charge);
        true
    }

    fn pop_span(&mut self) {
        let Some(old) = self.spans.pop_front() else {
            return;
        };
        self.ids.remove(&span_key(&old));
        let seq = self.first_seq;
        self.first_seq += 1;
        if let Some(list) = self.by_trace.get_mut(&old.trace_id) {
            if list.first() == Some(&seq) {
                list.remove(0);
            } else {
                list.retain(|s| *s != seq);
            }
            if list.is_empty() {
                self.by_trace.remove(&old.trace_id);
            }
        }
    }

    /// Drops every span that started before `cutoff` and every log older than it.
    pub(crate) fn prune_before(&mut self, cutoff_unix_nanos: u64) -> bool {
        let before = (self.spans.len(), self.logs.len());
        self.spans
            .retain(|s| s.start_unix_nanos >= cutoff_unix_nanos);
        self.logs.retain(|l| log_time(l) >= cutoff_unix_nanos);
        self.series
            .retain(|_, p| p.time_unix_nanos >= cutoff_unix_nanos);
        let series = &self.series;
        self.series_order.retain(|k| series.contains_key(k));
        if self.spans.len() != before.0 {
            self.reindex();
        }
        before != (self.spans.len(), self.logs.len())
    }

    fn reindex(&mut self) {
        self.by_trace.clear();
        self.ids = self.spans.iter().map(|s| span_key(s)).collect();
        for (i, span) in self.spans.iter().enumerate() {
            self.by_trace
                .entry(span.trace_id.clone())
                .or_default()
                .push(self.first_seq + i as u64);
        }
    }

    pub(crate) fn push_log(&mut self, mut log: LogRecord) {
        let charge = self
            .intern(&mut log.resource)
            .saturating_add(log_size(&log));
        while self
            .logs
            .must_evict(self.max_logs, charge, self.max_bytes / 4)
        {
            self.logs.pop_front();
        }
        self.logs.push_back(log, charge);
    }

    /// The approximate bytes the stored spans hold (what `max_bytes` bounds).
    pub(crate) fn span_bytes(&self) -> usize {
        self.spans.bytes
    }

    /// Applies one incoming point to the latest-point view; returns the stored point.
    pub(crate) fn push_point(
        &mut self,
        mut point: MetricPoint,
        delta: bool,
    ) -> (&str, &MetricPoint) {
        let _ = self.intern(&mut point.resource);
        let key = series_key(&point);
        if self.series.contains_key(&key) {
            let existing = self.series.get_mut(&key).expect("checked");
            if delta {
                // A delta point no newer than what is accumulated is an exporter's retry of one
                // already counted (deltas of a series arrive in time order).
                if point.time_unix_nanos > existing.time_unix_nanos {
                    accumulate(existing, point);
                }
            } else {
                *existing = point;
            }
        } else {
            if self.series.len() == self.max_points {
                if let Some(oldest) = self.series_order.pop_front() {
                    self.series.remove(&oldest);
                }
            }
            self.series_order.push_back(key.clone());
            self.series.insert(key.clone(), point);
        }
        let (k, v) = self.series.get_key_value(&key).expect("inserted");
        (k.as_str(), v)
    }

    /// Restores a latest point as it was persisted (no accumulation).
    pub(crate) fn restore_point(&mut self, point: MetricPoint) {
        self.push_point(point, false);
    }

    pub(crate) fn clear(&mut self) {
        self.spans.clear();
        self.by_trace.clear();
        self.ids.clear();
        self.resources.clear();
        self.logs.clear();
        self.series.clear();
        self.series_order.clear();
    }

    pub(crate) fn spans(&self) -> impl Iterator<Item = &SpanRecord> {
        self.spans.iter().map(|s| &**s)
    }

    /// The spans of one trace as shared pointers (copy them after releasing the lock).
    pub(crate) fn trace_shared(&self, trace_id: &str) -> Vec<Arc<SpanRecord>> {
        self.by_trace.get(trace_id).map_or_else(Vec::new, |seqs| {
            seqs.iter()
                .filter_map(|seq| self.span_at(*seq).cloned())
                .collect()
        })
    }

    /// Every span as a shared pointer, in arrival order.
    pub(crate) fn spans_shared(&self) -> Vec<Arc<SpanRecord>> {
        self.spans.iter().cloned().collect()
    }

    fn span_at(&self, seq: u64) -> Option<&Arc<SpanRecord>> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.spans.get(i)
    }

    pub(crate) fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// Each trace id with its spans (arrival order), in no particular order.
    pub(crate) fn traces(&self) -> impl Iterator<Item = (&str, TraceSpans<'_>)> {
        self.by_trace
            .iter()
            .map(move |(id, seqs)| (id.as_str(), TraceSpans { state: self, seqs }))
    }

    pub(crate) fn trace(&self, trace_id: &str) -> Option<TraceSpans<'_>> {
        self.by_trace
            .get(trace_id)
            .map(|seqs| TraceSpans { state: self, seqs })
    }

    pub(crate) fn logs(&self) -> impl Iterator<Item = &LogRecord> {
        self.logs.iter()
    }

    pub(crate) fn log_count(&self) -> usize {
        self.logs.len()
    }

    pub(crate) fn latest_points(&self) -> impl Iterator<Item = &MetricPoint> {
        self.series_order.iter().filter_map(|k| self.series.get(k))
    }
}

/// The spans of one trace, borrowed from the state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceSpans<'a> {
    state: &'a MemoryState,
    seqs: &'a [u64],
}

impl<'a> TraceSpans<'a> {
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a SpanRecord> + 'a {
        let state = self.state;
        self.seqs
            .iter()
            .filter_map(move |seq| state.span_at(*seq).map(|s| &**s))
    }
}

/// Bytes a record's bookkeeping costs beyond its text (struct, map nodes, allocation headers).
const RECORD_OVERHEAD: usize = 256;
/// The same for one attribute (a map node, a key and a value).
const ATTRIBUTE_OVERHEAD: usize = 64;

/// The approximate heap a set of attributes holds.
fn attributes_size(attributes: &Attributes) -> usize {
    let mut values = Vec::new();
    let keys = entries_size(attributes, &mut values);
    keys.saturating_add(values_size(values))
}

/// The approximate heap of one value.
fn value_size(value: &AttrValue) -> usize {
    values_size(vec![value])
}

/// The bytes of a map's keys and entries; its values are pushed onto `values` to be walked.
fn entries_size<'a>(map: &'a Attributes, values: &mut Vec<&'a AttrValue>) -> usize {
    map.iter().fold(0usize, |n, (k, v)| {
        values.push(v);
        n.saturating_add(ATTRIBUTE_OVERHEAD + k.len())
    })
}

/// The approximate heap of `values` and everything nested in them, walked with an explicit
/// stack (no recursion, whatever the sender's depth).
fn values_size(mut stack: Vec<&AttrValue>) -> usize {
    let mut size = 0usize;
    while let Some(v) = stack.pop() {
        size = size.saturating_add(match v {
            AttrValue::Str(s) => s.len(),
            AttrValue::Bytes(b) => b.len(),
            AttrValue::Bool(_) | AttrValue::Int(_) | AttrValue::Double(_) => 0,
            AttrValue::Array(items) => {
                stack.extend(items);
                items.len().saturating_mul(ATTRIBUTE_OVERHEAD / 2)
            }
            AttrValue::Map(map) => entries_size(map, &mut stack),
        });
    }
    size
}

/// The approximate heap of a span, without its (shared) resource.
fn span_size(span: &SpanRecord) -> usize {
    let events = span.events.iter().fold(0usize, |n, e| {
        n.saturating_add(RECORD_OVERHEAD / 4 + e.name.len() + attributes_size(&e.attributes))
    });
    let links = span.links.iter().fold(0usize, |n, l| {
        n.saturating_add(RECORD_OVERHEAD / 4 + 48 + attributes_size(&l.attributes))
    });
    [
        RECORD_OVERHEAD,
        span.service_name.len(),
        span.scope_name.len(),
        span.name.len(),
        48 + 16 + 16,
        attributes_size(&span.attributes),
        events,
        links,
    ]
    .into_iter()
    .fold(0usize, usize::saturating_add)
}

/// The approximate heap of a log record, without its (shared) resource.
fn log_size(log: &LogRecord) -> usize {
    [
        RECORD_OVERHEAD,
        log.service_name.len(),
        log.scope_name.len(),
        log.severity_text.len(),
        log.event_name.len(),
        value_size(&log.body),
        attributes_size(&log.attributes),
    ]
    .into_iter()
    .fold(0usize, usize::saturating_add)
}

/// A span's identity: (trace id, span id), from the hex the receivers wrote (16 and 8 bytes).
/// A record built by hand with other text still gets a stable key (a hash of its text).
fn span_key(span: &SpanRecord) -> (u128, u64) {
    match (
        u128::from_str_radix(&span.trace_id, 16),
        u64::from_str_radix(&span.span_id, 16),
    ) {
        (Ok(t), Ok(s)) if span.trace_id.len() == 32 && span.span_id.len() == 16 => (t, s),
        _ => {
            use std::hash::BuildHasher;
            // A fixed hasher: the key must not change while the process runs.
            let hasher =
                std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default(
                );
            (u128::MAX, hasher.hash_one((&span.trace_id, &span.span_id)))
        }
    }
}

/// A log's time, or its observed time when the event time is unknown.
pub(crate) fn log_time(log: &LogRecord) -> u64 {
    if log.time_unix_nanos != 0 {
        log.time_unix_nanos
    } else {
        log.observed_unix_nanos
    }
}

fn accumulate(existing: &mut MetricPoint, point: MetricPoint) {
    existing.time_unix_nanos = point.time_unix_nanos;
    match (&mut existing.value, point.value) {
        (
            PointValue::Histogram {
                count,
                sum,
                bounds,
                bucket_counts,
                min,
                max,
            },
            PointValue::Histogram {
                count: c,
                sum: s,
                bounds: b,
                bucket_counts: bc,
                min: mn,
                max: mx,
            },
        ) if *bounds == b && bucket_counts.len() == bc.len() => {
            // Client numbers: saturating, never a panic or a wrap.
            *count = count.saturating_add(c);
            *sum += s;
            for (acc, add) in bucket_counts.iter_mut().zip(bc) {
                *acc = acc.saturating_add(add);
            }
            *min = match (*min, mn) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            *max = match (*max, mx) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        (PointValue::Sum { value, .. }, PointValue::Sum { value: v, .. }) => *value += v,
        (
            PointValue::ExponentialHistogram {
                count,
                sum,
                min,
                max,
            },
            PointValue::ExponentialHistogram {
                count: c,
                sum: s,
                min: mn,
                max: mx,
            },
        ) => {
            *count = count.saturating_add(c);
            *sum += s;
            *min = match (*min, mn) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            *max = match (*max, mx) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        (slot, other) => *slot = other,
    }
}
