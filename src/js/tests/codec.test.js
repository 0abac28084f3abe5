// Tests for src/js/codec.js. Run: node --test src/js/tests/
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  Writer, Reader, encode, decode, encodeArgs, decodeArgs, DataCloneError, DecodeError,
  FORMAT_VERSION, MAX_DEPTH, setArrayPropertyScan, setSideLaneMinBytes, peekSide, isTransferable,
  SIDE_LANE_MIN_BYTES,
} from '../codec.js';

// Large buffers are copied through the message in these tests unless a test turns the side
// lane's threshold down ('side lane' below).
setSideLaneMinBytes(Infinity);

// ---------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------

/**
 * A Writer over a SharedArrayBuffer whose grow callback copies the message into a new,
 * bigger SharedArrayBuffer at a different (8-aligned) start offset.
 */
function makeWriter(initialCap = 8, start = 8) {
  const state = { u8: new Uint8Array(new SharedArrayBuffer(start + initialCap)), start, grows: 0 };
  const w = new Writer((needed) => {
    state.grows++;
    const used = w.length;
    assert.ok(needed > used, 'grow is asked for more than what is used');
    const newStart = (state.start + 8) % 32;
    const cap = Math.max(needed, (state.u8.length - state.start) * 2);
    const nu = new Uint8Array(new SharedArrayBuffer(newStart + cap));
    nu.set(state.u8.subarray(state.start, state.start + used), newStart);
    // scribble over the old buffer: the writer must not keep using it
    state.u8.fill(0xee);
    state.u8 = nu;
    state.start = newStart;
    return { u8: nu, start: newStart, cap };
  });
  w.reset(state.u8, start, initialCap);
  return { w, state };
}

function encodeToBytes(value) {
  const { w, state } = makeWriter();
  encode(value, w);
  return state.u8.slice(state.start, state.start + w.length);
}

function readerOver(bytes) {
  // copy into a SharedArrayBuffer at an 8-aligned start, as the runtime would
  const u8 = new Uint8Array(new SharedArrayBuffer(bytes.length + 16));
  u8.set(bytes, 8);
  const r = new Reader();
  r.reset(u8, 8, bytes.length);
  return r;
}

function roundTrip(value) {
  const { w, state } = makeWriter();
  encode(value, w);
  const r = new Reader();
  r.reset(state.u8, state.start, w.length);
  // The side lane's values, handed over as they are (the runtime posts them).
  if (w.side.length > 0) r.side = w.side.slice();
  const out = decode(r);
  assert.equal(r.offset, w.length, 'decode consumed exactly the encoded bytes');
  return out;
}

/** round trip and compare with what structuredClone produces */
function checkLikeStructuredClone(value) {
  const out = roundTrip(value);
  assert.deepStrictEqual(out, structuredClone(value));
  return out;
}

function cloneError(fn) {
  try {
    fn();
  } catch (e) {
    assert.equal(e.name, 'DataCloneError', `expected a DataCloneError, got ${e && e.stack}`);
    assert.ok(e instanceof DataCloneError);
    return e;
  }
  assert.fail('expected a DataCloneError');
}

function encodeErr(value) {
  const { w } = makeWriter(64);
  return cloneError(() => encode(value, w));
}

function encodeArgsErr(args) {
  const { w } = makeWriter(64);
  return cloneError(() => encodeArgs('m', args, w));
}

function decodeBytes(bytes) {
  return decode(readerOver(bytes));
}

function assertDecodeError(bytes, re) {
  assert.throws(() => decodeBytes(bytes), (e) => {
    assert.equal(e.name, 'DecodeError', `expected DecodeError, got ${e && e.stack}`);
    assert.ok(e instanceof DecodeError);
    if (re) assert.match(e.message, re);
    return true;
  });
}

// ---------------------------------------------------------------------------------
// primitives
// ---------------------------------------------------------------------------------

describe('primitives', () => {
  test('undefined, null, booleans', () => {
    for (const v of [undefined, null, true, false]) assert.equal(roundTrip(v), v);
  });

  test('integers (small-int, int32 and f64 boundaries)', () => {
    const ints = [0, 1, 2, 126, 127, 128, 255, 256, -1, -127, -128, -129, 65535, 65536,
      2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 1e21];
    for (const v of ints) assert.equal(roundTrip(v), v);
    assert.equal(encodeToBytes(5).length, 1, 'small ints take one byte');
    assert.equal(encodeToBytes(-5).length, 5, 'int32 takes five bytes');
    assert.equal(encodeToBytes(2 ** 31).length, 9, 'beyond int32 is a float64');
  });

  test('floats incl. NaN, -0, Infinity', () => {
    const vals = [0.5, -0.5, 1.1, Math.PI, Number.EPSILON, Number.MIN_VALUE, -Number.MIN_VALUE,
      Number.MAX_VALUE, -Number.MAX_VALUE, Infinity, -Infinity, 1 / 3];
    for (const v of vals) assert.equal(roundTrip(v), v);
    assert.ok(Object.is(roundTrip(-0), -0), '-0 kept');
    assert.ok(Object.is(roundTrip(0), 0), '+0 kept');
    assert.ok(Number.isNaN(roundTrip(NaN)), 'NaN kept');
    assert.ok(Object.is(roundTrip([-0])[0], -0), '-0 inside an array');
  });

  test('BigInt of any size and sign', () => {
    const vals = [0n, 1n, -1n, 127n, -128n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, -(2n ** 64n - 1n),
      2n ** 64n, -(2n ** 64n), 2n ** 64n + 1n, 2n ** 1000n + 12345n, -(3n ** 777n), 255n, 256n, 0xabcdefn];
    for (const v of vals) assert.equal(roundTrip(v), v);
    let big = 1n;
    for (let i = 0; i < 200; i++) big = big * 1234567891011n + BigInt(i);
    assert.equal(roundTrip(big), big);
    assert.equal(roundTrip(-big), -big);
  });
});

// ---------------------------------------------------------------------------------
// strings
// ---------------------------------------------------------------------------------

describe('strings', () => {
  test('short strings of every class', () => {
    const vals = ['', 'a', 'ab', 'resize', 'hello world', 'café', 'ÿ', '\u00ff\u0000\u0080\u009f',
      '\0', '😀', 'a😀b', '日本語', 'Ελληνικά', 'mixed é and 日本', '\uFEFFbom', '\r\n\t'];
    for (const v of vals) assert.equal(roundTrip(v), v);
  });

  test('lone surrogates round-trip exactly', () => {
    const vals = ['\uD800', '\uDC00', '\uD800x', 'x\uD800', '\uDC00x', 'x\uDFFF', '\uDBFF\uDFFF',
      '\uDC00\uD800', 'a\uD83Db', '\uD83D\uDE00\uD83D', '\uDE00\uD83D\uDE00'];
    for (const v of vals) {
      const out = roundTrip(v);
      assert.equal(out, v);
      assert.equal(out.length, v.length);
    }
  });

  test('strings around the internal size thresholds', () => {
    for (const n of [1, 23, 24, 25, 63, 64, 65, 95, 96, 97, 127, 128, 129, 4095, 4096, 4097, 10000]) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + (i % 90))).join('');
      const latin = Array.from({ length: n }, (_, i) => String.fromCharCode(0x80 + (i % 128))).join('');
      const two = Array.from({ length: n }, (_, i) => String.fromCharCode(0x3000 + (i % 500))).join('');
      const lone = two.slice(0, n - 1) + '\uD800';
      for (const s of [ascii, latin, two, lone]) assert.equal(roundTrip(s), s, `length ${n}`);
    }
  });

  test('repeated keys and values (string cache) stay correct', () => {
    const v = [];
    for (let i = 0; i < 5000; i++) v.push({ ['k' + (i % 300)]: 'v' + (i % 7000), x: 'ab', y: 'ba' });
    checkLikeStructuredClone(v);
  });

  test('very long strings (>= 100k chars): latin1, ASCII, two-byte, with lone surrogates', () => {
    const ascii = 'abcdefghij'.repeat(10000) + 'z';
    const latin = 'caf\u00e9 \u00fc\u00df\u0085 '.repeat(12000);
    const cjk = '\u65e5\u672c\u8a9e\u{1F600}'.repeat(25000);
    const lone = ('x\uD800y\uDFFF' + '\u4e2d'.repeat(10)).repeat(8000);
    const bom = '\uFEFF' + '\u4e2d'.repeat(100000);
    for (const s of [ascii, latin, cjk, lone, bom]) {
      assert.ok(s.length >= 100000);
      const out = roundTrip(s);
      assert.equal(out.length, s.length);
      assert.ok(out === s);
    }
    assert.equal(encodeToBytes(latin).length, latin.length + 1 + 3, 'latin1 uses one byte per char');
    assert.equal(encodeToBytes(cjk).length, 2 * cjk.length + 1 + 3, 'two bytes per code unit');
  });
});

// ---------------------------------------------------------------------------------
// arrays and objects
// ---------------------------------------------------------------------------------

describe('arrays', () => {
  test('dense and nested arrays', () => {
    checkLikeStructuredClone([]);
    checkLikeStructuredClone([1, 'two', [3, [4, [5]]], null, undefined, true]);
    checkLikeStructuredClone(Array.from({ length: 10000 }, (_, i) => i * 1.5 - 7));
  });

  test('holes are kept (same length, same holes)', () => {
    // eslint-disable-next-line no-sparse-arrays
    const cases = [[1, , 3], [, 1], [1, ,], new Array(5), [undefined, , undefined]];
    for (const a of cases) {
      const out = checkLikeStructuredClone(a);
      assert.equal(out.length, a.length);
      for (let i = 0; i < a.length; i++) assert.equal(i in out, i in a, `hole at ${i}`);
    }
  });

  test('very sparse arrays travel as index/value pairs', () => {
    const a = [];
    a[1_000_000] = 'x';
    a[5] = 'y';
    const bytes = encodeToBytes(a);
    assert.ok(bytes.length < 64, `sparse array is compact (${bytes.length} bytes)`);
    const out = checkLikeStructuredClone(a);
    assert.equal(out.length, 1_000_001);
    assert.equal(Object.keys(out).length, 2);

    const huge = [];
    huge.length = 2 ** 32 - 1;
    huge[7] = 7;
    const out2 = roundTrip(huge);
    assert.equal(out2.length, 2 ** 32 - 1);
    assert.deepEqual(Object.keys(out2), ['7']);
  });

  test('extra non-index properties are kept (like structuredClone)', () => {
    const a = [1, 2, 3];
    a.foo = 'bar';
    a['-1'] = 'neg';
    const out = checkLikeStructuredClone(a);
    assert.equal(out.foo, 'bar');
    // eslint-disable-next-line no-sparse-arrays
    const h = [1, , 3];
    h.extra = { deep: true };
    checkLikeStructuredClone(h);
    const m = /(?<word>b+)/.exec('abbbc');
    const mo = checkLikeStructuredClone(m);
    assert.equal(mo.index, 1);
    assert.equal(mo.input, 'abbbc');
    assert.deepEqual(mo.groups, { word: 'bbb' });
  });

  test('setArrayPropertyScan(false): holes kept, named properties dropped', () => {
    setArrayPropertyScan(false);
    try {
      const a = [1, 2];
      a.foo = 1;
      assert.deepStrictEqual(roundTrip(a), [1, 2]);
      // eslint-disable-next-line no-sparse-arrays
      assert.deepStrictEqual(roundTrip([1, , 3]), structuredClone([1, , 3]));
      const s = [];
      s[100000] = 1;
      s[3] = 2;
      const bytes = encodeToBytes(s);
      assert.ok(bytes.length < 10000, `switches to pairs when very sparse (${bytes.length} bytes)`);
      assert.deepStrictEqual(roundTrip(s), structuredClone(s));
    } finally {
      setArrayPropertyScan(true);
    }
  });

  test('array subclasses arrive as plain arrays', () => {
    class MyArr extends Array {}
    const a = MyArr.from([1, 2]);
    const out = roundTrip(a);
    assert.equal(Object.getPrototypeOf(out), Array.prototype);
    assert.deepStrictEqual(out, [1, 2]);
  });
});

describe('objects', () => {
  test('plain objects keep own enumerable string keys in order', () => {
    const o = { b: 1, a: 2, 10: 'ten', 2: 'two', 'with space': 3, 'é': 4, '日本': 5, '': 6 };
    const out = checkLikeStructuredClone(o);
    assert.deepEqual(Object.keys(out), Object.keys(o));
  });

  test('nested structures', () => {
    const v = { a: { b: { c: [1, { d: new Map([['e', new Set([1, 2])]]) }] } }, f: [new Date(0), /x/g] };
    checkLikeStructuredClone(v);
  });

  test('null-prototype objects and class instances arrive as plain objects', () => {
    const n = Object.create(null);
    n.x = 1;
    const outN = checkLikeStructuredClone(n);
    assert.equal(Object.getPrototypeOf(outN), Object.prototype);

    class Point {
      constructor() {
        this.x = 1;
        this.y = 2;
        Object.defineProperty(this, 'hidden', { value: 3, enumerable: false });
      }
      get len() { return 5; }
      norm() { return 1; }
    }
    Point.prototype.inherited = 'not own';
    const out = checkLikeStructuredClone(new Point());
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ['x', 'y']);
  });

  test('getters are invoked, symbols and non-enumerables are skipped', () => {
    const o = { get g() { return 42; }, [Symbol('s')]: 1 };
    Object.defineProperty(o, 'ne', { value: 1, enumerable: false });
    const out = checkLikeStructuredClone(o);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, 'g'), { value: 42, writable: true, enumerable: true, configurable: true });
  });

  test('an own "__proto__" key stays an own data property', () => {
    const o = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const out = checkLikeStructuredClone(o);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.ok(Object.hasOwn(out, '__proto__'));
    assert.equal(({}).polluted, undefined);
  });

  test('enumerable properties added to Object.prototype are not sent', () => {
    // eslint-disable-next-line no-extend-native
    Object.prototype.pollution = 'bad';
    try {
      const out = roundTrip({ a: 1 });
      assert.deepEqual(Object.keys(out), ['a']);
      assert.ok(!Object.hasOwn(out, 'pollution'));
    } finally {
      delete Object.prototype.pollution;
    }
  });

  test('objects with a misleading Symbol.toStringTag are sent as plain objects', () => {
    const fakeDate = { [Symbol.toStringTag]: 'Date', t: 1 };
    assert.deepStrictEqual(roundTrip(fakeDate), { t: 1 });
    class FakeMap {
      constructor() { this.k = 'v'; }
      get [Symbol.toStringTag]() { return 'Map'; }
    }
    assert.deepStrictEqual(roundTrip(new FakeMap()), { k: 'v' });
    class Vec {
      constructor() { this.x = 1; }
      get [Symbol.toStringTag]() { return 'Vec'; }
    }
    assert.deepStrictEqual(roundTrip(new Vec()), { x: 1 });
  });

  test('arguments objects arrive as plain objects (structuredClone would throw)', () => {
    (function () {
      // eslint-disable-next-line prefer-rest-params
      assert.deepStrictEqual(roundTrip(arguments), { 0: 1, 1: 'a' });
    })(1, 'a');
  });
});

// ---------------------------------------------------------------------------------
// built-in objects
// ---------------------------------------------------------------------------------

describe('built-ins', () => {
  test('Date, including invalid dates', () => {
    for (const d of [new Date(0), new Date(), new Date(-8.64e15), new Date(8.64e15), new Date(NaN), new Date(1.5)]) {
      // (node's deepStrictEqual considers two invalid dates different, so compare by hand)
      const out = Number.isNaN(d.getTime()) ? roundTrip(d) : checkLikeStructuredClone(d);
      assert.ok(out instanceof Date);
      assert.ok(Object.is(out.getTime(), d.getTime()));
    }
  });

  test('RegExp: source and flags, not lastIndex', () => {
    const res = [/a/, /a+b*/gimsuy, /\u{1F600}/u, /[\p{L}--[a-z]]/v, /(?<n>x)/d, new RegExp('/slash/'), new RegExp('')];
    for (const re of res) {
      const out = checkLikeStructuredClone(re);
      assert.ok(out instanceof RegExp);
      assert.equal(out.source, re.source);
      assert.equal(out.flags, re.flags);
    }
    const g = /x/g;
    g.lastIndex = 3;
    assert.equal(roundTrip(g).lastIndex, 0);
  });

  test('Map and Set keep insertion order and any keys', () => {
    const k = { key: 1 };
    const m = new Map([[3, 'c'], ['a', 1], [k, 'obj'], [NaN, 'nan'], [-0, 'zero'], [null, [1]], [undefined, {}]]);
    const out = checkLikeStructuredClone(m);
    assert.deepEqual([...out.keys()].map(String), [...m.keys()].map(String));
    const s = new Set([3, 'a', k, NaN, 1n, [1, 2]]);
    const outS = checkLikeStructuredClone(s);
    assert.deepEqual([...outS].map(String), [...s].map(String));
    checkLikeStructuredClone(new Map());
    checkLikeStructuredClone(new Set());
    class MyMap extends Map {}
    const mm = roundTrip(new MyMap([[1, 2]]));
    assert.equal(Object.getPrototypeOf(mm), Map.prototype);
  });

  test('ArrayBuffer (empty, small, 1 MiB, resizable)', () => {
    checkLikeStructuredClone(new ArrayBuffer(0));
    const small = new Uint8Array([1, 2, 3, 250]).buffer;
    const out = checkLikeStructuredClone(small);
    assert.deepEqual([...new Uint8Array(out)], [1, 2, 3, 250]);
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 255;
    const outBig = roundTrip(big.buffer);
    assert.ok(outBig instanceof ArrayBuffer);
    assert.deepEqual(new Uint8Array(outBig), big);
    if (ArrayBuffer.prototype.resize) {
      const r = new ArrayBuffer(4, { maxByteLength: 16 });
      new Uint8Array(r).set([9, 8, 7, 6]);
      const o = roundTrip(r);
      assert.deepEqual([...new Uint8Array(o)], [9, 8, 7, 6]);
    }
  });

  const KINDS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
    Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array];
  if (typeof globalThis.Float16Array === 'function') KINDS.push(globalThis.Float16Array);

  test('every typed array kind', () => {
    for (const T of KINDS) {
      const big = T === BigInt64Array || T === BigUint64Array;
      const vals = big ? [0n, 1n, 2n ** 63n - 1n, 5n, 2n ** 40n] : [0, 1, 2, 100, 127, -1, 0.5, NaN, -0, Infinity];
      const ta = T.from(big && T === BigInt64Array ? [...vals, -(2n ** 63n)] : vals);
      const out = checkLikeStructuredClone(ta);
      assert.equal(Object.getPrototypeOf(out), T.prototype, T.name);
      assert.equal(out.length, ta.length);
      for (let i = 0; i < ta.length; i++) assert.ok(Object.is(out[i], ta[i]), `${T.name}[${i}]`);
      checkLikeStructuredClone(new T(0));
    }
  });

  test('typed-array views keep their byteOffset, length and whole buffer, as structuredClone', () => {
    const buf = new ArrayBuffer(4096);
    new Uint8Array(buf).forEach((_, i, a) => { a[i] = i & 255; });
    for (const T of KINDS) {
      const size = T.BYTES_PER_ELEMENT;
      const view = new T(buf, size * 3, 5);
      const out = roundTrip(view);
      const want = structuredClone(view);
      assert.equal(Object.getPrototypeOf(out), T.prototype);
      assert.deepEqual([out.byteOffset, out.length, out.buffer.byteLength], [want.byteOffset, want.length, want.buffer.byteLength]);
      assert.deepEqual(new Uint8Array(out.buffer), new Uint8Array(buf), 'the whole buffer travels');
    }
  });

  test('decoded typed arrays are fresh private copies of the message memory', () => {
    const src = new Float64Array(new ArrayBuffer(64), 8, 4);
    src.set([1.5, -2, 3, 4]);
    const { w, state } = makeWriter(256);
    encode([src, src], w);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    const [a, b] = decode(r);
    assert.equal(a, b, 'same typed array twice -> one object');
    assert.ok(a.buffer instanceof ArrayBuffer && !(a.buffer instanceof SharedArrayBuffer));
    assert.deepEqual([...a], [1.5, -2, 3, 4]);
    state.u8.fill(0);
    assert.deepEqual([...a], [1.5, -2, 3, 4], 'independent of the message memory');
  });

  test('views of one buffer, and the buffer itself, arrive sharing one buffer', () => {
    const buf = new ArrayBuffer(16);
    const [x, y, b, dv] = roundTrip([new Uint8Array(buf, 0, 8), new Uint8Array(buf, 4, 8), buf, new DataView(buf, 2, 4)]);
    assert.equal(x.buffer, y.buffer);
    assert.equal(x.buffer, b);
    assert.equal(dv.buffer, b);
    x[5] = 99;
    assert.equal(y[1], 99, 'the same memory');
    assert.equal(dv.getUint8(3), 99);
    // The buffer goes into the message once.
    assert.ok(encodeToBytes([new Uint8Array(new ArrayBuffer(1000), 0, 1), new Uint8Array(new ArrayBuffer(1000))]).length < 2100);
    const shared = new ArrayBuffer(1000);
    assert.ok(encodeToBytes([new Uint8Array(shared), new Uint16Array(shared, 10, 4), shared]).length < 1100);
  });

  test('views of a SharedArrayBuffer arrive over the same memory, by the side lane', () => {
    const sab = new SharedArrayBuffer(64);
    const v = new Int32Array(sab, 8, 3);
    v.set([7, 8, 9]);
    const [a, other, b, whole] = roundTrip([v, new Uint8Array([1, 2]), new DataView(sab, 4, 4), sab]);
    assert.equal(a.buffer, sab);
    assert.equal(b.buffer, sab);
    assert.equal(whole, sab);
    assert.deepEqual([a.byteOffset, a.length, b.byteOffset, b.byteLength, [...a]], [8, 3, 4, 4, [7, 8, 9]]);
    assert.deepEqual([...other], [1, 2], 'reference ids stay in step');
  });

  test('typed-array payloads are aligned to their element size (relative to the message start)', () => {
    const f64 = new Float64Array([1.25]);
    const i32 = new Int32Array([0x01020304]);
    for (let pad = 0; pad < 9; pad++) {
      const bytes = encodeToBytes(['x'.repeat(pad), f64, new Uint8Array(pad), i32]);
      const needle = new Uint8Array(f64.buffer);
      const at = indexOf(bytes, needle);
      assert.ok(at > 0 && at % 8 === 0, `float64 payload at ${at}`);
      const at4 = indexOf(bytes, new Uint8Array(i32.buffer));
      assert.ok(at4 > 0 && at4 % 4 === 0, `int32 payload at ${at4}`);
    }
    function indexOf(hay, needle) {
      outer: for (let i = 0; i + needle.length <= hay.length; i++) {
        for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
  });

  test('large typed arrays (1 MiB) with growth from a tiny buffer', () => {
    const f = new Float32Array(1 << 18);
    for (let i = 0; i < f.length; i++) f[i] = Math.sin(i);
    const { w, state } = makeWriter(8);
    encode({ f, g: new Int16Array(f.buffer, 2, 1000) }, w);
    assert.ok(state.grows >= 2);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    const out = decode(r);
    assert.deepEqual(out.f, f);
    assert.deepEqual(out.g, new Int16Array(f.buffer, 2, 1000).slice());
  });

  test('DataView (with offset)', () => {
    const buf = new ArrayBuffer(32);
    const dv = new DataView(buf, 4, 12);
    dv.setFloat64(0, Math.E, true);
    dv.setUint32(8, 0xdeadbeef, true);
    const out = roundTrip(dv);
    assert.ok(out instanceof DataView);
    assert.equal(out.byteLength, 12);
    assert.equal(out.byteOffset, 4);
    assert.equal(out.buffer.byteLength, 32);
    assert.equal(out.getFloat64(0, true), Math.E);
    assert.equal(out.getUint32(8, true), 0xdeadbeef);
    checkLikeStructuredClone(new DataView(new ArrayBuffer(0)));
  });

  test('primitive wrapper objects', () => {
    const vals = [new Boolean(true), new Boolean(false), new Number(-0), new Number(NaN), new Number(3.5),
      new String(''), new String('é😀\uD800'), Object(10n), Object(-(2n ** 100n))];
    for (const v of vals) {
      const out = checkLikeStructuredClone(v);
      assert.equal(typeof out, 'object');
      assert.equal(Object.getPrototypeOf(out), Object.getPrototypeOf(v));
      assert.ok(Object.is(out.valueOf(), v.valueOf()));
    }
  });
});

// ---------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------

describe('errors', () => {
  const CTORS = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];

  test('built-in error classes keep class, name, message, stack', () => {
    for (const C of CTORS) {
      const e = new C('boom ' + C.name);
      const out = roundTrip(e);
      assert.equal(Object.getPrototypeOf(out), C.prototype, C.name);
      assert.ok(out instanceof C);
      assert.equal(out.name, C.name);
      assert.equal(out.message, e.message);
      assert.equal(out.stack, e.stack);
      assert.ok(!Object.keys(out).length, 'no enumerable own properties');
      assert.deepEqual(Object.getOwnPropertyDescriptor(out, 'message'),
        { value: e.message, writable: true, enumerable: false, configurable: true });
    }
  });

  test('message absent, message converted to string, stack absent', () => {
    const e = new Error();
    const out = roundTrip(e);
    assert.ok(!Object.hasOwn(out, 'message'));
    assert.equal(out.message, '');
    const e2 = new Error('x');
    e2.message = 42;
    assert.equal(roundTrip(e2).message, '42');
    const e3 = new TypeError('nostack');
    delete e3.stack;
    const out3 = roundTrip(e3);
    assert.equal(out3.message, 'nostack');
    assert.ok(!Object.hasOwn(out3, 'stack'));
  });

  test('cause (any value, incl. errors and cycles)', () => {
    const inner = new RangeError('inner');
    const e = new Error('outer', { cause: inner });
    const out = roundTrip(e);
    assert.ok(out.cause instanceof RangeError);
    assert.equal(out.cause.message, 'inner');
    assert.deepEqual(roundTrip(new Error('x', { cause: { code: 7, list: [1] } })).cause, { code: 7, list: [1] });
    assert.equal(roundTrip(new Error('x', { cause: undefined })).cause, undefined);
    assert.ok(Object.hasOwn(roundTrip(new Error('x', { cause: undefined })), 'cause'));
    assert.ok(!Object.hasOwn(roundTrip(new Error('x')), 'cause'));
    const self = new Error('self');
    self.cause = self;
    const so = roundTrip(self);
    assert.equal(so.cause, so);
  });

  test('AggregateError keeps .errors', () => {
    const e = new AggregateError([new Error('a'), new TypeError('b'), 'str'], 'many', { cause: 1 });
    const out = roundTrip(e);
    assert.ok(out instanceof AggregateError);
    assert.equal(out.message, 'many');
    assert.equal(out.cause, 1);
    assert.equal(out.errors.length, 3);
    assert.ok(out.errors[1] instanceof TypeError);
    assert.equal(out.errors[2], 'str');
  });

  test('other Error subclasses arrive as Error with their name kept', () => {
    class HttpError extends Error {
      constructor(msg) {
        super(msg);
        this.name = 'HttpError';
        this.status = 404; // dropped, like structuredClone
      }
    }
    const out = roundTrip(new HttpError('not found'));
    assert.equal(Object.getPrototypeOf(out), Error.prototype);
    assert.equal(out.name, 'HttpError');
    assert.equal(out.message, 'not found');
    assert.ok(!('status' in out));
    class Quiet extends TypeError {}
    const q = roundTrip(new Quiet('q'));
    assert.equal(Object.getPrototypeOf(q), TypeError.prototype, 'name "TypeError" -> TypeError');
  });

  test('errors inside containers and shared', () => {
    const e = new Error('shared');
    const out = roundTrip({ list: [e, e], m: new Map([['e', e]]) });
    assert.equal(out.list[0], out.list[1]);
    assert.equal(out.m.get('e'), out.list[0]);
  });

  test('DOMException arrives as DOMException', { skip: typeof DOMException !== 'function' }, () => {
    const e = new DOMException('stopped', 'AbortError');
    const out = roundTrip(e);
    assert.ok(out instanceof DOMException);
    assert.equal(out.name, 'AbortError');
    assert.equal(out.message, 'stopped');
    assert.equal(out.code, 20);
    assert.equal(out.stack, e.stack);
  });
});

// ---------------------------------------------------------------------------------
// identity: shared references and cycles
// ---------------------------------------------------------------------------------

describe('shared references and cycles', () => {
  test('an object referenced twice decodes to one object', () => {
    const a = { x: 1 };
    const out = roundTrip([a, a]);
    assert.equal(out[0], out[1]);
    const d = new Date(1);
    const re = /r/;
    const ab = new ArrayBuffer(2);
    const s = new String('s');
    const out2 = roundTrip({ d, d2: d, re, re2: re, ab, ab2: ab, s, s2: s });
    assert.equal(out2.d, out2.d2);
    assert.equal(out2.re, out2.re2);
    assert.equal(out2.ab, out2.ab2);
    assert.equal(out2.s, out2.s2);
  });

  test('cycles', () => {
    const o = { name: 'o' };
    o.self = o;
    const out = roundTrip(o);
    assert.equal(out.self, out);
    const arr = [1];
    arr.push(arr);
    const outA = roundTrip(arr);
    assert.equal(outA[1], outA);
    const m = new Map();
    m.set(m, m);
    const outM = roundTrip(m);
    assert.equal(outM.get(outM), outM);
    const s = new Set();
    s.add(s);
    const outS = roundTrip(s);
    assert.ok(outS.has(outS));
    const a = { b: {} };
    a.b.c = { a };
    const outX = roundTrip(a);
    assert.equal(outX.b.c.a, outX);
  });

  test('many objects (hash-table path) with sharing', () => {
    const objs = Array.from({ length: 500 }, (_, i) => ({ i }));
    const v = { first: objs, second: objs.slice().reverse(), map: new Map(objs.map((o) => [o, o.i])) };
    const out = roundTrip(v);
    for (let i = 0; i < 500; i++) {
      assert.equal(out.first[i], out.second[499 - i]);
      assert.equal(out.map.get(out.first[i]), i);
    }
    assert.deepStrictEqual(out, structuredClone(v));
  });

  test('identity does not leak between messages', () => {
    const a = { x: 1 };
    const { w, state } = makeWriter(64);
    encode(a, w);
    encode(a, w); // second value in the same message: its own id space
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    const x = decode(r);
    const y = decode(r);
    assert.deepEqual(x, { x: 1 });
    assert.deepEqual(y, { x: 1 });
    assert.notEqual(x, y);
  });
});

// ---------------------------------------------------------------------------------
// a broad comparison with structuredClone
// ---------------------------------------------------------------------------------

test('mixed sample equals structuredClone(value)', () => {
  const shared = { s: 1 };
  const sample = {
    n: [0, -1, 1.5, NaN, -0, Infinity, 2 ** 40],
    s: ['', 'ascii', 'é', '日本', '😀', '\uD800'],
    b: [true, false, null, undefined],
    big: [0n, -5n, 2n ** 70n],
    d: new Date(123456789),
    re: /ab+c/gi,
    m: new Map([['k', shared], [shared, 'v']]),
    set: new Set([shared, 'x']),
    ta: new Uint16Array([1, 2, 3]),
    ab: new Uint8Array([5, 6]).buffer,
    dv: new DataView(new ArrayBuffer(3)),
    w: [new Number(1), new String('x'), new Boolean(true), Object(2n)],
    nested: { deeper: { deepest: [shared, [shared]] } },
  };
  checkLikeStructuredClone(sample);
});

test('deep nesting within the limit round-trips', () => {
  let v = [];
  for (let i = 0; i < 1000; i++) v = [v, { i }];
  const out = roundTrip(v);
  let depth = 0;
  for (let x = out; x.length; x = x[0]) depth++;
  assert.equal(depth, 1000);
});

// ---------------------------------------------------------------------------------
// refusals
// ---------------------------------------------------------------------------------

describe('refused values', () => {
  test('functions, with the path in the message', () => {
    const e = encodeArgsErr([1, { opts: { onDone() {} } }]);
    assert.equal(e.message, 'arguments[1].opts.onDone is a function and cannot be sent to a worker (functions cannot be cloned); pass data, not code');
    assert.equal(e.path, 'arguments[1].opts.onDone');
    assert.match(encodeErr(() => 1).message, /^value is a function/);
    assert.match(encodeArgsErr([() => 1]).message, /^arguments\[0\] is a function/);
    assert.match(encodeArgsErr([{ list: [1, 2, { cb: async () => {} }] }]).message, /^arguments\[0\]\.list\[2\]\.cb is a function/);
    assert.match(encodeArgsErr([{ 'weird key': { f: function* g() {} } }]).message, /^arguments\[0\]\["weird key"\]\.f is a function/);
    assert.match(encodeErr({ m: new Map([['k', () => 1]]) }).message, /^value\.m\.get\("k"\) is a function/);
    assert.match(encodeErr({ m: new Map([[() => 1, 'v']]) }).message, /^value\.m\.keys\(\)\[0\] is a function/);
    assert.match(encodeErr({ s: new Set([1, Math.max]) }).message, /^value\.s\.values\(\)\[1\] is a function/);
    assert.match(encodeErr(new Error('x', { cause: { f() {} } })).message, /^value\.cause\.f is a function/);
    assert.match(encodeErr(Object.assign([1, 2], { cb() {} })).message, /^value\.cb is a function/);
    const sparse = [];
    sparse[5000] = () => 1;
    assert.match(encodeErr(sparse).message, /^value\[5000\] is a function/);
  });

  test('symbols', () => {
    assert.match(encodeErr({ s: Symbol('tag') }).message, /^value\.s is a symbol \(Symbol\(tag\)\) and cannot be sent/);
    assert.match(encodeErr(Object(Symbol('x'))).message, /^value is a Symbol object/);
  });

  test('WeakMap, WeakSet, WeakRef, Promise', () => {
    assert.match(encodeErr({ w: new WeakMap() }).message, /^value\.w is a WeakMap and cannot be sent/);
    assert.match(encodeErr([new WeakSet()]).message, /^value\[0\] is a WeakSet/);
    assert.match(encodeErr(new WeakRef({})).message, /^value is a WeakRef/);
    assert.match(encodeArgsErr([Promise.resolve(1)]).message, /^arguments\[0\] is a Promise and cannot be sent to a worker; await it/);
  });

  test('platform objects the side lane cannot carry', () => {
    if (typeof WebAssembly === 'object') {
      assert.match(encodeErr(new WebAssembly.Memory({ initial: 1 })).message, /^value is a WebAssembly\.Memory/);
    }
    assert.match(encodeErr([1, 2].values()).message, /^value is a Array Iterator object/);
  });

  test('DOM nodes', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'Node');
    class Node {}
    class HTMLDivElement extends Node {
      get [Symbol.toStringTag]() { return 'HTMLDivElement'; }
    }
    globalThis.Node = Node;
    try {
      assert.match(encodeArgsErr([{ el: new HTMLDivElement() }]).message, /^arguments\[0\]\.el is a DOM node \(HTMLDivElement\)/);
    } finally {
      if (saved) Object.defineProperty(globalThis, 'Node', saved);
      else delete globalThis.Node;
    }
  });

  test('detached buffers', () => {
    const buf = new ArrayBuffer(8);
    structuredClone(buf, { transfer: [buf] });
    assert.match(encodeErr(buf).message, /^value is a detached \(transferred\) ArrayBuffer/);
    const buf2 = new ArrayBuffer(8);
    const view = new Float32Array(buf2);
    structuredClone(buf2, { transfer: [buf2] });
    assert.match(encodeErr({ view }).message, /^value\.view is a Float32Array whose ArrayBuffer is detached/);
  });

  test('too deep nesting is a clear DataCloneError, not a stack overflow', () => {
    let v = {};
    for (let i = 0; i < MAX_DEPTH + 5; i++) v = { v };
    const e = encodeErr(v);
    assert.match(e.message, /nested/);
    let a = [];
    for (let i = 0; i < 200000; i++) a = [a];
    assert.match(encodeErr(a).message, /nested/);
  });

  test('exceptions from getters propagate unchanged', () => {
    const boom = new TypeError('getter failed');
    const { w } = makeWriter(64);
    assert.throws(() => encode({ get x() { throw boom; } }, w), (e) => e === boom);
  });

  test('thrown as DOMException when available, else DataCloneError', () => {
    const e = encodeErr(() => 1);
    if (typeof DOMException === 'function') {
      assert.ok(e instanceof DOMException);
      assert.equal(e.code, 25);
    }
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'DOMException');
    delete globalThis.DOMException;
    try {
      const e2 = encodeErr({ f() {} });
      assert.ok(e2 instanceof DataCloneError);
      assert.ok(e2 instanceof Error);
      assert.equal(Object.getPrototypeOf(e2), DataCloneError.prototype);
      assert.equal(e2.name, 'DataCloneError');
      assert.equal(e2.path, 'value.f');
    } finally {
      if (saved) Object.defineProperty(globalThis, 'DOMException', saved);
    }
    assert.ok(!(new Error('x') instanceof DataCloneError));
  });

  test('the writer is reusable after a failure', () => {
    const { w, state } = makeWriter(64);
    assert.throws(() => encode({ a: [1, 2, { f() {} }] }, w));
    w.reset(state.u8, state.start, state.u8.length - state.start);
    encode({ a: [1, 2] }, w);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    assert.deepEqual(decode(r), { a: [1, 2] });
  });
});

// ---------------------------------------------------------------------------------
// encodeArgs / decodeArgs, Writer / Reader mechanics
// ---------------------------------------------------------------------------------

describe('side lane', () => {
  function withThreshold(bytes, fn) {
    const old = setSideLaneMinBytes(bytes);
    try {
      return fn();
    } finally {
      setSideLaneMinBytes(old);
    }
  }

  test('platform objects, Blobs and shared memory travel beside the message, each once, identity kept', () => {
    const blob = new Blob(['x']);
    const stream = new ReadableStream();
    const sab = new SharedArrayBuffer(8);
    {
      // (MessagePort, ImageBitmap and the others: tests/browser/side-lane.html)
      const { w, state } = makeWriter();
      w.sideToken = 0xfeedbeef;
      encodeArgs('m', [{ blob, again: blob }, [stream, blob], sab, 5], w);
      assert.deepEqual(w.side, [blob, stream, sab]);
      const r = new Reader();
      r.reset(state.u8, state.start, w.length);
      assert.deepEqual(peekSide(r), { count: 3, token: 0xfeedbeef });
      assert.throws(() => decodeArgs(r), (e) => e instanceof DecodeError && /3 side-lane values and none were given/.test(e.message));
      r.reset(state.u8, state.start, w.length);
      r.side = w.side.slice();
      const { method, args } = decodeArgs(r);
      assert.equal(method, 'm');
      assert.equal(args[0].blob, blob);
      assert.equal(args[0].again, blob);
      assert.deepEqual(args.slice(1), [[stream, blob], sab, 5]);
      assert.equal(args[1][1], blob);
      assert.equal(r.side, null, 'the reader lets go of the values');
    }
  });

  test('a message without side values has no header and the same bytes as before', () => {
    const { w, state } = makeWriter();
    encode({ a: [1, 'x'] }, w);
    assert.equal(w.side.length, 0);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    assert.equal(peekSide(r), null);
    assert.notEqual(state.u8[state.start], 0x20);
  });

  test('moving buffers from the threshold up take the side lane; smaller ones and kept ones are copied', () => withThreshold(1024, () => {
    const big = new ArrayBuffer(4096);
    const small = new ArrayBuffer(1023);
    const view = new Float64Array(big, 8, 4);
    const { w } = makeWriter();
    encode([view, small, big], w);
    assert.deepEqual(w.side, [big]);
    assert.deepEqual(w.buffers, [small]);
    const [v, s, b] = roundTrip([view, small, big]);
    assert.equal(v.buffer, b);
    assert.deepEqual([v.byteOffset, v.length, s.byteLength], [8, 4, 1023]);
    // Only the buffers that move take the side lane: with({ transfer: [] }) copies.
    const { w: w2 } = makeWriter();
    w2.moves = new Set();
    encode([view, big], w2);
    assert.deepEqual(w2.side, []);
    assert.deepEqual(w2.buffers, [big]);
  }));

  test('the header keeps payloads aligned', () => withThreshold(64, () => {
    const { w, state } = makeWriter();
    const f64 = new Float64Array([1.5, 2.5]);
    encode(['ab', new ArrayBuffer(64), f64], w);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    r.side = w.side.slice();
    const [, , f] = decode(r);
    assert.deepEqual([...f], [1.5, 2.5]);
  }));

  test('isTransferable and the default threshold', () => {
    assert.ok(isTransferable(new ArrayBuffer(1)));
    assert.ok(isTransferable(new ReadableStream()));
    assert.ok(!isTransferable(new Blob([])));
    assert.ok(!isTransferable(new SharedArrayBuffer(1)));
    assert.ok(!isTransferable({}));
    assert.ok(SIDE_LANE_MIN_BYTES >= 64 * 1024);
  });
});

describe('encodeArgs / decodeArgs', () => {
  test('round trip', () => {
    const { w, state } = makeWriter(8);
    const args = [1, 'ab', { w: 3 }, [new Map([[1, new Set([2])]])], undefined, null, -0, 2n ** 80n];
    encodeArgs('resize', args, w);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    const { method, args: out } = decodeArgs(r);
    assert.equal(method, 'resize');
    assert.deepStrictEqual(out, args);
    assert.equal(r.offset, w.length);
  });

  test('a cancellation key travels after the arguments; none reads as undefined', () => {
    for (const key of ['user:42', '', 'é\uD800', undefined]) {
      const { w, state } = makeWriter(8);
      encodeArgs('search', ['q', { page: 2 }], w, key);
      const r = new Reader();
      r.reset(state.u8, state.start, w.length);
      const got = decodeArgs(r);
      assert.equal(got.method, 'search');
      assert.deepStrictEqual(got.args, ['q', { page: 2 }]);
      assert.equal(got.key, key);
      assert.equal(r.offset, w.length);
    }
    const { w } = makeWriter(8);
    assert.throws(() => encodeArgs('m', [], w, 7), /key must be a string/);
  });

  test('call flags travel after the key, with or without one', () => {
    for (const key of ['k', undefined]) {
      for (const flags of [0, 1, 127]) {
        const { w, state } = makeWriter(8);
        encodeArgs('m', [1], w, key, flags);
        const r = new Reader();
        r.reset(state.u8, state.start, w.length);
        assert.deepEqual(decodeArgs(r), { method: 'm', args: [1], key, flags });
      }
    }
  });

  test('the writer lists the ArrayBuffers of the last message, each once, shared ones not', () => {
    const { w } = makeWriter(8);
    const a = new ArrayBuffer(8);
    const b = new ArrayBuffer(4);
    encodeArgs('m', [a, new Uint8Array(a), { x: new Int16Array(b, 2, 1) }, new Uint8Array(new SharedArrayBuffer(4))], w);
    assert.deepEqual(w.buffers, [a, b]);
    encode('no buffers', w);
    assert.deepEqual(w.buffers, []);
  });

  test('unicode method names, empty args, sparse args', () => {
    for (const m of ['', 'méthode', '日本', 'x'.repeat(300), '\uD800']) {
      const { w, state } = makeWriter(8);
      // eslint-disable-next-line no-sparse-arrays
      encodeArgs(m, [, 1], w);
      const r = new Reader();
      r.reset(state.u8, state.start, w.length);
      const res = decodeArgs(r);
      assert.equal(res.method, m);
      assert.equal(res.args.length, 2);
      assert.ok(!(0 in res.args));
    }
  });

  test('argument errors', () => {
    const { w } = makeWriter(64);
    assert.throws(() => encodeArgs(1, [], w), TypeError);
    assert.throws(() => encodeArgs('m', 'notarray', w), TypeError);
    const bytes = encodeToBytes('m');
    const more = new Uint8Array([...bytes, ...encodeToBytes({ not: 'array' })]);
    assert.throws(() => decodeArgs(readerOver(more)), DecodeError);
  });

  test('the same small call many times (reuse, string cache)', () => {
    const w = new Writer(null);
    const u8 = new Uint8Array(new SharedArrayBuffer(256));
    const r = new Reader();
    for (let i = 0; i < 2000; i++) {
      w.reset(u8, 0, u8.length);
      encodeArgs(i % 2 ? 'resize' : 'move', [i, 'ab' + (i % 3), { w: i }], w);
      r.reset(u8, 0, w.length);
      const { method, args } = decodeArgs(r);
      assert.equal(method, i % 2 ? 'resize' : 'move');
      assert.deepEqual(args, [i, 'ab' + (i % 3), { w: i }]);
    }
  });
});

describe('Writer / Reader', () => {
  test('growth from a tiny capacity, relocation and start offsets', () => {
    const { w, state } = makeWriter(8, 16);
    const v = { text: 'x'.repeat(1000), nums: Array.from({ length: 300 }, (_, i) => i * 1000.5), u: '日'.repeat(50) };
    encode(v, w);
    assert.ok(state.grows >= 3, `grew ${state.grows} times`);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    assert.deepStrictEqual(decode(r), v);
  });

  test('no grow callback / bad grow result -> RangeError', () => {
    const w = new Writer();
    w.reset(new Uint8Array(8), 0, 8);
    assert.throws(() => encode('x'.repeat(100), w), RangeError);
    const w2 = new Writer(() => ({ u8: new Uint8Array(4), start: 0, cap: 4 }));
    w2.reset(new Uint8Array(8), 0, 8);
    assert.throws(() => encode('x'.repeat(100), w2), RangeError);
    assert.throws(() => w.reset(new Uint8Array(8), 4, 8), RangeError);
    assert.throws(() => new Reader().reset(new Uint8Array(8), 0, 9), RangeError);
  });

  test('non-shared destination buffers work too', () => {
    const u8 = new Uint8Array(1024);
    const w = new Writer();
    w.reset(u8, 0, 1024);
    encode({ a: 'é', b: new Float64Array([1, 2]) }, w);
    const r = new Reader();
    r.reset(u8, 0, w.length);
    assert.deepStrictEqual(decode(r), { a: 'é', b: new Float64Array([1, 2]) });
  });

  test('several values in one message', () => {
    const { w, state } = makeWriter(8);
    const vals = [1, 'two', { three: 3 }, [4], new Float32Array([5]), 6n];
    for (const v of vals) encode(v, w);
    const r = new Reader();
    r.reset(state.u8, state.start, w.length);
    for (const v of vals) assert.deepStrictEqual(decode(r), v);
    assert.equal(r.offset, w.length);
  });

  test('format constants', () => {
    assert.equal(FORMAT_VERSION, 3);
    assert.equal(MAX_DEPTH, 10000);
  });
});

// ---------------------------------------------------------------------------------
// hostile input
// ---------------------------------------------------------------------------------

describe('malformed input', () => {
  // deterministic PRNG
  let seed = 0x12345678;
  function rnd() {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  }

  function decodeOrDecodeError(bytes) {
    try {
      decodeBytes(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) {
        throw new Error(`non-DecodeError for [${[...bytes].join(',')}]: ${e && e.stack}`);
      }
    }
  }

  const samples = [
    [1, 'ab', { w: 3 }],
    { a: [1, , 3], s: new Set(['x', 1.5]), m: new Map([[{}, new Date(0)]]) }, // eslint-disable-line no-sparse-arrays
    ['日本\uD800', 'café', 'x'.repeat(70), 2n ** 100n, -5n, new Error('e', { cause: 1 })],
    { t: new Float64Array([1, 2]), u: new Uint8Array([1, 2, 3]), ab: new ArrayBuffer(9), dv: new DataView(new ArrayBuffer(2)) },
    [/re/g, new String('s'), new Number(1), new Boolean(true), Object(1n), new AggregateError([1], 'agg')],
    (() => { const o = { k: 1 }; o.self = o; return [o, o]; })(),
  ];
  if (typeof DOMException === 'function') samples.push(new DOMException('m', 'AbortError'));

  test('every truncation of valid messages throws DecodeError', () => {
    for (const v of samples) {
      const bytes = encodeToBytes(v);
      for (let n = 0; n < bytes.length; n++) {
        assertDecodeError(bytes.subarray(0, n));
      }
      decodeBytes(bytes);
    }
  });

  test('random mutations of valid messages: DecodeError or a value', () => {
    for (const v of samples) {
      const bytes = encodeToBytes(v);
      for (let k = 0; k < 400; k++) {
        const m = bytes.slice();
        const flips = 1 + Math.floor(rnd() * 3);
        for (let f = 0; f < flips; f++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
        decodeOrDecodeError(m);
      }
    }
  });

  test('thousands of random byte strings: DecodeError or a value, never a hang', () => {
    const t0 = Date.now();
    for (let k = 0; k < 5000; k++) {
      const len = Math.floor(rnd() * 48);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        // bias toward valid tags so that the fuzzing goes deeper
        b[i] = rnd() < 0.6 ? Math.floor(rnd() * 0x1f) : Math.floor(rnd() * 256);
      }
      decodeOrDecodeError(b);
    }
    assert.ok(Date.now() - t0 < 20000);
  });

  test('specific hostile inputs', () => {
    const END = 0x00;
    const STR_ASCII = 0x09;
    const STR_UTF16 = 0x0b;
    const OBJECT = 0x0c;
    const ARRAY = 0x0d;
    const HOLE = 0x0e;
    const REST = 0x0f;
    const REF = 0x10;
    const REGEXP = 0x12;
    const ARRAYBUFFER = 0x15;
    const TYPED = 0x16;
    const ERROR = 0x1c;
    const big = [0xff, 0xff, 0xff, 0xff, 0x0f]; // varuint 2^32-1
    assertDecodeError([STR_ASCII, ...big, 65], /truncated/);
    assertDecodeError([STR_UTF16, ...big, 65, 0], /truncated/);
    assertDecodeError([ARRAYBUFFER, ...big], /truncated/);
    assertDecodeError([TYPED, 8, 0, ...big, ARRAYBUFFER, 0, 0, 0, 0, 0, 0, 0], /outside its buffer/);
    assertDecodeError([TYPED, 12, 0], /typed array kind/);
    assertDecodeError([TYPED, 5, 1, 1, ARRAYBUFFER, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], /outside its buffer/, 'misaligned');
    assertDecodeError([TYPED, 1, 4, 8, ARRAYBUFFER, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], /outside its buffer/, 'past the end');
    assertDecodeError([TYPED, 1, 0, 0, OBJECT, END], /not an ArrayBuffer/);
    assertDecodeError([ARRAY, 2, OBJECT, END, TYPED, 1, 0, 0, REF, 1, END], /not an ArrayBuffer/, 'a REF to the view itself');
    assertDecodeError([STR_ASCII, 0xff, 0xff, 0xff, 0xff, 0x1f], /varuint/);
    assertDecodeError([STR_ASCII, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], /varuint/);
    assertDecodeError([REF, 0], /back-reference/);
    assertDecodeError([ARRAY, 2, REF, 1, END], /back-reference/);
    assertDecodeError([0x21], /unknown tag/);
    assertDecodeError([0x1f, 0], /side-lane value 0 is missing/);
    assertDecodeError([0x20, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0x02], /1 side-lane values and none were given/);
    assertDecodeError([0x20, 0, 0], /truncated/);
    assertDecodeError([0x7f], /unknown tag/);
    assertDecodeError([END], /unexpected/);
    assertDecodeError([HOLE], /unexpected/);
    assertDecodeError([OBJECT, 0x85, 1, END], /property name/);
    assertDecodeError([ARRAY, 0, STR_ASCII, 6, ...Buffer.from('length'), 1, END], /length/);
    assertDecodeError([REGEXP, STR_ASCII, 1, 40, STR_ASCII, 0], /RegExp/);
    assertDecodeError([REGEXP, STR_ASCII, 1, 97, STR_ASCII, 2, 103, 103], /RegExp/);
    assertDecodeError([ERROR, 9, 0], /error kind/);
    assertDecodeError([ERROR, 0, 0x40], /error flags/);
    // a huge sparse length is fine: nothing is allocated for it
    const a = decodeBytes([ARRAY, ...big.slice(0, 4), 0x0f, REST, END]);
    assert.equal(a.length, 2 ** 32 - 1);
    // ARRAY with a huge length but only a few items: truncated, not an allocation
    assertDecodeError([ARRAY, ...big, 1, 2, 3], /truncated/);
    // "__proto__" as a key never changes the prototype
    const o = decodeBytes([OBJECT, STR_ASCII, 9, ...Buffer.from('__proto__'), ARRAY, 0, END, END]);
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
    assert.ok(Array.isArray(o.__proto__));
  });

  test('deep nesting in the input is a DecodeError, not a stack overflow', () => {
    const n = 100000;
    const arrays = new Uint8Array(2 * n + n);
    for (let i = 0; i < n; i++) {
      arrays[2 * i] = 0x0d; // ARRAY
      arrays[2 * i + 1] = 1; // length 1
    }
    assertDecodeError(arrays, /nest/);
    const objects = [];
    for (let i = 0; i < 20000; i++) objects.push(0x0c, 0x09, 1, 97); // {a: {a: ...
    assertDecodeError(objects, /nest/);
    const sets = new Uint8Array(30000).fill(0x14); // SET SET SET ...
    assertDecodeError(sets, /nest/);
  });
});

// ---------------------------------------------------------------------------------
// across threads: encode here, decode + re-encode in a worker, decode here
// ---------------------------------------------------------------------------------

test('round trip through a worker thread over one SharedArrayBuffer', async () => {
  const { Worker } = await import('node:worker_threads');
  const codecUrl = new URL('../codec.js', import.meta.url).href;
  const src = `
    import { parentPort, workerData } from 'node:worker_threads';
    import { Reader, Writer, decodeArgs, encode } from ${JSON.stringify(codecUrl)};
    const { sab, len } = workerData;
    const u8 = new Uint8Array(sab);
    const r = new Reader();
    r.reset(u8, 0, len);
    const { method, args } = decodeArgs(r);
    const w = new Writer(null);
    w.reset(u8, 4096, u8.length - 4096);
    encode({ method, args, sum: args[0] + args[2].w }, w);
    parentPort.postMessage(w.length);
  `;
  const sab = new SharedArrayBuffer(1 << 16);
  const u8 = new Uint8Array(sab);
  const w = new Writer(null);
  w.reset(u8, 0, 4096);
  const args = [1, 'ab', { w: 3 }, new Float32Array([1.5]), new Map([['k', [1n]]])];
  encodeArgs('resize', args, w);
  const worker = new Worker(new URL('data:text/javascript,' + encodeURIComponent(src)), {
    workerData: { sab, len: w.length },
  });
  const len = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const r = new Reader();
  r.reset(u8, 4096, len);
  assert.deepStrictEqual(decode(r), { method: 'resize', args, sum: 4 });
});

// ---------------------------------------------------------------------------------
// randomized differential test against structuredClone (incl. sharing and cycles)
// ---------------------------------------------------------------------------------

test('random values decode like structuredClone, with the same sharing structure', () => {
  let seed = 0x9e3779b9;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const STR_ALPHABETS = ['abcxyz', 'é\u00ff\u0080ab', '日本語😀', '\uD800\uDC00\uDFFFa'];
  function randomString() {
    const alpha = pick(STR_ALPHABETS);
    const n = rnd() < 0.9 ? Math.floor(rnd() * 12) : Math.floor(rnd() * 300);
    let s = '';
    for (let i = 0; i < n; i++) s += alpha[Math.floor(rnd() * alpha.length)];
    return s;
  }
  function randomPrimitive() {
    switch (Math.floor(rnd() * 9)) {
      case 0: return Math.floor(rnd() * 256) - 64;
      case 1: return pick([NaN, -0, 0, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 0.1, 1e300]);
      case 2: return (rnd() - 0.5) * 1e6;
      case 3: return randomString();
      case 4: return BigInt(Math.floor(rnd() * 1e9)) ** BigInt(1 + Math.floor(rnd() * 5)) * (rnd() < 0.5 ? -1n : 1n);
      case 5: return rnd() < 0.5;
      case 6: return null;
      case 7: return undefined;
      default: return randomString();
    }
  }
  const TA = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array];
  function randomValue(depth, pool) {
    const r = rnd();
    if (depth > 5 || r < 0.3) return randomPrimitive();
    if (pool.length && r < 0.4) return pick(pool); // shared reference or cycle
    const n = Math.floor(rnd() * 6);
    switch (Math.floor(rnd() * 11)) {
      case 0: case 1: {
        const a = [];
        pool.push(a);
        for (let i = 0; i < n; i++) a.push(randomValue(depth + 1, pool));
        if (n && rnd() < 0.3) delete a[Math.floor(rnd() * n)];
        if (rnd() < 0.1) a.extra = randomValue(depth + 1, pool);
        return a;
      }
      case 2: case 3: {
        const o = rnd() < 0.1 ? Object.create(null) : {};
        pool.push(o);
        for (let i = 0; i < n; i++) o[rnd() < 0.2 ? String(i) : randomString()] = randomValue(depth + 1, pool);
        return o;
      }
      case 4: {
        const m = new Map();
        pool.push(m);
        for (let i = 0; i < n; i++) m.set(randomValue(depth + 1, pool), randomValue(depth + 1, pool));
        return m;
      }
      case 5: {
        const s = new Set();
        pool.push(s);
        for (let i = 0; i < n; i++) s.add(randomValue(depth + 1, pool));
        return s;
      }
      case 6: {
        const v = rnd() < 0.5 ? new Date(Math.floor(rnd() * 1e12)) : new RegExp(pick(['a+', '[x-z]', '\\d']), pick(['', 'g', 'iu']));
        pool.push(v);
        return v;
      }
      case 7: {
        const T = pick(TA);
        const t = new T(n * 3);
        for (let i = 0; i < t.length; i++) t[i] = rnd() * 1000 - 500;
        const v = rnd() < 0.8 ? t : t.buffer;
        pool.push(v);
        return v;
      }
      case 8: {
        const v = pick([new Number(rnd()), new String(randomString()), new Boolean(rnd() < 0.5), Object(BigInt(n))]);
        pool.push(v);
        return v;
      }
      case 9: {
        const C = pick([Error, TypeError, RangeError, SyntaxError]);
        const e = new C(randomString());
        pool.push(e);
        if (rnd() < 0.5) e.cause = randomValue(depth + 1, pool);
        return e;
      }
      default: {
        const v = new DataView(new ArrayBuffer(n));
        pool.push(v);
        return v;
      }
    }
  }

  // same sharing structure: the map original -> decoded object must be a bijection
  function checkIdentity(orig, out, seen = new Map(), back = new Map()) {
    if (orig === null || (typeof orig !== 'object' && typeof orig !== 'function')) return;
    if (seen.has(orig)) {
      assert.equal(seen.get(orig), out, 'shared reference preserved');
      return;
    }
    assert.ok(!back.has(out), 'distinct objects stay distinct');
    seen.set(orig, out);
    back.set(out, orig);
    if (orig instanceof Map) {
      const ok = [...orig];
      const oo = [...out];
      ok.forEach(([k, v], i) => { checkIdentity(k, oo[i][0], seen, back); checkIdentity(v, oo[i][1], seen, back); });
    } else if (orig instanceof Set) {
      const oo = [...out];
      [...orig].forEach((v, i) => checkIdentity(v, oo[i], seen, back));
    } else if (orig instanceof Error) {
      if ('cause' in orig) checkIdentity(orig.cause, out.cause, seen, back);
    } else if (!ArrayBuffer.isView(orig) && !(orig instanceof ArrayBuffer)) {
      for (const k of Object.keys(orig)) checkIdentity(orig[k], out[k], seen, back);
    }
  }

  let compared = 0;
  for (let k = 0; k < 400; k++) {
    const v = randomValue(0, []);
    const out = roundTrip(v);
    let expected;
    try {
      expected = structuredClone(v);
    } catch {
      // V8's structuredClone cannot deserialize an error whose cause refers back to the
      // error itself ("Unable to deserialize cloned data"); we can, so only check identity.
      checkIdentity(v, out);
      continue;
    }
    assert.deepStrictEqual(out, expected);
    checkIdentity(v, out);
    compared++;
  }
  assert.ok(compared > 300);
});
