// createTaskRuntime() and defineTask(): the page's side of the dispatch path.
//
// A call is encoded straight into the controller's staging buffer in shared memory and
// submitted to the Rust controller (src/core/controller.rs), which writes its envelope into
// a slot and publishes it on the task's work ring; an idle worker of the task pulls it. No
// postMessage is involved once a worker has finished its start-up handshake. Completions
// come back on the task's completion ring; the runtime sleeps on the completion doorbell
// with Atomics.waitAsync (the page's thread must never block) and drains them in batches.
import { bindings, isolated, wasmMemory } from './wasm.js';
import { Views } from './views.js';
import * as L from './layout.js';
import { Writer, Reader, encodeArgs, decode, detachBuffers, peekSide, isTransferable, CALL_KEEP_RESULT_BUFFERS } from './codec.js';
import { notIsolatedError, TaskDisposedError, QueueDropError } from './errors.js';
import { AbortTaskController, abortError } from './cancel.js';
import { WorkerPool, QUARANTINE_MS } from './pool.js';
import { MSG_SIDE, MSG_SIDE_CALL } from './protocol.js';
import { EventStream, reportError, outcomeOf, SUCCESS, CANCELED, REJECTED, FAILURE } from './events.js';
import { Tracing, TraceContext, runWithTrace } from './spans.js';
import { CallTable } from './call-table.js';

const RESERVED = new Set(['with', 'getState', 'startWorkers', 'stopWorkers', 'dispose']);
const OUT_CALL_ID = 0;
const OUT_OUTCOME = 1;
const OUT_PTR = 2;
const OUT_LEN = 3;
const OUT_WORKER = 4;
const OUT_STARTED = 6;
const OUT_ATTEMPT = 7;
const OUT_SEAT = 8;
const OUT_HANDED_SLOT = 9;
const OUT_HANDED_GEN = 10;

let runtimeCount = 0;

/**
 * How long the page keeps looking for completions before it sleeps on their doorbell. A
 * short call finishes within this, and picking it up directly saves the task hop that
 * resolving Atomics.waitAsync costs; a longer one costs the page this much once.
 */
const PAGE_SPIN_MS = 0.02;

/**
 * The contract's default `maxQueueDepth`: calls pending in shared memory (where workers take
 * them without the page) beyond those running, twice `maxInFlight` for a pool, 2 for a
 * singleton. Under `'block'` further calls wait in the page for a slot.
 */
function defaultQueueDepth(type, maxInFlight) {
  return type === 'singleton' ? 2 : 2 * maxInFlight;
}

/** A task has `maxInFlight + maxQueueDepth` slots, at most L.MAX_SLOTS. */
const MAX_SLOTS = L.MAX_SLOTS;
const QUEUE_POLICIES = ['block', 'reject', 'drop-latest', 'drop-oldest'];

/** The options of `subscribeRuntimeSnapshot`. */
const SNAPSHOT_OPTIONS = ['intervalMs', 'emitImmediately', 'onlyOnChange'];
/** Snapshot fields that are ages, timestamps or beat counts: `onlyOnChange` ignores them. */
const VOLATILE_FIELDS = new Set(['heartbeatAgeMs', 'ts', 'beats']);


/** The options `createTaskRuntime(config)` knows. */
const RUNTIME_OPTIONS = ['observability', 'maxSharedMemoryBytes'];

/** The shared-memory ceiling when `maxSharedMemoryBytes` is not given (the memory's own
 * maximum is 1 GiB). */
const DEFAULT_MAX_SHARED_MEMORY_BYTES = 512 * 1024 * 1024;

/** With this few calls outstanding the page stays awake (a short call's caller awaits it). */
const SPIN_MAX_OUTSTANDING = 4;

/** Names of the worker states a heartbeat cell holds (layout.js WORKER_*). */
const PHASES = {
  [L.WORKER_STARTING]: 'starting',
  [L.WORKER_IDLE]: 'spinning',
  [L.WORKER_BUSY]: 'busy',
  [L.WORKER_PARKED]: 'parked',
  [L.WORKER_STOPPED]: 'stopped',
};

/**
 * Creates an isolated runtime: its own controller, tasks and workers.
 * Throws at once when the page is not cross-origin isolated.
 */
export function createTaskRuntime(config = {}) {
  if (!isolated) throw notIsolatedError();
  if (config === null || typeof config !== 'object') {
    throw new TypeError('createTaskRuntime(config): config must be an object or omitted');
  }
  for (const key of Object.keys(config)) {
    if (!RUNTIME_OPTIONS.includes(key)) {
      throw new TypeError(`createTaskRuntime: unknown option "${key}"; the options are ${RUNTIME_OPTIONS.join(', ')}`);
    }
  }
  checkObservability(config.observability);
  const ceiling = config.maxSharedMemoryBytes ?? DEFAULT_MAX_SHARED_MEMORY_BYTES;
  if (!(Number.isSafeInteger(ceiling) && ceiling >= 1 << 20)) {
    throw new RangeError(`createTaskRuntime: maxSharedMemoryBytes must be an integer of at least 1048576 (1 MiB) (got ${String(config.maxSharedMemoryBytes)})`);
  }
  return new Runtime(ceiling, config.observability).api;
}

const SPAN_MODES = ['auto', 'on', 'off'];

/**
 * `observability: { spans }`: `'auto' | 'on' | 'off' | { mode?, sampleRate? }` (sampleRate is
 * clamped to 0..1, as the contract says, but must be a number).
 */
function checkObservability(o) {
  if (o === undefined) return;
  const where = 'createTaskRuntime: observability';
  if (o === null || typeof o !== 'object') throw new TypeError(`${where} must be an object like { spans: 'auto' } (got ${String(o)})`);
  for (const key of Object.keys(o)) {
    if (key !== 'spans') throw new TypeError(`${where}: unknown option "${key}"; the options are spans`);
  }
  const spans = o.spans;
  if (spans === undefined || SPAN_MODES.includes(spans)) return;
  if (spans === null || typeof spans !== 'object') {
    throw new TypeError(`${where}.spans must be 'auto', 'on', 'off' or { mode, sampleRate } (got ${String(spans)})`);
  }
  for (const key of Object.keys(spans)) {
    if (key !== 'mode' && key !== 'sampleRate') throw new TypeError(`${where}.spans: unknown option "${key}"; the options are mode, sampleRate`);
  }
  if (spans.mode !== undefined && !SPAN_MODES.includes(spans.mode)) {
    throw new TypeError(`${where}.spans.mode must be 'auto', 'on' or 'off' (got ${String(spans.mode)})`);
  }
  if (spans.sampleRate !== undefined && !(typeof spans.sampleRate === 'number' && !Number.isNaN(spans.sampleRate))) {
    throw new TypeError(`${where}.spans.sampleRate must be a number (clamped to 0..1) (got ${String(spans.sampleRate)})`);
  }
}

class Runtime {
  constructor(ceiling, observability) {
    this.id = ++runtimeCount;
    this.core = new bindings.RuntimeCore();
    this.ceiling = ceiling;
    this.core.setCeiling(ceiling);
    this.views = new Views(wasmMemory);
    this.calls = new CallTable(); // call id -> Call
    this.tasks = new Set();
    this.pumping = false;
    this.disposed = false;
    this.coreFreed = false;
    // Where Atomics.waitAsync is missing (Part B.10), the pump sleeps until a worker's
    // doorbell message (protocol.js) instead.
    this.fallback = typeof Atomics.waitAsync !== 'function';
    this.bellResolve = null;
    this.hungry = false;
    this.outWord = this.core.outAddr() >>> 2;
    this.bellWord = this.core.doneBellAddr() >>> 2;
    this.stagingPtr = 0;
    this.stagingCap = 0;
    this.writer = new Writer((need) => this.growStaging(need));
    this.reader = new Reader();
    this.taskCount = 0;
    // Tasks with cancelled calls whose handlers still run: the pump keeps reading their
    // completions (discarded) so their slots come back.
    this.lingering = new Set();
    this.abortTaskController = new AbortTaskController();
    this.watchdog = new WatchdogTimer(this);
    this.subscriptions = new Set();
    this.events = new EventStream();
    // Tasks whose gauges are looked at once the current burst of calls made and settled is
    // over (a microtask), rather than after each call.
    this.gaugeTasks = new Set();
    this.tracing = new Tracing(this.events, observability === undefined ? undefined : observability.spans);
    // Workers write when they start a call only while someone observes (call_flags::TIMED).
    const timed = () => {
      if (!this.coreFreed) this.core.setTimed(this.events.observed || this.tracing.on);
    };
    this.events.onChange = timed;
    timed();
    // The side lane (docs/values.md): values of calls' arguments that travel by postMessage,
    // held until a worker that took the call asks for them (token -> Call); results' values
    // that arrived before their completion was read (token -> { values, at, task, seat });
    // completions read before their values arrived (token -> { call, outcome, bytes, task,
    // seat }), settled when the values come (a worker posts them, then publishes).
    this.sideSeq = 1;
    this.sideOut = new Map();
    this.sideResults = new Map();
    this.sideParked = new Map();
    const runtime = this;
    this.api = {
      abortTaskController: this.abortTaskController,
      defineTask(taskConfig) {
        return runtime.defineTask(taskConfig);
      },
      getRuntimeSnapshot() {
        return runtime.snapshot();
      },
      /**
       * Calls `listener(snapshot)` every `intervalMs` (default 250), at once too with
       * `emitImmediately`, and with `onlyOnChange` only when something other than an age, a
       * timestamp or a beat count changed. Returns the function that unsubscribes.
       */
      subscribeRuntimeSnapshot(listener, options = {}) {
        return runtime.subscribeSnapshot(listener, options);
      },
      /** Metric events (docs/observability.md) to `listener` until the returned function is called. */
      subscribeEvents(listener) {
        return runtime.events.subscribe(listener);
      },
      /** A trace for calls made with `task.with({ trace })` (docs/observability.md). */
      createTrace(name) {
        return runtime.tracing.createTrace(name);
      },
      /** Runs `fn(trace)` and ends the trace `ok`, `error`, or `canceled` for an AbortError. */
      runWithTrace(name, fn) {
        return runWithTrace(runtime.tracing, name, fn);
      },
      /** Disposes every task and releases the runtime's shared memory. */
      dispose() {
        runtime.dispose();
      },
    };
  }

  snapshot() {
    return { tasks: [...this.tasks].map((t) => t.snapshot()), sharedMemory: this.sharedMemory() };
  }

  subscribeSnapshot(listener, options) {
    const where = 'subscribeRuntimeSnapshot';
    if (typeof listener !== 'function') throw new TypeError(`${where}(listener, options): listener must be a function`);
    if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object or omitted`);
    for (const name of Object.keys(options)) {
      if (!SNAPSHOT_OPTIONS.includes(name)) throw new TypeError(`${where}: unknown option "${name}"; the options are ${SNAPSHOT_OPTIONS.join(', ')}`);
    }
    const { intervalMs = 250, emitImmediately = false, onlyOnChange = false } = options;
    if (!(typeof intervalMs === 'number' && intervalMs > 0 && intervalMs <= 2 ** 31 - 1)) {
      throw new RangeError(`${where}: intervalMs must be a positive number of milliseconds (got ${String(intervalMs)})`);
    }
    for (const [name, v] of [['emitImmediately', emitImmediately], ['onlyOnChange', onlyOnChange]]) {
      if (typeof v !== 'boolean') throw new TypeError(`${where}: ${name} must be a boolean (got ${String(v)})`);
    }
    let last = null;
    const emit = () => {
      if (this.disposed) return;
      const snap = this.snapshot();
      if (onlyOnChange) {
        const key = JSON.stringify(snap, (k, v) => (VOLATILE_FIELDS.has(k) ? undefined : v));
        if (key === last) return;
        last = key;
      }
      try {
        listener(snap);
      } catch (error) {
        // A listener's bug must not stop the runtime or the other listeners: report it.
        reportError(error);
      }
    };
    const timer = setInterval(emit, intervalMs);
    let live = true;
    const unsubscribe = () => {
      if (!live) return;
      live = false;
      clearInterval(timer);
      this.subscriptions.delete(unsubscribe);
    };
    this.subscriptions.add(unsubscribe);
    if (emitImmediately) emit();
    return unsubscribe;
  }

  /** What the runtime holds of the shared memory, from the controller's own accounting. */
  sharedMemory() {
    const [bytesInUse, slots, waiting, seats, retired, staging] = this.core.occupancy();
    return { bytesInUse, ceiling: this.ceiling, slots, waiting, seats, retired, staging, heapBytes: bindings.heapBytes(), memoryBytes: wasmMemory.buffer.byteLength };
  }

  dispose() {
    if (this.disposed) return;
    for (const task of [...this.tasks]) task.dispose();
    this.disposed = true;
    this.watchdog.stop();
    for (const unsubscribe of [...this.subscriptions]) unsubscribe();
    // Free the staging buffer and the core once the tasks' quarantine is over.
    setTimeout(() => {
      this.coreFreed = true;
      this.core.free();
    }, QUARANTINE_MS * 2);
  }

  /**
   * Makes the pump look at the completion rings again (a completion recovered from a dead
   * worker's seat rings no doorbell): rings the completion doorbell itself.
   */
  wakePump() {
    const i32 = this.views.i32;
    const seqWord = this.bellWord + (L.BELL_SEQ >>> 2);
    Atomics.add(i32, seqWord, 1);
    Atomics.notify(i32, seqWord);
    if (this.bellResolve !== null) {
      const resolve = this.bellResolve;
      this.bellResolve = null;
      resolve();
    }
    if (!this.pumping && this.calls.size > 0) this.pump();
  }

  defineTask(config) {
    if (this.disposed) throw new Error('defineTask: this runtime is disposed; create a new one with createTaskRuntime()');
    const task = new Task(this, validateTaskConfig(config), ++this.taskCount);
    this.tasks.add(task);
    return task.proxy;
  }

  growStaging(need) {
    const keep = this.writer.length;
    const ptr = this.core.reserve(need, keep);
    if (ptr === 0) {
      this.stagingPtr = 0;
      throw new RangeError(
        `a call's arguments need ${need} bytes of shared memory, beyond the runtime's maxSharedMemoryBytes (${this.ceiling} bytes, ${Math.round(this.core.bytesInUse())} in use): raise it in createTaskRuntime({ maxSharedMemoryBytes }) or pass large data in smaller calls`,
      );
    }
    this.stagingPtr = ptr;
    this.stagingCap = this.core.stagingCap();
    this.views.cover(ptr + this.stagingCap);
    return { u8: this.views.u8, start: ptr, cap: this.stagingCap };
  }

  /**
   * Encodes and submits one call; returns its promise. `opts` are the `with()` options;
   * `key` the call's cancellation key (undefined: none).
   */
  submit(task, method, args, opts, key, span) {
    const writer = this.writer;
    const signal = opts === null ? undefined : opts.signal;
    const timeoutMs = task.config.timeoutMs;
    if (key !== undefined && this.abortTaskController.isAborted(key)) {
      return task.refuse(span, CANCELED, abortError(`${method}() was not started: its key ${JSON.stringify(key)} is aborted (abortTaskController.clear(key) lets calls with it run again)`, this.abortTaskController.entries.get(key).controller.signal.reason));
    }
    if (signal !== undefined && signal.aborted) {
      return task.refuse(span, CANCELED, abortError(`${method}() was not started: its signal is aborted`, signal.reason));
    }
    const policy = task.config.queuePolicy;
    // No room: first read the completions there are. Each frees a slot for the oldest call
    // waiting in the page, so the workers, which chain the few calls pending in shared memory,
    // are refilled while the callers of a batch of settled calls run, not only after them.
    if (task.outstanding >= task.slots && !this.core.room(task.index) && this.settleAll(task) > 0 && this.fallback) task.pool.ringFallbackBell();
    if (policy !== 'block' && !this.core.room(task.index)) {
      const refusal = this.admitByPolicy(task, method, policy);
      if (refusal !== null) return task.refuse(span, REJECTED, refusal);
    }
    const transfer = opts === null ? undefined : opts.transfer;
    let id;
    let side = null;
    try {
      if (this.stagingPtr === 0) this.growStaging(256);
      writer.reset(this.views.u8, this.stagingPtr, this.stagingCap);
      writer.moves = transfer === undefined ? null : opts.moves;
      writer.sideToken = this.sideSeq;
      encodeArgs(method, args, writer, key, opts !== null && opts.transferResult === false ? CALL_KEEP_RESULT_BUFFERS : 0);
      if (writer.side.length > 0) side = this.holdSide(writer.side, transfer, method);
      const len = writer.length;
      // A call with side-lane values is handed to a worker with room, with them: one
      // message, where a call the worker takes from the queue needs two (it asks for them).
      const to = side !== null && len <= L.INLINE_BYTES ? task.pool.handTarget() : null;
      id = to === null ? 0 : this.core.submitTo(task.index, len, to.seat);
      if (id !== 0) {
        this.handSide(task, to, id, side);
      } else {
        if (len > L.INLINE_BYTES) this.stagingPtr = 0; // the payload takes the staging buffer
        id = this.core.submit(task.index, len);
      }
    } catch (error) {
      return task.refuse(span, FAILURE, error);
    }
    // The call's buffers move, as postMessage's transfer moves them (C.10): by default every
    // ArrayBuffer it holds, or exactly those `with({ transfer })` names. The bytes are in
    // shared memory already (or held for the side lane); the sender's buffers are detached.
    if (transfer === undefined) {
      if (writer.buffers.length > 0) detachBuffers(writer.buffers);
    } else if (transfer.length > 0) {
      detachBuffers(transfer);
    }
    task.outstanding++;
    const call = new Call(task, method, id, span);
    this.calls.set(id, call);
    call.promise = new Promise((resolve, reject) => {
      call.res = resolve;
      call.rej = reject;
    });
    // @hook {
    if (this.events.observed) {
      call.t0 = performance.now();
      this.gaugesSoon(task);
    }
    // @hook }
    if (opts !== null) call.opts = opts;
    if (side !== null) {
      call.side = side;
      this.sideOut.set(side.token, call);
    }
    if (key !== undefined || signal !== undefined || timeoutMs !== undefined) this.watchCall(id, call, key, signal, timeoutMs);
    if (this.fallback) task.pool.ringFallbackBell();
    if (!this.pumping) this.pump();
    return call.promise;
  }

  /**
   * Every slot of the task holds a call: `'reject'` and `'drop-latest'` refuse the new call,
   * `'drop-oldest'` drops the oldest pending call to make room (or refuses the new one when
   * every call has started). Returns the refusal, or null when the call may go on.
   */
  admitByPolicy(task, method, policy) {
    const c = task.config;
    const full = c.maxQueueDepth === 0
      ? `it cannot start at once (maxInFlight ${c.maxInFlight} calls run and maxQueueDepth is 0)`
      : `maxQueueDepth (${c.maxQueueDepth}) calls are pending`;
    if (policy === 'drop-oldest') {
      const dropped = this.core.dropOldest(task.index);
      if (dropped !== 0) {
        const old = this.calls.get(dropped);
        if (old !== undefined) {
          this.end(dropped, old);
          old.reject(new QueueDropError(`${old.method}() was dropped by queuePolicy 'drop-oldest' of task ${task.name}: it was the oldest pending call when a newer one came and ${full}`));
        }
        return null;
      }
    }
    return new QueueDropError(`${method}() was rejected by queuePolicy '${policy}' of task ${task.name}: ${full}; raise maxQueueDepth or use queuePolicy 'block' to wait`);
  }

  /** Cancels call `id` when its key or signal aborts or its timeout fires. */
  watchCall(id, call, key, signal, timeoutMs) {
    const method = call.method;
    const onAbort = (event) => {
      const s = event.target;
      const what = s === signal ? 'its signal' : `abortTaskController.abort(${JSON.stringify(key)})`;
      this.cancelCall(id, L.CANCEL_ABORTED, abortError(`${method}() was aborted by ${what}`, s.reason));
    };
    const parts = { onAbort, entry: null, signal: null, timer: 0 };
    if (key !== undefined) {
      parts.entry = this.abortTaskController.hold(key);
      parts.entry.controller.signal.addEventListener('abort', onAbort);
    }
    if (signal !== undefined) {
      parts.signal = signal;
      signal.addEventListener('abort', onAbort);
    }
    if (timeoutMs !== undefined) {
      parts.timer = setTimeout(() => {
        this.cancelCall(id, L.CANCEL_TIMED_OUT, abortError(`${method}() timed out after ${timeoutMs} ms (timeoutMs of task ${call.task.name})`));
      }, timeoutMs);
    }
    call.watch = parts;
  }

  /**
   * Cancels call `id`: a call not started never runs; a running call's flag is set in shared
   * memory (its handler sees `ctx.signal` abort) and its result will be discarded. Either way
   * it rejects now with `error`. With cancelGraceMs, a handler still running after the grace
   * has its worker terminated and replaced.
   */
  cancelCall(id, code, error) {
    const call = this.calls.get(id);
    if (call === undefined) return;
    const task = call.task;
    const r = task.disposed ? 0 : this.core.cancel(task.index, id, code);
    this.end(id, call);
    call.reject(error);
    if (r === 2) {
      // Wake the call's worker if it sleeps while the handler awaits: it fires ctx.signal.
      task.pool.ringWorkBell();
      this.lingering.add(task);
      const grace = task.config.cancelGraceMs;
      if (grace !== undefined) setTimeout(() => task.pool.hardCancel(id), grace);
    }
  }

  /**
   * Takes the values of a call's arguments that travel by postMessage (`values`, the
   * writer's side lane): those that move (all transferable ones by default, or those
   * `transfer` names) are transferred now, so the caller's are detached at once, as
   * postMessage detaches them; the others are cloned. Throws a DataCloneError when postMessage
   * could not send them (a MessagePort that `transfer` does not name, a locked stream).
   */
  holdSide(values, transfer, method) {
    const moving = transfer === undefined ? values.filter(isTransferable) : values.filter((v) => transfer.includes(v));
    let held;
    try {
      held = structuredClone(values, { transfer: moving });
    } catch (error) {
      throw new DOMException(`${method}() cannot send its arguments: ${error && error.message}`, 'DataCloneError');
    }
    const token = this.sideSeq;
    this.sideSeq = (this.sideSeq + 1) >>> 0 || 1;
    const moves = moving.length === 0 ? [] : held.filter((_, i) => moving.includes(values[i]));
    return { token, values: held, moves, sentTo: -1 };
  }

  /**
   * Posts call `id`, just handed to worker `member` of `task` alone (PENDING with its owner
   * id, on no queue), with its side-lane values. If it cannot be posted, the call is dropped
   * and the error thrown.
   */
  handSide(task, member, id, side) {
    const out = this.views.u32;
    const slot = out[this.outWord + OUT_HANDED_SLOT];
    const gen = out[this.outWord + OUT_HANDED_GEN];
    try {
      task.pool.post(member, { __atelier: MSG_SIDE_CALL, token: side.token, slot, gen, values: side.values }, side.moves);
    } catch (error) {
      this.core.cancel(task.index, id, L.CANCEL_ABORTED);
      throw error;
    }
    side.sentTo = member.index;
    member.handed.push({ slot, gen });
  }

  /**
   * Worker `member` of `task` took the call whose arguments wait for side-lane values
   * `token`: posts them (moving what moves), or why it cannot, which fails the call.
   */
  sendSide(task, member, token) {
    const call = this.sideOut.get(token);
    let error = null;
    if (call === undefined || call.task !== task) {
      error = 'the call was settled (cancelled, timed out or failed) before its worker asked for the values it sends by postMessage';
    } else if (call.side.sentTo !== -1 && call.side.moves.length > 0) {
      error = `${call.method}() cannot run again: the values its arguments moved by postMessage (${call.side.moves.map(typeName).join(', ')}) went to worker ${call.side.sentTo}, which stopped before it finished the call, and moved values cannot be sent twice; send them with with({ transfer: [] }) (copies) to let a retry have them`;
    }
    if (error === null) {
      try {
        task.pool.post(member, { __atelier: MSG_SIDE, token, values: call.side.values }, call.side.moves);
        call.side.sentTo = member.index;
        return;
      } catch (e) {
        error = `${call.method}() cannot send its arguments: ${e && e.message}`;
      }
    }
    task.pool.post(member, { __atelier: MSG_SIDE, token, values: null, error });
  }

  /**
   * The side-lane values of a result arrived from seat `seat` of `task`: they settle the call
   * whose completion was read already, or wait for that completion.
   */
  sideResult(task, seat, token, values) {
    const parked = this.sideParked.get(token);
    if (parked !== undefined && parked.task === task && parked.seat === seat) {
      this.sideParked.delete(token);
      const call = parked.call;
      if (this.calls.get(call.id) !== call) return; // settled meanwhile (cancelled, failed)
      this.end(call.id, call);
      const reader = this.reader;
      try {
        reader.reset(parked.bytes, 0, parked.bytes.length);
        peekSide(reader);
        reader.side = values;
      } catch (error) {
        call.reject(error);
        return;
      }
      this.decodeResult(call, parked.outcome);
      return;
    }
    this.sideResults.set(token, { values, at: performance.now(), task, seat });
    // The worker publishes the completion right after it posts the values, so it is almost
    // always there already: read it now rather than after the doorbell's wake-up (a task hop).
    if (!task.disposed && this.settleAll(task) > 0 && this.fallback) task.pool.ringFallbackBell();
    if (this.sideResults.has(token)) this.wakePump();
  }

  /**
   * On each watchdog tick: drops result values whose completion never came (their worker died
   * before it published it, and they are also dropped with the worker: dropSide; or the page
   * had settled the call already; or the result was refused shared memory after they went),
   * and fails calls whose values never came although their worker published the completion
   * after posting them (a worker that writes such a completion without posting is broken or
   * hostile: it is replaced). A parked call is failed at the second tick that finds it older
   * than SIDE_RESULT_WAIT_MS, so that a message queued while the page's thread was blocked
   * is dispatched first.
   */
  sweepSide(now) {
    for (const [t, r] of this.sideResults) if (now - r.at > SIDE_RESULT_WAIT_MS) this.sideResults.delete(t);
    for (const [t, p] of this.sideParked) {
      if (now - p.at <= SIDE_RESULT_WAIT_MS) continue;
      if (!p.stale) {
        p.stale = true;
        continue;
      }
      const message = `worker ${p.worker} of task ${p.task.name} published a result whose side-lane values it never posted`;
      this.failParked(t, p, message);
      const m = p.task.pool.members[p.worker];
      if (m !== undefined && m.seat === p.seat) p.task.pool.corrupt(p.worker, message);
    }
  }

  /** Parked completion `token` will get no values: its call (if still outstanding) rejects. */
  failParked(token, p, message) {
    this.sideParked.delete(token);
    const call = p.call;
    if (this.calls.get(call.id) !== call) return;
    this.end(call.id, call);
    call.reject(new Error(`${message}: the values of its ${call.method}() result, sent by postMessage, never arrived`));
  }

  /** Completions of seat `seat` of `task` that wait for their side-lane values. */
  parkedOn(task, seat) {
    let n = 0;
    for (const p of this.sideParked.values()) if (p.task === task && p.seat === seat && this.calls.get(p.call.id) === p.call) n++;
    return n;
  }

  /**
   * The worker on seat `seat` of `task` (every seat when undefined) is terminated: values it
   * sent that no completion claimed are dropped, and calls whose values it never delivered
   * reject with `message`.
   */
  dropSide(task, seat, message) {
    const of = (r) => r.task === task && (seat === undefined || r.seat === seat);
    for (const [t, r] of this.sideResults) if (of(r)) this.sideResults.delete(t);
    for (const [t, p] of this.sideParked) if (of(p)) this.failParked(t, p, message);
  }

  /** Emits `task`'s changed gauges at the next microtask checkpoint. */
  gaugesSoon(task) {
    if (this.gaugeTasks.size === 0) {
      queueMicrotask(() => {
        const tasks = [...this.gaugeTasks];
        this.gaugeTasks.clear();
        for (const t of tasks) t.gauges();
      });
    }
    this.gaugeTasks.add(task);
  }

  /** Call `id` is settled: it leaves the runtime's books. */
  end(id, call) {
    this.calls.delete(id);
    if (call.side !== null) {
      this.sideOut.delete(call.side.token);
      if (call.side.sentTo === -1) closeUnsent(call.side.values);
    }
    const w = call.watch;
    if (w !== null) {
      call.watch = null;
      if (w.entry !== null) {
        w.entry.controller.signal.removeEventListener('abort', w.onAbort);
        this.abortTaskController.release(w.entry);
      }
      if (w.signal !== null) w.signal.removeEventListener('abort', w.onAbort);
      clearTimeout(w.timer);
    }
    const task = call.task;
    if (--task.outstanding === 0) task.quiet();
    if (this.events.observed) this.gaugesSoon(task); // @hook
  }

  /** Drains again and again for `ms` or until it settles something; returns how many. */
  watch(ms) {
    const until = performance.now() + ms;
    do {
      const n = this.drain();
      if (n > 0) return n;
    } while (performance.now() < until);
    return 0;
  }

  /** Settles every finished call; returns how many. */
  drain() {
    let settled = 0;
    let hungry = false;
    const core = this.core;
    for (const task of this.tasks) {
      if (task.disposed) continue;
      if (task.outstanding === 0) {
        if (!this.lingering.has(task)) continue;
        // Only cancelled calls' handlers still run: read (and discard) their completions.
        this.settleAll(task);
        if (core.inFlight(task.index) === 0) this.lingering.delete(task);
        continue;
      }
      settled += this.settleAll(task);
      // Every slot holds a call and more wait in the page: the workers will soon run out of
      // pending calls, and the page must be there to refill the slots.
      if (core.waiting(task.index) > 0) hungry = true;
      // Settling freed slots for calls waiting in the page: wake sleeping workers for them.
      if (this.fallback) task.pool.ringFallbackBell();
    }
    this.hungry = hungry;
    return settled;
  }

  /** Settles every completion of `task` there is to read now; returns how many. */
  settleAll(task) {
    let n = 0;
    while (this.core.poll(task.index)) {
      n++;
      this.settle(task);
    }
    return n;
  }

  settle(task) {
    const out = this.views.u32;
    const base = this.outWord;
    const id = out[base + OUT_CALL_ID];
    const outcome = out[base + OUT_OUTCOME];
    const call = this.calls.get(id);
    if (call === undefined) return; // already settled (crash, dispose): the slot is released anyway
    if (outcome === 2) {
      this.end(id, call);
      // (A call whose own state word a worker kept overwriting is failed by the page, which
      // cannot tell which worker wrote it: NO_WORKER, and no worker is replaced.)
      const worker = out[base + OUT_WORKER];
      const who = worker === L.NO_WORKER ? `a call of task ${task.name}, ${call.method}(),` : `worker ${worker} of task ${task.name} wrote an invalid result for ${call.method}():`;
      const message = `${who} ${this.core.invalidReason()}`;
      call.reject(new Error(message));
      // A worker that writes garbage into shared memory is replaced.
      task.pool.corrupt(out[base + OUT_WORKER], message);
      return;
    }
    const ptr = out[base + OUT_PTR];
    const len = out[base + OUT_LEN];
    // @hook {
    if (call.span !== null) {
      const span = call.span;
      span.workerIndex = out[base + OUT_WORKER];
      span.attempt = out[base + OUT_ATTEMPT];
      span.started = pageTime(out[base + OUT_STARTED]);
    }
    if (call.t0 !== 0 && this.events.observed) task.timings(call, out[base + OUT_STARTED]);
    // @hook }
    const reader = this.reader;
    try {
      const u8 = this.views.cover(ptr + len).u8;
      reader.reset(u8, ptr, len);
      const side = peekSide(reader);
      if (side !== null) {
        const got = this.sideResults.get(side.token);
        if (got === undefined) {
          // The worker posted the values before it published this; they arrive as a
          // message. The bytes are the arena's only until the next poll: kept here.
          const seat = out[base + OUT_SEAT];
          const worker = out[base + OUT_WORKER];
          this.sideParked.set(side.token, { call, outcome, bytes: u8.slice(ptr, ptr + len), task, seat, worker, at: performance.now(), stale: false });
          return;
        }
        this.sideResults.delete(side.token);
        reader.side = got.values;
      }
    } catch (error) {
      this.end(id, call);
      call.reject(error);
      return;
    }
    this.end(id, call);
    this.decodeResult(call, outcome);
  }

  /** Decodes the result the reader is at and settles `call` with it. */
  decodeResult(call, outcome) {
    let value;
    try {
      value = decode(this.reader);
    } catch (error) {
      call.reject(error);
      return;
    }
    if (outcome === 0) {
      call.resolve(value);
    } else {
      call.reject(value);
    }
  }

  /**
   * Drains completions while calls are outstanding, sleeping on the completion doorbell.
   *
   * While calls wait in the page for a slot ("hungry": the workers chain the few calls
   * pending in shared memory by themselves and will soon run dry), few calls are
   * outstanding, or the round before settled calls ("flowing"), the page stays awake: after
   * a round that settled calls it yields a microtask, so that their callers run and submit,
   * and after a round that settled nothing it keeps looking for PAGE_SPIN_MS before it
   * sleeps, reading the next completions at once instead of paying the task hop that
   * resolving Atomics.waitAsync costs. Otherwise the page sleeps at once. Staying awake while
   * completions flow costs a stream of slow calls one PAGE_SPIN_MS per batch; it made a
   * stream of no-op calls on 2 workers 13-20 % faster (paired rounds, 256 outstanding, default
   * maxInFlight, and 8 % with maxInFlight 256), where 1 worker, whose page was already awake,
   * measured within noise (0.97-1.08×).
   */
  async pump() {
    this.pumping = true;
    const seqWord = this.bellWord + (L.BELL_SEQ >>> 2);
    const sleepersWord = this.bellWord + (L.BELL_SLEEPERS >>> 2);
    let first = true;
    let flowing = false;
    try {
      for (;;) {
        const settled = this.drain();
        if (this.calls.size === 0 && this.lingering.size === 0) return;
        const awake = this.hungry || this.calls.size <= SPIN_MAX_OUTSTANDING || flowing;
        flowing = settled > 0;
        if ((awake && settled > 0) || first) {
          // Let the callers run; on the first round, let a burst of calls (a loop,
          // Promise.all) be submitted before watching.
          first = false;
          await null;
          continue;
        }
        // Watch: look again and again for PAGE_SPIN_MS. (Not while a result waits for its
        // side-lane values: they come as a message, which the page's event loop cannot
        // deliver while it spins.)
        if (awake && this.sideParked.size === 0 && this.watch(PAGE_SPIN_MS) > 0) {
          flowing = true;
          await null;
          continue;
        }
        // The doorbell protocol of the completion rings (ring/src/doorbell.rs,
        // `ring_if_watched`): a worker moves seq and notifies only while the page counts
        // itself among the sleepers, so the page counts itself in, then looks once more, and
        // then waits while seq still holds what it read before counting in. A completion
        // published before the count is found by that look (Atomics are sequentially
        // consistent); one published after it moves seq. While the page drains, watches
        // and its callers run it is not counted, so a worker completing call after call
        // writes no word the page reads, and notifies no one.
        const i32 = this.views.i32;
        const seen = Atomics.load(i32, seqWord);
        Atomics.add(i32, sleepersWord, 1);
        let found = 0;
        try {
          found = this.drain();
          if (found > 0) {
            // Found something: its callers run before the next round.
          } else if (this.fallback) {
            // Counted among the sleepers, so a worker that publishes now posts its bell.
            await new Promise((resolve) => {
              this.bellResolve = resolve;
              if (Atomics.load(i32, seqWord) !== seen) resolve();
            });
            this.bellResolve = null;
          } else {
            const r = Atomics.waitAsync(i32, seqWord, seen);
            if (r.async) await r.value;
          }
        } finally {
          Atomics.sub(this.views.i32, sleepersWord, 1);
        }
        if (found > 0) {
          // The last look settled calls: their callers run before the next round.
          flowing = true;
          await null;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Rejects every outstanding call of `task` with `makeError(call)`; calls still in the
   * controller are dropped (pending) or abandoned (running) there, so none runs later.
   */
  failTask(task, makeError) {
    for (const [id, call] of this.calls) {
      if (call.task !== task) continue;
      if (!task.disposed) this.core.cancel(task.index, id, L.CANCEL_ABORTED);
      this.end(id, call);
      call.reject(makeError(call));
    }
  }

  /** Rejects the calls with these ids (their slots are already taken back). */
  rejectCalls(ids, makeError) {
    for (const id of ids) {
      const call = this.calls.get(id);
      if (call === undefined) continue;
      this.end(id, call);
      call.reject(makeError(call));
    }
  }
}

class Call {
  constructor(task, method, id, span) {
    this.task = task;
    this.method = method;
    this.id = id;
    // Its span when it is sampled (spans.js), else null.
    this.span = span;
    this.promise = null;
    // What cancels it (key, signal, timeout), when anything does.
    this.watch = null;
    // The with() options it was made with (trace, transfer, transferResult are kept for the
    // observability and transfer work).
    this.opts = null;
    // Its arguments' side-lane values (holdSide), when it has any.
    this.side = null;
    // When it was made (performance.now()), while events are observed; else 0.
    this.t0 = 0;
    this.res = null;
    this.rej = null;
  }

  resolve(value) {
    this.task.outcome(SUCCESS); // @hook
    if (this.span !== null) this.task.runtime.tracing.end(this.span, this.id, undefined, false); // @hook
    this.res(value);
  }

  reject(error) {
    this.task.outcome(outcomeOf(error)); // @hook
    if (this.span !== null) this.task.runtime.tracing.end(this.span, this.id, error, true); // @hook
    this.rej(error);
  }
}

/**
 * A worker's start time as written into a slot (µs since the page's time origin, wrapping
 * every 71 minutes) on the page's performance.now() clock.
 */
function pageTime(startedUs) {
  const t = performance.now();
  return t - (((Math.round(t * 1000) >>> 0) - startedUs) >>> 0) / 1000;
}

/** The watchdog's verdicts (src/wasm/main.rs `watch`). */
const VERDICTS = { 1: 'hang', 2: 'exit', 3: 'corrupt' };

/** The gauges of a task, in Task.gauged's order. */
const GAUGES = ['queue.in_flight', 'queue.pending', 'queue.waiting', 'workers.active'];

/**
 * How long a result's side-lane values wait for their completion before they are dropped, and
 * a completion for its values (which its worker posted before it) before its call fails.
 */
const SIDE_RESULT_WAIT_MS = 5000;

/** Platform objects that hold resources until closed. */
const CLOSABLE = new Set(['ImageBitmap', 'VideoFrame', 'AudioData', 'MessagePort']);

function typeName(v) {
  return Object.prototype.toString.call(v).slice(8, -1);
}

/** Closes what a settled call held for the side lane and never sent. */
function closeUnsent(values) {
  for (const v of values) {
    if (CLOSABLE.has(typeName(v))) {
      try {
        v.close();
      } catch {
        // already closed
      }
    }
  }
}

/**
 * Ticks the controller's heartbeat watchdog (src/core/watchdog.rs) while any task has a
 * worker past its start-up: every WATCH_MS, or WATCH_HANG_MS while a task sets hangTimeoutMs.
 * A tick credits at most two intervals of silence, so a page whose thread was blocked or
 * throttled does not take stale heartbeats for hangs.
 */
class WatchdogTimer {
  constructor(runtime) {
    this.runtime = runtime;
    this.timer = 0;
    this.interval = 0;
    this.quietTicks = 0;
  }

  start() {
    const want = [...this.runtime.tasks].some((t) => t.config.hangTimeoutMs !== undefined) ? WATCH_HANG_MS : WATCH_MS;
    if (this.timer !== 0 && this.interval === want) return;
    this.stop();
    this.interval = want;
    this.timer = setInterval(() => this.tick(), want);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  tick() {
    const runtime = this.runtime;
    const now = performance.now();
    let watched = false;
    for (const task of runtime.tasks) {
      if (task.disposed || !task.pool.watched()) continue;
      watched = true;
      const v = runtime.core.watch(task.index, now, 2 * this.interval);
      for (let i = 0; i < v.length; i += 2) task.pool.verdict(v[i], VERDICTS[v[i + 1]] ?? 'exit');
    }
    if (runtime.sideResults.size > 0 || runtime.sideParked.size > 0) runtime.sweepSide(now);
    // The tick may have found calls to fail or to publish again (src/core/task.rs `audit`):
    // the pump settles them.
    if (watched && runtime.calls.size > 0) runtime.wakePump();
    if (runtime.events.observed) {
      // Workers start calls without the page: the gauges are looked at on each tick too.
      for (const task of runtime.tasks) if (!task.disposed) task.gauges();
    }
    // A runtime without calls for a whole tick lets go of the argument buffers it keeps for
    // reuse (src/core/controller.rs: Controller::trim).
    if (runtime.calls.size !== 0) {
      this.quietTicks = 0;
    } else if (++this.quietTicks === 2 || !watched) {
      if (!runtime.coreFreed) runtime.core.trim();
    }
    if (!watched) this.stop();
  }
}

/** The watchdog's tick, and its tick while some task detects hangs. */
const WATCH_MS = 250;
const WATCH_HANG_MS = 100;

function isPositiveInt(v) {
  return Number.isInteger(v) && v >= 1;
}

/** The options `defineTask(config)` knows. */
const TASK_OPTIONS = [
  'type', 'worker', 'init', 'poolSize', 'maxInFlight', 'maxQueueDepth', 'queuePolicy', 'keyOf', 'timeoutMs', 'crashPolicy', 'crashMaxRetries',
  'idleTimeoutMs', 'hangTimeoutMs', 'cancelGraceMs', 'startupTimeoutMs', 'taskName', 'taskId',
];
const CRASH_POLICIES = ['restart-fail-in-flight', 'restart-requeue-in-flight', 'fail-task'];
/** The options `task.with(options)` knows. */
const CALL_OPTIONS = ['key', 'signal', 'trace', 'transfer', 'transferResult'];

/** A positive number of milliseconds, or undefined when not set. */
function optionalMs(config, name) {
  const v = config[name];
  if (v === undefined) return undefined;
  if (!(typeof v === 'number' && v > 0 && v <= 2 ** 31 - 1)) {
    throw new RangeError(`defineTask: ${name} must be a positive number of milliseconds up to 2147483647 (got ${String(v)})`);
  }
  return v;
}

function validateTaskConfig(config) {
  if (config === null || typeof config !== 'object') {
    throw new TypeError("defineTask(config): config must be an object like { type: 'parallel', worker: () => new Worker(url, { type: 'module' }) }");
  }
  for (const name of Object.keys(config)) {
    if (!TASK_OPTIONS.includes(name)) {
      throw new TypeError(`defineTask: unknown option "${name}"; the options are ${TASK_OPTIONS.join(', ')}`);
    }
  }
  const { type, worker } = config;
  if (type !== 'parallel' && type !== 'singleton') {
    throw new TypeError(`defineTask: type must be 'parallel' or 'singleton' (got ${String(type)})`);
  }
  if (typeof worker !== 'function') {
    throw new TypeError("defineTask: worker must be a function that returns a new Worker, e.g. () => new Worker(new URL('./my-worker.js', import.meta.url), { type: 'module' })");
  }
  const init = config.init ?? 'lazy';
  if (init !== 'lazy' && init !== 'eager') {
    throw new TypeError(`defineTask: init must be 'lazy' or 'eager' (got ${String(init)})`);
  }
  const defaultPool = (globalThis.navigator && navigator.hardwareConcurrency) || 4;
  const poolSize = type === 'singleton' ? 1 : config.poolSize ?? defaultPool;
  if (!isPositiveInt(poolSize)) {
    throw new RangeError(`defineTask: poolSize must be an integer >= 1 (got ${String(config.poolSize)})`);
  }
  const maxInFlight = config.maxInFlight ?? (type === 'singleton' ? 1 : poolSize);
  if (!isPositiveInt(maxInFlight) || maxInFlight >= MAX_SLOTS) {
    throw new RangeError(`defineTask: maxInFlight must be an integer from 1 to ${MAX_SLOTS - 1} (got ${String(config.maxInFlight)})`);
  }
  const maxQueueDepth = config.maxQueueDepth ?? Math.min(defaultQueueDepth(type, maxInFlight), MAX_SLOTS - maxInFlight);
  if (!(Number.isInteger(maxQueueDepth) && maxQueueDepth >= 0 && maxInFlight + maxQueueDepth <= MAX_SLOTS)) {
    throw new RangeError(`defineTask: maxQueueDepth must be an integer from 0 to ${MAX_SLOTS - maxInFlight} (maxInFlight + maxQueueDepth at most ${MAX_SLOTS}) (got ${String(config.maxQueueDepth)})`);
  }
  const queuePolicy = config.queuePolicy ?? 'block';
  if (!QUEUE_POLICIES.includes(queuePolicy)) {
    throw new TypeError(`defineTask: queuePolicy must be one of ${QUEUE_POLICIES.map((p) => `'${p}'`).join(', ')} (got ${String(queuePolicy)})`);
  }
  if (config.keyOf !== undefined && typeof config.keyOf !== 'function') {
    throw new TypeError(`defineTask: keyOf must be a function (...args) => string (got ${typeof config.keyOf})`);
  }
  for (const name of ['taskName', 'taskId']) {
    if (config[name] !== undefined && (typeof config[name] !== 'string' || config[name] === '')) {
      throw new TypeError(`defineTask: ${name} must be a non-empty string (got ${String(config[name])})`);
    }
  }
  const crashPolicy = config.crashPolicy ?? 'restart-fail-in-flight';
  if (!CRASH_POLICIES.includes(crashPolicy)) {
    throw new TypeError(`defineTask: crashPolicy must be one of ${CRASH_POLICIES.map((p) => `'${p}'`).join(', ')} (got ${String(crashPolicy)})`);
  }
  const crashMaxRetries = config.crashMaxRetries ?? 3;
  if (!(Number.isInteger(crashMaxRetries) && crashMaxRetries >= 0 && crashMaxRetries <= 1000)) {
    throw new RangeError(`defineTask: crashMaxRetries must be an integer from 0 to 1000 (got ${String(config.crashMaxRetries)})`);
  }
  return {
    type,
    worker,
    init,
    poolSize,
    maxInFlight,
    maxQueueDepth,
    queuePolicy,
    keyOf: config.keyOf,
    timeoutMs: optionalMs(config, 'timeoutMs'),
    crashPolicy,
    crashMaxRetries,
    idleTimeoutMs: optionalMs(config, 'idleTimeoutMs'),
    hangTimeoutMs: optionalMs(config, 'hangTimeoutMs'),
    cancelGraceMs: optionalMs(config, 'cancelGraceMs'),
    startupTimeoutMs: optionalMs(config, 'startupTimeoutMs') ?? 10000,
    taskName: config.taskName,
    taskId: config.taskId,
  };
}

/** Checks `task.with(options)`; returns them merged over `base`. */
function validateCallOptions(options, base) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('task.with(options): options must be an object like { key, signal, trace, transfer, transferResult }');
  }
  for (const name of Object.keys(options)) {
    if (!CALL_OPTIONS.includes(name)) {
      throw new TypeError(`task.with: unknown option "${name}"; the options are ${CALL_OPTIONS.join(', ')}`);
    }
  }
  const { key, signal, trace, transfer, transferResult } = options;
  if (trace !== undefined && trace !== null && !(trace instanceof TraceContext)) {
    throw new TypeError('task.with: trace must be a trace from runtime.createTrace() (or null)');
  }
  if (key !== undefined && typeof key !== 'string') throw new TypeError(`task.with: key must be a string (got ${typeof key})`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('task.with: signal must be an AbortSignal');
  if (transfer !== undefined) {
    if (!Array.isArray(transfer)) throw new TypeError('task.with: transfer must be an array of transferable objects');
    transfer.forEach((t, i) => {
      if (isTransferable(t)) return;
      const tag = typeName(t);
      if (tag === 'SharedArrayBuffer' || ArrayBuffer.isView(t)) {
        throw new TypeError(`task.with: transfer[${i}] is a ${tag}; list ArrayBuffers (a typed array's .buffer), as postMessage does`);
      }
      throw new TypeError(`task.with: transfer[${i}] is a ${tag}, which cannot be transferred; list what postMessage transfers (ArrayBuffer, ImageBitmap, OffscreenCanvas, MessagePort, streams, VideoFrame, AudioData)`);
    });
  }
  if (transferResult !== undefined && typeof transferResult !== 'boolean') throw new TypeError('task.with: transferResult must be a boolean');
  const merged = { ...base, ...options };
  // The buffers that move, as the encoder asks (codec-encode.js: Writer.moves).
  merged.moves = merged.transfer === undefined ? null : new Set(merged.transfer);
  return merged;
}

class Task {
  constructor(runtime, config, n) {
    this.runtime = runtime;
    this.config = config;
    this.id = config.taskId ?? `task-${runtime.id}-${n}`;
    this.name = config.taskName ?? this.id;
    this.index = runtime.core.defineTask(config.maxInFlight, config.poolSize, config.maxInFlight + config.maxQueueDepth);
    runtime.core.configure(this.index, CRASH_POLICIES.indexOf(config.crashPolicy), config.crashMaxRetries, config.hangTimeoutMs ?? 0);
    // Where its block's parts are in shared memory (RuntimeCore.taskInfo): they do not move.
    const info = runtime.core.taskInfo(this.index);
    this.slotsAddr = info[0];
    this.cellsAddr = info[2];
    this.workBellWord = info[7] >>> 2;
    // Its slots: with fewer calls outstanding than this, one is free (or held by a cancelled
    // call whose handler still runs, which submit's look for room can ignore).
    this.slots = Math.min(config.maxInFlight + config.maxQueueDepth, MAX_SLOTS);
    this.idleTimer = 0;
    this.outstanding = 0;
    this.dispatched = 0;
    // The attributes of its metric events, and the gauges' last values (in_flight, pending,
    // waiting, workers.active).
    this.attrs = Object.freeze({ 'task.id': this.id, 'task.type': config.type, 'task.name': this.name });
    this.gauged = [0, 0, 0, 0];
    this.disposed = false;
    this.pool = new WorkerPool(this);
    this.methods = new Map();
    this.proxy = this.makeProxy();
    if (config.init === 'eager') this.pool.start();
  }

  call(method, args, opts) {
    // Every call counts once, whatever becomes of it (C.1), and ends in exactly one outcome.
    const runtime = this.runtime;
    this.dispatched++;
    if (runtime.events.observed) runtime.events.metric('counter', 'task.dispatch.total', 1, this.attrs); // @hook
    let span = null;
    const trace = opts === null ? undefined : opts.trace; // @hook
    if (runtime.tracing.on || (trace !== undefined && trace !== null)) span = runtime.tracing.begin(this, method, trace); // @hook
    if (this.disposed) {
      return this.refuse(span, REJECTED, new TaskDisposedError(`task ${this.name} is disposed: define a new task to make calls`));
    }
    if (this.pool.failure) {
      // A halted task refuses the call with its crash: the call never ran.
      return this.refuse(span, REJECTED, this.pool.failure);
    }
    let key = opts === null ? undefined : opts.key;
    if (key === undefined && this.config.keyOf !== undefined) {
      try {
        key = this.config.keyOf(...args);
      } catch (error) {
        return this.refuse(span, FAILURE, error);
      }
      if (key === null || key === undefined) {
        key = undefined;
      } else if (typeof key !== 'string') {
        return this.refuse(span, FAILURE, new TypeError(`keyOf of task ${this.name} returned a ${typeof key} for ${method}(); it must return a string ('', undefined or null for no key)`));
      }
    }
    if (key === '') key = undefined;
    if (this.idleTimer !== 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = 0;
    }
    this.pool.startLazily();
    return runtime.submit(this, method, args, opts, key, span);
  }

  /** A call ended with `outcome` (a counter name of C.1). */
  outcome(outcome) {
    const events = this.runtime.events;
    if (events.observed) events.metric('counter', outcome, 1, this.attrs);
  }

  /**
   * A call that ends before it is made: counted as `outcome`, its span (if sampled) ended,
   * rejected with `error`.
   */
  refuse(span, outcome, error) {
    this.outcome(outcome); // @hook
    if (span !== null) this.runtime.tracing.end(span, '', error, true); // @hook
    return Promise.reject(error);
  }

  /** Emits each gauge of the task whose value changed since it was last emitted. */
  gauges() {
    const events = this.runtime.events;
    if (!events.observed) return;
    const core = this.runtime.core;
    const live = !this.disposed;
    const values = [
      live ? core.inFlight(this.index) : 0,
      live ? core.pending(this.index) : 0,
      live ? core.waiting(this.index) : 0,
      this.pool.ready(),
    ];
    for (let i = 0; i < 4; i++) {
      if (values[i] !== this.gauged[i]) {
        this.gauged[i] = values[i];
        events.metric('gauge', GAUGES[i], values[i], this.attrs);
      }
    }
  }

  /**
   * A call finished on a worker that began it at `started` (µs since the page's time origin,
   * wrapping): its time waiting (from the call to the start) and its duration (from the
   * start to now).
   */
  timings(call, started) {
    const t = performance.now();
    const ranMs = (((Math.round(t * 1000) >>> 0) - started) >>> 0) / 1000;
    const total = t - call.t0;
    const duration = Math.min(ranMs, total);
    const events = this.runtime.events;
    events.metric('histogram', 'queue.wait_ms', Math.max(0, total - duration), this.attrs);
    events.metric('histogram', 'task.duration_ms', duration, this.attrs);
  }

  /** Nothing is outstanding any more: with idleTimeoutMs, the workers stop after that long. */
  quiet() {
    const ms = this.config.idleTimeoutMs;
    if (ms === undefined || this.disposed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.idle(), ms);
  }

  idle() {
    this.idleTimer = 0;
    if (this.disposed || this.outstanding > 0 || !this.pool.started) return;
    // A cancelled call's handler may still run: never stop a worker under it.
    if (this.runtime.core.inFlight(this.index) > 0) {
      this.idleTimer = setTimeout(() => this.idle(), this.config.idleTimeoutMs);
      return;
    }
    this.pool.stop(false);
  }

  method(name, opts) {
    const cache = opts === null ? this.methods : opts.methods;
    let fn = cache.get(name);
    if (fn === undefined) {
      const task = this;
      fn = function (...args) {
        return task.call(name, args, opts);
      };
      cache.set(name, fn);
    }
    return fn;
  }

  /** The task proxy; `opts` are the with() options its calls carry (null for none). */
  makeProxy(opts = null) {
    const task = this;
    const reserved = {
      with(options) {
        const merged = validateCallOptions(options, opts === null ? {} : opts.values);
        return task.makeProxy({ values: merged, ...merged, methods: new Map() });
      },
      getState() {
        return task.state();
      },
      startWorkers() {
        task.pool.start();
      },
      stopWorkers() {
        task.pool.stop();
      },
      dispose() {
        task.dispose();
      },
    };
    return new Proxy(Object.create(null), {
      get(_, prop) {
        if (typeof prop !== 'string' || prop === 'then') return undefined;
        if (RESERVED.has(prop)) return reserved[prop];
        return task.method(prop, opts);
      },
      has(_, prop) {
        return typeof prop === 'string' && prop !== 'then';
      },
    });
  }

  state() {
    const core = this.runtime.core;
    const c = this.config;
    const state = {
      type: c.type,
      totalWorkers: this.pool.size(),
      activeWorkers: this.pool.ready(),
      workerStatus: this.pool.status(),
      lastCrash: this.pool.lastCrash,
      taskStatus: this.pool.paused ? 'paused' : this.outstanding > 0 ? 'active' : 'idle',
      totalDispatched: this.dispatched,
      queueDepth: this.disposed ? 0 : core.inFlight(this.index),
      pendingQueueDepth: this.disposed ? 0 : core.pending(this.index),
      waitingQueueDepth: this.disposed ? 0 : core.waiting(this.index),
      maxInFlight: c.maxInFlight,
      maxQueueDepth: c.maxQueueDepth,
      queuePolicy: c.queuePolicy,
      sharedMemoryBytes: this.runtime.core.bytesInUse(),
    };
    if (c.type === 'parallel') {
      state.poolSize = c.poolSize;
      // Each worker's cell counts the calls it runs.
      state.queueDepthByWorker = this.workerCells().map((w) => w.running);
    }
    return state;
  }

  snapshot() {
    return { taskId: this.id, taskName: this.name, init: this.config.init, ...this.state(), workers: this.workerCells() };
  }

  /**
   * The cell of seat `seat` in shared memory: `u32`, a view that covers it (the views may
   * predate the growth that made room for this task's block), and `w`, its first word.
   */
  cell(seat) {
    const at = this.cellsAddr + seat * L.CELL_SIZE;
    return { u32: this.runtime.views.cover(at + L.CELL_SIZE).u32, w: at >>> 2 };
  }

  /** What each worker's cell in shared memory says. */
  workerCells() {
    if (this.disposed) return [];
    return this.pool.members.map((m, index) => {
      if (m.seat < 0) return { index, status: m.status, phase: 'stopped', beats: 0, heartbeatAgeMs: null, completed: 0, running: 0, discarded: 0 };
      const { u32, w } = this.cell(m.seat);
      const age = this.runtime.core.silence(this.index, m.seat);
      return {
        index,
        status: m.status,
        // How long its heartbeat has been still, as the watchdog counts it (null until the
        // worker finished its start-up).
        heartbeatAgeMs: age < 0 ? null : age,
        phase: PHASES[u32[w + (L.CELL_PHASE >>> 2)]] ?? 'unknown',
        beats: u32[w + (L.CELL_BEAT >>> 2)],
        completed: u32[w + (L.CELL_COMPLETED >>> 2)],
        running: u32[w + (L.CELL_RUNNING >>> 2)],
        discarded: u32[w + (L.CELL_DISCARDED >>> 2)],
      };
    });
  }

  /** Rejects every outstanding call with `makeError(call)`. */
  failAll(makeError) {
    this.runtime.failTask(this, makeError);
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.idleTimer);
    this.runtime.lingering.delete(this);
    this.pool.terminate();
    this.failAll((call) => new TaskDisposedError(`task ${this.name} was disposed while ${call.method}() was waiting or running`));
    const runtime = this.runtime;
    runtime.dropSide(this, undefined, '');
    runtime.tasks.delete(this);
    runtime.core.removeTask(this.index);
    // The terminated workers may still finish their last instructions on the task's
    // memory: it is freed after the quarantine.
    setTimeout(() => {
      if (!runtime.coreFreed) runtime.core.releaseTask(this.index);
    }, QUARANTINE_MS);
  }
}

