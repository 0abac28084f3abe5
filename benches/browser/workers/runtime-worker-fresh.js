// The runtime's side of the observability benchmark, from the shipped package loaded under
// another path (target/pkg, served from the repository root), so that it is a module graph
// of its own like the bare one it is compared with.
import { createTaskWorker } from '/target/pkg/worker.js';

createTaskWorker({
  noop() {},
});
