//! The exporter configuration types: the transport ([`Protocol`]), [`Compression`], the
//! [`Signal`]s, what the builder says about exporters (`ExportOptions`) and how one signal is
//! exported once resolved ([`SignalPlan`]).

use std::fmt;

use crate::semconv::{
    COMPRESSION_GZIP, COMPRESSION_NONE, ENV_METRICS_EXPORTER, ENV_TRACES_EXPORTER, PROTOCOL_GRPC,
    PROTOCOL_HTTP_JSON, PROTOCOL_HTTP_PROTOBUF,
};

/// An OTLP transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/gRPC (the seed's, and the default), port 4317.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318 (`/v1/traces`, `/v1/metrics`).
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies.
    HttpJson,
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` value: `grpc`, `http/protobuf`, `http/json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => PROTOCOL_GRPC,
            Protocol::HttpProtobuf => PROTOCOL_HTTP_PROTOBUF,
            Protocol::HttpJson => PROTOCOL_HTTP_JSON,
        }
    }

    /// Parses an `OTEL_EXPORTER_OTLP_PROTOCOL` value.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            PROTOCOL_GRPC => Some(Protocol::Grpc),
            PROTOCOL_HTTP_PROTOBUF => Some(Protocol::HttpProtobuf),
            PROTOCOL_HTTP_JSON => Some(Protocol::HttpJson),
            _ => None,
        }
    }

    pub(super) fn is_http(self) -> bool {
        self != Protocol::Grpc
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Export compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// None (the default).
    #[default]
    None,
    /// gzip, built in for both protocols.
    Gzip,
}

impl Compression {
    /// The `OTEL_EXPORTER_OTLP_COMPRESSION` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => COMPRESSION_NONE,
            Compression::Gzip => COMPRESSION_GZIP,
        }
    }
}

/// A telemetry signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
}

impl Signal {
    /// `traces` / `metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    pub(super) fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
        }
    }

    pub(super) fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }

    /// `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`.
    pub fn exporter_var(self) -> &'static str {
        match self {
            Signal::Traces => ENV_TRACES_EXPORTER,
            Signal::Metrics => ENV_METRICS_EXPORTER,
        }
    }
}

/// What the builder says about exporters (code wins over the environment).
#[derive(Clone, Default)]
pub(crate) struct ExportOptions {
    pub(crate) endpoint: Option<String>,
    pub(crate) traces_endpoint: Option<String>,
    pub(crate) metrics_endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) compression: Option<Compression>,
    pub(crate) traces: Option<bool>,
    pub(crate) metrics: Option<bool>,
    pub(crate) insecure: Option<bool>,
    /// Headers added in code, sent with every export of both signals (values never shown).
    pub(crate) headers: Vec<(String, String)>,
}

/// Like the derived `Debug`, with the headers' names only: their values are secrets (API keys).
impl fmt::Debug for ExportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ExportOptions")
            .field("endpoint", &self.endpoint)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("traces", &self.traces)
            .field("metrics", &self.metrics)
            .field("insecure", &self.insecure)
            .field("headers", &header_names)
            .finish()
    }
}

/// How one signal is exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalPlan {
    /// Which signal.
    pub signal: Signal,
    /// `None`: exported. `Some(why)`: off, and why.
    pub off: Option<String>,
    /// The transport.
    pub protocol: Protocol,
    /// The full endpoint URL (for OTLP/HTTP with the signal path).
    pub endpoint: String,
    /// Where the endpoint came from (`code`, a variable name, or `default`).
    pub endpoint_source: &'static str,
    /// The compression.
    pub compression: Compression,
    /// The names of the headers sent with every export (code and `OTEL_EXPORTER_OTLP_HEADERS`
    /// or its per-signal variant); their values are never shown.
    pub headers: Vec<String>,
}

impl fmt::Display for SignalPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.off {
            Some(why) => write!(f, "{} off ({why})", self.signal.as_str()),
            None => {
                write!(
                    f,
                    "{} → {} ({}, {}, from {}",
                    self.signal.as_str(),
                    self.endpoint,
                    self.protocol,
                    self.compression.as_str(),
                    self.endpoint_source
                )?;
                if !self.headers.is_empty() {
                    write!(f, "; headers {}", self.headers.join(", "))?;
                }
                f.write_str(")")
            }
        }
    }
}
