//! The web UI on the query port (`http://127.0.0.1:13000` by default): server-rendered HTML
//! pages over the same [`Store`] the receivers write into.
//!
//! | Page | What |
//! |---|---|
//! | `/` | trace search: `service`, `operation`, `status=error`, `min_duration_ms`, `attr=key=value`, `since`, `before`, `limit` — the parameters of `GET /api/traces`, so a search is a link |
//! | `/trace/{trace_id}` | the waterfall: nested spans with timing bars to scale, service colours, kinds, errors; a collapsible tree; the selected span's attributes, events, links, logs and resource; span search (`q`); token totals by service and model; model, tokens and cost inline on every chat span |
//! | `/genai` | one row per GenAI chat span (seed names and `gen_ai_latest_experimental` names): tokens, duration, time to first chunk, finish reason, error, trace; filters `service`, `model`; totals |
//! | `/tokens` | the seed's PromQL token queries as charts over `range` ending at `end`, each with its PromQL and its value at `end`; `query` runs any supported PromQL (table + chart) |
//! | `/metrics-explorer` | every metric and its series; `metric=` charts one, with a histogram's distribution and quantiles over time |
//!
//! Everything is rendered on the server (reading needs no JavaScript; a small embedded script
//! adds collapsing and live span search), charts are inline SVG, every stored value is
//! HTML-escaped, and the assets are compiled into the binary — no CDN, no build step.
//!
//! [`router`] serves the pages; [`crate::Viewer`] merges them with [`crate::api::router`] on its
//! UI port.

mod chart;
mod genai;
mod metrics;
mod search;
mod tokens;
mod trace;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use crate::http::params::{form_pairs, param};
use crate::storage::Store;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// The UI pages over `store`, ready to serve or to merge with the query API (the viewer's UI
/// port serves both).
///
/// ```
/// use vystak_otel_viewer::{api, ui, Store};
///
/// let store = Store::new();
/// let app: axum::Router = ui::router(store.clone()).merge(api::router(store));
/// ```
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", page(Nav::Traces, search::render))
        .route("/trace/{trace_id}", get(trace::page))
        .route("/genai", page(Nav::GenAi, genai::render))
        .route("/tokens", page(Nav::Tokens, tokens::render))
        .route("/metrics-explorer", page(Nav::Metrics, metrics::render))
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
        .route("/favicon.ico", get(favicon))
        .with_state(store)
}

/// A page built from its query string alone, off the async threads.
fn page(
    nav: Nav,
    render: fn(&Store, Option<&str>) -> Response,
) -> axum::routing::MethodRouter<Store> {
    get(move |State(store): State<Store>, RawQuery(raw): RawQuery| {
        blocking(store, nav, move |s| render(s, raw.as_deref()))
    })
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Traces,
    GenAi,
    Tokens,
    Metrics,
}

/// The page shell: head, navigation, the store's counts, `body`.
fn layout(store: &Store, title: &str, nav: Nav, body: Markup) -> Markup {
    let spans = store.span_count();
    let samples = store.sample_count();
    let entries = [
        (Nav::Traces, "/", "Traces"),
        (Nav::GenAi, "/genai", "Model calls"),
        (Nav::Tokens, "/tokens", "Tokens"),
        (Nav::Metrics, "/metrics-explorer", "Metrics"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · vystak-otel" }
                link rel="stylesheet" href="/assets/app.css";
            }
            body {
                header.top {
                    a.brand href="/" { "vystak-otel" }
                    nav {
                        @for (n, href, label) in entries {
                            a href=(href) class=[(n == nav).then_some("active")] { (label) }
                        }
                    }
                    span.stats {
                        (spans) " spans · " (samples) " samples"
                        @if store.is_persistent() { " · SQLite" }
                    }
                }
                main { (body) }
                script src="/assets/app.js" {}
            }
        }
    }
}

/// A page that could not be built from its parameters: the message, with status 400.
fn error_page(store: &Store, nav: Nav, status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { "Cannot show this page" }
        p.error-box { (message) }
        p { a href="/" { "Back to the trace search" } }
    };
    (status, layout(store, "Error", nav, body)).into_response()
}

/// Runs a page builder off the async threads (searches and PromQL walk the store).
async fn blocking(
    store: Store,
    nav: Nav,
    f: impl FnOnce(&Store) -> Response + Send + 'static,
) -> Response {
    let s = store.clone();
    match tokio::task::spawn_blocking(move || f(&s)).await {
        Ok(r) => r,
        Err(e) => error_page(
            &store,
            nav,
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("rendering failed: {e}"),
        ),
    }
}

/// The colour of a service: stable across pages and runs (a hash into a fixed palette).
fn service_colour(service: &str) -> &'static str {
    const PALETTE: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
        "#e15759", "#bab0ac",
    ];
    // FNV-1a: stable, unlike the std hasher.
    let h = service.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let index = h.checked_rem(PALETTE.len() as u64).unwrap_or(0);
    PALETTE[usize::try_from(index).unwrap_or(0)]
}

/// A service name with its colour dot.
fn service_chip(service: &str) -> Markup {
    html! {
        span.svc {
            span.dot style={ "background:" (service_colour(service)) } {}
            (if service.is_empty() { "(no service.name)" } else { service })
        }
    }
}

/// A filter `<select>` named `name`: an "all" entry (value `""`), then `options` with `current`
/// selected — kept as an option when it is not among `options`, so a shared link shows the
/// search it runs. An empty option would repeat the "all" entry and is left out.
fn filter_select(name: &str, all: &str, options: &[String], current: &str) -> Markup {
    html! {
        select name=(name) {
            option value="" { (all) }
            @for o in options.iter().filter(|o| !o.is_empty()) {
                option value=(o) selected[o == current] { (o) }
            }
            @if !current.is_empty() && !options.iter().any(|o| o == current) {
                option value=(current) selected { (current) }
            }
        }
    }
}

/// A duration for people: `850 µs`, `12.3 ms`, `1.24 s`.
fn fmt_duration(nanos: u64) -> String {
    let ns = nanos as f64;
    if nanos < 1_000 {
        format!("{nanos} ns")
    } else if nanos < 1_000_000 {
        format!("{:.0} µs", ns / 1e3)
    } else if nanos < 10_000_000 {
        format!("{:.2} ms", ns / 1e6)
    } else if nanos < 1_000_000_000 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// An integer with thousands separators: `12,345`.
fn fmt_int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len().saturating_mul(2));
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && digits.len().saturating_sub(i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// US dollars: `$0.0123`.
fn fmt_cost(usd: f64) -> String {
    if usd >= 1.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

/// A URL path with a query string built from `params` (empty values left out).
fn href(path: &str, params: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if !v.is_empty() {
            ser.append_pair(k, v);
        }
    }
    let qs = ser.finish();
    if qs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{qs}")
    }
}

/// The query pairs of a request, in order.
fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_pairs(raw.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1_000), "1,000");
        assert_eq!(fmt_int(-1_234_567), "-1,234,567");
        assert_eq!(fmt_duration(850), "850 ns");
        assert_eq!(fmt_duration(12_300_000), "12.3 ms");
        assert_eq!(fmt_duration(1_240_000_000), "1.24 s");
        assert_eq!(fmt_cost(0.012_34), "$0.0123");
        assert_eq!(
            href(
                "/",
                &[("service", "a b"), ("operation", ""), ("attr", "k=v")]
            ),
            "/?service=a+b&attr=k%3Dv"
        );
    }

    #[test]
    fn service_colours_are_stable_and_spread() {
        assert_eq!(
            service_colour("vystak-coordinator"),
            service_colour("vystak-coordinator")
        );
        let names = [
            "vystak-channel-chat",
            "vystak-channel-slack",
            "vystak-coordinator",
            "vystak-weather-agent",
            "vystak-time-agent",
        ];
        let distinct: std::collections::BTreeSet<_> =
            names.iter().map(|n| service_colour(n)).collect();
        assert!(distinct.len() >= 4, "{distinct:?}");
    }
}
