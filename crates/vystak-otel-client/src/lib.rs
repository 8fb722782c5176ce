//! OtelClientMiddleware: OpenTelemetry CLIENT spans, traceparent injection and http.client metrics for reqwest-middleware.
