//! The rate family over a window of float samples, ported from Prometheus 3.x
//! (`promql/functions.go` `extrapolatedRate` and `instantValue`).

use super::Sample;

/// Prometheus' `extrapolatedRate` for float samples (Prometheus 3.x): the increase between the
/// first and last sample of the window, corrected for counter resets, extrapolated towards the
/// window boundaries — all the way when the gap is under 1.1 × the average sample interval,
/// else by half an interval, and (for counters) never below the counter's zero point.
/// `None` with fewer than two samples.
// Ports of Prometheus' float arithmetic: f64 never panics (NaN and ±Inf propagate as in Go),
// and every index below is guarded by the length checks at the top.
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn extrapolated_rate(
    w: &[Sample],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (first, last) = (w[0], w[w.len() - 1]);
    let mut result = last.v - first.v;
    if is_counter {
        for pair in w.windows(2) {
            if pair[1].v < pair[0].v {
                result += pair[0].v;
            }
        }
    }
    // In f64: a window as long as the timestamps allow (`x[300000000y]`) must not overflow.
    let secs = |from: i64, to: i64| (to as f64 - from as f64) / 1000.0;
    let mut duration_to_start = secs(range_start, first.t_ms);
    let mut duration_to_end = secs(last.t_ms, range_end);
    let sampled_interval = secs(first.t_ms, last.t_ms);
    let average_between_samples = sampled_interval / (w.len() - 1) as f64;
    let threshold = average_between_samples * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average_between_samples / 2.0;
    }
    if is_counter {
        let mut duration_to_zero = duration_to_start;
        if result > 0.0 && first.v >= 0.0 {
            duration_to_zero = sampled_interval * (first.v / result);
        }
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average_between_samples / 2.0;
    }
    let mut factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// Prometheus' `instantValue`: the difference of the last two samples (`idelta`), or with
/// `is_rate` the per-second rate between them, after a counter reset the last value (`irate`).
// As above: f64 arithmetic, guarded indices.
#[allow(clippy::arithmetic_side_effects)]
pub(crate) fn instant_value(w: &[Sample], is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (prev, last) = (w[w.len() - 2], w[w.len() - 1]);
    if last.t_ms == prev.t_ms {
        return None;
    }
    let mut v = last.v;
    // A gauge, or a counter without a reset (or with NaN): the difference.
    if !is_rate || last.v >= prev.v || last.v.is_nan() || prev.v.is_nan() {
        v = last.v - prev.v;
    }
    if is_rate {
        v /= (last.t_ms as f64 - prev.t_ms as f64) / 1000.0;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_s: i64, v: f64) -> Sample {
        Sample {
            t_ms: t_s * 1000,
            v,
        }
    }

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // Window (0 s, 60 s], samples every 10 s from 10 s to 60 s: 0,10,…,50.
        // increase = 50; sampled 50 s, avg 10 s, threshold 11 s.
        // to start = 10 s < 11 → keep 10; zero point: 50 · (0/50) = 0 < 10 → start 0.
        // to end = 0. factor = (50 + 0 + 0)/50 = 1 → increase 50, rate 50/60.
        let w: Vec<Sample> = (1..=6).map(|i| s(i * 10, ((i - 1) * 10) as f64)).collect();
        assert_eq!(
            extrapolated_rate(&w, 0, 60_000, 60_000, true, false),
            Some(50.0)
        );
        // Starting at 100 instead: zero point 50·(100/50) = 100 s > 10 → to start 10.
        // factor (50 + 10)/50 = 1.2 → 60.
        let w: Vec<Sample> = (1..=6)
            .map(|i| s(i * 10, 100.0 + ((i - 1) * 10) as f64))
            .collect();
        let inc = extrapolated_rate(&w, 0, 60_000, 60_000, true, false).unwrap();
        assert!((inc - 60.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn rate_with_gaps_extrapolates_half_an_interval() {
        // Window (0, 300 s]; samples at 100 s = 10, 110 s = 20, 120 s = 30.
        // increase 20, sampled 20 s, avg 10 s, threshold 11 s.
        // to start 100 s ≥ 11 → 5 s; zero point 20·(10/20) = 10 s > 5 → keep 5.
        // to end 180 s ≥ 11 → 5 s. factor (20+5+5)/20 = 1.5 → increase 30; rate 30/300 = 0.1.
        let w = [s(100, 10.0), s(110, 20.0), s(120, 30.0)];
        let r = extrapolated_rate(&w, 0, 300_000, 300_000, true, true).unwrap();
        assert!((r - 0.1).abs() < 1e-12, "{r}");
        assert_eq!(
            extrapolated_rate(&w[..1], 0, 300_000, 300_000, true, true),
            None
        );
    }

    #[test]
    fn counter_reset_is_corrected() {
        // 10, 20, 5 (reset), 15 at 10..40 s in window (9 s, 40 s]:
        // raw 15 - 10 = 5, plus 20 at the reset = 25. sampled 30 s, avg 10, threshold 11.
        // to start 1 s; zero point 30·(10/25) = 12 > 1 → 1. to end 0.
        // factor (30 + 1)/30 → increase 25·31/30 = 25.8333…
        let w = [s(10, 10.0), s(20, 20.0), s(30, 5.0), s(40, 15.0)];
        let inc = extrapolated_rate(&w, 9_000, 40_000, 31_000, true, false).unwrap();
        assert!((inc - 25.0 * 31.0 / 30.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn irate_uses_the_last_two_samples() {
        // (30 - 20)/10 s = 1/s; after a reset 5 at 40 s: 5/10 s = 0.5/s.
        assert_eq!(
            instant_value(&[s(10, 10.0), s(20, 20.0), s(30, 30.0)], true),
            Some(1.0)
        );
        assert_eq!(instant_value(&[s(30, 30.0), s(40, 5.0)], true), Some(0.5));
        assert_eq!(instant_value(&[s(30, 30.0)], true), None);
    }
}
