//! `google.rpc.Status` and `google.rpc.RetryInfo`: the error bodies of OTLP/HTTP and the details
//! of a gRPC status, as the OTLP specification asks for throttling ("the server SHOULD include a
//! `RetryInfo` with the recommended delay").

use std::time::Duration;

use prost::Message;

use crate::storage::Refusal;

/// `google.rpc.Code.INVALID_ARGUMENT`.
pub(crate) const INVALID_ARGUMENT: i32 = 3;
/// `google.rpc.Code.UNAVAILABLE`: retryable.
pub(crate) const UNAVAILABLE: i32 = 14;

/// How long an exporter is asked to wait before it retries a throttled export.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(1);

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Any {
    #[prost(string, tag = "1")]
    pub(crate) type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub(crate) retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

/// `UNAVAILABLE` with a `RetryInfo` of [`RETRY_AFTER`]: the write was not stored, retry it.
pub(crate) fn retry_later(refusal: &Refusal) -> RpcStatus {
    let delay = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(RETRY_AFTER.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
    };
    RpcStatus {
        code: UNAVAILABLE,
        message: refusal.to_string(),
        details: vec![Any {
            type_url: RETRY_INFO_TYPE.to_owned(),
            value: delay.encode_to_vec(),
        }],
    }
}

/// The same as a gRPC status (`UNAVAILABLE`, the `google.rpc.Status` with its `RetryInfo` in
/// `grpc-status-details-bin`).
pub(crate) fn grpc_retry_later(refusal: &Refusal) -> tonic::Status {
    let status = retry_later(refusal);
    tonic::Status::with_details(
        tonic::Code::Unavailable,
        status.message.clone(),
        status.encode_to_vec().into(),
    )
}

/// The OTLP/JSON form of [`retry_later`] (the proto3 JSON mapping of `google.rpc.Status`).
pub(crate) fn retry_later_json(refusal: &Refusal) -> serde_json::Value {
    serde_json::json!({
        "code": UNAVAILABLE,
        "message": refusal.to_string(),
        "details": [{
            "@type": RETRY_INFO_TYPE,
            "retryDelay": format!("{}s", RETRY_AFTER.as_secs()),
        }],
    })
}
