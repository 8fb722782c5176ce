//! `/genai`: one row per model call (GenAI chat span), with filters and totals — and the
//! chat-span helpers the trace page shares.

use std::collections::BTreeSet;

use axum::response::{IntoResponse, Response};
use maud::html;

use super::{
    filter_select, fmt_cost, fmt_duration, fmt_int, href, layout, pairs, param, service_chip, Nav,
};
use crate::model::record::{AttrValue, SpanRecord, SpanStatus};
use crate::model::semconv as sc;
use crate::model::time::format_utc_millis;
use crate::query::traces::{is_chat_span, span_tokens, TokenTotals};
use crate::storage::Store;

/// Rows shown at most (newest first).
const MAX_ROWS: usize = 1_000;

/// The model of a chat span: the response's, else the request's.
pub(super) fn model_of(span: &SpanRecord) -> &str {
    span.str_attr(sc::GEN_AI_RESPONSE_MODEL)
        .or_else(|| span.str_attr(sc::GEN_AI_REQUEST_MODEL))
        .unwrap_or("")
}

/// The provider: `gen_ai.provider.name`, else the seed's `gen_ai.system`.
fn provider_of(span: &SpanRecord) -> &str {
    span.str_attr(sc::GEN_AI_PROVIDER_NAME)
        .or_else(|| span.str_attr(sc::GEN_AI_SYSTEM))
        .unwrap_or("")
}

/// `gen_ai.usage.cost` in USD, when the instrumentation knew the price.
pub(super) fn cost_of(span: &SpanRecord) -> Option<f64> {
    span.attr(sc::GEN_AI_USAGE_COST)
        .and_then(AttrValue::as_f64)
        .filter(|c| c.is_finite())
}

/// The finish reasons, comma-separated.
fn finish_of(span: &SpanRecord) -> String {
    match span.attr(sc::GEN_AI_RESPONSE_FINISH_REASONS) {
        Some(AttrValue::Array(items)) => items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The error of a span: `error.type`, then the status message.
pub(super) fn error_of(span: &SpanRecord) -> Option<String> {
    match &span.status {
        SpanStatus::Error { message } => {
            let ty = span.str_attr(sc::ERROR_TYPE).unwrap_or("error");
            Some(if message.is_empty() {
                ty.to_owned()
            } else {
                format!("{ty}: {message}")
            })
        }
        _ => span.str_attr(sc::ERROR_TYPE).map(str::to_owned),
    }
}

pub(super) fn render(store: &Store, raw: Option<&str>) -> Response {
    let pairs = pairs(raw);
    let service = param(&pairs, "service").unwrap_or("");
    let model = param(&pairs, "model").unwrap_or("");
    let mut calls: Vec<SpanRecord> = Vec::new();
    let mut services = BTreeSet::new();
    let mut models = BTreeSet::new();
    {
        let state = store.read();
        for s in state.spans().filter(|s| is_chat_span(s)) {
            services.insert(s.service_name.clone());
            models.insert(model_of(s).to_owned());
            if (service.is_empty() || s.service_name == service)
                && (model.is_empty() || model_of(s) == model)
            {
                calls.push(s.clone());
            }
        }
    }
    let services: Vec<String> = services.into_iter().collect();
    let models: Vec<String> = models.into_iter().collect();
    calls.sort_by(|a, b| {
        b.start_unix_nanos
            .cmp(&a.start_unix_nanos)
            .then_with(|| a.span_id.cmp(&b.span_id))
    });
    let matched = calls.len();
    calls.truncate(MAX_ROWS);
    let mut total = TokenTotals::default();
    let mut cost = 0.0;
    let mut costed: usize = 0;
    let mut errors: usize = 0;
    for c in &calls {
        total = total.plus(span_tokens(c));
        if let Some(x) = cost_of(c) {
            cost += x;
            costed = costed.saturating_add(1);
        }
        errors = errors.saturating_add(usize::from(c.status.is_error()));
    }
    let body = html! {
        h1 { "Model calls" }
        p.lede { "One row per GenAI chat span (" code { "gen_ai.chat" } " or " code { "chat {model}" } "), newest first." }
        form.search method="get" action="/genai" {
            label { "Service" (filter_select("service", "all services", &services, service)) }
            label { "Model" (filter_select("model", "all models", &models, model)) }
            button type="submit" { "Filter" }
            a.reset href="/genai" { "reset" }
        }
        @if calls.is_empty() {
            p.empty { "No model call matches." }
        } @else {
            @if matched > calls.len() { p.note { "Showing the newest " (calls.len()) " of " (matched) " calls." } }
            table.genai {
                thead { tr {
                    th { "Time (UTC)" } th { "Service" } th { "Model" } th.num { "Input" } th.num { "Output" }
                    th.num { "Cache read" } th.num { "Cache creation" } th.num { "Cost" } th.num { "Duration" }
                    th.num { "First chunk" } th { "Finish" } th { "Error" } th { "Trace" }
                } }
                tbody {
                    @for c in &calls {
                        @let t = span_tokens(c);
                        tr.call.err[c.status.is_error()] data-span-id=(c.span_id) data-response-id=(c.str_attr(sc::GEN_AI_RESPONSE_ID).unwrap_or("")) {
                            td.time { (format_utc_millis(c.start_unix_nanos)) }
                            td { (service_chip(&c.service_name)) }
                            td { (model_of(c)) @let p = provider_of(c); @if !p.is_empty() { " " span.muted { (p) } } }
                            td.num.input { (fmt_int(t.input)) }
                            td.num.output { (fmt_int(t.output)) }
                            td.num.cache-read { (fmt_int(t.cache_read)) }
                            td.num.cache-creation { (fmt_int(t.cache_creation)) }
                            td.num { @if let Some(x) = cost_of(c) { (fmt_cost(x)) } @else { "—" } }
                            td.num { (fmt_duration(c.end_unix_nanos.saturating_sub(c.start_unix_nanos))) }
                            td.num {
                                @if let Some(s) = c.attr(sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK).and_then(AttrValue::as_f64).filter(|s| s.is_finite() && *s >= 0.0) {
                                    (fmt_duration(seconds_to_nanos(s)))
                                } @else { "—" }
                            }
                            td { (finish_of(c)) }
                            td.error-text { @if let Some(e) = error_of(c) { (e) } }
                            td { a href={ "/trace/" (c.trace_id) "#span-" (c.span_id) } { (&c.trace_id[..c.trace_id.len().min(8)]) "…" } }
                        }
                    }
                }
                tfoot { tr.totals {
                    td colspan="3" { "Total of " (calls.len()) " calls" @if errors > 0 { ", " (errors) " failed" } }
                    td.num.input { (fmt_int(total.input)) }
                    td.num.output { (fmt_int(total.output)) }
                    td.num.cache-read { (fmt_int(total.cache_read)) }
                    td.num.cache-creation { (fmt_int(total.cache_creation)) }
                    td.num { @if costed > 0 { (fmt_cost(cost)) @if costed < calls.len() { "*" } } @else { "—" } }
                    td colspan="5" {
                        @if costed > 0 && costed < calls.len() { "* " (calls.len() - costed) " calls without a price" }
                        " " a href=(href("/tokens", &[])) { "token charts →" }
                    }
                } }
            }
        }
    };
    layout(store, "Model calls", Nav::GenAi, body).into_response()
}

/// Seconds (finite, non-negative) as nanoseconds; `as` from f64 saturates at `u64::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn seconds_to_nanos(s: f64) -> u64 {
    (s * 1e9) as u64
}
