// Keyed cancellation (`runtime.abortTaskController`) and the AbortErrors calls reject with.
//
// A key names a group of calls: `abort(key)` cancels every call made with it that has not
// settled. An aborted key stays aborted, as an AbortSignal does: calls made with it later
// reject at once, and `isAborted(key)` is true, until `clear(key)` (or `clearAll()`) forgets
// it. The controller keeps an entry only while calls hold the key, while the key is aborted,
// or after `signalFor(key)` handed its signal out (until `clear`), so keys made per item do
// not accumulate.

/** An `AbortError` as fetch rejects with; `cause` keeps a signal's own reason. */
export function abortError(message, cause) {
  const e = new DOMException(message, 'AbortError');
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause, writable: true, configurable: true });
  return e;
}

class Entry {
  constructor(key) {
    this.controller = new AbortController();
    this.key = key;
    this.holders = 0;
    this.pinned = false;
  }
}

function checkKey(method, key) {
  if (typeof key !== 'string') throw new TypeError(`abortTaskController.${method}(key): key must be a string (got ${typeof key})`);
}

export class AbortTaskController {
  constructor() {
    /** @type {Map<string, Entry>} */
    this.entries = new Map();
  }

  /** The signal that aborts when `abort(key)` is called (already aborted if it was). */
  signalFor(key) {
    checkKey('signalFor', key);
    const e = this.entry(key);
    e.pinned = true;
    return e.controller.signal;
  }

  /** Cancels every unsettled call made with `key`, and the calls made with it until `clear(key)`. */
  abort(key, reason) {
    checkKey('abort', key);
    const e = this.entry(key);
    if (!e.controller.signal.aborted) {
      e.controller.abort(reason !== undefined ? reason : abortError(`the call was aborted by abortTaskController.abort(${JSON.stringify(key)})`));
    }
  }

  /** `abort` for each key. */
  abortMany(keys, reason) {
    if (keys === null || typeof keys !== 'object' || typeof keys[Symbol.iterator] !== 'function') {
      throw new TypeError('abortTaskController.abortMany(keys): keys must be an iterable of strings');
    }
    for (const key of keys) this.abort(key, reason);
  }

  /** Whether `key` is aborted (and not cleared since). */
  isAborted(key) {
    checkKey('isAborted', key);
    const e = this.entries.get(key);
    return e !== undefined && e.controller.signal.aborted;
  }

  /**
   * Forgets `key`: an aborted key runs calls again; a signal handed out by `signalFor` is no
   * longer aborted by `abort(key)` (calls still running with the key still are).
   */
  clear(key) {
    checkKey('clear', key);
    const e = this.entries.get(key);
    if (e === undefined) return;
    e.pinned = false;
    if (e.holders === 0 || e.controller.signal.aborted) this.entries.delete(key);
  }

  /** `clear` for every key. */
  clearAll() {
    for (const key of [...this.entries.keys()]) this.clear(key);
  }

  entry(key) {
    let e = this.entries.get(key);
    if (e === undefined) {
      e = new Entry(key);
      this.entries.set(key, e);
    }
    return e;
  }

  /** A call takes `key`: returns its entry (release it when the call settles). */
  hold(key) {
    const e = this.entry(key);
    e.holders++;
    return e;
  }

  release(e) {
    e.holders--;
    if (e.holders === 0 && !e.pinned && !e.controller.signal.aborted && this.entries.get(e.key) === e) this.entries.delete(e.key);
  }
}
