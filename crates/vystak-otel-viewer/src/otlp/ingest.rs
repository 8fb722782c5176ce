//! The receivers' common path: an OTLP export request → the store → the partial-success reply.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::{records, translate};
use crate::storage::{Refusal, Store, TraceWriter as _};

// Every function here answers only once what it stored is durable: with a SQLite file, after the
// transaction that holds it committed (shared with the requests queued beside it). A full write
// queue or a failed commit is a `Refusal`: nothing of the request was acknowledged, and the
// exporter is asked to retry.

/// Stores the valid spans; invalid ones are counted in `rejected_spans`.
pub(crate) async fn traces(
    store: &Store,
    request: &ExportTraceServiceRequest,
) -> Result<ExportTraceServiceResponse, Refusal> {
    let converted = records::spans(request);
    if !converted.items.is_empty() {
        store.write_traces(converted.items)?.durable().await?;
    }
    Ok(ExportTraceServiceResponse {
        partial_success: (converted.rejected > 0 || !converted.error_message.is_empty()).then_some(
            ExportTracePartialSuccess {
                rejected_spans: converted.rejected,
                error_message: converted.error_message,
            },
        ),
    })
}

/// Stores every valid data point (as samples and in the latest-point view); points with a time
/// outside the sane window, and kinds that are not stored, are counted in `rejected_data_points`.
pub(crate) async fn metrics(
    store: &Store,
    request: &ExportMetricsServiceRequest,
) -> Result<ExportMetricsServiceResponse, Refusal> {
    let converted = records::points(request);
    if !converted.items.is_empty() {
        let admission = store.admit_points(converted.items.len())?;
        let samples = translate::samples(store, &converted.items);
        store
            .accept_points(admission, converted.items, samples)
            .durable()
            .await?;
    }
    Ok(ExportMetricsServiceResponse {
        partial_success: (converted.rejected > 0 || !converted.error_message.is_empty()).then_some(
            ExportMetricsPartialSuccess {
                rejected_data_points: converted.rejected,
                error_message: converted.error_message,
            },
        ),
    })
}

/// Stores the valid log records; malformed ones are counted in `rejected_log_records`.
pub(crate) async fn logs(
    store: &Store,
    request: &ExportLogsServiceRequest,
) -> Result<ExportLogsServiceResponse, Refusal> {
    let converted = records::logs(request);
    if !converted.items.is_empty() {
        store.accept_logs(converted.items)?.durable().await?;
    }
    Ok(ExportLogsServiceResponse {
        partial_success: (converted.rejected > 0 || !converted.error_message.is_empty()).then_some(
            ExportLogsPartialSuccess {
                rejected_log_records: converted.rejected,
                error_message: converted.error_message,
            },
        ),
    })
}

impl Store {
    /// Stores every data point of an OTLP metrics export: as Prometheus samples (PromQL) and in
    /// the latest-point view; written behind like [`Store::insert_spans`].
    /// Points the receivers would reject (a time outside 1970-01-02 .. now + 1 day, kinds not
    /// stored) are left out.
    ///
    /// (Defined by the OTLP layer, which the store does not import.)
    pub fn insert_metrics(&self, request: &ExportMetricsServiceRequest) {
        let points = records::points(request).items;
        let samples = translate::samples(self, &points);
        self.insert_points(points, samples);
    }
}
