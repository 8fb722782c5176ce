//! [`BoundPoints`]: a histogram's bound handles (`Histogram::bind`), one per distinct attribute
//! set, so the SDK resolves a point's attributes once, when it is bound, instead of sorting and
//! hashing them on every measurement.
//!
//! A handle is made on a point's first measurement and found again by a hash of the values and
//! a comparison with the attributes. At most [`MAX_BOUND`] are made per histogram; past it a
//! point is recorded unbound, as before (the SDK's cardinality limit then applies as usual).
//! Use it only with a meter provider known to record bound instruments
//! ([`Resolved::bound_instruments`](crate::providers::Resolved::bound_instruments)): an SDK
//! without `experimental_metrics_bound_instruments` silently drops bound measurements.
//!
//! ```
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry::KeyValue;
//! use vystak_otel_core::bound::BoundPoints;
//!
//! let meter = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build().meter("doc");
//! let duration = meter.f64_histogram("http.server.request.duration").build();
//! let bound = BoundPoints::default();
//! let point = [KeyValue::new("http.request.method", "GET"), KeyValue::new("http.route", "/a2a")];
//! bound.record(&duration, 0.012, &point); // binds
//! bound.record(&duration, 0.009, &point); // the bound handle
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use opentelemetry::metrics::{BoundHistogram, Histogram};
use opentelemetry::{KeyValue, Value};

/// The most points one [`BoundPoints`] binds.
pub const MAX_BOUND: usize = 1024;

type Points<T> =
    HashMap<u64, Vec<(Box<[KeyValue]>, BoundHistogram<T>)>, foldhash::fast::FixedState>;

/// The bound points of one histogram.
pub struct BoundPoints<T> {
    points: RwLock<Points<T>>,
    count: AtomicUsize,
}

impl<T> Default for BoundPoints<T> {
    fn default() -> Self {
        Self {
            points: RwLock::default(),
            count: AtomicUsize::new(0),
        }
    }
}

impl<T> std::fmt::Debug for BoundPoints<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundPoints")
            .field("points", &self.count.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T: Copy> BoundPoints<T> {
    /// Records `value` for the point `attrs` of `histogram`: through its bound handle, made now
    /// if this is the point's first measurement and the bound allows. Always pass the same
    /// `histogram`.
    #[inline]
    pub fn record(&self, histogram: &Histogram<T>, value: T, attrs: &[KeyValue]) {
        let hash = hash_point(attrs);
        {
            let points = self.points.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(bound) = find(&points, hash, attrs) {
                bound.record(value);
                return;
            }
        }
        // Past the bound: unbound, without taking the write lock.
        if self.count.load(Ordering::Relaxed) >= MAX_BOUND {
            histogram.record(value, attrs);
            return;
        }
        self.first(histogram, value, attrs, hash);
    }

    /// A point's first measurement: binds it (or, if the bound was reached meanwhile, records it
    /// unbound). An entry is added only for a point that is bound.
    #[cold]
    fn first(&self, histogram: &Histogram<T>, value: T, attrs: &[KeyValue], hash: u64) {
        let mut points = self.points.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(bound) = find(&points, hash, attrs) {
            // Bound by another thread meanwhile.
            bound.record(value);
            return;
        }
        if self.count.load(Ordering::Relaxed) >= MAX_BOUND {
            drop(points);
            histogram.record(value, attrs);
            return;
        }
        let bound = histogram.bind(attrs);
        bound.record(value);
        points.entry(hash).or_default().push((attrs.into(), bound));
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// The bound handle of the point `attrs` (its values hash to `hash`).
#[inline]
fn find<'a, T>(
    points: &'a Points<T>,
    hash: u64,
    attrs: &[KeyValue],
) -> Option<&'a BoundHistogram<T>> {
    points
        .get(&hash)?
        .iter()
        .find(|(a, _)| same(a, attrs))
        .map(|(_, bound)| bound)
}

/// A hash of the point's values (the keys come in one fixed order per layer).
#[inline]
fn hash_point(attrs: &[KeyValue]) -> u64 {
    let mut hasher = foldhash::fast::FixedState::default().build_hasher();
    for kv in attrs {
        match &kv.value {
            Value::String(s) => s.as_str().hash(&mut hasher),
            Value::I64(i) => i.hash(&mut hasher),
            Value::Bool(b) => b.hash(&mut hasher),
            Value::F64(f) => f.to_bits().hash(&mut hasher),
            _ => 0u8.hash(&mut hasher),
        }
    }
    hasher.finish()
}

/// Equal strings; the same static string (keys, known methods, interned routes) without
/// reading it.
#[inline(always)]
fn same_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

/// The same attributes: keys and values equal by content (a static and an owned string of the
/// same text are the same attribute to the SDK).
#[inline]
fn same(a: &[KeyValue], b: &[KeyValue]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            same_str(x.key.as_str(), y.key.as_str())
                && match (&x.value, &y.value) {
                    (Value::String(p), Value::String(q)) => same_str(p.as_str(), q.as_str()),
                    (Value::I64(p), Value::I64(q)) => p == q,
                    (Value::Bool(p), Value::Bool(q)) => p == q,
                    (Value::F64(p), Value::F64(q)) => p.to_bits() == q.to_bits(),
                    (p, q) => p == q,
                }
        })
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::*;

    /// Past `MAX_BOUND` distinct points, points are recorded unbound: none is lost.
    #[test]
    fn past_the_bound_points_are_recorded_unbound() {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let histogram = provider.meter("t").f64_histogram("d").build();
        let bound = BoundPoints::default();
        let points = MAX_BOUND + 50;
        for round in 0..2 {
            for i in 0..points {
                let attrs = [
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("http.route", format!("/r/{i}")),
                ];
                bound.record(&histogram, f64::from(round), &attrs);
            }
        }
        assert_eq!(bound.count.load(Ordering::Relaxed), MAX_BOUND);
        let hashes = bound.points.read().unwrap().len();
        assert!(
            hashes <= MAX_BOUND,
            "{hashes} hash entries for {MAX_BOUND} bound points"
        );
        provider.force_flush().unwrap();
        let exported = exporter.get_finished_metrics().unwrap();
        let last = exported.last().unwrap();
        let metric = last
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .next()
            .unwrap();
        let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
            panic!("not a histogram");
        };
        assert_eq!(h.data_points().count(), points, "one series per point");
        assert!(
            h.data_points().all(|p| p.count() == 2),
            "every record counted"
        );
    }

    #[test]
    fn a_static_and_an_owned_string_are_the_same_point() {
        let a = [KeyValue::new("k", "v")];
        let b = [KeyValue::new("k", String::from("v"))];
        assert!(same(&a, &b));
        assert_eq!(hash_point(&a), hash_point(&b));
        assert!(!same(&a, &[KeyValue::new("k", "w")]));
    }
}
