// isolate-sw.js: cross-origin isolation for hosts that cannot send headers (GitHub Pages and
// the like). One file, two roles:
//
// - In the page, as its first classic script, `<script src="/isolate-sw.js"></script>`: when
//   the page is not cross-origin isolated, it registers this same file as a service worker
//   and reloads the page once that worker controls it.
// - As that service worker, it adds `Cross-Origin-Opener-Policy: same-origin`,
//   `Cross-Origin-Embedder-Policy: require-corp` and (on same-origin responses)
//   `Cross-Origin-Resource-Policy: same-origin` to every response it passes on, so the
//   reloaded page, its scripts, its workers and the wasm module come back isolated.
//
// Serve it from the directory of the pages it must isolate, or above (the site's root): a
// service worker controls only pages at or below its own URL's directory. The page needs a
// secure context (https, or http://localhost / 127.0.0.1).
//
// The page can read `globalThis.atelierIsolation`: `{ state, reloads, reason }`, with `state`
// one of 'isolated' (nothing to do, or done), 'reloading' (the worker is being installed; the
// page reloads by itself), 'failed' (`reason` says why; no further reload is tried).
(() => {
  /** Counts this tab's reloads, so that a browser that will not isolate is not reloaded for ever. */
  const KEY = 'atelier-isolate-sw:reloads';
  /** Reloads tried before giving up: one for the first install, one for a page that was not controlled after a forced reload. */
  const MAX_RELOADS = 2;

  if (typeof window === 'undefined') {
    // The service worker.
    self.addEventListener('install', () => self.skipWaiting());
    self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
    self.addEventListener('fetch', (event) => {
      const request = event.request;
      // Chromium throws on such a fetch made from a service worker; let the browser do it.
      if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
      event.respondWith(isolated(request));
    });
    return;
  }

  /** The response to `request`, with the isolation headers added where the response can carry them. */
  async function isolated(request) {
    const response = await fetch(request);
    // An opaque response (a cross-origin no-cors fetch) cannot be read or rewritten: it
    // loads under require-corp only if its server sends Cross-Origin-Resource-Policy.
    if (response.status === 0 || response.type === 'opaque' || response.type === 'opaqueredirect') {
      return response;
    }
    const headers = new Headers(response.headers);
    headers.set('Cross-Origin-Opener-Policy', 'same-origin');
    headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
    const sameOrigin = new URL(response.url || request.url).origin === self.location.origin;
    if (sameOrigin && !headers.has('Cross-Origin-Resource-Policy')) {
      headers.set('Cross-Origin-Resource-Policy', 'same-origin');
    }
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }

  // The page.
  const status = { state: 'isolated', reloads: 0, reason: '' };
  globalThis.atelierIsolation = status;
  let store = null;
  try {
    store = window.sessionStorage;
  } catch {
    // Storage refused (a sandboxed frame): reloads are not counted, so none is tried.
  }
  status.reloads = Number(store?.getItem(KEY) ?? 0) || 0;
  const fail = (reason) => {
    status.state = 'failed';
    status.reason = `atelier isolate-sw: ${reason}`;
    store?.removeItem(KEY);
    console.error(status.reason);
  };
  if (window.crossOriginIsolated) {
    store?.removeItem(KEY);
    return;
  }
  if (!window.isSecureContext) {
    fail('the page is not a secure context (serve it over https, or from localhost), so no service worker can isolate it');
    return;
  }
  if (!('serviceWorker' in navigator)) {
    fail('this browser has no service workers here (a private window may turn them off), so the page cannot be isolated without server headers');
    return;
  }
  if (!store) {
    fail('sessionStorage is not available, so the page is not reloaded (a reload loop could not be ruled out)');
    return;
  }
  if (status.reloads >= MAX_RELOADS) {
    fail(`the page is still not cross-origin isolated after ${status.reloads} reloads under the service worker (does the browser support COOP/COEP?)`);
    return;
  }
  const script = document.currentScript && document.currentScript.src;
  if (!script) {
    fail('load this file with a classic <script src>, not as a module or inline, so it knows its own URL');
    return;
  }
  status.state = 'reloading';
  const reload = () => {
    store.setItem(KEY, String(status.reloads + 1));
    window.location.reload();
  };
  navigator.serviceWorker.register(script).then(
    (registration) => {
      if (navigator.serviceWorker.controller) {
        // Controlled, yet not isolated: the worker was installed by another page, or this
        // page was loaded around it (a forced reload). A normal reload goes through it.
        reload();
        return;
      }
      navigator.serviceWorker.addEventListener('controllerchange', reload, { once: true });
      // A worker already active that has not claimed this page (it claims on activation only).
      if (registration.active && !registration.installing && !registration.waiting) reload();
    },
    (error) => fail(`registering ${script} as a service worker failed: ${error && error.message ? error.message : error}`),
  );
})();
