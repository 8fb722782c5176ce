//! The opt-in agent usage aggregate: the sums of the chat calls made inside an agent's turn,
//! carried in the `Context` from the `invoke_agent` span to the chat calls under it.

use std::sync::{Arc, Mutex, PoisonError};

use crate::usage::Usage;

/// Sums of the chat calls made inside an agent's turn (opt-in aggregate).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub(crate) input: u64,
    pub(crate) output: u64,
    pub(crate) cache_read: u64,
    pub(crate) cache_creation: u64,
    pub(crate) cost: f64,
    pub(crate) priced: bool,
    pub(crate) calls: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_creation += other.cache_creation;
        self.cost += other.cost;
        self.priced |= other.priced;
        self.calls += other.calls;
    }
}

/// The aggregate sink of the current agent turn, carried in the `Context`.
#[derive(Clone, Debug, Default)]
pub(crate) struct AgentUsageSink(Arc<Mutex<Totals>>);

impl AgentUsageSink {
    /// Adds one chat call (usage as recorded: total input).
    pub(crate) fn add_call(&self, usage: &Usage, cost: Option<f64>) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.add(&Totals {
            input: usage.input_tokens.unwrap_or(0),
            output: usage.output_tokens.unwrap_or(0),
            cache_read: usage.cache_read_input_tokens.unwrap_or(0),
            cache_creation: usage.cache_creation_input_tokens.unwrap_or(0),
            cost: cost.unwrap_or(0.0),
            priced: cost.is_some(),
            calls: 1,
        });
    }

    /// Adds a nested agent's sums (its calls count in the enclosing turn too).
    pub(crate) fn add_totals(&self, totals: &Totals) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(totals);
    }

    pub(crate) fn totals(&self) -> Totals {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
