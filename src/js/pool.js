// A task's workers: spawning, the one-time start-up handshake, and their lifecycle events.
//
// The handshake is the only place postMessage is used (protocol.js): the worker says
// hello once `createTaskWorker` has run, the pool answers with the compiled module, the
// shared memory and the task's address, and the worker says ready once it is attached.
// After that the worker pulls calls from the task's ring by itself.
import { wasmMemory, wasmModule } from './wasm.js';
import { LAYOUT_FINGERPRINT } from './layout.js';
import { MSG_HELLO, MSG_INIT, MSG_READY, MSG_FAIL, protocolType } from './protocol.js';
import { WorkerCrashedError } from './errors.js';

class Member {
  constructor(index) {
    this.index = index;
    this.worker = null;
    this.status = 'stopped'; // starting | running | stopped | crashed
    this.timer = 0;
  }
}

export class WorkerPool {
  constructor(task) {
    this.task = task;
    this.members = [];
    for (let i = 0; i < task.config.poolSize; i++) this.members.push(new Member(i));
    this.started = false;
    this.lastCrash = null;
    this.failure = null;
  }

  size() {
    return this.members.length;
  }

  ready() {
    return this.members.filter((m) => m.status === 'running').length;
  }

  status() {
    if (this.members.some((m) => m.status === 'crashed')) return 'crashed';
    if (this.members.some((m) => m.status === 'running' || m.status === 'starting')) return 'running';
    return 'stopped';
  }

  start() {
    if (this.started) return;
    this.started = true;
    for (const m of this.members) this.spawn(m);
  }

  stop() {
    // Pausing and requeueing running work is not built yet: stopping terminates the
    // workers, and outstanding calls fail rather than hang.
    this.terminate();
    this.task.failAll(
      (call) =>
        new WorkerCrashedError(`stopWorkers() stopped the workers of task ${this.task.name} while ${call.method}() was outstanding`, {
          taskId: this.task.id,
          reason: 'exit',
        }),
    );
    this.started = false;
  }

  terminate() {
    for (const m of this.members) {
      clearTimeout(m.timer);
      if (m.worker) m.worker.terminate();
      m.worker = null;
      m.status = 'stopped';
    }
  }

  spawn(m) {
    const task = this.task;
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
      if (type === null || m.worker !== worker) return;
      if (type === MSG_HELLO) {
        worker.postMessage({
          __atelier: MSG_INIT,
          module: wasmModule,
          memory: wasmMemory,
          task: task.runtime.core.taskAddr(task.index),
          index: m.index,
          layout: LAYOUT_FINGERPRINT,
          taskName: task.name,
          poolSize: task.config.poolSize,
        });
      } else if (type === MSG_READY) {
        clearTimeout(m.timer);
        m.status = 'running';
      } else if (type === MSG_FAIL) {
        this.crash(m, 'load', data.error, `worker ${m.index} of task ${task.name} failed to start: ${data.error && data.error.message}`);
      }
    });
    worker.addEventListener('error', (event) => {
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
   * A worker failed. Restart policies come with crash recovery; until then the crash is
   * reported to every outstanding call of the task (none may hang), a worker that threw
   * is replaced, and a worker that fails to load makes later calls fail at once.
   */
  crash(m, reason, cause, message) {
    const task = this.task;
    clearTimeout(m.timer);
    if (m.worker) m.worker.terminate();
    m.worker = null;
    m.status = 'crashed';
    const info = { taskId: task.id, workerIndex: m.index, reason, cause };
    this.lastCrash = { ts: Date.now(), error: message, workerIndex: m.index, reason };
    task.failAll(() => new WorkerCrashedError(message, info));
    if (reason === 'load') {
      this.failure = new WorkerCrashedError(message, info);
      this.terminate();
    } else if (this.started) {
      this.spawn(m);
    }
  }
}
