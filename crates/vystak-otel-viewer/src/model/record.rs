//! Plain, owned records of what the receiver stored: spans and metric points.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A set of attributes (a span's, a resource's …), by key.
pub type Attributes = BTreeMap<String, AttrValue>;

/// A resource's attributes, shared: every span, log and metric point of one resource holds the
/// same allocation (the receivers intern it), so a large resource costs its size once, not once
/// per record.
pub type SharedAttributes = Arc<Attributes>;

/// An attribute value, converted from OTLP's `AnyValue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A double (non-finite values serialize as `"NaN"`, `"Infinity"`, `"-Infinity"`, the proto3
    /// JSON mapping's spelling, so they survive a round trip through JSON and the SQLite file).
    Double(#[serde(with = "any_double")] f64),
    /// An array of values.
    Array(Vec<AttrValue>),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A key/value list.
    Map(BTreeMap<String, AttrValue>),
}

impl AttrValue {
    /// The string, when this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, when this is a double (or an integer, widened).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Double(d) => Some(*d),
            AttrValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl std::fmt::Display for AttrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Str(s) => write!(f, "{s}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d}"),
            AttrValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            AttrValue::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            AttrValue::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Span kind, as in OTLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpanKind {
    /// `SPAN_KIND_UNSPECIFIED`.
    Unspecified,
    /// `SPAN_KIND_INTERNAL`.
    Internal,
    /// `SPAN_KIND_SERVER`.
    Server,
    /// `SPAN_KIND_CLIENT`.
    Client,
    /// `SPAN_KIND_PRODUCER`.
    Producer,
    /// `SPAN_KIND_CONSUMER`.
    Consumer,
}

impl SpanKind {
    /// Upper-case name as trace UIs show it (`SERVER`, `CLIENT`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            SpanKind::Unspecified => "UNSPECIFIED",
            SpanKind::Internal => "INTERNAL",
            SpanKind::Server => "SERVER",
            SpanKind::Client => "CLIENT",
            SpanKind::Producer => "PRODUCER",
            SpanKind::Consumer => "CONSUMER",
        }
    }
}

/// Span status, as in OTLP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpanStatus {
    /// `STATUS_CODE_UNSET`.
    Unset,
    /// `STATUS_CODE_OK`.
    Ok,
    /// `STATUS_CODE_ERROR` with its description.
    Error {
        /// The status description (may be empty).
        message: String,
    },
}

impl SpanStatus {
    /// `true` for [`SpanStatus::Error`].
    pub fn is_error(&self) -> bool {
        matches!(self, SpanStatus::Error { .. })
    }
}

/// A span event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Event name (e.g. `exception`).
    pub name: String,
    /// Event time.
    pub time_unix_nanos: u64,
    /// Event attributes.
    pub attributes: BTreeMap<String, AttrValue>,
}

/// A span link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// Linked trace id (32 lowercase hex digits).
    pub trace_id: String,
    /// Linked span id (16 lowercase hex digits).
    pub span_id: String,
    /// Link attributes.
    pub attributes: BTreeMap<String, AttrValue>,
}

/// One exported span.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// The resource's `service.name` (`""` when absent).
    pub service_name: String,
    /// All resource attributes (shared with the other records of the resource).
    pub resource: SharedAttributes,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// Span id, 16 lowercase hex digits.
    pub span_id: String,
    /// Parent span id; `None` for a root span.
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Span status.
    pub status: SpanStatus,
    /// Start time.
    pub start_unix_nanos: u64,
    /// End time.
    pub end_unix_nanos: u64,
    /// Span attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Span events.
    pub events: Vec<EventRecord>,
    /// Span links.
    pub links: Vec<LinkRecord>,
}

impl SpanRecord {
    /// An attribute by key.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.get(key)
    }

    /// A string attribute by key.
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(AttrValue::as_str)
    }

    /// An integer attribute by key.
    pub fn int_attr(&self, key: &str) -> Option<i64> {
        self.attr(key).and_then(AttrValue::as_i64)
    }

    /// End minus start (zero if the clock went backwards).
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_unix_nanos.saturating_sub(self.start_unix_nanos))
    }

    /// `true` when the span has no parent.
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_none()
    }
}

/// The value of one metric point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PointValue {
    /// An explicit-bucket histogram point.
    Histogram {
        /// Number of recorded values.
        count: u64,
        /// Sum of recorded values.
        #[serde(with = "any_double")]
        sum: f64,
        /// Explicit bucket boundaries.
        bounds: Vec<f64>,
        /// Per-bucket counts (`bounds.len() + 1` entries).
        bucket_counts: Vec<u64>,
        /// Minimum recorded value, when exported.
        #[serde(with = "any_double::option")]
        min: Option<f64>,
        /// Maximum recorded value, when exported.
        #[serde(with = "any_double::option")]
        max: Option<f64>,
    },
    /// A sum (counter or up-down counter).
    Sum {
        /// The value.
        #[serde(with = "any_double")]
        value: f64,
        /// Whether the sum is monotonic.
        monotonic: bool,
    },
    /// A gauge.
    Gauge {
        /// The value.
        #[serde(with = "any_double")]
        value: f64,
    },
    /// A summary (always cumulative): count, sum and the exported quantiles.
    Summary {
        /// Number of recorded values.
        count: u64,
        /// Sum of recorded values.
        #[serde(with = "any_double")]
        sum: f64,
        /// The exported quantiles, in the order sent.
        quantiles: Vec<QuantileValue>,
    },
    /// An exponential histogram: its count, sum, min and max are kept; its buckets are not (the
    /// partial-success reply says so).
    ExponentialHistogram {
        /// Number of recorded values.
        count: u64,
        /// Sum of recorded values.
        #[serde(with = "any_double")]
        sum: f64,
        /// Minimum recorded value, when exported.
        #[serde(with = "any_double::option")]
        min: Option<f64>,
        /// Maximum recorded value, when exported.
        #[serde(with = "any_double::option")]
        max: Option<f64>,
    },
}

/// One quantile of a summary point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantileValue {
    /// The quantile, 0 to 1.
    #[serde(with = "any_double")]
    pub quantile: f64,
    /// Its value.
    #[serde(with = "any_double")]
    pub value: f64,
}

/// serde for a double that may be NaN or infinite: JSON has no such numbers (serde_json writes
/// `null` and then cannot read it back into an `f64`, so a span with a NaN attribute used to be
/// skipped on load). Finite values stay numbers; the others are the proto3 JSON mapping's strings.
/// `null` reads as NaN (files written before this).
mod any_double {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Any {
        Number(f64),
        Text(String),
        Null(()),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Any::deserialize(d)? {
            Any::Number(v) => Ok(v),
            Any::Null(()) => Ok(f64::NAN),
            Any::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" | "+Infinity" | "inf" | "+Inf" => Ok(f64::INFINITY),
                "-Infinity" | "-inf" | "-Inf" => Ok(f64::NEG_INFINITY),
                other => other
                    .parse()
                    .map_err(|_| serde::de::Error::custom(format!("not a number: {other:?}"))),
            },
        }
    }

    pub(super) mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        pub(in super::super) fn serialize<S: Serializer>(
            v: &Option<f64>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        #[derive(Deserialize)]
        struct Wrap(#[serde(deserialize_with = "super::deserialize")] f64);

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<f64>, D::Error> {
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

/// The latest point of one metric series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// The resource's `service.name` (`""` when absent).
    pub service_name: String,
    /// All resource attributes (shared with the other records of the resource).
    pub resource: SharedAttributes,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Metric name.
    pub metric_name: String,
    /// Unit (UCUM).
    pub unit: String,
    /// Description.
    pub description: String,
    /// Point attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// The value.
    pub value: PointValue,
    /// Time of the (latest) point.
    pub time_unix_nanos: u64,
}

impl MetricPoint {
    /// A string attribute of the point.
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(AttrValue::as_str)
    }

    /// Histogram sum, counter value or gauge value.
    pub fn value_sum(&self) -> f64 {
        match &self.value {
            PointValue::Histogram { sum, .. }
            | PointValue::Summary { sum, .. }
            | PointValue::ExponentialHistogram { sum, .. } => *sum,
            PointValue::Sum { value, .. } | PointValue::Gauge { value } => *value,
        }
    }
}

/// One exported log record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The resource's `service.name` (`""` when absent).
    pub service_name: String,
    /// All resource attributes (shared with the other records of the resource).
    pub resource: SharedAttributes,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Time of the event (0 when unknown).
    pub time_unix_nanos: u64,
    /// When the record was observed by the exporter.
    pub observed_unix_nanos: u64,
    /// OTLP severity number (1–24; 0 unspecified).
    pub severity_number: i32,
    /// Severity text, e.g. `INFO`.
    pub severity_text: String,
    /// The body.
    pub body: AttrValue,
    /// Record attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Correlated trace id, when the record was emitted inside a span.
    pub trace_id: Option<String>,
    /// Correlated span id.
    pub span_id: Option<String>,
    /// Event name (`""` when not an event).
    pub event_name: String,
}

/// A metric point plus whether it is a delta (to accumulate) or cumulative (to replace).
pub(crate) struct IncomingPoint {
    pub(crate) point: MetricPoint,
    pub(crate) delta: bool,
    pub(crate) start_unix_nanos: u64,
}
