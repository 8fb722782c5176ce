//! The bounded in-memory store behind the receiver, with its query API.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::convert::IncomingPoint;
use crate::record::{MetricPoint, PointValue, SpanRecord};

/// Default maximum number of spans kept.
pub const DEFAULT_MAX_SPANS: usize = 100_000;
/// Default maximum number of metric series kept.
pub const DEFAULT_MAX_POINTS: usize = 100_000;

/// A bounded, shareable store of received spans and metric points.
///
/// Spans are kept in arrival order; when `max_spans` is reached the oldest span is evicted.
/// Metric points are kept as the latest point of each series — a series is (resource
/// `service.name`, scope, metric name, attribute set). A cumulative point replaces the stored one,
/// a delta point is added to it. When `max_points` series exist the oldest series is evicted.
///
/// Cloning is cheap: clones share the same data.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

#[derive(Debug)]
struct State {
    max_spans: usize,
    max_points: usize,
    spans: VecDeque<SpanRecord>,
    series: HashMap<String, MetricPoint>,
    series_order: VecDeque<String>,
    version: u64,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// A store with the default capacities ([`DEFAULT_MAX_SPANS`], [`DEFAULT_MAX_POINTS`]).
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MAX_SPANS, DEFAULT_MAX_POINTS)
    }

    /// A store that keeps at most `max_spans` spans and `max_points` metric series
    /// (each at least 1).
    pub fn with_capacity(max_spans: usize, max_points: usize) -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    max_spans: max_spans.max(1),
                    max_points: max_points.max(1),
                    spans: VecDeque::new(),
                    series: HashMap::new(),
                    series_order: VecDeque::new(),
                    version: 0,
                }),
                changed,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the data inconsistent in a way that matters
        // for a test store; keep serving.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bump(&self, state: &mut State) {
        state.version += 1;
        self.inner.changed.send_replace(state.version);
    }

    /// Adds spans (oldest evicted first when full).
    pub fn insert_spans(&self, spans: impl IntoIterator<Item = SpanRecord>) {
        let mut state = self.state();
        for span in spans {
            if state.spans.len() == state.max_spans {
                state.spans.pop_front();
            }
            state.spans.push_back(span);
        }
        self.bump(&mut state);
    }

    pub(crate) fn insert_points(&self, points: impl IntoIterator<Item = IncomingPoint>) {
        let mut state = self.state();
        for IncomingPoint { point, delta } in points {
            let key = format!(
                "{}\u{0}{}\u{0}{}\u{0}{:?}",
                point.service_name, point.scope_name, point.metric_name, point.attributes
            );
            if let Some(existing) = state.series.get_mut(&key) {
                if delta {
                    accumulate(existing, point);
                } else {
                    *existing = point;
                }
                continue;
            }
            if state.series.len() == state.max_points {
                if let Some(oldest) = state.series_order.pop_front() {
                    state.series.remove(&oldest);
                }
            }
            state.series_order.push_back(key.clone());
            state.series.insert(key, point);
        }
        self.bump(&mut state);
    }

    /// Every stored span, in arrival order.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.state().spans.iter().cloned().collect()
    }

    /// Number of stored spans.
    pub fn span_count(&self) -> usize {
        self.state().spans.len()
    }

    /// Distinct trace ids, in the order their first span arrived.
    pub fn trace_ids(&self) -> Vec<String> {
        let state = self.state();
        let mut seen = std::collections::HashSet::new();
        state
            .spans
            .iter()
            .filter(|s| seen.insert(s.trace_id.as_str()))
            .map(|s| s.trace_id.clone())
            .collect()
    }

    /// The spans of one trace, in arrival order.
    pub fn trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        self.filtered(|s| s.trace_id == trace_id)
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
        self.state()
            .spans
            .iter()
            .filter(|s| f(s))
            .cloned()
            .collect()
    }

    /// The latest point of every series of a metric.
    pub fn metric_points(&self, metric_name: &str) -> Vec<MetricPoint> {
        let state = self.state();
        state
            .series_order
            .iter()
            .filter_map(|k| state.series.get(k))
            .filter(|p| p.metric_name == metric_name)
            .cloned()
            .collect()
    }

    /// The latest point of every series of every metric.
    pub fn all_metric_points(&self) -> Vec<MetricPoint> {
        let state = self.state();
        state
            .series_order
            .iter()
            .filter_map(|k| state.series.get(k))
            .cloned()
            .collect()
    }

    /// Removes everything.
    pub fn clear(&self) {
        let mut state = self.state();
        state.spans.clear();
        state.series.clear();
        state.series_order.clear();
        self.bump(&mut state);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::record::{AttrValue, SpanKind, SpanStatus};

    fn span(trace: &str, id: &str, parent: Option<&str>) -> SpanRecord {
        SpanRecord {
            service_name: "svc".into(),
            resource: BTreeMap::new(),
            scope_name: "scope".into(),
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: format!("span-{id}"),
            kind: SpanKind::Internal,
            status: SpanStatus::Unset,
            start_unix_nanos: 0,
            end_unix_nanos: 1,
            attributes: BTreeMap::new(),
            events: vec![],
            links: vec![],
        }
    }

    fn hist(sum: f64, delta: bool) -> IncomingPoint {
        IncomingPoint {
            point: MetricPoint {
                service_name: "svc".into(),
                resource: BTreeMap::new(),
                scope_name: "scope".into(),
                metric_name: "m".into(),
                unit: "s".into(),
                description: String::new(),
                attributes: BTreeMap::from([("k".to_owned(), AttrValue::Str("v".into()))]),
                value: PointValue::Histogram {
                    count: 1,
                    sum,
                    bounds: vec![1.0],
                    bucket_counts: vec![1, 0],
                    min: Some(sum),
                    max: Some(sum),
                },
                time_unix_nanos: 1,
            },
            delta,
        }
    }

    #[test]
    fn oldest_span_is_evicted_first() {
        let store = Store::with_capacity(2, 10);
        store.insert_spans([span("t", "1", None), span("t", "2", Some("1"))]);
        store.insert_spans([span("t", "3", Some("1"))]);
        let ids: Vec<_> = store.spans().into_iter().map(|s| s.span_id).collect();
        assert_eq!(ids, ["2", "3"]);
    }

    #[test]
    fn queries_by_trace_name_and_parent() {
        let store = Store::new();
        store.insert_spans([
            span("a", "1", None),
            span("b", "2", None),
            span("a", "3", Some("1")),
        ]);
        assert_eq!(store.trace_ids(), ["a", "b"]);
        assert_eq!(store.trace("a").len(), 2);
        assert_eq!(store.spans_named("span-3")[0].span_id, "3");
        assert_eq!(store.children_of("1")[0].span_id, "3");
        assert_eq!(store.spans_by_service("svc").len(), 3);
        store.clear();
        assert_eq!(store.span_count(), 0);
    }

    #[test]
    fn cumulative_points_replace_and_delta_points_accumulate() {
        let store = Store::new();
        store.insert_points([hist(2.0, false)]);
        store.insert_points([hist(3.0, false)]);
        assert_eq!(store.metric_points("m")[0].value_sum(), 3.0);

        let store = Store::new();
        store.insert_points([hist(2.0, true)]);
        store.insert_points([hist(3.0, true)]);
        let points = store.metric_points("m");
        assert_eq!(points.len(), 1);
        match &points[0].value {
            PointValue::Histogram {
                count,
                sum,
                bucket_counts,
                min,
                max,
                ..
            } => {
                assert_eq!((*count, *sum), (2, 5.0));
                assert_eq!(bucket_counts, &[2, 0]);
                assert_eq!((*min, *max), (Some(2.0), Some(3.0)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn oldest_series_is_evicted_first() {
        let store = Store::with_capacity(10, 1);
        store.insert_points([hist(1.0, false)]);
        let mut other = hist(1.0, false);
        other.point.metric_name = "n".into();
        store.insert_points([other]);
        assert!(store.metric_points("m").is_empty());
        assert_eq!(store.metric_points("n").len(), 1);
    }

    #[tokio::test]
    async fn wait_for_spans_wakes_on_insert_and_times_out_with_partial() {
        let store = Store::new();
        let writer = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer.insert_spans([span("t", "1", None)]);
        });
        assert_eq!(
            store.wait_for_spans(1, Duration::from_secs(10)).await.len(),
            1
        );
        let partial = store.wait_for_spans(5, Duration::from_millis(50)).await;
        assert_eq!(partial.len(), 1);
    }
}
