//! The Prometheus HTTP API (`/api/v1/...`) over the store's samples, with Prometheus' JSON
//! shapes, status codes and error format — enough for Grafana's Prometheus data source.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::prom_meta;
use crate::http::params::{form_pairs, param};
use crate::query::promql::{self as engine, QueryLimits, SeriesSource};
use crate::storage::{now_unix_nanos, Store};

/// Longest a query may run when no `timeout` is given.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Queries evaluated at once (Prometheus' `--query.max-concurrency` default); more wait.
const MAX_CONCURRENT_QUERIES: usize = 20;

/// The stack of a query thread. The evaluator recurses once per expression level (at most
/// [`engine::MAX_EXPRESSION_DEPTH`]) and the parser's tree is dropped recursively: 64 MiB holds
/// that many times over, whatever the build. It is address space: only the pages a query
/// touches are ever committed.
const QUERY_STACK_BYTES: usize = 64 << 20;

/// What the Prometheus routes share: the store, the query limits, and the query threads' seats.
#[derive(Clone)]
pub(crate) struct PromState {
    pub(super) store: Store,
    limits: QueryLimits,
    seats: Arc<tokio::sync::Semaphore>,
    /// When these routes were built (the runtime info's start time).
    pub(super) started: std::time::SystemTime,
}

impl PromState {
    pub(crate) fn new(store: Store, limits: QueryLimits) -> Self {
        Self {
            store,
            limits,
            seats: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_QUERIES)),
            started: std::time::SystemTime::now(),
        }
    }
}

pub(crate) fn routes(state: PromState) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/metadata", get(metadata))
        .route(
            "/api/v1/query_exemplars",
            get(prom_meta::query_exemplars).post(prom_meta::query_exemplars),
        )
        .route(
            "/api/v1/format_query",
            get(prom_meta::format_query).post(prom_meta::format_query),
        )
        .route(
            "/api/v1/parse_query",
            get(prom_meta::parse_query).post(prom_meta::parse_query),
        )
        .route("/api/v1/status/runtimeinfo", get(prom_meta::runtime_info))
        .route("/api/v1/targets", get(prom_meta::targets))
        .route("/api/v1/rules", get(prom_meta::rules))
        .route("/api/v1/alerts", get(prom_meta::alerts))
        .with_state(state)
}

/// An API failure: Prometheus' error type and the HTTP status it goes with.
#[derive(Debug)]
pub(super) struct ApiError {
    kind: &'static str,
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(super) fn bad_data(message: impl Into<String>) -> Self {
        Self {
            kind: "bad_data",
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({
                "status": "error",
                "errorType": self.kind,
                "error": self.message,
            })),
        )
            .into_response()
    }
}

pub(super) fn success(data: Value) -> Response {
    Json(json!({ "status": "success", "data": data })).into_response()
}

/// Prometheus' warning when `limit` cut a metadata answer short.
const TRUNCATED: &str = "results truncated due to limit";

/// A metadata answer (`series`, `labels`, `label/…/values`) cut to `limit` entries (0: all),
/// with Prometheus' warning when something was cut.
fn limited<T: serde::Serialize>(mut items: Vec<T>, limit: usize) -> Value {
    let truncated = limit > 0 && items.len() > limit;
    if truncated {
        items.truncate(limit);
    }
    let mut reply = json!({ "status": "success", "data": items });
    if truncated {
        reply["warnings"] = json!([TRUNCATED]);
    }
    reply
}

/// Prometheus' `limit` parameter: a non-negative integer, 0 (the default) for no limit.
fn limit_param(params: &Params) -> Result<usize, ApiError> {
    match params.get("limit") {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<usize>().map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"limit\": {v:?} is not a non-negative integer"
            ))
        }),
    }
}

/// The parameters of a request: the query string, then a form body (Prometheus reads both).
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn new(raw: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut pairs = form_pairs(raw.unwrap_or(""));
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            pairs.extend(form_pairs(&String::from_utf8_lossy(body)));
        }
        Self(pairs)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        param(&self.0, name)
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn now_ms() -> i64 {
    i64::try_from(now_unix_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A Prometheus time parameter: RFC 3339 or Unix seconds (fractions allowed).
pub(super) fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => engine::parse_time(v).map_err(|e| {
            ApiError::bad_data(format!("invalid parameter \"{name}\": {}", e.message()))
        }),
    }
}

/// A Prometheus duration parameter: seconds (fractions allowed) or `5m`-style.
fn duration_param(params: &Params, name: &str) -> Result<Option<Duration>, ApiError> {
    params
        .get(name)
        .map(|v| {
            crate::model::time::parse_duration(v).map_err(|_| {
                ApiError::bad_data(format!(
                    "invalid parameter \"{name}\": cannot parse {v:?} to a valid duration"
                ))
            })
        })
        .transpose()
}

fn engine_error(err: engine::PromError) -> ApiError {
    ApiError {
        kind: err.error_type(),
        status: StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        message: err.message().to_owned(),
    }
}

/// What a query thread answers: the `data` of a success, or a whole reply (with `warnings`).
pub(super) enum Reply {
    Data(Value),
    Whole(Value),
}

/// Runs `f` (parse and evaluate a query) on its own thread with a known stack
/// ([`QUERY_STACK_BYTES`]), at most [`MAX_CONCURRENT_QUERIES`] at once, and answers with its
/// result, or with Prometheus' `timeout` error after `timeout`. The evaluation checks the same
/// deadline itself, so a timed-out query also stops working and frees its memory.
pub(super) async fn run(
    state: &PromState,
    timeout: Duration,
    f: impl FnOnce(&dyn SeriesSource, &QueryLimits) -> Result<Reply, engine::PromError> + Send + 'static,
) -> Response {
    let timed_out = || {
        ApiError {
            kind: "timeout",
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("query timed out after {timeout:?}"),
        }
        .into_response()
    };
    let started = tokio::time::Instant::now();
    let Ok(Ok(seat)) = tokio::time::timeout(timeout, state.seats.clone().acquire_owned()).await
    else {
        return timed_out();
    };
    let limits = state
        .limits
        .with_timeout(timeout.saturating_sub(started.elapsed()));
    let store = state.store.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("promql".into())
        .stack_size(QUERY_STACK_BYTES)
        .spawn(move || {
            let result = f(&store, &limits);
            drop(seat);
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return ApiError {
            kind: "internal",
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("cannot start a query thread: {e}"),
        }
        .into_response();
    }
    match tokio::time::timeout(timeout.saturating_sub(started.elapsed()), rx).await {
        Ok(Ok(Ok(Reply::Data(data)))) => success(data),
        Ok(Ok(Ok(Reply::Whole(reply)))) => Json(reply).into_response(),
        Ok(Ok(Err(err))) => engine_error(err).into_response(),
        Ok(Err(_)) => ApiError {
            kind: "execution",
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "the query failed unexpectedly".into(),
        }
        .into_response(),
        Err(_) => timed_out(),
    }
}

async fn query(
    State(state): State<PromState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    let prepared = (|| {
        let q = params
            .get("query")
            .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": empty query"))?
            .to_owned();
        let time = time_param(&params, "time", now_ms())?;
        let timeout = duration_param(&params, "timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        Ok::<_, ApiError>((q, time, timeout))
    })();
    let (q, time, timeout) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    run(&state, timeout, move |src, limits| {
        engine::instant_query_with_limits(src, &q, time, limits).map(|r| Reply::Data(r.to_json()))
    })
    .await
}

async fn query_range(
    State(state): State<PromState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    let prepared = (|| {
        let q = params
            .get("query")
            .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": empty query"))?
            .to_owned();
        let start = params
            .get("start")
            .ok_or_else(|| ApiError::bad_data("invalid parameter \"start\": missing"))
            .and_then(|_| time_param(&params, "start", 0))?;
        let end = params
            .get("end")
            .ok_or_else(|| ApiError::bad_data("invalid parameter \"end\": missing"))
            .and_then(|_| time_param(&params, "end", 0))?;
        if end < start {
            return Err(ApiError::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        let step = duration_param(&params, "step")?
            .ok_or_else(|| ApiError::bad_data("invalid parameter \"step\": missing"))?;
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
        if step_ms <= 0 {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths are \
                 not accepted. Try a positive integer",
            ));
        }
        engine::step_count(start, end, step_ms).map_err(engine_error)?;
        let timeout = duration_param(&params, "timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        Ok::<_, ApiError>((q, start, end, step_ms, timeout))
    })();
    let (q, start, end, step_ms, timeout) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    run(&state, timeout, move |src, limits| {
        engine::range_query_with_limits(src, &q, start, end, step_ms, limits)
            .map(|r| Reply::Data(r.to_json()))
    })
    .await
}

/// The `[start, end]` window of a metadata request (default: everything).
fn window(params: &Params) -> Result<(i64, i64), ApiError> {
    Ok((
        time_param(params, "start", i64::MIN / 2)?,
        time_param(params, "end", i64::MAX / 2)?,
    ))
}

/// The `match[]` selectors and the window of a metadata request.
fn metadata_params(params: &Params) -> Result<(Vec<String>, i64, i64, usize), ApiError> {
    let matches = params
        .all("match[]")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let (start, end) = window(params)?;
    Ok((matches, start, end, limit_param(params)?))
}

async fn series(
    State(state): State<PromState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    let (matches, start, end, limit) = match metadata_params(&params) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if matches.is_empty() {
        return ApiError::bad_data("no match[] parameter provided").into_response();
    }
    run(&state, DEFAULT_TIMEOUT, move |src, _| {
        engine::series(src, &matches, start, end).map(|list| Reply::Whole(limited(list, limit)))
    })
    .await
}

async fn labels(
    State(state): State<PromState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    let (matches, start, end, limit) = match metadata_params(&params) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if matches.is_empty() {
        return Json(limited(state.store.label_names(), limit)).into_response();
    }
    run(&state, DEFAULT_TIMEOUT, move |src, _| {
        engine::label_names(src, &matches, start, end)
            .map(|names| Reply::Whole(limited(names, limit)))
    })
    .await
}

async fn label_values(
    State(state): State<PromState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &[]);
    let (matches, start, end, limit) = match metadata_params(&params) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if matches.is_empty() {
        return Json(limited(state.store.label_values(&name), limit)).into_response();
    }
    run(&state, DEFAULT_TIMEOUT, move |src, _| {
        engine::label_values(src, &name, &matches, start, end)
            .map(|values| Reply::Whole(limited(values, limit)))
    })
    .await
}

async fn buildinfo() -> Response {
    success(json!({
        "version": "2.53.0",
        "revision": concat!("vystak-otel-viewer ", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

/// Metric metadata derived from the stored metric names: `_bucket`/`_sum`/`_count` families are
/// histograms, `_total` counters, the rest gauges; help and unit come from the OTLP metric.
async fn metadata(
    State(PromState { store, .. }): State<PromState>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::new(raw.as_deref(), &HeaderMap::new(), &[]);
    let only = params.get("metric");
    let limit: Option<usize> = params.get("limit").and_then(|v| v.parse().ok());
    let mut families: BTreeMap<String, &'static str> = BTreeMap::new();
    for name in store.label_values("__name__") {
        let (family, kind) = if let Some(base) = name
            .strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_sum"))
            .or_else(|| name.strip_suffix("_count"))
        {
            (base.to_owned(), "histogram")
        } else if name.ends_with("_total") {
            (name.clone(), "counter")
        } else {
            (name.clone(), "gauge")
        };
        families.entry(family).or_insert(kind);
    }
    let help: BTreeMap<String, (String, String)> = store
        .all_metric_points()
        .into_iter()
        .map(|p| {
            (
                p.metric_name.replace(['.', '-', '/'], "_"),
                (p.description, p.unit),
            )
        })
        .collect();
    let mut data = serde_json::Map::new();
    for (family, kind) in families {
        if only.is_some_and(|m| m != family) {
            continue;
        }
        if limit.is_some_and(|l| data.len() >= l) {
            break;
        }
        let (help_text, unit) = help
            .iter()
            .find(|(k, _)| family.starts_with(k.as_str()))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        data.insert(
            family,
            json!([{ "type": kind, "help": help_text, "unit": unit }]),
        );
    }
    success(Value::Object(data))
}
