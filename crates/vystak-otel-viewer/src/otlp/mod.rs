//! OTLP translation, above the store: export requests → records ([`records`]), OTLP/JSON's
//! non-finite doubles ([`json_doubles`]), metric points → Prometheus samples with
//! Prometheus' OTLP naming ([`prometheus`], [`naming`], [`translate`]), and the receivers'
//! common path from a request to its partial-success reply ([`ingest`]).
//!
//! Imports `model` and `storage` only (checked by `tests/layers.rs`).

pub(crate) mod ingest;
pub(crate) mod json_doubles;
pub(crate) mod naming;
pub(crate) mod prometheus;
pub(crate) mod records;
pub(crate) mod translate;

pub use naming::{format_float, prom_label_name, prom_metric_name, PromMetricType};
pub use prometheus::{OtlpPoint, PromConverter, PROMOTED_RESOURCE_ATTRIBUTES};
