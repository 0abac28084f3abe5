// parallelLimit(items, limit, fn, options?) and yieldAsCompleted(promises): bounded fan-out
// over any (async) iterable, yielding results in completion order. Plain JS, no shared memory:
// `fn` is usually a task's method, whose own queue applies on top.

const ERROR_POLICIES = ['fail-fast', 'continue'];
const OPTIONS = ['errorPolicy', 'returnSettled', 'onError', 'signal', 'abortTaskController', 'keyOf'];

function isAbortError(e) {
  return e !== null && typeof e === 'object' && e.name === 'AbortError';
}

function checkOptions(limit, fn, options) {
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 1) {
    throw new RangeError(`parallelLimit: limit must be a finite number >= 1 (got ${String(limit)})`);
  }
  if (typeof fn !== 'function') throw new TypeError('parallelLimit: fn must be a function (item, index) => Promise');
  if (options === null || typeof options !== 'object') throw new TypeError('parallelLimit: options must be an object or omitted');
  for (const name of Object.keys(options)) {
    if (!OPTIONS.includes(name)) throw new TypeError(`parallelLimit: unknown option "${name}"; the options are ${OPTIONS.join(', ')}`);
  }
  const { errorPolicy = 'fail-fast', returnSettled = false, onError, signal, abortTaskController, keyOf } = options;
  if (!ERROR_POLICIES.includes(errorPolicy)) {
    throw new TypeError(`parallelLimit: errorPolicy must be 'fail-fast' or 'continue' (got ${String(errorPolicy)})`);
  }
  if (typeof returnSettled !== 'boolean') throw new TypeError('parallelLimit: returnSettled must be a boolean');
  if (onError !== undefined && typeof onError !== 'function') throw new TypeError('parallelLimit: onError must be a function (error, item) => void');
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('parallelLimit: signal must be an AbortSignal');
  if (keyOf !== undefined && typeof keyOf !== 'function') throw new TypeError('parallelLimit: keyOf must be a function (item) => string');
  if (abortTaskController !== undefined && (abortTaskController === null || typeof abortTaskController.isAborted !== 'function')) {
    throw new TypeError("parallelLimit: abortTaskController must be a runtime's abortTaskController");
  }
  if ((keyOf === undefined) !== (abortTaskController === undefined)) {
    throw new TypeError('parallelLimit: keyOf and abortTaskController go together (keys are looked up in the controller)');
  }
  return { limit: Math.floor(limit), errorPolicy, returnSettled, onError, signal, ctl: abortTaskController, keyOf };
}

/**
 * Calls `fn(item, index)` for each item, at most `limit` at a time, and yields the results
 * in completion order. `errorPolicy: 'fail-fast'` (default) throws the first error;
 * `'continue'` skips failed items; `returnSettled: true` yields `{ status, value | error,
 * item }` and never throws; `onError(error, item)` hears of every failure. With `signal`, no
 * item starts after it aborts. With `abortTaskController` and `keyOf`, an item whose key is
 * aborted is not started, an `AbortError` is never fatal, and results of aborted keys are
 * dropped. Throws at once (before any `fn` call) for an invalid limit or option.
 */
export function parallelLimit(items, limit, fn, options = {}) {
  if (items === null || items === undefined || (typeof items[Symbol.iterator] !== 'function' && typeof items[Symbol.asyncIterator] !== 'function')) {
    throw new TypeError('parallelLimit: items must be an iterable or an async iterable');
  }
  const o = checkOptions(limit, fn, options);
  return run(items, fn, o);
}

async function* run(items, fn, o) {
  const source = typeof items[Symbol.asyncIterator] === 'function' ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const running = new Map(); // token -> promise of a settled record
  let index = 0;
  let exhausted = false;
  let token = 0;
  const aborted = (item) => o.ctl !== undefined && o.ctl.isAborted(String(o.keyOf(item)));

  // Starts items until `limit` are running or the source runs dry.
  const fill = async () => {
    while (!exhausted && running.size < o.limit && !(o.signal && o.signal.aborted)) {
      const next = await source.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const item = next.value;
      const i = index++;
      if (aborted(item)) continue;
      const t = token++;
      let p;
      try {
        p = Promise.resolve(fn(item, i));
      } catch (error) {
        p = Promise.reject(error);
      }
      running.set(t, p.then(
        (value) => ({ t, item, ok: true, value }),
        (error) => ({ t, item, ok: false, error }),
      ));
    }
  };

  try {
    for (;;) {
      await fill();
      if (running.size === 0) return;
      const r = await Promise.race(running.values());
      running.delete(r.t);
      // A key aborted while its item ran: the result is dropped.
      if (aborted(r.item)) continue;
      if (r.ok) {
        yield o.returnSettled ? { status: 'fulfilled', value: r.value, item: r.item } : r.value;
        continue;
      }
      if (o.onError !== undefined) o.onError(r.error, r.item);
      if (o.returnSettled) {
        yield { status: 'rejected', error: r.error, item: r.item };
      } else if (isAbortError(r.error) && (o.ctl !== undefined || o.signal !== undefined)) {
        // Cancellation the caller asked for is not a failure of the run.
      } else if (o.errorPolicy === 'fail-fast') {
        throw r.error;
      }
    }
  } finally {
    // Stopped early (an error, a break): start nothing more; what runs settles on its own.
    exhausted = true;
    if (typeof source.return === 'function') {
      try {
        await source.return();
      } catch {
        // the source's own cleanup failed: nothing to add
      }
    }
  }
}

/** Yields the results of `promises` in the order they settle; a rejection is thrown. */
export async function* yieldAsCompleted(promises) {
  if (promises === null || promises === undefined || typeof promises[Symbol.iterator] !== 'function') {
    throw new TypeError('yieldAsCompleted: promises must be an iterable of promises');
  }
  const pending = new Map();
  let t = 0;
  for (const p of promises) {
    const k = t++;
    pending.set(k, Promise.resolve(p).then((value) => ({ k, ok: true, value }), (error) => ({ k, ok: false, error })));
  }
  while (pending.size > 0) {
    const r = await Promise.race(pending.values());
    pending.delete(r.k);
    if (!r.ok) throw r.error;
    yield r.value;
  }
}
