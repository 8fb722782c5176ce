//! [`Providers`]: the one way every instrumentation finds its tracer and meter — a provider
//! handed in (`with_tracer_provider` / `with_meter_provider`), else the global one — and
//! [`sdk_installed`], which tells an installed SDK from the no-op global provider.
//!
//! Resolution happens when the instrumentation first needs it (its first request, call or
//! message), not when it is built: a layer built before `Telemetry::init()` still records, and
//! with no SDK installed by then (telemetry off) it does no span or metric work for its life.
//!
//! ```
//! use opentelemetry::InstrumentationScope;
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use vystak_otel_core::providers::Providers;
//!
//! let scope = InstrumentationScope::builder("my-instrumentation").build();
//! // Nothing installed globally: telemetry is off, no span or metric work.
//! let off = Providers::global(scope.clone()).resolve(true);
//! assert!(off.tracer.is_none() && off.meter.is_none());
//!
//! // A tracer provider handed in: spans, and no metrics (the global meter provider is no SDK).
//! let provider = SdkTracerProvider::builder().build();
//! let on = Providers::global(scope).with_tracer_provider(&provider).resolve(true);
//! assert!(on.tracer.is_some() && on.meter.is_none());
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::noop::NoopTracer;
use opentelemetry::trace::{
    Span, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope};

use crate::spans::SpanStarter;

/// Where an instrumentation's tracer and meter come from: handed in, or the global providers
/// (looked up by [`Providers::resolve`]).
#[derive(Clone)]
pub struct Providers {
    scope: InstrumentationScope,
    tracer: Option<SpanStarter>,
    meter: Option<Meter>,
    /// The meter provider handed in records bound instruments (the user said so).
    given_meter_records_bound: bool,
}

/// What [`Providers::resolve`] found.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Resolved {
    /// `None` only when neither spans nor metrics are recorded (telemetry off). With metrics but
    /// no tracer provider it is a no-op tracer, so the instrumented path stays the same; its
    /// spans are never recorded.
    pub tracer: Option<SpanStarter>,
    /// `None` when metrics are off or no meter provider is there.
    pub meter: Option<Meter>,
    /// The meter records **bound** instruments (`Histogram::bind`): it is the global meter
    /// provider `vystak-telemetry` installed and marked ([`mark_global_meter_provider`]), or
    /// one handed in with [`Providers::with_bound_instruments`]. A provider whose SDK lacks
    /// the `experimental_metrics_bound_instruments` feature silently drops bound measurements,
    /// so every other provider is recorded through the unbound path.
    pub bound_instruments: bool,
}

impl Providers {
    /// The global providers, for instruments of `scope`.
    pub fn global(scope: InstrumentationScope) -> Self {
        Self {
            scope,
            tracer: None,
            meter: None,
            given_meter_records_bound: false,
        }
    }

    /// Declares that the meter provider handed in (`with_meter_provider`) records bound
    /// instruments: its SDK is built with `opentelemetry_sdk`'s
    /// `experimental_metrics_bound_instruments` feature. Wrong, and its bound measurements are
    /// silently dropped by the SDK; the global provider `vystak-telemetry` installs needs no
    /// declaration.
    pub fn with_bound_instruments(mut self, records_bound: bool) -> Self {
        self.given_meter_records_bound = records_bound;
        self
    }

    /// Spans from this tracer provider instead of the global one (its concrete tracer is kept,
    /// see [`SpanStarter`]).
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.tracer = Some(SpanStarter::new(
            provider.tracer_with_scope(self.scope.clone()),
        ));
        self
    }

    /// Metrics from this meter provider instead of the global one.
    pub fn with_meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        self.meter = Some(provider.meter_with_scope(self.scope.clone()));
        self
    }

    /// `true` while no tracer provider was handed in.
    pub fn uses_global_tracer(&self) -> bool {
        self.tracer.is_none()
    }

    /// `true` while no meter provider was handed in.
    pub fn uses_global_meter(&self) -> bool {
        self.meter.is_none()
    }

    /// The instrumentation scope the tracer and meter are created with.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }

    /// Looks the providers up now. A global provider counts only when an SDK is installed
    /// ([`sdk_installed`]); `metrics: false` leaves the meter out whatever is installed.
    pub fn resolve(&self, metrics: bool) -> Resolved {
        let global_on = (self.tracer.is_none() || (metrics && self.meter.is_none()))
            && sdk_installed(&opentelemetry::global::tracer_with_scope(
                self.scope.clone(),
            ));
        let tracer = match &self.tracer {
            Some(given) => Some(given.clone()),
            None => global_on.then(|| {
                SpanStarter::new(opentelemetry::global::tracer_with_scope(self.scope.clone()))
            }),
        };
        let (meter, bound_instruments) = match &self.meter {
            _ if !metrics => (None, false),
            Some(given) => (Some(given.clone()), self.given_meter_records_bound),
            None if global_on => (
                Some(opentelemetry::global::meter_with_scope(self.scope.clone())),
                global_meter_provider_is_marked(),
            ),
            None => (None, false),
        };
        let tracer = tracer.or_else(|| meter.as_ref().map(|_| SpanStarter::new(NoopTracer::new())));
        Resolved {
            tracer,
            meter,
            bound_instruments,
        }
    }
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = |given: bool| if given { "given" } else { "global" };
        f.debug_struct("Providers")
            .field("scope", &self.scope.name())
            .field("tracer", &source(self.tracer.is_some()))
            .field("meter", &source(self.meter.is_some()))
            .field("bound_instruments", &self.given_meter_records_bound)
            .finish()
    }
}

/// The global meter provider that was marked, kept so that its address cannot be reused by
/// another provider.
static MARKED: Mutex<Option<GlobalMeterProvider>> = Mutex::new(None);

type GlobalMeterProvider = Arc<dyn MeterProvider + Send + Sync>;

/// Marks the **current** global meter provider as one that records bound instruments (its SDK
/// has the `experimental_metrics_bound_instruments` feature). `vystak-telemetry` calls it right
/// after installing its providers; replacing the global provider later ends the mark.
pub fn mark_global_meter_provider() {
    let current = opentelemetry::global::meter_provider();
    *MARKED.lock().unwrap_or_else(PoisonError::into_inner) = Some(current);
}

/// `true` while the global meter provider is the one [`mark_global_meter_provider`] marked.
pub fn global_meter_provider_is_marked() -> bool {
    let current = opentelemetry::global::meter_provider();
    MARKED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_some_and(|marked| std::ptr::addr_eq(Arc::as_ptr(marked), Arc::as_ptr(&current)))
}

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
    use opentelemetry::trace::TracerProvider;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use vystak_otel_testkit::memory::CountingProcessor;

    use super::*;

    #[test]
    fn the_probe_tells_sdk_from_noop_and_starts_no_span() {
        let noop = opentelemetry::trace::noop::NoopTracerProvider::new();
        assert!(!sdk_installed(&noop.tracer("t")));
        let counting = CountingProcessor::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
            .with_span_processor(counting.clone())
            .build();
        for _ in 0..3 {
            assert!(sdk_installed(&provider.tracer("t")));
        }
        assert_eq!(counting.started(), 0);
        assert_eq!(counting.ended(), 0);
    }

    #[test]
    fn metrics_without_a_tracer_provider_get_a_no_op_tracer_and_none_without_metrics() {
        let meters = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
        let scope = InstrumentationScope::builder("t").build();
        let with_meter = Providers::global(scope).with_meter_provider(&meters);
        let on = with_meter.resolve(true);
        assert!(on.meter.is_some(), "the meter handed in");
        assert!(on.tracer.is_some(), "a no-op tracer keeps one path");
        let off = with_meter.resolve(false);
        assert!(off.meter.is_none() && off.tracer.is_none(), "{off:?}");
    }
}
