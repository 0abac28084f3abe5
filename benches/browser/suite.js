// The benchmark suite, defined in one place: every group measures this runtime against its
// peers in the same run (raw postMessage, Comlink, the bare shared-memory floor).
//
// A group: {id, title, unit: 'time' | 'cpu', throughput?, reference?, ratios?, note?, benches}.
// A bench: {id, label, make(ctx)} where make sets up (workers started, not timed) and
// returns an instance:
// - unit 'time': {run(iters), teardown?(), minIters?, notes?()}; the runner times
//   `run(iters)`, which makes `iters` calls the way users make them (`await task.noop()`),
//   as a batch; `notes()` (after teardown) adds lines to the benchmark's output;
// - unit 'cpu': {burst?(), teardown?()}; the runner runs the burst, then has the driver
//   measure the CPU that Chromium burns over an idle window.
// Ids are `group/bench`; `cargo atelier bench -- WORD` runs those whose id contains WORD.

import { createTaskRuntime } from '/pkg/index.js';
import { SIDE_LANE_MIN_BYTES, setSideLaneMinBytes } from '/pkg/codec.js';
import { PostEcho, comlinkPeer, floorPeer, floorLate } from './peers.js';
import { LoopbackWorker, loopbackKit } from './loopback.js';
import { SIZES } from './harness/targets.js';

/** Calls outstanding in the pipelined benchmarks (the runtime's maxInFlight too). */
export const WINDOW = 256;

const RUNTIME_WORKER = new URL('./workers/runtime-worker.js', import.meta.url);

let runtime = null;

/** A task of the runtime with no-op and echo handlers, its workers started. */
async function atelierTask(poolSize, maxInFlight, maxQueueDepth, taskName) {
  runtime ??= createTaskRuntime();
  const task = runtime.defineTask({
    type: 'parallel',
    poolSize,
    maxInFlight,
    maxQueueDepth,
    taskName,
    worker: () => new Worker(RUNTIME_WORKER, { type: 'module' }),
  });
  await Promise.all(Array.from({ length: 4 * poolSize }, () => task.noop()));
  return task;
}

/** `n` calls, each awaited before the next starts. */
function sequential(call) {
  return async (n) => {
    for (let i = 0; i < n; i++) await call();
  };
}

/** `n` calls with up to `window` outstanding: `window` lanes, each awaiting its calls in turn. */
function pipelined(call, window = WINDOW) {
  return (n) => {
    let issued = 0;
    const lane = async () => {
      while (issued < n) {
        issued++;
        await call();
      }
    };
    const lanes = [];
    for (let i = 0; i < Math.min(window, n); i++) lanes.push(lane());
    return Promise.all(lanes);
  };
}

/**
 * What observability costs: pipelined no-op calls (2 workers, default settings) with the
 * package built without its hooks (target/pkg-bare), the package as shipped with nobody
 * listening, with an event listener, and with spans on at sample rate 1.
 */
function observabilityGroup(minIters) {
  const start = async (load, setup) => {
    const { createTaskRuntime: create } = await load();
    const rt = create(setup.config);
    const off = setup.listen ? rt.subscribeEvents(() => {}) : () => {};
    const task = rt.defineTask({ type: 'parallel', poolSize: 2, worker: () => new Worker(setup.worker, { type: 'module' }) });
    await Promise.all(Array.from({ length: 8 }, () => task.noop()));
    return {
      run: pipelined(() => task.noop()),
      stop: () => {
        off();
        rt.dispose();
      },
    };
  };
  // The same calls with the worker on the page's own thread (loopback.js): batches of WINDOW
  // calls submitted, run, settled on one thread. No second core and no scheduler in the
  // loop, so the time is steady enough to show a difference of a percent in the page's work.
  const startLoopback = async (base) => {
    const { createTaskRuntime: create } = await import(base + 'index.js');
    const kit = await loopbackKit(base);
    const rt = create();
    let fake = null;
    const task = rt.defineTask({
      type: 'parallel',
      poolSize: 1,
      maxInFlight: WINDOW,
      worker: () => (fake = new LoopbackWorker(kit)),
    });
    const batch = (k) => {
      const calls = [];
      for (let i = 0; i < k; i++) calls.push(task.noop());
      if (fake.runAll() !== k) throw new Error('the loopback worker did not run every call');
      return Promise.all(calls);
    };
    await task.startWorkers();
    await batch(8);
    return {
      run: async (n) => {
        for (let left = n; left > 0; left -= WINDOW) await batch(Math.min(WINDOW, left));
      },
      stop: () => rt.dispose(),
    };
  };
  // A benchmark of the calls `me()` starts; with `other`, also timed in rounds alternating
  // with the calls `other()` starts (`against`, `calls` a round): sequential samples of two
  // benchmarks see the machine at different times, so the targets read the paired rounds.
  const bench = (id, label, me, other, against, calls) => ({
    id,
    label,
    async make() {
      const a = await me();
      const b = other === undefined ? null : await other();
      return {
        run: a.run,
        minIters,
        paired: b === null ? undefined : { against, calls, run: a.run, other: b.run },
        teardown: () => {
          a.stop();
          if (b !== null) b.stop();
        },
      };
    },
  });
  const loopback = (id, label, base, pairBase) =>
    bench(id, label, () => startLoopback(base), pairBase && (() => startLoopback(pairBase)), 'observability/bare-loopback', 64 * minIters);
  const variant = (id, label, load, setup, pairWith) =>
    bench(id, label, () => start(load, setup), pairWith && (() => start(pairWith.load, pairWith.setup)), 'observability/bare', 16 * minIters);
  // Both packages are loaded as module graphs of their own (the shipped one under another
  // path than /pkg/), so that neither inherits the JIT feedback of the groups before.
  const shipped = () => import('/target/pkg/index.js');
  const bare = () => import('/target/pkg-bare/index.js');
  const worker = new URL('./workers/runtime-worker-fresh.js', import.meta.url);
  const bareSetup = { config: {}, worker: new URL('./workers/runtime-worker-bare.js', import.meta.url) };
  return {
    id: 'observability',
    title: `what observability costs: pipelined no-op throughput, 2 workers, ${WINDOW} calls outstanding`,
    unit: 'time',
    throughput: { elements: 1 },
    reference: 'off',
    note: 'bare is the package built without its observability hooks (the lines marked // @hook, see serve/src/build.rs); off is the package as shipped with nobody listening (spans off, the default); listener has one subscribeEvents listener that does nothing; spans adds spans at sample rate 1 (a span event and three performance.measure entries per call). bare-loopback and off-loopback make the same calls with the worker on the page thread (benches/browser/loopback.js): batches of 256 submitted, run and settled on one thread, maxInFlight 256; the page\'s work per call without the noise of two threads on two shared cores.',
    benches: [
      // The loopback pair first: the packages' code then has no feedback yet from calls made
      // with a listener or spans on (listener, spans), which a page that never observes does
      // not have either (measured after them, off-loopback came out 1.07× bare-loopback;
      // before them, 1.00-1.01×).
      loopback('bare-loopback', 'the package without its hooks, its worker on the page thread (loopback)', '/target/pkg-bare/'),
      loopback('off-loopback', 'as shipped, nobody listening, its worker on the page thread (loopback)', '/target/pkg/', '/target/pkg-bare/'),
      variant('bare', 'the package without its hooks', bare, bareSetup),
      variant('off', 'as shipped, nobody listening', shipped, { config: {}, worker }, { load: bare, setup: bareSetup }),
      variant('listener', 'one event listener', shipped, { config: {}, worker, listen: true }),
      variant('spans', "spans on (sampleRate 1) and one listener", shipped, { config: { observability: { spans: { mode: 'on', sampleRate: 1 } } }, worker, listen: true }),
    ],
    ratios: [
      ['observability/off', 'observability/bare'],
      ['observability/listener', 'observability/off'],
      ['observability/spans', 'observability/off'],
    ],
  };
}

/**
 * How the calls of the bench's task spread over its workers, and how often each went to
 * sleep (its heartbeats beyond one per call: each nap and wake-up beats): with two workers
 * on two cores a run either leaves one worker asleep or keeps both waking, and the time
 * per call differs by up to 3× between the two (docs/benchmarks.md).
 */
function workerSplit(name) {
  const entry = runtime.getRuntimeSnapshot().tasks.find((t) => t.taskName === name);
  if (entry === undefined) return null;
  const calls = entry.workers.map((w) => w.completed);
  const total = calls.reduce((a, b) => a + b, 0) || 1;
  const share = calls.map((c) => `${Math.round((100 * c) / total)} %`).join(' / ');
  const naps = entry.workers.map((w) => Math.max(0, w.beats - w.completed)).join(' / ');
  return `calls per worker ${share}; naps and wake-ups per worker ${naps} (over ${total} calls)`;
}

function noopGroup(id, title, { workers, shape, minIters = 1 }) {
  // The reference is the runtime as users get it: maxInFlight left at its default
  // (poolSize). Pipelined groups also show it tuned to the window, in the same run.
  const atelier = (benchId, maxInFlight, what, maxQueueDepth) => ({
    id: benchId,
    label: `atelier: await task.noop(), ${workers} worker(s), ${what}`,
    async make() {
      const name = `${id}/${benchId}`;
      const task = await atelierTask(workers, maxInFlight, maxQueueDepth, name);
      let split = null;
      return {
        run: shape(() => task.noop()),
        minIters,
        teardown: () => {
          split = workerSplit(name);
          task.dispose();
        },
        notes: () => (split === null ? [] : [split]),
      };
    },
  });
  // `atelier-queue` keeps the default maxInFlight but lets the whole window pend in shared
  // memory: what the contract's default maxQueueDepth (2 × maxInFlight) costs, since the
  // page must refill the workers' queue after every few calls.
  const tuned = shape === pipelined
    ? [atelier('atelier-tuned', WINDOW, `maxInFlight ${WINDOW}`), atelier('atelier-queue', undefined, `default maxInFlight, maxQueueDepth ${WINDOW}`, WINDOW)]
    : [];
  return {
    id,
    title,
    unit: 'time',
    throughput: { elements: 1 },
    reference: 'atelier',
    benches: [
      atelier('atelier', undefined, 'default maxInFlight'),
      ...tuned,
      {
        id: 'postMessage',
        label: `raw postMessage echo with promises, ${workers} worker(s)`,
        async make() {
          const post = new PostEcho(workers);
          await Promise.all(Array.from({ length: 4 * workers }, () => post.noop()));
          return { run: shape(() => post.noop()), minIters, teardown: () => post.terminate() };
        },
      },
      {
        id: 'comlink',
        label: `Comlink: await api.noop(), ${workers} worker(s)`,
        async make() {
          const peer = await comlinkPeer(workers);
          await Promise.all(Array.from({ length: 4 * workers }, () => peer.api().noop()));
          return { run: shape(() => peer.api().noop()), minIters, teardown: () => peer.terminate() };
        },
      },
    ],
  };
}

// The runtime's shared memory, for the notes of the buffer benchmarks. `wasm.js` is internal
// to the package: if it changes, the notes say "?" rather than the suite failing to load.
const internals = await import('/pkg/wasm.js').catch(() => ({}));

/** The size of the runtime's shared memory, in MiB ('?' when it cannot be read). */
function sharedMemoryMiB() {
  const memory = internals.wasmMemory;
  return memory ? Math.round(memory.buffer.byteLength / (1 << 20)) : '?';
}

const BYTES = { '1KiB': 1 << 10, '64KiB': 64 << 10, '256KiB': 256 << 10, '1MiB': 1 << 20, '4MiB': 4 << 20, '16MiB': 16 << 20 };

/**
 * The runtime's echo with the side lane's threshold at `minBytes` on both sides (page and
 * worker): 0 moves every buffer by postMessage, Infinity copies every one through shared
 * memory; undefined keeps the default.
 */
function atelierEcho(bytes, label, minBytes) {
  return {
    label,
    async make() {
      const task = await atelierTask(1, 1);
      if (minBytes !== undefined) await task.sideLane(minBytes);
      const lane = (fn) => {
        if (minBytes === undefined) return fn();
        const old = setSideLaneMinBytes(minBytes);
        return fn().finally(() => setSideLaneMinBytes(old));
      };
      const sent = filled(bytes);
      let a = await lane(() => task.echo(filled(bytes)));
      const before = sharedMemoryMiB();
      checkEcho(a, sent, 'atelier');
      return {
        run: (iters) => lane(async () => {
          for (let i = 0; i < iters; i++) a = await task.echo(a);
        }),
        teardown: () => task.dispose(),
        notes: () => [`the runtime's shared memory: ${before} MiB before the first call, ${sharedMemoryMiB()} MiB after the last`],
      };
    },
  };
}

function filled(bytes) {
  const a = new Float32Array(bytes / 4);
  for (let i = 0; i < a.length; i++) a[i] = i * 0.5;
  return a;
}

function checkEcho(got, sent, who) {
  if (!(got instanceof Float32Array) || got.length !== sent.length || got[got.length - 1] !== sent[sent.length - 1] || got[0] !== sent[0]) {
    throw new Error(`${who} did not echo the Float32Array(${sent.length}) (got ${Object.prototype.toString.call(got)} of length ${got && got.length})`);
  }
}

function bufferGroup(size) {
  const bytes = BYTES[size];
  const n = bytes / 4;
  return {
    id: `f32/${size}`,
    title: `round trip of a Float32Array of ${size}: await echo(array)`,
    unit: 'time',
    throughput: { bytes },
    reference: 'atelier',
    note: `Throughput counts the array once per round trip. postMessage and Comlink clone (structured clone both ways) or transfer (the buffer moves both ways, the sender loses it). atelier moves the array as a transfer would (the default; each round trip sends the array the last one returned): from ${SIDE_LANE_MIN_BYTES} bytes (the side lane's threshold, docs/values.md) by postMessage beside the call, below it copied through shared memory with the sent buffer detached; atelier-shm and atelier-side force one lane at every size, which is how the threshold is chosen.`
      + ' sab-roundtrip is the floor of any copying design: the same four copies (and two fresh arrays) as the runtime, with a bare spinning ping-pong and no codec (the copy floor of the targets). sab-copy is the page alone copying the array into a SharedArrayBuffer and out into a fresh Float32Array: one copy in and one out, no thread hop, what the copies alone cost.',
    benches: [
      {
        id: 'atelier',
        ...atelierEcho(bytes, `atelier: a = await task.echo(a) (the default: ${bytes >= SIDE_LANE_MIN_BYTES ? 'moved by the side lane' : 'copied through shared memory, the sent buffer detached'})`),
      },
      { id: 'atelier-shm', ...atelierEcho(bytes, 'atelier, every buffer copied through shared memory (side lane off)', Infinity) },
      { id: 'atelier-side', ...atelierEcho(bytes, 'atelier, every moving buffer by the side lane', 0) },
      {
        id: 'postMessage-clone',
        label: 'raw postMessage, structured clone both ways',
        async make() {
          const post = new PostEcho(1);
          const a = filled(bytes);
          checkEcho(await post.echo(a), a, 'postMessage');
          return {
            async run(iters) {
              for (let i = 0; i < iters; i++) await post.echo(a);
            },
            teardown: () => post.terminate(),
          };
        },
      },
      {
        id: 'postMessage-transfer',
        label: 'raw postMessage, buffer transferred both ways',
        async make() {
          const post = new PostEcho(1);
          const sent = filled(bytes);
          let a = await post.echo(filled(bytes), true);
          checkEcho(a, sent, 'postMessage (transfer)');
          return {
            async run(iters) {
              for (let i = 0; i < iters; i++) a = await post.echo(a, true);
            },
            teardown: () => post.terminate(),
          };
        },
      },
      {
        id: 'comlink-clone',
        label: 'Comlink: await api.echo(array), structured clone both ways',
        async make() {
          const peer = await comlinkPeer(1);
          const api = peer.api();
          const a = filled(bytes);
          checkEcho(await api.echo(a), a, 'Comlink');
          return {
            async run(iters) {
              for (let i = 0; i < iters; i++) await api.echo(a);
            },
            teardown: () => peer.terminate(),
          };
        },
      },
      {
        id: 'comlink-transfer',
        label: 'Comlink: await api.echoTransfer(Comlink.transfer(array, [buffer])), transferred both ways',
        async make() {
          const peer = await comlinkPeer(1);
          const { Comlink } = peer;
          const api = peer.api();
          const sent = filled(bytes);
          let a = filled(bytes);
          a = await api.echoTransfer(Comlink.transfer(a, [a.buffer]));
          checkEcho(a, sent, 'Comlink (transfer)');
          return {
            async run(iters) {
              for (let i = 0; i < iters; i++) a = await api.echoTransfer(Comlink.transfer(a, [a.buffer]));
            },
            teardown: () => peer.terminate(),
          };
        },
      },
      {
        id: 'sab-roundtrip',
        label: 'the copy floor: page copies into shared memory, pings a spinning worker that copies out and back, spins, copies out',
        make: () => floorPeer('copy', n),
      },
      {
        id: 'sab-copy',
        label: 'bare copy on the page: into a SharedArrayBuffer and out into a fresh Float32Array',
        async make() {
          const a = filled(bytes);
          const shared = new Float32Array(new SharedArrayBuffer(bytes));
          let out = null;
          return {
            run(iters) {
              for (let i = 0; i < iters; i++) {
                shared.set(a);
                out = new Float32Array(n);
                out.set(shared);
              }
            },
            teardown() {
              checkEcho(out ?? a, a, 'the bare copy');
            },
          };
        },
      },
    ],
  };
}

/**
 * Warms the runtime's code before the first benchmark, for `ms` of mixed calls, then pauses.
 * V8 runs new wasm and JS on baseline code and optimizes hot functions on background
 * threads; on a 2-core machine those threads get no core while the page and a spinning
 * worker keep both busy, so without this the first benchmarks of the runtime measure
 * baseline code for seconds (seen: 75 µs instead of 7 µs per sequential call). Criterion's
 * per-benchmark warm-up is too short for that; the pause lets the compiler threads run.
 */
export async function prepare(ms, pauseMs) {
  const task = await atelierTask(2, WINDOW);
  let small = filled(1024);
  let large = filled(64 << 10);
  const burst = pipelined(() => task.noop());
  const until = performance.now() + ms;
  while (performance.now() < until) {
    for (let i = 0; i < 200; i++) await task.noop();
    await burst(2000);
    // A call moves the buffers it sends: send on what came back.
    small = await task.echo(small);
    large = await task.echo(large);
  }
  task.dispose();
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
}

/**
 * The suite. `ctx.burstCalls` sizes the burst that precedes each idle window.
 */
export function suite(ctx) {
  const pipeMin = 4 * WINDOW;
  return [
    {
      id: 'floor',
      title: 'SAB round-trip floor: a bare shared-memory ping-pong between the page and one worker, no runtime',
      unit: 'time',
      throughput: { elements: 1 },
      note: 'The physical limit of a round trip between two threads of this browser: spin is both threads spinning on a word (the page blocks while it spins); waitAsync is the page awaiting Atomics.waitAsync (registered before the ping, so every round trip takes the asynchronous wake-up) while the worker spins; wait adds the worker sleeping in Atomics.wait. The spin floors need two idle cores: on a busy machine they collapse to the scheduler\'s time slice, and the targets against them are then not judged.',
      check(records) {
        const notes = [];
        const spin = records['floor/spin'];
        const wake = records['floor/waitAsync'];
        if (spin && wake && spin.stats.mean.point > wake.stats.mean.point) {
          notes.push('floor/spin is slower than floor/waitAsync: the two spinning threads did not each have a core (a busy machine); spin-based floors of this run are not floors');
        }
        if (floorLate.count > 0) {
          notes.push(`${floorLate.count} floor round trip(s) took more than 1 s (a starved thread): their samples are slow`);
        }
        return notes;
      },
      benches: [
        { id: 'spin', label: 'both sides spin', make: () => floorPeer('spin') },
        { id: 'waitAsync', label: 'page awaits Atomics.waitAsync, worker spins', make: () => floorPeer('notify') },
        { id: 'wait', label: 'page awaits Atomics.waitAsync, worker sleeps in Atomics.wait', make: () => floorPeer('wait') },
      ],
    },
    {
      ...noopGroup('noop/sequential', 'sequential no-op round trip: each call awaited before the next', { workers: 1, shape: sequential }),
      ratios: [
        ['noop/sequential/atelier', 'floor/spin'],
        ['noop/sequential/atelier', 'floor/waitAsync'],
        ['noop/sequential/atelier', 'floor/wait'],
      ],
    },
    noopGroup('noop/pipelined-1w', `pipelined no-op throughput, 1 worker, ${WINDOW} calls outstanding`, { workers: 1, shape: pipelined, minIters: pipeMin }),
    noopGroup('noop/pipelined-2w', `pipelined no-op throughput, 2 workers, ${WINDOW} calls outstanding`, { workers: 2, shape: pipelined, minIters: pipeMin }),
    observabilityGroup(pipeMin),
    ...SIZES.map((size) => ({
      ...bufferGroup(size),
      ratios: [
        [`f32/${size}/atelier`, `f32/${size}/postMessage-transfer`],
        [`f32/${size}/atelier`, `f32/${size}/sab-copy`],
        [`f32/${size}/atelier`, `f32/${size}/sab-roundtrip`],
        [`f32/${size}/atelier-shm`, `f32/${size}/atelier-side`],
      ],
    })),
    {
      id: 'idle',
      title: `CPU burned while idle, after a burst of ${ctx.burstCalls} pipelined no-op calls`,
      unit: 'cpu',
      note: 'Each sample is one idle window: the page sleeps in setTimeout while the driver reads the CPU time (schedstat, all threads) of every Chromium process of this run from /proc. The value is the renderer\'s CPU (page and workers are threads of that process) as a percentage of one core; the extra line gives all processes. control makes the same burst of promises with no worker at all: the browser\'s own floor.',
      benches: [
        {
          id: 'control',
          label: 'no workers: the same burst against an in-page no-op, then the page alone',
          async make() {
            const burst = pipelined(() => Promise.resolve());
            return { burst: () => burst(ctx.burstCalls) };
          },
        },
        {
          id: 'atelier',
          label: 'atelier, 2 workers, after the burst',
          async make() {
            const task = await atelierTask(2, WINDOW);
            const burst = pipelined(() => task.noop());
            return { burst: () => burst(ctx.burstCalls), teardown: () => task.dispose() };
          },
        },
        {
          id: 'postMessage',
          label: 'raw postMessage echo, 2 workers, after the burst',
          async make() {
            const post = new PostEcho(2);
            const burst = pipelined(() => post.noop());
            return { burst: () => burst(ctx.burstCalls), teardown: () => post.terminate() };
          },
        },
        {
          id: 'comlink',
          label: 'Comlink, 2 workers, after the burst',
          async make() {
            const peer = await comlinkPeer(2);
            const burst = pipelined(() => peer.api().noop());
            return { burst: () => burst(ctx.burstCalls), teardown: () => peer.terminate() };
          },
        },
      ],
    },
  ];
}
