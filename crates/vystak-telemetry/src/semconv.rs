//! Every name and bucket list this crate sets, declared once.

pub use vystak_otel_core::semconv::{
    ERROR_TYPE, GEN_AI_CLIENT_OPERATION_DURATION, GEN_AI_CLIENT_TOKEN_USAGE,
    GEN_AI_DURATION_BUCKETS, GEN_AI_TOKEN_BUCKETS, HTTP_CLIENT_REQUEST_DURATION,
    HTTP_DURATION_BUCKETS, HTTP_SERVER_REQUEST_DURATION,
};

/// Resource attribute `service.name`.
pub const SERVICE_NAME: &str = "service.name";
/// Resource attribute `service.version`.
pub const SERVICE_VERSION: &str = "service.version";

/// `OTEL_EXPORTER_OTLP_ENDPOINT`: base endpoint; set but empty turns telemetry off (seed).
pub const ENV_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_SDK_DISABLED`: `true` (any case) turns telemetry off.
pub const ENV_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_SERVICE_NAME`.
pub const ENV_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`.
pub const ENV_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// Default OTLP gRPC endpoint (where `vystak-otel-viewer` listens).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4317";

/// Default OTLP/HTTP base endpoint (`/v1/traces`, `/v1/metrics` are appended).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is).
pub const ENV_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as is).
pub const ENV_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL` (and the `_TRACES_` / `_METRICS_` variants).
pub const ENV_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_COMPRESSION` (and the `_TRACES_` / `_METRICS_` variants).
pub const ENV_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// `OTEL_EXPORTER_OTLP_HEADERS` (and the `_TRACES_` / `_METRICS_` variants, which replace it).
pub const ENV_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `OTEL_EXPORTER_OTLP_INSECURE` (and the `_TRACES_` / `_METRICS_` variants): the scheme of a
/// schemeless gRPC endpoint.
pub const ENV_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `OTEL_TRACES_EXPORTER`: `otlp` or `none`.
pub const ENV_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// `OTEL_METRICS_EXPORTER`: `otlp` or `none`.
pub const ENV_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// `OTEL_PROPAGATORS`: `tracecontext`, `baggage`, `none`.
pub const ENV_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// `OTEL_TRACES_SAMPLER` (read by the SDK when no sampler is set in code).
pub const ENV_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// Protocol `grpc`.
pub const PROTOCOL_GRPC: &str = "grpc";
/// Protocol `http/protobuf`.
pub const PROTOCOL_HTTP_PROTOBUF: &str = "http/protobuf";
/// Protocol `http/json`.
pub const PROTOCOL_HTTP_JSON: &str = "http/json";
/// Compression `gzip`.
pub const COMPRESSION_GZIP: &str = "gzip";
/// Compression `none`.
pub const COMPRESSION_NONE: &str = "none";
/// Exporter `otlp`.
pub const EXPORTER_OTLP: &str = "otlp";
/// Exporter `none`.
pub const EXPORTER_NONE: &str = "none";
/// Propagator `tracecontext`.
pub const PROPAGATOR_TRACECONTEXT: &str = "tracecontext";
/// Propagator `baggage`.
pub const PROPAGATOR_BAGGAGE: &str = "baggage";
/// Propagator `none`.
pub const PROPAGATOR_NONE: &str = "none";

/// `OTEL_BSP_MAX_QUEUE_SIZE`: the span export queue's capacity (default 2048).
pub const ENV_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// `OTEL_EXPORTER_OTLP_TIMEOUT` (ms): one export's timeout, and the shutdown deadline.
pub const ENV_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` (ms).
pub const ENV_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT` (ms).
pub const ENV_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";

/// SDK self-metric `otel.sdk.processor.span.processed` (`{span}`, counter).
pub const OTEL_SDK_PROCESSOR_SPAN_PROCESSED: &str = "otel.sdk.processor.span.processed";
/// SDK self-metric `otel.sdk.processor.span.queue.size` (`{span}`).
pub const OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE: &str = "otel.sdk.processor.span.queue.size";
/// SDK self-metric `otel.sdk.processor.span.queue.capacity` (`{span}`).
pub const OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY: &str = "otel.sdk.processor.span.queue.capacity";
/// `otel.component.type`.
pub const OTEL_COMPONENT_TYPE: &str = "otel.component.type";
/// `otel.component.name`.
pub const OTEL_COMPONENT_NAME: &str = "otel.component.name";
/// `otel.component.type` of the batch span processor.
pub const COMPONENT_TYPE_BATCHING_SPAN_PROCESSOR: &str = "batching_span_processor";
/// `error.type` of a span dropped because the queue was full.
pub const ERROR_TYPE_QUEUE_FULL: &str = "queue_full";
/// `error.type` of a span dropped at or after shutdown.
pub const ERROR_TYPE_ALREADY_SHUTDOWN: &str = "already_shutdown";

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the semantic conventions define, against the `opentelemetry-semantic-conventions`
    /// crate (an independent source; the environment variable names are the SDK specification's).
    #[test]
    #[allow(deprecated)] // the GenAI names moved to their own repository, same strings
    fn names_match_the_semantic_conventions_crate() {
        use opentelemetry_semantic_conventions::{attribute as a, metric as m};
        for (ours, spec) in [
            (SERVICE_NAME, a::SERVICE_NAME),
            (SERVICE_VERSION, a::SERVICE_VERSION),
            (
                HTTP_SERVER_REQUEST_DURATION,
                m::HTTP_SERVER_REQUEST_DURATION,
            ),
            (
                HTTP_CLIENT_REQUEST_DURATION,
                m::HTTP_CLIENT_REQUEST_DURATION,
            ),
            (GEN_AI_CLIENT_TOKEN_USAGE, m::GEN_AI_CLIENT_TOKEN_USAGE),
            (
                GEN_AI_CLIENT_OPERATION_DURATION,
                m::GEN_AI_CLIENT_OPERATION_DURATION,
            ),
            (
                OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
                m::OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
            ),
            (
                OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
                m::OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
            ),
            (
                OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY,
                m::OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY,
            ),
            (OTEL_COMPONENT_TYPE, a::OTEL_COMPONENT_TYPE),
            (OTEL_COMPONENT_NAME, a::OTEL_COMPONENT_NAME),
            (ERROR_TYPE, a::ERROR_TYPE),
        ] {
            assert_eq!(ours, spec);
        }
    }

    #[test]
    fn bucket_lists_match_the_conventions() {
        assert_eq!(
            HTTP_DURATION_BUCKETS,
            [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
        );
        let powers_of_four: Vec<f64> = (0..14).map(|i| 4f64.powi(i)).collect();
        assert_eq!(GEN_AI_TOKEN_BUCKETS.to_vec(), powers_of_four);
        let doubling: Vec<f64> = (0..14).map(|i| 0.01 * 2f64.powi(i)).collect();
        for (a, b) in GEN_AI_DURATION_BUCKETS.iter().zip(doubling) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert_eq!(GEN_AI_DURATION_BUCKETS[13], 81.92);
    }
}
