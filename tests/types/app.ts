// An example app against the package's main entry: each line must type-check, except the ones
// marked @ts-expect-error, which must not (tsc fails if one of them compiles).
import {
  createTaskRuntime,
  parallelLimit,
  yieldAsCompleted,
  WorkerCrashedError,
  type Task,
  type TaskState,
} from 'atelier';
import type { Handlers } from './worker.js';

const runtime = createTaskRuntime({ maxSharedMemoryBytes: 256 << 20, observability: { spans: 'auto' } });
const images: Task<Handlers> = runtime.defineTask<Handlers>({
  type: 'parallel',
  poolSize: 2,
  queuePolicy: 'drop-oldest',
  crashPolicy: 'restart-requeue-in-flight',
  keyOf: (bytes: Uint8Array) => String(bytes.length),
  worker: () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }),
});

export async function main(bytes: Uint8Array): Promise<void> {
  const small: Uint8Array = await images.resize(bytes, 64); // the TaskContext is stripped
  const label: string = await images.with({ key: 'a', signal: AbortSignal.timeout(100) }).label(3);
  const state: TaskState = images.getState();
  const waiting: number = state.waitingQueueDepth;
  runtime.abortTaskController.abort('a');
  const unsubscribe: () => void = runtime.subscribeRuntimeSnapshot((s) => console.log(s.tasks.length), { onlyOnChange: true });
  unsubscribe();
  const off = runtime.subscribeEvents((e) => {
    if (e.kind === 'counter' && e.name === 'task.success.total') console.log(e.attrs['task.name'], e.value + e.ts);
    if (e.kind === 'span' && e.status === 'error') console.log(e.errorKind, e.durationMs);
  });
  const traced: number = await runtime.runWithTrace('batch', (trace) => images.with({ trace }).label(2).then((s) => s.length));
  console.log(traced, runtime.createTrace().traceId);
  off();
  // @ts-expect-error: a listener takes the event, not a string
  runtime.subscribeEvents((e: string) => e);
  for await (const s of parallelLimit([1, 2, 3], 2, (n) => images.label(n), { returnSettled: true })) {
    if (s.status === 'fulfilled') console.log(s.value.toUpperCase(), s.item + 1);
  }
  for await (const v of yieldAsCompleted([images.label(1), Promise.resolve(2)])) console.log(v);
  try {
    await images.label(1);
  } catch (e) {
    if (e instanceof WorkerCrashedError) console.log(e.reason, e.workerIndex, e.taskId);
  }
  console.log(small.byteLength, label, waiting, runtime.getRuntimeSnapshot().tasks[0]?.workers[0]?.heartbeatAgeMs);

  // @ts-expect-error: resize takes a Uint8Array and a number
  await images.resize('not bytes', 64);
  // @ts-expect-error: the task has no such handler
  await images.rotate(bytes);
  // @ts-expect-error: the result of label is a string, not a number
  const n: number = await images.label(1);
  // @ts-expect-error: queuePolicy has four values
  runtime.defineTask({ type: 'parallel', worker: () => new Worker('w.js'), queuePolicy: 'bogus' });
  // @ts-expect-error: the task proxy is not a thenable
  images.then;
  void n;
}
