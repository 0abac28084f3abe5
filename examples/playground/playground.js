// The playground: one runtime, the pipeline task (defined again whenever the controls are
// applied), scenarios that misbehave on purpose, and panels fed only by the public API.
import { createTaskRuntime } from '/pkg/index.js';
import { linePlot } from './plot.js';

const $ = (id) => document.getElementById(id);
const status = (text) => {
  $('status').textContent = text;
};
$('isolation').textContent = crossOriginIsolated ? '(This page is cross-origin isolated.)' : '(This page is NOT cross-origin isolated: serve it with COOP/COEP, e.g. `cargo atelier demo`.)';

const runtime = createTaskRuntime();
const workerUrl = new URL('./pipeline.worker.js', import.meta.url);
let task = null;
let runs = 0;
let running = null; // { key, t0, images } of the current run

// ---- The task, as the controls say ------------------------------------------------------

function config() {
  const c = {
    type: 'parallel',
    taskName: 'pipeline',
    init: 'eager',
    poolSize: Number($('poolSize').value),
    maxInFlight: Number($('maxInFlight').value),
    maxQueueDepth: Number($('maxQueueDepth').value),
    queuePolicy: $('queuePolicy').value,
    crashMaxRetries: 100,
    worker: () => new Worker(workerUrl, { type: 'module' }),
  };
  if (Number($('timeoutMs').value) > 0) c.timeoutMs = Number($('timeoutMs').value);
  if ($('hang').checked) c.hangTimeoutMs = 1000;
  if ($('grace').checked) c.cancelGraceMs = 200;
  return c;
}

function define() {
  const c = config();
  try {
    const next = runtime.defineTask(c);
    if (task !== null) task.dispose();
    task = next;
    const { worker, ...shown } = c;
    void worker;
    status(`defined: ${JSON.stringify(shown)}`);
  } catch (error) {
    // An invalid combination (maxInFlight below poolSize, …): the runtime says why.
    status(`${error.name}: ${error.message}`);
  }
}

// ---- Outcomes, throughput and latency, from the calls this page makes --------------------

const outcomes = {};
const done = []; // [seconds, latency ms] of finished images
const t00 = performance.now();
const now = () => (performance.now() - t00) / 1000;

function settle(promise) {
  return promise.then(
    (v) => {
      outcomes.ok = (outcomes.ok ?? 0) + 1;
      return v;
    },
    (e) => {
      outcomes[e.name] = (outcomes[e.name] ?? 0) + 1;
      throw e;
    },
  );
}

/** One image through the pipeline: three calls, each stage's result the next's argument. */
async function image(t, key, seed, size) {
  const t0 = performance.now();
  const k = t.with({ key });
  const px = await k.decode(seed, size);
  const small = await k.resize(px, size);
  const stats = await k.analyze(small, size >>> 1);
  done.push([now(), performance.now() - t0]);
  return stats;
}

async function run() {
  if (task === null) return;
  const key = `run-${++runs}`;
  const images = Number($('images').value);
  const size = Number($('size').value);
  const t0 = performance.now();
  running = { key, t0, images };
  status(`run ${runs}: ${images} images of ${size}×${size}…`);
  const results = await Promise.allSettled(Array.from({ length: images }, (_, i) => settle(image(task, key, runs * 100_000 + i, size))));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const ms = performance.now() - t0;
  const failed = {};
  for (const r of results) if (r.status === 'rejected') failed[r.reason.name] = (failed[r.reason.name] ?? 0) + 1;
  status(`run ${runs}: ${ok} of ${images} images in ${ms.toFixed(0)} ms (${((ok * 1000) / ms).toFixed(0)} images/s)${ok < images ? `; the others: ${JSON.stringify(failed)}` : ''}`);
  if (running && running.key === key) running = null;
  return { ok, images, ms };
}

function cancelRun() {
  if (running === null) {
    status('no run to cancel');
    return;
  }
  runtime.abortTaskController.abort(running.key);
  status(`aborted key ${running.key}: its pending and running calls reject with AbortError`);
}

// ---- The same work over raw postMessage ----------------------------------------------

/** A pool of plain workers fed round-robin, one message per stage call, buffers moved. */
function rawPool(n) {
  const workers = Array.from({ length: n }, () => new Worker(new URL('./raw.worker.js', import.meta.url), { type: 'module' }));
  const waiting = new Map();
  let id = 0;
  let next = 0;
  for (const w of workers) {
    w.onmessage = (e) => {
      waiting.get(e.data.id)(e.data.value);
      waiting.delete(e.data.id);
    };
  }
  return {
    call(stage, ...args) {
      const w = workers[next++ % workers.length];
      return new Promise((resolve) => {
        waiting.set(++id, resolve);
        w.postMessage({ id, stage, args }, args[0] instanceof Uint8ClampedArray ? [args[0].buffer] : []);
      });
    },
    close: () => workers.forEach((w) => w.terminate()),
  };
}

async function sideBySide() {
  const images = Number($('images').value);
  const size = Number($('size').value);
  const n = Number($('poolSize').value);
  status(`side by side: ${images} images on ${n} workers, Atelier then raw postMessage…`);
  const a = await run();
  const pool = rawPool(n);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: images }, async (_, i) => {
    const px = await pool.call('decode', 7 + i, size);
    const small = await pool.call('resize', px, size);
    return pool.call('analyze', small, size >>> 1);
  }));
  const ms = performance.now() - t0;
  pool.close();
  const text = `side by side, ${images} images of ${size}×${size} on ${n} workers: Atelier ${((a.ok * 1000) / a.ms).toFixed(0)} images/s (${a.ms.toFixed(0)} ms), raw postMessage ${((images * 1000) / ms).toFixed(0)} images/s (${ms.toFixed(0)} ms)`;
  $('compare').textContent = text;
  status(text);
}

// ---- Misbehaviours -------------------------------------------------------------------

function crash() {
  settle(task.crash()).catch((e) => status(`the crashed call: ${e.name}: ${e.message}`));
  status('a handler threw from a timer: its worker crashes, and the crash policy restarts it');
}

function stuck() {
  const key = `stuck-${++runs}`;
  settle(task.with({ key }).stuck()).catch((e) => status(`the stuck call: ${e.name}: ${e.message}`));
  status($('hang').checked
    ? 'a handler spins in while (true) {}: with hangTimeoutMs its silent heartbeat gets its worker replaced within about a second'
    : 'a handler spins in while (true) {}: without hangTimeoutMs its worker stays busy (watch its heartbeat age); tick hangTimeoutMs, or hard-cancel it');
  return key;
}

async function spin() {
  const key = `spin-${++runs}`;
  const call = settle(task.with({ key }).spin(10_000));
  await untilRunning();
  await new Promise((r) => setTimeout(r, 150));
  const t0 = performance.now();
  runtime.abortTaskController.abort(key);
  const outcome = await call.then(() => 'returned', (e) => e.name);
  const rejected = performance.now() - t0;
  // The handler itself stopped when its worker has nothing running again.
  let stopped = null;
  while (stopped === null && performance.now() - t0 < 5000) {
    const snap = runtime.getRuntimeSnapshot().tasks.find((t) => t.taskName === 'pipeline');
    if (snap && snap.workers.every((w) => w.running === 0)) stopped = performance.now() - t0;
    else await new Promise((r) => setTimeout(r, 1));
  }
  status(`cancelled a synchronous loop mid-way: the call settled (${outcome}) ${rejected.toFixed(1)} ms after abort(key); the handler stopped ${stopped === null ? 'not within 5 s' : `within ${stopped.toFixed(1)} ms`}`);
}

/** Waits (up to 5 s) until a worker of the task runs a call: a fresh task's may be starting. */
async function untilRunning() {
  const t0 = performance.now();
  while (performance.now() - t0 < 5000) {
    const snap = runtime.getRuntimeSnapshot().tasks.find((t) => t.taskName === 'pipeline');
    if (snap && snap.workers.some((w) => w.running > 0)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function hard() {
  if (!$('grace').checked) {
    $('grace').checked = true;
    define();
  }
  const key = stuck();
  // A call cancelled while pending is only dropped, with no worker to terminate.
  await untilRunning();
  runtime.abortTaskController.abort(key);
  status('hard cancel: the stuck call rejected at once; 200 ms later (cancelGraceMs) its worker is terminated and replaced, its other calls requeued');
}

// ---- Panels --------------------------------------------------------------------------

const counters = {};
runtime.subscribeEvents((e) => {
  if (e.kind === 'counter') counters[e.name] = (counters[e.name] ?? 0) + e.value;
});

const crashesSeen = new Set();
const throughput = linePlot($('throughput'), { unit: ' images/s' });
const latency = linePlot($('latency'), { unit: ' ms' });
const series = { rate: [], p50: [], p90: [] };

function drawPanels(snap) {
  const t = snap.tasks.find((x) => x.taskName === 'pipeline');
  const phases = t ? [['waiting', t.waitingQueueDepth], ['pending', t.pendingQueueDepth], ['running', t.queueDepth]] : [];
  const widest = Math.max(1, ...phases.map(([, n]) => n));
  $('phases').innerHTML = phases.map(([name, n]) => `<div class="phase" data-phase="${name}"><b>${name}</b><span class="bar" style="width:${(n / widest) * 20}rem"></span><span class="n">${n}</span></div>`).join('');
  $('workers').tBodies[0].innerHTML = (t ? t.workers : []).map((w) => `<tr data-worker="${w.index}"><td>${w.index}</td><td class="s">${w.status}</td><td>${w.phase}</td><td>${w.heartbeatAgeMs === null ? '–' : `${Math.round(w.heartbeatAgeMs)} ms`}</td><td>${w.running}</td><td>${w.completed}</td></tr>`).join('');
  if (t && t.lastCrash && !crashesSeen.has(t.lastCrash.ts + t.lastCrash.error)) {
    crashesSeen.add(t.lastCrash.ts + t.lastCrash.error);
    const li = document.createElement('li');
    li.dataset.reason = t.lastCrash.reason;
    li.textContent = `${new Date(t.lastCrash.ts).toLocaleTimeString()} worker ${t.lastCrash.workerIndex}, reason '${t.lastCrash.reason}': ${t.lastCrash.error}`;
    $('crashes').prepend(li);
  }
  const m = snap.sharedMemory;
  $('memory').textContent = `${(m.bytesInUse / 1024).toFixed(0)} KiB in use of a ${(m.ceiling / 1048576).toFixed(0)} MiB ceiling; memory.buffer ${(m.memoryBytes / 1048576).toFixed(1)} MiB`;
  $('outcomes').textContent = `calls made by this page: ${Object.entries(outcomes).map(([k, v]) => `${k} ${v}`).join(', ') || 'none yet'}`;
  $('counters').textContent = Object.entries(counters).map(([k, v]) => `${k} ${v}`).join(' · ');
  // Throughput and latency over the last half second.
  const t1 = now();
  const recent = done.filter(([at]) => at > t1 - 0.5).map(([, ms]) => ms).sort((a, b) => a - b);
  series.rate.push([t1, recent.length * 2]);
  series.p50.push([t1, recent.length ? recent[Math.floor(recent.length / 2)] : 0]);
  series.p90.push([t1, recent.length ? recent[Math.floor(recent.length * 0.9)] : 0]);
  for (const s of Object.values(series)) while (s.length && s[0][0] < t1 - 60) s.shift();
  throughput({ 'images/s': { color: '#2b6cb0', points: series.rate } }, t1);
  latency({ p50: { color: '#2f855a', points: series.p50 }, p90: { color: '#c05621', points: series.p90 } }, t1);
}

runtime.subscribeRuntimeSnapshot(drawPanels, { intervalMs: 500, emitImmediately: true });

// ---- Wiring --------------------------------------------------------------------------

$('apply').onclick = define;
$('run').onclick = () => run();
$('cancel').onclick = cancelRun;
$('raw').onclick = () => sideBySide();
$('crash').onclick = crash;
$('stuck').onclick = () => stuck();
$('spin').onclick = () => spin();
$('hard').onclick = () => hard();
define();
document.body.dataset.ready = 'true';

// `?tour`: a run and a crash at once, for a look (or a screenshot) without clicking.
if (new URLSearchParams(location.search).has('tour')) {
  $('images').value = '300';
  $('size').value = '128';
  await run();
  crash();
}
