//! Atomics used by the ring, swapped for loom's under `--cfg loom` so the same code is
//! model-checked (the tokio habit).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, Ordering};
