//! Adapter between the store and the PromQL engine: the engine's [`PromConverter`] turns every
//! stored data point into samples, kept in the engine's [`MemorySeries`].

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::convert::IncomingPoint;
use crate::query::promql::{
    LabelMatcher, Labels, MemorySeries, OtlpPoint, PromConverter, Sample, Series, SeriesSource,
    TooManySamples,
};

/// Most series kept for PromQL.
pub(crate) const MAX_SERIES: usize = 100_000;
/// Sample age kept when the store has no retention age: 7 days.
pub(crate) const DEFAULT_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;

/// Prometheus samples derived from every exported data point.
#[derive(Debug)]
pub(crate) struct Samples {
    converter: Mutex<PromConverter>,
    series: RwLock<MemorySeries>,
    max_age_ms: i64,
}

impl Samples {
    pub(crate) fn new(max_age_ms: Option<i64>) -> Self {
        let max_age_ms = max_age_ms.unwrap_or(DEFAULT_MAX_AGE_MS);
        Self {
            converter: Mutex::new(PromConverter::new()),
            series: RwLock::new(MemorySeries::with_limits(MAX_SERIES, max_age_ms)),
            max_age_ms,
        }
    }

    fn converter(&self) -> MutexGuard<'_, PromConverter> {
        self.converter.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, MemorySeries> {
        self.series.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, MemorySeries> {
        self.series.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Converts and stores every point; returns the new samples (for the SQLite file).
    pub(crate) fn ingest(&self, points: &[IncomingPoint]) -> Vec<(Labels, Sample)> {
        let mut samples = Vec::new();
        {
            let mut converter = self.converter();
            for p in points {
                samples.extend(converter.convert(&OtlpPoint {
                    resource: &p.point.resource,
                    metric_name: &p.point.metric_name,
                    unit: &p.point.unit,
                    value: &p.point.value,
                    delta: p.delta,
                    attributes: &p.point.attributes,
                    start_unix_nanos: p.start_unix_nanos,
                    time_unix_nanos: p.point.time_unix_nanos,
                }));
            }
        }
        let mut series = self.write();
        for (labels, sample) in &samples {
            series.insert(labels.clone(), *sample);
        }
        samples
    }

    /// Adds samples loaded from the SQLite file, then restores the converter's per-series state
    /// (delta totals, last times) from the last sample of every series.
    pub(crate) fn load(&self, samples: Vec<(Labels, Sample)>) {
        let mut series = self.write();
        for (labels, sample) in samples {
            series.insert(labels, sample);
        }
        let mut converter = self.converter();
        for (labels, last) in series.last_samples() {
            converter.restore(labels, last);
        }
    }

    pub(crate) fn prune_before(&self, cutoff_ms: i64) {
        self.write().prune_before(cutoff_ms);
        self.converter().forget_before(cutoff_ms);
    }

    pub(crate) fn clear(&self) {
        *self.converter() = PromConverter::new();
        *self.write() = MemorySeries::with_limits(MAX_SERIES, self.max_age_ms);
    }

    pub(crate) fn sample_count(&self) -> usize {
        self.read().sample_count()
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        self.read().label_names()
    }

    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        self.read().label_values(name)
    }

    pub(crate) fn select(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, TooManySamples> {
        self.read()
            .select_limited(matchers, start_ms, end_ms, max_samples)
    }
}
