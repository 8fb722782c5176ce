//! The README's quick start: an axum server with `OtelServerLayer`, a reqwest client with
//! `OtelClientMiddleware`, and `Telemetry::init()`. One request produces a two-span trace: the
//! server span and its client child.
//!
//! ```text
//! cargo run --example quickstart                       # embedded receiver, prints the tree
//! cargo run -p vystak-otel-viewer &                    # or: a local viewer on 127.0.0.1:4317 …
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 cargo run --example quickstart
//! ```

use axum::{routing::get, Router};
use reqwest_middleware::ClientBuilder;
use vystak_otel::client::OtelClientMiddleware;
use vystak_otel::server::OtelServerLayer;
use vystak_otel::telemetry::{ServiceName, Telemetry};
use vystak_otel_viewer::{render, Receiver};

async fn serve(app: Router) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No OTEL_EXPORTER_OTLP_ENDPOINT: run the embedded receiver and print what it received.
    let embedded = match std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT") {
        None => Some(Receiver::start_local().await?),
        Some(_) => None,
    };
    let mut telemetry = Telemetry::new().with_service_name(ServiceName::agent("weather-agent")?);
    if let Some(receiver) = &embedded {
        telemetry = telemetry.with_endpoint(receiver.endpoint());
    }
    let telemetry = telemetry.init()?; // OTLP gRPC; OTEL_EXPORTER_OTLP_ENDPOINT="" → off

    // A downstream service without instrumentation (think: a weather API).
    let forecast = serve(Router::new().route("/forecast", get(|| async { "sunny" }))).await?;

    // Every outbound call is a CLIENT span and carries `traceparent`.
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(OtelClientMiddleware::new())
        .build();
    // Every inbound request is a SERVER span that continues the caller's trace.
    let app = Router::new()
        .route(
            "/a2a",
            get(move || async move {
                let reply = http.get(format!("{forecast}/forecast")).send().await;
                match reply {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(e) => format!("forecast unavailable: {e}"),
                }
            }),
        )
        .layer(OtelServerLayer::new());
    let agent = serve(app).await?;

    let answer = reqwest::get(format!("{agent}/a2a")).await?.text().await?;
    println!("GET {agent}/a2a -> {answer}");
    telemetry.shutdown()?; // flushes every finished span and metric point

    if let Some(receiver) = embedded {
        let spans = receiver
            .store()
            .wait_for_spans(2, std::time::Duration::from_secs(10))
            .await;
        print!("{}", render::trace_tree(&spans));
        println!("({} spans)", spans.len());
    }
    Ok(())
}
