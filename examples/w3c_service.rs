//! The test service of the official W3C Trace Context validation suite
//! (`third_party/w3c-trace-context/test`), made the way a user makes a service: `Telemetry::init()`
//! (which installs the propagator), `OtelServerLayer` on the server and `OtelClientMiddleware` on
//! the client.
//!
//! The harness POSTs a JSON array of `{"url", "arguments"}` to `/test`; for each element the service
//! POSTs `arguments` to `url`, inside the server span of the harness' request, so the outgoing
//! `traceparent`/`tracestate` are the propagator's answer to the incoming ones.
//!
//! ```text
//! cargo run --example w3c_service -- 127.0.0.1:5000      # prints READY http://127.0.0.1:5000/test
//! STRICT_LEVEL=2 SPEC_LEVEL=2 python3 third_party/w3c-trace-context/test/test.py http://127.0.0.1:5000/test
//! ```
//!
//! Spans go to `OTEL_EXPORTER_OTLP_ENDPOINT` when set, else to an embedded receiver (discarded).

use std::net::SocketAddr;

use axum::routing::post;
use axum::{Json, Router};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::Value;
use vystak_otel::client::OtelClientMiddleware;
use vystak_otel::server::OtelServerLayer;
use vystak_otel::telemetry::Telemetry;
use vystak_otel_viewer::Receiver;

async fn test(
    axum::extract::State(http): axum::extract::State<ClientWithMiddleware>,
    Json(actions): Json<Value>,
) -> &'static str {
    for action in actions.as_array().into_iter().flatten() {
        let Some(url) = action.get("url").and_then(Value::as_str) else {
            continue;
        };
        let arguments = action.get("arguments").cloned().unwrap_or(Value::Null);
        // The harness reads what arrived; the reply does not matter.
        let _ = http.post(url).json(&arguments).send().await;
    }
    "ok"
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned())
        .parse()?;
    let embedded = match std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT") {
        None => Some(Receiver::start_local().await?),
        Some(_) => None,
    };
    let mut telemetry = Telemetry::new().with_service_name("w3c-test-service");
    if let Some(receiver) = &embedded {
        telemetry = telemetry.with_endpoint(receiver.endpoint());
    }
    let telemetry = telemetry.init()?;
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(OtelClientMiddleware::new())
        .build();
    let app = Router::new()
        .route("/test", post(test))
        .with_state(http)
        .layer(OtelServerLayer::new());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("READY http://{}/test", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    telemetry.shutdown()?;
    Ok(())
}
