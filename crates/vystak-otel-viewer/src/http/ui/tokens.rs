//! `/tokens`: the seed's token queries as charts, and a PromQL box.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::chart::{labels_text, line_chart, lines_of, Line};
use super::{error_page, href, layout, pairs, param, Nav};
use crate::model::time::parse_duration;
use crate::query::promql::{self as engine, format_float, QueryResult};
use crate::storage::{now_unix_nanos, Store};

/// The window choices (`range`).
pub(super) const RANGES: [&str; 6] = ["5m", "15m", "1h", "6h", "24h", "7d"];
/// Default window.
pub(super) const DEFAULT_RANGE: &str = "15m";
/// Points per line in a chart.
const STEPS: i64 = 120;

/// One chart: a title and its queries (legend prefix, PromQL).
struct Panel {
    id: &'static str,
    title: &'static str,
    queries: &'static [(&'static str, &'static str)],
}

/// The seed's queries (the first and the cache-hit ratio verbatim), then the per-service and
/// per-model views a user asks next.
const PANELS: [Panel; 5] = [
    Panel {
        id: "input-total",
        title: "Input tokens per second, all agents",
        queries: &[(
            "",
            r#"sum(rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1h]))"#,
        )],
    },
    Panel {
        id: "input-by-service",
        title: "Input tokens per second, per service",
        queries: &[(
            "",
            r#"sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[5m]))"#,
        )],
    },
    Panel {
        id: "cache-hit",
        title: "Cache-hit ratio per service",
        queries: &[(
            "",
            r#"sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="cache_read"}[5m])) / sum by (service_name) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[5m]))"#,
        )],
    },
    Panel {
        id: "output-by-model",
        title: "Output tokens per second, per model",
        queries: &[(
            "",
            r#"sum by (gen_ai_request_model) (rate(gen_ai_client_token_usage_sum{gen_ai_token_type="output"}[5m]))"#,
        )],
    },
    Panel {
        id: "duration-by-model",
        title: "Model call duration per model, p50 and p95 (seconds)",
        queries: &[
            (
                "p50 ",
                "histogram_quantile(0.5, sum by (le, gen_ai_request_model) (rate(gen_ai_client_operation_duration_seconds_bucket[5m])))",
            ),
            (
                "p95 ",
                "histogram_quantile(0.95, sum by (le, gen_ai_request_model) (rate(gen_ai_client_operation_duration_seconds_bucket[5m])))",
            ),
        ],
    },
];

/// The window of a chart page: `range` back from `end` (ms), and the step.
#[derive(Clone, Copy)]
pub(super) struct Window {
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    pub(super) step_ms: i64,
}

/// Reads `range` and `end` (RFC 3339 or Unix seconds; default now).
pub(super) fn window(pairs: &[(String, String)]) -> Result<(Window, String), String> {
    let range = param(pairs, "range").unwrap_or(DEFAULT_RANGE).to_owned();
    let range_ms = parse_duration(&range)
        .map_err(|e| format!("range={range}: {e}"))
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))?;
    if range_ms <= 0 {
        return Err(format!("range={range}: must be positive"));
    }
    let end_ms = match param(pairs, "end") {
        Some(e) => engine::parse_time(e).map_err(|err| format!("end={e}: {}", err.message()))?,
        None => i64::try_from(now_unix_nanos() / 1_000_000).unwrap_or(i64::MAX),
    };
    let step_ms = (range_ms / STEPS).max(1_000);
    Ok((
        Window {
            start_ms: end_ms.saturating_sub(range_ms),
            end_ms,
            step_ms,
        },
        range,
    ))
}

/// What one PromQL expression gives over a window: its lines and its value at the end.
pub(super) struct Evaluated {
    pub(super) lines: Vec<Line>,
    pub(super) now: Result<QueryResult, String>,
    pub(super) error: Option<String>,
}

pub(super) fn evaluate(store: &Store, query: &str, prefix: &str, w: Window) -> Evaluated {
    let range = engine::range_query(store, query, w.start_ms, w.end_ms, w.step_ms);
    let now = engine::instant_query(store, query, w.end_ms).map_err(|e| e.message().to_owned());
    match range {
        Ok(r) => Evaluated {
            lines: lines_of(&r, prefix),
            now,
            error: None,
        },
        Err(e) => Evaluated {
            lines: Vec::new(),
            error: Some(e.message().to_owned()),
            now,
        },
    }
}

/// The value at the window's end as a table: one row per series, Prometheus' number format.
pub(super) fn value_table(prefix: &str, now: &Result<QueryResult, String>) -> Markup {
    html! {
        @match now {
            Ok(QueryResult::Vector(v)) => {
                @if v.is_empty() {
                    p.muted { (prefix) "no series at the end of the window" }
                } @else {
                    table.values {
                        @for (labels, s) in v {
                            @let l = labels_text(labels);
                            tr data-series=(l) data-value=(format_float(s.v)) {
                                td { (prefix) (l) } td.num { (format_float(s.v)) }
                            }
                        }
                    }
                }
            }
            Ok(QueryResult::Scalar(s)) => {
                table.values { tr data-series="scalar" data-value=(format_float(s.v)) { td { (prefix) "scalar" } td.num { (format_float(s.v)) } } }
            }
            Ok(QueryResult::String(_, s)) => { p { (prefix) "string: " code { (s) } } }
            Ok(QueryResult::Matrix(m)) => {
                table.values {
                    @for series in m {
                        tr { td { (prefix) (labels_text(&series.labels)) } td.num {
                            (series.samples.iter().map(|s| format_float(s.v)).collect::<Vec<_>>().join(", "))
                        } }
                    }
                }
            }
            Err(e) => { p.error-box { (prefix) (e) } }
        }
    }
}

/// The range selector and `end` of a chart page, as a form.
pub(super) fn window_form(
    action: &str,
    range: &str,
    pairs: &[(String, String)],
    extra: &[(&str, &str)],
) -> Markup {
    html! {
        form.window method="get" action=(action) {
            @for (k, v) in extra { input type="hidden" name=(k) value=(v); }
            label { "Window"
                select name="range" {
                    @for r in RANGES { option value=(r) selected[r == range] { "last " (r) } }
                }
            }
            label { "End"
                input type="text" name="end" value=(param(pairs, "end").unwrap_or("")) placeholder="now (RFC 3339 or Unix seconds)";
            }
            button type="submit" { "Apply" }
        }
    }
}

pub(super) fn render(store: &Store, raw: Option<&str>) -> Response {
    let pairs = pairs(raw);
    let (w, range) = match window(&pairs) {
        Ok(x) => x,
        Err(e) => return error_page(store, Nav::Tokens, StatusCode::BAD_REQUEST, &e),
    };
    let custom = param(&pairs, "query").map(str::to_owned);
    let body = html! {
        h1 { "Token usage" }
        p.lede {
            "The seed's PromQL over " code { "gen_ai.client.token.usage" } " and "
            code { "gen_ai.client.operation.duration" } ", as Prometheus names them. Each chart shows its query; "
            "the table under it is the value at the end of the window (the same number "
            code { "/api/v1/query" } " returns)."
        }
        (window_form("/tokens", &range, &pairs, &[]))
        section.panel id="promql" {
            h2 { "Run PromQL" }
            form.promql method="get" action="/tokens" {
                input type="hidden" name="range" value=(range);
                @if let Some(end) = param(&pairs, "end") { input type="hidden" name="end" value=(end); }
                textarea name="query" rows="2" spellcheck="false" placeholder=r#"e.g. sum by (gen_ai_token_type) (increase(gen_ai_client_token_usage_sum[1h]))"# {
                    (custom.as_deref().unwrap_or(""))
                }
                button type="submit" { "Run" }
            }
            @if let Some(q) = &custom {
                @let e = evaluate(store, q, "", w);
                @if let Some(err) = &e.error { p.error-box { (err) } }
                @else { (line_chart(q, &e.lines, w.start_ms, w.end_ms)) }
                (value_table("", &e.now))
                p.links { a href=(href("/api/v1/query", &[("query", q)])) { "as JSON" } }
            }
        }
        div.panels {
            @for p in &PANELS {
                @let evaluated: Vec<Evaluated> = p.queries.iter().map(|(prefix, q)| evaluate(store, q, prefix, w)).collect();
                @let lines: Vec<Line> = evaluated.iter().flat_map(|e| e.lines.iter().cloned()).collect();
                section.panel id=(p.id) {
                    h2 { (p.title) }
                    @for (_, q) in p.queries {
                        pre.promql { a href=(href("/tokens", &[("query", q), ("range", &range)])) title="run in the query box" { (q) } }
                    }
                    @for e in &evaluated { @if let Some(err) = &e.error { p.error-box { (err) } } }
                    (line_chart(p.title, &lines, w.start_ms, w.end_ms))
                    @for ((prefix, _), e) in p.queries.iter().zip(&evaluated) {
                        (value_table(prefix, &e.now))
                    }
                }
            }
        }
    };
    layout(store, "Tokens", Nav::Tokens, body).into_response()
}
