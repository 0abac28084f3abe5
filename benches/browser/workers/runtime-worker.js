// The runtime's side of the dispatch and buffer benchmarks.
import { createTaskWorker } from '/pkg/worker.js';
import { setSideLaneMinBytes } from '/pkg/codec.js';

createTaskWorker({
  noop() {},
  echo(value) {
    return value;
  },
  /** Sets this worker's side-lane threshold (for results): see suite.js, atelierEcho. */
  sideLane(minBytes) {
    setSideLaneMinBytes(minBytes);
  },
});
