//! The shared-memory layer of the Atelier task runtime: the layout of every word that the
//! controller, the workers and the JS glue share ([`layout`]), the lock-free [`Ring`] that
//! carries slot indices between them, and the doorbell protocol that lets idle threads
//! sleep without losing a wake-up ([`doorbell`]).
//!
//! Everything here is plain Rust over atomics: it is tested natively, model-checked with
//! loom (`RUSTFLAGS="--cfg loom" cargo test -p atelier-ring --test loom --release`) and run
//! under miri (`cargo +nightly miri test -p atelier-ring`).
#![cfg_attr(not(feature = "std"), no_std)]
// `memory.atomic.notify` is still unstable in core::arch; the wasm build already runs with
// `-Z build-std` (RUSTC_BOOTSTRAP=1), and native builds never see this.
#![cfg_attr(
    all(target_arch = "wasm32", target_feature = "atomics"),
    feature(stdarch_wasm_atomic_wait)
)]
#![warn(missing_docs)]

extern crate alloc;

pub mod addr;
mod block;
pub mod doorbell;
#[cfg(feature = "std")]
mod heap;
pub mod layout;
mod ring;
mod sync;

pub use block::{TaskBlock, TASK_MAGIC};
#[cfg(feature = "std")]
pub use heap::{reserve_staging, ForeignBuffer, HeapBuf, MAX_HEAP_BYTES, STAGING_DEFAULT};
pub use layout::{Doorbell, Slot, WorkerCell};
pub use ring::{CapacityError, PopError, PushError, Ring, MAX_CAPACITY};
