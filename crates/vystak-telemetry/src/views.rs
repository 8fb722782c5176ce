//! Metric views that give the semantic-convention bucket boundaries to the four histograms the
//! workspace records, whatever advice (or none) the instrument carries.

use opentelemetry_sdk::metrics::{Aggregation, Instrument, InstrumentKind, Stream};

use crate::semconv::{
    GEN_AI_CLIENT_OPERATION_DURATION, GEN_AI_CLIENT_TOKEN_USAGE, GEN_AI_DURATION_BUCKETS,
    GEN_AI_TOKEN_BUCKETS, HTTP_CLIENT_REQUEST_DURATION, HTTP_DURATION_BUCKETS,
    HTTP_SERVER_REQUEST_DURATION,
};

/// Histogram names and the bucket boundaries the views give them.
pub const BUCKETS: [(&str, &[f64]); 4] = [
    (HTTP_SERVER_REQUEST_DURATION, &HTTP_DURATION_BUCKETS),
    (HTTP_CLIENT_REQUEST_DURATION, &HTTP_DURATION_BUCKETS),
    (GEN_AI_CLIENT_TOKEN_USAGE, &GEN_AI_TOKEN_BUCKETS),
    (GEN_AI_CLIENT_OPERATION_DURATION, &GEN_AI_DURATION_BUCKETS),
];

/// The view function: explicit buckets for the four semconv histograms, `None` (default
/// behaviour) for everything else. Pass it to `SdkMeterProvider::builder().with_view(..)`.
pub fn semconv_buckets_view(instrument: &Instrument) -> Option<Stream> {
    if instrument.kind() != InstrumentKind::Histogram {
        return None;
    }
    let (_, bounds) = BUCKETS
        .iter()
        .find(|(name, _)| *name == instrument.name())?;
    Stream::builder()
        .with_aggregation(Aggregation::ExplicitBucketHistogram {
            boundaries: bounds.to_vec(),
            record_min_max: true,
        })
        .build()
        .ok()
}
