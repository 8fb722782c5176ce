//! A finished call's metric points: tokens per type, time to first chunk, cost and duration, with
//! their attributes on the stack.

use opentelemetry::{KeyValue, StringValue, Value};
use vystak_otel_core::attrs::StackAttrs;

use super::guard::{End, Ended, Recorder};
use crate::attrs::key;
use crate::semconv::*;
use crate::usage::Usage;

/// A metric point's attributes: the call's, then the point's own token type or error type.
type MetricAttrs = StackAttrs<7>;

impl Recorder {
    /// The call's metric points: tokens per type, time to first chunk, cost, duration.
    pub(super) fn record_metrics(self, e: Ended) {
        let Ended {
            seed,
            usage,
            response_model,
            cost,
            how,
        } = e;
        // The seed takes the model from the response; fall back to the request.
        let model: Value = match (seed, response_model.clone()) {
            (true, Some(m)) => m.into(),
            _ => self.call.request_model.clone().into(),
        };
        let mut attrs = MetricAttrs::new();
        self.push_call_attributes(&mut attrs, seed, model, response_model);
        let base = attrs.len();
        self.record_tokens(&mut attrs, base, seed, &usage);
        attrs.truncate(base);
        if let Some(ttfc) = self.first_chunk {
            self.instruments.ttfc.record(ttfc, attrs.as_slice());
        }
        if let Some(cost) = cost {
            self.instruments.cost.record(cost, attrs.as_slice());
        }
        if let End::Error(class) = how {
            attrs.push(KeyValue::new(
                key(ERROR_TYPE),
                class.error_type().to_owned(),
            ));
        }
        self.instruments
            .record_duration(self.start.elapsed().as_secs_f64(), attrs.as_slice());
    }

    /// The attributes every point of the call shares, in a fixed order: operation, provider,
    /// model, response model (latest mode), server address and port.
    fn push_call_attributes(
        &self,
        attrs: &mut MetricAttrs,
        seed: bool,
        model: Value,
        response_model: Option<StringValue>,
    ) {
        attrs.push(KeyValue::new(
            key(GEN_AI_OPERATION_NAME),
            self.call.operation.clone(),
        ));
        attrs.push(KeyValue::new(
            self.inst.provider_key(),
            self.call.provider.clone(),
        ));
        attrs.push(KeyValue::new(key(GEN_AI_REQUEST_MODEL), model));
        if !seed {
            if let Some(m) = response_model {
                attrs.push(KeyValue::new(key(GEN_AI_RESPONSE_MODEL), m));
            }
        }
        if let Some(addr) = &self.call.server_address {
            attrs.push(KeyValue::new(key(SERVER_ADDRESS), addr.clone()));
            if let Some(port) = self.call.server_port {
                attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
            }
        }
    }

    /// One `gen_ai.client.token.usage` point per reported token type (the seed's mode adds the
    /// cache token types), each with the call's attributes (the first `base`) and its type.
    fn record_tokens(&self, attrs: &mut MetricAttrs, base: usize, seed: bool, usage: &Usage) {
        let points = [
            (TOKEN_TYPE_INPUT, usage.input_tokens),
            (TOKEN_TYPE_OUTPUT, usage.output_tokens),
            (
                TOKEN_TYPE_CACHE_READ,
                usage.cache_read_input_tokens.filter(|_| seed),
            ),
            (
                TOKEN_TYPE_CACHE_CREATION,
                usage.cache_creation_input_tokens.filter(|_| seed),
            ),
        ];
        for (ty, value) in points {
            if let Some(v) = value {
                attrs.truncate(base);
                attrs.push(KeyValue::new(key(GEN_AI_TOKEN_TYPE), ty));
                self.instruments.record_tokens(v, attrs.as_slice());
            }
        }
    }
}
