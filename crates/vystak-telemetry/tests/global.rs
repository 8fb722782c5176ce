//! `init` installs the global providers and propagator (its own test binary: global state).

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, Tracer as _};
use opentelemetry::{global, Context};
use vystak_otel_viewer::Receiver;
use vystak_telemetry::Telemetry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_installs_tracer_meter_and_w3c_propagator() {
    let receiver = Receiver::start_local().await.unwrap();
    let telemetry = Telemetry::new()
        .with_endpoint(receiver.endpoint())
        .with_service_name("vystak-global-test")
        .init()
        .unwrap();
    let tracer = global::tracer("global-test");
    let mut headers = HashMap::new();
    tracer.in_span("global-span", |cx: Context| {
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
        let id = cx.span().span_context().trace_id().to_string();
        assert!(headers["traceparent"].contains(&id), "{headers:?}");
    });
    // The strict W3C propagator is the one installed: a one-digit version restarts the trace
    // (the stock SDK propagator would continue it).
    let mut bad = HashMap::new();
    bad.insert(
        "traceparent".to_owned(),
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    );
    let cx = global::get_text_map_propagator(|p| p.extract(&bad));
    assert!(!cx.span().span_context().is_valid());
    global::meter("global-test")
        .u64_counter("global.counter")
        .build()
        .add(3, &[]);
    telemetry.shutdown().unwrap();
    let store = receiver.store();
    let spans = store.wait_for_spans(1, Duration::from_secs(20)).await;
    assert_eq!(spans[0].name, "global-span");
    assert_eq!(spans[0].service_name, "vystak-global-test");
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| !s
                .metric_points("global.counter")
                .is_empty())
            .await
    );
    assert_eq!(store.metric_points("global.counter")[0].value_sum(), 3.0);
}
