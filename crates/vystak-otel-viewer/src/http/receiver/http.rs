//! The OTLP/HTTP receiver: `POST /v1/traces`, `/v1/metrics`, `/v1/logs` with protobuf or JSON
//! bodies, optionally gzip-compressed, answered as the OTLP/HTTP specification says.

use std::io::Read as _;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::de::DeserializeOwned;

use super::status::{self, RpcStatus, INVALID_ARGUMENT};
use crate::otlp::ingest;
use crate::otlp::json_doubles::{self, Doubles};
use crate::storage::Refusal;
use crate::storage::Store;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

#[derive(Clone, Debug)]
struct HttpState {
    store: Store,
    max_bytes: usize,
}

/// The OTLP/HTTP routes, storing into `store`; bodies (after gunzip) larger than `max_bytes`
/// get `413`.
pub(crate) fn router(store: Store, max_bytes: usize) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .layer(DefaultBodyLimit::max(max_bytes))
        .with_state(HttpState { store, max_bytes })
}

fn error(encoding: Encoding, status: StatusCode, message: String) -> Response {
    let body = RpcStatus {
        code: INVALID_ARGUMENT,
        message,
        details: Vec::new(),
    };
    match encoding {
        Encoding::Protobuf => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
            body.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
            serde_json::json!({ "code": body.code, "message": body.message }).to_string(),
        )
            .into_response(),
    }
}

/// `503 Service Unavailable` with `Retry-After`: nothing was stored, the exporter retries (the
/// OTLP/HTTP specification's throttling reply), with the `google.rpc.Status` and its `RetryInfo`
/// in the request's encoding.
fn retry_later(encoding: Encoding, refusal: &Refusal) -> Response {
    let retry_after = [(
        header::RETRY_AFTER,
        HeaderValue::from(status::RETRY_AFTER.as_secs()),
    )];
    match encoding {
        Encoding::Protobuf => (
            StatusCode::SERVICE_UNAVAILABLE,
            retry_after,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
            status::retry_later(refusal).encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            StatusCode::SERVICE_UNAVAILABLE,
            retry_after,
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
            status::retry_later_json(refusal).to_string(),
        )
            .into_response(),
    }
}

/// Why a request is refused before decoding.
#[derive(Debug)]
struct Rejection(Encoding, StatusCode, String);

/// Checks the headers and returns the decompressed body, or why it is refused.
fn body(
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    max_bytes: usize,
) -> Result<(Encoding, Bytes), Rejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = match mime.as_str() {
        PROTOBUF => Encoding::Protobuf,
        JSON => Encoding::Json,
        _ => {
            return Err(Rejection(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content type {content_type:?}: send {PROTOBUF} or {JSON}"),
            ))
        }
    };
    // A body over the limit (or one that could not be read) is refused in the request's encoding,
    // like every other OTLP error, not with the framework's plain-text rejection.
    let raw = match raw {
        Ok(raw) => raw,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Rejection(
                encoding,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {max_bytes} bytes"),
            ))
        }
        Err(rejection) => {
            return Err(Rejection(
                encoding,
                rejection.status(),
                format!("cannot read the body: {}", rejection.body_text()),
            ))
        }
    };
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match content_encoding.as_str() {
        "" | "identity" => Ok((encoding, raw)),
        "gzip" => {
            let mut out = Vec::new();
            let mut reader = flate2::read::MultiGzDecoder::new(&raw[..]).take(
                u64::try_from(max_bytes)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1),
            );
            if let Err(err) = reader.read_to_end(&mut out) {
                return Err(Rejection(
                    encoding,
                    StatusCode::BAD_REQUEST,
                    format!("malformed gzip body: {err}"),
                ));
            }
            if out.len() > max_bytes {
                return Err(Rejection(
                    encoding,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the decompressed body is larger than {max_bytes} bytes"),
                ));
            }
            Ok((encoding, Bytes::from(out)))
        }
        other => Err(Rejection(
            encoding,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content encoding {other:?}: send gzip or identity"),
        )),
    }
}

fn decode<T: Message + Default + DeserializeOwned + Doubles>(
    encoding: Encoding,
    body: &[u8],
) -> Result<T, String> {
    match encoding {
        Encoding::Protobuf => T::decode(body).map_err(|e| format!("malformed protobuf body: {e}")),
        Encoding::Json if json_doubles::may_have_specials(body) => {
            json_doubles::decode(body).map_err(|e| format!("malformed OTLP/JSON body: {e}"))
        }
        Encoding::Json => {
            serde_json::from_slice(body).map_err(|e| format!("malformed OTLP/JSON body: {e}"))
        }
    }
}

/// A 200 reply carrying the export response in the request's encoding. `partial` is
/// (JSON field of the rejected count, rejected, error message).
fn reply<T: Message>(
    encoding: Encoding,
    response: &T,
    partial: Option<(&str, i64, &str)>,
) -> Response {
    match encoding {
        Encoding::Protobuf => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
            response.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => {
            // The OTLP JSON mapping: lowerCamelCase names, int64 as a decimal string.
            let body = match partial {
                Some((field, rejected, message)) => serde_json::json!({
                    "partialSuccess": { field: rejected.to_string(), "errorMessage": message }
                }),
                None => serde_json::json!({}),
            };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
                body.to_string(),
            )
                .into_response()
        }
    }
}

async fn traces(
    State(state): State<HttpState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let (encoding, body) = match body(&headers, raw, state.max_bytes) {
        Ok(b) => b,
        Err(Rejection(encoding, status, message)) => return error(encoding, status, message),
    };
    match decode::<ExportTraceServiceRequest>(encoding, &body) {
        Ok(request) => {
            let response = match ingest::traces(&state.store, &request).await {
                Ok(response) => response,
                Err(refusal) => return retry_later(encoding, &refusal),
            };
            let partial = response
                .partial_success
                .as_ref()
                .map(|p| ("rejectedSpans", p.rejected_spans, p.error_message.as_str()));
            reply(encoding, &response, partial)
        }
        Err(message) => error(encoding, StatusCode::BAD_REQUEST, message),
    }
}

async fn metrics(
    State(state): State<HttpState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let (encoding, body) = match body(&headers, raw, state.max_bytes) {
        Ok(b) => b,
        Err(Rejection(encoding, status, message)) => return error(encoding, status, message),
    };
    match decode::<ExportMetricsServiceRequest>(encoding, &body) {
        Ok(request) => {
            let response = match ingest::metrics(&state.store, &request).await {
                Ok(response) => response,
                Err(refusal) => return retry_later(encoding, &refusal),
            };
            let partial = response.partial_success.as_ref().map(|p| {
                (
                    "rejectedDataPoints",
                    p.rejected_data_points,
                    p.error_message.as_str(),
                )
            });
            reply(encoding, &response, partial)
        }
        Err(message) => error(encoding, StatusCode::BAD_REQUEST, message),
    }
}

async fn logs(
    State(state): State<HttpState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let (encoding, body) = match body(&headers, raw, state.max_bytes) {
        Ok(b) => b,
        Err(Rejection(encoding, status, message)) => return error(encoding, status, message),
    };
    match decode::<ExportLogsServiceRequest>(encoding, &body) {
        Ok(request) => {
            let response = match ingest::logs(&state.store, &request).await {
                Ok(response) => response,
                Err(refusal) => return retry_later(encoding, &refusal),
            };
            let partial = response.partial_success.as_ref().map(|p| {
                (
                    "rejectedLogRecords",
                    p.rejected_log_records,
                    p.error_message.as_str(),
                )
            });
            reply(encoding, &response, partial)
        }
        Err(message) => error(encoding, StatusCode::BAD_REQUEST, message),
    }
}
