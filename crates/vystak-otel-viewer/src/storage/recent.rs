//! The most recently used distinct resources: how the memory store shares one allocation per
//! resource and the SQLite writer one row per resource, without hashing attribute maps.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::model::record::SharedAttributes;

/// Distinct resources remembered (newest first), each with a value (its row id, or nothing).
#[derive(Debug)]
pub(crate) struct RecentResources<V> {
    entries: VecDeque<(SharedAttributes, V)>,
    capacity: usize,
}

impl<V> RecentResources<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The remembered resource equal to `resource` (the same allocation, or equal attributes)
    /// with its value, moved to the front: a steady exporter's resource is found at once.
    pub(crate) fn find(&mut self, resource: &SharedAttributes) -> Option<&(SharedAttributes, V)> {
        let i = self
            .entries
            .iter()
            .position(|(r, _)| Arc::ptr_eq(r, resource) || **r == **resource)?;
        if i > 0 {
            let entry = self.entries.remove(i)?;
            self.entries.push_front(entry);
        }
        self.entries.front()
    }

    /// Remembers a resource not found, forgetting the least recently used past the capacity.
    pub(crate) fn insert(&mut self, resource: SharedAttributes, value: V) {
        self.entries.push_front((resource, value));
        self.entries.truncate(self.capacity);
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}
