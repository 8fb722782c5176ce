//! The in-memory working set: spans (with a per-trace index), logs and the latest point of each
//! metric series. The SQLite store keeps the same set in memory and writes it through to its file.

use std::collections::{HashMap, VecDeque};

use crate::record::{LogRecord, MetricPoint, PointValue, SpanRecord};

/// Bounded spans, logs and latest metric points. Not synchronised; [`super::Store`] wraps it.
#[derive(Debug)]
pub(crate) struct MemoryState {
    pub(crate) max_spans: usize,
    pub(crate) max_points: usize,
    pub(crate) max_logs: usize,
    /// Spans in arrival order; `spans[i]` has sequence number `first_seq + i`.
    spans: VecDeque<SpanRecord>,
    first_seq: u64,
    /// trace id → sequence numbers of its spans, ascending.
    by_trace: HashMap<String, Vec<u64>>,
    logs: VecDeque<LogRecord>,
    series: HashMap<String, MetricPoint>,
    series_order: VecDeque<String>,
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
            spans: VecDeque::new(),
            first_seq: 0,
            by_trace: HashMap::new(),
            logs: VecDeque::new(),
            series: HashMap::new(),
            series_order: VecDeque::new(),
        }
    }

    pub(crate) fn push_span(&mut self, span: SpanRecord) {
        if self.spans.len() == self.max_spans {
            self.pop_span();
        }
        let seq = self.first_seq + self.spans.len() as u64;
        self.by_trace
            .entry(span.trace_id.clone())
            .or_default()
            .push(seq);
        self.spans.push_back(span);
    }

    fn pop_span(&mut self) {
        let Some(old) = self.spans.pop_front() else {
            return;
        };
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
        for (i, span) in self.spans.iter().enumerate() {
            self.by_trace
                .entry(span.trace_id.clone())
                .or_default()
                .push(self.first_seq + i as u64);
        }
    }

    pub(crate) fn push_log(&mut self, log: LogRecord) {
        if self.logs.len() == self.max_logs {
            self.logs.pop_front();
        }
        self.logs.push_back(log);
    }

    /// Applies one incoming point to the latest-point view; returns the stored point.
    pub(crate) fn push_point(&mut self, point: MetricPoint, delta: bool) -> (&str, &MetricPoint) {
        let key = series_key(&point);
        if self.series.contains_key(&key) {
            let existing = self.series.get_mut(&key).expect("checked");
            if delta {
                accumulate(existing, point);
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
        self.logs.clear();
        self.series.clear();
        self.series_order.clear();
    }

    pub(crate) fn spans(&self) -> impl Iterator<Item = &SpanRecord> {
        self.spans.iter()
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
            .filter_map(move |seq| state.spans.get((seq - state.first_seq) as usize))
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
            *count += c;
            *sum += s;
            for (acc, add) in bucket_counts.iter_mut().zip(bc) {
                *acc += add;
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
        (slot, other) => *slot = other,
    }
}
