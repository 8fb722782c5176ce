//! The Prometheus HTTP API (`/api/v1/...`) over the store's samples, with Prometheus' JSON
//! shapes, status codes and error format — enough for Grafana's Prometheus data source.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::traces::{form_pairs, param};
use crate::query::promql::{self as engine, SeriesSource};
use crate::store::{now_unix_nanos, Store};

/// Longest a query may run when no `timeout` is given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn routes() -> Router<Store> {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .route("/api/v1/metadata", get(metadata))
}

/// An API failure: Prometheus' error type and the HTTP status it goes with.
#[derive(Debug)]
struct ApiError {
    kind: &'static str,
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_data(message: impl Into<String>) -> Self {
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

fn success(data: Value) -> Response {
    Json(json!({ "status": "success", "data": data })).into_response()
}

/// The parameters of a request: the query string, then a form body (Prometheus reads both).
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn new(raw: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Self {
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

    fn get(&self, name: &str) -> Option<&str> {
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
    (now_unix_nanos() / 1_000_000) as i64
}

/// A Prometheus time parameter: RFC 3339 or Unix seconds (fractions allowed).
fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
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
            crate::time::parse_duration(v).map_err(|_| {
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

/// Runs a query off the async threads, bounded by `timeout`.
async fn run(
    store: Store,
    timeout: Duration,
    f: impl FnOnce(&dyn SeriesSource) -> Result<Value, engine::PromError> + Send + 'static,
) -> Response {
    let task = tokio::task::spawn_blocking(move || f(&store));
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(Ok(data))) => success(data),
        Ok(Ok(Err(err))) => engine_error(err).into_response(),
        Ok(Err(join)) => ApiError {
            kind: "execution",
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("query failed: {join}"),
        }
        .into_response(),
        Err(_) => ApiError {
            kind: "timeout",
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("query timed out after {timeout:?}"),
        }
        .into_response(),
    }
}

async fn query(
    State(store): State<Store>,
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
    run(store, timeout, move |src| {
        engine::instant_query(src, &q, time).map(|r| r.to_json())
    })
    .await
}

async fn query_range(
    State(store): State<Store>,
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
        let step_ms = step.as_millis() as i64;
        if step_ms <= 0 {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths are \
                 not accepted. Try a positive integer",
            ));
        }
        if (end - start) / step_ms > 11_000 {
            return Err(ApiError::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the \
                 query resolution (?step=XX)",
            ));
        }
        let timeout = duration_param(&params, "timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        Ok::<_, ApiError>((q, start, end, step_ms, timeout))
    })();
    let (q, start, end, step_ms, timeout) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    run(store, timeout, move |src| {
        engine::range_query(src, &q, start, end, step_ms).map(|r| r.to_json())
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

async fn series(
    State(store): State<Store>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    let matches = params.all("match[]");
    if matches.is_empty() {
        return ApiError::bad_data("no match[] parameter provided").into_response();
    }
    let result = window(&params)
        .and_then(|(s, e)| engine::series(&store, &matches, s, e).map_err(engine_error));
    match result {
        Ok(list) => success(json!(list)),
        Err(e) => e.into_response(),
    }
}

async fn labels(
    State(store): State<Store>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &body);
    let matches = params.all("match[]");
    if matches.is_empty() {
        return success(json!(store.label_names()));
    }
    let result = window(&params)
        .and_then(|(s, e)| engine::label_names(&store, &matches, s, e).map_err(engine_error));
    match result {
        Ok(names) => success(json!(names)),
        Err(e) => e.into_response(),
    }
}

async fn label_values(
    State(store): State<Store>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::new(raw.as_deref(), &headers, &[]);
    let matches = params.all("match[]");
    if matches.is_empty() {
        return success(json!(store.label_values(&name)));
    }
    let result = window(&params).and_then(|(s, e)| {
        engine::label_values(&store, &name, &matches, s, e).map_err(engine_error)
    });
    match result {
        Ok(values) => success(json!(values)),
        Err(e) => e.into_response(),
    }
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
async fn metadata(State(store): State<Store>, RawQuery(raw): RawQuery) -> Response {
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
