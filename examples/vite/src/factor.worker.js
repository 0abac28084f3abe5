// The workers' script: the package's worker entry, and the handlers.
import { createTaskWorker } from 'atelier/worker';
import { factor } from './factor.js';

createTaskWorker({
  factor(n, ctx) {
    return factor(n, () => ctx.throwIfAborted());
  },
});
