// A task's workers: spawning, the one-time start-up handshake, their lifecycle events, and
// taking back what a dead worker held.
//
// postMessage (protocol.js) carries the handshake, the side lane's values and nothing else
// a call needs: the worker says hello once `createTaskWorker` has run, the pool answers
// with the shared memory, the task's addresses and the worker's seat, and the worker says
// ready once it is attached. After that the worker takes calls from the task's queue by
// itself.
//
// Every worker gets a seat (a cell, a completion ring, an arena) from the controller when it
// is spawned. When a worker dies (crash, failed start, stopWorkers, dispose), the controller
// takes back every slot it held at once (its running calls fail, or are requeued by
// stopWorkers), and the seat itself is quarantined for QUARANTINE_MS: `terminate()` stops a
// thread soon, not at once, and its last instructions may still touch its own seat.
//
// What a crash does to the task is the controller's decision (src/core/recovery.rs): restart
// after a backoff, requeueing or failing the crashed worker's running calls, or halt the task.
// Hangs and exits are found by the controller's watchdog (src/core/watchdog.rs), which the
// runtime ticks (runtime.js). See docs/crash-recovery.md.
import { wasmMemory } from './wasm.js';
import { LAYOUT_FINGERPRINT, PROTOCOL_VERSION } from './layout.js';
import { MSG_HELLO, MSG_INIT, MSG_READY, MSG_FAIL, MSG_FAULT, MSG_BELL, MSG_SIDE_WANT, MSG_SIDE_RESULT, protocolType } from './protocol.js';
import { BELL_SEQ, BELL_SLEEPERS, CELL_POSTS, CELL_QUOTA, CELL_RUNNING, SLOT_SIZE, SLOT_STATE, STATE_OWNER_SHIFT, STATE_OWNER_MASK, STATE_KIND_SHIFT, STATE_PENDING, STATE_GEN_MASK } from './layout.js';
import { WorkerCrashedError } from './errors.js';

/**
 * How long a dead worker's seat (and a disposed task's shared memory) is kept before reuse.
 * `terminate()` stops an idle worker at once, but Chromium lets a worker that is running
 * script go on until its forcible-termination delay, 2 s (measured here: a terminated worker
 * in a synchronous loop kept storing to shared memory for 2.0 s). Until then such a zombie
 * may still claim and complete calls and write into its seat; it must find nothing there that
 * belongs to anyone else.
 */
export const QUARANTINE_MS = 3000;
/** How soon a seat release that found completions still unread is tried again. */
const RELEASE_RETRY_MS = 100;
/** How often a worker whose seats are all quarantined looks for a free one. */
const SEAT_RETRY_MS = 100;
/** How long a retired worker is left to deliver the values of results the page read. */
const SIDE_VALUES_WAIT_MS = 2000;
/** How often it is looked at meanwhile. */
const SIDE_VALUES_POLL_MS = 2;

class Member {
  constructor(index) {
    this.index = index;
    this.worker = null;
    this.seat = -1;
    this.status = 'stopped'; // starting | running | stopping | stopped | crashed
    // Calls handed to this worker ({ slot, gen }) that it may not have claimed yet.
    this.handed = [];
    this.timer = 0;
  }
}

export class WorkerPool {
  constructor(task) {
    this.task = task;
    this.members = [];
    for (let i = 0; i < task.config.poolSize; i++) this.members.push(new Member(i));
    this.started = false;
    // stopWorkers() pauses the task: calls queue, and nothing starts the workers again
    // until startWorkers().
    this.paused = false;
    this.lastCrash = null;
    // The WorkerCrashedError that halted the task (fail-task or escalation), until
    // startWorkers().
    this.failure = null;
    this.spawned = 0;
    // Workers terminated by a hard cancel (cancelGraceMs).
    this.terminated = 0;
  }

  size() {
    return this.members.length;
  }

  ready() {
    return this.members.filter((m) => m.status === 'running').length;
  }

  /** The pool's `workerStatus`: crashed (a worker is down after a crash), running, stopping, stopped. */
  status() {
    if (this.members.some((m) => m.status === 'crashed')) return 'crashed';
    if (this.members.some((m) => m.status === 'running' || m.status === 'starting')) return 'running';
    if (this.members.some((m) => m.status === 'stopping')) return 'stopping';
    return 'stopped';
  }

  /** Whether any worker has finished its start-up (its heartbeat is watched). */
  watched() {
    return this.members.some((m) => m.status === 'running');
  }

  /** Starts the workers on a task's first call (init: 'lazy'), unless it is paused. */
  startLazily() {
    if (!this.started && !this.paused) this.start();
  }

  /** startWorkers(): resumes a paused task, lifts a halt, spawns every missing worker. */
  start() {
    this.paused = false;
    if (this.failure !== null) {
      this.failure = null;
      this.task.runtime.core.resume(this.task.index);
    }
    if (this.started) return;
    this.started = true;
    for (const m of this.members) {
      if (m.worker === null) {
        clearTimeout(m.timer);
        this.spawn(m);
      }
    }
  }

  /**
   * Stops every worker: their running calls go back to pending (with their next attempt)
   * and wait, with every other call, until `start()` (`pause`) or the next call.
   */
  stop(pause = true) {
    this.started = false;
    if (pause) this.paused = true;
    for (const m of this.members) {
      const had = m.worker !== null;
      if (had) this.count('worker.terminate.total');
      this.retire(m, true);
      if (!had) {
        m.status = 'stopped';
        continue;
      }
      // Stopping until the terminated thread's quarantine is over.
      m.status = 'stopping';
      m.timer = setTimeout(() => {
        m.timer = 0;
        if (m.status === 'stopping') m.status = 'stopped';
      }, QUARANTINE_MS);
    }
  }

  /** One more of counter `name` for the task's event listeners. */
  count(name) {
    const events = this.task.runtime.events;
    if (events.observed) events.metric('counter', name, 1, this.task.attrs);
  }

  /** Terminates every worker of a task that is going away (its memory is freed whole). */
  terminate() {
    this.started = false;
    for (const m of this.members) {
      clearTimeout(m.timer);
      if (m.worker) m.worker.terminate();
      m.worker = null;
      m.seat = -1;
      m.status = 'stopped';
    }
  }

  /**
   * Terminates `m`'s worker and takes back its seat: running calls are requeued
   * (`requeue`) or returned, to fail with the crash.
   */
  retire(m, requeue) {
    clearTimeout(m.timer);
    const worker = m.worker;
    m.worker = null;
    if (m.seat < 0) {
      if (worker) worker.terminate();
      return [];
    }
    const task = this.task;
    const core = task.runtime.core;
    const seat = m.seat;
    m.handed = [];
    // What the worker published so far is read first: a completion whose values it posted
    // waits for them (runtime.js, sideResult), and the worker is terminated once they came.
    // What it publishes from now on is taken back with its seat (a completion with values
    // counts as running then: src/core/task.rs, sweep).
    if (worker && !task.disposed && !task.runtime.coreFreed) task.runtime.settleAll(task);
    m.seat = -1;
    const events = task.runtime.events;
    const requeuedBefore = events.observed ? core.requeued(task.index) : 0;
    const failed = core.reclaim(task.index, seat, requeue);
    if (events.observed) {
      for (let n = core.requeued(task.index) - requeuedBefore; n > 0; n--) this.count('task.requeue.total');
      task.gauges();
    }
    const release = () => {
      if (task.disposed || task.runtime.coreFreed) return;
      // Completions recovered from the seat are read first: the pump runs only while calls
      // are outstanding, and these may all belong to calls settled already. releaseSeat
      // sweeps the seat once more, and what a zombie published since joins the recovered
      // completions (it answers false): they are read, and the release tried again.
      for (let tries = 0; tries < 3; tries++) {
        task.runtime.settleAll(task);
        if (core.releaseSeat(task.index, seat)) return;
      }
      task.runtime.wakePump();
      setTimeout(release, RELEASE_RETRY_MS);
    };
    setTimeout(release, QUARANTINE_MS);
    if (worker) this.terminateAfterValues(worker, seat, m.index);
    // A requeued call may be pending for a worker that is being replaced, or for the pump.
    task.runtime.wakePump();
    return failed;
  }

  /**
   * Terminates a retired worker once the side-lane values of the completions the page read
   * from it have arrived (Chromium drops a worker's undelivered messages at terminate()):
   * at once when there are none, which is nearly always, and after SIDE_VALUES_WAIT_MS at the
   * latest. Its seat is taken back already, so it claims and publishes nothing meanwhile.
   */
  terminateAfterValues(worker, seat, index) {
    const task = this.task;
    const runtime = task.runtime;
    const until = performance.now() + SIDE_VALUES_WAIT_MS;
    const attempt = () => {
      if (!task.disposed && runtime.parkedOn(task, seat) > 0 && performance.now() < until) {
        setTimeout(attempt, SIDE_VALUES_POLL_MS);
        return;
      }
      worker.terminate();
      runtime.dropSide(task, seat, `worker ${index} of task ${task.name} was stopped before its results arrived`);
    };
    attempt();
  }

  spawn(m) {
    const task = this.task;
    const core = task.runtime.core;
    const seat = core.attach(task.index, m.index);
    if (seat === -1) {
      // Every seat of this worker index is still quarantined: spawn when one is free.
      m.status = 'starting';
      m.timer = setTimeout(() => {
        m.timer = 0;
        if (this.started && m.worker === null && !task.disposed) this.spawn(m);
      }, SEAT_RETRY_MS);
      return;
    }
    if (seat < 0) {
      this.crash(m, 'load', undefined, `worker ${m.index} of task ${task.name} cannot start: its result arena does not fit under the runtime's maxSharedMemoryBytes (${task.runtime.ceiling} bytes); raise it in createTaskRuntime({ maxSharedMemoryBytes })`);
      return;
    }
    m.seat = seat;
    let worker;
    try {
      worker = task.config.worker();
    } catch (error) {
      this.crash(m, 'load', error, `the task's worker() factory threw: ${error && error.message}`);
      return;
    }
    if (!(worker && typeof worker.postMessage === 'function' && typeof worker.addEventListener === 'function')) {
      this.crash(m, 'load', undefined, "the task's worker() factory must return a new Worker, e.g. new Worker(url, { type: 'module' })");
      return;
    }
    this.spawned++;
    this.count('worker.spawn.total');
    m.worker = worker;
    m.status = 'starting';
    m.timer = setTimeout(() => {
      this.crash(
        m,
        'load',
        undefined,
        `worker ${m.index} of task ${task.name} did not call createTaskWorker() within ${task.config.startupTimeoutMs} ms: check that the worker script loads (it must be a module worker served with COOP/COEP headers) and calls createTaskWorker(handlers)`,
      );
    }, task.config.startupTimeoutMs);
    worker.addEventListener('message', (event) => {
      const data = event.data;
      const type = protocolType(data);
      if (type === MSG_SIDE_RESULT) {
        // A result's values, even from a worker stopped since (retire waits for those of the
        // completions it read): the worker publishes the completion right after it posts them.
        task.runtime.sideResult(task, seat, data.token, data.values);
        return;
      }
      if (type === null || m.worker !== worker) return;
      if (type === MSG_SIDE_WANT) {
        task.runtime.sendSide(task, m, data.token);
      } else if (type === MSG_BELL) {
        task.runtime.wakePump();
      } else if (type === MSG_HELLO) {
        worker.postMessage({
          __atelier: MSG_INIT,
          memory: wasmMemory,
          info: core.taskInfo(task.index),
          seat,
          index: m.index,
          protocol: PROTOCOL_VERSION,
          layout: LAYOUT_FINGERPRINT,
          taskName: task.name,
          poolSize: task.config.poolSize,
          timeOrigin: performance.timeOrigin,
        });
      } else if (type === MSG_READY) {
        clearTimeout(m.timer);
        m.status = 'running';
        core.arm(task.index, seat);
        task.runtime.watchdog.start();
        task.gauges();
      } else if (type === MSG_FAIL) {
        this.crash(m, 'load', data.error, `worker ${m.index} of task ${task.name} failed to start: ${data.error && data.error.message}`);
      } else if (type === MSG_FAULT) {
        this.crash(m, 'error', data.error, `worker ${m.index} of task ${task.name} stopped: ${data.error && data.error.message}`);
      }
    });
    worker.addEventListener('error', (event) => {
      // The runtime handles the crash (the calls it hit reject with WorkerCrashedError), or
      // already replaced this worker: the error does not also surface as the page's own.
      event.preventDefault();
      if (m.worker !== worker) return;
      const loading = m.status === 'starting';
      const where = event.filename ? ` (${event.filename}:${event.lineno})` : '';
      const what = event.message || (loading ? 'the worker script failed to load (a missing file, a syntax error, or missing COOP/COEP/CORP headers on the script)' : 'an uncaught error');
      this.crash(m, loading ? 'load' : 'error', { message: event.message, filename: event.filename, lineno: event.lineno }, `worker ${m.index} of task ${task.name}: ${what}${where}`);
    });
    worker.addEventListener('messageerror', () => {
      if (m.worker !== worker) return;
      this.crash(m, 'error', undefined, `worker ${m.index} of task ${task.name} received a message it could not deserialize`);
    });
  }

  /**
   * The worker to hand a call with side-lane arguments to (runtime.js, submit): a started one
   * whose calls (those its cell says it runs, and those handed to it that it has not claimed
   * yet) are fewer than its quota, the least busy first; null when none has room (the call
   * then goes on the work queue, and its worker asks for the values).
   */
  handTarget() {
    let best = null;
    let bestLoad = Infinity;
    for (const m of this.members) {
      if (m.status !== 'running' || m.worker === null || m.seat < 0) continue;
      const { u32, w } = this.task.cell(m.seat);
      // Advisory words the worker writes: a wrong one only hands the call to a busy worker,
      // which claims it when it has room.
      const load = u32[w + (CELL_RUNNING >>> 2)] + this.unclaimed(m);
      if (load < u32[w + (CELL_QUOTA >>> 2)] && load < bestLoad) {
        best = m;
        bestLoad = load;
      }
    }
    return best;
  }

  /**
   * Posts `message` to `m`'s worker (moving `transfer`) and counts it in the worker's cell: a
   * worker spinning on the work queue cannot receive a message (its event loop is blocked),
   * so it stops spinning when the count moves (worker.js, spin).
   */
  post(m, message, transfer) {
    m.worker.postMessage(message, transfer);
    if (m.seat < 0) return;
    const { u32, w } = this.task.cell(m.seat);
    Atomics.add(u32, w + (CELL_POSTS >>> 2), 1);
  }

  /** Calls handed to `m`'s worker that it has not claimed yet (their slots still PENDING). */
  unclaimed(m) {
    if (m.handed.length === 0) return 0;
    const owner = (word) => (word >>> STATE_OWNER_SHIFT) & STATE_OWNER_MASK;
    m.handed = m.handed.filter(({ slot, gen }) => {
      const at = this.task.slotsAddr + slot * SLOT_SIZE;
      const word = this.task.runtime.views.cover(at + SLOT_SIZE).u32[(at + SLOT_STATE) >>> 2];
      return word >>> STATE_KIND_SHIFT === STATE_PENDING && owner(word) !== 0 && (word & STATE_GEN_MASK) === gen;
    });
    return m.handed.length;
  }

  /**
   * The doorbell fallback (protocol.js): where Atomics.waitAsync is missing, idle workers
   * sleep until a message; after the page published work, it posts one to each worker
   * while any of them counts itself asleep on the task's work doorbell.
   */
  ringFallbackBell() {
    const task = this.task;
    if (task.disposed) return;
    const bell = task.workBellWord;
    const i32 = task.runtime.views.cover(bell * 4 + 8).i32;
    const seq = Atomics.load(i32, bell + (BELL_SEQ >>> 2));
    if (seq === this.bellSeen || Atomics.load(i32, bell + (BELL_SLEEPERS >>> 2)) === 0) return;
    this.bellSeen = seq;
    for (const m of this.members) if (m.worker && m.status === 'running') m.worker.postMessage({ __atelier: MSG_BELL });
  }

  /**
   * Rings the task's work doorbell without new work: sleeping workers wake, beat and look at
   * the cancellation flags of the calls they run (a cancelled handler that awaits gets its
   * `ctx.signal` abort event now, not at its next heartbeat).
   */
  ringWorkBell() {
    const task = this.task;
    if (task.disposed) return;
    // The views may predate the growth that made room for this task's block.
    const i32 = task.runtime.views.cover(task.workBellWord * 4 + 8).i32;
    const seq = task.workBellWord + (BELL_SEQ >>> 2);
    Atomics.add(i32, seq, 1);
    Atomics.notify(i32, seq);
    if (task.runtime.fallback) this.ringFallbackBell();
  }

  /** Worker `index` wrote invalid words into shared memory: it is replaced, as a crash. */
  corrupt(index, message) {
    const m = this.members[index];
    if (m && m.worker) this.crash(m, 'error', undefined, message);
  }

  /**
   * The watchdog found the worker on `seat` hung (`'hang'`), gone (`'exit'`), or writing over
   * its completion ring (`'corrupt'`).
   */
  verdict(seat, reason) {
    const m = this.members.find((x) => x.seat === seat);
    if (m === undefined || m.worker === null) return;
    const task = this.task;
    if (reason === 'corrupt') {
      this.crash(m, 'error', undefined, `worker ${m.index} of task ${task.name} wrote values no completion ring can hold into its ring in shared memory and was replaced`);
      return;
    }
    const message = reason === 'hang'
      ? `worker ${m.index} of task ${task.name} ran a call without a heartbeat for hangTimeoutMs (${task.config.hangTimeoutMs} ms) and was terminated: a handler is stuck in synchronous code (call ctx.throwIfAborted() in long loops, or raise hangTimeoutMs)`
      : `worker ${m.index} of task ${task.name} stopped beating with nothing running (it called close(), or its thread is gone) and was replaced`;
    this.crash(m, reason, reason === 'hang' ? { hangTimeoutMs: task.config.hangTimeoutMs } : undefined, message);
  }

  /**
   * Hard cancel (cancelGraceMs): the cancelled call `id` still runs after the grace, so its
   * worker is terminated and replaced at once. Not a crash: no retry budget, no backoff; the
   * other calls running on that worker are requeued.
   */
  hardCancel(id) {
    const task = this.task;
    if (task.disposed) return;
    const seat = task.runtime.core.runningOn(task.index, id);
    if (seat < 0) return;
    const m = this.members.find((x) => x.seat === seat);
    if (m === undefined || m.worker === null) return;
    this.terminated++;
    this.count('worker.terminate.total');
    this.retire(m, true);
    m.status = 'stopped';
    if (this.started) this.spawn(m);
  }

  /**
   * A worker failed (`reason`: error, load, exit, hang). The controller's crash policy decides
   * (src/core/recovery.rs): restart it after the backoff, its running calls failing with
   * WorkerCrashedError or requeued; or halt the task (fail-task, or more crashes in a row
   * than crashMaxRetries): every call fails or is rejected with the error, and later calls
   * too, until startWorkers().
   */
  crash(m, reason, cause, message) {
    const task = this.task;
    const core = task.runtime.core;
    const info = { taskId: task.id, workerIndex: m.index, reason, cause };
    this.lastCrash = { ts: Date.now(), error: message, workerIndex: m.index, reason };
    this.count('worker.crash.total');
    const [halt, a, b] = core.crashed(task.index);
    if (halt === 1) {
      const escalated = a === 1;
      const why = escalated
        ? `${message} (the crashes in a row exceeded crashMaxRetries (${task.config.crashMaxRetries}), so task ${task.name} halted; call startWorkers() to resume it)`
        : `${message} (crashPolicy 'fail-task': task ${task.name} halted; call startWorkers() to resume it)`;
      this.halt(m, new WorkerCrashedError(why, info));
      return;
    }
    const failed = this.retire(m, b === 1);
    m.status = 'crashed';
    task.runtime.rejectCalls(failed, () => new WorkerCrashedError(message, info));
    // Restarts are eager: the worker comes back after the backoff whether calls wait or not.
    if (this.started) {
      m.timer = setTimeout(() => {
        m.timer = 0;
        if (this.started && m.worker === null && !task.disposed) this.spawn(m);
      }, a);
    }
  }

  /**
   * Halts the task after `m` crashed: its running calls and every other worker's fail with
   * `error`, waiting and pending calls are rejected with it, and so are later calls, until
   * startWorkers().
   */
  halt(m, error) {
    const task = this.task;
    this.failure = error;
    this.started = false;
    for (const x of this.members) {
      const failed = this.retire(x, false);
      task.runtime.rejectCalls(failed, () => error);
      x.status = x === m ? 'crashed' : 'stopped';
    }
    task.failAll(() => error);
  }
}
