//! The OTLP/gRPC receiver: trace, metrics and logs services on one tonic server.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
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
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::MAX_MESSAGE_BYTES;
use super::{ingest, status};
use crate::store::Store;

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
        ingest::traces(&self.store, request.get_ref())
            .await
            .map(Response::new)
            .map_err(|r| status::grpc_retry_later(&r))
    }
}

#[tonic::async_trait]
impl MetricsService for Handler {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        ingest::metrics(&self.store, request.get_ref())
            .await
            .map(Response::new)
            .map_err(|r| status::grpc_retry_later(&r))
    }
}

#[tonic::async_trait]
impl LogsService for Handler {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        ingest::logs(&self.store, request.get_ref())
            .await
            .map(Response::new)
            .map_err(|r| status::grpc_retry_later(&r))
    }
}

/// Serves the three OTLP services on `listener` until `shutdown` turns `true`.
pub(crate) async fn serve(
    listener: TcpListener,
    store: Store,
    mut shutdown: watch::Receiver<bool>,
) {
    let handler = Handler { store };
    let traces = TraceServiceServer::new(handler.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let metrics = MetricsServiceServer::new(handler.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let logs = LogsServiceServer::new(handler)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let result = tonic::transport::Server::builder()
        .add_service(traces)
        .add_service(metrics)
        .add_service(logs)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await;
    if let Err(err) = result {
        eprintln!("vystak-otel-viewer: OTLP/gRPC receiver stopped: {err}");
    }
}
