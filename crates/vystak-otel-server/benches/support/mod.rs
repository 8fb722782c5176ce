//! What the server benches share: the common harness, the hand-written minimal layer and the
//! do-nothing wrapping layer (the peers measured next to ours).

pub(crate) mod common;
pub(crate) mod minimal;
pub(crate) mod wrapper;
