//! The store's Prometheus samples: a [`MemorySeries`] behind a lock, plus what the translation
//! above the store needs to keep its per-series state in step with it (the samples of the last
//! run, the prune cutoff, the number of clears).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{MemorySeries, SeriesSource, TooManySamples};
use crate::model::{LabelMatcher, Labels, Sample, Series};

/// Most series kept for PromQL.
pub(crate) const MAX_SERIES: usize = 100_000;
/// Sample age kept when the store has no retention age: 7 days.
pub(crate) const DEFAULT_MAX_AGE_MS: i64 = 7 * 24 * 3600 * 1000;

/// Prometheus samples derived from every exported data point.
#[derive(Debug)]
pub(crate) struct Samples {
    series: RwLock<MemorySeries>,
    max_age_ms: i64,
    /// The last prune's cutoff (ms): samples before it are gone.
    cutoff_ms: AtomicI64,
    /// How many times the samples were cleared.
    clears: AtomicU64,
}

impl Samples {
    pub(crate) fn new(max_age_ms: Option<i64>) -> Self {
        let max_age_ms = max_age_ms.unwrap_or(DEFAULT_MAX_AGE_MS);
        Self {
            series: RwLock::new(MemorySeries::with_limits(MAX_SERIES, max_age_ms)),
            max_age_ms,
            cutoff_ms: AtomicI64::new(i64::MIN),
            clears: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, MemorySeries> {
        self.series.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, MemorySeries> {
        self.series.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores translated samples (new ones, or loaded from the SQLite file).
    pub(crate) fn insert(&self, samples: impl IntoIterator<Item = (Labels, Sample)>) {
        let mut series = self.write();
        for (labels, sample) in samples {
            series.insert(labels, sample);
        }
    }

    /// The newest sample of every series (what a translation restores its totals from).
    pub(crate) fn last_samples(&self) -> Vec<(Labels, Sample)> {
        self.read().last_samples()
    }

    /// (number of clears, last prune cutoff in ms).
    pub(crate) fn epoch(&self) -> (u64, i64) {
        (
            self.clears.load(Ordering::Acquire),
            self.cutoff_ms.load(Ordering::Acquire),
        )
    }

    pub(crate) fn prune_before(&self, cutoff_ms: i64) {
        self.write().prune_before(cutoff_ms);
        self.cutoff_ms.fetch_max(cutoff_ms, Ordering::AcqRel);
    }

    pub(crate) fn clear(&self) {
        *self.write() = MemorySeries::with_limits(MAX_SERIES, self.max_age_ms);
        self.clears.fetch_add(1, Ordering::AcqRel);
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
