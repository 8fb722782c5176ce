//! The server tests' harness: the workspace's in-memory telemetry with a layer wired to it, and
//! the shared helpers (`vystak-otel-testkit`).
#![allow(dead_code, unreachable_pub, unused_imports)]

use vystak_otel_server::OtelServerLayer;
pub use vystak_otel_testkit::memory::{attrs, InMemory, Point, Value};
pub use vystak_otel_testkit::serve;
pub use vystak_otel_testkit::w3c::{PARENT_ID, TRACEPARENT, TRACE_ID};

/// In-memory tracer + meter providers (dereferences to [`InMemory`]).
pub struct Telemetry(InMemory);

impl std::ops::Deref for Telemetry {
    type Target = InMemory;
    fn deref(&self) -> &InMemory {
        &self.0
    }
}

impl Telemetry {
    pub fn new() -> Self {
        Self(InMemory::new())
    }

    /// A layer wired to these providers.
    pub fn layer(&self) -> OtelServerLayer {
        OtelServerLayer::new()
            .with_tracer_provider(&self.tp)
            .with_meter_provider(&self.mp)
            .with_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new())
    }
}
