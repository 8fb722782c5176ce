//! `GET /api/traces`, `/api/traces/{trace_id}`, `/api/services`, `/api/operations`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::json as views;
use crate::http::params::{form_pairs, parse_query};
use crate::query::traces::{self, LookupError};
use crate::storage::Store;

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message, "status": 400 })),
    )
        .into_response()
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
    use std::time::Duration;

    use super::*;
    use crate::storage::now_unix_nanos;

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
