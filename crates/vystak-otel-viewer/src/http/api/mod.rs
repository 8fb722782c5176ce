//! The JSON query API served on the UI port (`127.0.0.1:13000` by default).
//!
//! | Route | What |
//! |---|---|
//! | `GET /api/traces` | trace search: `service`, `operation`, `status=error`, `min_duration_ms`, `attr=key=value` (repeatable), `since` (RFC 3339, Unix ns, or a duration ago such as `1h`), `before` (paging cursor: the previous page's `next_before`), `limit` |
//! | `GET /api/traces/{trace_id}` | every span of a trace (resource, attributes, events, links, kind, status, times) and its logs; `404` unknown, `400` malformed id |
//! | `GET /api/services` | distinct `service.name`s |
//! | `GET /api/operations?service=` | distinct span names (of one service) |
//! | `GET\|POST /api/v1/query`, `/api/v1/query_range` | the Prometheus HTTP API over the stored samples |
//! | `GET\|POST /api/v1/series`, `/api/v1/labels`, `GET /api/v1/label/{name}/values` | Prometheus metadata |
//! | `GET /api/v1/status/buildinfo`, `/api/v1/metadata` | what Grafana asks a Prometheus data source |
//!
//! [`router`] returns these routes; the web UI merges its pages into the same router.

mod json;
mod prom;
mod prom_meta;
mod traces;

use axum::routing::get;
use axum::Router;

use crate::query::promql::QueryLimits;
use crate::storage::Store;

/// The query API over `store`, ready to serve or to merge with more routes, with the default
/// [`QueryLimits`].
///
/// ```
/// let app: axum::Router = vystak_otel_viewer::api::router(vystak_otel_viewer::Store::new());
/// ```
pub fn router(store: Store) -> Router {
    router_with_limits(store, QueryLimits::default())
}

/// [`router`], with PromQL queries evaluated within `limits` (the sample budget; each request's
/// `timeout`, default 30 s, sets its deadline).
pub fn router_with_limits(store: Store, limits: QueryLimits) -> Router {
    Router::new()
        .route("/api/traces", get(traces::search))
        .route("/api/traces/{trace_id}", get(traces::get))
        .route("/api/services", get(traces::services))
        .route("/api/operations", get(traces::operations))
        .with_state(store.clone())
        .merge(prom::routes(prom::PromState::new(store, limits)))
}
