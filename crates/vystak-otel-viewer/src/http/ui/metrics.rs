//! `/metrics-explorer`: every metric (by its Prometheus name) and its series; one metric's
//! chart; a histogram's bucket distribution and its quantiles over time.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::chart::{bar_chart, labels_text, line_chart, Line};
use super::tokens::{evaluate, value_table, window, window_form, Window};
use super::{error_page, href, layout, pairs, param, Nav};
use crate::query::promql::{self as engine, format_float, LabelMatcher, MatchOp, SeriesSource};
use crate::storage::Store;

/// Histogram series suffixes.
const BUCKET: &str = "_bucket";
const SUM: &str = "_sum";
const COUNT: &str = "_count";

/// The metric families: a histogram's `_bucket`/`_sum`/`_count` grouped under its base name.
fn families(names: &[String]) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for n in names {
        if let Some(base) = n.strip_suffix(BUCKET) {
            out.insert(base.to_owned(), true);
        }
    }
    for n in names {
        let part_of_histogram = [BUCKET, SUM, COUNT]
            .iter()
            .filter_map(|suffix| n.strip_suffix(suffix))
            .any(|base| out.get(base) == Some(&true));
        if !part_of_histogram && !out.contains_key(n) {
            out.insert(n.clone(), false);
        }
    }
    out
}

fn selector(name: &str) -> String {
    format!("{{__name__={name:?}}}")
}

pub(super) fn render(store: &Store, raw: Option<&str>) -> Response {
    let pairs = pairs(raw);
    let (w, range) = match window(&pairs) {
        Ok(x) => x,
        Err(e) => return error_page(store, Nav::Metrics, StatusCode::BAD_REQUEST, &e),
    };
    let names = store.label_values("__name__");
    let fams = families(&names);
    let filter = param(&pairs, "filter").unwrap_or("").to_lowercase();
    let selected = param(&pairs, "metric").map(str::to_owned);
    let body = html! {
        h1 { "Metrics" }
        div.explorer {
            nav.metric-list {
                form method="get" action="/metrics-explorer" {
                    input id="metric-filter" type="search" name="filter" value=(filter) placeholder="filter metrics";
                }
                @if fams.is_empty() { p.empty { "No metric received yet." } }
                ul {
                    @for (name, histogram) in &fams {
                        @if filter.is_empty() || name.to_lowercase().contains(&filter) {
                            li.metric data-metric=(name) {
                                a.active[selected.as_deref() == Some(name.as_str())]
                                    href=(href("/metrics-explorer", &[("metric", name), ("range", &range)])) { (name) }
                                @if *histogram { " " span.badge { "histogram" } }
                            }
                        }
                    }
                }
            }
            div.metric-view {
                @if let Some(m) = &selected {
                    (window_form("/metrics-explorer", &range, &pairs, &[("metric", m)]))
                    (metric(store, m, fams.get(m).copied().unwrap_or(false), w, &range))
                } @else {
                    p.placeholder { "Pick a metric: its series, a chart over the window, and for a histogram its distribution and quantiles." }
                }
            }
        }
    };
    layout(store, "Metrics", Nav::Metrics, body).into_response()
}

fn series_table(store: &Store, name: &str, w: Window) -> Markup {
    let found = engine::series(store, &[selector(name)], w.start_ms, w.end_ms);
    html! {
        @match found {
            Ok(series) => {
                h3 { (series.len()) " series with samples in the window" }
                table.series {
                    @for labels in &series {
                        tr { td { code { (labels_text(labels)) } } }
                    }
                }
            }
            Err(e) => { p.error-box { (e.message()) } }
        }
    }
}

/// Observations per bucket in the window, one `(le, count)` per bucket in bound order: each
/// cumulative bucket counter's increase between its first and last sample in the window
/// (a drop is a counter reset), summed over the series, then de-cumulated.
fn distribution(store: &Store, bucket: &str, w: Window) -> Vec<(String, f64)> {
    let matchers = [LabelMatcher::new("__name__", MatchOp::Equal, bucket)];
    let mut by_le: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for series in store.select(&matchers, w.start_ms, w.end_ms) {
        let Some((le, bound)) = series
            .labels
            .get("le")
            .and_then(|le| Some((le, engine::parse_le(le)?)))
        else {
            continue;
        };
        let mut increase = 0.0;
        for pair in series.samples.windows(2) {
            let (a, b) = (pair[0].v, pair[1].v);
            increase += if b >= a { b - a } else { b };
        }
        by_le.entry(le.clone()).or_insert((bound, 0.0)).1 += increase;
    }
    let mut sorted: Vec<(String, f64, f64)> =
        by_le.into_iter().map(|(le, (b, n))| (le, b, n)).collect();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut prev = 0.0;
    sorted
        .into_iter()
        .map(|(le, _, cumulative)| {
            let n = (cumulative - prev).max(0.0);
            prev = cumulative;
            (le, n)
        })
        .collect()
}

fn metric(store: &Store, name: &str, histogram: bool, w: Window, range: &str) -> Markup {
    if !histogram {
        let q = selector(name);
        let e = evaluate(store, &q, "", w);
        let counter = name.ends_with("_total");
        let rate_q = format!("rate({name}[5m])");
        let rate = counter.then(|| evaluate(store, &rate_q, "", w));
        return html! {
            h2 { (name) }
            (line_chart(name, &e.lines, w.start_ms, w.end_ms))
            (value_table("", &e.now))
            @if let Some(r) = rate {
                h3 { "Per second" }
                pre.promql { a href=(href("/tokens", &[("query", &rate_q), ("range", range)])) { (rate_q) } }
                (line_chart(&rate_q, &r.lines, w.start_ms, w.end_ms))
            }
            (series_table(store, name, w))
        };
    }
    let bucket = format!("{name}{BUCKET}");
    let bars = distribution(store, &bucket, w);
    // Trim empty buckets at both ends (token histograms have 27 mostly empty buckets).
    let first = bars.iter().position(|b| b.1 > 0.0).unwrap_or(0);
    let last = bars
        .iter()
        .rposition(|b| b.1 > 0.0)
        .map_or(bars.len(), |i| i.saturating_add(1));
    let shown = &bars[first.min(last)..last];
    let quantiles: Vec<(String, String)> = [0.5, 0.95, 0.99]
        .into_iter()
        .map(|q| {
            (
                format!("p{} ", format_float(q * 100.0)),
                format!("histogram_quantile({q}, sum by (le) (rate({bucket}[5m])))"),
            )
        })
        .collect();
    let evaluated: Vec<_> = quantiles
        .iter()
        .map(|(p, q)| (p, q, evaluate(store, q, p, w)))
        .collect();
    let lines: Vec<Line> = evaluated
        .iter()
        .flat_map(|(_, _, e)| e.lines.iter().cloned())
        .collect();
    html! {
        h2 { (name) " " span.badge { "histogram" } }
        h3 { "Distribution over the window" }
        p.muted { "Observations per bucket in the window: the increase of each " code { (bucket) }
            " counter between its first and last sample in the window (counter resets handled, no \
             extrapolation), summed over the series." }
        @if shown.is_empty() { p.muted { "no observation in the window" } }
        @else {
            (bar_chart(&format!("{name} distribution"), shown))
            table.values.buckets {
                tr { th { "le" } @for (le, _) in shown { th.num { (le) } } }
                tr { th { "count" } @for (_, n) in shown { td.num { (format_float(*n)) } } }
            }
        }
        h3 { "Quantiles over time" }
        @for (_, q, _) in &evaluated { pre.promql { a href=(href("/tokens", &[("query", q), ("range", range)])) { (q) } } }
        (line_chart(&format!("{name} quantiles"), &lines, w.start_ms, w.end_ms))
        @for (p, _, e) in &evaluated { (value_table(p, &e.now)) }
        (series_table(store, &bucket, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_families_group_their_series() {
        let names: Vec<String> = [
            "gen_ai_client_token_usage_bucket",
            "gen_ai_client_token_usage_count",
            "gen_ai_client_token_usage_sum",
            "http_requests_total",
            "queue_count",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let f = families(&names);
        assert_eq!(
            f.into_iter().collect::<Vec<_>>(),
            vec![
                ("gen_ai_client_token_usage".to_owned(), true),
                ("http_requests_total".to_owned(), false),
                ("queue_count".to_owned(), false),
            ]
        );
    }
}
