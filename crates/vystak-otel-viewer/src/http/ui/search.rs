//! `/`: the trace search. Its parameters are those of `GET /api/traces`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{
    error_page, filter_select, fmt_duration, fmt_int, href, layout, pairs, param, service_chip, Nav,
};
use crate::model::time::format_utc_millis;
use crate::query::traces::{self, TraceSummary};
use crate::storage::Store;

/// The time-range choices of the form (`since`, a duration ago).
const SINCE: [(&str, &str); 6] = [
    ("", "any time"),
    ("15m", "last 15 minutes"),
    ("1h", "last hour"),
    ("6h", "last 6 hours"),
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
];

/// The parameters that define a search (everything but the paging cursor).
const KEPT: [&str; 7] = [
    "service",
    "operation",
    "status",
    "min_duration_ms",
    "since",
    "limit",
    "attr",
];

pub(super) fn render(store: &Store, raw: Option<&str>) -> Response {
    let pairs = pairs(raw);
    let query = match crate::http::params::parse_query(raw) {
        Ok(q) => q,
        Err(e) => {
            return error_page(store, Nav::Traces, StatusCode::BAD_REQUEST, &e);
        }
    };
    let found = traces::search(store, &query);
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, v)| KEPT.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let older = traces::next_cursor(&found, &query).map(|before| {
        let mut p = kept.clone();
        p.push(("before", &before));
        href("/", &p)
    });
    let paged = param(&pairs, "before").is_some();
    let body = html! {
        h1 { "Traces" }
        (form(store, &pairs))
        @if found.is_empty() {
            p.empty {
                "No trace matches. "
                @if store.span_count() == 0 {
                    "Nothing has been received yet: point an OTLP exporter (gRPC :4317 or HTTP \
                     :4318) at this viewer, e.g. "
                    code { "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317" }
                    ", or run "
                    code { "cargo run --example agents -- --serve" }
                    "."
                }
            }
        } @else {
            (table(&found))
        }
        nav.pager {
            @if paged { a href=(href("/", &kept)) { "← newest" } }
            @if let Some(h) = older { a.older href=(h) { "older →" } }
        }
    };
    layout(store, "Traces", Nav::Traces, body).into_response()
}

fn form(store: &Store, pairs: &[(String, String)]) -> Markup {
    let service = param(pairs, "service").unwrap_or("");
    let operation = param(pairs, "operation").unwrap_or("");
    let status = param(pairs, "status").unwrap_or("");
    let since = param(pairs, "since").unwrap_or("");
    let limit = param(pairs, "limit").unwrap_or("");
    let services = store.services();
    let operations = store.operations((!service.is_empty()).then_some(service));
    let attrs: Vec<&str> = pairs
        .iter()
        .filter(|(k, v)| k == "attr" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    html! {
        form.search method="get" action="/" {
            label { "Service" (filter_select("service", "all services", &services, service)) }
            label { "Operation" (filter_select("operation", "all operations", &operations, operation)) }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    option value="error" selected[status == "error"] { "errors only" }
                }
            }
            label { "Min duration (ms)"
                input type="number" name="min_duration_ms" min="0" step="any"
                    value=(param(pairs, "min_duration_ms").unwrap_or("")) placeholder="0";
            }
            @for a in &attrs {
                label { "Attribute" input type="text" name="attr" value=(a); }
            }
            label { "Attribute"
                input type="text" name="attr" placeholder="key=value, e.g. gen_ai.request.model=claude-haiku-4-5";
            }
            label { "Time"
                select name="since" {
                    @for (v, text) in SINCE {
                        option value=(v) selected[v == since] { (text) }
                    }
                }
            }
            label { "Limit"
                select name="limit" {
                    @for n in ["20", "50", "100", "500"] {
                        option value=(n) selected[n == limit] { (n) }
                    }
                }
            }
            button type="submit" { "Search" }
            a.reset href="/" { "reset" }
        }
    }
}

fn table(found: &[TraceSummary]) -> Markup {
    let longest = found
        .iter()
        .map(|t| t.duration_nanos)
        .max()
        .unwrap_or(1)
        .max(1);
    html! {
        table.traces {
            thead { tr {
                th { "Started (UTC)" } th { "Root" } th.num { "Duration" } th.num { "Spans" }
                th { "Services" } th.num { "Errors" } th.num { "Tokens" }
            } }
            tbody {
                @for t in found {
                    @let total = t.tokens.input_and_output();
                    tr.trace-row.err[t.has_error()] data-trace-id=(t.trace_id) {
                        td.time { (format_utc_millis(t.start_unix_nanos)) }
                        td {
                            a.root href={ "/trace/" (t.trace_id) } {
                                (service_chip(&t.root_service)) " "
                                strong { (t.root_name) }
                            }
                            @if !t.has_root { " " span.badge.warn title="the root span has not arrived" { "no root" } }
                        }
                        td.num {
                            span.durbar style={ "width:" (format!("{:.1}", t.duration_nanos as f64 * 100.0 / longest as f64)) "%" } {}
                            (fmt_duration(t.duration_nanos))
                        }
                        td.num { (t.span_count) }
                        td.services { @for s in &t.services { (service_chip(s)) " " } }
                        td.num { @if t.error_count > 0 { span.badge.error { (t.error_count) } } @else { "0" } }
                        td.num title={
                            "input " (t.tokens.input) ", output " (t.tokens.output) ", cache read "
                            (t.tokens.cache_read) ", cache creation " (t.tokens.cache_creation)
                        } { @if total > 0 { (fmt_int(total)) } @else { "—" } }
                    }
                }
            }
        }
    }
}
