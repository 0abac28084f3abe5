// A worker script that throws while it loads, before it calls createTaskWorker().
import { createTaskWorker } from '/pkg/worker.js';

throw new Error('the worker script failed while loading');
// eslint-disable-next-line no-unreachable
createTaskWorker({});
