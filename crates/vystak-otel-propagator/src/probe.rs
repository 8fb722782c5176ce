//! `sdk_installed`, kept one release as a forward to [`vystak_otel_core::providers`], where the
//! workspace now resolves its providers (this crate is W3C propagation only).

use opentelemetry::trace::Tracer;

/// `true` when `tracer` belongs to an installed SDK, `false` for the no-op tracer.
#[deprecated(
    since = "0.1.0",
    note = "use `vystak_otel_core::providers::sdk_installed` (or `Providers::resolve`)"
)]
pub fn sdk_installed<T: Tracer>(tracer: &T) -> bool {
    vystak_otel_core::providers::sdk_installed(tracer)
}
