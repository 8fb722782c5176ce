//! The four services, each run as its own OS process (this executable with `--role …`):
//! the channel, the coordinator, and two specialist agents. Every one of them is instrumented the
//! way a user would do it: `Telemetry::init()`, `OtelServerLayer`, `OtelClientMiddleware`, the
//! GenAI wrappers, and (for the NATS agent) `NatsHttpBridge`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use futures_util::StreamExt;
use opentelemetry::KeyValue;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use vystak_otel::client::OtelClientMiddleware;
use vystak_otel::genai::anthropic::{self, MessagesResponse};
use vystak_otel::genai::{
    AgentInvocation, GenAiInstrumentation, GenAiResponse, ModelPrice, PriceTable, ToolExecution,
};
use vystak_otel::nats::{NatsHttpBridge, NatsTracing};
use vystak_otel::server::{EventSpan, OtelServerLayer, SLACK_APP_MENTION};
use vystak_otel::telemetry::{Channel, ServiceName, Telemetry, TelemetryGuard};

use crate::a2a;

pub(crate) const MODEL: &str = "claude-haiku-4-5-20251001";

/// The demo's price table: Claude Haiku 4.5 list prices (USD per million tokens: $1 input,
/// $5 output; cache reads 0.1 ×, 5-minute cache writes 1.25 × the input price).
pub(crate) fn demo_prices() -> (PriceTable, ModelPrice) {
    let haiku = ModelPrice::anthropic(1.0, 5.0);
    (PriceTable::new().with_model(MODEL, haiku), haiku)
}

/// The weather agent's one tool, as the model sees it.
const GET_WEATHER: &str = "get_weather";

/// Command-line of a child: `--role NAME --key value …`.
pub(crate) struct RoleArgs(pub(crate) Vec<String>);

impl RoleArgs {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        let flag = format!("--{key}");
        self.0
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        let flag = format!("--{key}");
        self.0.contains(&flag)
    }

    fn need(&self, key: &str) -> Result<String, String> {
        self.get(key)
            .map(str::to_owned)
            .ok_or_else(|| format!("missing --{key}"))
    }
}

/// What every service shares: its HTTP client (with the middleware), GenAI instrumentation, and
/// the model endpoint.
#[derive(Clone)]
struct Deps {
    http: ClientWithMiddleware,
    genai: GenAiInstrumentation,
    model_url: String,
}

fn init(name: &ServiceName) -> Result<TelemetryGuard, String> {
    Telemetry::new()
        .with_service_name(name.clone())
        .with_export_interval(Duration::from_secs(5))
        .init()
        .map_err(|e| e.to_string())
}

fn deps(model_url: String) -> Deps {
    // Created after `init`, so they capture the installed providers.
    Deps {
        http: ClientBuilder::new(reqwest::Client::new())
            .with(OtelClientMiddleware::new())
            .build(),
        genai: GenAiInstrumentation::new().with_prices(demo_prices().0),
        model_url,
    }
}

/// Serves `app` on 127.0.0.1, prints `READY <url>`, and stops when stdin closes.
async fn serve_until_stdin_closes(app: Router) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("READY http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stdin_closed())
    .await
    .map_err(|e| e.to_string())
}

async fn stdin_closed() {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = lines.next_line().await {}
}

/// The request body of one model call.
fn model_body(role: &str, messages: Value, stream: bool) -> Value {
    json!({
        "model": MODEL,
        "max_tokens": 256,
        "stream": stream,
        "system": format!("You are a Vystak agent. role: {role}"),
        "messages": messages,
    })
}

/// One JSON model call inside its `gen_ai.chat` span.
async fn call_model(deps: &Deps, body: &Value) -> Result<MessagesResponse, String> {
    let url = format!("{}/v1/messages", deps.model_url);
    let call = anthropic::call_for(body); // model and max_tokens read from the request
    deps.genai
        .instrument(call, async {
            deps.http
                .post(&url)
                .json(body)
                .send()
                .await?
                .error_for_status()?
                .json::<MessagesResponse>()
                .await
                .map_err(reqwest_middleware::Error::from)
        })
        .await
        .map_err(|e| e.to_string())
}

/// One model call, through the GenAI wrappers (JSON or SSE streaming).
async fn ask_model(deps: &Deps, role: &str, prompt: &str, stream: bool) -> Result<String, String> {
    let body = model_body(role, json!([{"role": "user", "content": prompt}]), stream);
    if !stream {
        return Ok(call_model(deps, &body).await?.text());
    }
    // Sent on the wrapper's first poll, inside the gen_ai.chat span; events parsed as they arrive.
    let url = format!("{}/v1/messages", deps.model_url);
    let send = deps.http.post(url).json(&body).send();
    let call = anthropic::call_for(&body);
    let events = deps
        .genai
        .instrument_stream(call, anthropic::send_events(send));
    let mut events = std::pin::pin!(events);
    let mut text = String::new();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| e.to_string())?;
        text.push_str(event.text_delta().unwrap_or_default());
    }
    Ok(text)
}

async fn post_a2a(deps: &Deps, url: &str, text: &str) -> Result<String, String> {
    let reply: Value = deps
        .http
        .post(url)
        .json(&a2a::message_send(text))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    a2a::reply_text(&reply)
}

// ---------------------------------------------------------------------------------------------
// Specialist agents

#[derive(Clone)]
struct AgentState {
    deps: Deps,
    name: String,
    role: &'static str,
    stream: bool,
}

/// The `invoke_agent` span of one turn of the agent `name`, in this process.
fn turn(name: &str, request: &Value) -> AgentInvocation {
    let turn = AgentInvocation::new(name)
        .with_provider("anthropic")
        .with_request_model(MODEL);
    // The A2A contextId is the conversation; none is made up when it is absent.
    match request
        .pointer("/params/message/contextId")
        .and_then(Value::as_str)
    {
        Some(id) => turn.with_conversation_id(id),
        None => turn,
    }
}

/// The weather agent's tool: a fixed local "lookup".
async fn get_weather(arguments: &str) -> Result<String, String> {
    let args: Value = serde_json::from_str(arguments).map_err(|e| e.to_string())?;
    let city = args.get("city").and_then(Value::as_str).unwrap_or("Lisbon");
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(format!("{city}: 21 C, clear skies, wind NW 11 km/h"))
}

/// The weather agent's turn: the model asks for `get_weather`, the agent runs it inside an
/// `execute_tool` span, and a second model call answers with its result.
async fn weather_turn(deps: &Deps, question: &str) -> Result<String, String> {
    let mut messages = vec![json!({"role": "user", "content": question})];
    let mut body = model_body("weather", Value::Array(messages.clone()), false);
    body["tools"] = json!([{"name": GET_WEATHER, "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let first = call_model(deps, &body).await?;
    let calls = first.tool_calls();
    if calls.is_empty() {
        return Ok(first.text());
    }
    messages.push(json!({"role": "assistant", "content": first.content}));
    let mut results = Vec::new();
    for call in &calls {
        let tool = ToolExecution::from_call(call).with_description("Current weather for a city");
        let output = deps
            .genai
            .instrument_tool(tool, get_weather(&call.arguments))
            .await?;
        results.push(json!({"type": "tool_result", "tool_use_id": call.id, "content": output}));
    }
    messages.push(json!({"role": "user", "content": results}));
    body["messages"] = Value::Array(messages);
    Ok(call_model(deps, &body).await?.text())
}

async fn agent_a2a(State(s): State<AgentState>, Json(request): Json<Value>) -> Json<Value> {
    let question = a2a::request_text(&request).unwrap_or_default().to_owned();
    let answer = s
        .deps
        .genai
        .instrument_agent(turn(&s.name, &request), async {
            if s.role == "weather" {
                weather_turn(&s.deps, &question).await
            } else {
                ask_model(&s.deps, s.role, &question, s.stream).await
            }
        })
        .await;
    Json(match answer {
        Ok(answer) => a2a::reply(&request, &answer),
        Err(e) => a2a::error(&request, -32603, &e),
    })
}

pub(crate) async fn run_agent(args: &RoleArgs) -> Result<(), String> {
    let name = args.need("name")?;
    let service = ServiceName::agent(&name).map_err(|e| e.to_string())?;
    let telemetry = init(&service)?;
    let role = if name.contains("weather") {
        "weather"
    } else {
        "time"
    };
    let state = AgentState {
        deps: deps(args.need("model")?),
        name: name.clone(),
        role,
        stream: args.flag("stream"),
    };
    let app = Router::new()
        .route("/a2a", post(agent_a2a))
        .with_state(state)
        .layer(OtelServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Optionally reachable over NATS: the bridge forwards the subject to our own /a2a.
    let bridge = match (args.get("nats"), args.get("subject")) {
        (Some(nats_url), Some(subject)) => {
            let client = async_nats::connect(nats_url)
                .await
                .map_err(|e| format!("connect to NATS at {nats_url}: {e}"))?;
            Some(
                NatsHttpBridge::new(client, subject, format!("http://{addr}/a2a"))
                    .with_queue_group(name.clone())
                    .spawn()
                    .await
                    .map_err(|e| e.to_string())?,
            )
        }
        _ => None,
    };
    println!("READY http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stdin_closed())
    .await
    .map_err(|e| e.to_string())?;
    if let Some(bridge) = bridge {
        bridge.shutdown().await;
    }
    telemetry.shutdown().map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Coordinator

#[derive(Clone)]
struct CoordinatorState {
    deps: Deps,
    weather_url: String,
    time: TimeRoute,
}

#[derive(Clone)]
enum TimeRoute {
    Http(String),
    Nats {
        client: async_nats::Client,
        subject: String,
    },
}

async fn coordinator_a2a(
    State(s): State<CoordinatorState>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let question = a2a::request_text(&request).unwrap_or_default().to_owned();
    let result: Result<String, String> = s
        .deps
        .genai
        .instrument_agent(turn("coordinator", &request), async {
            let plan = ask_model(&s.deps, "plan", &question, false).await?;
            let weather_question = format!("{question} ({plan})");
            let weather = post_a2a(&s.deps, &s.weather_url, &weather_question);
            let time = async {
                match &s.time {
                    TimeRoute::Http(url) => post_a2a(&s.deps, url, &question).await,
                    TimeRoute::Nats { client, subject } => {
                        let mut envelope = a2a::message_send(&question);
                        let reply = NatsTracing::new()
                            .request(
                                client,
                                subject.clone(),
                                &mut envelope,
                                Duration::from_secs(60),
                            )
                            .await
                            .map_err(|e| e.to_string())?;
                        let reply: Value =
                            serde_json::from_slice(&reply.payload).map_err(|e| e.to_string())?;
                        a2a::reply_text(&reply)
                    }
                }
            };
            // The two specialists are asked concurrently.
            let (weather, time) = tokio::join!(weather, time);
            let prompt = format!(
                "weather: {}\ntime: {}\nquestion: {question}",
                weather?, time?
            );
            ask_model(&s.deps, "answer", &prompt, false).await
        })
        .await;
    Json(match result {
        Ok(answer) => a2a::reply(&request, &answer),
        Err(e) => a2a::error(&request, -32603, &e),
    })
}

pub(crate) async fn run_coordinator(args: &RoleArgs) -> Result<(), String> {
    let telemetry = init(&ServiceName::agent("coordinator").map_err(|e| e.to_string())?)?;
    let time = match (args.get("nats"), args.get("time-subject"), args.get("time")) {
        (Some(nats_url), Some(subject), _) => TimeRoute::Nats {
            client: async_nats::connect(nats_url)
                .await
                .map_err(|e| format!("connect to NATS at {nats_url}: {e}"))?,
            subject: subject.to_owned(),
        },
        (_, _, Some(url)) => TimeRoute::Http(format!("{url}/a2a")),
        _ => return Err("need --time URL or --nats URL --time-subject SUBJECT".into()),
    };
    let state = CoordinatorState {
        deps: deps(args.need("model")?),
        weather_url: format!("{}/a2a", args.need("weather")?),
        time,
    };
    let app = Router::new()
        .route("/a2a", post(coordinator_a2a))
        .with_state(state)
        .layer(OtelServerLayer::new());
    serve_until_stdin_closes(app).await?;
    telemetry.shutdown().map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Channel

#[derive(Clone)]
struct ChannelState {
    deps: Deps,
    coordinator: String,
}

async fn chat(State(s): State<ChannelState>, Json(body): Json<Value>) -> Json<Value> {
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
    Json(match post_a2a(&s.deps, &s.coordinator, text).await {
        Ok(reply) => json!({"reply": reply}),
        Err(e) => json!({"error": e}),
    })
}

pub(crate) async fn run_channel(args: &RoleArgs) -> Result<(), String> {
    let slack = args.get("entry") == Some("slack");
    let kind = if slack { Channel::Slack } else { Channel::Chat };
    let telemetry = init(&ServiceName::channel(kind))?;
    let state = ChannelState {
        deps: deps(String::new()),
        coordinator: format!("{}/a2a", args.need("coordinator")?),
    };
    if !slack {
        let app = Router::new()
            .route("/chat", post(chat))
            .with_state(state)
            .layer(OtelServerLayer::new());
        serve_until_stdin_closes(app).await?;
        return telemetry.shutdown().map_err(|e| e.to_string());
    }
    // Slack Socket Mode: events arrive over a websocket, not HTTP, so each one gets a root span.
    // Here they arrive on stdin as `event <json>` lines (no network to Slack).
    println!("READY slack-socket-mode");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Some(raw) = line.strip_prefix("event ") else {
            continue;
        };
        let event: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        let text = event
            .pointer("/event/text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let channel_id = event
            .pointer("/event/channel")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        let reply = EventSpan::root(SLACK_APP_MENTION)
            .with_attribute(KeyValue::new("slack.channel.id", channel_id))
            .instrument_result(post_a2a(&state.deps, &state.coordinator, &text))
            .await;
        match reply {
            Ok(text) => println!("REPLY {}", json!({"reply": text})),
            Err(e) => println!("REPLY {}", json!({"error": e})),
        }
    }
    telemetry.shutdown().map_err(|e| e.to_string())
}
