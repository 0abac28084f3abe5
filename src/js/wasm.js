// Loads the runtime's wasm module once per thread of the page: compiles it, instantiates it
// on a fresh shared memory, and checks that its layout matches layout.js. Workers receive
// the compiled module and the memory in their start-up handshake (see workers/js/worker.js).
import init, * as bindings from './atelier_wasm.js';
import { LAYOUT_FINGERPRINT } from './layout.js';

/** Whether the page can use shared memory at all. */
export const isolated = globalThis.crossOriginIsolated === true;

/** The compiled module (sent to workers) and the shared memory, once loaded. */
export let wasmModule = null;
export let wasmMemory = null;

async function compile(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`Atelier could not load its wasm module from ${url} (HTTP ${response.status}): serve the package's files next to index.js`);
  }
  if (WebAssembly.compileStreaming && (response.headers.get('content-type') || '').startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

if (isolated) {
  wasmModule = await compile(new URL('./atelier_wasm_bg.wasm', import.meta.url));
  await init({ module_or_path: wasmModule });
  wasmMemory = bindings.sharedMemory();
  checkLayout();
}

/** Throws when the wasm module and layout.js come from different builds. */
export function checkLayout() {
  const got = bindings.layoutFingerprint();
  if (got !== LAYOUT_FINGERPRINT) {
    throw new Error(
      `Atelier's wasm module (layout ${got}) and its JS glue (layout ${LAYOUT_FINGERPRINT}) come from different builds: rebuild the package with \`cargo atelier build\``,
    );
  }
}

export { bindings };
