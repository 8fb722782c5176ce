//! `sdk_installed`: is this tracer a real SDK tracer, or the no-op tracer of an empty global
//! provider? The server, client and NATS crates ask it when they resolve the global providers.

use opentelemetry::trace::{
    Span, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::Context;

/// `true` when `tracer` belongs to an installed SDK, `false` for the no-op tracer (telemetry
/// off). Starts no span: the probe's parent context has telemetry suppressed, so an SDK tracer
/// returns an empty span at once (no sampler, no span processor, nothing exported or leaked),
/// while the no-op tracer echoes the parent's span context.
pub fn sdk_installed<T: Tracer>(tracer: &T) -> bool {
    let parent = SpanContext::new(
        TraceId::from(1u128),
        SpanId::from(1u64),
        TraceFlags::default(),
        true,
        TraceState::NONE,
    );
    let cx = Context::new()
        .with_remote_span_context(parent)
        .with_telemetry_suppressed();
    let probe = tracer.start_with_context("vystak-otel.probe", &cx);
    let echoed = probe.span_context().span_id() == SpanId::from(1u64);
    !echoed
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use opentelemetry::trace::TracerProvider;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};

    use super::*;

    #[derive(Debug, Default)]
    struct Counting {
        started: Arc<AtomicUsize>,
        ended: Arc<AtomicUsize>,
    }

    impl SpanProcessor for Counting {
        fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {
            self.started.fetch_add(1, Ordering::SeqCst);
        }
        fn on_end(&self, _: SpanData) {
            self.ended.fetch_add(1, Ordering::SeqCst);
        }
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(
            &self,
            _: std::time::Duration,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }

    #[test]
    fn the_probe_tells_sdk_from_noop_and_starts_no_span() {
        let noop = opentelemetry::trace::noop::NoopTracerProvider::new();
        assert!(!sdk_installed(&noop.tracer("t")));
        let counting = Counting::default();
        let (started, ended) = (counting.started.clone(), counting.ended.clone());
        let provider = SdkTracerProvider::builder()
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
            .with_span_processor(counting)
            .build();
        for _ in 0..3 {
            assert!(sdk_installed(&provider.tracer("t")));
        }
        assert_eq!(started.load(Ordering::SeqCst), 0);
        assert_eq!(ended.load(Ordering::SeqCst), 0);
    }
}
