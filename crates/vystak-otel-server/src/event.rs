//! `EventSpan`: root spans for entry events that do not arrive over HTTP (Slack Socket Mode,
//! Discord gateway, …), with the handler future running inside them.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, Key, KeyValue};
use pin_project_lite::pin_project;

use crate::semconv::{ERROR_TYPE, ERROR_TYPE_CANCELLED};
use vystak_otel_core::spans::SpanStarter;

/// A new **root** span for an entry event, e.g. [`SLACK_APP_MENTION`](crate::SLACK_APP_MENTION).
///
/// A root span ignores any ambient context: every event starts its own trace, and every call the
/// handler makes (HTTP, NATS, model calls) is its descendant.
///
/// ```no_run
/// use vystak_otel_server::{EventSpan, SLACK_APP_MENTION};
/// # async fn handle(_: &str) -> Result<(), std::io::Error> { Ok(()) }
/// # async fn run(channel: &str, text: &str) -> Result<(), std::io::Error> {
/// EventSpan::root(SLACK_APP_MENTION)
///     .with_attribute(opentelemetry::KeyValue::new("slack.channel.id", channel.to_owned()))
///     .instrument_result(handle(text))
///     .await
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct EventSpan {
    name: Cow<'static, str>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    tracer: Option<SpanStarter>,
}

impl std::fmt::Debug for EventSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSpan")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl EventSpan {
    /// A root span named `name` (kind `INTERNAL`, as the seed's Slack channel creates it).
    pub fn root(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Vec::new(),
            tracer: None,
        }
    }

    /// Adds an attribute.
    pub fn with_attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Sets the span kind (e.g. `SERVER` or `CONSUMER` for your backend's conventions).
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Uses this tracer provider instead of the global one.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.tracer = Some(SpanStarter::new(
            provider.tracer_with_scope(crate::config::scope()),
        ));
        self
    }

    /// Starts the root span now and returns a context holding it (attach it yourself; end it
    /// with `cx.span().end()`).
    pub fn start(self) -> Context {
        let builder = opentelemetry::trace::SpanBuilder::from_name(self.name)
            .with_kind(self.kind)
            .with_attributes(self.attributes);
        let root = Context::new();
        match &self.tracer {
            Some(t) => t.start(builder, &root),
            None => root.with_span(
                opentelemetry::global::tracer_with_scope(crate::config::scope())
                    .build_with_context(builder, &root),
            ),
        }
    }

    /// Runs `future` inside the root span (current on every poll); the span ends when the future
    /// completes, or with `error.type=cancelled` if it is dropped first.
    pub fn instrument<F: Future>(self, future: F) -> EventFuture<F> {
        EventFuture::new(future, self.start(), |_| None)
    }

    /// As [`EventSpan::instrument`], and an `Err` output marks the span ERROR with
    /// `error.type` = the error's type name.
    pub fn instrument_result<F, T, E>(self, future: F) -> EventFuture<F>
    where
        F: Future<Output = Result<T, E>>,
    {
        EventFuture::new(future, self.start(), classify_result::<T, E>)
    }
}

fn classify_result<T, E>(output: &Result<T, E>) -> Option<&'static str> {
    output.as_ref().err().map(|_| std::any::type_name::<E>())
}

/// Ends the span exactly once; dropped unfinished → cancelled.
struct Ender {
    cx: Context,
    done: bool,
}

impl Ender {
    fn end(&mut self, error_type: Option<&'static str>) {
        if self.done {
            return;
        }
        self.done = true;
        let span = self.cx.span();
        if let Some(ty) = error_type {
            span.set_attribute(KeyValue::new(Key::from_static_str(ERROR_TYPE), ty));
            span.set_status(Status::error(""));
        }
        span.end();
    }
}

impl Drop for Ender {
    fn drop(&mut self) {
        self.end(Some(ERROR_TYPE_CANCELLED));
    }
}

pin_project! {
    /// Future returned by [`EventSpan::instrument`].
    pub struct EventFuture<F: Future> {
        #[pin]
        inner: F,
        ender: Ender,
        classify: fn(&F::Output) -> Option<&'static str>,
    }
}

impl<F: Future> std::fmt::Debug for EventFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFuture").finish_non_exhaustive()
    }
}

impl<F: Future> EventFuture<F> {
    fn new(inner: F, cx: Context, classify: fn(&F::Output) -> Option<&'static str>) -> Self {
        Self {
            inner,
            ender: Ender { cx, done: false },
            classify,
        }
    }
}

impl<F: Future> Future for EventFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = {
            let _guard = this.ender.cx.clone().attach();
            ready!(this.inner.poll(task))
        };
        this.ender.end((this.classify)(&output));
        Poll::Ready(output)
    }
}
