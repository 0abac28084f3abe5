// The runtime's side of the dispatch benchmarks: a no-op handler.
import { createTaskWorker } from '/pkg/worker.js';

createTaskWorker({
  noop() {},
  echo(value) {
    return value;
  },
});
