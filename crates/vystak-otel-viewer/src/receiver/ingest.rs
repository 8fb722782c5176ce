//! The receivers' common path: an OTLP export request → the store → the partial-success reply.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::convert;
use crate::store::Store;

/// Stores the valid spans; invalid ones are counted in `rejected_spans`.
pub(crate) fn traces(
    store: &Store,
    request: &ExportTraceServiceRequest,
) -> ExportTraceServiceResponse {
    let converted = convert::spans(request);
    if !converted.items.is_empty() {
        store.insert_spans(converted.items);
    }
    ExportTraceServiceResponse {
        partial_success: (converted.rejected > 0).then_some(ExportTracePartialSuccess {
            rejected_spans: converted.rejected,
            error_message: converted.error_message,
        }),
    }
}

/// Stores every data point (as samples and in the latest-point view).
pub(crate) fn metrics(
    store: &Store,
    request: &ExportMetricsServiceRequest,
) -> ExportMetricsServiceResponse {
    store.insert_metrics(request);
    ExportMetricsServiceResponse {
        partial_success: None,
    }
}

/// Stores the valid log records; malformed ones are counted in `rejected_log_records`.
pub(crate) fn logs(store: &Store, request: &ExportLogsServiceRequest) -> ExportLogsServiceResponse {
    let converted = convert::logs(request);
    if !converted.items.is_empty() {
        store.insert_logs(converted.items);
    }
    ExportLogsServiceResponse {
        partial_success: (converted.rejected > 0).then_some(ExportLogsPartialSuccess {
            rejected_log_records: converted.rejected,
            error_message: converted.error_message,
        }),
    }
}
