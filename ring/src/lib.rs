//! The shared-memory layer of the Atelier task runtime: the layout of every word that the
//! page, the workers and the JS glue share ([`layout`]), the call slots' state machine, the
//! work queue that workers take calls from ([`WorkQueue`]), the workers' completion rings
//! ([`spsc`]), their result arenas ([`arena`]), and the doorbell protocol that lets idle
//! threads sleep without losing a wake-up ([`doorbell`]).
//!
//! Nothing here takes a lock or waits for another participant: any worker may be
//! terminated at any instruction, and the page must never be left waiting for it.
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
pub mod arena;
mod block;
pub mod doorbell;
#[cfg(feature = "std")]
mod heap;
pub mod layout;
pub mod spsc;
mod sync;
mod work;

pub use block::{ShapeError, TaskBlock, TASK_MAGIC};
#[cfg(feature = "std")]
pub use heap::{HeapBuf, MAX_HEAP_BYTES, STAGING_DEFAULT};
pub use layout::{Doorbell, Slot, WorkerCell};
pub use spsc::{Consumer, Producer, SpscPopError, SpscPushError, SpscRing, SpscWords};
pub use work::{CapacityError, PushError, TakeError, WorkQueue, MAX_CAPACITY};
