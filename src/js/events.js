// The runtime's event stream (API contract Part A "Observability", C.1): metric events for
// every listener of `subscribeEvents`. Nothing is built or emitted while nobody listens: the
// runtime checks `observed` before it makes an event.
//
// A metric event is `{ kind, name, value, ts, attrs }`:
//   kind 'counter'    value 1, one event per increment (task.dispatch.total, ...)
//   kind 'gauge'      the new value, whenever it changed (queue.in_flight, ...)
//   kind 'histogram'  one sample in milliseconds (queue.wait_ms, task.duration_ms)
// `ts` is `performance.timeOrigin + performance.now()` (ms since the epoch, sub-ms
// precision); `attrs` holds `task.id`, `task.type` and `task.name` (one frozen object per
// task).
//
// The statements on the dispatch path that feed events and spans end in `// @hook` (or sit
// between `// @hook {` and `// @hook }` lines): `cargo atelier build` also writes the
// package without them (target/pkg-bare), which the `observability` benchmark measures the
// shipped package against.

/** Reports an error without throwing it (the page's error event, as an uncaught one would). */
export function reportError(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else setTimeout(() => {
    throw error;
  });
}

export class EventStream {
  constructor() {
    this.listeners = new Set();
    /** True while anyone listens: the runtime's hot paths test this and nothing else. */
    this.observed = false;
    /** Called when `observed` changes. */
    this.onChange = null;
  }

  set(observed) {
    if (observed === this.observed) return;
    this.observed = observed;
    if (this.onChange !== null) this.onChange();
  }

  subscribe(listener) {
    if (typeof listener !== 'function') throw new TypeError('subscribeEvents(listener): listener must be a function');
    // Each subscription is its own entry, so one function subscribed twice hears each event twice
    // and each unsubscribe removes one.
    const entry = { listener };
    this.listeners.add(entry);
    this.set(true);
    let live = true;
    return () => {
      if (!live) return;
      live = false;
      this.listeners.delete(entry);
      this.set(this.listeners.size > 0);
    };
  }

  /** Hands `event` to every listener; one that throws is reported and the others still hear it. */
  emit(event) {
    for (const entry of this.listeners) {
      try {
        entry.listener(event);
      } catch (error) {
        reportError(error);
      }
    }
  }

  metric(kind, name, value, attrs) {
    this.emit({ kind, name, value, ts: now(), attrs });
  }

  clear() {
    this.listeners.clear();
    this.set(false);
  }
}

/** Milliseconds since the epoch, with the precision of performance.now(). */
export function now() {
  return performance.timeOrigin + performance.now();
}

/** A call's outcome, as C.1 counts it. */
export const SUCCESS = 'task.success.total';
export const FAILURE = 'task.failure.total';
export const CANCELED = 'task.canceled.total';
export const REJECTED = 'task.rejected.total';

/** The outcome a call that rejects with `error` counts as (C.1). */
export function outcomeOf(error) {
  const name = error !== null && typeof error === 'object' ? error.name : undefined;
  if (name === 'AbortError') return CANCELED;
  if (name === 'QueueDropError' || name === 'TaskDisposedError') return REJECTED;
  return FAILURE;
}
