//! Cost per call from a user-supplied price table: `gen_ai.usage.cost` (USD) on the chat span and
//! the `vystak.gen_ai.client.cost` histogram.

use std::collections::HashMap;

use crate::usage::Usage;

/// One model's prices in USD per million tokens.
///
/// `input` is the price of an uncached input token; cache reads and cache writes have their own
/// prices (for OpenAI a cached token is a cache read; OpenAI reports no cache writes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelPrice {
    /// Uncached input, per million tokens.
    pub input: f64,
    /// Output, per million tokens.
    pub output: f64,
    /// Input read from the prompt cache, per million tokens.
    pub cache_read: f64,
    /// Input written to the prompt cache, per million tokens.
    pub cache_creation: f64,
}

/// Anthropic's cache read multiplier on the base input price.
pub const ANTHROPIC_CACHE_READ_MULTIPLIER: f64 = 0.1;
/// Anthropic's 5-minute cache write multiplier on the base input price (1-hour writes: 2.0, set
/// [`ModelPrice::cache_creation`] yourself).
pub const ANTHROPIC_CACHE_WRITE_MULTIPLIER: f64 = 1.25;

impl ModelPrice {
    /// Input and output prices; cache reads and writes cost what an input token costs until set.
    pub fn new(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_read: input,
            cache_creation: input,
        }
    }

    /// Anthropic prices from the base input and output prices: cache reads at
    /// [`ANTHROPIC_CACHE_READ_MULTIPLIER`] × input, 5-minute cache writes at
    /// [`ANTHROPIC_CACHE_WRITE_MULTIPLIER`] × input.
    pub fn anthropic(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_read: input * ANTHROPIC_CACHE_READ_MULTIPLIER,
            cache_creation: input * ANTHROPIC_CACHE_WRITE_MULTIPLIER,
        }
    }

    /// The price of a cache read.
    pub fn with_cache_read(mut self, per_million: f64) -> Self {
        self.cache_read = per_million;
        self
    }

    /// The price of a cache write.
    pub fn with_cache_creation(mut self, per_million: f64) -> Self {
        self.cache_creation = per_million;
        self
    }

    /// The cost in USD of a call with this usage, where `usage.input_tokens` is the **total**
    /// input (cache reads and writes included, as the recorder reports it). `None` when the call
    /// reported neither input nor output tokens: no usage, no cost.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
            return None;
        }
        let read = usage.cache_read_input_tokens.unwrap_or(0);
        let written = usage.cache_creation_input_tokens.unwrap_or(0);
        let uncached = usage
            .input_tokens
            .unwrap_or(0)
            .saturating_sub(read + written);
        let output = usage.output_tokens.unwrap_or(0);
        Some(
            (uncached as f64 * self.input
                + read as f64 * self.cache_read
                + written as f64 * self.cache_creation
                + output as f64 * self.output)
                / 1_000_000.0,
        )
    }
}

/// Prices per model id. A call is priced by its response model, else its request model, matched
/// exactly; a model that is not in the table gets no cost — never a guess.
///
/// The table is yours: prices change, and so do the model ids your provider returns. An example
/// with list prices at the time of writing (USD per million tokens; check the providers' pages):
///
/// ```
/// use vystak_otel_genai::{ModelPrice, PriceTable};
///
/// let prices = PriceTable::new()
///     // Anthropic: cache reads 0.1 ×, 5-minute cache writes 1.25 × the input price.
///     .with_model("claude-opus-4-5-20251101", ModelPrice::anthropic(5.0, 25.0))
///     .with_model("claude-sonnet-4-5-20250929", ModelPrice::anthropic(3.0, 15.0))
///     .with_model("claude-haiku-4-5-20251001", ModelPrice::anthropic(1.0, 5.0))
///     // OpenAI: cached input has its own price; there are no cache writes.
///     .with_model("gpt-5", ModelPrice::new(1.25, 10.0).with_cache_read(0.125))
///     .with_model("gpt-4.1", ModelPrice::new(2.0, 8.0).with_cache_read(0.5))
///     .with_model("gpt-4o-mini", ModelPrice::new(0.15, 0.60).with_cache_read(0.075));
/// assert!(prices.get("claude-haiku-4-5-20251001").is_some());
/// assert!(prices.get("claude-haiku-4-5").is_none(), "exact ids only");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct PriceTable {
    models: HashMap<String, ModelPrice>,
}

impl PriceTable {
    /// An empty table (every call unpriced).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a model's prices.
    pub fn with_model(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.models.insert(model.into(), price);
        self
    }

    /// A model's prices.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.models.get(model)
    }

    /// The cost of a call: priced by `response_model` when the table has it, else by
    /// `request_model`.
    pub fn cost(
        &self,
        response_model: Option<&str>,
        request_model: &str,
        usage: &Usage,
    ) -> Option<f64> {
        response_model
            .and_then(|m| self.get(m))
            .or_else(|| self.get(request_model))
            .and_then(|p| p.cost(usage))
    }

    /// `true` when no model is priced.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, read: u64, written: u64) -> Usage {
        Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            cache_read_input_tokens: Some(read),
            cache_creation_input_tokens: Some(written),
            reasoning_output_tokens: None,
        }
    }

    #[test]
    fn anthropic_cache_multipliers() {
        let p = ModelPrice::anthropic(3.0, 15.0);
        assert!((p.cache_read - 0.3).abs() < 1e-12 && p.cache_creation == 3.75);
        // 2,000 total input = 1,000 uncached + 800 read + 200 written; 100 output.
        let cost = p.cost(&usage(2_000, 100, 800, 200)).unwrap();
        let want = (1_000.0 * 3.0 + 800.0 * 0.3 + 200.0 * 3.75 + 100.0 * 15.0) / 1e6;
        assert!((cost - want).abs() < 1e-15, "{cost} vs {want}");
        assert!((cost - 0.00549).abs() < 1e-12);
    }

    #[test]
    fn openai_cached_tokens_are_cache_reads() {
        let p = ModelPrice::new(2.5, 10.0).with_cache_read(1.25);
        // 2,006 prompt tokens of which 1,920 cached; 300 completion tokens.
        let u = Usage {
            cache_creation_input_tokens: None,
            ..usage(2_006, 300, 1_920, 0)
        };
        let cost = p.cost(&u).unwrap();
        assert!((cost - (86.0 * 2.5 + 1_920.0 * 1.25 + 300.0 * 10.0) / 1e6).abs() < 1e-15);
    }

    #[test]
    fn unknown_model_and_missing_usage_have_no_cost() {
        let table = PriceTable::new().with_model("m", ModelPrice::new(1.0, 2.0));
        assert_eq!(table.cost(None, "other", &usage(10, 10, 0, 0)), None);
        assert_eq!(table.cost(None, "m", &Usage::default()), None);
        // The response model wins; the request model is the fallback.
        let table = table.with_model("m-2025", ModelPrice::new(10.0, 20.0));
        let u = usage(1_000_000, 0, 0, 0);
        assert_eq!(table.cost(Some("m-2025"), "m", &u), Some(10.0));
        assert_eq!(table.cost(Some("m-unknown"), "m", &u), Some(1.0));
    }

    #[test]
    fn inconsistent_cache_counts_never_go_negative() {
        let p = ModelPrice::new(1.0, 1.0);
        // A provider reporting more cache tokens than input: the uncached part is zero.
        let cost = p.cost(&usage(10, 0, 20, 0)).unwrap();
        assert!((cost - 20.0 / 1e6).abs() < 1e-18);
    }
}
