//! `GET /api/traces`, `/api/traces/{trace_id}`, `/api/services`, `/api/operations`.

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::json as views;
use crate::query::traces::{self, LookupError, TraceQuery};
use crate::store::{now_unix_nanos, Store};
use crate::time::{parse_duration, parse_rfc3339_nanos};

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message, "status": 400 })),
    )
        .into_response()
}

/// A point in time: RFC 3339, Unix nanoseconds, or a duration ago (`1h`, `30m`).
fn parse_instant(name: &str, value: &str) -> Result<u64, String> {
    if let Ok(ns) = value.parse::<u64>() {
        return Ok(ns);
    }
    if let Ok(ns) = parse_rfc3339_nanos(value) {
        return if ns < 0 {
            Err(format!("{name}={value}: before 1970"))
        } else {
            Ok(u64::try_from(ns).unwrap_or(u64::MAX))
        };
    }
    parse_duration(value)
        .map(|ago| {
            now_unix_nanos().saturating_sub(u64::try_from(ago.as_nanos()).unwrap_or(u64::MAX))
        })
        .map_err(|_| {
            format!("{name}={value}: expected RFC 3339, Unix nanoseconds or a duration like 1h")
        })
}

/// Parses the query string of `GET /api/traces`.
pub(crate) fn parse_query(raw: Option<&str>) -> Result<TraceQuery, String> {
    let mut q = TraceQuery::default();
    for (k, v) in form_pairs(raw.unwrap_or("")) {
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "service" => q.service = Some(v),
            "operation" | "name" => q.operation = Some(v),
            "status" => match v.as_str() {
                "error" => q.errors_only = true,
                "any" | "all" => q.errors_only = false,
                other => return Err(format!("status={other}: expected error or any")),
            },
            "min_duration_ms" => {
                let duration = v
                    .parse::<f64>()
                    .ok()
                    .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
                    .ok_or_else(|| {
                        format!(
                            "min_duration_ms={v}: expected a number of milliseconds from 0 to {}",
                            u64::MAX
                        )
                    })?;
                q.min_duration = Some(duration);
            }
            "min_duration" => {
                q.min_duration =
                    Some(parse_duration(&v).map_err(|e| format!("min_duration: {e}"))?);
            }
            "attr" => {
                let (key, value) = v
                    .split_once('=')
                    .ok_or_else(|| format!("attr={v}: expected key=value"))?;
                q.attributes.push((key.to_owned(), value.to_owned()));
            }
            "since" | "start" => q.since_unix_nanos = Some(parse_instant(&k, &v)?),
            "before" | "end" => match traces::parse_cursor(&v) {
                Some((start, trace_id)) => {
                    q.before_unix_nanos = Some(start);
                    q.before_trace_id = Some(trace_id);
                }
                None => q.before_unix_nanos = Some(parse_instant(&k, &v)?),
            },
            "limit" => {
                q.limit = v
                    .parse()
                    .map_err(|_| format!("limit={v}: expected a positive integer"))?;
            }
            _ => {}
        }
    }
    Ok(q)
}

/// `application/x-www-form-urlencoded` pairs, in order (repeated keys kept).
pub(crate) fn form_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The last non-empty value of `name` among `pairs` (as Prometheus reads a repeated parameter).
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

pub(crate) async fn search(State(store): State<Store>, RawQuery(raw): RawQuery) -> Response {
    let query = match parse_query(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    let store2 = store.clone();
    let q2 = query.clone();
    let found = tokio::task::spawn_blocking(move || traces::search(&store2, &q2))
        .await
        .unwrap_or_default();
    let limit = query.effective_limit();
    let next_before = traces::next_cursor(&found, &query);
    Json(json!({
        "traces": found.iter().map(views::summary).collect::<Vec<_>>(),
        "limit": limit,
        "next_before": next_before,
    }))
    .into_response()
}

/// Off the async threads: with a SQLite file the lookup reads the file (a large trace is many
/// rows to parse), which must not hold up the receivers sharing the runtime.
pub(crate) async fn get(State(store): State<Store>, Path(trace_id): Path<String>) -> Response {
    tokio::task::spawn_blocking(move || get_blocking(&store, &trace_id))
        .await
        .unwrap_or_else(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": format!("the lookup failed: {e}"), "status": 500 })),
            )
                .into_response()
        })
}

fn get_blocking(store: &Store, trace_id: &str) -> Response {
    match traces::get(store, trace_id) {
        Ok(spans) => {
            let summary = traces::summarize(&spans);
            let logs = store.logs_for_trace(&spans[0].trace_id);
            Json(json!({
                "trace_id": spans[0].trace_id,
                "summary": summary.as_ref().map(views::summary),
                "spans": spans.iter().map(views::span).collect::<Vec<_>>(),
                "logs": logs.iter().map(views::log).collect::<Vec<_>>(),
            }))
            .into_response()
        }
        Err(e @ LookupError::Malformed(_)) => bad_request(e.to_string()),
        Err(e) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": e.to_string(), "status": 404 })),
        )
            .into_response(),
    }
}

pub(crate) async fn services(State(store): State<Store>) -> Response {
    Json(json!({ "services": store.services() })).into_response()
}

pub(crate) async fn operations(State(store): State<Store>, RawQuery(raw): RawQuery) -> Response {
    let service = form_pairs(raw.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, v)| k == "service" && !v.is_empty())
        .map(|(_, v)| v);
    Json(json!({
        "service": service,
        "operations": store.operations(service.as_deref()),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string_is_parsed() {
        let q = parse_query(Some(
            "service=vystak-channel-slack&operation=slack.app_mention&status=error\
             &min_duration_ms=250&attr=gen_ai.system%3Danthropic&limit=5&before=123",
        ))
        .unwrap();
        assert_eq!(q.service.as_deref(), Some("vystak-channel-slack"));
        assert_eq!(q.operation.as_deref(), Some("slack.app_mention"));
        assert!(q.errors_only);
        assert_eq!(q.min_duration, Some(Duration::from_millis(250)));
        assert_eq!(
            q.attributes,
            [("gen_ai.system".to_owned(), "anthropic".to_owned())]
        );
        assert_eq!((q.limit, q.before_unix_nanos), (5, Some(123)));
        let q = parse_query(Some("since=2025-01-02T03:04:05Z")).unwrap();
        assert_eq!(q.since_unix_nanos, Some(1_735_787_045_000_000_000));
        let q = parse_query(Some("since=1h")).unwrap();
        let hour_ago = now_unix_nanos() - 3_600_000_000_000;
        assert!(q.since_unix_nanos.unwrap().abs_diff(hour_ago) < 60_000_000_000);
        assert!(parse_query(Some("status=bogus")).is_err());
        assert!(parse_query(Some("attr=novalue")).is_err());
        assert_eq!(form_pairs("a=x%20b+c%3d&a=2")[0].1, "x b c=");
        assert_eq!(form_pairs("a=100%").len(), 1);
    }
}
