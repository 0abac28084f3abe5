// Atelier codec: the backing stores of moved buffers, kept for the next decoded buffer.
//
// A buffer that arrives through shared memory is a fresh ArrayBuffer the decoder copies the
// bytes into. Writing into fresh memory is what costs: the operating system hands it out
// page by page on first touch, and in headless Chromium on these machines a fresh 64 KiB
// ArrayBuffer filled from shared memory takes about 36 µs where a used one takes 3.5 µs
// (1 MiB: 530 µs against 23 µs). postMessage's transfer never pays it: the receiver gets
// the sender's memory.
//
// So a buffer the runtime detaches because it moved (a call's arguments on the page, a
// result's buffers in the worker) is not thrown away: `ArrayBuffer.prototype.transfer()`
// detaches it exactly as before and hands its backing store, already touched, to this pool;
// the decoder takes a pooled buffer of exactly the length it needs before it makes a new
// one. Each one is overwritten in full before anyone sees it, and `transfer()` leaves no
// other owner, so nothing of an earlier value is ever visible. In a call that echoes or
// maps buffers of one size, neither side makes a fresh buffer after the first call.
//
// The pool is bounded (POOL_MAX_BYTES per thread, buffers from POOL_MIN_BYTES up to
// POOL_MAX_BUFFER_BYTES) and forgets: a length nobody took for POOL_IDLE_MS is dropped, and
// once the pool is empty its timer stops. See docs/values.md ("Buffers that move").

/** Buffers smaller than this are cheap to make fresh: they are not pooled. */
export const POOL_MIN_BYTES = 4096;
/** The largest buffer pooled (larger ones move by the side lane at the default threshold). */
export const POOL_MAX_BUFFER_BYTES = 4 << 20;
/** The most bytes the pool of one thread holds. */
export const POOL_MAX_BYTES = 16 << 20;
/** A length no decode took for this long (two sweeps at most) leaves the pool. */
export const POOL_IDLE_MS = 2000;

let idleMs = POOL_IDLE_MS;

/** Pooled buffers by byte length; each entry: { buffers: ArrayBuffer[], hit: boolean }. */
const pool = new Map();
let pooledBytes = 0;
let sweepTimer = 0;

/** A new ArrayBuffer of `n` bytes whose contents the caller overwrites in full. */
export function takeBuffer(n) {
  if (pooledBytes !== 0 && n >= POOL_MIN_BYTES) {
    const entry = pool.get(n);
    if (entry !== undefined && entry.buffers.length > 0) {
      entry.hit = true;
      pooledBytes -= n;
      return entry.buffers.pop();
    }
  }
  return new ArrayBuffer(n);
}

/**
 * Detaches `b` as postMessage's transfer does, keeping its backing store for takeBuffer when
 * the pool has room for it. Throws what `transfer` throws for a buffer that cannot be
 * detached (a WebAssembly memory's, an already detached one).
 */
export function recycleBuffer(b) {
  const n = b.byteLength;
  if (n < POOL_MIN_BYTES || n > POOL_MAX_BUFFER_BYTES || pooledBytes + n > POOL_MAX_BYTES || b.resizable === true) {
    // Not kept: transfer(0) frees the memory now, where a kept copy would wait for a GC.
    b.transfer(0);
    return;
  }
  const kept = b.transfer();
  let entry = pool.get(n);
  if (entry === undefined) {
    entry = { buffers: [], hit: true };
    pool.set(n, entry);
  }
  entry.buffers.push(kept);
  pooledBytes += n;
  if (sweepTimer === 0) armSweep();
}

function armSweep() {
  sweepTimer = setTimeout(sweep, idleMs);
  // (Under Node the timer must not keep the process alive.)
  if (typeof sweepTimer === 'object' && typeof sweepTimer.unref === 'function') sweepTimer.unref();
}

/** Drops the lengths no decode took since the last sweep; re-arms while anything is held. */
function sweep() {
  sweepTimer = 0;
  for (const [n, entry] of pool) {
    if (entry.hit && entry.buffers.length > 0) {
      entry.hit = false;
      continue;
    }
    pooledBytes -= n * entry.buffers.length;
    pool.delete(n);
  }
  if (pool.size > 0) armSweep();
}

/** Bytes the pool of this thread holds (for tests and the docs' numbers). */
export function pooledBufferBytes() {
  return pooledBytes;
}

/** Sets how long an unused length stays in the pool (for tests); returns the previous value. */
export function setBufferPoolIdleMs(ms) {
  if (!(ms > 0)) throw new RangeError('setBufferPoolIdleMs: ms must be a number > 0');
  const old = idleMs;
  idleMs = ms;
  if (sweepTimer !== 0) {
    clearTimeout(sweepTimer);
    armSweep();
  }
  return old;
}
