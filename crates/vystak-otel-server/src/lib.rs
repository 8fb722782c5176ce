//! OtelServerLayer: OpenTelemetry SERVER spans and http.server metrics for tower and axum, from one .layer(...).
