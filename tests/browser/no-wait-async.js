// Imported first by the test pages and their workers: with `?nowaitasync` in the page's (or
// the worker script's) URL it deletes Atomics.waitAsync before the package loads, as on a
// browser without it (Firefox ESR 140), so the suite also runs on the doorbell fallback.
// The browser stage of `cargo atelier test` runs every page that imports this file twice.
const search = (globalThis.location && globalThis.location.search) || '';
export const noWaitAsync = new URLSearchParams(search).has('nowaitasync');
if (noWaitAsync) delete Atomics.waitAsync;
