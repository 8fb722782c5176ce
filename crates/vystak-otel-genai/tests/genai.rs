//! The recorder through all three ways in, asserted with in-memory exporters.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SpanData;
use vystak_otel_genai::anthropic::{MessagesResponse, StreamEvent};
use vystak_otel_genai::{
    GenAiCall, GenAiInstrumentation, GenAiLayer, GenAiRequest, GenAiResponse, SemconvMode, Usage,
};
use vystak_otel_testkit::memory::{attrs, InMemory, Value};

/// The workspace's in-memory telemetry (dereferences to [`InMemory`]) with the recorder wired.
struct T(InMemory);

impl std::ops::Deref for T {
    type Target = InMemory;
    fn deref(&self) -> &InMemory {
        &self.0
    }
}

/// A histogram point of one metric.
#[derive(Debug, PartialEq)]
struct Point {
    name: String,
    unit: String,
    attrs: BTreeMap<String, String>,
    count: u64,
    sum: f64,
    bounds: Vec<f64>,
}

impl T {
    fn new() -> Self {
        Self(InMemory::new())
    }
    fn inst(&self) -> GenAiInstrumentation {
        GenAiInstrumentation::new()
            .with_tracer_provider(&self.tp)
            .with_meter_provider(&self.mp)
            .with_semconv_mode(SemconvMode::Seed)
            .with_content_capture(false)
    }
    fn spans(&self) -> Vec<SpanData> {
        self.finished()
    }
    /// The histogram points of `name`, by token type.
    fn points(&self, name: &str) -> Vec<Point> {
        let mut out: Vec<Point> = self
            .points_named(name)
            .into_iter()
            .filter_map(|p| match p.value {
                Value::Histogram { count, sum, bounds } => Some(Point {
                    name: p.name,
                    unit: p.unit,
                    attrs: p.attrs,
                    count,
                    sum,
                    bounds,
                }),
                Value::Sum(_) => None,
            })
            .collect();
        out.sort_by(|a, b| {
            a.attrs
                .get("gen_ai.token.type")
                .cmp(&b.attrs.get("gen_ai.token.type"))
        });
        out
    }
}

fn reply() -> MessagesResponse {
    serde_json::from_value(serde_json::json!({
        "id": "msg_abc", "type": "message", "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "Sunny."}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 20, "output_tokens": 5,
                  "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 30}
    }))
    .unwrap()
}

const TOKEN_BOUNDS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
const DURATION_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

#[tokio::test]
async fn instrument_records_the_seed_span_and_one_token_point_per_direction() {
    let t = T::new();
    let call = GenAiCall::anthropic("claude-haiku-4-5")
        .with_max_tokens(256)
        .with_temperature(0.5)
        .with_server("api.anthropic.com", 443);
    let out = t
        .inst()
        .instrument(call, async { Ok::<_, std::io::Error>(reply()) })
        .await
        .unwrap();
    assert_eq!(out.text(), "Sunny.");
    let spans = t.spans();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(s.name, "gen_ai.chat");
    assert_eq!(s.span_kind, SpanKind::Client);
    assert_eq!(s.status, Status::Unset);
    let a = attrs(s);
    for (k, v) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.system", "anthropic"),
        ("gen_ai.request.model", "claude-haiku-4-5"),
        ("gen_ai.response.model", "claude-haiku-4-5-20251001"),
        ("gen_ai.response.id", "msg_abc"),
        ("gen_ai.response.finish_reasons", r#"["end_turn"]"#),
        ("gen_ai.usage.input_tokens", "1050"),
        ("gen_ai.usage.output_tokens", "5"),
        ("gen_ai.usage.cache_read_input_tokens", "1000"),
        ("gen_ai.usage.cache_creation_input_tokens", "30"),
        ("gen_ai.request.max_tokens", "256"),
        ("gen_ai.request.temperature", "0.5"),
        ("server.address", "api.anthropic.com"),
        ("server.port", "443"),
    ] {
        assert_eq!(a.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(!a.contains_key("gen_ai.input.messages") && !a.contains_key("gen_ai.output.messages"));
    // Beside the seed's names, the ones Phoenix and Langfuse read, with the same values.
    for (k, v) in [
        ("gen_ai.provider.name", "anthropic"),
        ("gen_ai.usage.cache_read.input_tokens", "1000"),
        ("gen_ai.usage.cache_creation.input_tokens", "30"),
    ] {
        assert_eq!(a.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(
        !a.contains_key("gen_ai.usage.cost"),
        "no price table, no cost"
    );

    let tokens = t.points("gen_ai.client.token.usage");
    let by_type: Vec<(String, f64)> = tokens
        .iter()
        .map(|p| (p.attrs["gen_ai.token.type"].clone(), p.sum))
        .collect();
    assert_eq!(
        by_type,
        [
            ("cache_creation".to_owned(), 30.0),
            ("cache_read".to_owned(), 1000.0),
            ("input".to_owned(), 1050.0),
            ("output".to_owned(), 5.0)
        ]
    );
    for p in &tokens {
        assert_eq!(p.unit, "{token}");
        assert_eq!(p.count, 1);
        assert_eq!(p.bounds, TOKEN_BOUNDS);
        assert_eq!(p.attrs["gen_ai.system"], "anthropic");
        assert!(
            !p.attrs.contains_key("gen_ai.provider.name"),
            "the seed's metrics are unchanged"
        );
        assert_eq!(
            p.attrs["gen_ai.request.model"], "claude-haiku-4-5-20251001",
            "the seed takes the model from the response"
        );
    }
    let duration = t.points("gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!(duration[0].unit, "s");
    assert_eq!(duration[0].bounds, DURATION_BOUNDS);
    assert!(!duration[0].attrs.contains_key("error.type"));
}

#[tokio::test]
async fn failures_are_errors_and_still_record_the_duration() {
    let t = T::new();
    let result = t
        .inst()
        .instrument(GenAiCall::anthropic("m"), async {
            Err::<MessagesResponse, _>(std::io::Error::other("overloaded"))
        })
        .await;
    assert!(result.is_err());
    let s = &t.spans()[0];
    assert_eq!(s.status, Status::error("overloaded"));
    assert_eq!(attrs(s)["error.type"], "_OTHER");
    assert!(
        t.points("gen_ai.client.token.usage").is_empty(),
        "no usage, no token points"
    );
    let d = t.points("gen_ai.client.operation.duration");
    assert_eq!(d[0].attrs["error.type"], "_OTHER");
    assert_eq!(
        d[0].attrs["gen_ai.request.model"], "m",
        "falls back to the requested model"
    );
}

fn events() -> Vec<Result<StreamEvent, std::io::Error>> {
    [
        r#"{"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","content":[],"model":"claude-haiku-4-5-20251001","usage":{"input_tokens":40,"cache_read_input_tokens":500,"cache_creation_input_tokens":0,"output_tokens":1}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}"#,
        r#"{"type":"message_stop"}"#,
    ]
    .into_iter()
    .map(|d| Ok(StreamEvent::parse(d).unwrap()))
    .collect()
}

#[tokio::test]
async fn a_stream_ends_the_span_at_its_last_chunk_with_usage_and_time_to_first_chunk() {
    let t = T::new();
    let source = futures_util::stream::iter(events()).then(|e| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        e
    });
    let mut stream = Box::pin(
        t.inst()
            .instrument_stream(GenAiCall::anthropic("claude-haiku-4-5"), source),
    );
    let mut n = 0;
    while let Some(item) = stream.next().await {
        item.unwrap();
        n += 1;
        if n < 5 {
            assert!(
                t.spans().is_empty(),
                "the span stays open until the last chunk"
            );
        }
    }
    let s = &t.spans()[0];
    let a = attrs(s);
    assert_eq!(a["gen_ai.request.stream"], "true");
    assert_eq!(a["gen_ai.usage.input_tokens"], "540", "40 + 500 cache read");
    assert_eq!(a["gen_ai.usage.output_tokens"], "12");
    assert_eq!(a["gen_ai.usage.cache_read_input_tokens"], "500");
    assert_eq!(a["gen_ai.response.id"], "msg_s");
    assert_eq!(a["gen_ai.response.finish_reasons"], r#"["end_turn"]"#);
    let ttfc: f64 = a["gen_ai.response.time_to_first_chunk"].parse().unwrap();
    assert!(ttfc > 0.0);
    let ttfc_points = t.points("gen_ai.client.operation.time_to_first_chunk");
    assert_eq!(ttfc_points.len(), 1);
    assert_eq!(ttfc_points[0].bounds, DURATION_BOUNDS);
}

#[tokio::test]
async fn a_stream_dropped_early_records_finish_reason_error_and_the_usage_seen() {
    let t = T::new();
    let mut stream = Box::pin(t.inst().instrument_stream(
        GenAiCall::anthropic("m"),
        futures_util::stream::iter(events()),
    ));
    stream.next().await.unwrap().unwrap(); // message_start only
    drop(stream);
    let s = &t.spans()[0];
    let a = attrs(s);
    assert_eq!(a["gen_ai.response.finish_reasons"], r#"["error"]"#);
    assert_eq!(a["gen_ai.usage.input_tokens"], "540");
    assert_eq!(a["gen_ai.usage.output_tokens"], "1");
    let input: Vec<f64> = t
        .points("gen_ai.client.token.usage")
        .iter()
        .filter(|p| p.attrs["gen_ai.token.type"] == "input")
        .map(|p| p.sum)
        .collect();
    assert_eq!(input, [540.0]);
}

#[tokio::test]
async fn latest_experimental_names_and_the_anthropic_input_sum() {
    let t = T::new();
    t.inst()
        .with_semconv_mode(SemconvMode::LatestExperimental)
        .instrument(GenAiCall::anthropic("claude-haiku-4-5"), async {
            Ok::<_, std::io::Error>(reply())
        })
        .await
        .unwrap();
    let s = &t.spans()[0];
    assert_eq!(s.name, "chat claude-haiku-4-5");
    let a = attrs(s);
    assert_eq!(a["gen_ai.provider.name"], "anthropic");
    assert!(!a.contains_key("gen_ai.system"));
    assert_eq!(
        a["gen_ai.usage.input_tokens"], "1050",
        "20 + 1000 cache read + 30 cache creation"
    );
    assert_eq!(a["gen_ai.usage.cache_read.input_tokens"], "1000");
    assert_eq!(a["gen_ai.usage.cache_creation.input_tokens"], "30");
    let types: Vec<String> = t
        .points("gen_ai.client.token.usage")
        .iter()
        .map(|p| p.attrs["gen_ai.token.type"].clone())
        .collect();
    assert_eq!(types, ["input", "output"]);
    let p = &t.points("gen_ai.client.token.usage")[0];
    assert_eq!(p.attrs["gen_ai.request.model"], "claude-haiku-4-5");
    assert_eq!(
        p.attrs["gen_ai.response.model"],
        "claude-haiku-4-5-20251001"
    );
}

/// The seed's a2a case: the agent's server span closes before the background model call ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_span_outlives_a_parent_that_ended_first() {
    let t = T::new();
    let parent = t.tp.tracer("agent").start("POST /a2a");
    let cx = opentelemetry::Context::current_with_span(parent);
    let parent_id = cx.span().span_context().span_id();
    let inst = t.inst();
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let _g = cx.clone().attach();
        let fut = inst.instrument(GenAiCall::anthropic("m"), async move {
            wait.await.unwrap();
            Ok::<_, std::io::Error>(reply())
        });
        tokio::spawn(fut)
    };
    cx.span().end(); // the server span ends first
    assert_eq!(t.spans().len(), 1);
    release.send(()).unwrap();
    task.await.unwrap().unwrap();
    let spans = t.spans();
    let chat = spans.iter().find(|s| s.name == "gen_ai.chat").unwrap();
    let server = spans.iter().find(|s| s.name == "POST /a2a").unwrap();
    assert!(chat.end_time > server.end_time);
    assert_eq!(chat.parent_span_id, parent_id);
    assert_eq!(chat.span_context.trace_id(), server.span_context.trace_id());
    assert_eq!(attrs(chat)["gen_ai.usage.cache_read_input_tokens"], "1000");
}

#[tokio::test]
async fn content_capture_is_off_by_default_and_capped_when_on() {
    let t = T::new();
    let call = GenAiCall::anthropic("m").with_input_messages(
        r#"[{"role":"user","parts":[{"type":"text","content":"secret prompt"}]}]"#,
    );
    t.inst()
        .instrument(call.clone(), async { Ok::<_, std::io::Error>(reply()) })
        .await
        .unwrap();
    assert!(!attrs(&t.spans()[0]).contains_key("gen_ai.input.messages"));
    t.inst()
        .with_content_capture(true)
        .with_content_cap(20)
        .instrument(call, async { Ok::<_, std::io::Error>(reply()) })
        .await
        .unwrap();
    let a = attrs(&t.spans()[1]);
    assert_eq!(a["gen_ai.input.messages"].len(), 20);
    assert!(a["gen_ai.output.messages"].starts_with(r#"[{"#));
}

struct Req(&'static str);
impl GenAiRequest for Req {
    fn gen_ai_call(&self) -> GenAiCall {
        GenAiCall::chat("openai", self.0)
    }
}
struct Resp;
impl GenAiResponse for Resp {
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            input_tokens: Some(7),
            output_tokens: Some(3),
            ..Usage::default()
        })
    }
}

#[tokio::test]
async fn the_layer_wraps_a_model_client_service() {
    use tower::{Layer, ServiceExt};
    let t = T::new();
    let svc =
        GenAiLayer::with_instrumentation(t.inst()).layer(tower::service_fn(|_req: Req| async {
            let inside = opentelemetry::Context::current()
                .span()
                .span_context()
                .is_valid();
            assert!(inside, "the model call runs inside the gen_ai.chat span");
            Ok::<_, std::convert::Infallible>(Resp)
        }));
    svc.oneshot(Req("gpt-4o")).await.unwrap();
    let a = attrs(&t.spans()[0]);
    assert_eq!(a["gen_ai.system"], "openai");
    assert_eq!(a["gen_ai.usage.input_tokens"], "7");
    let types: Vec<String> = t
        .points("gen_ai.client.token.usage")
        .iter()
        .map(|p| p.attrs["gen_ai.token.type"].clone())
        .collect();
    assert_eq!(
        types,
        ["input", "output"],
        "no cache points when the provider reported none"
    );
}

/// Regression (issue 11): seed mode recorded Anthropic's raw `input_tokens` (cache excluded), so
/// the seed's `cache_read / input` ratio came out as 40.92. LangChain's `usage_metadata`, which the
/// seed's runtime records, is the total input.
#[tokio::test]
async fn seed_input_tokens_are_the_total_input_so_the_cache_hit_ratio_is_at_most_one() {
    let t = T::new();
    t.inst()
        .instrument(GenAiCall::anthropic("claude-haiku-4-5"), async {
            Ok::<_, std::io::Error>(reply())
        })
        .await
        .unwrap();
    let a = attrs(&t.spans()[0]);
    assert_eq!(a["gen_ai.usage.input_tokens"], "1050", "20 + 1000 + 30");
    assert_eq!(a["gen_ai.usage.cache_read_input_tokens"], "1000");
    let sum = |ty: &str| -> f64 {
        t.points("gen_ai.client.token.usage")
            .iter()
            .filter(|p| p.attrs["gen_ai.token.type"] == ty)
            .map(|p| p.sum)
            .sum()
    };
    assert_eq!(sum("input"), 1050.0);
    assert!(sum("cache_read") / sum("input") <= 1.0);
}

/// Regression (issue 11): `[Ok1, Err, Ok2, Ok3]` came out as `[Ok1, Err]`.
#[tokio::test]
async fn a_stream_passes_every_item_through_after_an_error_and_records_the_error() {
    let t = T::new();
    let mut items = events();
    items.insert(
        1,
        Err(std::io::Error::other(
            "event 2 did not parse: https://h/x?sig=s3cret",
        )),
    );
    let got: Vec<Result<StreamEvent, String>> = t
        .inst()
        .instrument_stream(
            GenAiCall::anthropic("claude-haiku-4-5"),
            futures_util::stream::iter(items),
        )
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
        .await;
    assert_eq!(got.len(), 6, "every item, the error included: {got:?}");
    assert!(got[1].is_err());
    assert!(got.iter().enumerate().all(|(i, r)| (i == 1) != r.is_ok()));
    let spans = t.spans();
    assert_eq!(spans.len(), 1);
    let s = &spans[0];
    assert_eq!(
        s.status,
        Status::error("event 2 did not parse: https://h/x?sig=REDACTED")
    );
    let a = attrs(s);
    assert_eq!(a["error.type"], "_OTHER");
    assert_eq!(
        a["gen_ai.usage.output_tokens"], "12",
        "usage after the error still counts"
    );
    assert_eq!(a["gen_ai.response.finish_reasons"], r#"["end_turn"]"#);
    let d = t.points("gen_ai.client.operation.duration");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].attrs["error.type"], "_OTHER");
}

// ---------------------------------------------------------------------------------------------
// Agent and tool spans, cost

use vystak_otel_genai::{
    AgentInvocation, GenAiAgentLayer, ModelPrice, PriceTable, ToolCall, ToolExecution,
};

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn int(span: &SpanData, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            opentelemetry::Value::I64(v) => Some(v),
            _ => None,
        })
}

fn float(span: &SpanData, key: &str) -> Option<f64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            opentelemetry::Value::F64(v) => Some(v),
            _ => None,
        })
}

/// One chat call returning `reply()` (1,050 total input, 5 output, 1,000 read, 30 written).
async fn chat(inst: &GenAiInstrumentation) {
    inst.instrument(GenAiCall::anthropic("claude-haiku-4-5"), async {
        Ok::<_, std::io::Error>(reply())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_agent_turn_is_an_invoke_agent_span_with_its_calls_and_tools_as_children() {
    let t = T::new();
    let inst = t.inst().with_content_capture(true);
    let turn = AgentInvocation::new("weather-agent")
        .with_id("agent-7")
        .with_conversation_id("C123")
        .with_provider("anthropic");
    let answer = inst
        .instrument_agent(turn, async {
            chat(&inst).await;
            let asked = ToolCall {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Lisbon"}"#.into(),
            };
            let weather = inst
                .instrument_tool(ToolExecution::from_call(&asked), async {
                    Ok::<_, std::io::Error>("21 C, clear".to_owned())
                })
                .await?;
            chat(&inst).await;
            Ok::<_, std::io::Error>(weather)
        })
        .await
        .unwrap();
    assert_eq!(answer, "21 C, clear");
    let spans = t.spans();
    assert_eq!(spans.len(), 4);
    let agent = by_name(&spans, "invoke_agent weather-agent")[0];
    assert_eq!(agent.span_kind, SpanKind::Internal);
    assert_eq!(agent.status, Status::Unset);
    let a = attrs(agent);
    for (k, v) in [
        ("gen_ai.operation.name", "invoke_agent"),
        ("gen_ai.agent.name", "weather-agent"),
        ("gen_ai.agent.id", "agent-7"),
        ("gen_ai.conversation.id", "C123"),
        ("gen_ai.system", "anthropic"),
        ("gen_ai.provider.name", "anthropic"),
    ] {
        assert_eq!(a.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(
        a.keys()
            .all(|k| !k.starts_with("gen_ai.usage.") && !k.starts_with("vystak.")),
        "no usage on the agent span by default: {a:?}"
    );
    let tool = by_name(&spans, "execute_tool get_weather")[0];
    assert_eq!(tool.span_kind, SpanKind::Internal);
    let a = attrs(tool);
    for (k, v) in [
        ("gen_ai.operation.name", "execute_tool"),
        ("gen_ai.tool.name", "get_weather"),
        ("gen_ai.tool.type", "function"),
        ("gen_ai.tool.call.id", "toolu_1"),
        ("gen_ai.tool.call.arguments", r#"{"city":"Lisbon"}"#),
        ("gen_ai.tool.call.result", "21 C, clear"),
    ] {
        assert_eq!(a.get(k).map(String::as_str), Some(v), "{k}");
    }
    // Every other span is a child of the agent span, in one trace; the tool runs between the
    // two chat calls.
    let chats = by_name(&spans, "gen_ai.chat");
    assert_eq!(chats.len(), 2);
    for s in chats.iter().chain([&tool]) {
        assert_eq!(s.parent_span_id, agent.span_context.span_id(), "{}", s.name);
        assert_eq!(s.span_context.trace_id(), agent.span_context.trace_id());
    }
    let mut chats = chats;
    chats.sort_by_key(|s| s.start_time);
    assert!(chats[0].end_time <= tool.start_time && tool.end_time <= chats[1].start_time);
}

#[tokio::test]
async fn tool_content_needs_capture_and_a_remote_agent_is_a_client_span() {
    let t = T::new();
    let inst = t.inst(); // capture off
    inst.instrument_agent(
        AgentInvocation::remote("time-agent").with_server("agents.internal", 8443),
        inst.instrument_tool(
            ToolExecution::new("now").with_arguments(r#"{"tz":"WET"}"#),
            async { Ok::<_, std::io::Error>("14:05".to_owned()) },
        ),
    )
    .await
    .unwrap();
    let spans = t.spans();
    let agent = by_name(&spans, "invoke_agent time-agent")[0];
    assert_eq!(agent.span_kind, SpanKind::Client);
    assert_eq!(attrs(agent)["server.address"], "agents.internal");
    assert_eq!(int(agent, "server.port"), Some(8443));
    let tool = attrs(by_name(&spans, "execute_tool now")[0]);
    assert!(!tool.contains_key("gen_ai.tool.call.arguments"));
    assert!(!tool.contains_key("gen_ai.tool.call.result"));
}

#[tokio::test]
async fn usage_summed_over_every_span_counts_each_call_once_and_the_aggregate_is_opt_in() {
    let t = T::new();
    let inst = t.inst().with_agent_usage_aggregate(true);
    // coordinator → (chat, weather-agent → (chat, chat)), all in one process.
    inst.instrument_agent(AgentInvocation::new("coordinator"), async {
        chat(&inst).await;
        inst.instrument_agent(AgentInvocation::new("weather-agent"), async {
            chat(&inst).await;
            chat(&inst).await;
            Ok::<_, std::io::Error>(())
        })
        .await
    })
    .await
    .unwrap();
    let spans = t.spans();
    assert_eq!(spans.len(), 5);
    let sum_over = |filter: &dyn Fn(&SpanData) -> bool| -> i64 {
        spans
            .iter()
            .filter(|s| filter(s))
            .filter_map(|s| int(s, "gen_ai.usage.input_tokens"))
            .sum()
    };
    let all = sum_over(&|_| true);
    let chats = sum_over(&|s| s.name == "gen_ai.chat");
    assert_eq!((all, chats), (3 * 1050, 3 * 1050));
    let weather = by_name(&spans, "invoke_agent weather-agent")[0];
    let coordinator = by_name(&spans, "invoke_agent coordinator")[0];
    for (span, calls) in [(weather, 2), (coordinator, 3)] {
        assert_eq!(
            int(span, "vystak.gen_ai.agent.usage.input_tokens"),
            Some(calls * 1050)
        );
        assert_eq!(
            int(span, "vystak.gen_ai.agent.usage.output_tokens"),
            Some(calls * 5)
        );
        assert_eq!(
            int(span, "vystak.gen_ai.agent.usage.cache_read.input_tokens"),
            Some(calls * 1000)
        );
        assert_eq!(
            int(
                span,
                "vystak.gen_ai.agent.usage.cache_creation.input_tokens"
            ),
            Some(calls * 30)
        );
        assert_eq!(int(span, "vystak.gen_ai.agent.chat_calls"), Some(calls));
        assert_eq!(
            float(span, "vystak.gen_ai.agent.usage.cost"),
            None,
            "no prices"
        );
    }
}

#[tokio::test]
async fn a_priced_call_carries_its_cost_and_records_the_cost_histogram() {
    let t = T::new();
    let prices = PriceTable::new()
        .with_model("claude-haiku-4-5-20251001", ModelPrice::anthropic(1.0, 5.0))
        .with_model("other", ModelPrice::new(100.0, 100.0));
    let inst = t
        .inst()
        .with_prices(prices)
        .with_agent_usage_aggregate(true);
    inst.instrument_agent(AgentInvocation::new("a"), async {
        chat(&inst).await; // priced by its response model
        inst.instrument(GenAiCall::anthropic("unpriced-model"), async {
            Ok::<_, std::io::Error>(
                serde_json::from_value::<MessagesResponse>(serde_json::json!({
                    "id": "msg_u", "model": "unpriced-model", "content": [],
                    "usage": {"input_tokens": 10, "output_tokens": 10}
                }))
                .unwrap(),
            )
        })
        .await
    })
    .await
    .unwrap();
    let spans = t.spans();
    // 20 uncached input × $1 + 1,000 read × $0.10 + 30 written × $1.25 + 5 output × $5, per M.
    let want = (20.0 * 1.0 + 1_000.0 * 0.1 + 30.0 * 1.25 + 5.0 * 5.0) / 1e6;
    let priced = spans
        .iter()
        .find(|s| attrs(s).get("gen_ai.response.id").map(String::as_str) == Some("msg_abc"))
        .unwrap();
    let cost = float(priced, "gen_ai.usage.cost").unwrap();
    assert!((cost - want).abs() < 1e-15, "{cost} vs {want}");
    let unpriced = spans
        .iter()
        .find(|s| attrs(s).get("gen_ai.response.id").map(String::as_str) == Some("msg_u"))
        .unwrap();
    assert_eq!(float(unpriced, "gen_ai.usage.cost"), None, "never a guess");
    let agent = by_name(&spans, "invoke_agent a")[0];
    let agg = float(agent, "vystak.gen_ai.agent.usage.cost").unwrap();
    assert!((agg - want).abs() < 1e-15);
    assert!(
        float(agent, "gen_ai.usage.cost").is_none(),
        "cost lives on chat spans only"
    );

    let points = t.points("vystak.gen_ai.client.cost");
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(points[0].unit, "{USD}");
    assert_eq!(points[0].count, 1);
    assert!((points[0].sum - want).abs() < 1e-15);
    assert_eq!(
        points[0].attrs["gen_ai.request.model"],
        "claude-haiku-4-5-20251001"
    );
    assert_eq!(points[0].bounds[0], 0.0001);
}

#[tokio::test]
async fn a_failed_turn_is_an_error_and_latest_mode_names_the_provider_once() {
    let t = T::new();
    let inst = t.inst().with_semconv_mode(SemconvMode::LatestExperimental);
    let r = inst
        .instrument_agent(
            AgentInvocation::new("coordinator").with_provider("openai"),
            async { Err::<(), _>(std::io::Error::other("upstream agent failed")) },
        )
        .await;
    assert!(r.is_err());
    let s = &t.spans()[0];
    assert_eq!(s.status, Status::error("upstream agent failed"));
    let a = attrs(s);
    assert_eq!(a["error.type"], "_OTHER");
    assert_eq!(a["gen_ai.provider.name"], "openai");
    assert!(!a.contains_key("gen_ai.system"));
}

#[tokio::test]
async fn an_agent_stream_ends_its_span_with_the_stream() {
    let t = T::new();
    let inst = t.inst();
    let items = futures_util::stream::iter([
        Ok::<_, std::io::Error>("a"),
        Err(std::io::Error::other("chunk lost")),
        Ok("b"),
    ]);
    let got: Vec<_> = inst
        .instrument_agent_stream(AgentInvocation::new("streamer"), items)
        .collect()
        .await;
    assert_eq!(got.len(), 3, "every item passes through");
    let s = &t.spans()[0];
    assert_eq!(s.name, "invoke_agent streamer");
    assert_eq!(s.status, Status::error("chunk lost"));
}

#[tokio::test]
async fn the_agent_layer_makes_each_service_call_a_turn() {
    use tower::{service_fn, Layer, ServiceExt};
    let t = T::new();
    let inst = t.inst();
    let inner_inst = inst.clone();
    let svc = GenAiAgentLayer::with_instrumentation(inst, |q: &String| {
        AgentInvocation::new(format!("agent-for-{}", q.len()))
    })
    .layer(service_fn(move |q: String| {
        let inst = inner_inst.clone();
        async move {
            chat(&inst).await;
            Ok::<_, std::io::Error>(q.to_uppercase())
        }
    }));
    assert_eq!(svc.oneshot("hey".to_owned()).await.unwrap(), "HEY");
    let spans = t.spans();
    let agent = by_name(&spans, "invoke_agent agent-for-3")[0];
    let chat = by_name(&spans, "gen_ai.chat")[0];
    assert_eq!(chat.parent_span_id, agent.span_context.span_id());
}
