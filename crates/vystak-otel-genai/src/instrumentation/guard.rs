//! `CallGuard`, the owner of one model call's span, and `CallResult`, what the call reported:
//! finishing (or dropping) the guard ends the span and records the metrics exactly once.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, StringValue};

use super::instruments::Instruments;
use super::GenAiInstrumentation;
use crate::aggregate::AgentUsageSink;
use crate::call::GenAiCall;
use crate::error::GenAiErrorClass;
use crate::semconv::*;
use crate::usage::{GenAiResponse, Usage};

/// What a finished call reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallResult {
    /// Token usage.
    pub usage: Usage,
    /// The model that answered.
    pub response_model: Option<String>,
    /// The provider's response id.
    pub response_id: Option<String>,
    /// Finish reasons.
    pub finish_reasons: Vec<String>,
    /// Output messages JSON (recorded only with content capture).
    pub output_messages: Option<String>,
}

impl CallResult {
    /// Collects what a [`GenAiResponse`] reports.
    pub fn from_response(response: &impl GenAiResponse) -> Self {
        Self {
            usage: response.usage().unwrap_or_default(),
            response_model: response.response_model().map(str::to_owned),
            response_id: response.response_id().map(str::to_owned),
            finish_reasons: response.finish_reasons(),
            output_messages: response.output_messages(),
        }
    }
}

/// A started call: what its end needs to record.
pub(super) struct Recorder {
    pub(super) inst: GenAiInstrumentation,
    pub(super) instruments: Arc<Instruments>,
    pub(super) cx: Context,
    pub(super) call: GenAiCall,
    pub(super) start: Instant,
    pub(super) first_chunk: Option<f64>,
}

/// Owns one model call's span; finishing records the span attributes and the metrics exactly
/// once. Dropped unfinished, it finishes as cancelled (finish reason `error`, usage seen so far is
/// not known here, so none is recorded).
#[must_use = "a call guard ends the span when it finishes or is dropped"]
pub struct CallGuard {
    pub(super) inner: Option<Recorder>,
}

impl fmt::Debug for CallGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallGuard")
            .field("finished", &self.inner.is_none())
            .finish()
    }
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Ok,
    Error(GenAiErrorClass),
    Cancelled,
}

impl CallGuard {
    /// The context holding the call's span: make it current around the model request so its
    /// HTTP client span is a child of the `gen_ai.chat` span.
    pub fn context(&self) -> Context {
        self.inner
            .as_ref()
            .map(|r| r.cx.clone())
            .unwrap_or_else(Context::current)
    }

    /// `false` when telemetry is off: the guard records nothing.
    pub(crate) fn is_recording(&self) -> bool {
        self.inner.is_some()
    }

    /// How a failure with this error is recorded, with the instrumentation's classifier.
    pub fn classify_error<E: 'static>(&self, error: &E) -> GenAiErrorClass {
        match &self.inner {
            Some(r) => r.inst.classify_error(error),
            None => GenAiErrorClass::from_any(error),
        }
    }

    /// Records the time to the first chunk of a streaming reply (first call wins).
    pub fn first_chunk(&mut self) {
        if let Some(r) = self.inner.as_mut() {
            if r.first_chunk.is_none() {
                r.first_chunk = Some(r.start.elapsed().as_secs_f64());
            }
        }
    }

    /// Finishes successfully with what the response reported.
    pub fn finish(mut self, result: CallResult) {
        self.end(End::Ok, result);
    }

    /// Finishes with an error: `error.type` and the status description from the class (a
    /// `&'static str` is taken as the `error.type`; it should be low-cardinality: an error code,
    /// an HTTP status). The duration is still recorded, with `error.type`.
    pub fn finish_error(mut self, error: impl Into<GenAiErrorClass>, partial: CallResult) {
        self.end(End::Error(error.into()), partial);
    }

    pub(crate) fn end(&mut self, how: End, mut result: CallResult) {
        let Some(r) = self.inner.take() else { return };
        let seed = r.inst.mode == SemconvMode::Seed;
        let mut usage = result.usage;
        // Input tokens are the total input in both modes: semconv v1.41 anthropic.md, and the
        // seed's LangChain `usage_metadata` (langchain-anthropic sums the cache tokens in).
        // Anthropic's raw `input_tokens` excludes them.
        if r.call.provider == PROVIDER_ANTHROPIC {
            if let Some(input) = usage.input_tokens.as_mut() {
                *input += usage.cache_read_input_tokens.unwrap_or(0)
                    + usage.cache_creation_input_tokens.unwrap_or(0);
            }
        }
        if how == End::Cancelled && result.finish_reasons.is_empty() {
            result.finish_reasons.push(FINISH_REASON_ERROR.to_owned());
        }
        // One shared string for the span attribute and the metric attribute.
        let response_model: Option<StringValue> = result
            .response_model
            .as_deref()
            .map(|m| StringValue::from(Arc::<str>::from(m)));
        let cost = r.inst.prices.as_ref().and_then(|p| {
            p.cost(
                result.response_model.as_deref(),
                &r.call.request_model,
                &usage,
            )
        });
        if let Some(sink) = r.cx.get::<AgentUsageSink>() {
            sink.add_call(&usage, cost);
        }
        let ended = Ended {
            seed,
            usage,
            response_model,
            cost,
            how,
        };
        let span = r.cx.span();
        span.set_attributes(r.span_attributes(&ended, &result));
        if let End::Error(class) = &ended.how {
            span.set_status(Status::error(class.description().to_owned()));
        }
        span.end();
        r.record_metrics(ended);
    }
}

/// What a call ended with, shared by its span attributes and its metric points.
pub(super) struct Ended {
    pub(super) seed: bool,
    pub(super) usage: Usage,
    pub(super) response_model: Option<StringValue>,
    pub(super) cost: Option<f64>,
    pub(super) how: End,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.end(End::Cancelled, CallResult::default());
    }
}
