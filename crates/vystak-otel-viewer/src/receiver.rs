//! The OTLP gRPC receiver: trace and metrics services on one tonic server.

use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::error::Error;
use crate::store::Store;

/// Largest OTLP request accepted (the SDK batches stay far below it).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A running OTLP gRPC receiver (traces and metrics) that stores what it receives in a [`Store`].
///
/// ```no_run
/// # async fn run() -> Result<(), vystak_otel_viewer::Error> {
/// let receiver = vystak_otel_viewer::Receiver::start_local().await?;
/// println!("export to {}", receiver.endpoint()); // OTEL_EXPORTER_OTLP_ENDPOINT
/// let spans = receiver.store().wait_for_spans(1, std::time::Duration::from_secs(5)).await;
/// receiver.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    store: Store,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Clone, Debug)]
struct Handler {
    store: Store,
}

#[tonic::async_trait]
impl TraceService for Handler {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.store.insert_spans(convert::spans(request.get_ref()));
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Handler {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.store.insert_points(convert::points(request.get_ref()));
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Binds `addr` (port 0 picks a free port) and starts serving with a new [`Store`].
    ///
    /// # Errors
    /// [`Error::Bind`] when the address cannot be bound.
    pub async fn start(addr: SocketAddr) -> Result<Receiver, Error> {
        Self::start_with_store(addr, Store::new()).await
    }

    /// Starts on `127.0.0.1` on a free port.
    ///
    /// # Errors
    /// [`Error::Bind`] when no loopback port can be bound.
    pub async fn start_local() -> Result<Receiver, Error> {
        Self::start(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds `addr` and stores into `store`.
    ///
    /// # Errors
    /// [`Error::Bind`] when the address cannot be bound.
    pub async fn start_with_store(addr: SocketAddr, store: Store) -> Result<Receiver, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let handler = Handler {
            store: store.clone(),
        };
        let traces = TraceServiceServer::new(handler.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let metrics = MetricsServiceServer::new(handler)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                .add_service(traces)
                .add_service(metrics)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = rx.await;
                })
                .await;
            if let Err(err) = result {
                eprintln!("vystak-otel-viewer: receiver stopped: {err}");
            }
        });
        Ok(Receiver {
            addr,
            store,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OTLP gRPC endpoint to export to, e.g. `http://127.0.0.1:4317`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store the receiver writes into.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
