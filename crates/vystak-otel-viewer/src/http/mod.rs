//! Everything served over HTTP: the OTLP receivers ([`receiver`]), the JSON and Prometheus
//! query API ([`api`]), the web UI ([`ui`]), and what every listener shares: connection
//! limits ([`conn`]), the `Host`/`Origin` guard ([`origin`]) and query-string parsing
//! ([`params`]).
//!
//! Imports the layers below (`model`, `storage`, `otlp`, `query`), never `app`; `ui` does not
//! reach into `api` (checked by `tests/layers.rs`).

pub mod api;
pub(crate) mod conn;
pub(crate) mod origin;
pub(crate) mod params;
pub(crate) mod receiver;
pub mod ui;
