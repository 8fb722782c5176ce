//! Construction order: instrumentation used (or built) before a global provider is installed
//! records once one is. Global state, so this file holds one test.

use opentelemetry::trace::Status;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use tower::{Layer, ServiceExt};
use vystak_otel_genai::{
    instrument, GenAiCall, GenAiInstrumentation, GenAiLayer, GenAiRequest, GenAiResponse, Usage,
};

struct Reply;
impl GenAiResponse for Reply {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: Some(3),
            output_tokens: Some(2),
            ..Usage::default()
        })
    }
}

struct Req;
impl GenAiRequest for Req {
    fn gen_ai_call(&self) -> GenAiCall {
        GenAiCall::chat("openai", "layer-model")
    }
}

/// Regression (issue 11): `instrument()` cached its setup on first use, so a call made before
/// `Telemetry::init()` left every later call unrecorded.
#[tokio::test]
async fn calls_before_the_provider_is_installed_do_not_silence_later_calls() {
    let ok = || async { Ok::<_, std::io::Error>(Reply) };
    // Before: no provider installed.
    instrument(GenAiCall::chat("openai", "before"), ok())
        .await
        .unwrap();
    let early = GenAiInstrumentation::new();
    let early_layer = GenAiLayer::new();

    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let tp = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_simple_exporter(spans.clone())
        .build();
    let mp = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    opentelemetry::global::set_tracer_provider(tp.clone());
    opentelemetry::global::set_meter_provider(mp.clone());

    instrument(GenAiCall::chat("openai", "after"), ok())
        .await
        .unwrap();
    early
        .instrument(GenAiCall::chat("openai", "early-instrumentation"), ok())
        .await
        .unwrap();
    early_layer
        .layer(tower::service_fn(|_: Req| async {
            Ok::<_, std::io::Error>(Reply)
        }))
        .oneshot(Req)
        .await
        .unwrap();

    let finished = spans.get_finished_spans().unwrap();
    let models: Vec<String> = finished
        .iter()
        .map(|s| {
            assert_eq!(s.name, "gen_ai.chat", "no other (probe) span is exported");
            assert_eq!(s.status, Status::Unset);
            s.attributes
                .iter()
                .find(|kv| kv.key.as_str() == "gen_ai.request.model")
                .unwrap()
                .value
                .to_string()
        })
        .collect();
    assert_eq!(models, ["after", "early-instrumentation", "layer-model"]);

    mp.force_flush().unwrap();
    let exported = metrics.get_finished_metrics().unwrap();
    let token_points: usize = exported
        .last()
        .unwrap()
        .scope_metrics()
        .flat_map(|sm| sm.metrics())
        .filter(|m| m.name() == "gen_ai.client.token.usage")
        .map(|m| match m.data() {
            opentelemetry_sdk::metrics::data::AggregatedMetrics::U64(
                opentelemetry_sdk::metrics::data::MetricData::Histogram(h),
            ) => h.data_points().count(),
            _ => 0,
        })
        .sum();
    assert_eq!(
        token_points, 6,
        "input + output for each of the three calls"
    );
}
