//! Helpers shared by the export tests.

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use vystak_otel_viewer::{PointValue, Receiver};
use vystak_telemetry::Telemetry;

/// One span and one token histogram point through `telemetry`, then shutdown; asserts both
/// arrived at `receiver`.
pub(crate) async fn roundtrip(receiver: &Receiver, telemetry: Telemetry, label: &str) {
    let guard = telemetry
        .with_service_name(format!("vystak-{label}"))
        .with_summary_line(false)
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("protocols");
    let mut span = tracer.start(format!("span {label}"));
    span.set_attribute(KeyValue::new("label", label.to_owned()));
    span.end();
    let tokens = guard
        .meter_provider()
        .unwrap()
        .meter("protocols")
        .u64_histogram("gen_ai.client.token.usage")
        .with_unit("{token}")
        .build();
    tokens.record(1234, &[KeyValue::new("gen_ai.token.type", "input")]);
    guard.shutdown().unwrap();
    let store = receiver.store();
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| {
                !s.spans_named(&format!("span {label}")).is_empty()
                    && s.metric_points("gen_ai.client.token.usage")
                        .iter()
                        .any(|p| p.service_name == format!("vystak-{label}"))
            })
            .await,
        "{label}: the span and the token point arrive"
    );
    let point = store
        .metric_points("gen_ai.client.token.usage")
        .into_iter()
        .find(|p| p.service_name == format!("vystak-{label}"))
        .unwrap();
    match point.value {
        PointValue::Histogram { count, sum, .. } => {
            assert_eq!((count, sum), (1, 1234.0), "{label}")
        }
        other => panic!("{label}: {other:?}"),
    }
}
