//! The top layer: composes the receivers, the query API and the pages over one [`Store`] into a
//! running [`Viewer`], and the binary's console output ([`Printer`]). `main.rs` parses flags and
//! calls this.

mod print;

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::http::receiver::{grpc, http, DEFAULT_MAX_REQUEST_BYTES};
use crate::http::{api, conn, origin, ui};
use crate::query::promql::QueryLimits;
use crate::storage::Store;
use conn::ConnectionLimits;
pub use print::Printer;

/// What [`Viewer::start`] serves, and where.
///
/// The default is the binary's: OTLP/gRPC on `127.0.0.1:4317`, OTLP/HTTP on `127.0.0.1:4318`,
/// the query API on `127.0.0.1:13000`, a memory [`Store`]. [`ViewerConfig::local`] uses free
/// loopback ports instead (tests).
///
/// ```
/// use vystak_otel_viewer::{Store, ViewerConfig};
///
/// let config = ViewerConfig::local()
///     .with_http(None) // no OTLP/HTTP receiver
///     .with_store(Store::with_capacity(1_000, 1_000));
/// assert!(config.http_addr().is_none());
/// ```
#[derive(Debug)]
pub struct ViewerConfig {
    grpc: SocketAddr,
    http: Option<SocketAddr>,
    ui: Option<SocketAddr>,
    store: Option<Store>,
    max_request_bytes: usize,
    ui_routes: Option<axum::Router>,
    allowed_hosts: Vec<String>,
    query_limits: QueryLimits,
    connection_limits: ConnectionLimits,
}

impl Default for ViewerConfig {
    fn default() -> Self {
        Self {
            grpc: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http: Some(SocketAddr::from(([127, 0, 0, 1], 4318))),
            ui: Some(SocketAddr::from(([127, 0, 0, 1], 13000))),
            store: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            ui_routes: None,
            allowed_hosts: Vec::new(),
            query_limits: QueryLimits::default(),
            connection_limits: ConnectionLimits::default(),
        }
    }
}

impl From<SocketAddr> for ViewerConfig {
    /// OTLP/gRPC only, on `addr`.
    fn from(addr: SocketAddr) -> Self {
        Self {
            grpc: addr,
            http: None,
            ui: None,
            ..Self::default()
        }
    }
}

impl ViewerConfig {
    /// Host names the HTTP ports answer to besides `127.0.0.1`, `localhost`, `[::1]` and the
    /// address they are bound to (`--allow-host`). Every other `Host` gets `421`, and a
    /// state-changing request from another site's page (`Origin`) gets `403`: a page the user
    /// visits cannot reach the viewer through DNS rebinding.
    #[must_use]
    pub fn with_allowed_hosts(
        mut self,
        hosts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// The limits of every PromQL query of the API (`--query-max-samples`): past the sample
    /// budget a query gets Prometheus' 422 `execution` error.
    #[must_use]
    pub fn with_query_limits(mut self, limits: QueryLimits) -> Self {
        self.query_limits = limits;
        self
    }

    /// How many connections each port holds and how long a silent client may keep one
    /// ([`ConnectionLimits`]; `--max-connections`).
    #[must_use]
    pub fn with_connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.connection_limits = limits;
        self
    }

    /// All three servers on free ports of `127.0.0.1`.
    pub fn local() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            grpc: any,
            http: Some(any),
            ui: Some(any),
            ..Self::default()
        }
    }

    /// The OTLP/gRPC listen address (port 0: a free port).
    #[must_use]
    pub fn with_grpc(mut self, addr: SocketAddr) -> Self {
        self.grpc = addr;
        self
    }

    /// The OTLP/HTTP listen address; `None` serves no OTLP/HTTP.
    #[must_use]
    pub fn with_http(mut self, addr: Option<SocketAddr>) -> Self {
        self.http = addr;
        self
    }

    /// The query API (and UI) listen address; `None` serves no API.
    #[must_use]
    pub fn with_ui(mut self, addr: Option<SocketAddr>) -> Self {
        self.ui = addr;
        self
    }

    /// The store to write into (default: a new memory [`Store`]).
    #[must_use]
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Largest OTLP/HTTP body accepted, after decompression (default
    /// [`DEFAULT_MAX_REQUEST_BYTES`]); larger ones get `413 Payload Too Large`.
    #[must_use]
    pub fn with_max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// Extra routes served on the UI address beside [`crate::http::api::router`] (the web UI's pages).
    #[must_use]
    pub fn with_ui_routes(mut self, routes: axum::Router) -> Self {
        self.ui_routes = Some(routes);
        self
    }

    /// The OTLP/gRPC address asked for.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
    }

    /// The OTLP/HTTP address asked for.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// The UI/API address asked for.
    pub fn ui_addr(&self) -> Option<SocketAddr> {
        self.ui
    }
}

/// A running local backend: OTLP/gRPC receiver, optional OTLP/HTTP receiver and query API, all
/// storing into (and reading from) one [`Store`]. Dropping it stops the servers.
///
/// ```no_run
/// # async fn run() -> Result<(), vystak_otel_viewer::Error> {
/// use vystak_otel_viewer::{Viewer, ViewerConfig};
///
/// let viewer = Viewer::start(ViewerConfig::local()).await?;
/// println!("OTLP/gRPC  {}", viewer.endpoint()); // OTEL_EXPORTER_OTLP_ENDPOINT
/// println!("OTLP/HTTP  {}", viewer.http_endpoint().unwrap());
/// println!("query API  {}", viewer.ui_url().unwrap());
/// let spans = viewer.store().wait_for_spans(1, std::time::Duration::from_secs(5)).await;
/// viewer.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Viewer {
    grpc: SocketAddr,
    http: Option<SocketAddr>,
    ui: Option<SocketAddr>,
    store: Store,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The name the workspace's tests use for a running [`Viewer`].
///
/// ```no_run
/// # async fn run() -> Result<(), vystak_otel_viewer::Error> {
/// let receiver = vystak_otel_viewer::Receiver::start_local().await?;
/// println!("export to {}", receiver.endpoint());
/// let spans = receiver.store().wait_for_spans(1, std::time::Duration::from_secs(5)).await;
/// receiver.shutdown().await;
/// # Ok(()) }
/// ```
pub type Receiver = Viewer;

async fn bind(addr: SocketAddr, flag: &'static str) -> Result<(TcpListener, SocketAddr), Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, flag, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, flag, source })?;
    Ok((listener, local))
}

impl Viewer {
    /// Binds every configured address, then serves. A `SocketAddr` starts the OTLP/gRPC
    /// receiver alone on it (port 0 picks a free port).
    ///
    /// # Errors
    /// [`Error::Bind`] when an address cannot be bound (nothing is left running then).
    pub async fn start(config: impl Into<ViewerConfig>) -> Result<Viewer, Error> {
        let config = config.into();
        let store = config.store.unwrap_or_default();
        let (grpc_listener, grpc) = bind(config.grpc, "--grpc").await?;
        let http = match config.http {
            Some(addr) => Some(bind(addr, "--http").await?),
            None => None,
        };
        let ui = match config.ui {
            Some(addr) => Some(bind(addr, "--ui").await?),
            None => None,
        };
        let (stop, stopped) = watch::channel(false);
        let limits = config.connection_limits;
        let mut tasks = vec![tokio::spawn(grpc::serve(
            conn::Gate::new(grpc_listener, limits, "OTLP/gRPC receiver"),
            store.clone(),
            stopped.clone(),
        ))];
        let http_addr = http.as_ref().map(|(_, a)| *a);
        let guarded = |router: axum::Router, bound: SocketAddr| {
            router.layer(axum::middleware::from_fn_with_state(
                origin::OriginGuard::new(bound, &config.allowed_hosts),
                origin::guard,
            ))
        };
        if let Some((listener, bound)) = http {
            let router = guarded(http::router(store.clone(), config.max_request_bytes), bound);
            tasks.push(tokio::spawn(conn::serve_http(
                conn::Gate::new(listener, limits, "OTLP/HTTP receiver"),
                router,
                stopped.clone(),
            )));
        }
        let ui_addr = ui.as_ref().map(|(_, a)| *a);
        if let Some((listener, bound)) = ui {
            let mut router = ui::router(store.clone())
                .merge(api::router_with_limits(store.clone(), config.query_limits));
            if let Some(extra) = config.ui_routes {
                router = router.merge(extra);
            }
            let router = guarded(router, bound);
            tasks.push(tokio::spawn(conn::serve_http(
                conn::Gate::new(listener, limits, "query API"),
                router,
                stopped,
            )));
        }
        Ok(Viewer {
            grpc,
            http: http_addr,
            ui: ui_addr,
            store,
            stop,
            tasks,
        })
    }

    /// Starts all three servers on free ports of `127.0.0.1`, with a memory store.
    ///
    /// # Errors
    /// [`Error::Bind`] when no loopback port can be bound.
    pub async fn start_local() -> Result<Viewer, Error> {
        Self::start(ViewerConfig::local()).await
    }

    /// The OTLP/gRPC receiver alone on `addr`, storing into `store`.
    ///
    /// # Errors
    /// [`Error::Bind`] when the address cannot be bound.
    pub async fn start_with_store(addr: SocketAddr, store: Store) -> Result<Viewer, Error> {
        Self::start(ViewerConfig::from(addr).with_store(store)).await
    }

    /// The bound OTLP/gRPC address.
    pub fn local_addr(&self) -> SocketAddr {
        self.grpc
    }

    /// The OTLP/gRPC endpoint to export to, e.g. `http://127.0.0.1:4317`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// The bound OTLP/HTTP address, when served.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// The OTLP/HTTP base URL (append `/v1/traces`, `/v1/metrics`, `/v1/logs`), when served.
    pub fn http_endpoint(&self) -> Option<String> {
        self.http.map(|a| format!("http://{a}"))
    }

    /// The bound query API / UI address, when served.
    pub fn ui_addr(&self) -> Option<SocketAddr> {
        self.ui
    }

    /// The query API / UI base URL, e.g. `http://127.0.0.1:13000`, when served.
    pub fn ui_url(&self) -> Option<String> {
        self.ui.map(|a| format!("http://{a}"))
    }

    /// The store the receivers write into.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops accepting connections, waits for the servers to end and flushes the store.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.flush()).await;
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
