// The playground's Atelier workers: the pipeline's stages, and the misbehaviours the
// playground shows the runtime surviving.
import { createTaskWorker } from '/pkg/worker.js';
import { decode, resize, analyze } from './pipeline.js';

createTaskWorker({
  decode(seed, size, ctx) {
    return decode(seed, size, () => ctx.throwIfAborted());
  },
  resize(px, size, ctx) {
    return resize(px, size, () => ctx.throwIfAborted());
  },
  analyze(px, size, ctx) {
    return analyze(px, size, () => ctx.throwIfAborted());
  },
  /** Crashes its worker: an uncaught error thrown outside the handler. */
  crash() {
    setTimeout(() => {
      throw new Error('injected crash');
    });
    return new Promise(() => {});
  },
  /** `while (true) {}`: never returns, never looks at its cancellation. */
  stuck() {
    for (;;) {
      // stuck
    }
  },
  /** A synchronous loop that checks its cancellation: returns how long it ran. */
  spin(ms, ctx) {
    const t0 = performance.now();
    while (performance.now() - t0 < ms) ctx.throwIfAborted();
    return performance.now() - t0;
  },
});
