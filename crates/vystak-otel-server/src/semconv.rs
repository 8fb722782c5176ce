//! Every attribute and metric name this crate emits (stable HTTP semantic conventions v1.44).

pub use vystak_otel_core::redact::{REDACTED, SENSITIVE_QUERY_KEYS};
pub use vystak_otel_core::semconv::{
    ENV_KNOWN_METHODS, ERROR_TYPE, HTTP_DURATION_BUCKETS, HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE, HTTP_SERVER_REQUEST_DURATION,
    HTTP_SPAN_NAME_OTHER, KNOWN_METHODS, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT,
    NETWORK_PROTOCOL_VERSION, OTHER, SERVER_ADDRESS, SERVER_PORT, UNIT_SECONDS,
};

/// `http.route`.
pub const HTTP_ROUTE: &str = "http.route";
/// `url.path`.
pub const URL_PATH: &str = "url.path";
/// `url.query`.
pub const URL_QUERY: &str = "url.query";
/// `url.scheme`.
pub const URL_SCHEME: &str = "url.scheme";
/// `client.address`.
pub const CLIENT_ADDRESS: &str = "client.address";
/// `user_agent.original`.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// Prefix of captured request headers: `http.request.header.<lowercase name>`.
pub const HTTP_REQUEST_HEADER_PREFIX: &str = "http.request.header.";
/// Prefix of captured response headers: `http.response.header.<lowercase name>`.
pub const HTTP_RESPONSE_HEADER_PREFIX: &str = "http.response.header.";

/// Up-down counter `http.server.active_requests` (opt-in).
pub const HTTP_SERVER_ACTIVE_REQUESTS: &str = "http.server.active_requests";
/// Histogram `http.server.request.body.size` (opt-in).
pub const HTTP_SERVER_REQUEST_BODY_SIZE: &str = "http.server.request.body.size";
/// Histogram `http.server.response.body.size` (opt-in).
pub const HTTP_SERVER_RESPONSE_BODY_SIZE: &str = "http.server.response.body.size";
/// Unit of the active-requests counter.
pub const UNIT_REQUESTS: &str = "{request}";
/// Unit of the body-size histograms.
pub const UNIT_BYTES: &str = "By";

/// `error.type` of a request whose future or response body was dropped before completing.
pub const ERROR_TYPE_CANCELLED: &str = "cancelled";

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
