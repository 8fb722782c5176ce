//! vystak-otel umbrella crate.
