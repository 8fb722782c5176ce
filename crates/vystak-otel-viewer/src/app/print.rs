//! The binary's console output: each trace's tree once it completes, and the token-usage
//! summary when it changes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::query::render::{trace_tree, TokenSummary};
use crate::storage::Store;

/// Prints each trace once it has a root and no span arrived for the quiet period; again when
/// more spans arrive later. Each tick costs the traces that changed, not the store: it reads the
/// store's change log ([`Store::take_changed_traces`]) and copies only a trace it prints.
#[derive(Debug)]
pub struct Printer {
    quiet: Duration,
    /// Changed traces not printed yet: span count, when that count was first seen.
    pending: HashMap<String, (usize, Instant)>,
    /// Span count when each trace was last printed (or loaded).
    printed: HashMap<String, usize>,
    /// The token summary last printed.
    tokens: Option<TokenSummary>,
}

impl Printer {
    /// A printer that waits `quiet` after a trace's last span before printing it.
    pub fn new(quiet: Duration) -> Self {
        Self {
            quiet,
            pending: HashMap::new(),
            printed: HashMap::new(),
            tokens: None,
        }
    }

    /// Marks `trace_ids` (e.g. the traces loaded from a file) as printed at their current size.
    pub fn already_printed(&mut self, store: &Store, trace_ids: Vec<String>) {
        for trace_id in trace_ids {
            let n = store.trace_span_count(&trace_id);
            self.printed.insert(trace_id, n);
        }
    }

    /// Takes the current token summary as already printed.
    pub fn start_tokens(&mut self, store: &Store) {
        self.tokens = Some(TokenSummary::from_points(&store.all_metric_points()));
    }

    /// Prints what became due since the last tick.
    pub fn tick(&mut self, store: &Store) {
        let now = Instant::now();
        for trace_id in store.take_changed_traces() {
            let n = store.trace_span_count(&trace_id);
            self.pending.insert(trace_id, (n, now));
        }
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, since))| now.duration_since(*since) >= self.quiet)
            .map(|(id, _)| id.clone())
            .collect();
        for trace_id in due {
            let Some((n, _)) = self.pending.remove(&trace_id) else {
                continue;
            };
            if n == 0 || self.printed.get(&trace_id) == Some(&n) || !store.trace_has_root(&trace_id)
            {
                continue;
            }
            let spans = store.trace(&trace_id);
            print!("\n{}", trace_tree(&spans));
            println!("({} spans)", spans.len());
            self.printed.insert(trace_id, spans.len());
        }
        if self.printed.len() > store.span_count().saturating_mul(2).saturating_add(1024) {
            // Forget traces the store evicted.
            self.printed.retain(|id, _| store.trace_span_count(id) > 0);
        }
        let tokens = TokenSummary::from_points(&store.all_metric_points());
        if self.tokens.as_ref() != Some(&tokens) && !tokens.services.is_empty() {
            println!("\ntoken usage (gen_ai.client.token.usage)\n{tokens}");
            self.tokens = Some(tokens);
        }
    }
}
