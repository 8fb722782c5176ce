//! [`MemorySeries`]: a bounded in-memory [`SeriesSource`], indexed by metric name.

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::{SeriesSource, TooManySamples};
use crate::model::{LabelMatcher, Labels, MatcherSet, Sample, Series};

/// Bounded in-memory sample storage.
///
/// Series are indexed by metric name, so a selector with `__name__="x"` (every selector that
/// names its metric) reads only the series of `x`; the time window is found by binary search.
/// Appends keep time order: a sample with the timestamp of an existing one replaces it, an older
/// one is inserted in order.
///
/// Bounds ([`MemorySeries::with_limits`]): at most `max_series` series (inserting a new one
/// into a full store evicts the series whose newest sample is oldest — 1 % of the capacity at
/// a time), and no sample older than
/// `max_age_ms` before the newest sample stored.
///
/// ```
/// use vystak_otel_viewer::query::promql::{Labels, MemorySeries, Sample, SeriesSource, LabelMatcher, MatchOp};
/// let mut store = MemorySeries::with_limits(100, 3_600_000);
/// let labels = Labels::from([("__name__".to_string(), "up".to_string())]);
/// store.insert(labels.clone(), Sample { t_ms: 2_000, v: 1.0 });
/// store.insert(labels.clone(), Sample { t_ms: 1_000, v: 1.0 });
/// let found = store.select(&[LabelMatcher::new("__name__", MatchOp::Equal, "up")], 0, 1_500);
/// assert_eq!(found[0].samples, vec![Sample { t_ms: 1_000, v: 1.0 }]);
/// ```
#[derive(Debug)]
pub struct MemorySeries {
    /// metric name → (labels → samples).
    by_name: HashMap<String, HashMap<Labels, VecDeque<Sample>>>,
    series: usize,
    max_series: usize,
    max_age_ms: i64,
    newest_ms: i64,
    inserts_since_prune: usize,
}

impl Default for MemorySeries {
    fn default() -> Self {
        Self::new()
    }
}

/// Inserts since the last full prune after which the next insert prunes every series.
const PRUNE_EVERY: usize = 4_096;

impl MemorySeries {
    /// An unbounded store.
    pub fn new() -> Self {
        Self::with_limits(usize::MAX, i64::MAX)
    }

    /// A store with at most `max_series` series and samples no older than `max_age_ms` before
    /// the newest sample.
    pub fn with_limits(max_series: usize, max_age_ms: i64) -> Self {
        Self {
            by_name: HashMap::new(),
            series: 0,
            max_series: max_series.max(1),
            max_age_ms,
            newest_ms: i64::MIN,
            inserts_since_prune: 0,
        }
    }

    fn cutoff(&self) -> i64 {
        self.newest_ms.saturating_sub(self.max_age_ms)
    }

    /// Stores one sample of the series `labels` (which should include `__name__`).
    pub fn insert(&mut self, labels: Labels, sample: Sample) {
        self.newest_ms = self.newest_ms.max(sample.t_ms);
        let cutoff = self.cutoff();
        if sample.t_ms < cutoff {
            return;
        }
        let name = labels.get("__name__").cloned().unwrap_or_default();
        let exists = self
            .by_name
            .get(&name)
            .is_some_and(|m| m.contains_key(&labels));
        if !exists {
            if self.series >= self.max_series {
                self.evict_oldest();
            }
            self.series = self.series.saturating_add(1);
        }
        let samples = self
            .by_name
            .entry(name)
            .or_default()
            .entry(labels)
            .or_default();
        match samples.back() {
            None => samples.push_back(sample),
            Some(last) if last.t_ms < sample.t_ms => samples.push_back(sample),
            Some(last) if last.t_ms == sample.t_ms => {
                *samples.back_mut().expect("non-empty") = sample
            }
            Some(_) => {
                let i = samples.partition_point(|s| s.t_ms < sample.t_ms);
                if samples[i].t_ms == sample.t_ms {
                    samples[i] = sample;
                } else {
                    samples.insert(i, sample);
                }
            }
        }
        while samples.front().is_some_and(|s| s.t_ms < cutoff) {
            samples.pop_front();
        }
        self.inserts_since_prune = self.inserts_since_prune.saturating_add(1);
        if self.inserts_since_prune >= PRUNE_EVERY && self.max_age_ms != i64::MAX {
            self.prune_before(cutoff);
        }
    }

    /// Drops every sample older than `t_ms`, and the series left empty.
    pub fn prune_before(&mut self, t_ms: i64) {
        self.inserts_since_prune = 0;
        let mut removed: usize = 0;
        self.by_name.retain(|_, series| {
            series.retain(|_, samples| {
                while samples.front().is_some_and(|s| s.t_ms < t_ms) {
                    samples.pop_front();
                }
                let keep = !samples.is_empty();
                removed = removed.saturating_add(usize::from(!keep));
                keep
            });
            !series.is_empty()
        });
        self.series = self.series.saturating_sub(removed);
    }

    /// Evicts the series whose newest sample is oldest: 1 % of `max_series` at once (at least
    /// one), so a full store under churn scans its series once per hundredth of its capacity.
    fn evict_oldest(&mut self) {
        let batch = (self.max_series / 100).clamp(1, self.series.max(1));
        let mut all: Vec<(i64, &String, &Labels)> = self
            .by_name
            .iter()
            .flat_map(|(name, m)| {
                m.iter()
                    .map(move |(l, s)| (s.back().map_or(i64::MIN, |s| s.t_ms), name, l))
            })
            .collect();
        if all.is_empty() {
            return;
        }
        let batch = batch.min(all.len());
        if batch < all.len() {
            all.select_nth_unstable_by_key(batch.saturating_sub(1), |e| e.0);
        }
        let victims: Vec<(String, Labels)> = all[..batch]
            .iter()
            .map(|(_, name, l)| ((*name).clone(), (*l).clone()))
            .collect();
        for (name, labels) in victims {
            if let Some(m) = self.by_name.get_mut(&name) {
                if m.remove(&labels).is_some() {
                    self.series = self.series.saturating_sub(1);
                }
                if m.is_empty() {
                    self.by_name.remove(&name);
                }
            }
        }
    }

    /// Number of series stored.
    pub fn series_count(&self) -> usize {
        self.series
    }

    /// Number of samples stored.
    pub fn sample_count(&self) -> usize {
        self.by_name
            .values()
            .flat_map(|m| m.values())
            .map(VecDeque::len)
            .sum()
    }

    /// Every label name in use, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for labels in self.by_name.values().flat_map(|m| m.keys()) {
            names.extend(labels.keys().map(String::as_str));
        }
        names.into_iter().map(str::to_string).collect()
    }

    /// Every value of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        if name == "__name__" {
            let mut names: Vec<String> = self.by_name.keys().cloned().collect();
            names.sort();
            return names;
        }
        let mut values = BTreeSet::new();
        for labels in self.by_name.values().flat_map(|m| m.keys()) {
            if let Some(v) = labels.get(name) {
                values.insert(v.as_str());
            }
        }
        values.into_iter().map(str::to_string).collect()
    }

    /// The last sample of every series (to restore a [`PromConverter`](crate::query::promql::PromConverter)).
    pub fn last_samples(&self) -> Vec<(Labels, Sample)> {
        self.by_name
            .values()
            .flat_map(|m| m.iter())
            .filter_map(|(l, s)| s.back().map(|s| (l.clone(), *s)))
            .collect()
    }
}

/// The index range of the samples in `[start_ms, end_ms]` (empty when `lo >= hi`).
fn window(samples: &VecDeque<Sample>, start_ms: i64, end_ms: i64) -> (usize, usize) {
    let lo = samples.partition_point(|s| s.t_ms < start_ms);
    let hi = samples.partition_point(|s| s.t_ms <= end_ms);
    (lo, hi)
}

impl SeriesSource for MemorySeries {
    fn select_limited(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, TooManySamples> {
        let Ok(set) = MatcherSet::new(matchers) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut copied: usize = 0;
        let mut scan = |m: &HashMap<Labels, VecDeque<Sample>>| {
            for (labels, samples) in m {
                if !set.matches(labels) {
                    continue;
                }
                let (lo, hi) = window(samples, start_ms, end_ms);
                if lo >= hi {
                    continue;
                }
                copied = copied.saturating_add(hi.saturating_sub(lo));
                if copied > max_samples {
                    return Err(TooManySamples);
                }
                out.push(Series {
                    labels: labels.clone(),
                    samples: samples.range(lo..hi).copied().collect(),
                });
            }
            Ok(())
        };
        match set.exact_name() {
            Some(name) => {
                if let Some(m) = self.by_name.get(name) {
                    scan(m)?;
                }
            }
            None => {
                for (name, m) in &self.by_name {
                    if set.matches_name(name) {
                        scan(m)?;
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MatchOp;

    fn l(name: &str, job: &str) -> Labels {
        Labels::from([
            ("__name__".to_string(), name.to_string()),
            ("job".to_string(), job.to_string()),
        ])
    }

    fn s(t_ms: i64, v: f64) -> Sample {
        Sample { t_ms, v }
    }

    #[test]
    fn order_replace_and_window() {
        let mut m = MemorySeries::new();
        for (t, v) in [(10, 1.0), (30, 3.0), (20, 2.0), (30, 4.0), (5, 0.5)] {
            m.insert(l("a", "x"), s(t, v));
        }
        let all = m.select(
            &[LabelMatcher::new("__name__", MatchOp::Equal, "a")],
            i64::MIN,
            i64::MAX,
        );
        assert_eq!(
            all[0].samples,
            vec![s(5, 0.5), s(10, 1.0), s(20, 2.0), s(30, 4.0)]
        );
        let w = m.select(&[LabelMatcher::new("job", MatchOp::Regex, "x|y")], 10, 20);
        assert_eq!(w[0].samples, vec![s(10, 1.0), s(20, 2.0)]);
        assert!(m
            .select(&[LabelMatcher::new("job", MatchOp::Equal, "y")], 0, 100)
            .is_empty());
        // Series with no sample in the window are omitted.
        assert!(m
            .select(&[LabelMatcher::new("job", MatchOp::Equal, "x")], 31, 100)
            .is_empty());
    }

    #[test]
    fn a_full_store_evicts_one_percent_oldest_first() {
        let mut m = MemorySeries::with_limits(200, i64::MAX);
        for i in 0..200 {
            m.insert(l("a", &i.to_string()), s(i, 1.0));
        }
        m.insert(l("a", "new"), s(1_000, 1.0));
        // 200 / 100 = 2 evicted (jobs 0 and 1, the oldest), then the new one: 199.
        assert_eq!(m.series_count(), 199);
        let jobs = m.label_values("job");
        assert!(!jobs.contains(&"0".to_string()) && !jobs.contains(&"1".to_string()));
        assert!(jobs.contains(&"2".to_string()) && jobs.contains(&"new".to_string()));
    }

    #[test]
    fn limits_evict_oldest_series_and_old_samples() {
        let mut m = MemorySeries::with_limits(2, 100);
        m.insert(l("a", "1"), s(10, 1.0));
        m.insert(l("a", "2"), s(20, 1.0));
        m.insert(l("b", "3"), s(30, 1.0)); // evicts a{job=1}, the oldest
        assert_eq!(m.series_count(), 2);
        assert_eq!(m.label_values("job"), vec!["2", "3"]);
        assert_eq!(m.label_values("__name__"), vec!["a", "b"]);
        assert_eq!(m.label_names(), vec!["__name__", "job"]);
        m.insert(l("b", "3"), s(200, 1.0)); // cutoff 200 - 100 = 100: b's sample at 30 goes
        assert_eq!(m.sample_count(), 2); // a{2}@20 stays until a prune, b@200
        m.prune_before(100);
        assert_eq!(m.series_count(), 1);
        m.insert(l("b", "3"), s(50, 1.0)); // older than the cutoff: dropped
        assert_eq!(m.sample_count(), 1);
    }
}
