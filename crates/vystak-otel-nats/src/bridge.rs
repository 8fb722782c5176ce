//! `NatsHttpBridge`: an agent's NATS subject forwarded to its local HTTP endpoint, trace and all.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::KeyValue;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;
use vystak_otel_client::OtelClientMiddleware;

use crate::error::NatsError;
use crate::semconv::{ERROR_MAX_PAYLOAD, ERROR_TYPE};
use crate::tracing::NatsTracing;

/// JSON-RPC "internal error" code used for bridge failures.
pub const JSONRPC_INTERNAL_ERROR: i64 = -32603;

/// Subscribes (in a queue group) to an agent's subject; for each request it starts a CONSUMER
/// `process {subject}` span parented on the caller's context (from `params._meta.headers`, the
/// other envelope locations, or NATS headers), forwards the envelope bytes unchanged to the
/// agent's local HTTP endpoint through [`OtelClientMiddleware`] (so `traceparent` travels on), and
/// replies with the HTTP response body. Any failure on the HTTP side becomes a JSON-RPC error
/// reply — never a lost request or a hang.
///
/// ```no_run
/// # async fn run(nats: async_nats::Client) -> Result<(), vystak_otel_nats::NatsError> {
/// use vystak_otel_nats::NatsHttpBridge;
/// let bridge = NatsHttpBridge::new(nats, "vystak.agents.time-agent", "http://127.0.0.1:8081/a2a")
///     .with_queue_group("time-agent")
///     .spawn()
///     .await?;
/// // … later
/// bridge.shutdown().await;
/// # Ok(()) }
/// ```
#[must_use]
pub struct NatsHttpBridge {
    client: async_nats::Client,
    subject: String,
    target: String,
    queue_group: Option<String>,
    /// An explicit HTTP client; otherwise one is built from `middleware` at spawn.
    http: Option<ClientWithMiddleware>,
    middleware: OtelClientMiddleware,
    tracing: NatsTracing,
    timeout: Duration,
    max_reply_bytes: Option<usize>,
    concurrency: usize,
}

impl fmt::Debug for NatsHttpBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsHttpBridge")
            .field("subject", &self.subject)
            .field("target", &self.target)
            .field("queue_group", &self.queue_group)
            .field("timeout", &self.timeout)
            .field("max_reply_bytes", &self.max_reply_bytes)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

fn default_http(mw: OtelClientMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new()).with(mw).build()
}

impl NatsHttpBridge {
    /// A bridge from `subject` to the HTTP endpoint `target` (e.g. `http://127.0.0.1:8081/a2a`),
    /// with the global providers and propagator.
    pub fn new(
        client: async_nats::Client,
        subject: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Self {
            client,
            subject: subject.into(),
            target: target.into(),
            queue_group: None,
            http: None,
            middleware: OtelClientMiddleware::new(),
            tracing: NatsTracing::new(),
            timeout: Duration::from_secs(60),
            max_reply_bytes: None,
            concurrency: 64,
        }
    }

    /// Subscribe in this queue group (several bridge replicas share the load).
    pub fn with_queue_group(mut self, group: impl Into<String>) -> Self {
        self.queue_group = Some(group.into());
        self
    }

    /// The HTTP client used to reach the agent (default: reqwest + [`OtelClientMiddleware`]).
    pub fn with_http_client(mut self, http: ClientWithMiddleware) -> Self {
        self.http = Some(http);
        self
    }

    /// Spans (bridge and default HTTP client) from this tracer provider.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.tracing = self.tracing.with_tracer_provider(provider);
        self.middleware = self.middleware.with_tracer_provider(provider);
        self
    }

    /// Extract and inject with this propagator (bridge and default HTTP client).
    pub fn with_propagator<P>(mut self, propagator: P) -> Self
    where
        P: TextMapPropagator + Clone + Send + Sync + 'static,
    {
        self.tracing = self.tracing.with_propagator(propagator.clone());
        self.middleware = self.middleware.with_propagator(propagator);
        self
    }

    /// Messaging tracing configuration (replaces tracer and propagator; the HTTP client keeps its own).
    pub fn with_tracing(mut self, tracing: NatsTracing) -> Self {
        self.tracing = tracing;
        self
    }

    /// How long the agent may take to answer (default 60 s, the Vystak runtime's).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest reply body sent back (default: the server's `max_payload`).
    pub fn with_max_reply_bytes(mut self, bytes: usize) -> Self {
        self.max_reply_bytes = Some(bytes);
        self
    }

    /// Requests handled at the same time (default 64).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Subscribes now (requests are delivered once this returns) and serves in a task.
    ///
    /// # Errors
    /// [`NatsError::Subscribe`] when the subscription fails.
    pub async fn spawn(mut self) -> Result<BridgeHandle, NatsError> {
        if self.http.is_none() {
            self.http = Some(default_http(self.middleware.clone()));
        }
        let mut subscriber = match &self.queue_group {
            Some(group) => {
                self.client
                    .queue_subscribe(self.subject.clone(), group.clone())
                    .await?
            }
            None => self.client.subscribe(self.subject.clone()).await?,
        };
        // Make sure the server has registered the subscription before callers publish.
        let _ = self.client.flush().await;
        let max_reply = self
            .max_reply_bytes
            .unwrap_or_else(|| self.client.server_info().max_payload)
            .max(1);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let limit = Arc::new(Semaphore::new(self.concurrency));
        let this = Arc::new(self);
        let task = tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = &mut stopped => break,
                    m = subscriber.next() => match m { Some(m) => m, None => break },
                };
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let this = this.clone();
                tokio::spawn(async move {
                    this.handle(message, max_reply).await;
                    drop(permit);
                });
            }
            let _ = subscriber.unsubscribe().await;
        });
        Ok(BridgeHandle {
            stop: Some(stop),
            task,
        })
    }

    async fn handle(&self, message: async_nats::Message, max_reply: usize) {
        let cx = self
            .tracing
            .process_span(&message, &self.subject, self.queue_group.as_deref());
        let request_id = serde_json::from_slice::<Value>(&message.payload)
            .ok()
            .and_then(|v| v.get("id").cloned())
            .unwrap_or(Value::Null);
        let outcome = self
            .forward(message.payload.clone())
            .with_context(cx.clone())
            .await;
        let reply = match outcome {
            Ok(body) if body.len() <= max_reply => {
                // The agent's own JSON-RPC error reply: its code is the span's error.
                crate::jsonrpc::record_reply(&cx.span(), &body, false);
                body
            }
            Ok(body) => {
                let msg = format!(
                    "the agent's reply of {} bytes exceeds the NATS max_payload of {max_reply} bytes",
                    body.len()
                );
                fail(&cx, ERROR_MAX_PAYLOAD, &msg);
                let reply = error_reply(&request_id, &msg);
                crate::jsonrpc::record_reply(&cx.span(), &reply, true);
                reply
            }
            Err((ty, msg)) => {
                fail(&cx, ty, &msg);
                let reply = error_reply(&request_id, &msg);
                crate::jsonrpc::record_reply(&cx.span(), &reply, true);
                reply
            }
        };
        if let Some(reply_to) = message.reply {
            if let Err(e) = self.client.publish(reply_to, reply).await {
                fail(&cx, "publish", &format!("cannot send the reply: {e}"));
            }
        }
        cx.span().end();
    }

    /// POSTs the envelope bytes unchanged; the body, or (`error.type`, message).
    async fn forward(&self, payload: Bytes) -> Result<Bytes, (&'static str, String)> {
        let Some(http) = &self.http else {
            return Err(("http", "the bridge has no HTTP client".to_owned()));
        };
        let send = http
            .post(&self.target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload)
            .send();
        let response = match tokio::time::timeout(self.timeout, send).await {
            Err(_) => {
                return Err((
                    "timeout",
                    format!("the agent did not answer within {:?}", self.timeout),
                ))
            }
            Ok(Err(e)) => {
                return Err((
                    "http",
                    format!("the agent at {} is unreachable: {e}", self.target),
                ))
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let body = match tokio::time::timeout(self.timeout, response.bytes()).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(("http", format!("reading the agent's reply failed: {e}"))),
            Err(_) => {
                return Err((
                    "timeout",
                    format!(
                        "the agent's reply did not complete within {:?}",
                        self.timeout
                    ),
                ))
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        // A JSON-RPC error body from the agent is passed through as is.
        if serde_json::from_slice::<Value>(&body)
            .ok()
            .is_some_and(|v| v.get("jsonrpc").is_some())
        {
            return Ok(body);
        }
        Err(("http", format!("the agent answered HTTP {status}")))
    }
}

fn fail(cx: &opentelemetry::Context, error_type: &'static str, message: &str) {
    let span = cx.span();
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type));
    // Transport errors quote the agent URL: redact it like `url.full`.
    span.set_status(Status::error(vystak_otel_core::redact::redact_urls_in(
        message,
    )));
}

fn error_reply(id: &Value, message: &str) -> Bytes {
    let message = vystak_otel_core::redact::redact_urls_in(message);
    Bytes::from(
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": JSONRPC_INTERNAL_ERROR, "message": message}})
            .to_string(),
    )
}

/// A running bridge.
#[derive(Debug)]
pub struct BridgeHandle {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl BridgeHandle {
    /// Stops taking new requests and waits for the subscription loop to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reply_never_carries_an_unredacted_url() {
        let reply = error_reply(
            &json!(7),
            "error sending request for url (http://127.0.0.1:9/a2a?sig=s3cr3t&x=1)",
        );
        let v: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(
            v["error"]["message"],
            "error sending request for url (http://127.0.0.1:9/a2a?sig=REDACTED&x=1)"
        );
        assert_eq!(v["id"], 7);
    }
}
