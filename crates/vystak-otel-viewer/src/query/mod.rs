//! Query layer over the store: trace search and the Prometheus-compatible PromQL engine.

// Client numbers (query parameters, OTLP fields) pass through here: every integer operation and
// narrowing cast is checked, saturating or explicit (issue 27). Tests are not held to it.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

pub mod promql;
pub mod traces;
