//! `/trace/{trace_id}`: the waterfall, the span details panel and the trace's token totals.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::genai::{cost_of, error_of, model_of};
use super::{
    blocking, error_page, fmt_cost, fmt_duration, fmt_int, layout, pairs, param, service_chip,
    service_colour, Nav,
};
use crate::model::record::{AttrValue, LogRecord, SpanRecord, SpanStatus};
use crate::model::semconv as sc;
use crate::model::time::format_utc_millis;
use crate::query::render::{tree, Row};
use crate::query::traces::{self, is_chat_span, span_tokens, LookupError, TokenTotals};
use crate::storage::Store;

/// Longest attribute value copied into a row's search text.
const SEARCH_VALUE_CHARS: usize = 200;

pub(super) async fn page(
    State(store): State<Store>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    blocking(store, Nav::Traces, move |s2| {
        let pairs = pairs(raw.as_deref());
        let q = param(&pairs, "q").unwrap_or("").to_owned();
        let selected = param(&pairs, "span").unwrap_or("").to_owned();
        match traces::get(s2, &id) {
            Ok(spans) => {
                let logs = s2.logs_for_trace(&spans[0].trace_id);
                let body = render(&spans, &logs, &q, &selected);
                let title = format!("Trace {}", &spans[0].trace_id);
                layout(s2, &title, Nav::Traces, body).into_response()
            }
            Err(e @ LookupError::Malformed(_)) => {
                error_page(s2, Nav::Traces, StatusCode::BAD_REQUEST, &e.to_string())
            }
            Err(e) => error_page(s2, Nav::Traces, StatusCode::NOT_FOUND, &e.to_string()),
        }
    })
    .await
}

/// The lowercase text the span search matches: name, service, ids, attribute keys and values.
fn search_text(s: &SpanRecord) -> String {
    let mut t = String::with_capacity(128);
    t.push_str(&s.name);
    t.push(' ');
    t.push_str(&s.service_name);
    t.push(' ');
    t.push_str(&s.span_id);
    for (k, v) in &s.attributes {
        t.push(' ');
        t.push_str(k);
        t.push('=');
        let v = v.to_string();
        t.extend(v.chars().take(SEARCH_VALUE_CHARS));
    }
    t.to_lowercase()
}

#[derive(Default)]
struct ModelTotals {
    calls: usize,
    tokens: TokenTotals,
    cost: Option<f64>,
}

fn totals_by_service_and_model(spans: &[SpanRecord]) -> BTreeMap<(String, String), ModelTotals> {
    let mut out: BTreeMap<(String, String), ModelTotals> = BTreeMap::new();
    for s in spans.iter().filter(|s| is_chat_span(s)) {
        let e = out
            .entry((s.service_name.clone(), model_of(s).to_owned()))
            .or_default();
        e.calls = e.calls.saturating_add(1);
        e.tokens = e.tokens.plus(span_tokens(s));
        if let Some(c) = cost_of(s) {
            *e.cost.get_or_insert(0.0) += c;
        }
    }
    out
}

/// `total × i / 4` for the timeline's ticks, without overflow.
fn quarter(total: u64, i: u64) -> u64 {
    let exact = u128::from(total).saturating_mul(u128::from(i)) / 4;
    u64::try_from(exact).unwrap_or(u64::MAX)
}

/// A waterfall row's indentation: 14 px a level, at most [`crate::query::render::MAX_INDENT`] levels.
fn indent_px(depth: usize) -> usize {
    depth
        .min(crate::query::render::MAX_INDENT)
        .saturating_mul(14)
        .saturating_add(4)
}

fn pct(x: u64, total: u64) -> String {
    format!("{:.3}", x as f64 * 100.0 / total.max(1) as f64)
}

/// The trace page body for `spans` (sorted by start, non-empty) and their logs; `q` highlights,
/// `selected` (a span id, or empty) is the span whose details are shown.
/// Per agent span (`gen_ai.operation.name=invoke_agent`): the tokens, cost and number of the
/// chat spans below it in the tree, summed here for display (the spans themselves carry usage
/// on chat spans only). One pass over the rows, children before parents: each row's subtree
/// total is added to its parent's, so a 20,000-deep chain costs 20,000 additions, not 200
/// million ancestor visits; a parent cycle in bad input is already cut by [`tree`].
fn agent_subtree_totals<'a>(rows: &[Row<'a>]) -> HashMap<&'a str, Subtotal> {
    let mut below: Vec<Subtotal> = vec![Subtotal::default(); rows.len()];
    let mut out = HashMap::new();
    for (i, row) in rows.iter().enumerate().rev() {
        let here = std::mem::take(&mut below[i]);
        if row.span.str_attr(sc::GEN_AI_OPERATION_NAME) == Some(sc::OPERATION_INVOKE_AGENT)
            && here.calls > 0
        {
            out.insert(row.span.span_id.as_str(), here);
        }
        if let Some(parent) = row.parent {
            let mut up = here;
            if is_chat_span(row.span) {
                up.add(span_tokens(row.span), cost_of(row.span));
            }
            below[parent].merge(&up);
        }
    }
    out
}

/// The chat spans below an agent span: their tokens, cost and count.
#[derive(Clone, Copy, Debug, Default)]
struct Subtotal {
    tokens: TokenTotals,
    cost: Option<f64>,
    calls: usize,
}

impl Subtotal {
    fn add(&mut self, tokens: TokenTotals, cost: Option<f64>) {
        self.merge(&Subtotal {
            tokens,
            cost,
            calls: 1,
        });
    }

    fn merge(&mut self, other: &Subtotal) {
        self.tokens = self.tokens.plus(other.tokens);
        if let Some(c) = other.cost {
            *self.cost.get_or_insert(0.0) += c;
        }
        self.calls = self.calls.saturating_add(other.calls);
    }
}

pub(crate) fn render(spans: &[SpanRecord], logs: &[LogRecord], q: &str, selected: &str) -> Markup {
    let summary = traces::summarize(spans).expect("non-empty trace");
    let start = summary.start_unix_nanos;
    let total = summary.duration_nanos.max(1);
    let rows = tree(spans);
    let needle = q.trim().to_lowercase();
    // Each row's search text once, with whether `q` matches it.
    let texts: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            let t = search_text(r.span);
            let hit = !needle.is_empty() && t.contains(&needle);
            (t, hit)
        })
        .collect();
    let hits = texts.iter().filter(|(_, hit)| *hit).count();
    let by_model = totals_by_service_and_model(spans);
    let agents = agent_subtree_totals(&rows);
    let mut logs_by_span: HashMap<&str, Vec<&LogRecord>> = HashMap::new();
    for l in logs {
        if let Some(id) = l.span_id.as_deref() {
            logs_by_span.entry(id).or_default().push(l);
        }
    }
    html! {
        section.trace-head {
            h1 {
                (service_chip(&summary.root_service)) " " (summary.root_name)
            }
            div.facts-row {
                div.fact { div.k { "Trace" } div.v { code id="trace-id" { (summary.trace_id) } } }
                div.fact { div.k { "Started (UTC)" } div.v { (format_utc_millis(start)) } }
                div.fact { div.k { "Duration" } div.v { (fmt_duration(summary.duration_nanos)) } }
                div.fact { div.k { "Spans" } div.v id="span-count" { (summary.span_count) } }
                div.fact { div.k { "Errors" } div.v { @if summary.error_count > 0 { span.badge.error { (summary.error_count) } } @else { "0" } } }
                div.fact { div.k { "Tokens" } div.v id="trace-tokens" {
                    (fmt_int(summary.tokens.input)) " in · " (fmt_int(summary.tokens.output)) " out · "
                    (fmt_int(summary.tokens.cache_read)) " cache read · " (fmt_int(summary.tokens.cache_creation)) " cache creation" } }
                div.fact { div.k { "Services" } div.v { @for s in &summary.services { (service_chip(s)) " " } } }
            }
            p.links { a href={ "/api/traces/" (summary.trace_id) } { "JSON" } }
        }
        @if !by_model.is_empty() {
            section.token-totals {
                h2 { "Tokens by service and model" }
                table.model-totals {
                    thead { tr { th { "Service" } th { "Model" } th.num { "Calls" } th.num { "Input" } th.num { "Output" }
                        th.num { "Cache read" } th.num { "Cache creation" } th.num { "Cost" } } }
                    tbody {
                        @for ((service, model), t) in &by_model {
                            tr {
                                td { (service_chip(service)) } td { (model) } td.num { (t.calls) }
                                td.num { (fmt_int(t.tokens.input)) } td.num { (fmt_int(t.tokens.output)) }
                                td.num { (fmt_int(t.tokens.cache_read)) } td.num { (fmt_int(t.tokens.cache_creation)) }
                                td.num { @if let Some(c) = t.cost { (fmt_cost(c)) } @else { "—" } }
                            }
                        }
                    }
                }
            }
        }
        form.span-search method="get" {
            input id="span-search" type="search" name="q" value=(q) placeholder="highlight spans: name, service, attribute…" autocomplete="off";
            button type="submit" { "Find" }
            span id="hit-count" { @if !needle.is_empty() { (hits) " matching" } }
            button id="expand-all" type="button" { "expand all" }
            button id="collapse-all" type="button" { "collapse all" }
        }
        div.trace-layout {
            div.waterfall role="tree" {
                div.wf-head {
                    div.name { "Span" }
                    div.timeline {
                        @for i in 0..=4u64 {
                            span.tick style={ "left:" (i * 25) "%" } { (fmt_duration(quarter(total, i))) }
                        }
                    }
                }
                @for (r, (text, hit)) in rows.iter().zip(&texts) {
                    @let s = r.span;
                    @let offset = s.start_unix_nanos.saturating_sub(start);
                    @let dur = s.end_unix_nanos.saturating_sub(s.start_unix_nanos);
                    @let colour = service_colour(&s.service_name);
                    @let chat = is_chat_span(s);
                    div.row.err[s.status.is_error()].hit[*hit].chat[chat].selected[s.span_id == selected]
                        id={ "row-" (s.span_id) } role="treeitem"
                        data-id=(s.span_id) data-parent=(s.parent_span_id.as_deref().unwrap_or(""))
                        data-depth=(r.depth) data-service=(s.service_name) data-name=(s.name) data-search=(text) {
                        div.name style={ "padding-left:" (indent_px(r.depth)) "px" } {
                            @if r.has_children { button.tog type="button" aria-label="collapse" { "▾" } } @else { span.leaf {} }
                            span.dot style={ "background:" (colour) } {}
                            a.span-link href={ "#span-" (s.span_id) } title=(s.service_name) { (s.name) }
                            " " span.kind { (s.kind.as_str()) }
                            @if r.orphan { " " span.badge.warn title="the parent span is not in this trace" { "parent missing" } }
                            @if s.status.is_error() { " " span.badge.error { "error" } }
                            @if chat {
                                @let t = span_tokens(s);
                                " " span.genai title={ "input " (t.input) ", output " (t.output) ", cache read " (t.cache_read) ", cache creation " (t.cache_creation) } {
                                    span.tokens { (fmt_int(t.input_and_output())) " tok" }
                                    @if let Some(c) = cost_of(s) { " · " span.cost { (fmt_cost(c)) } }
                                    " · " span.model { (model_of(s)) }
                                }
                            }
                            @if let Some(sub) = agents.get(s.span_id.as_str()) {
                                " " span.agent title={ (sub.calls) " model calls below this agent turn" } {
                                    "agent · " (sub.calls) " calls · " span.tokens { (fmt_int(sub.tokens.input_and_output())) " tok" }
                                    @if let Some(c) = sub.cost { " · " span.cost { (fmt_cost(c)) } }
                                }
                            } @else if s.str_attr(sc::GEN_AI_OPERATION_NAME) == Some(sc::OPERATION_INVOKE_AGENT) {
                                " " span.agent { "agent" }
                            }
                            @if s.str_attr(sc::GEN_AI_OPERATION_NAME) == Some(sc::OPERATION_EXECUTE_TOOL) {
                                " " span.tool title=(s.str_attr(sc::GEN_AI_TOOL_CALL_ID).unwrap_or("")) { "tool" }
                            }
                        }
                        div.timeline {
                            div.bar style={ "left:" (pct(offset, total)) "%;width:max(2px," (pct(dur, total)) "%);background:" (colour) } {}
                            @let end = offset.saturating_add(dur);
                            @let ends_late = end as f64 > total as f64 * 0.75;
                            @if ends_late && dur as f64 > total as f64 * 0.2 {
                                span.dur.inside style={ "right:" (pct(total.saturating_sub(end), total)) "%" } { (fmt_duration(dur)) }
                            } @else if ends_late {
                                span.dur style={ "right:" (pct(total.saturating_sub(offset), total)) "%" } { (fmt_duration(dur)) }
                            } @else {
                                span.dur style={ "left:" (pct(end, total)) "%" } { (fmt_duration(dur)) }
                            }
                        }
                    }
                }
            }
            aside.details.has-active[rows.iter().any(|r| r.span.span_id == selected)] {
                p.placeholder { "Select a span to see its attributes, events, links and resource." }
                @for r in &rows {
                    (details(r.span, start, logs_by_span.get(r.span.span_id.as_str()), r.span.span_id == selected))
                }
            }
        }
    }
}

fn attr_table(class: &str, attrs: &BTreeMap<String, AttrValue>) -> Markup {
    html! {
        @if attrs.is_empty() {
            p.muted { "none" }
        } @else {
            table class={ "kv " (class) } {
                @for (k, v) in attrs {
                    tr { th { (k) } td { (v.to_string()) } }
                }
            }
        }
    }
}

fn details(
    s: &SpanRecord,
    trace_start: u64,
    logs: Option<&Vec<&LogRecord>>,
    active: bool,
) -> Markup {
    let (code, message) = match &s.status {
        SpanStatus::Unset => ("UNSET", ""),
        SpanStatus::Ok => ("OK", ""),
        SpanStatus::Error { message } => ("ERROR", message.as_str()),
    };
    html! {
        section.detail.active[active] id={ "span-" (s.span_id) } {
            h2 { (s.name) }
            dl.facts {
                dt { "Service" } dd { (service_chip(&s.service_name)) }
                dt { "Kind" } dd { (s.kind.as_str()) }
                dt { "Status" } dd.status.err[s.status.is_error()] { (code) @if !message.is_empty() { ": " (message) } }
                @if let Some(e) = error_of(s) { dt { "Error" } dd.err { (e) } }
                dt { "Start" } dd { "+" (fmt_duration(s.start_unix_nanos.saturating_sub(trace_start))) }
                dt { "Duration" } dd { (fmt_duration(s.end_unix_nanos.saturating_sub(s.start_unix_nanos))) }
                dt { "Span id" } dd { code { (s.span_id) } }
                dt { "Parent" } dd { @if let Some(p) = &s.parent_span_id { a href={ "#span-" (p) } { code { (p) } } } @else { "root" } }
                dt { "Scope" } dd { (s.scope_name) }
            }
            h3 { "Attributes" }
            (attr_table("attributes", &s.attributes))
            @if !s.events.is_empty() {
                h3 { "Events" }
                @for e in &s.events {
                    div.event {
                        strong { (e.name) } " " span.muted { "+" (fmt_duration(e.time_unix_nanos.saturating_sub(trace_start))) }
                        (attr_table("event-attributes", &e.attributes))
                    }
                }
            }
            @if let Some(logs) = logs {
                h3 { "Logs" }
                @for l in logs {
                    div.log {
                        span.severity { (l.severity_text) } " "
                        span.muted { "+" (fmt_duration(l.time_unix_nanos.max(l.observed_unix_nanos).saturating_sub(trace_start))) } " "
                        (l.body.to_string())
                        (attr_table("log-attributes", &l.attributes))
                    }
                }
            }
            @if !s.links.is_empty() {
                h3 { "Links" }
                ul.links {
                    @for l in &s.links {
                        li { a href={ "/trace/" (l.trace_id) "#span-" (l.span_id) } { code { (l.trace_id) " / " (l.span_id) } }
                            (attr_table("link-attributes", &l.attributes)) }
                    }
                }
            }
            h3 { "Resource" }
            (attr_table("resource", &s.resource))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::SpanKind;

    fn span(id: usize, parent: Option<usize>, op: &str, input: i64) -> SpanRecord {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            sc::GEN_AI_OPERATION_NAME.to_owned(),
            AttrValue::Str(op.into()),
        );
        attributes.insert(
            sc::GEN_AI_USAGE_INPUT_TOKENS.to_owned(),
            AttrValue::Int(input),
        );
        SpanRecord {
            service_name: "svc".into(),
            resource: Default::default(),
            scope_name: "s".into(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: format!("{id:016x}"),
            parent_span_id: parent.map(|p| format!("{p:016x}")),
            name: op.into(),
            kind: SpanKind::Internal,
            status: SpanStatus::Unset,
            start_unix_nanos: id as u64,
            end_unix_nanos: id as u64 + 1,
            attributes,
            events: vec![],
            links: vec![],
        }
    }

    /// Issue 27: an agent above a 20,000-deep chain of chat spans (the case whose page took
    /// 73 s when each chat span walked all its ancestors) sums every chat span below it once;
    /// nested agents each get their own subtree; a span that is both summed is not its own.
    #[test]
    fn agent_totals_sum_each_chat_span_below_once() {
        let n = 20_000;
        let mut spans = vec![span(0, None, "invoke_agent", 0)];
        spans.extend((1..=n).map(|i| span(i, Some(i - 1), "chat", 2)));
        // A nested agent halfway down: it sees only the chat spans below it.
        spans[n / 2] = span(n / 2, Some(n / 2 - 1), "invoke_agent", 0);
        let rows = tree(&spans);
        let totals = agent_subtree_totals(&rows);
        let top = &totals[format!("{:016x}", 0).as_str()];
        assert_eq!(top.calls, n - 1);
        assert_eq!(top.tokens.input, 2 * (n as i64 - 1));
        let nested = &totals[format!("{:016x}", n / 2).as_str()];
        assert_eq!(nested.calls, n - n / 2);
        assert_eq!(totals.len(), 2);
    }

    /// A parent cycle (bad input) is cut where the tree cuts it: the totals stay finite and
    /// each chat span is counted at most once per agent.
    #[test]
    fn agent_totals_survive_a_parent_cycle() {
        let spans = vec![
            span(1, Some(3), "invoke_agent", 0),
            span(2, Some(1), "chat", 5),
            span(3, Some(2), "chat", 7),
        ];
        let rows = tree(&spans);
        let totals = agent_subtree_totals(&rows);
        let agent = &totals[format!("{:016x}", 1).as_str()];
        assert_eq!((agent.calls, agent.tokens.input), (2, 12));
    }

    /// Issue 27: a span ending at `u64::MAX` and token counts at `i64::MAX` render (the
    /// timeline ticks and the token sums overflowed: the trace page answered 500).
    #[test]
    fn extreme_times_and_counts_render() {
        let mut a = span(1, None, "chat", i64::MAX);
        a.end_unix_nanos = u64::MAX;
        a.attributes.insert(
            sc::GEN_AI_USAGE_OUTPUT_TOKENS.to_owned(),
            AttrValue::Int(i64::MAX),
        );
        let b = span(2, Some(1), "chat", i64::MAX);
        let html = render(&[a, b], &[], "", "").into_string();
        assert!(
            html.contains("9,223,372,036,854,775,807"),
            "saturated total shown"
        );
    }
}
