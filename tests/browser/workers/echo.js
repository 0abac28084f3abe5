// The test suite's worker: echoes values, throws on request, reports who it is.
import '/tests/browser/no-wait-async.js';
import { counts } from './counting.js';
import { createTaskWorker } from '/pkg/worker.js';

const me = `${Math.random().toString(36).slice(2)}-${Date.now()}`;

class CustomError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CustomError';
  }
}

function spin(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: a CPU-bound handler
  }
}

// A buffer the worker keeps between calls (see keeper()).
let kept = null;

createTaskWorker({
  /** Returns the buffer it keeps (making one when it has none or it was detached), and the
   * size it had before this call. */
  keeper(n) {
    const before = kept === null ? -1 : kept.byteLength;
    if (kept === null || kept.byteLength === 0) kept = new Uint8Array(n);
    return { before, data: kept };
  },
  echo(value) {
    return value;
  },
  echoMany(...args) {
    return args.slice(0, -1); // drop the TaskContext
  },
  noop() {},
  add(a, b) {
    return a + b;
  },
  whoami(ms) {
    spin(ms);
    return me;
  },
  async later(value, ms) {
    await new Promise((r) => setTimeout(r, ms));
    return value;
  },
  ctxInfo(ctx) {
    return { callId: ctx.callId, hasSignal: ctx.signal instanceof AbortSignal, aborted: ctx.signal.aborted };
  },
  throwIt(kind, message) {
    if (kind === 'TypeError') throw new TypeError(message);
    if (kind === 'RangeError') throw new RangeError(message);
    if (kind === 'custom') throw new CustomError(message);
    if (kind === 'string') throw message;
    if (kind === 'cause') throw new Error(message, { cause: { code: 42 } });
    throw new Error(message);
  },
  async rejectIt(message) {
    await null;
    throw new SyntaxError(message);
  },
  returnFunction() {
    return () => 1;
  },
  /** Which worker this is, and how many postMessage calls it has made. */
  postCount() {
    return [me, counts.post];
  },
});
