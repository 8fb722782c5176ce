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
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::status;
use super::MAX_MESSAGE_BYTES;
use crate::otlp::ingest;
use crate::storage::Store;

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

/// tonic refuses a message over the size limit with `OUT_OF_RANGE`, which the OTLP
/// specification lists as retryable: the exporter would resend a batch that can never fit, for
/// ever. Our handlers never answer `OUT_OF_RANGE`, so every such status is that refusal; it is
/// sent as `RESOURCE_EXHAUSTED` without `RetryInfo`, which the specification says not to retry
/// (and which gRPC itself uses for a message over the limit).
fn too_large_is_not_retryable<B>(mut response: axum::http::Response<B>) -> axum::http::Response<B> {
    const OUT_OF_RANGE: &str = "11";
    const RESOURCE_EXHAUSTED: &str = "8";
    let headers = response.headers_mut();
    if headers
        .get("grpc-status")
        .is_some_and(|v| v == OUT_OF_RANGE)
    {
        headers.insert(
            "grpc-status",
            axum::http::HeaderValue::from_static(RESOURCE_EXHAUSTED),
        );
    }
    response
}

/// Serves the three OTLP services on `listener` until `shutdown` turns `true`.
pub(crate) async fn serve(
    gate: crate::http::conn::Gate,
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
        .layer(tower::util::MapResponseLayer::new(
            too_large_is_not_retryable,
        ))
        .add_service(traces)
        .add_service(metrics)
        .add_service(logs)
        .serve_with_incoming_shutdown(
            crate::http::conn::incoming(std::sync::Arc::new(gate), shutdown.clone()),
            async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            },
        )
        .await;
    if let Err(err) = result {
        eprintln!("vystak-otel-viewer: OTLP/gRPC receiver stopped: {err}");
    }
}
