// Micro-benchmark for the codec (not a test; run: node src/js/tests/codec.bench.mjs)
import { Writer, Reader, encode, decode, encodeArgs, decodeArgs, setArrayPropertyScan } from '../codec.js';

const sab = new SharedArrayBuffer(1 << 20);
let u8 = new Uint8Array(sab);
const w = new Writer((needed) => {
  const bigger = new Uint8Array(new SharedArrayBuffer(Math.max(needed, u8.length * 2)));
  bigger.set(u8);
  u8 = bigger;
  return { u8, start: 0, cap: u8.length };
});
const r = new Reader();

// The machine may be shared: time each batch by this process's CPU time (not wall
// time) and report the best batch, which is the least disturbed one.
function cpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function bench(name, iters, fn) {
  for (let i = 0; i < Math.min(iters, 50000); i++) fn(); // warm up (lets the JIT settle)
  const batches = 10;
  const per = Math.max(1, Math.floor(iters / batches));
  const times = [];
  for (let b = 0; b < batches; b++) {
    const t0 = cpuNs();
    for (let i = 0; i < per; i++) fn();
    times.push((cpuNs() - t0) / per);
  }
  times.sort((x, y) => x - y);
  const best = times[0];
  const median = times[batches >> 1];
  console.log(`${name.padEnd(56)} ${best.toFixed(1).padStart(10)} ns/op (median ${median.toFixed(1)})`);
  return best;
}

let sink = 0;
const args = [1, 'ab', { w: 3 }];
bench("encodeArgs+decodeArgs('resize', [1, 'ab', {w: 3}])", 1e6, () => {
  w.reset(u8, 0, u8.length);
  encodeArgs('resize', args, w);
  r.reset(u8, 0, w.length);
  sink += decodeArgs(r).args.length;
});
bench("  encodeArgs only", 1e6, () => {
  w.reset(u8, 0, u8.length);
  encodeArgs('resize', args, w);
  sink += w.length;
});
w.reset(u8, 0, u8.length);
encodeArgs('resize', args, w);
const len0 = w.length;
bench("  decodeArgs only", 1e6, () => {
  r.reset(u8, 0, len0);
  sink += decodeArgs(r).args.length;
});

const f32 = new Float32Array(16384); // 64 KiB
for (let i = 0; i < f32.length; i++) f32[i] = Math.random();
const nsF = bench('encode+decode Float32Array(16384) (64 KiB)', 1e5, () => {
  w.reset(u8, 0, u8.length);
  encode(f32, w);
  r.reset(u8, 0, w.length);
  sink += decode(r).length;
});
console.log(`${''.padEnd(56)} ${(65536 / nsF).toFixed(2).padStart(10)} GB/s`);
bench('  encode only (copy into shared memory)', 1e5, () => {
  w.reset(u8, 0, u8.length);
  encode(f32, w);
  sink += w.length;
});
const lenF = w.length;
bench('  decode only (allocate a private copy)', 1e5, () => {
  r.reset(u8, 0, lenF);
  sink += decode(r).length;
});

const obj = { id: 12345, name: 'widget', tags: ['a', 'b'], pos: { x: 1.5, y: -2 }, on: true };
bench('encode+decode small record object', 1e6, () => {
  w.reset(u8, 0, u8.length);
  encode(obj, w);
  r.reset(u8, 0, w.length);
  sink += decode(r).id;
});

const records = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: 'item' + i, value: i * 0.5 }));
bench('encode+decode 1000 records', 2000, () => {
  w.reset(u8, 0, u8.length);
  encode(records, w);
  r.reset(u8, 0, w.length);
  sink += decode(r).length;
});

const str = 'x'.repeat(100000);
bench('encode+decode 100k-char ASCII string', 2000, () => {
  w.reset(u8, 0, u8.length);
  encode(str, w);
  r.reset(u8, 0, w.length);
  sink += decode(r).length;
});
const str2 = '日本'.repeat(50000);
bench('encode+decode 100k-char two-byte string', 2000, () => {
  w.reset(u8, 0, u8.length);
  encode(str2, w);
  r.reset(u8, 0, w.length);
  sink += decode(r).length;
});

// cost of the structuredClone-compatible scan for named properties on nested arrays
const points = Array.from({ length: 1000 }, (_, i) => [i, i * 2]);
bench('encode+decode 1000 [x, y] pairs (array property scan on)', 2000, () => {
  w.reset(u8, 0, u8.length);
  encode(points, w);
  r.reset(u8, 0, w.length);
  sink += decode(r).length;
});
setArrayPropertyScan(false);
bench('encode+decode 1000 [x, y] pairs (array property scan off)', 2000, () => {
  w.reset(u8, 0, u8.length);
  encode(points, w);
  r.reset(u8, 0, w.length);
  sink += decode(r).length;
});
setArrayPropertyScan(true);

bench('structuredClone([1, "ab", {w: 3}]) for comparison', 2e5, () => {
  sink += structuredClone(args).length;
});
bench('structuredClone(Float32Array(16384)) for comparison', 1e5, () => {
  sink += structuredClone(f32).length;
});
if (sink === 42) console.log('');
