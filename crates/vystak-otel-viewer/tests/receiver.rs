//! The real OTLP gRPC export path (SDK → opentelemetry-otlp tonic exporter → our receiver).

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind as OtelKind, Status, TraceContextExt, Tracer,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use vystak_otel_viewer::{render, AttrValue, PointValue, Receiver, SpanKind, SpanStatus};

fn providers(endpoint: &str) -> (SdkTracerProvider, SdkMeterProvider) {
    let resource = Resource::builder()
        .with_service_name("vystak-viewer-test")
        .build();
    let spans = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .expect("span exporter");
    let tp = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    let metrics = MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .expect("metric exporter");
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics).build())
        .with_resource(resource)
        .build();
    (tp, mp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_histograms_arrive_over_otlp_grpc() {
    let receiver = Receiver::start_local().await.expect("receiver");
    let (tp, mp) = providers(&receiver.endpoint());

    let tracer = tp.tracer("viewer-test");
    let linked = SpanContext::new(
        opentelemetry::trace::TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        opentelemetry::trace::SpanId::from_hex("b7ad6b7169203331").unwrap(),
        opentelemetry::trace::TraceFlags::SAMPLED,
        true,
        Default::default(),
    );
    let parent = tracer
        .span_builder("POST /a2a")
        .with_kind(OtelKind::Server)
        .with_attributes([
            KeyValue::new("http.route", "/a2a"),
            KeyValue::new("http.response.status_code", 200_i64),
        ])
        .start(&tracer);
    let cx = Context::current_with_span(parent);
    let mut child = tracer
        .span_builder("gen_ai.chat")
        .with_kind(OtelKind::Client)
        .with_links(vec![Link::with_context(linked)])
        .start_with_context(&tracer, &cx);
    child.set_attribute(KeyValue::new(
        "gen_ai.response.finish_reasons",
        opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("end_turn")].into()),
    ));
    child.add_event("exception", vec![KeyValue::new("exception.type", "Boom")]);
    child.set_status(Status::error("model failed"));
    let trace_id = child.span_context().trace_id().to_string();
    let parent_id = cx.span().span_context().span_id().to_string();
    let child_id = child.span_context().span_id().to_string();
    child.end();
    cx.span().end();

    let histogram = mp
        .meter("viewer-test")
        .u64_histogram("gen_ai.client.token.usage")
        .with_unit("{token}")
        .with_boundaries(vec![1.0, 4.0, 16.0])
        .build();
    histogram.record(10, &[KeyValue::new("gen_ai.token.type", "input")]);
    histogram.record(2, &[KeyValue::new("gen_ai.token.type", "input")]);

    tp.shutdown().expect("trace shutdown");
    mp.shutdown().expect("metrics shutdown");

    let store = receiver.store();
    let spans = store.wait_for_spans(2, Duration::from_secs(20)).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let server = &store.spans_named("POST /a2a")[0];
    let chat = &store.spans_named("gen_ai.chat")[0];
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.parent_span_id, None);
    assert_eq!(server.span_id, parent_id);
    assert_eq!(server.service_name, "vystak-viewer-test");
    assert_eq!(server.scope_name, "viewer-test");
    assert_eq!(server.int_attr("http.response.status_code"), Some(200));
    assert_eq!(server.str_attr("http.route"), Some("/a2a"));
    assert_eq!(chat.kind, SpanKind::Client);
    assert_eq!(chat.trace_id, trace_id);
    assert_eq!(chat.span_id, child_id);
    assert_eq!(chat.parent_span_id.as_deref(), Some(parent_id.as_str()));
    assert_eq!(
        chat.status,
        SpanStatus::Error {
            message: "model failed".into()
        }
    );
    assert_eq!(
        chat.attr("gen_ai.response.finish_reasons"),
        Some(&AttrValue::Array(vec![AttrValue::Str("end_turn".into())]))
    );
    assert_eq!(chat.events[0].name, "exception");
    assert_eq!(
        chat.events[0].attributes.get("exception.type"),
        Some(&AttrValue::Str("Boom".into()))
    );
    assert_eq!(chat.links[0].trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(chat.links[0].span_id, "b7ad6b7169203331");
    assert_eq!(store.trace(&trace_id).len(), 2);
    assert_eq!(store.children_of(&parent_id)[0].span_id, child_id);

    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| !s
                .metric_points("gen_ai.client.token.usage")
                .is_empty())
            .await
    );
    let points = store.metric_points("gen_ai.client.token.usage");
    assert_eq!(points.len(), 1);
    let p = &points[0];
    assert_eq!(p.unit, "{token}");
    assert_eq!(p.service_name, "vystak-viewer-test");
    assert_eq!(p.str_attr("gen_ai.token.type"), Some("input"));
    match &p.value {
        PointValue::Histogram {
            count,
            sum,
            bounds,
            bucket_counts,
            ..
        } => {
            assert_eq!((*count, *sum), (2, 12.0));
            assert_eq!(bounds, &[1.0, 4.0, 16.0]);
            assert_eq!(bucket_counts, &[0, 1, 1, 0]);
        }
        other => panic!("expected a histogram, got {other:?}"),
    }

    let tree = render::trace_tree(&store.trace(&trace_id));
    assert!(
        tree.contains("vystak-viewer-test POST /a2a [SERVER]")
            && tree.contains("\n  vystak-viewer-test gen_ai.chat [CLIENT ERROR]"),
        "{tree}"
    );
    let summary = render::TokenSummary::from_points(&store.all_metric_points());
    assert_eq!(summary.total_input(), 12.0);
    receiver.shutdown().await;
}

#[tokio::test]
async fn binding_a_used_port_is_a_clear_error() {
    let first = Receiver::start_local().await.unwrap();
    let err = Receiver::start(first.local_addr()).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot listen on {}", first.local_addr())),
        "{err}"
    );
}
