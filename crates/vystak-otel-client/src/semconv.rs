//! Every attribute and metric name this crate emits (stable HTTP semantic conventions v1.44).

/// `http.request.method`.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.request.method_original`.
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http.request.resend_count` (set on retries, ≥ 1).
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
/// `network.peer.address`: the IP the response came from (recommended on client spans).
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
/// `network.peer.port`.
pub const NETWORK_PEER_PORT: &str = "network.peer.port";
/// `url.full`.
pub const URL_FULL: &str = "url.full";
/// `url.template` (development).
pub const URL_TEMPLATE: &str = "url.template";
/// `network.protocol.version`.
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// Histogram `http.client.request.duration`.
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http.client.request.duration";
/// Unit of the duration histogram.
pub const UNIT_SECONDS: &str = "s";
/// Duration buckets in seconds (semantic conventions, HTTP metrics).
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// `_OTHER`.
pub const OTHER: &str = "_OTHER";
/// Span name when the method is `_OTHER`.
pub const HTTP_SPAN_NAME_OTHER: &str = "HTTP";
/// Replacement for redacted values.
pub const REDACTED: &str = "REDACTED";
/// Replacement for credentials in `url.full`.
pub const REDACTED_USERINFO: &str = "REDACTED:REDACTED";
/// Query keys whose values are redacted in `url.full`.
pub const SENSITIVE_QUERY_KEYS: [&str; 7] = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
];
/// Known HTTP methods.
pub const KNOWN_METHODS: [&str; 10] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY",
];
/// Environment variable that overrides the known-method list.
pub const ENV_KNOWN_METHODS: &str = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";
/// `error.type` values for transport errors.
pub mod error_types {
    /// The request or connection timed out.
    pub const TIMEOUT: &str = "timeout";
    /// The connection could not be established.
    pub const CONNECT: &str = "connect";
    /// Too many redirects / a redirect loop.
    pub const REDIRECT: &str = "redirect";
    /// The request body failed.
    pub const BODY: &str = "body";
    /// The response could not be decoded.
    pub const DECODE: &str = "decode";
    /// Sending the request failed for another reason.
    pub const REQUEST: &str = "request";
    /// An error raised by another middleware.
    pub const MIDDLEWARE: &str = "middleware";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the semantic conventions define, against the `opentelemetry-semantic-conventions`
    /// crate (an independent source).
    #[test]
    fn names_match_the_semantic_conventions_crate() {
        use opentelemetry_semantic_conventions::{attribute as a, metric as m};
        for (ours, spec) in [
            (HTTP_REQUEST_METHOD, a::HTTP_REQUEST_METHOD),
            (
                HTTP_REQUEST_METHOD_ORIGINAL,
                a::HTTP_REQUEST_METHOD_ORIGINAL,
            ),
            (HTTP_REQUEST_RESEND_COUNT, a::HTTP_REQUEST_RESEND_COUNT),
            (HTTP_RESPONSE_STATUS_CODE, a::HTTP_RESPONSE_STATUS_CODE),
            (SERVER_ADDRESS, a::SERVER_ADDRESS),
            (SERVER_PORT, a::SERVER_PORT),
            (NETWORK_PEER_ADDRESS, a::NETWORK_PEER_ADDRESS),
            (NETWORK_PEER_PORT, a::NETWORK_PEER_PORT),
            (URL_FULL, a::URL_FULL),
            (URL_TEMPLATE, a::URL_TEMPLATE),
            (NETWORK_PROTOCOL_VERSION, a::NETWORK_PROTOCOL_VERSION),
            (ERROR_TYPE, a::ERROR_TYPE),
            (
                HTTP_CLIENT_REQUEST_DURATION,
                m::HTTP_CLIENT_REQUEST_DURATION,
            ),
        ] {
            assert_eq!(ours, spec);
        }
    }
}
