// The worker entry of the Atelier package. A worker script is:
//
//   import { createTaskWorker } from '/pkg/worker.js';
//   createTaskWorker({
//     resize(bytes, size, ctx) { ...; return smaller; },
//   });
//
// and nothing else: no message handling. After the one-time start-up handshake
// (protocol.js) the worker takes calls from its task's work queue in shared memory, runs
// the handler, writes the result into its own arena and publishes it on its completion
// ring, then takes the next pending call itself, without the page. Idle, it spins briefly
// and then sleeps on the task's doorbell with Atomics.waitAsync, so its event loop stays
// free for handlers that await.
//
// The worker does not instantiate the wasm module: everything here is plain JS over the
// shared memory (port.js), so it owns no thread stack and takes no lock in that memory, and
// it can be terminated at any instruction without leaving anything held.
import * as L from './layout.js';
import { Writer, Reader, encode, decodeArgs, detachBuffers, peekSide, isTransferable, CALL_KEEP_RESULT_BUFFERS } from './codec.js';
import {
  MSG_HELLO, MSG_INIT, MSG_READY, MSG_FAIL, MSG_FAULT, MSG_BELL, MSG_SIDE_CALL, MSG_SIDE_WANT, MSG_SIDE, MSG_SIDE_RESULT, protocolType,
} from './protocol.js';
import { Views } from './views.js';
import { Port, INFO } from './port.js';

/**
 * How long an idle worker spins on the queue before it sleeps: long enough to catch the
 * next call of a caller that awaits each one. Only when the machine has a core to spare
 * beyond the pool; otherwise spinning workers take the page's core, and they barely spin.
 */
const SPIN_MS = 0.1;
const SPIN_MS_NO_SPARE_CORE = 0.01;
/**
 * A worker running call after call without a pause yields to its event loop this often, so
 * that timers, messages and awaits in its handlers still run.
 */
const YIELD_MS = 20;
/** Calls that ran quicker than this in all read the clock less often (yieldDue). */
const CLOCK_QUICK_MS = 0.5;
/** The most calls between two readings of the clock. */
const CLOCK_EVERY_MAX = 4;

let started = false;

/**
 * Runs this worker as one of a task's workers, with `handlers` as its methods. Each handler
 * gets the call's arguments and then a TaskContext `{ signal, key, callId, attempt,
 * throwIfAborted }`. May be called late (after top-level awaits), but once.
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
    let loop;
    try {
      loop = attach(event.data, handlers);
    } catch (error) {
      self.postMessage({ __atelier: MSG_FAIL, error: { name: error && error.name, message: String(error && error.message) } });
      return;
    }
    self.postMessage({ __atelier: MSG_READY });
    loop.run().catch((error) => {
      // The run loop itself failed (a corrupt queue or ring): that is this worker's crash,
      // reported to the page, never a silent stall.
      self.postMessage({ __atelier: MSG_FAULT, error: { name: error && error.name, message: String(error && error.message) } });
    });
  };
  self.addEventListener('message', onMessage);
  self.postMessage({ __atelier: MSG_HELLO });
}

function attach(msg, handlers) {
  if (msg.protocol !== L.PROTOCOL_VERSION || msg.layout !== L.LAYOUT_FINGERPRINT) {
    throw new Error(
      `the page runs Atelier protocol ${msg.protocol} (layout ${msg.layout}) and this worker protocol ${L.PROTOCOL_VERSION} (layout ${L.LAYOUT_FINGERPRINT}): the worker script imports a different (perhaps cached) build of the package; import the worker entry from the same package as the page and reload`,
    );
  }
  const views = new Views(msg.memory);
  const info = {};
  INFO.forEach((name, i) => {
    info[name] = msg.info[i];
  });
  const port = new Port(views, info, msg.seat);
  if (typeof Atomics.waitAsync !== 'function') port.postBell = () => self.postMessage({ __atelier: MSG_BELL });
  const cores = (self.navigator && navigator.hardwareConcurrency) || 1;
  const spinMs = cores > (msg.poolSize || 1) ? SPIN_MS : SPIN_MS_NO_SPARE_CORE;
  const loop = new PullLoop(port, views, handlers, info.workBell, msg.index, spinMs);
  if (typeof msg.timeOrigin === 'number') loop.clockOffset = performance.timeOrigin - msg.timeOrigin;
  return loop;
}

/** The largest private result buffer a worker keeps for its next large result. */
const SPARE_MAX_BYTES = 8 << 20;

/** Writer.moves when a result's buffers stay with the worker. */
const NOTHING_MOVES = new Set();

/** Aborted calls throw this, as fetch and AbortSignal do. */
function abortError(code) {
  const why = code === L.CANCEL_TIMED_OUT ? 'The call timed out' : 'The call was aborted';
  return new DOMException(why, 'AbortError');
}

/**
 * Yields to the event loop (a task, so timers and messages run): `scheduler.yield()` where
 * it exists, since chained `setTimeout(0)`s are clamped to 4 ms each.
 */
function yieldToEventLoop() {
  const s = globalThis.scheduler;
  if (s && typeof s.yield === 'function') return s.yield();
  if (s && typeof s.postTask === 'function') return s.postTask(() => {});
  return new Promise((resolve) => setTimeout(resolve, 0));
}

class PullLoop {
  constructor(port, views, handlers, workBell, index, spinMs) {
    this.port = port;
    this.views = views;
    this.handlers = handlers;
    this.index = index;
    this.spinMs = spinMs;
    this.seqWord = (workBell + L.BELL_SEQ) >>> 2;
    this.sleepersWord = (workBell + L.BELL_SLEEPERS) >>> 2;
    this.writer = new Writer((need) => this.grow(need));
    this.reader = new Reader();
    // Where the result being encoded goes: an arena position, or a private buffer when it
    // outgrew the arena (it is then copied into a buffer the page grants).
    this.start = 0;
    this.private = null;
    // The last private buffer, kept for the next result that outgrows the arena.
    this.spare = null;
    this.wake = null;
    this.lastYield = performance.now();
    // The clock's reading for yieldDue: when, and how many calls until the next.
    this.clockAt = this.lastYield;
    this.clockEvery = 1;
    this.untilClock = 1;
    // Contexts of running calls whose handler asked for `ctx.signal`: their abort event
    // fires when the page sets the call's cancellation flag.
    this.watched = new Set();
    // Calls the page handed to this worker alone, with their arguments' side-lane values, in
    // the order they came: { slot, gen, values }, claimed when the quota leaves room.
    this.handed = [];
    // The side lane (protocol.js): calls waiting for their arguments' values, by token, and
    // the token of this worker's next result with values of its own (random per worker, so
    // the page can tell workers' tokens apart).
    this.sideWaits = new Map();
    // This worker's performance.now() plus this is the page's.
    this.clockOffset = 0;
    this.sideSeq = (Math.random() * 0x100000000) >>> 0;
    // Without Atomics.waitAsync an idle worker sleeps until the page's doorbell message.
    this.waitAsync = typeof Atomics.waitAsync === 'function';
    self.addEventListener('message', (event) => {
      const type = protocolType(event.data);
      if (type === MSG_SIDE_CALL) this.handedArrived(event.data);
      else if (type === MSG_SIDE) this.sideArrived(event.data);
      else if (type === MSG_BELL) this.kick();
    });
  }

  /** The page handed this worker a call, with its arguments' side-lane values. */
  handedArrived(data) {
    if (!Array.isArray(data.values) || !Number.isInteger(data.slot) || !Number.isInteger(data.gen)) return;
    this.handed.push({ slot: data.slot, gen: data.gen, values: data.values });
    this.kick();
  }

  /**
   * Claims the oldest handed call if the quota leaves room; returns it, or null. Calls the
   * page cancelled or took back meanwhile are dropped.
   */
  claimHanded() {
    while (this.handed.length > 0) {
      const h = this.handed[0];
      const slot = this.port.claimHanded(h.slot, h.gen);
      if (slot === -1) return null;
      this.handed.shift();
      if (slot >= 0) return h;
    }
    return null;
  }

  /** Asks the page for the side-lane values of the call it took. */
  fetchSide(token) {
    return new Promise((resolve, reject) => {
      this.sideWaits.set(token, { resolve, reject });
      self.postMessage({ __atelier: MSG_SIDE_WANT, token });
    });
  }

  sideArrived(data) {
    const wait = this.sideWaits.get(data.token);
    if (wait === undefined) return;
    this.sideWaits.delete(data.token);
    if (Array.isArray(data.values)) wait.resolve(data.values);
    else wait.reject(new Error(String(data.error)));
  }

  async run() {
    const port = this.port;
    for (;;) {
      const handed = this.handed.length > 0 ? this.claimHanded() : null;
      let slot = handed !== null ? handed.slot : port.take();
      if (slot === -1) {
        // Idle: the worker's event loop gets its turn now, so the busy streak starts over.
        slot = this.spin();
        if (slot === -1) slot = await this.park();
        this.lastYield = performance.now();
      }
      if (slot === -2) throw new Error(`the work queue of this task is corrupt in shared memory; worker ${this.index} stops`);
      if (slot >= 0) {
        const pending = this.runCall(slot, handed === null ? undefined : handed.values);
        if (pending !== undefined) {
          // An async handler: take more calls (up to the quota) while it awaits.
          pending.then(() => this.kick());
        }
        if (--this.untilClock <= 0 && this.yieldDue()) {
          this.checkAborts();
          await yieldToEventLoop();
          this.lastYield = performance.now();
        }
      }
    }
  }

  /**
   * Whether the loop has run for YIELD_MS since its event loop's last turn. The clock is read
   * every `clockEvery` calls: after a run of calls that took under CLOCK_QUICK_MS, twice as
   * rarely as before (up to CLOCK_EVERY_MAX calls), after a slower one at every call again.
   * A no-op call costs about a microsecond, and reading the clock was a twentieth of it. The
   * cost: after such a run, up to CLOCK_EVERY_MAX - 1 slow calls may run past YIELD_MS before
   * the loop yields.
   */
  yieldDue() {
    const now = performance.now();
    this.clockEvery = now - this.clockAt < CLOCK_QUICK_MS ? Math.min(2 * this.clockEvery, CLOCK_EVERY_MAX) : 1;
    this.untilClock = this.clockEvery;
    this.clockAt = now;
    return now - this.lastYield > YIELD_MS;
  }

  /** Fires the signal of every watched call the page has cancelled. */
  checkAborts() {
    for (const ctx of this.watched) ctx._check();
  }

  kick() {
    if (this.wake !== null) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
  }

  /**
   * Spins on the queue for a moment; returns a slot or -1. It stops early when the page posts
   * this worker a message (a handed call, side-lane values): its event loop cannot deliver
   * one while it spins, and a handed call would otherwise wait out the spin.
   */
  spin() {
    const port = this.port;
    const posts = port.posts();
    const until = performance.now() + this.spinMs;
    do {
      const slot = port.take();
      if (slot !== -1 || port.posts() !== posts) return slot;
    } while (performance.now() < until);
    return -1;
  }

  /**
   * Sleeps on the task's doorbell until work is published or a handler finished; returns a
   * slot it claimed, or -3 when a call handed to this worker can be claimed.
   */
  async park() {
    const port = this.port;
    port.setPhase(port.running > 0 ? L.WORKER_BUSY : L.WORKER_PARKED);
    port.beat();
    const i32 = this.views.i32;
    for (;;) {
      // The doorbell protocol (ring/src/doorbell.rs): read seq, count ourselves in, look
      // once more, then wait only while seq is unchanged.
      const seen = Atomics.load(i32, this.seqWord);
      Atomics.add(i32, this.sleepersWord, 1);
      let slot;
      try {
        if (this.handedReady()) return -3;
        slot = port.take();
        if (slot !== -1) return slot;
        const woken = new Promise((resolve) => {
          this.wake = resolve;
        });
        // How long it sleeps before it beats, looks at the cancellation flags of the calls
        // it runs, and sleeps again: the heartbeat periods the page's watchdog counts on.
        const parkMs = port.running > 0 ? L.BEAT_MS : L.IDLE_BEAT_MS;
        if (this.waitAsync) {
          const r = Atomics.waitAsync(i32, this.seqWord, seen, parkMs);
          if (r.async) await Promise.race([r.value, woken]);
        } else if (Atomics.load(i32, this.seqWord) === seen) {
          // The doorbell fallback: the page posts a message when it publishes work while a
          // worker sleeps; the timeout keeps the heartbeat going.
          let timer;
          await Promise.race([woken, new Promise((resolve) => (timer = setTimeout(resolve, parkMs)))]);
          clearTimeout(timer);
        }
        this.wake = null;
      } finally {
        Atomics.sub(i32, this.sleepersWord, 1);
      }
      port.beat();
      // The page rings this doorbell when it cancels a running call, too.
      if (this.watched.size > 0) this.checkAborts();
      if (this.handedReady()) return -3;
      slot = port.take();
      if (slot !== -1) return slot;
    }
  }

  /** Whether a handed call waits and the quota leaves room for it. */
  handedReady() {
    return this.handed.length > 0 && this.port.hasRoom();
  }

  /**
   * Runs the call in `slot`; returns a promise when the handler is async, or when the
   * call's arguments wait for their side-lane values.
   */
  runCall(slot, handedValues) {
    const port = this.port;
    const base = port.slots + slot * L.SLOT_SIZE;
    const u32 = this.views.u32;
    const w = base >>> 2;
    const argPtr = u32[w + (L.SLOT_ARG_PTR >>> 2)];
    const argLen = u32[w + (L.SLOT_ARG_LEN >>> 2)];
    const at = argPtr === L.INLINE_PTR ? base + L.SLOT_INLINE : argPtr;
    // When this attempt began, on the page's clock, while the page observes (its
    // queue.wait_ms and task.duration_ms metrics, its spans).
    if ((u32[w + (L.SLOT_FLAGS >>> 2)] & L.CALL_TIMED) !== 0) Atomics.store(u32, w + (L.SLOT_STARTED >>> 2), Math.round((this.clockOffset + performance.now()) * 1000) >>> 0); // @hook
    let side;
    try {
      this.reader.reset(this.views.cover(at + argLen).u8, at, argLen);
      side = peekSide(this.reader);
    } catch (error) {
      return this.finish(slot, L.STATUS_THREW, error, undefined, 0);
    }
    if (side === null) return this.invoke(slot, at, argLen, null);
    // A handed call came with its values.
    if (handedValues !== undefined) return this.invoke(slot, at, argLen, handedValues);
    // The slot is this worker's until it completes the call, arguments included.
    return this.fetchSide(side.token).then(
      (values) => this.invoke(slot, at, argLen, values),
      (error) => this.finish(slot, L.STATUS_THREW, error, undefined, 0),
    );
  }

  /** Decodes the call's arguments (`side`: their side-lane values) and runs its handler. */
  invoke(slot, at, argLen, side) {
    const port = this.port;
    const w = (port.slots + slot * L.SLOT_SIZE) >>> 2;
    const u32 = this.views.u32;
    const callId = u32[w + (L.SLOT_CALL_ID >>> 2)];
    const attempt = u32[w + (L.SLOT_ATTEMPT >>> 2)];
    const gen = port.gens[slot];
    let method;
    let result;
    let ctx = null;
    let flags = 0;
    try {
      this.reader.reset(this.views.cover(at + argLen).u8, at, argLen);
      this.reader.side = side;
      const call = decodeArgs(this.reader);
      method = call.method;
      flags = call.flags;
      const handler = this.handlers[method];
      if (typeof handler !== 'function' || handler === Object.prototype[method]) {
        const known = Object.keys(this.handlers).filter((k) => typeof this.handlers[k] === 'function');
        throw new TypeError(`unknown method "${method}": this worker's handlers are ${known.map((k) => `"${k}"`).join(', ') || '(none)'}`);
      }
      const args = call.args;
      ctx = new TaskContext(this, slot, gen, callId, attempt, call.key);
      args.push(ctx);
      result = handler.apply(this.handlers, args);
    } catch (error) {
      this.done(ctx);
      return this.finish(slot, L.STATUS_THREW, error, method, flags);
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      return Promise.resolve(result).then(
        (value) => {
          this.done(ctx);
          return this.finish(slot, L.STATUS_OK, value, method, flags);
        },
        (error) => {
          this.done(ctx);
          return this.finish(slot, L.STATUS_THREW, error, method, flags);
        },
      );
    }
    this.done(ctx);
    return this.finish(slot, L.STATUS_OK, result, method, flags);
  }

  /** The call of `ctx` is over: its signal is no longer watched. */
  done(ctx) {
    if (ctx !== null && ctx._controller !== null) this.watched.delete(ctx);
  }

  /** Encodes `value` as the call's result and publishes it. */
  finish(slot, status, value, method, flags) {
    const writer = this.writer;
    // The result's buffers move to the page, as postMessage's transfer moves them, unless
    // the caller asked for with({ transferResult: false }).
    const keep = status !== L.STATUS_OK || (flags & CALL_KEEP_RESULT_BUFFERS) !== 0;
    let posted = -1;
    try {
      writer.moves = keep ? NOTHING_MOVES : null;
      writer.sideToken = this.sideSeq;
      this.encodeResult(value);
      if (writer.side.length > 0) {
        // Values that cannot live in shared memory (and large buffers that move) go by
        // postMessage, posted before the completion is published.
        const values = writer.side.slice();
        self.postMessage({ __atelier: MSG_SIDE_RESULT, token: this.sideSeq, values }, keep ? [] : values.filter(isTransferable));
        posted = this.sideSeq;
        this.sideSeq = (this.sideSeq + 1) >>> 0;
      }
      if (!keep && writer.buffers.length > 0) detachBuffers(writer.buffers);
    } catch (error) {
      // The result (or thrown value) cannot be sent: the call fails with why.
      const what = status === L.STATUS_OK ? 'result' : 'thrown value';
      status = L.STATUS_THREW;
      const e = error && error.name === 'DataCloneError'
        ? new DOMException(`the ${what} of ${method}() cannot be sent back: ${error.message}`, 'DataCloneError')
        : error;
      this.encodeResult(e);
      // (An error that holds platform objects is sent without them.)
      if (writer.side.length > 0) this.encodeResult(new Error(String(e && e.message)));
    }
    const port = this.port;
    const len = this.writer.length;
    // A result with side-lane values is published after they were posted, flagged so: the
    // page settles the call when both are there. A worker's messages die with it (Chromium
    // drops those the page has not dispatched once terminate() is called), so the page counts
    // such a completion it recovers from a dead worker as a running call, and terminates a
    // worker only once the values of the completions it read have arrived (pool.js, retire).
    if (posted !== -1) status |= L.STATUS_SIDE;
    if (this.private === null) {
      port.complete(slot, status, port.arenaAddr(this.start), len, ((this.start + len + 7) & ~7) >>> 0);
      return undefined;
    }
    // The result outgrew the arena: copy it into a buffer the page grants for it.
    const bytes = this.private;
    this.private = null;
    this.publish(slot, status, bytes.subarray(0, len), method);
    if (bytes.length <= SPARE_MAX_BYTES) this.spare = bytes;
    return undefined;
  }

  /** Publishes the encoded result `bytes` (copied into the arena, or a granted buffer). */
  publish(slot, status, bytes, method) {
    const port = this.port;
    const len = bytes.length;
    if (len <= port.arenaCap) {
      const start = port.waitForArena(len);
      this.views.cover(port.arenaBase + port.arenaCap).u8.set(bytes, port.arenaAddr(start));
      port.complete(slot, status, port.arenaAddr(start), len, ((start + len + 7) & ~7) >>> 0);
      return;
    }
    let ptr = port.grant(Math.max(len, 8));
    if (ptr === 0) {
      const refusal = new RangeError(
        `the ${method}() result needs ${len} bytes of shared memory, beyond the runtime's maxSharedMemoryBytes: raise it in createTaskRuntime({ maxSharedMemoryBytes }) or return smaller results`,
      );
      this.encodeResult(refusal);
      port.complete(slot, L.STATUS_THREW, port.arenaAddr(this.start), this.writer.length, ((this.start + this.writer.length + 7) & ~7) >>> 0);
      return;
    }
    this.views.cover(ptr + len).u8.set(bytes.subarray(0, len), ptr);
    port.complete(slot, status, ptr, len, -1);
  }

  /**
   * A private buffer of at least `size` bytes for a result that outgrew the arena: the one
   * kept from an earlier result when it is large enough (fresh memory costs a page fault per
   * page on first touch; see codec-recycle.js).
   */
  privateBuffer(size) {
    const spare = this.spare;
    if (spare !== null && spare.length >= size) {
      this.spare = null;
      return spare;
    }
    return new Uint8Array(size);
  }

  /** Starts encoding a result at the arena's write position. */
  encodeResult(value) {
    const port = this.port;
    this.private = null;
    this.start = port.waitForArena(Math.min(256, port.arenaCap));
    const room = port.room(this.start);
    this.writer.reset(this.views.cover(port.arenaBase + port.arenaCap).u8, port.arenaAddr(this.start), room);
    encode(value, this.writer);
  }

  /** The codec needs `need` bytes for the result being encoded (keeping what it wrote). */
  grow(need) {
    const port = this.port;
    const keep = this.writer.length;
    const u8 = this.views.u8;
    if (this.private === null) {
      if (need <= port.arenaCap) {
        // Wait for the page to read earlier results if the arena is busy, then continue
        // at the write position or at the start of the next lap.
        const start = port.waitForArena(need);
        if (start !== this.start) u8.copyWithin(port.arenaAddr(start), port.arenaAddr(this.start), port.arenaAddr(this.start) + keep);
        this.start = start;
        return { u8, start: port.arenaAddr(start), cap: port.room(start) };
      }
      const bytes = this.privateBuffer(Math.max(need * 2, 1 << 17));
      bytes.set(u8.subarray(port.arenaAddr(this.start), port.arenaAddr(this.start) + keep));
      this.private = bytes;
      return { u8: bytes, start: 0, cap: bytes.length };
    }
    const bytes = this.privateBuffer(Math.max(need * 2, this.private.length * 2));
    bytes.set(this.private.subarray(0, keep));
    this.private = bytes;
    return { u8: bytes, start: 0, cap: bytes.length };
  }
}

/** The last argument of every handler. */
class TaskContext {
  constructor(loop, slot, gen, callId, attempt, key) {
    this._loop = loop;
    this._port = loop.port;
    this._slot = slot;
    this._gen = gen;
    this._controller = null;
    this._fired = false;
    this.callId = String(callId);
    this.key = key;
    this.attempt = attempt;
  }

  /**
   * Aborts when the call is cancelled or times out. `signal.aborted` reads the flag in shared
   * memory, so a synchronous loop sees it without yielding; an awaiting handler gets the
   * `abort` event within a heartbeat of the cancel (the page rings the worker's doorbell).
   */
  get signal() {
    if (this._controller === null) {
      const controller = new AbortController();
      const ctx = this;
      Object.defineProperty(controller.signal, 'aborted', {
        get() {
          // One read of the flag decides both: the event has fired exactly when this is true.
          ctx._check();
          return ctx._fired;
        },
      });
      this._controller = controller;
      this._loop.watched.add(this);
    }
    return this._controller.signal;
  }

  _code() {
    return this._port.cancelCode(this._slot, this._gen);
  }

  /** Fires the signal's abort event once the page has cancelled the call. */
  _check() {
    const c = this._controller;
    if (c === null || this._fired) return;
    const code = this._code();
    if (code === L.CANCEL_NONE) return;
    this._fired = true;
    this._loop.watched.delete(this);
    c.abort(abortError(code));
  }

  /** Beats the heartbeat and throws an AbortError when the call was cancelled. */
  throwIfAborted() {
    this._port.beat();
    const code = this._code();
    if (code !== L.CANCEL_NONE) {
      this._check();
      throw abortError(code);
    }
  }
}
