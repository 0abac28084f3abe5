// The page's side of what the runtime is measured against, each as a user would call it:
// - PostEcho: raw postMessage with promises (an id per call, a map of pending resolvers),
//   the least any postMessage-based worker library does;
// - Comlink (from npm): `await api.noop()`;
// - Floor: a bare shared-memory ping-pong with one worker, no runtime at all: the
//   physical limit of a round trip between two threads of this browser.

const POST_WORKER = new URL('./workers/post-echo.js', import.meta.url);
const COMLINK_WORKER = new URL('./workers/comlink-worker.js', import.meta.url);
const FLOOR_WORKER = new URL('./workers/floor-worker.js', import.meta.url);
const COMLINK_URL = '/benches/node_modules/comlink/dist/esm/comlink.mjs';

/** Raw postMessage with promises, over `count` workers taken in turn. */
export class PostEcho {
  constructor(count = 1) {
    this.workers = Array.from({ length: count }, () => new Worker(POST_WORKER, { type: 'module' }));
    this.pending = new Map();
    this.next = 0;
    this.turn = 0;
    const onmessage = (event) => {
      const d = event.data;
      const id = typeof d === 'number' ? d : d.id;
      const settle = this.pending.get(id);
      this.pending.delete(id);
      settle(d);
    };
    for (const w of this.workers) w.onmessage = onmessage;
  }

  pick() {
    const ws = this.workers;
    return ws.length === 1 ? ws[0] : ws[this.turn++ % ws.length];
  }

  /** A no-op round trip: the call's id goes and comes back. */
  noop() {
    const id = this.next++;
    const w = this.pick();
    return new Promise((resolve) => {
      this.pending.set(id, () => resolve());
      w.postMessage(id);
    });
  }

  /** Sends `v` and resolves to what comes back; `transfer` moves `v`'s buffer both ways. */
  echo(v, transfer = false) {
    const id = this.next++;
    const w = this.pick();
    return new Promise((resolve) => {
      this.pending.set(id, (d) => resolve(d.v));
      if (transfer) w.postMessage({ id, v, t: true }, [v.buffer]);
      else w.postMessage({ id, v });
    });
  }

  terminate() {
    for (const w of this.workers) w.terminate();
  }
}

let comlink = null;

/** Comlink's module, loaded on first use so a missing install fails only its benchmarks. */
export async function loadComlink() {
  if (comlink === null) {
    try {
      comlink = await import(COMLINK_URL);
    } catch (e) {
      throw new Error(`Comlink is not installed (${e && e.message}): run \`cargo atelier setup\`, which runs \`npm ci\` in benches/`);
    }
  }
  return comlink;
}

/** Comlink over `count` workers taken in turn: `peer.api()` is the next worker's proxy. */
export async function comlinkPeer(count = 1) {
  const Comlink = await loadComlink();
  const workers = Array.from({ length: count }, () => new Worker(COMLINK_WORKER, { type: 'module' }));
  const apis = workers.map((w) => Comlink.wrap(w));
  let turn = 0;
  return {
    Comlink,
    api: count === 1 ? () => apis[0] : () => apis[turn++ % count],
    terminate() {
      for (const a of apis) a[Comlink.releaseProxy]();
      for (const w of workers) w.terminate();
    },
  };
}

const PING = 0;
const PONG = 16;
const STOP = -1;
const DATA = 256;

/**
 * The SAB round-trip floor with one worker (workers/floor-worker.js). `mode`:
 * - 'spin': both sides spin; `run(n)` is synchronous (the page's thread spins for the
 *   whole batch, which is what makes it the floor);
 * - 'notify': the worker spins, the page awaits Atomics.waitAsync;
 * - 'wait': the worker sleeps in Atomics.wait, the page notifies it and awaits
 *   Atomics.waitAsync;
 * - 'copy': as 'spin', with a Float32Array of `length` copied into shared memory by the
 *   page, out into a fresh array and back by the worker, and out into a fresh array by the
 *   page: the copies of a copying round trip, with no codec, no runtime, no wake-up.
 * In the waitAsync modes the page starts waiting before it pings, so that every round trip
 * takes the asynchronous wake-up, never the shortcut of an answer that is already there.
 * The spinning modes are floors only when each of the two threads has a core of its own: on
 * a busy machine they collapse to the scheduler's time slice (milliseconds).
 */
/**
 * A floor round trip whose answer has not come after LATE_MS is looked at again until
 * GIVE_UP_MS, then fails with what it saw instead of hanging the suite. (On loaded CI
 * machines the worker once missed its first ping: it said ready before reading PING's
 * starting value; workers/floor-worker.js now reads it first.) Late round trips are counted
 * (`floorLate`) and reported by the suite; they only make their sample slow.
 */
const LATE_MS = 1000;
const GIVE_UP_MS = 10_000;
export const floorLate = { count: 0 };

async function lateAnswer(i32, v) {
  floorLate.count++;
  const until = performance.now() + GIVE_UP_MS;
  while (Atomics.load(i32, PONG) !== v) {
    if (performance.now() > until) throw new Error(`the floor worker did not answer ping ${v} within ${GIVE_UP_MS} ms`);
    const r = Atomics.waitAsync(i32, PONG, Atomics.load(i32, PONG), 100);
    if (r.async) await r.value;
  }
}

export async function floorPeer(mode, length = 0) {
  const buffer = new SharedArrayBuffer(DATA + 4 * length);
  const i32 = new Int32Array(buffer);
  const worker = new Worker(FLOOR_WORKER, { type: 'module' });
  await new Promise((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (e) => reject(new Error(`the floor worker failed to start: ${e.message}`));
    worker.postMessage({ buffer, mode, length });
  });
  let v = 0;
  let run;
  if (mode === 'spin') {
    run = (n) => {
      for (let i = 0; i < n; i++) {
        v = (v + 1) & 0x3fffffff;
        Atomics.store(i32, PING, v);
        while (Atomics.load(i32, PONG) !== v);
      }
    };
  } else if (mode === 'copy') {
    const data = new Float32Array(buffer, DATA, length);
    const source = new Float32Array(length).fill(1.5);
    run = (n) => {
      for (let i = 0; i < n; i++) {
        v = (v + 1) & 0x3fffffff;
        data.set(source);
        Atomics.store(i32, PING, v);
        while (Atomics.load(i32, PONG) !== v);
        const out = new Float32Array(length);
        out.set(data);
        if (out[length - 1] !== 1.5) throw new Error('the copy floor lost its payload');
      }
    };
  } else {
    const notifyPing = mode === 'wait';
    run = async (n) => {
      for (let i = 0; i < n; i++) {
        const before = v;
        v = (v + 1) & 0x3fffffff;
        const r = Atomics.waitAsync(i32, PONG, before, LATE_MS);
        Atomics.store(i32, PING, v);
        if (notifyPing) Atomics.notify(i32, PING);
        if (r.async && (await r.value) === 'timed-out') await lateAnswer(i32, v);
        if (Atomics.load(i32, PONG) !== v) throw new Error(`floor ping-pong out of step: sent ${v}, got ${Atomics.load(i32, PONG)}`);
      }
    };
  }
  return {
    run,
    teardown() {
      Atomics.store(i32, PING, STOP);
      Atomics.notify(i32, PING);
      worker.terminate();
    },
  };
}
