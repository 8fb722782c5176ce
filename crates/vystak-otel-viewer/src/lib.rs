//! An embedded local OpenTelemetry backend: OTLP gRPC receiver, bounded in-memory store, trace-tree and token-usage rendering.
