// The cancellation and crash-recovery suites' worker: handlers that spin, hang, await, crash,
// exit, and report what their TaskContext says. Handlers that see an abort post the instant
// (on the shared time line, timeOrigin + now) to the page, which measures the latency.
import '/tests/browser/no-wait-async.js';
import { createTaskWorker } from '/pkg/worker.js';

const me = `${Math.random().toString(36).slice(2)}-${Date.now()}`;
const now = () => performance.timeOrigin + performance.now();

function spin(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: a CPU-bound handler
  }
}

createTaskWorker({
  echo(value) {
    return value;
  },
  whoami() {
    return me;
  },
  context(ctx) {
    return { key: ctx.key ?? null, callId: ctx.callId, attempt: ctx.attempt, args: arguments.length };
  },
  attempt(ms, ctx) {
    spin(ms);
    return ctx.attempt;
  },
  spin(ms) {
    spin(ms);
    return me;
  },
  async sleep(ms, value) {
    await new Promise((r) => setTimeout(r, ms));
    return value;
  },
  /** Spins on throwIfAborted() without ever yielding, for at most `ms`. */
  spinUntilAborted(ms, ctx) {
    const until = performance.now() + ms;
    try {
      while (performance.now() < until) ctx.throwIfAborted();
    } catch (e) {
      self.postMessage({ stopped: now(), name: e.name, message: e.message, via: 'throwIfAborted' });
      throw e;
    }
    return 'not aborted';
  },
  /** Spins reading ctx.signal.aborted, for at most `ms`. */
  spinOnSignal(ms, ctx) {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      if (ctx.signal.aborted) {
        self.postMessage({ stopped: now(), name: ctx.signal.reason && ctx.signal.reason.name, via: 'signal.aborted' });
        return 'saw it';
      }
    }
    return 'not aborted';
  },
  /** Awaits, for at most `ms`, the abort event of ctx.signal. */
  awaitAbort(ms, ctx) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve('not aborted'), ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        self.postMessage({ stopped: now(), name: ctx.signal.reason.name, message: ctx.signal.reason.message, via: 'abort event' });
        reject(ctx.signal.reason);
      });
    });
  },
  spinForever() {
    for (;;) {
      // a handler that never yields and never beats
    }
  },
  /** Crashes the worker from a timer while the call is running: an uncaught error. */
  crash() {
    setTimeout(() => {
      throw new Error('boom from a timer');
    }, 0);
    return new Promise(() => {});
  },
  /** Crashes its worker on the first attempt; a re-run returns its attempt. */
  crashUnlessRetried(ctx) {
    if (ctx.attempt > 1) return ctx.attempt;
    setTimeout(() => {
      throw new Error('crash on attempt 1');
    }, 0);
    return new Promise(() => {});
  },
  /** Throws `message`: the call fails, the worker lives on. */
  throwIt(message) {
    throw new Error(message);
  },
  /** Returns, then closes the worker: it stops beating with nothing running. */
  closeSoon() {
    setTimeout(() => self.close(), 20);
    return 'closing';
  },
  /** Leaves a rejected promise nobody handles: the app's bug, not a crash. */
  stray() {
    Promise.reject(new Error('a stray rejection'));
    return 'still fine';
  },
});
