//! Adapter between the store and the PromQL engine's converter and in-memory series.

use std::sync::Mutex;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use crate::query::promql::{LabelMatcher, Labels, Sample, Series};

/// Prometheus samples derived from every exported data point.
#[derive(Debug, Default)]
pub(crate) struct Samples {
    inner: Mutex<()>,
}

impl Samples {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Converts and stores every data point of `request`; returns the new samples.
    pub(crate) fn ingest(&self, _request: &ExportMetricsServiceRequest) -> Vec<(Labels, Sample)> {
        let _guard = self.inner.lock();
        Vec::new()
    }

    pub(crate) fn insert(&self, _labels: Labels, _sample: Sample) {}

    /// The converter's state (delta accumulators), serialised for the SQLite file.
    pub(crate) fn state(&self) -> Option<String> {
        None
    }

    pub(crate) fn restore(&self, _state: &str) {}

    pub(crate) fn prune_before(&self, _cutoff_ms: i64) {}

    pub(crate) fn clear(&self) {}

    pub(crate) fn sample_count(&self) -> usize {
        0
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        Vec::new()
    }

    pub(crate) fn label_values(&self, _name: &str) -> Vec<String> {
        Vec::new()
    }

    pub(crate) fn select(
        &self,
        _matchers: &[LabelMatcher],
        _start_ms: i64,
        _end_ms: i64,
    ) -> Vec<Series> {
        Vec::new()
    }
}
