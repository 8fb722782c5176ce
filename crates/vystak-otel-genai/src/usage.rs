//! What a model call reports: token usage and response details, and the traits requests,
//! responses and stream chunks implement to describe themselves.

use crate::call::GenAiCall;

/// A tool call a model response asked for (Anthropic `tool_use` blocks, OpenAI `tool_calls` /
/// `function_call` items).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's call id (`toolu_…`, `call_…`): answer with it, record it as
    /// `gen_ai.tool.call.id`.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as a JSON string.
    pub arguments: String,
}

/// Token usage as the provider reported it. `None` = not reported (no metric point is recorded
/// for it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens as the provider counts them (Anthropic: excluding cache tokens; OpenAI:
    /// including cached tokens). For provider `anthropic` the recorder adds the cache reads and
    /// writes, so `gen_ai.usage.input_tokens` is the total input.
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: Option<u64>,
    /// Input tokens written to the prompt cache.
    pub cache_creation_input_tokens: Option<u64>,
    /// Reasoning tokens (a subset of output tokens).
    pub reasoning_output_tokens: Option<u64>,
}

impl Usage {
    /// Merges a later report into this one: every field the later one has replaces ours (stream
    /// events carry cumulative counts).
    pub fn merge(&mut self, later: Usage) {
        let take = |mine: &mut Option<u64>, theirs: Option<u64>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
        take(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        take(
            &mut self.reasoning_output_tokens,
            later.reasoning_output_tokens,
        );
    }

    /// `true` when nothing was reported.
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

/// A model request that describes the call it makes (for [`GenAiLayer`](crate::GenAiLayer)).
pub trait GenAiRequest {
    /// The call: operation, provider, model, parameters.
    fn gen_ai_call(&self) -> GenAiCall;
}

/// A model response that reports usage and response details.
pub trait GenAiResponse {
    /// Token usage, when reported.
    fn usage(&self) -> Option<Usage>;
    /// The model that actually answered.
    fn response_model(&self) -> Option<&str> {
        None
    }
    /// The provider's response id (`msg_…`, `chatcmpl-…`).
    fn response_id(&self) -> Option<&str> {
        None
    }
    /// Finish reasons, one per choice.
    fn finish_reasons(&self) -> Vec<String> {
        Vec::new()
    }
    /// The output messages as a JSON string, recorded only when content capture is on.
    fn output_messages(&self) -> Option<String> {
        None
    }
    /// The tool calls the model asked for, in order (run each inside
    /// [`GenAiInstrumentation::instrument_tool`](crate::GenAiInstrumentation::instrument_tool)
    /// with [`ToolExecution::from_call`](crate::ToolExecution::from_call)).
    fn tool_calls(&self) -> Vec<ToolCall> {
        Vec::new()
    }
}

/// One event of a streaming reply.
pub trait GenAiChunk {
    /// Usage carried by this event (partial and/or cumulative; later values replace earlier ones).
    fn usage(&self) -> Option<Usage> {
        None
    }
    /// The model, when this event names it.
    fn response_model(&self) -> Option<&str> {
        None
    }
    /// The response id, when this event carries it.
    fn response_id(&self) -> Option<&str> {
        None
    }
    /// A finish reason, when this event carries one.
    fn finish_reason(&self) -> Option<&str> {
        None
    }
}

impl<T: GenAiResponse> GenAiResponse for &T {
    fn usage(&self) -> Option<Usage> {
        (**self).usage()
    }
    fn response_model(&self) -> Option<&str> {
        (**self).response_model()
    }
    fn response_id(&self) -> Option<&str> {
        (**self).response_id()
    }
    fn finish_reasons(&self) -> Vec<String> {
        (**self).finish_reasons()
    }
    fn output_messages(&self) -> Option<String> {
        (**self).output_messages()
    }
    fn tool_calls(&self) -> Vec<ToolCall> {
        (**self).tool_calls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_fields_not_reported_later() {
        let mut u = Usage {
            input_tokens: Some(10),
            output_tokens: Some(1),
            cache_read_input_tokens: Some(5),
            ..Usage::default()
        };
        u.merge(Usage {
            output_tokens: Some(42),
            ..Usage::default()
        });
        assert_eq!(u.input_tokens, Some(10));
        assert_eq!(u.output_tokens, Some(42));
        assert_eq!(u.cache_read_input_tokens, Some(5));
        assert!(!u.is_empty());
        assert!(Usage::default().is_empty());
    }
}
