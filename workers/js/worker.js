// The worker entry of the Atelier package. A worker script is:
//
//   import { createTaskWorker } from '/pkg/worker.js';
//   createTaskWorker({
//     resize(bytes, size, ctx) { ...; return smaller; },
//   });
//
// and nothing else: no message handling. After the one-time start-up handshake
// (protocol.js) the worker pulls calls from its task's ring in shared memory, runs the
// handler, writes the result back and publishes it; idle, it spins briefly and then sleeps
// on the task's doorbell with Atomics.waitAsync, so its event loop stays free for handlers
// that await.
import init, { WorkerCore } from './atelier_wasm.js';
import * as L from './layout.js';
import { Writer, Reader, encode, decodeArgs } from './codec.js';
import { MSG_HELLO, MSG_INIT, MSG_READY, MSG_FAIL, protocolType } from './protocol.js';
import { Views } from './views.js';

/**
 * How long an idle worker spins on the ring before it sleeps: long enough to catch the
 * next call of a caller that awaits each one. Only when the machine has a core to spare
 * beyond the pool; otherwise spinning workers take the page's core, and they barely spin.
 */
const SPIN_MS = 0.1;
const SPIN_MS_NO_SPARE_CORE = 0.01;
/** How long a sleeping worker waits before it beats its heartbeat and sleeps again. */
const PARK_MS = 500;

let started = false;

/**
 * Runs this worker as one of a task's workers, with `handlers` as its methods. Each handler
 * gets the call's arguments and then a TaskContext `{ signal, key, callId, throwIfAborted }`.
 * May be called late (after top-level awaits), but once.
 */
export function createTaskWorker(handlers) {
  if (handlers === null || typeof handlers !== 'object') {
    throw new TypeError('createTaskWorker(handlers): handlers must be an object whose methods are the task methods, e.g. { resize(img, size, ctx) { ... } }');
  }
  if (started) throw new Error('createTaskWorker() was called twice in one worker; call it once with all handlers');
  started = true;
  const onMessage = (event) => {
    if (protocolType(event.data) !== MSG_INIT) return;
    self.removeEventListener('message', onMessage);
    attach(event.data, handlers).catch((error) => {
      self.postMessage({ __atelier: MSG_FAIL, error: { name: error && error.name, message: String(error && error.message) } });
    });
  };
  self.addEventListener('message', onMessage);
  self.postMessage({ __atelier: MSG_HELLO });
}

async function attach(msg, handlers) {
  await init({ module_or_path: msg.module, memory: msg.memory });
  if (msg.layout !== L.LAYOUT_FINGERPRINT) {
    throw new Error('the page and the worker load different builds of Atelier: import the worker entry from the same package as the page');
  }
  const core = new WorkerCore(msg.task, msg.index);
  const cores = (self.navigator && navigator.hardwareConcurrency) || 1;
  const spinMs = cores > (msg.poolSize || 1) ? SPIN_MS : SPIN_MS_NO_SPARE_CORE;
  const loop = new PullLoop(core, msg.memory, handlers, msg.index, spinMs);
  self.postMessage({ __atelier: MSG_READY });
  loop.run();
}

/** Aborted calls throw this, as fetch and AbortSignal do. */
function abortError(code) {
  const why = code === L.CANCEL_TIMED_OUT ? 'The call timed out' : 'The call was aborted';
  return new DOMException(why, 'AbortError');
}

class PullLoop {
  constructor(core, memory, handlers, index, spinMs) {
    this.core = core;
    this.views = new Views(memory);
    this.handlers = handlers;
    this.index = index;
    this.spinMs = spinMs;
    this.slots = core.slotsAddr();
    this.bellWord = core.workBellAddr() >>> 2;
    this.stagingPtr = 0;
    this.stagingCap = 0;
    this.writer = new Writer((need) => this.grow(need));
    this.reader = new Reader();
  }

  grow(need) {
    const ptr = this.core.reserve(need, this.writer.length);
    if (ptr === 0) {
      this.stagingPtr = 0;
      throw new RangeError(`a result needs ${need} bytes of shared memory and the memory is full: return large data in smaller pieces`);
    }
    this.stagingPtr = ptr;
    this.stagingCap = this.core.stagingCap();
    return { u8: this.views.cover(ptr + this.stagingCap).u8, start: ptr, cap: this.stagingCap };
  }

  async run() {
    const core = this.core;
    for (;;) {
      let slot = core.take();
      if (slot < 0) slot = this.spin();
      if (slot < 0) slot = await this.park();
      if (slot === -2) throw new Error(`the work ring of this task is corrupt in shared memory; worker ${this.index} stops`);
      if (slot >= 0) {
        const pending = this.runCall(slot);
        if (pending !== undefined) await pending;
      }
    }
  }

  /** Spins on the ring for a moment; returns a slot or -1. */
  spin() {
    const core = this.core;
    const until = performance.now() + this.spinMs;
    do {
      const slot = core.take();
      if (slot !== -1) return slot;
    } while (performance.now() < until);
    return -1;
  }

  /** Sleeps on the task's doorbell until work is published; returns a slot, -1 or -2. */
  async park() {
    const core = this.core;
    const seqWord = this.bellWord + (L.BELL_SEQ >>> 2);
    const sleepersWord = this.bellWord + (L.BELL_SLEEPERS >>> 2);
    // The cell says PARKED until `take` finds a call and marks the worker busy.
    core.setParked(true);
    const i32 = this.views.i32;
    for (;;) {
      // The doorbell protocol (ring/src/doorbell.rs): read seq, count ourselves in, look
      // once more, then wait only while seq is unchanged.
      const seen = Atomics.load(i32, seqWord);
      Atomics.add(i32, sleepersWord, 1);
      let slot;
      try {
        slot = core.take();
        if (slot !== -1) return slot;
        const r = Atomics.waitAsync(i32, seqWord, seen, PARK_MS);
        if (r.async) await r.value;
      } finally {
        Atomics.sub(i32, sleepersWord, 1);
      }
      core.beat();
      slot = core.take();
      if (slot !== -1) return slot;
    }
  }

  /** Runs the call in `slot`; returns a promise when the handler is async. */
  runCall(slot) {
    const base = this.slots + slot * L.SLOT_SIZE;
    const u32 = this.views.u32;
    const w = base >>> 2;
    const callId = u32[w + (L.SLOT_CALL_ID >>> 2)];
    const argPtr = u32[w + (L.SLOT_ARG_PTR >>> 2)];
    const argLen = u32[w + (L.SLOT_ARG_LEN >>> 2)];
    let method;
    let result;
    try {
      const at = argPtr === L.INLINE_PTR ? base + L.SLOT_INLINE : argPtr;
      this.reader.reset(this.views.cover(at + argLen).u8, at, argLen);
      const call = decodeArgs(this.reader);
      method = call.method;
      const handler = this.handlers[method];
      if (typeof handler !== 'function' || handler === Object.prototype[method]) {
        const known = Object.keys(this.handlers).filter((k) => typeof this.handlers[k] === 'function');
        throw new TypeError(`unknown method "${method}": this worker's handlers are ${known.map((k) => `"${k}"`).join(', ') || '(none)'}`);
      }
      const args = call.args;
      args.push(new TaskContext(this, base, callId));
      result = handler.apply(this.handlers, args);
    } catch (error) {
      this.finish(slot, L.STATUS_THREW, error, method);
      return undefined;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      return Promise.resolve(result).then(
        (value) => this.finish(slot, L.STATUS_OK, value, method),
        (error) => this.finish(slot, L.STATUS_THREW, error, method),
      );
    }
    this.finish(slot, L.STATUS_OK, result, method);
    return undefined;
  }

  /** Encodes `value` as the call's result and publishes it. */
  finish(slot, status, value, method) {
    const writer = this.writer;
    try {
      this.encodeResult(value);
    } catch (error) {
      // The result (or thrown value) cannot be sent: the call fails with why.
      const what = status === L.STATUS_OK ? 'result' : 'thrown value';
      status = L.STATUS_THREW;
      const e = error && error.name === 'DataCloneError'
        ? new DOMException(`the ${what} of ${method}() cannot be sent back: ${error.message}`, 'DataCloneError')
        : error;
      this.encodeResult(e);
    }
    if (this.core.complete(slot, status, writer.length)) this.stagingPtr = 0;
  }

  encodeResult(value) {
    if (this.stagingPtr === 0) this.grow(256);
    this.writer.reset(this.views.u8, this.stagingPtr, this.stagingCap);
    encode(value, this.writer);
  }
}

/** The last argument of every handler. */
class TaskContext {
  constructor(loop, base, callId) {
    this._loop = loop;
    this._cancelWord = (base + L.SLOT_CANCEL) >>> 2;
    this._controller = null;
    this.callId = String(callId);
    this.key = undefined;
  }

  /** Aborts when the call is cancelled or times out; reads the flag in shared memory. */
  get signal() {
    if (this._controller === null) {
      const controller = new AbortController();
      const ctx = this;
      Object.defineProperty(controller.signal, 'aborted', {
        get() {
          const code = ctx._code();
          if (code !== L.CANCEL_NONE && !controller.signal.reason) controller.abort(abortError(code));
          return code !== L.CANCEL_NONE;
        },
      });
      this._controller = controller;
    }
    return this._controller.signal;
  }

  _code() {
    return Atomics.load(this._loop.views.i32, this._cancelWord);
  }

  /** Beats the heartbeat and throws an AbortError when the call was cancelled. */
  throwIfAborted() {
    this._loop.core.beat();
    const code = this._code();
    if (code !== L.CANCEL_NONE) throw abortError(code);
  }
}
