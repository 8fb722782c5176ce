//! `GenAiInstrumentation`: the tracer, instruments and options shared by the layer, `instrument()`
//! and the stream wrapper; and `CallGuard`, the one recorder underneath all three.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use opentelemetry::metrics::{Histogram, Meter, MeterProvider};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Array, Context, InstrumentationScope, Key, KeyValue, StringValue, Value};

use vystak_otel_core::attrs::StackAttrs;
use vystak_otel_core::spans::SpanStarter;

use crate::agent::AgentUsageSink;
use crate::call::GenAiCall;
use crate::cost::PriceTable;
use crate::error::GenAiErrorClass;
use crate::semconv::*;
use crate::usage::{GenAiResponse, Usage};

/// Default cap on captured message content (bytes, cut at a character boundary).
pub const DEFAULT_CONTENT_CAP: usize = 16 * 1024;

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

pub(crate) fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
}

#[derive(Clone, Debug)]
struct Instruments {
    tokens: Histogram<u64>,
    duration: Histogram<f64>,
    ttfc: Histogram<f64>,
    cost: Histogram<f64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Self {
            tokens: meter
                .u64_histogram(GEN_AI_CLIENT_TOKEN_USAGE)
                .with_unit(UNIT_TOKEN)
                .with_description("Number of input and output tokens used.")
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build(),
            duration: meter
                .f64_histogram(GEN_AI_CLIENT_OPERATION_DURATION)
                .with_unit(UNIT_SECONDS)
                .with_description("GenAI operation duration.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            ttfc: meter
                .f64_histogram(GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
                .with_unit(UNIT_SECONDS)
                .with_description("Time to the first chunk of a streaming reply.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            cost: meter
                .f64_histogram(VYSTAK_GEN_AI_CLIENT_COST)
                .with_unit(UNIT_USD)
                .with_description("Cost in USD of each priced model call, from the price table.")
                .with_boundaries(COST_BUCKETS.to_vec())
                .build(),
        }
    }
}

/// What `opentelemetry::global::meter_provider()` returns.
type GlobalMeterProvider = Arc<dyn MeterProvider + Send + Sync>;

/// The global meter provider the cached instruments were built from, and those instruments.
type GlobalInstruments = (GlobalMeterProvider, Arc<Instruments>);

/// Instruments from the global meter provider, rebuilt when the global provider changes (so
/// instrumentation built before `Telemetry::init()` records once telemetry is on).
fn global_instruments(current: GlobalMeterProvider) -> Arc<Instruments> {
    static CACHE: RwLock<Option<GlobalInstruments>> = RwLock::new(None);
    let same = |cached: &Arc<dyn MeterProvider + Send + Sync>| {
        // Address only: the cache holds the provider, so the address cannot be reused.
        std::ptr::addr_eq(Arc::as_ptr(cached), Arc::as_ptr(&current))
    };
    if let Some((p, i)) = CACHE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        if same(p) {
            return i.clone();
        }
    }
    let mut cache = CACHE.write().unwrap_or_else(PoisonError::into_inner);
    match cache.as_ref() {
        Some((p, i)) if same(p) => i.clone(),
        _ => {
            let instruments = Arc::new(Instruments::new(&current.meter_with_scope(scope())));
            *cache = Some((current, instruments.clone()));
            instruments
        }
    }
}

/// `true` when neither a tracer nor a meter provider is installed globally (telemetry off): the
/// calls made through the global providers then skip all work.
///
/// Per call this costs one read of the global meter provider: a real one (any non-zero-sized
/// provider — the SDK's, or a user's) means "on" at once. With the no-op meter provider the
/// tracer provider is probed (`sdk_installed`) once per no-op meter provider and again at most
/// every [`REPROBE`], so a tracer provider installed alone is noticed within that time;
/// `Telemetry::init` installs both and is noticed at the next call.
fn global_telemetry_off(meter: &GlobalMeterProvider) -> bool {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    static BASE: OnceLock<Instant> = OnceLock::new();
    static PROBED_METER: AtomicUsize = AtomicUsize::new(0);
    static PROBED_AT_MS: AtomicU64 = AtomicU64::new(0);
    static TRACER_OFF: AtomicBool = AtomicBool::new(false);
    // The global default is the zero-sized `NoopMeterProvider`.
    if std::mem::size_of_val(&**meter) != 0 {
        return false;
    }
    let address = Arc::as_ptr(meter).cast::<()>() as usize;
    let base = *BASE.get_or_init(Instant::now);
    let now_ms = base.elapsed().as_millis() as u64 + 1;
    if PROBED_METER.load(Ordering::Acquire) == address
        && now_ms.saturating_sub(PROBED_AT_MS.load(Ordering::Relaxed)) < REPROBE.as_millis() as u64
    {
        return TRACER_OFF.load(Ordering::Relaxed);
    }
    let off =
        !vystak_otel_propagator::sdk_installed(&opentelemetry::global::tracer_with_scope(scope()));
    TRACER_OFF.store(off, Ordering::Relaxed);
    PROBED_AT_MS.store(now_ms, Ordering::Relaxed);
    PROBED_METER.store(address, Ordering::Release);
    off
}

/// How long a "no tracer provider installed" answer is trusted while the meter provider stays
/// the no-op one.
const REPROBE: std::time::Duration = std::time::Duration::from_millis(100);

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
        self.instruments = Some(Arc::new(Instruments::new(
            &provider.meter_with_scope(scope()),
        )));
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

    /// Starts a model call: a CLIENT span (`gen_ai.chat`, or `chat {model}` in the latest mode)
    /// as a child of the current context. The returned guard owns the span: it ends when the
    /// guard finishes, whatever happened to the parent.
    pub fn start(&self, call: GenAiCall) -> CallGuard {
        // The global meter provider is read once: it decides "telemetry off" and gives the
        // instruments.
        let instruments = match &self.instruments {
            Some(i) => i.clone(),
            None => {
                let meter = opentelemetry::global::meter_provider();
                if self.tracer.is_none() && global_telemetry_off(&meter) {
                    return CallGuard { inner: None };
                }
                global_instruments(meter)
            }
        };
        let name = match self.mode {
            SemconvMode::Seed => Cow::Borrowed(SPAN_GEN_AI_CHAT),
            SemconvMode::LatestExperimental => {
                Cow::Owned(span_name(&call.operation, &call.request_model))
            }
        };
        let mut attrs = Vec::with_capacity(12);
        attrs.push(KeyValue::new(
            key(GEN_AI_OPERATION_NAME),
            call.operation.clone(),
        ));
        self.push_provider(&mut attrs, call.provider.clone());
        attrs.push(KeyValue::new(
            key(GEN_AI_REQUEST_MODEL),
            call.request_model.clone(),
        ));
        if let Some(t) = call.temperature {
            attrs.push(KeyValue::new(key(GEN_AI_REQUEST_TEMPERATURE), t));
        }
        if let Some(p) = call.top_p {
            attrs.push(KeyValue::new(key(GEN_AI_REQUEST_TOP_P), p));
        }
        if let Some(k) = call.top_k {
            attrs.push(KeyValue::new(key(GEN_AI_REQUEST_TOP_K), k));
        }
        if let Some(n) = call.max_tokens {
            attrs.push(KeyValue::new(key(GEN_AI_REQUEST_MAX_TOKENS), n));
        }
        if !call.stop_sequences.is_empty() {
            attrs.push(KeyValue::new(
                key(GEN_AI_REQUEST_STOP_SEQUENCES),
                string_array(&call.stop_sequences),
            ));
        }
        if call.stream {
            attrs.push(KeyValue::new(key(GEN_AI_REQUEST_STREAM), true));
        }
        if let Some(addr) = &call.server_address {
            attrs.push(KeyValue::new(key(SERVER_ADDRESS), addr.clone()));
            if let Some(port) = call.server_port {
                attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
            }
        }
        if self.capture_content {
            if let Some(input) = &call.input_messages {
                attrs.push(KeyValue::new(
                    key(GEN_AI_INPUT_MESSAGES),
                    cap(input, self.content_cap),
                ));
            }
        }
        let parent = Context::current();
        let cx = self.start_span(name, SpanKind::Client, attrs, &parent);
        CallGuard {
            inner: Some(Recorder {
                inst: self.clone(),
                instruments,
                cx,
                call,
                start: Instant::now(),
                first_chunk: None,
            }),
        }
    }

    fn provider_key(&self) -> Key {
        match self.mode {
            SemconvMode::Seed => key(GEN_AI_SYSTEM),
            SemconvMode::LatestExperimental => key(GEN_AI_PROVIDER_NAME),
        }
    }
}

fn string_array(items: &[String]) -> Value {
    Value::Array(Array::String(
        items.iter().map(|s| StringValue::from(s.clone())).collect(),
    ))
}

/// `{operation} {target}`, the span name of the latest conventions, without `format!`'s
/// machinery (one exact allocation).
pub(crate) fn span_name(operation: &str, target: &str) -> String {
    let mut name = String::with_capacity(operation.len() + 1 + target.len());
    name.push_str(operation);
    name.push(' ');
    name.push_str(target);
    name
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// What a finished call reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallResult {
    /// Token usage.
    pub usage: Usage,
    /// The model that answered.
    pub response_model: Option<String>,
    /// The provider's response id.
    pub response_id: Option<String>,
    /// Finish reasons.
    pub finish_reasons: Vec<String>,
    /// Output messages JSON (recorded only with content capture).
    pub output_messages: Option<String>,
}

impl CallResult {
    /// Collects what a [`GenAiResponse`] reports.
    pub fn from_response(response: &impl GenAiResponse) -> Self {
        Self {
            usage: response.usage().unwrap_or_default(),
            response_model: response.response_model().map(str::to_owned),
            response_id: response.response_id().map(str::to_owned),
            finish_reasons: response.finish_reasons(),
            output_messages: response.output_messages(),
        }
    }
}

struct Recorder {
    inst: GenAiInstrumentation,
    instruments: Arc<Instruments>,
    cx: Context,
    call: GenAiCall,
    start: Instant,
    first_chunk: Option<f64>,
}

/// Owns one model call's span; finishing records the span attributes and the metrics exactly
/// once. Dropped unfinished, it finishes as cancelled (finish reason `error`, usage seen so far is
/// not known here, so none is recorded).
#[must_use = "a call guard ends the span when it finishes or is dropped"]
pub struct CallGuard {
    inner: Option<Recorder>,
}

impl fmt::Debug for CallGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallGuard")
            .field("finished", &self.inner.is_none())
            .finish()
    }
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Ok,
    Error(GenAiErrorClass),
    Cancelled,
}

impl CallGuard {
    /// The context holding the call's span: make it current around the model request so its
    /// HTTP client span is a child of the `gen_ai.chat` span.
    pub fn context(&self) -> Context {
        self.inner
            .as_ref()
            .map(|r| r.cx.clone())
            .unwrap_or_else(Context::current)
    }

    /// `false` when telemetry is off: the guard records nothing.
    pub(crate) fn is_recording(&self) -> bool {
        self.inner.is_some()
    }

    /// How a failure with this error is recorded, with the instrumentation's classifier.
    pub fn classify_error<E: 'static>(&self, error: &E) -> GenAiErrorClass {
        match &self.inner {
            Some(r) => r.inst.classify_error(error),
            None => GenAiErrorClass::from_any(error),
        }
    }

    /// Records the time to the first chunk of a streaming reply (first call wins).
    pub fn first_chunk(&mut self) {
        if let Some(r) = self.inner.as_mut() {
            if r.first_chunk.is_none() {
                r.first_chunk = Some(r.start.elapsed().as_secs_f64());
            }
        }
    }

    /// Finishes successfully with what the response reported.
    pub fn finish(mut self, result: CallResult) {
        self.end(End::Ok, result);
    }

    /// Finishes with an error: `error.type` and the status description from the class (a
    /// `&'static str` is taken as the `error.type`; it should be low-cardinality: an error code,
    /// an HTTP status). The duration is still recorded, with `error.type`.
    pub fn finish_error(mut self, error: impl Into<GenAiErrorClass>, partial: CallResult) {
        self.end(End::Error(error.into()), partial);
    }

    pub(crate) fn end(&mut self, how: End, mut result: CallResult) {
        let Some(r) = self.inner.take() else { return };
        let seed = r.inst.mode == SemconvMode::Seed;
        let mut usage = result.usage;
        // Input tokens are the total input in both modes: semconv v1.41 anthropic.md, and the
        // seed's LangChain `usage_metadata` (langchain-anthropic sums the cache tokens in).
        // Anthropic's raw `input_tokens` excludes them.
        if r.call.provider == PROVIDER_ANTHROPIC {
            if let Some(input) = usage.input_tokens.as_mut() {
                *input += usage.cache_read_input_tokens.unwrap_or(0)
                    + usage.cache_creation_input_tokens.unwrap_or(0);
            }
        }
        if how == End::Cancelled && result.finish_reasons.is_empty() {
            result.finish_reasons.push(FINISH_REASON_ERROR.to_owned());
        }
        // One shared string for the span attribute and the metric attribute.
        let response_model: Option<StringValue> = result
            .response_model
            .as_deref()
            .map(|m| StringValue::from(Arc::<str>::from(m)));
        let cost = r.inst.prices.as_ref().and_then(|p| {
            p.cost(
                result.response_model.as_deref(),
                &r.call.request_model,
                &usage,
            )
        });
        if let Some(sink) = r.cx.get::<AgentUsageSink>() {
            sink.add_call(&usage, cost);
        }
        let ended = Ended {
            seed,
            usage,
            response_model,
            cost,
            how,
        };
        let span = r.cx.span();
        span.set_attributes(r.span_attributes(&ended, &result));
        if let End::Error(class) = &ended.how {
            span.set_status(Status::error(class.description().to_owned()));
        }
        span.end();
        r.record_metrics(ended);
    }
}

/// What a call ended with, shared by its span attributes and its metric points.
struct Ended {
    seed: bool,
    usage: Usage,
    response_model: Option<StringValue>,
    cost: Option<f64>,
    how: End,
}

impl Recorder {
    /// The chat span's attributes at the end: response, usage (both name generations in the
    /// seed's mode), cost, time to first chunk, output messages (with content capture), error.
    fn span_attributes(&self, e: &Ended, result: &CallResult) -> Vec<KeyValue> {
        let usage = &e.usage;
        let mut attrs = Vec::with_capacity(10);
        if let Some(model) = &e.response_model {
            attrs.push(KeyValue::new(key(GEN_AI_RESPONSE_MODEL), model.clone()));
        }
        if let Some(id) = &result.response_id {
            attrs.push(KeyValue::new(key(GEN_AI_RESPONSE_ID), id.clone()));
        }
        if !result.finish_reasons.is_empty() {
            attrs.push(KeyValue::new(
                key(GEN_AI_RESPONSE_FINISH_REASONS),
                string_array(&result.finish_reasons),
            ));
        }
        let mut tokens = vec![
            (GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens),
            (GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens),
            // semconv v1.40+ names, in both modes (Phoenix and Langfuse read these)…
            (
                GEN_AI_USAGE_CACHE_READ_DOT_INPUT_TOKENS,
                usage.cache_read_input_tokens,
            ),
            (
                GEN_AI_USAGE_CACHE_CREATION_DOT_INPUT_TOKENS,
                usage.cache_creation_input_tokens,
            ),
        ];
        if e.seed {
            // …and the seed's underscore names beside them, with the same values.
            tokens.push((
                GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                usage.cache_read_input_tokens,
            ));
            tokens.push((
                GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                usage.cache_creation_input_tokens,
            ));
        }
        for (k, v) in tokens {
            if let Some(v) = v {
                attrs.push(KeyValue::new(key(k), v as i64));
            }
        }
        if let Some(cost) = e.cost {
            attrs.push(KeyValue::new(key(GEN_AI_USAGE_COST), cost));
        }
        if !e.seed {
            if let Some(v) = usage.reasoning_output_tokens {
                attrs.push(KeyValue::new(
                    key(GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
                    v as i64,
                ));
            }
        }
        if let Some(ttfc) = self.first_chunk {
            attrs.push(KeyValue::new(
                key(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
                ttfc,
            ));
        }
        if self.inst.capture_content {
            if let Some(out) = &result.output_messages {
                attrs.push(KeyValue::new(
                    key(GEN_AI_OUTPUT_MESSAGES),
                    cap(out, self.inst.content_cap),
                ));
            }
        }
        if let End::Error(class) = &e.how {
            attrs.push(KeyValue::new(
                key(ERROR_TYPE),
                class.error_type().to_owned(),
            ));
        }
        attrs
    }

    /// The call's metric points: tokens per type, time to first chunk, cost, duration.
    fn record_metrics(self, e: Ended) {
        let Ended {
            seed,
            usage,
            response_model,
            cost,
            how,
        } = e;
        // The seed takes the model from the response; fall back to the request.
        let model: Value = match (seed, response_model.clone()) {
            (true, Some(m)) => m.into(),
            _ => self.call.request_model.clone().into(),
        };
        // On the stack, in a fixed order: operation, provider, model, response model (latest
        // mode), server address and port, then the point's own token type or error type.
        let mut attrs = StackAttrs::<7>::new();
        attrs.push(KeyValue::new(
            key(GEN_AI_OPERATION_NAME),
            self.call.operation.clone(),
        ));
        attrs.push(KeyValue::new(
            self.inst.provider_key(),
            self.call.provider.clone(),
        ));
        attrs.push(KeyValue::new(key(GEN_AI_REQUEST_MODEL), model));
        if !seed {
            if let Some(m) = response_model {
                attrs.push(KeyValue::new(key(GEN_AI_RESPONSE_MODEL), m));
            }
        }
        if let Some(addr) = &self.call.server_address {
            attrs.push(KeyValue::new(key(SERVER_ADDRESS), addr.clone()));
            if let Some(port) = self.call.server_port {
                attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
            }
        }
        let base = attrs.len();
        // The seed's mode adds the cache token types.
        let points = [
            (TOKEN_TYPE_INPUT, usage.input_tokens),
            (TOKEN_TYPE_OUTPUT, usage.output_tokens),
            (
                TOKEN_TYPE_CACHE_READ,
                usage.cache_read_input_tokens.filter(|_| seed),
            ),
            (
                TOKEN_TYPE_CACHE_CREATION,
                usage.cache_creation_input_tokens.filter(|_| seed),
            ),
        ];
        for (ty, value) in points {
            if let Some(v) = value {
                attrs.truncate(base);
                attrs.push(KeyValue::new(key(GEN_AI_TOKEN_TYPE), ty));
                self.instruments.tokens.record(v, attrs.as_slice());
            }
        }
        attrs.truncate(base);
        if let Some(ttfc) = self.first_chunk {
            self.instruments.ttfc.record(ttfc, attrs.as_slice());
        }
        if let Some(cost) = cost {
            self.instruments.cost.record(cost, attrs.as_slice());
        }
        if let End::Error(class) = how {
            attrs.push(KeyValue::new(
                key(ERROR_TYPE),
                class.error_type().to_owned(),
            ));
        }
        self.instruments
            .duration
            .record(self.start.elapsed().as_secs_f64(), attrs.as_slice());
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.end(End::Cancelled, CallResult::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_capped_at_a_char_boundary() {
        assert_eq!(cap("héllo", 2), "h");
        assert_eq!(cap("héllo", 3), "hé");
        assert_eq!(cap("abc", 10), "abc");
    }

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
