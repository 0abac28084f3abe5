//! The wasm-bindgen layer the page's JS glue calls ([`main`]). Workers do not instantiate
//! the module: they run the worker side of the protocol in JS over the shared memory
//! (`workers/js/worker.js`), so no worker ever takes the allocator's lock or owns a thread
//! stack in this memory.

mod heap;
mod main;

use wasm_bindgen::prelude::*;

/// The module's shared `WebAssembly.Memory`, for the JS glue's views and for the workers'
/// start-up handshake.
#[wasm_bindgen(js_name = sharedMemory)]
pub fn shared_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// [`atelier_ring::layout::fingerprint`]: the JS glue compares it with `layout.js`'s.
#[wasm_bindgen(js_name = layoutFingerprint)]
pub fn layout_fingerprint() -> u32 {
    atelier_ring::layout::fingerprint()
}

/// An address as JS sees it.
fn addr<T>(p: *const T) -> u32 {
    p as usize as u32
}
