// The codec against structuredClone itself, on seeded random nested values: types,
// prototypes, identity (shared references, cycles, views sharing buffers), offsets and
// contents must come out as structuredClone's do. Seed: ATELIER_CLONE_SEED; count:
// ATELIER_CLONE_VALUES (default 10,000). Not drawn: what C.9 settles differently from
// structuredClone (AggregateError's `errors`, non-standard error names) and what needs the
// side lane (SharedArrayBuffer, platform objects); codec.test.js covers those.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer, Reader, encode, decode } from '../codec.js';

const SEED = Number(process.env.ATELIER_CLONE_SEED ?? 20261202);
const VALUES = Number(process.env.ATELIER_CLONE_VALUES ?? 10_000);

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const TYPED = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array];
if (typeof globalThis.Float16Array === 'function') TYPED.push(globalThis.Float16Array);
const ERRORS = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];

/** A generator of random values; `counts` tallies every kind it makes. */
function generator(random) {
  const counts = {};
  const pick = (list) => list[Math.floor(random() * list.length)];
  const int = (n) => Math.floor(random() * n);
  const count = (k) => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const string = () => {
    const kind = pick(['ascii', 'latin1', 'utf16', 'lone']);
    count(`string:${kind}`);
    const len = int(12);
    let s = '';
    for (let i = 0; i < len; i++) {
      if (kind === 'ascii') s += String.fromCharCode(32 + int(95));
      else if (kind === 'latin1') s += String.fromCharCode(int(256));
      else if (kind === 'utf16') s += String.fromCharCode(0x100 + int(0xd700));
      else s += String.fromCharCode(pick([0xd800, 0xdbff, 0xdc00, 0xdfff, 0x61]));
    }
    return s;
  };
  const primitive = () => {
    switch (int(9)) {
      case 0: count('undefined'); return undefined;
      case 1: count('null'); return null;
      case 2: count('boolean'); return random() < 0.5;
      case 3: count('int'); return int(2 ** 31) - 2 ** 30;
      case 4: count('number'); return pick([-0, NaN, Infinity, -Infinity, 0.1, 1e308, 5e-324, random() * 1e6]);
      case 5: count('bigint'); return BigInt(int(2 ** 31)) ** BigInt(int(4)) * (random() < 0.5 ? -1n : 1n);
      default: return string();
    }
  };
  // Buffers made so far in this value: views often share one.
  let buffers = [];
  const buffer = () => {
    if (buffers.length > 0 && random() < 0.5) return pick(buffers);
    count('ArrayBuffer');
    const b = new ArrayBuffer(8 * int(8));
    new Uint8Array(b).forEach((_, i, a) => { a[i] = int(256); });
    buffers.push(b);
    return b;
  };
  const view = () => {
    const b = buffer();
    if (random() < 0.2) {
      count('DataView');
      const off = int(b.byteLength + 1);
      return new DataView(b, off, int(b.byteLength - off + 1));
    }
    const T = pick(TYPED);
    count(`view:${T.name}`);
    const size = T.BYTES_PER_ELEMENT;
    const off = size * int(Math.floor(b.byteLength / size) + 1);
    return new T(b, off, int(Math.floor((b.byteLength - off) / size) + 1));
  };
  const value = (depth, seen) => {
    if (depth > 3 || random() < 0.35) return primitive();
    if (seen.length > 0 && random() < 0.12) {
      count('shared reference');
      return pick(seen);
    }
    const k = int(14);
    let v;
    switch (k) {
      case 0: {
        count('array');
        v = [];
        seen.push(v);
        const n = int(6);
        for (let i = 0; i < n; i++) if (random() < 0.85) v[i] = value(depth + 1, seen);
        if (n > 0 && !(n - 1 in v)) v.length = n; // a trailing hole
        if (random() < 0.1) count('array hole');
        return v;
      }
      case 1:
      case 2: {
        count('object');
        v = {};
        seen.push(v);
        const n = int(5);
        for (let i = 0; i < n; i++) v[random() < 0.2 ? String(int(10)) : string()] = value(depth + 1, seen);
        return v;
      }
      case 3: {
        count('Map');
        v = new Map();
        seen.push(v);
        const n = int(4);
        for (let i = 0; i < n; i++) v.set(random() < 0.5 ? primitive() : value(depth + 1, seen), value(depth + 1, seen));
        return v;
      }
      case 4: {
        count('Set');
        v = new Set();
        seen.push(v);
        const n = int(4);
        for (let i = 0; i < n; i++) v.add(random() < 0.5 ? primitive() : value(depth + 1, seen));
        return v;
      }
      case 5:
        count('Date');
        v = new Date(random() < 0.1 ? NaN : int(2 ** 31) * 1000);
        break;
      case 6:
        count('RegExp');
        v = new RegExp(pick(['a+b', '^x$', '[\\u0100-\\uffff]', '\\d{2,}', '']), pick(['', 'g', 'iu', 'sy', 'dgimsuy'.replace('u', '')]));
        break;
      case 7:
        count('ArrayBuffer');
        v = buffer();
        break;
      case 8:
      case 9:
        v = view();
        break;
      case 10: {
        const E = pick(ERRORS);
        count(`error:${E.name}`);
        v = random() < 0.3 ? new E(string(), { cause: value(depth + 1, seen) }) : new E(string());
        break;
      }
      case 11: {
        const w = pick(['Boolean', 'Number', 'String', 'BigInt']);
        count(`wrapper:${w}`);
        v = w === 'Boolean' ? new Boolean(random() < 0.5) : w === 'Number' ? new Number(random() * 10) : w === 'String' ? new String(string()) : Object(BigInt(int(1000)));
        break;
      }
      case 12: {
        count('class instance');
        class Point { constructor() { this.x = int(10); } }
        v = new Point();
        break;
      }
      default: {
        count('cycle');
        v = { self: null, list: [] };
        v.self = v;
        v.list.push(v);
        break;
      }
    }
    seen.push(v);
    return v;
  };
  return {
    counts,
    next() {
      buffers = [];
      return value(0, []);
    },
  };
}

/**
 * Compares `got` (the codec's) with `want` (structuredClone's), walking both: same types
 * and prototypes, same contents and offsets, and the same identity structure (two places
 * hold one object in `got` exactly when they do in `want`).
 */
function same(got, want, path, fwd, back) {
  if (want === null || (typeof want !== 'object' && typeof want !== 'function')) {
    assert.ok(Object.is(got, want), `${path}: ${String(got)} is not ${String(want)}`);
    return;
  }
  assert.ok(got !== null && typeof got === 'object', `${path}: not an object`);
  if (fwd.has(want) || back.has(got)) {
    assert.ok(fwd.get(want) === got && back.get(got) === want, `${path}: identity differs from structuredClone's`);
    return;
  }
  fwd.set(want, got);
  back.set(got, want);
  assert.equal(Object.getPrototypeOf(got), Object.getPrototypeOf(want), `${path}: prototype`);
  if (ArrayBuffer.isView(want)) {
    assert.deepEqual([got.byteOffset, got.byteLength], [want.byteOffset, want.byteLength], `${path}: offsets`);
    same(got.buffer, want.buffer, `${path}.buffer`, fwd, back);
    return;
  }
  if (want instanceof ArrayBuffer) {
    assert.deepEqual(new Uint8Array(got), new Uint8Array(want), `${path}: bytes`);
    return;
  }
  if (want instanceof Date) {
    assert.ok(Object.is(got.getTime(), want.getTime()), `${path}: time`);
    return;
  }
  if (want instanceof RegExp) {
    assert.deepEqual([got.source, got.flags, got.lastIndex], [want.source, want.flags, want.lastIndex], `${path}: RegExp`);
    return;
  }
  if (want instanceof Error) {
    assert.deepEqual([got.name, got.message], [want.name, want.message], `${path}: error`);
    assert.equal('cause' in got, 'cause' in want, `${path}: cause present`);
    if ('cause' in want) same(got.cause, want.cause, `${path}.cause`, fwd, back);
    return;
  }
  if (want instanceof Map) {
    assert.equal(got.size, want.size, `${path}: size`);
    const g = [...got];
    [...want].forEach(([k, v], i) => {
      same(g[i][0], k, `${path}<key ${i}>`, fwd, back);
      same(g[i][1], v, `${path}<value ${i}>`, fwd, back);
    });
    return;
  }
  if (want instanceof Set) {
    const g = [...got];
    assert.equal(g.length, want.size, `${path}: size`);
    [...want].forEach((v, i) => same(g[i], v, `${path}<${i}>`, fwd, back));
    return;
  }
  for (const W of [Boolean, Number, String, BigInt]) {
    if (Object.prototype.toString.call(want) === `[object ${W.name}]`) {
      assert.ok(Object.is(W.prototype.valueOf.call(got), W.prototype.valueOf.call(want)), `${path}: wrapped value`);
      return;
    }
  }
  const keys = Reflect.ownKeys(want);
  assert.deepEqual(Reflect.ownKeys(got), keys, `${path}: keys`);
  if (Array.isArray(want)) assert.equal(got.length, want.length, `${path}: length`);
  for (const k of keys) {
    if (k === 'length' && Array.isArray(want)) continue;
    same(got[k], want[k], `${path}[${String(k)}]`, fwd, back);
  }
}

test(`the codec agrees with structuredClone on ${VALUES} random values (seed ${SEED})`, () => {
  const gen = generator(rng(SEED));
  const u8 = new Uint8Array(new SharedArrayBuffer(1 << 16));
  let state = { u8, start: 8 };
  const w = new Writer((need) => {
    const cap = Math.max(need * 2, state.u8.length * 2);
    const nu = new Uint8Array(new SharedArrayBuffer(cap + 8));
    nu.set(state.u8.subarray(state.start, state.start + w.length), 8);
    state = { u8: nu, start: 8 };
    return { u8: nu, start: 8, cap };
  });
  const r = new Reader();
  for (let i = 0; i < VALUES; i++) {
    const v = gen.next();
    w.reset(state.u8, state.start, state.u8.length - state.start);
    encode(v, w);
    r.reset(state.u8, state.start, w.length);
    const got = decode(r);
    try {
      same(got, structuredClone(v), '$', new Map(), new Map());
    } catch (e) {
      e.message = `value ${i} of seed ${SEED}: ${e.message}`;
      throw e;
    }
  }
  const kinds = Object.entries(gen.counts).sort((a, b) => a[0].localeCompare(b[0]));
  console.log(`clone: ${VALUES} values, seed ${SEED}; per kind: ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const k of ['array', 'object', 'Map', 'Set', 'Date', 'RegExp', 'ArrayBuffer', 'DataView', 'shared reference', 'cycle', 'class instance', 'wrapper:BigInt', 'string:lone']) {
    assert.ok(gen.counts[k] > 0, `the values covered ${k}`);
  }
  for (const T of TYPED) assert.ok(gen.counts[`view:${T.name}`] > 0, `the values covered ${T.name}`);
});
