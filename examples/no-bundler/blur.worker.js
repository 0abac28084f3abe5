// The workers' script: it imports the worker entry of the package and registers handlers.
import { createTaskWorker } from '/pkg/worker.js';
import { boxBlur } from './blur.js';

createTaskWorker({
  boxBlur(rows, width, radius, ctx) {
    return boxBlur(rows, width, radius, () => ctx.throwIfAborted());
  },
});
