//! `NatsTracing`: PRODUCER `send` spans around request/publish of an envelope, and CONSUMER
//! `process` spans for received messages.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_nats::header::HeaderMap;
use bytes::Bytes;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanBuilder, SpanKind, Status, TraceContextExt, Tracer, TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue};
use serde_json::Value;

use opentelemetry::trace::noop::NoopTracer;
use vystak_otel_core::providers::Providers;
use vystak_otel_core::spans::SpanStarter;
use vystak_otel_propagator::PropagatorChoice;

use crate::envelope::{extract_with, inject_with};
use crate::error::NatsError;
use crate::headers::{NatsHeaderExtractor, NatsHeaderInjector};
use crate::jsonrpc;
use crate::semconv::*;

pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
}

/// Tracer and propagator for NATS messaging spans. Cheap to clone.
///
/// ```no_run
/// # async fn run(nats: async_nats::Client) -> Result<(), vystak_otel_nats::NatsError> {
/// use vystak_otel_nats::NatsTracing;
/// let mut envelope = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "message/send",
///                                        "params": {"message": {"parts": []}}});
/// let reply = NatsTracing::new()
///     .request(&nats, "vystak.agents.time-agent", &mut envelope, std::time::Duration::from_secs(60))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct NatsTracing {
    providers: Providers,
    /// The tracer, looked up at the first message (shared by clones; a setter starts anew).
    tracer: Arc<OnceLock<SpanStarter>>,
    propagator: PropagatorChoice,
}

impl fmt::Debug for NatsTracing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsTracing").finish_non_exhaustive()
    }
}

impl Default for NatsTracing {
    fn default() -> Self {
        Self::new()
    }
}

/// `send {subject}`, or just `send` for a temporary reply subject (never an `_INBOX` name).
fn span_name(operation: &'static str, subject: &str) -> Cow<'static, str> {
    if subject.starts_with(INBOX_PREFIX) || subject.is_empty() {
        Cow::Borrowed(operation)
    } else {
        Cow::Owned(format!("{operation} {subject}"))
    }
}

impl NatsTracing {
    /// The global tracer provider and the global propagator. The provider is looked up at the
    /// first message, not here, so a `NatsTracing` made before `Telemetry::init()` still records.
    pub fn new() -> Self {
        Self {
            providers: Providers::global(scope()),
            tracer: Arc::default(),
            propagator: PropagatorChoice::Global,
        }
    }

    /// The tracer: the one handed in, else the global one when an SDK is installed, else a
    /// no-op tracer (which still carries the current context across the hop).
    fn tracer(&self) -> &SpanStarter {
        self.tracer.get_or_init(|| {
            self.providers
                .resolve(false)
                .tracer
                .unwrap_or_else(|| SpanStarter::new(NoopTracer::new()))
        })
    }

    /// Spans from this tracer provider.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.providers = self.providers.with_tracer_provider(provider);
        self.tracer = Arc::default();
        self
    }

    /// Inject and extract with this propagator.
    pub fn with_propagator(
        mut self,
        propagator: impl TextMapPropagator + Send + Sync + 'static,
    ) -> Self {
        self.propagator = PropagatorChoice::custom(propagator);
        self
    }

    /// Starts a PRODUCER `send {subject}` span (child of the current context) and injects its
    /// context into the envelope's `params._meta.headers` and into NATS headers.
    fn start_send(
        &self,
        subject: &str,
        envelope: &mut Value,
    ) -> (Context, HeaderMap, Bytes, Result<(), NatsError>) {
        let mut attrs = vec![
            KeyValue::new(key(MESSAGING_SYSTEM), MESSAGING_SYSTEM_NATS),
            KeyValue::new(key(MESSAGING_OPERATION_NAME), OPERATION_SEND),
            KeyValue::new(key(MESSAGING_OPERATION_TYPE), OPERATION_SEND),
            KeyValue::new(key(MESSAGING_DESTINATION_NAME), subject.to_owned()),
        ];
        if subject.starts_with(INBOX_PREFIX) {
            attrs.push(KeyValue::new(key(MESSAGING_DESTINATION_TEMPORARY), true));
        }
        attrs.extend(jsonrpc::request_attributes(envelope));
        let parent = Context::current();
        let cx = self.tracer().start(
            SpanBuilder::from_name(span_name(OPERATION_SEND, subject))
                .with_kind(SpanKind::Producer)
                .with_attributes(attrs),
            &parent,
        );
        let mut headers = HeaderMap::new();
        self.propagator.with(|p| {
            inject_with(envelope, &cx, p);
            p.inject_context(&cx, &mut NatsHeaderInjector(&mut headers));
        });
        match serde_json::to_vec(envelope) {
            Ok(bytes) => {
                cx.span().set_attribute(KeyValue::new(
                    key(MESSAGING_MESSAGE_BODY_SIZE),
                    bytes.len() as i64,
                ));
                (cx, headers, Bytes::from(bytes), Ok(()))
            }
            Err(e) => (cx, headers, Bytes::new(), Err(NatsError::Encode(e))),
        }
    }

    fn end(cx: &Context, error: Option<&NatsError>) {
        let span = cx.span();
        if let Some(e) = error {
            span.set_attribute(KeyValue::new(key(ERROR_TYPE), e.error_type()));
            span.set_status(Status::error(e.to_string()));
        }
        span.end();
    }

    /// Sends `envelope` as a request inside a PRODUCER span whose context is injected, and waits
    /// at most `timeout` for the reply.
    ///
    /// # Errors
    /// [`NatsError`] when the request fails, times out or nobody listens (the span says which).
    pub async fn request(
        &self,
        client: &async_nats::Client,
        subject: impl Into<String>,
        envelope: &mut Value,
        timeout: Duration,
    ) -> Result<async_nats::Message, NatsError> {
        let subject = subject.into();
        let (cx, headers, payload, encoded) = self.start_send(&subject, envelope);
        if let Err(e) = encoded {
            Self::end(&cx, Some(&e));
            return Err(e);
        }
        // The caller's timeout, not async-nats' default request timeout (10 s): agent turns
        // take longer. The outer timeout is a backstop of the same length.
        let request = async_nats::Request::new()
            .payload(payload)
            .headers(headers)
            .timeout(Some(timeout));
        let result =
            match tokio::time::timeout(timeout, client.send_request(subject, request)).await {
                Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::TimedOut => {
                    Err(NatsError::Timeout(timeout))
                }
                Ok(r) => r.map_err(NatsError::from),
                Err(_) => Err(NatsError::Timeout(timeout)),
            };
        if let Ok(reply) = &result {
            jsonrpc::record_reply(&cx.span(), &reply.payload, false);
        }
        Self::end(&cx, result.as_ref().err());
        result
    }

    /// Publishes `envelope` inside a PRODUCER span whose context is injected.
    ///
    /// # Errors
    /// [`NatsError`] when the envelope cannot be encoded or published.
    pub async fn publish(
        &self,
        client: &async_nats::Client,
        subject: impl Into<String>,
        envelope: &mut Value,
    ) -> Result<(), NatsError> {
        let subject = subject.into();
        let (cx, headers, payload, encoded) = self.start_send(&subject, envelope);
        if let Err(e) = encoded {
            Self::end(&cx, Some(&e));
            return Err(e);
        }
        let result = client
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(NatsError::from);
        Self::end(&cx, result.as_ref().err());
        result
    }

    /// The caller's context of a received message: the JSON-RPC envelope first, then NATS headers.
    pub fn extract(&self, message: &async_nats::Message) -> Context {
        let envelope = serde_json::from_slice::<Value>(&message.payload).ok();
        self.extract_parsed(message, envelope.as_ref())
    }

    fn extract_parsed(&self, message: &async_nats::Message, envelope: Option<&Value>) -> Context {
        self.propagator.with(|p| {
            if let Some(envelope) = envelope {
                let cx = extract_with(envelope, p);
                if cx.span().span_context().is_valid() {
                    return cx;
                }
            }
            match &message.headers {
                Some(h) => p.extract(&NatsHeaderExtractor(h)),
                None => Context::new(),
            }
        })
    }

    /// Starts a CONSUMER `process {name}` span for a received message, parented on the caller's
    /// extracted context (the single-message case the conventions allow). `name` should be the
    /// subscribed subject (low cardinality), not a reply inbox. End it with `cx.span().end()`.
    pub fn process_span(
        &self,
        message: &async_nats::Message,
        name: &str,
        queue_group: Option<&str>,
    ) -> Context {
        let envelope = serde_json::from_slice::<Value>(&message.payload).ok();
        let parent = self.extract_parsed(message, envelope.as_ref());
        let mut attrs = vec![
            KeyValue::new(key(MESSAGING_SYSTEM), MESSAGING_SYSTEM_NATS),
            KeyValue::new(key(MESSAGING_OPERATION_NAME), OPERATION_PROCESS),
            KeyValue::new(key(MESSAGING_OPERATION_TYPE), OPERATION_PROCESS),
            KeyValue::new(key(MESSAGING_DESTINATION_NAME), message.subject.to_string()),
            KeyValue::new(
                key(MESSAGING_MESSAGE_BODY_SIZE),
                message.payload.len() as i64,
            ),
        ];
        if let Some(group) = queue_group {
            attrs.push(KeyValue::new(
                key(MESSAGING_CONSUMER_GROUP_NAME),
                group.to_owned(),
            ));
        }
        if let Some(envelope) = &envelope {
            attrs.extend(jsonrpc::request_attributes(envelope));
        }
        self.tracer().start(
            SpanBuilder::from_name(span_name(OPERATION_PROCESS, name))
                .with_kind(SpanKind::Consumer)
                .with_attributes(attrs),
            &parent,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_subjects_never_reach_span_names() {
        assert_eq!(
            span_name(OPERATION_SEND, "vystak.agents.time"),
            "send vystak.agents.time"
        );
        assert_eq!(span_name(OPERATION_SEND, "_INBOX.abc.def"), "send");
        assert_eq!(span_name(OPERATION_PROCESS, ""), "process");
    }
}
