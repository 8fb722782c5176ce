//! The names more than one instrumentation crate records, declared once: the HTTP attributes
//! the server and client share, their duration buckets and the known-method list, and the GenAI
//! metric names and buckets that the GenAI crate records and `vystak-telemetry` configures views
//! for. Each crate re-exports what it uses from its own `semconv` module. The strings are the
//! semantic conventions' (checked against `opentelemetry-semantic-conventions` in the crates'
//! tests) or the seed's.

/// `http.request.method`.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";

/// `http.request.method_original` (set iff the method was normalised to `_OTHER`).
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";

/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";

/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";

/// `server.port`.
pub const SERVER_PORT: &str = "server.port";

/// `network.peer.address` (the TCP peer, which is a proxy when forwarding headers are trusted).
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";

/// `network.peer.port`.
pub const NETWORK_PEER_PORT: &str = "network.peer.port";

/// `network.protocol.version`.
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";

/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";

/// Unit of the duration histogram.
pub const UNIT_SECONDS: &str = "s";

/// `_OTHER`: the normalised value of an unknown method, and the fallback `error.type`.
pub const OTHER: &str = "_OTHER";

/// Span name used instead of the method when the method is `_OTHER`.
pub const HTTP_SPAN_NAME_OTHER: &str = "HTTP";

/// Known HTTP methods (case-sensitive), the default of `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`.
pub const KNOWN_METHODS: [&str; 10] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY",
];

/// Environment variable that overrides the known-method list (comma-separated, full override).
pub const ENV_KNOWN_METHODS: &str = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";

/// Duration buckets in seconds (semantic conventions, HTTP metrics).
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Histogram `http.server.request.duration`.
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http.server.request.duration";

/// Histogram `http.client.request.duration`.
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http.client.request.duration";

/// `gen_ai.client.token.usage` (`{token}`), the seed's token histogram.
pub const GEN_AI_CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";

/// `gen_ai.client.operation.duration` (s).
pub const GEN_AI_CLIENT_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";

/// GenAI token buckets, powers of 4 from 1 to 67108864 (semantic conventions v1.41 GenAI metrics).
pub const GEN_AI_TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// GenAI operation duration buckets in seconds (semantic conventions v1.41 GenAI metrics).
pub const GEN_AI_DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
