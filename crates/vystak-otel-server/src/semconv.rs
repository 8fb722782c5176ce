//! Every attribute and metric name this crate emits (stable HTTP semantic conventions v1.44).

/// `http.request.method`.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.request.method_original` (set iff the method was normalised to `_OTHER`).
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `http.route`.
pub const HTTP_ROUTE: &str = "http.route";
/// `url.path`.
pub const URL_PATH: &str = "url.path";
/// `url.query`.
pub const URL_QUERY: &str = "url.query";
/// `url.scheme`.
pub const URL_SCHEME: &str = "url.scheme";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
/// `client.address`.
pub const CLIENT_ADDRESS: &str = "client.address";
/// `network.peer.address` (the TCP peer, which is a proxy when forwarding headers are trusted).
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
/// `network.peer.port`.
pub const NETWORK_PEER_PORT: &str = "network.peer.port";
/// `network.protocol.version`.
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// `user_agent.original`.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// Prefix of captured request headers: `http.request.header.<lowercase name>`.
pub const HTTP_REQUEST_HEADER_PREFIX: &str = "http.request.header.";
/// Prefix of captured response headers: `http.response.header.<lowercase name>`.
pub const HTTP_RESPONSE_HEADER_PREFIX: &str = "http.response.header.";

/// Histogram `http.server.request.duration`.
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http.server.request.duration";
/// Up-down counter `http.server.active_requests` (opt-in).
pub const HTTP_SERVER_ACTIVE_REQUESTS: &str = "http.server.active_requests";
/// Histogram `http.server.request.body.size` (opt-in).
pub const HTTP_SERVER_REQUEST_BODY_SIZE: &str = "http.server.request.body.size";
/// Histogram `http.server.response.body.size` (opt-in).
pub const HTTP_SERVER_RESPONSE_BODY_SIZE: &str = "http.server.response.body.size";
/// Unit of the duration histogram.
pub const UNIT_SECONDS: &str = "s";
/// Unit of the active-requests counter.
pub const UNIT_REQUESTS: &str = "{request}";
/// Unit of the body-size histograms.
pub const UNIT_BYTES: &str = "By";

/// Duration buckets in seconds (semantic conventions, HTTP metrics).
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// `_OTHER`: the normalised value of an unknown method, and the fallback `error.type`.
pub const OTHER: &str = "_OTHER";
/// Span name used instead of the method when the method is `_OTHER`.
pub const HTTP_SPAN_NAME_OTHER: &str = "HTTP";
/// `error.type` of a request whose future or response body was dropped before completing.
pub const ERROR_TYPE_CANCELLED: &str = "cancelled";
/// Value written in place of redacted query values and header values.
pub const REDACTED: &str = "REDACTED";
/// Query keys whose values are redacted in `url.query` (semantic conventions, URL redaction).
pub const SENSITIVE_QUERY_KEYS: [&str; 7] = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
];
/// Known HTTP methods (case-sensitive), the default of `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`.
pub const KNOWN_METHODS: [&str; 10] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY",
];
/// Environment variable that overrides the known-method list (comma-separated, full override).
pub const ENV_KNOWN_METHODS: &str = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";

/// Span name for a Slack `message` event (seed).
pub const SLACK_MESSAGE: &str = "slack.message";
/// Span name for a Slack `app_mention` event (seed).
pub const SLACK_APP_MENTION: &str = "slack.app_mention";

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the semantic conventions define, against the `opentelemetry-semantic-conventions`
    /// crate (an independent source; the seed's own names have no second source to check).
    #[test]
    fn names_match_the_semantic_conventions_crate() {
        use opentelemetry_semantic_conventions::{attribute as a, metric as m};
        for (ours, spec) in [
            (HTTP_REQUEST_METHOD, a::HTTP_REQUEST_METHOD),
            (
                HTTP_REQUEST_METHOD_ORIGINAL,
                a::HTTP_REQUEST_METHOD_ORIGINAL,
            ),
            (HTTP_RESPONSE_STATUS_CODE, a::HTTP_RESPONSE_STATUS_CODE),
            (HTTP_ROUTE, a::HTTP_ROUTE),
            (URL_PATH, a::URL_PATH),
            (URL_QUERY, a::URL_QUERY),
            (URL_SCHEME, a::URL_SCHEME),
            (SERVER_ADDRESS, a::SERVER_ADDRESS),
            (SERVER_PORT, a::SERVER_PORT),
            (CLIENT_ADDRESS, a::CLIENT_ADDRESS),
            (NETWORK_PROTOCOL_VERSION, a::NETWORK_PROTOCOL_VERSION),
            (NETWORK_PEER_ADDRESS, a::NETWORK_PEER_ADDRESS),
            (NETWORK_PEER_PORT, a::NETWORK_PEER_PORT),
            (USER_AGENT_ORIGINAL, a::USER_AGENT_ORIGINAL),
            (ERROR_TYPE, a::ERROR_TYPE),
            (
                HTTP_SERVER_REQUEST_DURATION,
                m::HTTP_SERVER_REQUEST_DURATION,
            ),
            (HTTP_SERVER_ACTIVE_REQUESTS, m::HTTP_SERVER_ACTIVE_REQUESTS),
            (
                HTTP_SERVER_REQUEST_BODY_SIZE,
                m::HTTP_SERVER_REQUEST_BODY_SIZE,
            ),
            (
                HTTP_SERVER_RESPONSE_BODY_SIZE,
                m::HTTP_SERVER_RESPONSE_BODY_SIZE,
            ),
        ] {
            assert_eq!(ours, spec);
        }
    }
}
