//! # vystak-otel-testkit
//!
//! The test helpers every crate of the workspace shares, in one dev-only crate instead of
//! `#[path]` includes and copies (issue 29). Never published; each crate lists it under
//! `[dev-dependencies]`.
//!
//! - [`memory::InMemory`]: SDK tracer and meter providers exporting to memory, with the
//!   finished spans, a bounded wait for them, and the metric points flattened ([`memory::Point`]).
//! - [`serve`]: an axum router on 127.0.0.1 with `ConnectInfo`.
//! - [`w3c`]: the W3C Trace Context specification's example `traceparent`.
//! - [`nats::NatsServer`]: a real `nats-server` on a free port, stopped on drop.
//! - [`browser`]: headless Chromium (`--dump-dom`, `--screenshot`) for every UI page.

pub mod browser;
pub mod memory;
pub mod nats;

use std::net::SocketAddr;

/// The example context of the W3C Trace Context specification.
pub mod w3c {
    /// Its trace id.
    pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    /// Its parent (span) id.
    pub const PARENT_ID: &str = "00f067aa0ba902b7";
    /// The whole `traceparent` header, sampled.
    pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
}

/// Serves `app` on 127.0.0.1:0 with `ConnectInfo<SocketAddr>`; returns the base URL and the
/// address. The server runs until the test's runtime ends.
pub async fn serve(app: axum::Router) -> (String, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    (format!("http://{addr}"), addr)
}
