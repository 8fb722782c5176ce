//! [`GenAiInstrumentation::start`]: a model call's CLIENT span, named and with its request
//! attributes, owned by the [`CallGuard`] it returns.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use super::guard::{CallGuard, Recorder};
use super::instruments::{global_instruments, global_telemetry_off, Instruments};
use super::GenAiInstrumentation;
use crate::attrs::{cap, key, span_name, string_array};
use crate::call::GenAiCall;
use crate::semconv::*;

impl GenAiInstrumentation {
    /// Starts a model call: a CLIENT span (`gen_ai.chat`, or `chat {model}` in the latest mode)
    /// as a child of the current context. The returned guard owns the span: it ends when the
    /// guard finishes, whatever happened to the parent.
    pub fn start(&self, call: GenAiCall) -> CallGuard {
        let Some(instruments) = self.call_instruments() else {
            return CallGuard { inner: None };
        };
        let name = self.chat_span_name(&call);
        let attrs = self.request_attributes(&call);
        let parent = Context::current();
        let cx = self.start_span(name, SpanKind::Client, attrs, &parent);
        CallGuard {
            inner: Some(Recorder {
                inst: self.clone(),
                instruments,
                cx,
                call,
                start: Instant::now(),
                first_chunk: None,
            }),
        }
    }

    /// The instruments a call records into; `None` when telemetry is off. The global meter
    /// provider is read once: it decides "telemetry off" and gives the instruments.
    fn call_instruments(&self) -> Option<Arc<Instruments>> {
        match &self.instruments {
            Some(i) => Some(i.clone()),
            None => {
                let meter = opentelemetry::global::meter_provider();
                if self.tracer.is_none() && global_telemetry_off(&meter) {
                    return None;
                }
                Some(global_instruments(meter))
            }
        }
    }

    /// `gen_ai.chat` (the seed's name), or `{operation} {model}` in the latest mode.
    fn chat_span_name(&self, call: &GenAiCall) -> Cow<'static, str> {
        match self.mode {
            SemconvMode::Seed => Cow::Borrowed(SPAN_GEN_AI_CHAT),
            SemconvMode::LatestExperimental => {
                Cow::Owned(span_name(&call.operation, &call.request_model))
            }
        }
    }

    /// The chat span's attributes at the start: operation, provider, request model, request
    /// parameters, server, input messages (with content capture).
    fn request_attributes(&self, call: &GenAiCall) -> Vec<KeyValue> {
        let mut attrs = Vec::with_capacity(12);
        attrs.push(KeyValue::new(
            key(GEN_AI_OPERATION_NAME),
            call.operation.clone(),
        ));
        self.push_provider(&mut attrs, call.provider.clone());
        attrs.push(KeyValue::new(
            key(GEN_AI_REQUEST_MODEL),
            call.request_model.clone(),
        ));
        push_request_parameters(&mut attrs, call);
        if let Some(addr) = &call.server_address {
            attrs.push(KeyValue::new(key(SERVER_ADDRESS), addr.clone()));
            if let Some(port) = call.server_port {
                attrs.push(KeyValue::new(key(SERVER_PORT), i64::from(port)));
            }
        }
        if self.capture_content {
            if let Some(input) = &call.input_messages {
                attrs.push(KeyValue::new(
                    key(GEN_AI_INPUT_MESSAGES),
                    cap(input, self.content_cap),
                ));
            }
        }
        attrs
    }
}

/// The request parameters the call set: temperature, top-p, top-k, max tokens, stop sequences,
/// streaming.
#[inline]
fn push_request_parameters(attrs: &mut Vec<KeyValue>, call: &GenAiCall) {
    if let Some(t) = call.temperature {
        attrs.push(KeyValue::new(key(GEN_AI_REQUEST_TEMPERATURE), t));
    }
    if let Some(p) = call.top_p {
        attrs.push(KeyValue::new(key(GEN_AI_REQUEST_TOP_P), p));
    }
    if let Some(k) = call.top_k {
        attrs.push(KeyValue::new(key(GEN_AI_REQUEST_TOP_K), k));
    }
    if let Some(n) = call.max_tokens {
        attrs.push(KeyValue::new(key(GEN_AI_REQUEST_MAX_TOKENS), n));
    }
    if !call.stop_sequences.is_empty() {
        attrs.push(KeyValue::new(
            key(GEN_AI_REQUEST_STOP_SEQUENCES),
            string_array(&call.stop_sequences),
        ));
    }
    if call.stream {
        attrs.push(KeyValue::new(key(GEN_AI_REQUEST_STREAM), true));
    }
}
