// The worker of the guides' examples (docs/cancellation.md, docs/crash-recovery.md): the
// handlers below appear in the guides verbatim (src/js/tests/guides.test.js checks it).
import { createTaskWorker } from '/pkg/worker.js';

const charged = new Set();

createTaskWorker({
  // A long synchronous loop that stops when its call is cancelled.
  sumSquares(job, ctx) {
    let sum = 0;
    for (let i = 0; i < job.n; i++) {
      if ((i & 0xffff) === 0) ctx.throwIfAborted();
      sum += i * i;
    }
    return sum;
  },

  // An awaiting handler hands ctx.signal on to what it awaits.
  async pause(ms, ctx) {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      });
    });
    return ms;
  },

  // A handler that never looks at its cancellation flag.
  stubborn(ms) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      // busy
    }
    return ms;
  },

  // A side effect that must not happen twice checks ctx.attempt (1 on the first run).
  charge(order, ctx) {
    if (ctx.attempt > 1 && charged.has(order.id)) return 'already charged';
    charged.add(order.id);
    return 'charged';
  },

  // Crashes its worker (an uncaught error from a timer) on its first attempt.
  flaky(ctx) {
    if (ctx.attempt === 1) setTimeout(() => { throw new Error('flaky'); });
    return ctx.attempt === 1 ? new Promise(() => {}) : 'ok';
  },

  echo(value) {
    return value;
  },
});
