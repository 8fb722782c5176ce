//! [`StackAttrs`]: a metric point's attributes on the stack.

use opentelemetry::KeyValue;
use smallvec::SmallVec;

/// Up to `N` attributes in the order pushed, without allocating: what the workspace's
/// instrumentation hands `Histogram::record`. Always pushing in one fixed order lets the SDK find
/// the point's series on its first, unsorted lookup.
///
/// A `smallvec::SmallVec` inline buffer of `N`: `N` is chosen by the caller to hold the most
/// attributes it pushes; a push past it moves the attributes to the heap (never lost).
pub struct StackAttrs<const N: usize> {
    buf: SmallVec<[KeyValue; N]>,
}

impl<const N: usize> StackAttrs<N> {
    /// No attributes.
    #[inline]
    pub fn new() -> Self {
        Self {
            buf: SmallVec::new(),
        }
    }

    /// Appends `attribute`.
    #[inline(always)]
    pub fn push(&mut self, attribute: KeyValue) {
        self.buf.push(attribute);
    }

    /// Keeps the first `len` attributes.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// How many attributes there are.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// `true` when there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The attributes, in the order pushed.
    #[inline]
    pub fn as_slice(&self) -> &[KeyValue] {
        self.buf.as_slice()
    }
}

impl<const N: usize> std::fmt::Debug for StackAttrs<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<const N: usize> Default for StackAttrs<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// `s` cut to at most `max` bytes at a character boundary (an attribute value or a status
/// description that must stay bounded).
///
/// ```
/// use vystak_otel_core::attrs::cap;
/// assert_eq!(cap("héllo", 2), "h");
/// assert_eq!(cap("héllo", 3), "hé");
/// assert_eq!(cap("abc", 10), "abc");
/// ```
pub fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_keep_their_order_and_truncate_reuses_the_slots() {
        let mut attrs = StackAttrs::<3>::new();
        assert!(attrs.is_empty());
        attrs.push(KeyValue::new("a", 1));
        attrs.push(KeyValue::new("b", 2));
        let base = attrs.len();
        for ty in ["x", "y"] {
            attrs.truncate(base);
            attrs.push(KeyValue::new("t", ty));
            let keys: Vec<&str> = attrs.as_slice().iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(keys, ["a", "b", "t"]);
            assert_eq!(attrs.as_slice()[2].value.as_str(), ty);
        }
        attrs.truncate(base);
        assert_eq!(attrs.as_slice().len(), 2);
    }

    #[test]
    fn a_reused_slot_drops_its_attribute_and_the_rest_drop_with_the_list() {
        use std::sync::Arc;
        let first: Arc<str> = Arc::from("first");
        let second: Arc<str> = Arc::from("second");
        let mut attrs = StackAttrs::<2>::new();
        attrs.push(KeyValue::new(
            "k",
            opentelemetry::StringValue::from(first.clone()),
        ));
        assert_eq!(Arc::strong_count(&first), 2);
        attrs.truncate(0);
        attrs.push(KeyValue::new(
            "k",
            opentelemetry::StringValue::from(second.clone()),
        ));
        assert_eq!(
            Arc::strong_count(&first),
            1,
            "the overwritten attribute is dropped"
        );
        assert_eq!(Arc::strong_count(&second), 2);
        drop(attrs);
        assert_eq!(
            Arc::strong_count(&second),
            1,
            "the list drops what it holds"
        );
    }
}
