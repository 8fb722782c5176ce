//! The Prometheus HTTP API (`/api/v1/...`) over the store's samples.

use axum::Router;

use crate::store::Store;

pub(crate) fn routes() -> Router<Store> {
    Router::new()
}
