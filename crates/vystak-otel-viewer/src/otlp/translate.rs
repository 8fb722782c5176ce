//! The store's metric points → Prometheus samples, with the per-series state that delta
//! accumulation and zero samples need kept in step with the store's samples.

use std::sync::Mutex;

use super::prometheus::{OtlpPoint, PromConverter};
use crate::model::record::IncomingPoint;
use crate::model::{Labels, Sample};
use crate::storage::Store;

/// One [`PromConverter`] per store (a [`Store::extension`]), whatever the number of receivers
/// writing into it.
struct Translation {
    converter: PromConverter,
    /// The store's samples epoch the converter's state matches: (clears, prune cutoff).
    epoch: (u64, i64),
}

impl Translation {
    /// Restored from the store's samples: after a restart, delta series continue from their
    /// stored totals.
    fn restored(store: &Store) -> Self {
        let mut converter = PromConverter::new();
        for (labels, last) in store.last_samples() {
            converter.restore(labels, last);
        }
        Self {
            converter,
            epoch: store.samples_epoch(),
        }
    }

    /// Follows what happened to the store's samples since the last translation: a clear
    /// starts over, a prune forgets the series it emptied.
    fn follow(&mut self, store: &Store) {
        let (clears, cutoff_ms) = store.samples_epoch();
        if clears != self.epoch.0 {
            *self = Self::restored(store);
            return;
        }
        if cutoff_ms > self.epoch.1 {
            self.converter.forget_before(cutoff_ms);
            self.epoch.1 = cutoff_ms;
        }
    }
}

/// The samples `points` become in `store`'s series (zero samples first, in time order per
/// series).
pub(crate) fn samples(store: &Store, points: &[IncomingPoint]) -> Vec<(Labels, Sample)> {
    let translation = store.extension(|| Mutex::new(Translation::restored(store)));
    let mut translation = translation
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    translation.follow(store);
    let mut out = Vec::new();
    for p in points {
        out.extend(translation.converter.convert(&OtlpPoint {
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
    out
}
