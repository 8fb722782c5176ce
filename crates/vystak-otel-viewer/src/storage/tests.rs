//! Unit tests of the store.

use std::collections::BTreeMap;

use super::*;
use crate::model::record::{AttrValue, PointValue, SpanKind, SpanStatus};

fn span(trace: &str, id: &str, parent: Option<&str>) -> SpanRecord {
    SpanRecord {
        service_name: "svc".into(),
        resource: Default::default(),
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

fn hist(sum: f64) -> MetricPoint {
    MetricPoint {
        service_name: "svc".into(),
        resource: Default::default(),
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
    }
}

#[test]
fn oldest_span_is_evicted_first_and_the_trace_index_follows() {
    let store = Store::with_capacity(2, 10);
    store.insert_spans([span("t", "1", None), span("u", "2", None)]);
    store.insert_spans([span("t", "3", Some("1"))]);
    let ids: Vec<_> = store.spans().into_iter().map(|s| s.span_id).collect();
    assert_eq!(ids, ["2", "3"]);
    assert_eq!(store.trace("t").len(), 1);
    assert_eq!(store.trace("t")[0].span_id, "3");
    store.insert_spans([span("v", "4", None)]);
    assert!(store.trace("u").is_empty());
    assert_eq!(store.trace_ids(), ["t", "v"]);
}

#[test]
fn queries_by_trace_name_parent_service() {
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
    assert_eq!(store.services(), ["svc"]);
    assert_eq!(
        store.operations(Some("svc")),
        ["span-1", "span-2", "span-3"]
    );
    assert!(store.operations(Some("other")).is_empty());
    store.clear();
    assert_eq!(store.span_count(), 0);
    assert!(store.trace("a").is_empty());
}

#[test]
fn retention_age_drops_old_spans_and_reindexes() {
    let store =
        Store::with_options(StoreOptions::default().with_retention(Some(Duration::from_secs(60))));
    let mut old = span("a", "1", None);
    old.start_unix_nanos = now_unix_nanos() - 120_000_000_000;
    let mut new = span("a", "2", Some("1"));
    new.start_unix_nanos = now_unix_nanos();
    store.insert_spans([old, new]);
    store.apply_retention();
    let spans = store.trace("a");
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span_id, "2");
}

#[test]
fn cumulative_points_replace_and_delta_points_accumulate() {
    let mut state = MemoryState::new(10, 10, 10);
    state.push_point(hist(2.0), false);
    state.push_point(hist(3.0), false);
    assert_eq!(state.latest_points().next().unwrap().value_sum(), 3.0);

    // Two delta points of one series, one export interval apart (a point is identified by its
    // series and time: the same time again is a retry, see the next test).
    let mut state = MemoryState::new(10, 10, 10);
    state.push_point(hist(2.0), true);
    let mut later = hist(3.0);
    later.time_unix_nanos += 10_000_000_000;
    state.push_point(later, true);
    let points: Vec<_> = state.latest_points().collect();
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

/// Regression (issue 26): an exporter's retry of a delta point was added again (200 tokens
/// instead of 100); saturating counts never panic.
#[test]
fn a_retried_delta_point_is_not_added_twice_and_counts_saturate() {
    let mut state = MemoryState::new(10, 10, 10);
    state.push_point(hist(2.0), true);
    state.push_point(hist(2.0), true);
    assert_eq!(state.latest_points().next().unwrap().value_sum(), 2.0);

    let mut huge = hist(1.0);
    if let PointValue::Histogram {
        count,
        bucket_counts,
        ..
    } = &mut huge.value
    {
        *count = 1 << 63;
        bucket_counts[0] = 1 << 63;
    }
    let mut state = MemoryState::new(10, 10, 10);
    state.push_point(huge.clone(), true);
    huge.time_unix_nanos += 1;
    state.push_point(huge, true);
    let value = state.latest_points().next().unwrap().value.clone();
    match value {
        PointValue::Histogram {
            count,
            bucket_counts,
            ..
        } => assert_eq!((count, bucket_counts[0]), (u64::MAX, u64::MAX)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn oldest_series_is_evicted_first() {
    let mut state = MemoryState::new(10, 1, 10);
    state.push_point(hist(1.0), false);
    let mut other = hist(1.0);
    other.metric_name = "n".into();
    state.push_point(other, false);
    let names: Vec<_> = state
        .latest_points()
        .map(|p| p.metric_name.clone())
        .collect();
    assert_eq!(names, ["n"]);
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
