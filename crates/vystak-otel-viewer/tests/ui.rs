//! The web UI over spans exported through the SDK's real OTLP exporters, read in a real headless
//! Chromium: hostile values render as text, a 2,000-span trace renders, the pages answer bad
//! parameters with a page that says what is wrong. (The demo's trace in the browser is
//! `tests/agents.rs` in the workspace root.)

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::{shutdown, span_exporter, tracer_provider, Transport};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use vystak_otel_testkit::browser::{self, attr, tags_with_class};
use vystak_otel_viewer::Receiver;

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(2)>";
const BREAKOUT: &str = "\" onmouseover=\"alert(3)\" x=\"";

async fn body(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A trace whose service name, span names, attribute keys and values, event and status
/// message are all markup; exported over OTLP/HTTP.
async fn export_hostile(receiver: &Receiver) -> String {
    let tp = tracer_provider(
        span_exporter(
            Transport::HttpProto { gzip: false },
            "",
            &receiver.http_endpoint().unwrap(),
        ),
        IMG,
    );
    let t = tp.tracer("hostile");
    let root = t
        .span_builder(SCRIPT)
        .with_kind(SpanKind::Server)
        .with_attributes([KeyValue::new("note", SCRIPT), KeyValue::new(IMG, BREAKOUT)])
        .start(&t);
    let trace_id = root.span_context().trace_id().to_string();
    let cx = Context::current_with_span(root);
    let mut chat = t
        .span_builder("gen_ai.chat")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("gen_ai.request.model", SCRIPT),
            KeyValue::new("gen_ai.usage.input_tokens", 10_i64),
            KeyValue::new("gen_ai.usage.output_tokens", 2_i64),
            KeyValue::new("gen_ai.response.finish_reasons", SCRIPT),
        ])
        .start_with_context(&t, &cx);
    chat.add_event(IMG, vec![KeyValue::new("exception.message", SCRIPT)]);
    chat.set_status(Status::error(SCRIPT));
    chat.end();
    cx.span().end();
    shutdown(tp).await;
    assert_eq!(
        receiver
            .store()
            .wait_for_spans(2, Duration::from_secs(20))
            .await
            .len(),
        2
    );
    trace_id
}

/// `true` when some element of the serialised `dom` has attribute `name` (a scan of the
/// opening tags, outside quoted values; text nodes may hold the same characters harmlessly).
fn has_attribute(dom: &str, name: &str) -> bool {
    let b = dom.as_bytes();
    let (mut in_tag, mut quote) = (false, None);
    for i in 0..b.len() {
        let c = b[i];
        if !in_tag {
            in_tag = c == b'<' && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == b'"' || c == b'\'' {
            quote = Some(c);
        } else if c == b'>' {
            in_tag = false;
        } else if c.is_ascii_whitespace()
            && dom[i + 1..].starts_with(name)
            && matches!(b.get(i + 1 + name.len()), Some(b'=' | b' ' | b'>'))
        {
            return true;
        }
    }
    false
}

#[test]
fn the_attribute_scan_tells_a_tag_from_text() {
    assert!(has_attribute("<p onmouseover=\"x\">", "onmouseover"));
    assert!(!has_attribute(
        "<p title=\"a onmouseover=&quot;x\">\" onmouseover=\"</p>",
        "onmouseover"
    ));
}

fn assert_inert(dom: &str, page: &str) {
    assert!(
        !dom.contains("<script>alert"),
        "{page}: a script was injected"
    );
    assert!(!dom.contains("<img"), "{page}: an element was injected");
    assert!(
        !has_attribute(dom, "onmouseover"),
        "{page}: an attribute was injected"
    );
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "{page}: only the viewer's own script"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}: the hostile value is shown as text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_render_as_text_in_every_page() {
    let receiver = Receiver::start_local().await.unwrap();
    let trace_id = export_hostile(&receiver).await;
    let ui = receiver.ui_url().unwrap();
    let pages = [
        format!("{ui}/"),
        format!("{ui}/trace/{trace_id}"),
        format!("{ui}/trace/{trace_id}?q=%3Cscript%3E"),
        format!("{ui}/genai"),
        format!("{ui}/tokens?query=%3Cscript%3Ealert(1)%3C/script%3E"),
    ];
    for url in &pages {
        let dom = tokio::task::spawn_blocking({
            let url = url.clone();
            move || browser::dump_dom(&url)
        })
        .await
        .unwrap();
        assert_inert(&dom, url);
    }
    // The span search matches the hostile values as text (server side, `q`): the root's name
    // and the chat span's model; `onmouseover` only the root's attribute value.
    let (status, html) = body(&format!("{ui}/trace/{trace_id}?q=%3Cscript%3E")).await;
    assert_eq!(status, 200);
    assert!(html.contains("2 matching"), "{html}");
    let (_, html) = body(&format!("{ui}/trace/{trace_id}?q=onmouseover")).await;
    assert!(html.contains("1 matching"), "{html}");
    assert_eq!(html.matches("class=\"row hit").count(), 1);
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_of_2000_spans_renders_every_row_with_its_parent() {
    let receiver = Receiver::start_local().await.unwrap();
    let tp = tracer_provider(
        span_exporter(Transport::Grpc { gzip: true }, &receiver.endpoint(), ""),
        "vystak-coordinator",
    );
    let t = tp.tracer("load");
    let start = SystemTime::now() - Duration::from_secs(10);
    let root = t
        .span_builder("POST /a2a")
        .with_kind(SpanKind::Server)
        .with_start_time(start)
        .start(&t);
    let trace_id = root.span_context().trace_id().to_string();
    let root_cx = Context::current_with_span(root);
    // 1 root + 4 phases + 399 turns with 4 children each = 2,000 spans, four levels deep.
    let phases: Vec<Context> = (0..4u64)
        .map(|p| {
            let phase = t
                .span_builder(format!("phase {p}"))
                .with_start_time(start + Duration::from_millis(p * 2_000))
                .start_with_context(&t, &root_cx);
            root_cx.with_span(phase)
        })
        .collect();
    for i in 0..399u64 {
        let at = start + Duration::from_millis(i * 20);
        let phase_cx = &phases[(i / 100) as usize];
        let turn = t
            .span_builder(format!("turn {i}"))
            .with_start_time(at)
            .start_with_context(&t, phase_cx);
        let turn_cx = phase_cx.with_span(turn);
        for j in 0..4u64 {
            let mut s = t
                .span_builder(if j == 0 {
                    "gen_ai.chat".to_owned()
                } else {
                    format!("step {j}")
                })
                .with_kind(SpanKind::Client)
                .with_start_time(at + Duration::from_millis(j * 4))
                .with_attributes([
                    KeyValue::new("gen_ai.request.model", "claude-haiku-4-5-20251001"),
                    KeyValue::new("gen_ai.usage.input_tokens", 100_i64),
                    KeyValue::new("gen_ai.usage.output_tokens", 10_i64),
                ])
                .start_with_context(&t, &turn_cx);
            s.end_with_timestamp(at + Duration::from_millis(j * 4 + 3));
        }
        turn_cx
            .span()
            .end_with_timestamp(at + Duration::from_millis(19));
    }
    for (p, phase_cx) in phases.iter().enumerate() {
        phase_cx
            .span()
            .end_with_timestamp(start + Duration::from_millis(p as u64 * 2_000 + 1_999));
    }
    root_cx
        .span()
        .end_with_timestamp(start + Duration::from_secs(8));
    shutdown(tp).await;
    let store = receiver.store().clone();
    assert_eq!(
        store
            .wait_for_spans(2_000, Duration::from_secs(30))
            .await
            .len(),
        2_000
    );
    let url = format!("{}/trace/{trace_id}", receiver.ui_url().unwrap());
    // Server-side time, reported (no assertion: the machine is shared).
    let mut times = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let (status, html) = body(&url).await;
        times.push(t0.elapsed());
        assert_eq!(status, 200);
        assert_eq!(html.matches("role=\"treeitem\"").count(), 2_000);
    }
    times.sort();
    println!("2,000-span trace page over loopback: median {:?}", times[2]);

    let dom = tokio::task::spawn_blocking(move || browser::dump_dom(&url))
        .await
        .unwrap();
    let rows = tags_with_class(&dom, "div", "row");
    assert_eq!(rows.len(), 2_000);
    let spans = store.trace(&trace_id);
    let parent_of: std::collections::HashMap<&str, &str> = spans
        .iter()
        .map(|s| {
            (
                s.span_id.as_str(),
                s.parent_span_id.as_deref().unwrap_or(""),
            )
        })
        .collect();
    let mut depth_of = std::collections::HashMap::new();
    for row in &rows {
        let id = attr(row, "data-id").unwrap();
        let parent = attr(row, "data-parent").unwrap();
        let depth: usize = attr(row, "data-depth").unwrap().parse().unwrap();
        assert_eq!(parent_of[id.as_str()], parent, "row {id}");
        // Tree order: a parent's row comes before its children, one level up.
        if !parent.is_empty() {
            assert_eq!(depth_of[&parent] + 1, depth, "row {id}");
        }
        depth_of.insert(id, depth);
    }
    assert_eq!(tags_with_class(&dom, "span", "genai").len(), 399);
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_get_a_page_that_says_what_is_wrong() {
    let receiver = Receiver::start_local().await.unwrap();
    let ui = receiver.ui_url().unwrap();
    for (path, status, says) in [
        ("/trace/xyz", 400, "malformed trace id"),
        ("/trace/0123456789abcdef0123456789abcdef", 404, "not found"),
        ("/?min_duration_ms=abc", 400, "min_duration_ms=abc"),
        ("/?status=ok", 400, "status=ok"),
        ("/tokens?range=forever", 400, "range=forever"),
        ("/tokens?end=yesterday", 400, "end=yesterday"),
        ("/metrics-explorer?range=0s", 400, "range=0s"),
    ] {
        let (got, html) = body(&format!("{ui}{path}")).await;
        assert_eq!(got, status, "{path}");
        assert!(html.contains(says), "{path}: {html}");
        assert!(
            html.contains("<nav>"),
            "{path}: the page keeps its navigation"
        );
    }
    // A query the engine refuses (native histograms are not stored) is an error box on the
    // page, not a failed page.
    let (got, html) = body(&format!(
        "{ui}/tokens?query={}",
        "histogram_avg(gen_ai_client_token_usage_sum)"
    ))
    .await;
    assert_eq!(got, 200);
    assert!(
        html.contains("error-box") && html.contains("native histograms"),
        "{html}"
    );
    // The assets are embedded and served with their types.
    for (path, ty) in [
        ("/assets/app.css", "text/css"),
        ("/assets/app.js", "text/javascript"),
    ] {
        let r = reqwest::get(format!("{ui}{path}")).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ty));
        assert!(r.text().await.unwrap().len() > 500);
    }
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_form_keeps_its_parameters_and_pages() {
    let receiver = Receiver::start_local().await.unwrap();
    let tp = tracer_provider(
        span_exporter(Transport::Grpc { gzip: false }, &receiver.endpoint(), ""),
        "vystak-channel-chat",
    );
    let t = tp.tracer("paging");
    let start = SystemTime::now() - Duration::from_secs(100);
    let mut ids = Vec::new();
    for i in 0..25u64 {
        let mut s = t
            .span_builder("POST /chat")
            .with_kind(SpanKind::Server)
            .with_start_time(start + Duration::from_secs(i))
            .start(&t);
        if i % 5 == 0 {
            s.set_status(Status::error("boom"));
        }
        ids.push(s.span_context().trace_id().to_string());
        s.end_with_timestamp(start + Duration::from_secs(i) + Duration::from_millis(5));
    }
    shutdown(tp).await;
    receiver
        .store()
        .wait_for_spans(25, Duration::from_secs(20))
        .await;
    let ui = receiver.ui_url().unwrap();
    let url = format!("{ui}/?service=vystak-channel-chat&operation=POST+%2Fchat&limit=20");
    let dom = tokio::task::spawn_blocking(move || browser::dump_dom(&url))
        .await
        .unwrap();
    let rows: Vec<String> = tags_with_class(&dom, "tr", "trace-row")
        .iter()
        .map(|r| attr(r, "data-trace-id").unwrap())
        .collect();
    let newest: Vec<String> = ids.iter().rev().take(20).cloned().collect();
    assert_eq!(rows, newest, "newest first, 20 per page");
    // The form shows the search it ran.
    assert!(dom.contains("<option value=\"vystak-channel-chat\" selected=\"\">"));
    assert!(dom.contains("<option value=\"POST /chat\" selected=\"\">"));
    // The "older" link keeps the search and pages on.
    let older = tags_with_class(&dom, "a", "older");
    let href = attr(older[0], "href").unwrap();
    assert!(href.contains("service=vystak-channel-chat") && href.contains("before="));
    let (_, page2) = body(&format!("{ui}{href}")).await;
    let second: Vec<&str> = ids[..5].iter().rev().map(String::as_str).collect();
    for id in &second {
        assert!(page2.contains(id), "page 2 has {id}");
    }
    assert_eq!(page2.matches("class=\"trace-row").count(), 5);
    // status=error keeps the five failed traces.
    let (_, errors) = body(&format!("{ui}/?status=error")).await;
    assert_eq!(errors.matches("class=\"trace-row err").count(), 5);
    receiver.shutdown().await;
}
