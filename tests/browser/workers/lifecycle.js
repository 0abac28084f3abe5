// The Core v2 suite's worker: echoes, crashes on request, reports its attempt, holds calls.
import '/tests/browser/no-wait-async.js';
import { createTaskWorker } from '/pkg/worker.js';

const me = `${Math.random().toString(36).slice(2)}-${Date.now()}`;

function spin(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: a CPU-bound handler
  }
}

// A message from the test page makes this worker throw from its event loop: a crash that
// lands between (or, for async handlers, during) calls.
self.addEventListener('message', (event) => {
  if (event.data === 'die') throw new Error('told to die');
});

createTaskWorker({
  echo(value) {
    return value;
  },
  whoami() {
    return me;
  },
  attempt(ms, ctx) {
    spin(ms);
    return ctx.attempt;
  },
  spin(ms) {
    spin(ms);
    return me;
  },
  async sleep(ms, value) {
    await new Promise((r) => setTimeout(r, ms));
    return value;
  },
  // Crashes the worker from a timer while the call is running: an uncaught error.
  crash() {
    setTimeout(() => {
      throw new Error('boom from a timer');
    }, 0);
    return new Promise(() => {});
  },
  bytes(n, fill) {
    return new Uint8Array(n).fill(fill);
  },
  sum(bytes) {
    let s = 0;
    for (let i = 0; i < bytes.length; i += 4096) s += bytes[i];
    return [bytes.length, s];
  },
});
