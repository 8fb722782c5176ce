//! Errors of telemetry set-up.

/// What can go wrong building or shutting down telemetry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An exporter could not be built (bad endpoint, bad header, …).
    #[error("cannot build the OTLP {signal} exporter: {message}")]
    Exporter {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// What the exporter builder said.
        message: String,
    },
    /// A configuration value is invalid.
    #[error("invalid telemetry configuration: {0}")]
    Config(String),
    /// `build`/`init` was called outside a Tokio runtime (the gRPC exporters need one).
    #[error("telemetry must be built inside a Tokio runtime (the OTLP gRPC exporters need one)")]
    NoRuntime,
    /// Flushing or shutting down a provider failed (the data may not all have been delivered).
    #[error("telemetry {operation} failed: {message}")]
    Flush {
        /// `flush` or `shutdown`.
        operation: &'static str,
        /// What the SDK said.
        message: String,
    },
    /// An agent name was empty or invalid; see [`crate::ServiceName::agent`].
    #[error("invalid agent name {name:?}: {reason}")]
    InvalidServiceName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
}
