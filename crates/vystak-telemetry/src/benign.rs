//! `BenignErrorFilter`: downgrades ERROR → UNSET for spans whose only exceptions are known-benign
//! control-flow signals (the seed's "Suppressed noise").

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

/// Name of span events that record exceptions.
pub const EXCEPTION_EVENT: &str = "exception";
/// Attribute on an exception event naming the exception type.
pub const EXCEPTION_TYPE: &str = "exception.type";

/// One suppression rule: spans whose name starts with `span_name_prefix` and whose every
/// `exception` event has an `exception.type` in `benign_types`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenignRule {
    span_name_prefix: Cow<'static, str>,
    benign_types: Vec<Cow<'static, str>>,
}

impl BenignRule {
    /// A rule for spans whose name starts with `span_name_prefix`.
    pub fn new(
        span_name_prefix: impl Into<Cow<'static, str>>,
        benign_types: impl IntoIterator<Item = impl Into<Cow<'static, str>>>,
    ) -> Self {
        Self {
            span_name_prefix: span_name_prefix.into(),
            benign_types: benign_types.into_iter().map(Into::into).collect(),
        }
    }

    /// The seed's rule: `culsans.QueueShutDown` on `a2a.server.events.event_queue_v2*` spans,
    /// which a2a-sdk raises as an end-of-stream signal and catches itself.
    pub fn a2a_queue_shutdown() -> Self {
        Self::new(
            "a2a.server.events.event_queue_v2",
            ["culsans.QueueShutDown"],
        )
    }

    fn matches(&self, span: &SpanData) -> bool {
        if !span.name.starts_with(self.span_name_prefix.as_ref()) {
            return false;
        }
        let mut saw_exception = false;
        for event in span.events.iter().filter(|e| e.name == EXCEPTION_EVENT) {
            saw_exception = true;
            let ty = event
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == EXCEPTION_TYPE)
                .map(|kv| kv.value.as_str());
            match ty {
                Some(ty) if self.benign_types.iter().any(|b| b.as_ref() == ty.as_ref()) => {}
                // A real (or untyped) exception: the span stays as it is.
                _ => return false,
            }
        }
        saw_exception
    }
}

/// A [`SpanProcessor`] that wraps another one and downgrades ERROR → UNSET on spans whose
/// exceptions are all benign per its rules, before the wrapped processor (the exporter) sees them.
///
/// Exactly the seed's behaviour: the span name must start with a rule's prefix; it must have at
/// least one `exception` event; every `exception` event's `exception.type` must be benign for that
/// rule. A benign and a real exception together stay ERROR; spans without exception events and
/// spans with other names are untouched. The exception events are kept.
///
/// ```
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
/// use vystak_telemetry::{BenignErrorFilter, BenignRule};
///
/// let exporter = InMemorySpanExporter::default();
/// let processor = BenignErrorFilter::new(SimpleSpanProcessor::new(exporter))
///     .with_rule(BenignRule::new("jobs.poll", ["tokio::time::error::Elapsed"]));
/// ```
#[derive(Debug)]
pub struct BenignErrorFilter<P> {
    inner: P,
    rules: Arc<[BenignRule]>,
}

impl<P: SpanProcessor> BenignErrorFilter<P> {
    /// Wraps `inner` with the default rules ([`BenignRule::a2a_queue_shutdown`]).
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            rules: Arc::from(vec![BenignRule::a2a_queue_shutdown()]),
        }
    }

    /// Adds a rule.
    #[must_use]
    pub fn with_rule(mut self, rule: BenignRule) -> Self {
        let mut rules = self.rules.to_vec();
        rules.push(rule);
        self.rules = rules.into();
        self
    }

    /// Replaces all rules (an empty list turns the filter into a pass-through).
    #[must_use]
    pub fn with_rules(mut self, rules: impl IntoIterator<Item = BenignRule>) -> Self {
        self.rules = rules.into_iter().collect::<Vec<_>>().into();
        self
    }

    /// Applies the rules to one finished span (what [`SpanProcessor::on_end`] does before
    /// forwarding).
    pub fn filter(&self, span: &mut SpanData) {
        if matches!(span.status, Status::Error { .. }) && self.rules.iter().any(|r| r.matches(span))
        {
            span.status = Status::Unset;
        }
    }
}

impl<P: SpanProcessor> SpanProcessor for BenignErrorFilter<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        self.filter(&mut span);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};

    use super::*;

    const A2A: &str = "a2a.server.events.event_queue_v2.EventQueue.dequeue_event";

    /// Runs one span through a provider with the filter and returns its exported status.
    fn exported_status(
        name: &'static str,
        status: Status,
        exceptions: &[&'static str],
        filter: impl FnOnce(
            BenignErrorFilter<SimpleSpanProcessor<InMemorySpanExporter>>,
        ) -> BenignErrorFilter<SimpleSpanProcessor<InMemorySpanExporter>>,
    ) -> Status {
        let exporter = InMemorySpanExporter::default();
        let processor = filter(BenignErrorFilter::new(SimpleSpanProcessor::new(
            exporter.clone(),
        )));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        let tracer = provider.tracer("test");
        let mut span = tracer.start(name);
        for ty in exceptions {
            span.add_event(EXCEPTION_EVENT, vec![KeyValue::new(EXCEPTION_TYPE, *ty)]);
        }
        span.set_status(status);
        span.end();
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].events.len(), exceptions.len(), "events are kept");
        spans[0].status.clone()
    }

    #[test]
    fn the_seeds_cases() {
        let err = || Status::error("boom");
        let cases: &[(&str, &'static str, Status, &[&'static str], Status)] = &[
            (
                "QueueShutDown only on an a2a span → UNSET",
                A2A,
                err(),
                &["culsans.QueueShutDown"],
                Status::Unset,
            ),
            (
                "several QueueShutDown → UNSET",
                A2A,
                err(),
                &["culsans.QueueShutDown", "culsans.QueueShutDown"],
                Status::Unset,
            ),
            (
                "a real exception stays ERROR",
                A2A,
                err(),
                &["ValueError"],
                err(),
            ),
            (
                "benign + real stays ERROR",
                A2A,
                err(),
                &["culsans.QueueShutDown", "RuntimeError"],
                err(),
            ),
            (
                "real + benign stays ERROR",
                A2A,
                err(),
                &["RuntimeError", "culsans.QueueShutDown"],
                err(),
            ),
            (
                "other span names untouched",
                "POST /a2a",
                err(),
                &["culsans.QueueShutDown"],
                err(),
            ),
            (
                "no exception events untouched (ERROR)",
                A2A,
                err(),
                &[],
                err(),
            ),
            (
                "no exception events untouched (OK)",
                A2A,
                Status::Ok,
                &[],
                Status::Ok,
            ),
            (
                "not ERROR: left alone",
                A2A,
                Status::Ok,
                &["culsans.QueueShutDown"],
                Status::Ok,
            ),
        ];
        for (what, name, status, exceptions, expected) in cases {
            let got = exported_status(name, status.clone(), exceptions, |f| f);
            assert_eq!(&got, expected, "{what}");
        }
    }

    #[test]
    fn an_exception_event_without_a_type_is_real() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BenignErrorFilter::new(SimpleSpanProcessor::new(
                exporter.clone(),
            )))
            .build();
        let mut span = provider.tracer("t").start(A2A);
        span.add_event(EXCEPTION_EVENT, vec![]);
        span.set_status(Status::error("x"));
        span.end();
        assert!(matches!(
            exporter.get_finished_spans().unwrap()[0].status,
            Status::Error { .. }
        ));
    }

    #[test]
    fn user_rules_add_to_and_replace_the_defaults() {
        let err = Status::error("timeout");
        let added = exported_status("jobs.poll", err.clone(), &["Elapsed"], |f| {
            f.with_rule(BenignRule::new("jobs.", ["Elapsed"]))
        });
        assert_eq!(added, Status::Unset);
        let still_default = exported_status(A2A, err.clone(), &["culsans.QueueShutDown"], |f| {
            f.with_rule(BenignRule::new("jobs.", ["Elapsed"]))
        });
        assert_eq!(still_default, Status::Unset);
        let replaced = exported_status(A2A, err.clone(), &["culsans.QueueShutDown"], |f| {
            f.with_rules([])
        });
        assert_eq!(replaced, err);
    }
}
