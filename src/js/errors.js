// The named errors calls reject with. Each message names the cause and the fix.

/** A worker died (error event, failed load, exit or hang) while it ran the call. */
export class WorkerCrashedError extends Error {
  constructor(message, { taskId, workerIndex, reason, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'WorkerCrashedError';
    this.taskId = taskId;
    this.workerIndex = workerIndex;
    this.reason = reason;
  }
}

/** A call on a task that was disposed, or disposed while the call waited or ran. */
export class TaskDisposedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TaskDisposedError';
  }
}

/** A call dropped or rejected by the task's queue policy. */
export class QueueDropError extends Error {
  constructor(message) {
    super(message);
    this.name = 'QueueDropError';
  }
}

/** The error thrown when the page cannot use shared memory. */
export function notIsolatedError() {
  return new Error(
    'Atelier needs a cross-origin isolated page (crossOriginIsolated is false here), because its calls ' +
      'travel through shared memory. Serve the page, its scripts, its wasm and its worker scripts with the headers ' +
      '`Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp` ' +
      '(COOP/COEP; `cargo atelier serve` does this for local development).',
  );
}
