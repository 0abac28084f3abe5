// Types of the Atelier package's main entry (index.js). Hand-written: keep them in step with
// runtime.js, cancel.js, parallel.js and errors.js (tests/types/ type-checks an app against
// them in `cargo atelier test`).

/** The last argument of every handler. */
export interface TaskContext {
  /** Aborts when the call is cancelled (key, signal, timeout); `aborted` reads shared memory. */
  readonly signal: AbortSignal;
  /** The call's cancellation key, if it has one. */
  readonly key?: string;
  readonly callId: string;
  /** 1 on the call's first run, higher when it runs again after a requeue. */
  readonly attempt: number;
  /** Beats the worker's heartbeat; throws an AbortError when the call was cancelled. */
  throwIfAborted(): void;
}

type Handler = (...args: any[]) => unknown;

/** `(...args, ctx: TaskContext) => R` as the page calls it: `(...args) => Promise<R>`. */
export type StripTaskContext<F> = F extends (...args: infer A) => infer R
  ? (...args: A extends [...infer Head, TaskContext] ? Head : A) => Promise<Awaited<R>>
  : never;

export type TaskType = 'parallel' | 'singleton';
export type QueuePolicy = 'block' | 'reject' | 'drop-latest' | 'drop-oldest';
export type CrashPolicy = 'restart-fail-in-flight' | 'restart-requeue-in-flight' | 'fail-task';
export type CrashReason = 'error' | 'load' | 'exit' | 'hang';

export interface TaskConfig<H = Record<string, Handler>> {
  type: TaskType;
  worker: () => Worker;
  init?: 'lazy' | 'eager';
  poolSize?: number;
  maxInFlight?: number;
  maxQueueDepth?: number;
  queuePolicy?: QueuePolicy;
  keyOf?: (...args: any[]) => string | undefined | null;
  timeoutMs?: number;
  crashPolicy?: CrashPolicy;
  crashMaxRetries?: number;
  idleTimeoutMs?: number;
  hangTimeoutMs?: number;
  cancelGraceMs?: number;
  startupTimeoutMs?: number;
  taskName?: string;
  taskId?: string;
}

export interface CallOptions {
  key?: string;
  signal?: AbortSignal;
  /** The trace the call's span joins (runtime.createTrace()). */
  trace?: TraceContext | null;
  /**
   * What the call moves, as postMessage's transfer list (default: every transferable value
   * it sends; [] copies what can be copied).
   */
  transfer?: Transferable[];
  transferResult?: boolean;
}

export interface LastCrash {
  ts: number;
  error: string;
  workerIndex: number;
  reason: CrashReason;
}

export interface TaskState {
  type: TaskType;
  totalWorkers: number;
  activeWorkers: number;
  workerStatus: 'running' | 'stopped' | 'stopping' | 'crashed';
  lastCrash: LastCrash | null;
  taskStatus: 'idle' | 'active' | 'paused';
  totalDispatched: number;
  queueDepth: number;
  pendingQueueDepth: number;
  waitingQueueDepth: number;
  maxInFlight: number;
  maxQueueDepth: number;
  queuePolicy: QueuePolicy;
  sharedMemoryBytes: number;
  /** Parallel tasks only. */
  poolSize?: number;
  /** Parallel tasks only. */
  queueDepthByWorker?: number[];
}

export interface WorkerSnapshot {
  index: number;
  status: 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';
  phase: string;
  beats: number;
  /** How long its heartbeat has been still, as the watchdog counts it; null before it started. */
  heartbeatAgeMs: number | null;
  completed: number;
  running: number;
  discarded: number;
}

export interface RuntimeTaskSnapshot extends TaskState {
  taskId: string;
  taskName: string;
  init: 'lazy' | 'eager';
  workers: WorkerSnapshot[];
}

export interface SharedMemorySnapshot {
  bytesInUse: number;
  ceiling: number;
  slots: number;
  waiting: number;
  seats: number;
  retired: number;
  staging: number;
  heapBytes: number;
  memoryBytes: number;
}

export interface RuntimeSnapshot {
  tasks: RuntimeTaskSnapshot[];
  sharedMemory: SharedMemorySnapshot;
}

/** The reserved members of a task proxy. */
export interface TaskControls<H> {
  with(options: CallOptions): Task<H>;
  getState(): TaskState;
  startWorkers(): void;
  stopWorkers(): void;
  dispose(): void;
}

/** A task proxy: each handler of `H` as a method returning a promise, and the controls. */
export type Task<H = Record<string, Handler>> = {
  readonly [K in Exclude<keyof H, keyof TaskControls<H> | 'then'>]: StripTaskContext<H[K]>;
} & TaskControls<H>;

export declare class AbortTaskController {
  signalFor(key: string): AbortSignal;
  abort(key: string, reason?: unknown): void;
  abortMany(keys: Iterable<string>, reason?: unknown): void;
  isAborted(key: string): boolean;
  clear(key: string): void;
  clearAll(): void;
}

export type SpanMode = 'auto' | 'on' | 'off';

export interface RuntimeConfig {
  observability?: { spans?: SpanMode | { mode?: SpanMode; sampleRate?: number } };
  /** The most shared memory the runtime's calls may hold (default 512 MiB). */
  maxSharedMemoryBytes?: number;
}

export interface TaskRuntime {
  defineTask<H = Record<string, Handler>>(config: TaskConfig<H>): Task<H>;
  readonly abortTaskController: AbortTaskController;
  getRuntimeSnapshot(): RuntimeSnapshot;
  /** Calls `listener` every `intervalMs` (250); returns the function that unsubscribes. */
  subscribeRuntimeSnapshot(
    listener: (snapshot: RuntimeSnapshot) => void,
    options?: { intervalMs?: number; emitImmediately?: boolean; onlyOnChange?: boolean },
  ): () => void;
  /** Calls `listener` with every event; returns the function that unsubscribes. */
  subscribeEvents(listener: (event: AtelierEvent) => void): () => void;
  /** A trace for calls made with `task.with({ trace })`. */
  createTrace(name?: string): TraceContext;
  /** Runs `fn(trace)`; the trace ends 'ok', 'error', or 'canceled' for an AbortError. */
  runWithTrace<T>(name: string | undefined, fn: (trace: TraceContext) => T | Promise<T>): Promise<T>;
  /** Disposes every task and frees the runtime's shared memory. */
  dispose(): void;
}

export interface TraceContext {
  readonly traceId: string;
  readonly name: string | undefined;
  /** Whether its calls' spans are sampled (decided when it was created). */
  readonly sampled: boolean;
  readonly ended: boolean;
  end(status?: 'ok' | 'error' | 'canceled', error?: unknown): void;
}

export type ErrorKind = 'abort' | 'queue' | 'crash' | 'exception';

export interface SpanEvent {
  kind: 'span';
  name: 'atelier:span';
  ts: number;
  spanId: string;
  traceId?: string;
  traceName?: string;
  /** Empty for a call refused before it was made. */
  callId: string;
  taskId: string;
  taskName?: string;
  taskType: TaskType;
  method: string;
  workerIndex?: number;
  queueWaitMs?: number;
  queueWaitLastMs?: number;
  attemptCount: number;
  durationMs?: number;
  status: 'ok' | 'error' | 'canceled';
  errorKind?: ErrorKind;
  error?: string;
}

export interface TraceEvent {
  kind: 'trace';
  name: 'atelier:trace';
  ts: number;
  traceId: string;
  traceName?: string;
  status: 'ok' | 'error' | 'canceled';
  durationMs: number;
  spanCount: number;
  errorKind?: ErrorKind;
  error?: string;
}

export type AtelierEvent = MetricEvent | SpanEvent | TraceEvent;

/** A counter (value 1 per increment), a gauge (its new value) or a histogram sample (ms). */
export interface MetricEvent {
  kind: 'counter' | 'gauge' | 'histogram';
  name:
    | 'task.dispatch.total' | 'task.success.total' | 'task.failure.total' | 'task.canceled.total'
    | 'task.rejected.total' | 'task.requeue.total' | 'worker.spawn.total' | 'worker.crash.total'
    | 'worker.terminate.total' | 'queue.in_flight' | 'queue.pending' | 'queue.waiting'
    | 'workers.active' | 'queue.wait_ms' | 'task.duration_ms';
  value: number;
  /** Milliseconds since the epoch. */
  ts: number;
  attrs: { readonly 'task.id': string; readonly 'task.type': TaskType; readonly 'task.name': string };
}

/** Throws at once when the page is not cross-origin isolated. */
export declare function createTaskRuntime(config?: RuntimeConfig): TaskRuntime;

export declare class WorkerCrashedError extends Error {
  readonly name: 'WorkerCrashedError';
  readonly taskId: string;
  readonly workerIndex: number;
  readonly reason: CrashReason;
}
export declare class TaskDisposedError extends Error {
  readonly name: 'TaskDisposedError';
}
export declare class QueueDropError extends Error {
  readonly name: 'QueueDropError';
}
export declare class DataCloneError extends Error {}
export declare class DecodeError extends Error {}

export type Settled<T, R> =
  | { status: 'fulfilled'; value: R; item: T }
  | { status: 'rejected'; error: unknown; item: T };

export interface ParallelLimitOptions<T> {
  errorPolicy?: 'fail-fast' | 'continue';
  onError?: (error: unknown, item: T) => void;
  signal?: AbortSignal;
  abortTaskController?: AbortTaskController;
  keyOf?: (item: T) => string;
}

export declare function parallelLimit<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => R | PromiseLike<R>,
  options: ParallelLimitOptions<T> & { returnSettled: true },
): AsyncGenerator<Settled<T, Awaited<R>>, void, undefined>;
export declare function parallelLimit<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T, index: number) => R | PromiseLike<R>,
  options?: ParallelLimitOptions<T> & { returnSettled?: false },
): AsyncGenerator<Awaited<R>, void, undefined>;

export declare function yieldAsCompleted<T>(promises: Iterable<T>): AsyncGenerator<Awaited<T>, void, undefined>;
