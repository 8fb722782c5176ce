//! `GenAiInstrumentation`: the tracer, instruments and options shared by the layer, `instrument()`
//! and the stream wrapper; and `CallGuard`, the one recorder underneath all three.
//!
//! [`GenAiInstrumentation::start`] (in `start`) opens a call's span and hands it to a
//! [`CallGuard`] (in `guard`), which at the end writes the span's attributes (`span`) and the
//! metric points (`metrics`) into the histograms of `instruments`.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, Key, KeyValue};

use vystak_otel_core::spans::SpanStarter;

use crate::attrs::key;
use crate::cost::PriceTable;
use crate::error::GenAiErrorClass;
use crate::semconv::*;

mod guard;
mod instruments;
mod metrics;
mod span;
mod start;

pub(crate) use guard::End;
pub use guard::{CallGuard, CallResult};
use instruments::{global_telemetry_off, scope, Instruments};

/// Default cap on captured message content (bytes, cut at a character boundary).
pub const DEFAULT_CONTENT_CAP: usize = 16 * 1024;

/// A user hook classifying failures of their own error types.
type ErrorClassifier = Arc<dyn Fn(&dyn Any) -> Option<GenAiErrorClass> + Send + Sync>;

/// Tracer, instruments and options for GenAI calls. Cheap to clone.
///
/// ```
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use vystak_otel_genai::{GenAiInstrumentation, SemconvMode};
///
/// let tp = SdkTracerProvider::builder().build();
/// let genai = GenAiInstrumentation::new()
///     .with_tracer_provider(&tp)
///     .with_semconv_mode(SemconvMode::LatestExperimental)
///     .with_content_capture(true);
/// ```
#[derive(Clone)]
#[must_use]
pub struct GenAiInstrumentation {
    /// `None`: the global tracer provider, resolved at every call.
    tracer: Option<SpanStarter>,
    /// `None`: the global meter provider, resolved at every call.
    /// One `Arc` for the four instruments: a call clones it once.
    instruments: Option<Arc<Instruments>>,
    /// The meter handed in, kept to rebuild the instruments when `with_bound_instruments` comes
    /// after `with_meter_provider`.
    meter: Option<Meter>,
    /// The meter provider handed in records bound instruments (the user said so).
    bound_instruments: bool,
    mode: SemconvMode,
    capture_content: bool,
    content_cap: usize,
    error_classifier: Option<ErrorClassifier>,
    prices: Option<Arc<PriceTable>>,
    agent_usage_aggregate: bool,
}

impl fmt::Debug for GenAiInstrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenAiInstrumentation")
            .field("mode", &self.mode)
            .field("capture_content", &self.capture_content)
            .field("content_cap", &self.content_cap)
            .field("global_tracer", &self.tracer.is_none())
            .field("global_meter", &self.instruments.is_none())
            .field("error_classifier", &self.error_classifier.is_some())
            .field("prices", &self.prices)
            .field("agent_usage_aggregate", &self.agent_usage_aggregate)
            .finish_non_exhaustive()
    }
}

impl Default for GenAiInstrumentation {
    fn default() -> Self {
        Self::new()
    }
}

/// Content capture from `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`: `true`,
/// `SPAN_ONLY` or `SPAN_AND_EVENT` (any case) turn it on; anything else leaves it off.
pub fn capture_content_from_env(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("true")
            || v.eq_ignore_ascii_case("span_only")
            || v.eq_ignore_ascii_case("span_and_event")
    })
}

impl GenAiInstrumentation {
    /// The global tracer and meter providers — looked up at each call, not now, so
    /// instrumentation built before telemetry is installed records once it is —, names from
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`, content capture from
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (off by default).
    pub fn new() -> Self {
        Self {
            tracer: None,
            instruments: None,
            meter: None,
            bound_instruments: false,
            mode: SemconvMode::from_env(),
            capture_content: capture_content_from_env(
                std::env::var(ENV_CAPTURE_MESSAGE_CONTENT).ok().as_deref(),
            ),
            content_cap: DEFAULT_CONTENT_CAP,
            error_classifier: None,
            prices: None,
            agent_usage_aggregate: false,
        }
    }

    /// Spans from this tracer provider.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.tracer = Some(SpanStarter::new(provider.tracer_with_scope(scope())));
        self
    }

    /// Metrics from this meter provider.
    pub fn with_meter_provider(mut self, provider: &impl MeterProvider) -> Self {
        let meter = provider.meter_with_scope(scope());
        self.instruments = Some(Arc::new(Instruments::new(&meter, self.bound_instruments)));
        self.meter = Some(meter);
        self
    }

    /// The meter provider handed in (`with_meter_provider`, before or after this call) records
    /// **bound** instruments: its SDK has `opentelemetry_sdk`'s
    /// `experimental_metrics_bound_instruments` feature, and each token and duration point is
    /// recorded through a bound handle. Default `false`; the global provider `vystak-telemetry`
    /// installs is recognised without it. Set it for a provider whose SDK lacks the feature
    /// and that SDK silently drops those points.
    pub fn with_bound_instruments(mut self, records_bound: bool) -> Self {
        self.bound_instruments = records_bound;
        if let Some(meter) = &self.meter {
            self.instruments = Some(Arc::new(Instruments::new(meter, records_bound)));
        }
        self
    }

    /// Classifies failures of your own error types (tried first; `None` falls back to
    /// [`GenAiErrorClass::from_any`], which knows the boxed errors, `std::io::Error`,
    /// [`ProviderError`](crate::ProviderError) and reqwest's errors).
    ///
    /// ```
    /// use vystak_otel_genai::{GenAiErrorClass, GenAiInstrumentation};
    ///
    /// #[derive(Debug)]
    /// enum MyClientError { Overloaded, Other(String) }
    ///
    /// let genai = GenAiInstrumentation::new().with_error_classifier(|e| {
    ///     e.downcast_ref::<MyClientError>().map(|e| match e {
    ///         MyClientError::Overloaded => GenAiErrorClass::new("overloaded_error", "overloaded"),
    ///         MyClientError::Other(msg) => GenAiErrorClass::new("_OTHER", msg),
    ///     })
    /// });
    /// ```
    pub fn with_error_classifier<F>(mut self, classify: F) -> Self
    where
        F: Fn(&dyn Any) -> Option<GenAiErrorClass> + Send + Sync + 'static,
    {
        self.error_classifier = Some(Arc::new(classify));
        self
    }

    /// How a failure with this error is recorded (`error.type`, status description).
    pub fn classify_error<E: 'static>(&self, error: &E) -> GenAiErrorClass {
        self.error_classifier
            .as_ref()
            .and_then(|f| f(error))
            .unwrap_or_else(|| GenAiErrorClass::from_any(error))
    }

    /// Which names to emit (default: the seed's, or `OTEL_SEMCONV_STABILITY_OPT_IN`).
    pub fn with_semconv_mode(mut self, mode: SemconvMode) -> Self {
        self.mode = mode;
        self
    }

    /// Record prompt and completion content (`gen_ai.input.messages`, `gen_ai.output.messages`).
    /// Off by default.
    pub fn with_content_capture(mut self, enabled: bool) -> Self {
        self.capture_content = enabled;
        self
    }

    /// Cap on each captured content attribute, in bytes (default [`DEFAULT_CONTENT_CAP`]).
    pub fn with_content_cap(mut self, bytes: usize) -> Self {
        self.content_cap = bytes;
        self
    }

    /// Prices model calls: each call whose model is in the table gets `gen_ai.usage.cost` (USD)
    /// on its chat span and a point on the `vystak.gen_ai.client.cost` histogram. Calls to models
    /// not in the table get neither.
    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = (!prices.is_empty()).then(|| Arc::new(prices));
        self
    }

    /// Opt-in: each `invoke_agent` span also carries the sums of the chat calls made inside its
    /// turn in this process, under `vystak.gen_ai.agent.usage.*` (never `gen_ai.usage.*`, so
    /// nothing is counted twice). Off by default.
    pub fn with_agent_usage_aggregate(mut self, enabled: bool) -> Self {
        self.agent_usage_aggregate = enabled;
        self
    }

    /// Global providers only, and neither installed: calls record nothing and skip all work.
    /// Tells every instrumentation that uses the global providers to look them up again at its
    /// next call. Not needed after `Telemetry::init()` (a new global meter provider is noticed at
    /// once); a tracer provider installed **alone** with `opentelemetry::global::set_tracer_provider`
    /// is otherwise noticed within 100 ms.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    ///
    /// opentelemetry::global::set_tracer_provider(SdkTracerProvider::builder().build());
    /// vystak_otel_genai::GenAiInstrumentation::global_providers_changed();
    /// ```
    pub fn global_providers_changed() {
        instruments::forget_probe();
    }

    pub(crate) fn telemetry_off(&self) -> bool {
        self.tracer.is_none()
            && self.instruments.is_none()
            && global_telemetry_off(&opentelemetry::global::meter_provider())
    }

    pub(crate) fn agent_usage_aggregate(&self) -> bool {
        self.agent_usage_aggregate
    }

    /// The content cap when content capture is on.
    pub(crate) fn content_capture_cap(&self) -> Option<usize> {
        self.capture_content.then_some(self.content_cap)
    }

    /// The provider attribute(s): `gen_ai.provider.name`, and in the seed's mode `gen_ai.system`
    /// first (the seed's name) — Phoenix and Langfuse read `gen_ai.provider.name`.
    pub(crate) fn push_provider(&self, attrs: &mut Vec<KeyValue>, provider: Cow<'static, str>) {
        if self.mode == SemconvMode::Seed {
            attrs.push(KeyValue::new(key(GEN_AI_SYSTEM), provider.clone()));
        }
        attrs.push(KeyValue::new(key(GEN_AI_PROVIDER_NAME), provider));
    }

    /// `parent` with a new span from the configured (or the global) tracer.
    pub(crate) fn start_span(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        attrs: Vec<KeyValue>,
        parent: &Context,
    ) -> Context {
        let builder = opentelemetry::trace::SpanBuilder::from_name(name)
            .with_kind(kind)
            .with_attributes(attrs);
        match &self.tracer {
            Some(tracer) => tracer.start(builder, parent),
            None => parent.with_span(
                opentelemetry::global::tracer_with_scope(scope())
                    .build_with_context(builder, parent),
            ),
        }
    }

    fn provider_key(&self) -> Key {
        match self.mode {
            SemconvMode::Seed => key(GEN_AI_SYSTEM),
            SemconvMode::LatestExperimental => key(GEN_AI_PROVIDER_NAME),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_env_values() {
        for on in ["true", "TRUE", "SPAN_ONLY", "span_and_event"] {
            assert!(capture_content_from_env(Some(on)), "{on}");
        }
        for off in [
            None,
            Some("false"),
            Some("NO_CONTENT"),
            Some("EVENT_ONLY"),
            Some(""),
        ] {
            assert!(!capture_content_from_env(off), "{off:?}");
        }
    }
}
