//! The four histograms of a model call, the cache of those built from the global meter
//! provider, and the per-call "telemetry off" probe of the global providers.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use opentelemetry::metrics::{Histogram, Meter, MeterProvider};
use opentelemetry::InstrumentationScope;

use vystak_otel_core::bound::BoundPoints;

use crate::semconv::*;

pub(super) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

#[derive(Debug)]
pub(super) struct Instruments {
    pub(super) tokens: Histogram<u64>,
    pub(super) duration: Histogram<f64>,
    pub(super) ttfc: Histogram<f64>,
    pub(super) cost: Histogram<f64>,
    /// Bound token and duration points, when the meter provider records bound instruments.
    pub(super) bound: Option<Bound>,
}

/// The bound points of the token and duration histograms.
#[derive(Debug, Default)]
pub(super) struct Bound {
    pub(super) tokens: BoundPoints<u64>,
    pub(super) duration: BoundPoints<f64>,
}

impl Instruments {
    /// The four histograms of `meter`; `bound`: it records bound instruments.
    pub(super) fn new(meter: &Meter, bound: bool) -> Self {
        Self {
            bound: bound.then(Bound::default),
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

impl Instruments {
    /// A `gen_ai.client.token.usage` point.
    #[inline]
    pub(super) fn record_tokens(&self, value: u64, attrs: &[opentelemetry::KeyValue]) {
        match &self.bound {
            Some(bound) => bound.tokens.record(&self.tokens, value, attrs),
            None => self.tokens.record(value, attrs),
        }
    }

    /// A `gen_ai.client.operation.duration` point.
    #[inline]
    pub(super) fn record_duration(&self, seconds: f64, attrs: &[opentelemetry::KeyValue]) {
        match &self.bound {
            Some(bound) => bound.duration.record(&self.duration, seconds, attrs),
            None => self.duration.record(seconds, attrs),
        }
    }
}

/// What `opentelemetry::global::meter_provider()` returns.
type GlobalMeterProvider = Arc<dyn MeterProvider + Send + Sync>;

/// The global meter provider the cached instruments were built from, and those instruments.
type GlobalInstruments = (GlobalMeterProvider, Arc<Instruments>);

/// Instruments from the global meter provider, rebuilt when the global provider changes (so
/// instrumentation built before `Telemetry::init()` records once telemetry is on).
pub(super) fn global_instruments(current: GlobalMeterProvider) -> Arc<Instruments> {
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
            // Bound points only for the provider vystak-telemetry installed and marked.
            let bound = vystak_otel_core::providers::global_meter_provider_is_marked();
            let instruments = Arc::new(Instruments::new(&current.meter_with_scope(scope()), bound));
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
pub(super) fn global_telemetry_off(meter: &GlobalMeterProvider) -> bool {
    static BASE: OnceLock<Instant> = OnceLock::new();
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
    let off = !vystak_otel_core::providers::sdk_installed(
        &opentelemetry::global::tracer_with_scope(scope()),
    );
    TRACER_OFF.store(off, Ordering::Relaxed);
    PROBED_AT_MS.store(now_ms, Ordering::Relaxed);
    PROBED_METER.store(address, Ordering::Release);
    off
}

/// The no-op meter provider the last probe was made under (its address; 0: none, probe again).
static PROBED_METER: AtomicUsize = AtomicUsize::new(0);
/// When the last probe was made (ms since the first call, plus one).
static PROBED_AT_MS: AtomicU64 = AtomicU64::new(0);

/// Forgets the "no tracer provider installed" answer, so the next call through the global
/// providers probes them again at once.
pub(crate) fn forget_probe() {
    PROBED_METER.store(0, Ordering::Release);
}

/// How long a "no tracer provider installed" answer is trusted while the meter provider stays
/// the no-op one.
const REPROBE: std::time::Duration = std::time::Duration::from_millis(100);
