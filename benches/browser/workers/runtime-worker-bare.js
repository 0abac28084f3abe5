// The runtime's side of the observability benchmark, from the package built without its
// observability hooks (target/pkg-bare, see serve/src/build.rs).
import { createTaskWorker } from '/target/pkg-bare/worker.js';

createTaskWorker({
  noop() {},
});
