//! Atelier: a task runtime for Web Workers whose calls travel through shared memory.
//!
//! The JS API (`createTaskRuntime`, `defineTask`, `createTaskWorker`) lives in `src/js/`
//! and `workers/js/`; this crate holds the controller ([`core`]) and, on wasm32, the
//! bindings that the JS glue calls (`wasm`).

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
compile_error!(
    "atelier needs wasm threads: build for wasm32 with `-C target-feature=+atomics,+bulk-memory` \
     and `-Z build-std=panic_abort,std` (the flags in .cargo/config.toml; `cargo atelier build` \
     passes the rest)"
);

pub mod core;

#[cfg(target_arch = "wasm32")]
mod wasm;
