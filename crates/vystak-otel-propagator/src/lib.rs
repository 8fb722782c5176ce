//! A W3C Trace Context Level 2 propagator that follows the specification exactly, built on the OpenTelemetry API alone.
