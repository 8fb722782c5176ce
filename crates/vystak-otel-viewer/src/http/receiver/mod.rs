//! The OTLP receivers: gRPC ([`grpc`]) and HTTP ([`http`], protobuf and JSON), answering with
//! the OTLP spec's statuses ([`status`]); what they store goes through `otlp::ingest`.

pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod status;

/// Default largest OTLP request accepted, in bytes (after decompression).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// Largest gRPC message accepted (the SDK batches stay far below it).
pub(crate) const MAX_MESSAGE_BYTES: usize = DEFAULT_MAX_REQUEST_BYTES;
