// The page-side test harness of Atelier, served at /serve/js/harness.js.
//
// A test page imports it FIRST, before any app module, in its own module script
// or as the first import of its only one:
//
//   <script type="module">
//   import { test, done, assert, assertEq } from '/serve/js/harness.js';
//   test('adds', async () => { assertEq(1 + 1, 2); });
//   done();
//   </script>
//
// Why first: importing the harness installs the error listeners and replaces the
// global `Worker` constructor with a subclass that reports worker errors. Workers
// created before that are not watched. (Static imports of one module script are
// evaluated in order, so list the harness first; a failed import of any module
// stops the whole graph, harness included, and the driver then reports "no hello".)
//
// Reports go to POST /__atelier/report as JSON, one request at a time, in order:
//   {kind:'hello', page, timeoutMs}        when this module loads
//   {kind:'plan', page, tests:[names]}     when done() starts
//   {kind:'result', page, name, ok, error?, ms}   per test
//   {kind:'done', page, passed, failed}    after the last test
//   {kind:'error', page, message}          uncaught error, unhandled rejection, worker error
//   {kind:'log', page, line}               log(line): printed verbatim by the driver
//   {kind:'data', page, name, json}        data(name, obj): saved by the driver
// `page` is location.pathname.

const REPORT_URL = '/__atelier/report';
const DEFAULT_TEST_TIMEOUT_MS = 20000;
const page = location.pathname;

let chain = Promise.resolve();

/** Sends one report; reports are delivered in the order they were sent. */
function send(report) {
  const body = JSON.stringify({ kind: report.kind, page, ...report });
  chain = chain.then(async () => {
    try {
      const res = await fetch(REPORT_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (!res.ok) console.error(`atelier harness: report rejected (${res.status}): ${await res.text()}`);
    } catch (e) {
      console.error(`atelier harness: cannot send a report (${e}); is the page served by atelier-serve?`);
    }
  });
  return chain;
}

/** A readable description of a thrown value, with its stack when there is one. */
function describeError(e) {
  if (e instanceof Error || (e && typeof e === 'object' && 'message' in e)) {
    const head = `${e.name || 'Error'}: ${e.message}`;
    const stack = typeof e.stack === 'string' ? e.stack : '';
    // V8 stacks start with "Name: message"; don't print it twice.
    const rest = stack.startsWith(head) ? stack.slice(head.length) : stack ? `\n${stack}` : '';
    return (head + rest).trim();
  }
  return `thrown non-Error value: ${fmt(e)}`;
}

// ---------------------------------------------------------------------------
// Page errors and worker errors

window.addEventListener('error', (ev) => {
  const where = ev.filename ? ` (${ev.filename}:${ev.lineno}:${ev.colno})` : '';
  const message = ev.error !== undefined && ev.error !== null ? describeError(ev.error) : ev.message;
  send({ kind: 'error', message: `uncaught error${where}: ${message}` });
});

window.addEventListener('unhandledrejection', (ev) => {
  send({ kind: 'error', message: `unhandled rejection: ${describeError(ev.reason)}` });
});

let workerErrorsExpected = false;

/**
 * Call with `true` in a page whose tests make workers fail on purpose (crash tests):
 * worker `error` and `messageerror` events are then not reported as page errors.
 */
export function expectWorkerErrors(expected = true) {
  workerErrorsExpected = !!expected;
}

const NativeWorker = globalThis.Worker;
if (typeof NativeWorker === 'function') {
  // Same name as the native constructor, so `new Worker(...)` in app code is watched.
  const Worker = class Worker extends NativeWorker {
    constructor(url, options) {
      super(url, options);
      const name = options && options.name ? ` "${options.name}"` : '';
      const label = `worker${name} ${String(url)}`;
      this.addEventListener('error', (ev) => {
        if (workerErrorsExpected) return;
        const where = ev.filename ? ` (${ev.filename}:${ev.lineno}:${ev.colno})` : '';
        const what = ev.message || 'the worker script failed to load or threw (no message: check the console and the 404s)';
        send({ kind: 'error', message: `${label}: error event${where}: ${what}` });
      });
      this.addEventListener('messageerror', () => {
        if (workerErrorsExpected) return;
        send({ kind: 'error', message: `${label}: messageerror (a message could not be deserialized)` });
      });
    }
  };
  Object.defineProperty(globalThis, 'Worker', {
    value: Worker,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

// ---------------------------------------------------------------------------
// Hello: tells the driver this page's time budget.

{
  const meta = document.querySelector('meta[name="atelier-timeout-ms"]');
  const ms = meta ? Number(meta.getAttribute('content')) : NaN;
  send({ kind: 'hello', timeoutMs: Number.isFinite(ms) && ms > 0 ? ms : null });
}

// ---------------------------------------------------------------------------
// Tests

const tests = [];
let started = false;

/**
 * Registers a test. `fn` may be async; it fails by throwing (or rejecting).
 * `options.timeoutMs` (default 20000) bounds its run.
 */
export function test(name, fn, options = {}) {
  if (started) throw new Error(`test(${JSON.stringify(name)}) called after done(): register every test before calling done()`);
  if (typeof fn !== 'function') throw new TypeError(`test(${JSON.stringify(name)}): the second argument must be a function`);
  if (tests.some((t) => t.name === name)) throw new Error(`test name ${JSON.stringify(name)} is used twice on this page: give each test its own name`);
  tests.push({ name: String(name), fn, timeoutMs: options.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS });
}

function withTimeout(promise, ms, name) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`test ${JSON.stringify(name)} timed out after ${ms} ms (raise it with test(name, fn, {timeoutMs}))`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs the registered tests in order, reporting each as it finishes, then reports
 * `done`. Resolves to `{passed, failed}` once every report has been delivered.
 */
export async function done() {
  if (started) throw new Error('done() called twice: call it once, after registering every test');
  started = true;
  send({ kind: 'plan', tests: tests.map((t) => t.name) });
  let passed = 0;
  let failed = 0;
  for (const t of tests) {
    const t0 = performance.now();
    let error;
    try {
      await withTimeout(Promise.resolve().then(() => t.fn()), t.timeoutMs, t.name);
    } catch (e) {
      error = describeError(e);
    }
    const ms = Math.round((performance.now() - t0) * 1000) / 1000;
    if (error === undefined) {
      passed++;
      console.log(`ok   ${t.name} (${ms} ms)`);
      send({ kind: 'result', name: t.name, ok: true, ms });
    } else {
      failed++;
      console.error(`FAIL ${t.name}: ${error}`);
      send({ kind: 'result', name: t.name, ok: false, error, ms });
    }
  }
  await send({ kind: 'done', passed, failed });
  return { passed, failed };
}

/** Prints `line` verbatim in the driver's output (benchmark tables). */
export function log(line) {
  console.log(String(line));
  return send({ kind: 'log', line: String(line) });
}

/** Has the driver save `obj` (JSON-serializable) as target/bench/<name>.json. */
export function data(name, obj) {
  return send({ kind: 'data', name: String(name), json: obj });
}

// ---------------------------------------------------------------------------
// Assertions

export class AssertionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AssertionError';
  }
}

/** Throws unless `cond` is truthy. */
export function assert(cond, msg = 'assertion failed') {
  if (!cond) throw new AssertionError(msg);
}

/** A short, unambiguous rendering of a value for messages. */
export function fmt(v, depth = 0) {
  if (Object.is(v, -0)) return '-0';
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function') return String(v);
  if (v === null || typeof v !== 'object') return String(v);
  if (depth > 2) return tagOf(v);
  const tag = tagOf(v);
  try {
    if (Array.isArray(v)) {
      const items = [];
      for (let i = 0; i < Math.min(v.length, 10); i++) items.push(i in v ? fmt(v[i], depth + 1) : '<hole>');
      return `[${items.join(', ')}${v.length > 10 ? `, … (${v.length})` : ''}]`;
    }
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const items = Array.from(v.subarray(0, 10), (x) => fmt(x));
      return `${v.constructor.name}(${v.length}) [${items.join(', ')}${v.length > 10 ? ', …' : ''}]`;
    }
    if (v instanceof ArrayBuffer || tag === 'SharedArrayBuffer') return `${tag}(${v.byteLength})`;
    if (v instanceof Map) return `Map(${v.size})`;
    if (v instanceof Set) return `Set(${v.size})`;
    if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString()})`;
    if (v instanceof RegExp) return String(v);
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    const keys = Object.keys(v);
    const parts = keys.slice(0, 10).map((k) => `${k}: ${fmt(v[k], depth + 1)}`);
    return `{${parts.join(', ')}${keys.length > 10 ? ', …' : ''}}`;
  } catch {
    return tag;
  }
}

function tagOf(v) {
  return Object.prototype.toString.call(v).slice(8, -1);
}

function bytesOf(v) {
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(v);
}

/**
 * Structural difference between two structured-clone values, or null when equal.
 * Returns `{path, why}`.
 */
export function diff(a, b, path = '$', seen = new Map()) {
  if (Object.is(a, b)) return null;
  const ta = typeof a;
  if (ta !== typeof b || ta !== 'object' || a === null || b === null) {
    return { path, why: `expected ${fmt(b)}, got ${fmt(a)}` };
  }
  // Cycles: a pair already under comparison counts as equal.
  if (seen.get(a) === b) return null;
  seen.set(a, b);
  const tag = tagOf(a);
  if (tag !== tagOf(b)) return { path, why: `expected a ${tagOf(b)}, got a ${tag}` };

  if (tag === 'ArrayBuffer' || tag === 'SharedArrayBuffer' || tag === 'DataView') {
    const x = bytesOf(a);
    const y = bytesOf(b);
    if (x.length !== y.length) return { path, why: `expected byteLength ${y.length}, got ${x.length}` };
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== y[i]) return { path: `${path}[byte ${i}]`, why: `expected ${y[i]}, got ${x[i]}` };
    }
    return null;
  }
  if (ArrayBuffer.isView(a)) {
    // Typed arrays: same type (the tag says so), same length, same elements (Object.is).
    if (a.length !== b.length) return { path, why: `expected length ${b.length}, got ${a.length}` };
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) return { path: `${path}[${i}]`, why: `expected ${fmt(b[i])}, got ${fmt(a[i])}` };
    }
    return null;
  }
  if (tag === 'Date') {
    return Object.is(a.getTime(), b.getTime()) ? null : { path, why: `expected ${fmt(b)}, got ${fmt(a)}` };
  }
  if (tag === 'RegExp') {
    return a.source === b.source && a.flags === b.flags ? null : { path, why: `expected ${b}, got ${a}` };
  }
  if (tag === 'Number' || tag === 'String' || tag === 'Boolean' || tag === 'BigInt' || tag === 'Symbol') {
    const x = a.valueOf();
    const y = b.valueOf();
    return Object.is(x, y) ? null : { path, why: `expected boxed ${fmt(y)}, got boxed ${fmt(x)}` };
  }
  if (tag === 'Error') {
    if (a.name !== b.name) return { path: `${path}.name`, why: `expected ${fmt(b.name)}, got ${fmt(a.name)}` };
    if (a.message !== b.message) return { path: `${path}.message`, why: `expected ${fmt(b.message)}, got ${fmt(a.message)}` };
  }
  if (tag === 'Map') {
    if (a.size !== b.size) return { path, why: `expected a Map of size ${b.size}, got size ${a.size}` };
    const unmatched = [...b.keys()].filter((k) => typeof k === 'object' && k !== null);
    for (const [k, va] of a) {
      let kb = k;
      if (!b.has(k)) {
        const i = typeof k === 'object' && k !== null ? unmatched.findIndex((c) => diff(k, c, path, new Map(seen)) === null) : -1;
        if (i < 0) return { path: `${path}.get(${fmt(k)})`, why: 'key missing from the expected Map' };
        kb = unmatched.splice(i, 1)[0];
      }
      const d = diff(va, b.get(kb), `${path}.get(${fmt(k)})`, seen);
      if (d) return d;
    }
    return null;
  }
  if (tag === 'Set') {
    if (a.size !== b.size) return { path, why: `expected a Set of size ${b.size}, got size ${a.size}` };
    const unmatched = [...b].filter((k) => typeof k === 'object' && k !== null);
    for (const v of a) {
      if (b.has(v)) continue;
      const i = typeof v === 'object' && v !== null ? unmatched.findIndex((c) => diff(v, c, path, new Map(seen)) === null) : -1;
      if (i < 0) return { path, why: `expected Set lacks ${fmt(v)}` };
      unmatched.splice(i, 1);
    }
    return null;
  }
  if (Array.isArray(a) && a.length !== b.length) {
    return { path, why: `expected length ${b.length}, got ${a.length}` };
  }
  // Arrays (holes count: Object.keys skips them) and plain objects.
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const setB = new Set(kb);
  for (const k of ka) {
    if (!setB.has(k)) {
      const hole = Array.isArray(a) ? ' (the expected array has a hole there)' : '';
      return { path: `${path}.${k}`, why: `unexpected property with ${fmt(a[k])}${hole}` };
    }
  }
  if (ka.length !== kb.length) {
    const setA = new Set(ka);
    const k = kb.find((x) => !setA.has(x));
    const hole = Array.isArray(a) ? ' (a hole in the actual array)' : '';
    return { path: `${path}.${k}`, why: `missing property, expected ${fmt(b[k])}${hole}` };
  }
  for (const k of ka) {
    const d = diff(a[k], b[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`, seen);
    if (d) return d;
  }
  return null;
}

/**
 * Deep equality for structured-clone values: NaN equals NaN, -0 differs from +0
 * (Object.is), typed arrays by type and contents, ArrayBuffer/DataView by bytes,
 * Map, Set, Date, RegExp, boxed primitives, Error name+message, nested objects and
 * arrays (holes differ from undefined), cycles.
 */
export function assertEq(actual, expected, msg) {
  const d = diff(actual, expected);
  if (d) {
    const prefix = msg ? `${msg}: ` : '';
    throw new AssertionError(`${prefix}assertEq failed at ${d.path}: ${d.why}`);
  }
}

/**
 * Awaits `promiseOrFn` (a promise, or a function returning one) and throws unless it
 * rejects; checks the rejection's `name` and that its message includes
 * `messageIncludes` when given. Resolves to the rejection reason.
 */
export async function assertRejects(promiseOrFn, { name, messageIncludes } = {}) {
  let reason;
  let rejected = false;
  try {
    const value = await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
    reason = value;
  } catch (e) {
    rejected = true;
    reason = e;
  }
  if (!rejected) throw new AssertionError(`expected a rejection, but it resolved with ${fmt(reason)}`);
  if (name !== undefined && (!reason || reason.name !== name)) {
    throw new AssertionError(`expected a rejection named ${fmt(name)}, got ${describeError(reason)}`);
  }
  if (messageIncludes !== undefined) {
    const message = reason && typeof reason.message === 'string' ? reason.message : String(reason);
    if (!message.includes(messageIncludes)) {
      throw new AssertionError(`expected the rejection message to include ${fmt(messageIncludes)}, got ${fmt(message)}`);
    }
  }
  return reason;
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export async function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
