//! The chat span's attributes at the end of a call: response, usage, cost, time to first chunk,
//! output messages and error.

use opentelemetry::KeyValue;

use super::guard::{CallResult, End, Ended, Recorder};
use crate::attrs::{cap, key, string_array};
use crate::semconv::*;

impl Recorder {
    /// The chat span's attributes at the end: response, usage (both name generations in the
    /// seed's mode), cost, time to first chunk, output messages (with content capture), error.
    pub(super) fn span_attributes(&self, e: &Ended, result: &CallResult) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(10);
        push_response(&mut attrs, e, result);
        push_usage(&mut attrs, e);
        if let Some(ttfc) = self.first_chunk {
            attrs.push(KeyValue::new(
                key(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
                ttfc,
            ));
        }
        if self.inst.capture_content {
            if let Some(out) = &result.output_messages {
                attrs.push(KeyValue::new(
                    key(GEN_AI_OUTPUT_MESSAGES),
                    cap(out, self.inst.content_cap),
                ));
            }
        }
        if let End::Error(class) = &e.how {
            attrs.push(KeyValue::new(
                key(ERROR_TYPE),
                class.error_type().to_owned(),
            ));
        }
        attrs
    }
}

/// Response model, response id, finish reasons.
#[inline]
fn push_response(attrs: &mut Vec<KeyValue>, e: &Ended, result: &CallResult) {
    if let Some(model) = &e.response_model {
        attrs.push(KeyValue::new(key(GEN_AI_RESPONSE_MODEL), model.clone()));
    }
    if let Some(id) = &result.response_id {
        attrs.push(KeyValue::new(key(GEN_AI_RESPONSE_ID), id.clone()));
    }
    if !result.finish_reasons.is_empty() {
        attrs.push(KeyValue::new(
            key(GEN_AI_RESPONSE_FINISH_REASONS),
            string_array(&result.finish_reasons),
        ));
    }
}

/// Token counts (both name generations in the seed's mode), cost, reasoning tokens (latest
/// mode).
#[inline]
fn push_usage(attrs: &mut Vec<KeyValue>, e: &Ended) {
    let usage = &e.usage;
    let mut tokens = vec![
        (GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens),
        (GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens),
        // semconv v1.40+ names, in both modes (Phoenix and Langfuse read these)…
        (
            GEN_AI_USAGE_CACHE_READ_DOT_INPUT_TOKENS,
            usage.cache_read_input_tokens,
        ),
        (
            GEN_AI_USAGE_CACHE_CREATION_DOT_INPUT_TOKENS,
            usage.cache_creation_input_tokens,
        ),
    ];
    if e.seed {
        // …and the seed's underscore names beside them, with the same values.
        tokens.push((
            GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            usage.cache_read_input_tokens,
        ));
        tokens.push((
            GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            usage.cache_creation_input_tokens,
        ));
    }
    for (k, v) in tokens {
        if let Some(v) = v {
            attrs.push(KeyValue::new(key(k), v as i64));
        }
    }
    if let Some(cost) = e.cost {
        attrs.push(KeyValue::new(key(GEN_AI_USAGE_COST), cost));
    }
    if !e.seed {
        if let Some(v) = usage.reasoning_output_tokens {
            attrs.push(KeyValue::new(
                key(GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
                v as i64,
            ));
        }
    }
}
