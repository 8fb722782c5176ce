//! Telemetry initialisation for vystak-otel: OTLP gRPC tracer and meter providers, service names, env rules, benign-error filtering.
