//! What both GenAI benches share: the discarding exporter, the model reply, and the
//! hand-written peers on the raw API.

use std::hint::black_box;
use std::time::Instant;

use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry::trace::{FutureExt as _, SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use vystak_otel_genai::{GenAiResponse, Usage};

#[derive(Debug)]
pub(crate) struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

pub(crate) struct Reply;

impl GenAiResponse for Reply {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: Some(20),
            output_tokens: Some(5),
            cache_read_input_tokens: Some(1000),
            cache_creation_input_tokens: Some(30),
            reasoning_output_tokens: None,
        })
    }
    fn response_model(&self) -> Option<&str> {
        Some("claude-haiku-4-5-20251001")
    }
}

/// A chat call written by hand on the raw API.
pub(crate) struct Peers {
    tracer: SdkTracer,
    tokens: Histogram<u64>,
    duration: Histogram<f64>,
}

impl Peers {
    pub(crate) fn new(tp: &SdkTracerProvider, mp: &SdkMeterProvider) -> Self {
        let meter = mp.meter("hand-written");
        Self {
            tracer: tp.tracer("hand-written"),
            tokens: meter.u64_histogram("gen_ai.client.token.usage").build(),
            duration: meter
                .f64_histogram("gen_ai.client.operation.duration")
                .build(),
        }
    }

    /// The minimum: one chat span with 6 attributes, 3 token points and the duration
    /// (4 histogram records).
    pub(crate) async fn chat_minimum(&self) -> Result<Reply, ()> {
        let start = Instant::now();
        let span = self
            .tracer
            .span_builder("gen_ai.chat")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.provider.name", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5"),
            ])
            .start(&self.tracer);
        let cx = Context::current_with_span(span);
        let out = async { Ok::<_, ()>(Reply) }.with_context(cx.clone()).await;
        let usage = out
            .as_ref()
            .ok()
            .and_then(GenAiResponse::usage)
            .unwrap_or_default();
        let span = cx.span();
        span.set_attributes([
            KeyValue::new(
                "gen_ai.usage.input_tokens",
                usage.input_tokens.unwrap_or(0) as i64,
            ),
            KeyValue::new(
                "gen_ai.usage.output_tokens",
                usage.output_tokens.unwrap_or(0) as i64,
            ),
        ]);
        span.end();
        let attrs = |ty: &'static str| {
            [
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5"),
                KeyValue::new("gen_ai.token.type", ty),
            ]
        };
        self.tokens
            .record(usage.input_tokens.unwrap_or(0), &attrs("input"));
        self.tokens
            .record(usage.output_tokens.unwrap_or(0), &attrs("output"));
        self.tokens.record(
            usage.cache_read_input_tokens.unwrap_or(0),
            &attrs("cache_read"),
        );
        self.duration
            .record(start.elapsed().as_secs_f64(), &attrs("input")[..3]);
        out
    }

    /// The same data as `instrument()` records for this call: 11 span attributes (the seed's and
    /// the v1.40 cache names), 4 token points and the duration. The difference to ours is the
    /// wrapper's own cost.
    pub(crate) async fn chat_same_data(&self) -> Result<Reply, ()> {
        let start = Instant::now();
        let span = self
            .tracer
            .span_builder("gen_ai.chat")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.system", "anthropic"),
                KeyValue::new("gen_ai.provider.name", "anthropic"),
                KeyValue::new("gen_ai.request.model", "claude-haiku-4-5".to_owned()),
            ])
            .start(&self.tracer);
        let cx = Context::current_with_span(span);
        let out = async { Ok::<_, ()>(Reply) }.with_context(cx.clone()).await;
        let reply = out.as_ref().ok();
        let usage = reply.and_then(GenAiResponse::usage).unwrap_or_default();
        let model = reply
            .and_then(GenAiResponse::response_model)
            .unwrap_or("claude-haiku-4-5")
            .to_owned();
        let read = usage.cache_read_input_tokens.unwrap_or(0);
        let creation = usage.cache_creation_input_tokens.unwrap_or(0);
        let input = usage.input_tokens.unwrap_or(0) + read + creation;
        let output = usage.output_tokens.unwrap_or(0);
        let span = cx.span();
        span.set_attributes([
            KeyValue::new("gen_ai.response.model", model.clone()),
            KeyValue::new("gen_ai.usage.input_tokens", input as i64),
            KeyValue::new("gen_ai.usage.output_tokens", output as i64),
            KeyValue::new("gen_ai.usage.cache_read.input_tokens", read as i64),
            KeyValue::new("gen_ai.usage.cache_creation.input_tokens", creation as i64),
            KeyValue::new("gen_ai.usage.cache_read_input_tokens", read as i64),
            KeyValue::new("gen_ai.usage.cache_creation_input_tokens", creation as i64),
        ]);
        span.end();
        let mut attrs = [
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.system", "anthropic"),
            KeyValue::new("gen_ai.request.model", model),
            KeyValue::new("gen_ai.token.type", "input"),
        ];
        for (ty, v) in [
            ("input", input),
            ("output", output),
            ("cache_read", read),
            ("cache_creation", creation),
        ] {
            attrs[3] = KeyValue::new("gen_ai.token.type", ty);
            self.tokens.record(v, &attrs);
        }
        self.duration
            .record(start.elapsed().as_secs_f64(), &attrs[..3]);
        out
    }

    /// The tool span `instrument_tool` makes, by hand (4 attributes).
    pub(crate) async fn tool(&self) -> Result<String, ()> {
        let span = self
            .tracer
            .span_builder("execute_tool get_weather")
            .with_kind(SpanKind::Internal)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "execute_tool"),
                KeyValue::new("gen_ai.tool.name", "get_weather"),
                KeyValue::new("gen_ai.tool.type", "function"),
                KeyValue::new("gen_ai.tool.call.id", "toolu_01"),
            ])
            .start(&self.tracer);
        let cx = Context::current_with_span(span);
        let out = async { Ok::<_, ()>("21 C".to_owned()) }
            .with_context(cx.clone())
            .await;
        cx.span().end();
        out
    }
}
