//! Every attribute and metric name this crate emits (stable HTTP semantic conventions v1.44).

pub use vystak_otel_core::redact::{REDACTED, REDACTED_USERINFO, SENSITIVE_QUERY_KEYS};
pub use vystak_otel_core::semconv::{
    ENV_KNOWN_METHODS, ERROR_TYPE, HTTP_CLIENT_REQUEST_DURATION, HTTP_DURATION_BUCKETS,
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE,
    HTTP_SPAN_NAME_OTHER, KNOWN_METHODS, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT,
    NETWORK_PROTOCOL_VERSION, OTHER, SERVER_ADDRESS, SERVER_PORT, UNIT_SECONDS,
};

/// `http.request.resend_count` (set on retries, ≥ 1).
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
/// `url.full`.
pub const URL_FULL: &str = "url.full";
/// `url.template` (development).
pub const URL_TEMPLATE: &str = "url.template";
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
