// The page: one runtime, one task, four stripes of an image blurred in parallel.
import { createTaskRuntime } from '/pkg/index.js';
import { boxBlur } from './blur.js';

const SIZE = 256;
const STRIPES = 4;
const RADIUS = 6;
const status = document.getElementById('status');

const runtime = createTaskRuntime();
const blur = runtime.defineTask({
  type: 'parallel',
  taskName: 'blur',
  poolSize: 2,
  maxInFlight: 4,
  worker: () => new Worker(new URL('./blur.worker.js', import.meta.url), { type: 'module' }),
});

/** A grey test pattern: rings and noise. */
function pattern(seed) {
  const px = new Uint8ClampedArray(SIZE * SIZE);
  let s = seed;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const r = Math.hypot(x - SIZE / 2, y - SIZE / 2);
      px[y * SIZE + x] = (Math.sin(r / 4) > 0 ? 200 : 40) + (s >>> 28);
    }
  }
  return px;
}

function draw(canvas, px) {
  const rgba = new Uint8ClampedArray(px.length * 4);
  for (let i = 0; i < px.length; i++) rgba.set([px[i], px[i], px[i], 255], i * 4);
  canvas.getContext('2d').putImageData(new ImageData(rgba, SIZE, SIZE), 0, 0);
}

/** Blurs the pattern in stripes on the workers; checks each stripe against the page's. */
async function run(seed, { cancel = false } = {}) {
  const px = pattern(seed);
  draw(document.getElementById('before'), px);
  const rows = SIZE / STRIPES;
  const stripes = Array.from({ length: STRIPES }, (_, i) => px.slice(i * rows * SIZE, (i + 1) * rows * SIZE));
  const t0 = performance.now();
  const key = `blur-${seed}`;
  // The cancelled run blurs wider, so that its stripes are still running when it is
  // cancelled (a stripe that finished first keeps its result).
  const radius = cancel ? 4 * RADIUS : RADIUS;
  const calls = stripes.map((s) => blur.with({ key }).boxBlur(s, SIZE, radius));
  if (cancel) runtime.abortTaskController.abort(key);
  const settled = await Promise.allSettled(calls);
  const ms = performance.now() - t0;
  if (cancel) {
    const names = settled.map((r) => (r.status === 'rejected' ? r.reason.name : 'ok'));
    return { cancelled: names.filter((n) => n === 'AbortError').length, finished: names.filter((n) => n === 'ok').length, names };
  }
  const out = new Uint8ClampedArray(SIZE * SIZE);
  let same = 0;
  settled.forEach((r, i) => {
    if (r.status === 'rejected') throw r.reason;
    out.set(r.value, i * rows * SIZE);
    const want = boxBlur(stripes[i], SIZE, RADIUS);
    if (want.every((v, k) => v === r.value[k])) same++;
  });
  draw(document.getElementById('after'), out);
  return { stripes: STRIPES, same, ms };
}

async function show(seed, options) {
  try {
    const r = await run(seed, options);
    status.textContent = r.cancelled !== undefined
      ? `cancelled: ${r.cancelled} of ${STRIPES} stripes rejected with AbortError${r.finished ? ` (${r.finished} had finished first)` : ''}`
      : `blurred ${r.stripes} stripes on ${blur.getState().poolSize} workers in ${r.ms.toFixed(1)} ms; ${r.same} of ${r.stripes} match the page's own blur`;
    return r;
  } catch (error) {
    status.textContent = `failed: ${error && error.name}: ${error && error.message}`;
    throw error;
  }
}

document.getElementById('again').addEventListener('click', () => show(Date.now() >>> 0));
document.getElementById('cancel').addEventListener('click', () => show(Date.now() >>> 0, { cancel: true }));

// The first run; its result is on the page for whoever embeds it (the examples test).
const first = await show(7);
const cancelled = await show(8, { cancel: true });
document.body.dataset.result = JSON.stringify({ first, cancelled });
