// The demo's worker: CPU-bound work that cancels cooperatively.
import { createTaskWorker } from '/pkg/worker.js';

createTaskWorker({
  countPrimes(limit, ctx) {
    let count = 0;
    for (let n = 2; n < limit; n++) {
      if ((n & 0xffff) === 0) ctx.throwIfAborted();
      let prime = true;
      for (let d = 2; d * d <= n; d++) {
        if (n % d === 0) {
          prime = false;
          break;
        }
      }
      if (prime) count++;
    }
    return count;
  },
  noop() {},
});
