// The main-thread entry of the Atelier package.
//
//   import { createTaskRuntime } from '/pkg/index.js';
//   const runtime = createTaskRuntime();
//   const images = runtime.defineTask({
//     type: 'parallel',
//     worker: () => new Worker(new URL('./image-worker.js', import.meta.url), { type: 'module' }),
//     poolSize: 2,
//   });
//   const small = await images.resize(bitmapBytes, 256);
//
// The page must be cross-origin isolated (COOP/COEP headers); see README.md.
export { createTaskRuntime } from './runtime.js';
export { WorkerCrashedError, TaskDisposedError, QueueDropError } from './errors.js';
export { DataCloneError, DecodeError } from './codec.js';
export { parallelLimit, yieldAsCompleted } from './parallel.js';
