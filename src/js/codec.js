// Atelier codec: structured-clone-like serialization of JS values into (shared) memory.
//
// ES module, no dependencies. Used on the main thread and in workers; every call's
// method name + arguments (and its result) go through here, so the code is written for
// speed: one reusable Writer/Reader per thread, no closures per value, `switch (typeof)`
// first, small-int / one-byte-string fast paths, bulk copies for binary data.
//
// ===================================================================================
// BYTE FORMAT  (FORMAT_VERSION = 2)
// ===================================================================================
// A message is a byte range [start, start+len) of a Uint8Array (usually a view of
// WebAssembly shared memory). `start` is 8-aligned (the caller guarantees it); all
// alignment below is computed RELATIVE TO THE MESSAGE START, so it is also absolute.
// Multi-byte numbers are little-endian. Typed-array payloads are in host byte order,
// which is little-endian on every platform that runs wasm (all browsers, Node on
// x64/arm64) -- a big-endian host is not supported.
//
// A value is one tag byte followed by a tag-specific payload:
//
//   tag        name            payload
//   ---------  --------------  -------------------------------------------------------
//   0x00       END             (not a value) terminates OBJECT/MAP/SET/ARRAY property lists
//   0x01       UNDEFINED       -
//   0x02       NULL            -
//   0x03       FALSE           -
//   0x04       TRUE            -
//   0x05       INT32           4 bytes, two's complement (integers that fit int32, not -0)
//   0x06       FLOAT64         8 bytes IEEE-754 (unaligned; keeps -0, NaN, +-Infinity)
//   0x07       BIGINT_POS      varuint n, n bytes magnitude (least significant first)
//   0x08       BIGINT_NEG      varuint n, n bytes magnitude; value = -magnitude
//   0x09       STR_ASCII       varuint n, n bytes (every char < 0x80)
//   0x0A       STR_LATIN1      varuint n, n bytes (every UTF-16 code unit < 0x100)
//   0x0B       STR_UTF16       varuint n (code units), 2n bytes: UTF-16 code units LE
//                              (lone surrogates are kept exactly)
//   0x0C       OBJECT   [ref]  { key value }* END      key = a STR_* value
//   0x0D       ARRAY    [ref]  varuint length, then the dense part: up to `length`
//                              items, each a value or HOLE; if the dense part stops
//                              early it is closed by ARRAY_REST. Then { key value }* END
//                              for the remaining own enumerable properties (sparse
//                              indices as decimal strings, and non-index properties).
//   0x0E       HOLE            (only in an ARRAY dense part) a missing element
//   0x0F       ARRAY_REST      (only in an ARRAY dense part) end of the dense part
//   0x10       REF             varuint id: the id-th object of this value (see below)
//   0x11       DATE     [ref]  8 bytes float64 time value (NaN = invalid date)
//   0x12       REGEXP   [ref]  STR source, STR flags
//   0x13       MAP      [ref]  { key value }* END   (insertion order)
//   0x14       SET      [ref]  { value }* END       (insertion order)
//   0x15       ARRAYBUFFER [ref]  varuint byteLength, zero padding to 8, bytes
//   0x16       TYPED    [ref]  u8 kind, varuint byteOffset, varuint length (elements),
//                              then its buffer: an ARRAYBUFFER value or a REF to one
//                              (views of one buffer share it, as in structuredClone).
//                              kind: 0 Int8 1 Uint8 2 Uint8Clamped 3 Int16 4 Uint16
//                              5 Int32 6 Uint32 7 Float32 8 Float64 9 BigInt64
//                              10 BigUint64 11 Float16
//   0x17       DATAVIEW [ref]  varuint byteOffset, varuint byteLength, then its buffer
//                              (as TYPED)
//   0x18       BOOLEAN_OBJ [ref]  u8 0|1                  (new Boolean(x))
//   0x19       NUMBER_OBJ  [ref]  8 bytes float64          (new Number(x))
//   0x1A       STRING_OBJ  [ref]  STR value                (new String(x))
//   0x1B       BIGINT_OBJ  [ref]  BIGINT_POS/NEG value     (Object(1n))
//   0x1C       ERROR    [ref]  u8 kind, u8 flags, then in this order, if flagged:
//                              name STR (flag 1), message STR (flag 2), stack STR
//                              (flag 4), cause value (flag 8), errors value (flag 16).
//                              kind: 0 Error 1 EvalError 2 RangeError 3 ReferenceError
//                              4 SyntaxError 5 TypeError 6 URIError 7 AggregateError
//   0x1D       DOMEXCEPTION [ref] STR name, STR message, u8 hasStack, [STR stack]
//   0x1E       IMAGEDATA [ref] varuint width, varuint height, u8 colorSpace (0 srgb,
//                              1 display-p3), zero padding to 8, width*height*4 bytes (RGBA)
//   (0x1F-0x7F unused: a decoder rejects them)
//   0x80-0xFF  SMALL_INT       the integer (tag - 0x80), i.e. 0..127, no payload
//
// varuint: unsigned LEB128, 1..5 bytes, value <= 0xFFFFFFFF.
//
// Back-references: every value marked [ref] gets the next id (0, 1, 2, ...) at the
// moment its tag is written/read, i.e. BEFORE its children, so cycles work. A second
// occurrence of the same object is written as REF id. Ids are scoped to one top-level
// encode()/decode() (encodeArgs/decodeArgs count as one value).
//
// Padding bytes are written as zero and ignored by the decoder. Payload alignment lets a
// decoder build views over the message, but this decoder always makes fresh, private
// (non-shared) copies.
//
// ===================================================================================
// DIFFERENCES FROM structuredClone (deliberate)
// ===================================================================================
// * Typed arrays over a SharedArrayBuffer are copied: the bytes they view, into a fresh
//   ArrayBuffer (structuredClone would share the memory, which needs the postMessage side
//   lane). A bare SharedArrayBuffer is refused (it could only be copied, not shared).
//   Views of ordinary ArrayBuffers behave as in structuredClone: the whole buffer travels
//   once, with each view's byteOffset and length, and views of one buffer (and the buffer
//   itself) arrive sharing one buffer.
// * Error objects: a name that is not one of the built-in error names is kept (as an
//   own `name` property on an Error) instead of being reset to "Error"; `cause` and
//   AggregateError `errors` are kept. As in structuredClone, other own properties of
//   errors (e.g. `code`) are dropped.
// * Named (non-index) properties of the top-level argument array given to encodeArgs are
//   ignored (it is an argument list). Nested arrays keep them -- see
//   setArrayPropertyScan() for the cost of that and how to turn it off.
// * Proxies cannot be detected from JS: a Proxy is cloned through its traps as the
//   object/array it pretends to be (structuredClone throws).
// * Resizable ArrayBuffers decode as fixed-length ones.
// * `arguments` objects are sent as plain objects ({0: .., 1: ..}); structuredClone
//   throws. (Detecting them would cost a toString call on every plain object.)
// * Errors: if globalThis.DOMException exists, clone failures throw
//   `new DOMException(message, 'DataCloneError')`, exactly like structuredClone and
//   postMessage, so callers can handle both lanes the same way. Otherwise the exported
//   DataCloneError class is thrown. In both cases `err.name === 'DataCloneError'`,
//   `err instanceof DataCloneError` is true (Symbol.hasInstance) and `err.path` holds
//   the location of the offending value (e.g. "arguments[1].opts.onDone").

export const FORMAT_VERSION = 2;

/** A call flag: the worker keeps the buffers of its result (`with({ transferResult: false })`). */
export const CALL_KEEP_RESULT_BUFFERS = 1;

/**
 * Detaches each buffer, as postMessage's transfer does (the bytes went through shared memory
 * already). A buffer that cannot be detached (a WebAssembly memory's) is left as is.
 */
export function detachBuffers(buffers) {
  for (const b of buffers) {
    try {
      if (typeof b.transfer === 'function') b.transfer(0);
      else structuredClone(b, { transfer: [b] });
    } catch {
      // not detachable: it stays usable, as a copy was sent
    }
  }
}

/**
 * Maximum nesting of containers accepted by the encoder and the decoder. In practice the
 * JavaScript stack (about 1 MB by default) usually runs out first, after a few thousand
 * levels, just as it does for structuredClone; that is also reported as a
 * DataCloneError ("nested too deeply") by the encoder and a DecodeError by the decoder.
 */
export const MAX_DEPTH = 10000;

// ---------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------
const T_END = 0x00;
const T_UNDEFINED = 0x01;
const T_NULL = 0x02;
const T_FALSE = 0x03;
const T_TRUE = 0x04;
const T_INT32 = 0x05;
const T_F64 = 0x06;
const T_BIGINT_POS = 0x07;
const T_BIGINT_NEG = 0x08;
const T_STR_ASCII = 0x09;
const T_STR_LATIN1 = 0x0a;
const T_STR_UTF16 = 0x0b;
const T_OBJECT = 0x0c;
const T_ARRAY = 0x0d;
const T_HOLE = 0x0e;
const T_ARRAY_REST = 0x0f;
const T_REF = 0x10;
const T_DATE = 0x11;
const T_REGEXP = 0x12;
const T_MAP = 0x13;
const T_SET = 0x14;
const T_ARRAYBUFFER = 0x15;
const T_TYPED = 0x16;
const T_DATAVIEW = 0x17;
const T_BOOLEAN_OBJ = 0x18;
const T_NUMBER_OBJ = 0x19;
const T_STRING_OBJ = 0x1a;
const T_BIGINT_OBJ = 0x1b;
const T_ERROR = 0x1c;
const T_DOMEXCEPTION = 0x1d;
const T_IMAGEDATA = 0x1e;
const T_SMALL_INT = 0x80;

// Error flags
const EF_NAME = 1;
const EF_MESSAGE = 2;
const EF_STACK = 4;
const EF_CAUSE = 8;
const EF_ERRORS = 16;

// ---------------------------------------------------------------------------------
// Intrinsics captured at load time (robust against later monkey-patching, and fast)
// ---------------------------------------------------------------------------------
const ObjectPrototype = Object.prototype;
const getPrototypeOf = Object.getPrototypeOf;
const defineProperty = Object.defineProperty;
const objectKeys = Object.keys;
const isArray = Array.isArray;
const isView = ArrayBuffer.isView;
const hasOwn = Object.prototype.hasOwnProperty;
const objToString = Object.prototype.toString;
const fromCharCode = String.fromCharCode;
const fnToString = Function.prototype.toString;
const getterOf = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
const TypedArrayPrototype = getPrototypeOf(Int8Array.prototype);
const typedArrayTag = getterOf(TypedArrayPrototype, Symbol.toStringTag);
const arrayBufferByteLength = getterOf(ArrayBuffer.prototype, 'byteLength');
const arrayBufferSlice = ArrayBuffer.prototype.slice;
const mapSize = getterOf(Map.prototype, 'size');
const mapForEach = Map.prototype.forEach;
const setSize = getterOf(Set.prototype, 'size');
const setForEach = Set.prototype.forEach;
const dateGetTime = Date.prototype.getTime;
const regexpSource = getterOf(RegExp.prototype, 'source');
const regexpFlags = getterOf(RegExp.prototype, 'flags');
const booleanValueOf = Boolean.prototype.valueOf;
const numberValueOf = Number.prototype.valueOf;
const stringValueOf = String.prototype.valueOf;
const bigintValueOf = BigInt.prototype.valueOf;
const Float16 = typeof globalThis.Float16Array === 'function' ? globalThis.Float16Array : undefined;
const isErrorFn = typeof Error.isError === 'function' ? Error.isError : null;

const EMPTY_U8 = new Uint8Array(0);
const EMPTY_DV = new DataView(new ArrayBuffer(0));

const TYPED_CTORS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
  Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, Float16,
];
const TYPED_SIZES = [1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 2];

const ERROR_CTORS = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/**
 * Thrown (when globalThis.DOMException does not exist) for values that cannot be cloned.
 * When DOMException exists a `DOMException(msg, 'DataCloneError')` is thrown instead;
 * `instanceof DataCloneError` is true for both.
 */
export class DataCloneError extends Error {
  name = 'DataCloneError';
  static [Symbol.hasInstance](x) {
    if (x === null || typeof x !== 'object') return false;
    if (ObjectPrototype.isPrototypeOf.call(DataCloneError.prototype, x)) return true;
    const DOMEx = globalThis.DOMException;
    return typeof DOMEx === 'function' && x instanceof DOMEx && x.name === 'DataCloneError';
  }
}

/** Thrown by decode()/decodeArgs() for malformed, truncated or hostile input. */
export class DecodeError extends Error {
  name = 'DecodeError';
}

// Internal: thrown while encoding; collects the path while the stack unwinds (only on
// the error path, so the hot path never builds paths) and is converted at the top.
class CloneFailure {
  constructor(detail) {
    this.detail = detail;
    this.segs = [];
  }
}

function withSeg(e, seg) {
  if (e instanceof CloneFailure) e.segs.push(seg);
  return e;
}

function propSeg(k) {
  return /^[A-Za-z_$][\w$]*$/.test(k) ? '.' + k : '[' + JSON.stringify(k) + ']';
}

function isStackOverflow(e) {
  return e !== null && typeof e === 'object' &&
    (e instanceof RangeError || (e && e.name === 'InternalError')) &&
    /call stack|too much recursion/i.test(String(e.message));
}

function makeCloneError(message, path) {
  const DOMEx = globalThis.DOMException;
  let err;
  if (typeof DOMEx === 'function') {
    err = new DOMEx(message, 'DataCloneError');
  } else {
    err = new DataCloneError(message);
  }
  try { err.path = path; } catch { /* ignore */ }
  return err;
}

function toPublicError(e, root) {
  if (e instanceof CloneFailure) {
    const segs = e.segs;
    let path;
    if (segs.length > 24) {
      // very deep: keep the beginning and the end of the path
      path = root + segs.slice(-12).reverse().join('') + '…' + segs.slice(0, 8).reverse().join('');
    } else {
      path = root + segs.reverse().join('');
    }
    return makeCloneError(path + ' ' + e.detail, path);
  }
  if (isStackOverflow(e)) {
    return makeCloneError(root + ' is nested too deeply to be sent to a worker (JavaScript stack exhausted)', root);
  }
  return e;
}

function decodeError(msg, r) {
  return new DecodeError('Atelier codec: ' + msg + (r ? ' (at byte ' + (r.pos - r.start) + ' of the message)' : ''));
}

function truncated(r) {
  return decodeError('truncated input', r);
}

// ---------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------
const SEEN_LINEAR = 16;

export class Writer {
  /** @param {(neededTotalBytes:number)=>{u8:Uint8Array,start:number,cap:number}} grow */
  constructor(grow) {
    if (grow != null && typeof grow !== 'function') throw new TypeError('Writer: grow must be a function');
    this.grow = grow || null;
    this.u8 = EMPTY_U8;
    this.dv = EMPTY_DV;
    this.start = 0;
    this.pos = 0;
    this.end = 0;
    // object -> id table: first SEEN_LINEAR objects in a small array (linear scan is
    // faster than hashing for the typical handful of objects), the rest in a Map.
    this.seen = new Array(SEEN_LINEAR).fill(null);
    this.nSeen = 0;
    this.seenMap = null;
    this.protoState = 0; // 0 unknown, 1 Object.prototype clean, 2 has enumerable props
    // The ArrayBuffers (not shared) the last message holds, each once: what a call transfers
    // by default (API contract C.10).
    this.buffers = [];
    this.cbDepth = 0; // depth/index for the Map/Set forEach callbacks
    this.cbIndex = 0;
  }

  /** Begin a new message at u8[start .. start+cap). `start` should be 8-aligned. */
  reset(u8, start, cap) {
    if (!(u8 instanceof Uint8Array)) throw new TypeError('Writer.reset: u8 must be a Uint8Array');
    if (!(start >= 0 && cap >= 0 && start + cap <= u8.length) || start !== Math.floor(start) || cap !== Math.floor(cap)) {
      throw new RangeError('Writer.reset: [start, start+cap) is outside u8');
    }
    setWriterBuffer(this, u8);
    this.start = start;
    this.pos = start;
    this.end = start + cap;
    return this;
  }

  /** Bytes written so far for the current message. */
  get length() {
    return this.pos - this.start;
  }
}

function setWriterBuffer(w, u8) {
  if (w.u8 !== u8) {
    const dv = w.dv;
    if (dv.buffer !== u8.buffer || dv.byteOffset !== u8.byteOffset || dv.byteLength !== u8.byteLength) {
      w.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    }
    w.u8 = u8;
  }
}

function growWriter(w, n) {
  const used = w.pos - w.start;
  const needed = used + n;
  if (w.grow === null) {
    throw new RangeError('Atelier codec: message needs ' + needed + ' bytes but only ' + (w.end - w.start) + ' are available (no grow callback)');
  }
  const r = w.grow(needed);
  if (r === null || typeof r !== 'object' || !(r.u8 instanceof Uint8Array) || !(r.cap >= needed) ||
      !(r.start >= 0) || r.start + r.cap > r.u8.length) {
    throw new RangeError('Atelier codec: grow(' + needed + ') did not return { u8, start, cap } with enough room');
  }
  setWriterBuffer(w, r.u8);
  w.start = r.start;
  w.pos = r.start + used;
  w.end = r.start + r.cap;
}

function put1(w, b) {
  if (w.pos >= w.end) growWriter(w, 1);
  w.u8[w.pos++] = b;
}

// assumes room for 5 bytes at p
function putVarUint(u8, p, n) {
  while (n > 0x7f) {
    u8[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  u8[p++] = n;
  return p;
}

function writeTagVar(w, tag, n) {
  if (w.pos + 6 > w.end) growWriter(w, 6);
  const u8 = w.u8;
  const p = w.pos;
  u8[p] = tag;
  if (n < 0x80) {
    u8[p + 1] = n;
    w.pos = p + 2;
  } else {
    w.pos = putVarUint(u8, p + 1, n);
  }
}

function writeRef(w, id) {
  writeTagVar(w, T_REF, id);
}

function writeNumber(w, v) {
  if (w.pos + 9 > w.end) growWriter(w, 9);
  const u8 = w.u8;
  const p = w.pos;
  const i = v | 0;
  if (i === v && (i !== 0 || 1 / v > 0)) {
    if (i >>> 7 === 0) {
      u8[p] = T_SMALL_INT | i;
      w.pos = p + 1;
    } else {
      u8[p] = T_INT32;
      u8[p + 1] = i;
      u8[p + 2] = i >> 8;
      u8[p + 3] = i >> 16;
      u8[p + 4] = i >> 24;
      w.pos = p + 5;
    }
  } else {
    u8[p] = T_F64;
    w.dv.setFloat64(p + 1, v, true);
    w.pos = p + 9;
  }
}

function writeF64Raw(w, v) {
  if (w.pos + 8 > w.end) growWriter(w, 8);
  w.dv.setFloat64(w.pos, v, true);
  w.pos += 8;
}

// ----- strings -----
const LONG_STRING = 96; // encoder: try TextEncoder (ASCII) from this length
const MEDIUM_STRING = 64; // decoder: build via fromCharCode.apply up to this length
const textEncoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;
let scratch = new Uint8Array(1024);
const SCRATCH_KEEP = 1 << 20;

function getScratch(n) {
  if (scratch.length >= n) return scratch;
  const s = new Uint8Array(Math.max(n, scratch.length * 2));
  if (n <= SCRATCH_KEEP) scratch = s;
  return s;
}

function writeString(w, s) {
  const n = s.length;
  if (w.pos + n + 6 > w.end) growWriter(w, n + 6);
  const u8 = w.u8;
  const tagAt = w.pos;
  let p = tagAt + 1;
  if (n < 0x80) u8[p++] = n;
  else p = putVarUint(u8, p, n);
  if (n >= LONG_STRING && textEncoder !== null) {
    // Long strings: if the string is pure ASCII its UTF-8 form is our one-byte form, and
    // the native encoder is much faster than a loop (it refuses shared memory, hence
    // the private scratch buffer). Otherwise fall through to the exact loop.
    const sc = getScratch(n);
    const view = n === sc.length ? sc : sc.subarray(0, n);
    const res = textEncoder.encodeInto(s, view);
    if (res.read === n && res.written === n) {
      u8.set(view, p);
      u8[tagAt] = T_STR_ASCII;
      w.pos = p + n;
      return;
    }
  }
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      writeStringUtf16(w, s, tagAt);
      return;
    }
    acc |= c;
    u8[p + i] = c;
  }
  u8[tagAt] = acc < 0x80 ? T_STR_ASCII : T_STR_LATIN1;
  w.pos = p + n;
}

function writeStringUtf16(w, s, tagAt) {
  const n = s.length;
  w.pos = tagAt;
  if (w.pos + 2 * n + 6 > w.end) growWriter(w, 2 * n + 6);
  const u8 = w.u8;
  let p = w.pos;
  u8[p++] = T_STR_UTF16;
  p = putVarUint(u8, p, n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    u8[p] = c;
    u8[p + 1] = c >> 8;
    p += 2;
  }
  w.pos = p;
}

// ----- bigint -----
const HEX = '0123456789abcdef';

function writeBigInt(w, v) {
  const neg = v < 0n;
  const mag = neg ? -v : v;
  const tag = neg ? T_BIGINT_NEG : T_BIGINT_POS;
  if (mag <= 0xffffffffffffffffn) {
    if (w.pos + 10 > w.end) growWriter(w, 10);
    const p = w.pos;
    w.u8[p] = tag;
    if (mag === 0n) {
      w.u8[p + 1] = 0;
      w.pos = p + 2;
    } else {
      w.u8[p + 1] = 8;
      w.dv.setBigUint64(p + 2, mag, true);
      w.pos = p + 10;
    }
    return;
  }
  let hex = mag.toString(16);
  if (hex.length & 1) hex = '0' + hex;
  const nb = hex.length >>> 1;
  if (nb > 0xffffffff) throw new CloneFailure('is a BigInt too large to be sent');
  writeTagVar(w, tag, nb);
  if (w.pos + nb > w.end) growWriter(w, nb);
  const u8 = w.u8;
  const p = w.pos;
  for (let i = 0, j = hex.length - 2; i < nb; i++, j -= 2) {
    u8[p + i] = (hexVal(hex.charCodeAt(j)) << 4) | hexVal(hex.charCodeAt(j + 1));
  }
  w.pos = p + nb;
}

function hexVal(c) {
  return c <= 0x39 ? c - 0x30 : c - 0x57; // '0'-'9', 'a'-'f'
}

// ----- value dispatch -----

function encodeValue(w, v, d) {
  switch (typeof v) {
    case 'number':
      writeNumber(w, v);
      return;
    case 'string':
      writeString(w, v);
      return;
    case 'object':
      if (v === null) put1(w, T_NULL);
      else encodeObject(w, v, d);
      return;
    case 'boolean':
      put1(w, v ? T_TRUE : T_FALSE);
      return;
    case 'undefined':
      put1(w, T_UNDEFINED);
      return;
    case 'bigint':
      writeBigInt(w, v);
      return;
    case 'function':
      throw new CloneFailure('is a function and cannot be sent to a worker (functions cannot be cloned); pass data, not code');
    case 'symbol':
      throw new CloneFailure('is a symbol (' + String(v) + ') and cannot be sent to a worker (symbols cannot be cloned)');
    default:
      // document.all-like exotic values
      throw new CloneFailure('is a value of type ' + typeof v + ' and cannot be cloned');
  }
}

// Returns the existing id of `o`, or registers it and returns -1.
// Up to SEEN_LINEAR objects: linear scan of a small array (no hashing; the common case
// of a call with a few objects). Beyond that everything moves into a Map.
function refOrRegister(w, o) {
  const n = w.nSeen;
  if (n <= SEEN_LINEAR) {
    const seen = w.seen;
    for (let i = 0; i < n; i++) {
      if (seen[i] === o) return i;
    }
    if (n < SEEN_LINEAR) {
      seen[n] = o;
      w.nSeen = n + 1;
      return -1;
    }
    // switch to the Map
    let map = w.seenMap;
    if (map === null) map = w.seenMap = new Map();
    for (let i = 0; i < SEEN_LINEAR; i++) {
      map.set(seen[i], i);
      seen[i] = null;
    }
  }
  const map = w.seenMap;
  const id = map.get(o);
  if (id !== undefined) return id;
  map.set(o, n);
  w.nSeen = n + 1;
  return -1;
}

function clearSeen(w) {
  const n = w.nSeen;
  if (n <= SEEN_LINEAR) {
    const seen = w.seen;
    for (let i = 0; i < n; i++) seen[i] = null;
  } else {
    w.seenMap.clear();
  }
  w.nSeen = 0;
}

function encodeObject(w, v, d) {
  if (d >= MAX_DEPTH) {
    throw new CloneFailure('is nested more than ' + MAX_DEPTH + ' levels deep and cannot be sent to a worker');
  }
  const id = refOrRegister(w, v);
  if (id >= 0) {
    writeRef(w, id);
    return;
  }
  if (isArray(v)) {
    encodeArray(w, v, d + 1, arrayPropertyScan);
    return;
  }
  const proto = getPrototypeOf(v);
  if (proto === ObjectPrototype) {
    if (w.protoState === 0) w.protoState = hasEnumerableProps(ObjectPrototype) ? 2 : 1;
    encodePlain(w, v, d + 1, w.protoState === 2);
    return;
  }
  if (proto === null) {
    encodePlain(w, v, d + 1, false);
    return;
  }
  if (isView(v)) {
    encodeView(w, v);
    return;
  }
  encodeOther(w, v, d + 1);
}

function hasEnumerableProps(o) {
  // eslint-disable-next-line no-unreachable-loop
  for (const _ in o) return true;
  return false;
}

function encodePlain(w, o, d, checkOwn) {
  put1(w, T_OBJECT);
  for (const k in o) {
    if (checkOwn && !hasOwn.call(o, k)) continue;
    writeString(w, k);
    try {
      encodeValue(w, o[k], d);
    } catch (e) {
      throw withSeg(e, propSeg(k));
    }
  }
  put1(w, T_END);
}

// ----- arrays -----

let arrayPropertyScan = true;

/**
 * Whether nested arrays are scanned for named (non-index) own properties, which
 * structuredClone keeps (e.g. `index`/`input`/`groups` on a RegExp match array).
 * JS offers no cheap way to know whether an array has such properties: the scan
 * costs one Object.keys() per array (~150 ns for a 3-element array, ~20 ns per element
 * for big ones). Default: true (structuredClone semantics). With false, named
 * properties of arrays are silently dropped; holes are still kept.
 * The top-level argument array of encodeArgs is never scanned.
 */
export function setArrayPropertyScan(enabled) {
  arrayPropertyScan = !!enabled;
}

const SPARSE_MIN_LENGTH = 64;

function encodeArray(w, a, d, scanProps) {
  const len = a.length;
  let keys = null;
  if (scanProps) {
    keys = objectKeys(a);
    if (len >= SPARSE_MIN_LENGTH && keys.length < (len >>> 2)) {
      // mostly holes: send index/value pairs only
      writeTagVar(w, T_ARRAY, len);
      put1(w, T_ARRAY_REST);
      writeArrayPairs(w, a, keys, 0, 0, d);
      return;
    }
  }
  writeTagVar(w, T_ARRAY, len);
  let holes = 0;
  for (let i = 0; i < len; i++) {
    const v = a[i];
    if (v === undefined && !(i in a)) {
      holes++;
      if (keys === null && holes > 1024 && holes > (i >>> 1)) {
        // very sparse and we did not scan: switch to pairs for the rest
        put1(w, T_ARRAY_REST);
        writeArrayPairs(w, a, objectKeys(a), 0, i, d);
        return;
      }
      put1(w, T_HOLE);
      continue;
    }
    try {
      encodeValue(w, v, d);
    } catch (e) {
      throw withSeg(e, '[' + i + ']');
    }
  }
  if (keys !== null) {
    // Object.keys lists the present indices first; named keys follow.
    writeArrayPairs(w, a, keys, len - holes, len, d);
  } else {
    put1(w, T_END);
  }
}

function isIndexKey(k) {
  const n = +k;
  return n >>> 0 === n && n !== 4294967295 && '' + n === k;
}

// Writes `key value` pairs for keys[from..], skipping index keys < minIndex, then END.
function writeArrayPairs(w, a, keys, from, minIndex, d) {
  for (let j = from; j < keys.length; j++) {
    const k = keys[j];
    if (minIndex > 0 && isIndexKey(k) && +k < minIndex) continue;
    writeString(w, k);
    try {
      encodeValue(w, a[k], d);
    } catch (e) {
      throw withSeg(e, isIndexKey(k) ? '[' + k + ']' : propSeg(k));
    }
  }
  put1(w, T_END);
}

// ----- typed arrays, DataView, ArrayBuffer -----

function isDetached(buf) {
  try {
    arrayBufferSlice.call(buf, 0, 0);
    return false;
  } catch {
    return true;
  }
}

function typedKind(name) {
  switch (name) {
    case 'Int8Array': return 0;
    case 'Uint8Array': return 1;
    case 'Uint8ClampedArray': return 2;
    case 'Int16Array': return 3;
    case 'Uint16Array': return 4;
    case 'Int32Array': return 5;
    case 'Uint32Array': return 6;
    case 'Float32Array': return 7;
    case 'Float64Array': return 8;
    case 'BigInt64Array': return 9;
    case 'BigUint64Array': return 10;
    case 'Float16Array': return 11;
    default: return -1;
  }
}

// pads with zeros so that (pos - start) % align === 0; ensures room for pad + bytes
function padAndReserve(w, align, bytes) {
  const pad = (w.start - w.pos) & (align - 1);
  if (w.pos + pad + bytes > w.end) growWriter(w, pad + bytes);
  const u8 = w.u8;
  for (let i = 0; i < pad; i++) u8[w.pos++] = 0;
}

function copyBytesIn(w, buffer, byteOffset, byteLength) {
  if (byteLength === 0) return;
  w.u8.set(new Uint8Array(buffer, byteOffset, byteLength), w.pos);
  w.pos += byteLength;
}

function encodeView(w, v) {
  const name = typedArrayTag.call(v);
  const buffer = v.buffer;
  const byteLength = v.byteLength;
  if (byteLength === 0 && isDetached(buffer)) {
    throw new CloneFailure('is a ' + (name || 'DataView') + ' whose ArrayBuffer is detached (transferred) and cannot be cloned');
  }
  let kind = -1;
  if (name !== undefined) {
    kind = typedKind(name);
    if (kind < 0) throw new CloneFailure('is a ' + name + ', which cannot be cloned');
  }
  let bufferLength;
  try {
    bufferLength = arrayBufferByteLength.call(buffer);
  } catch {
    bufferLength = -1; // a SharedArrayBuffer
  }
  if (bufferLength > 0xffffffff || byteLength > 0xffffffff) {
    throw new CloneFailure('is a ' + (name || 'DataView') + ' over a buffer larger than 4 GiB and cannot be sent');
  }
  const shared = bufferLength < 0;
  const offset = shared ? 0 : v.byteOffset;
  if (w.pos + 12 > w.end) growWriter(w, 12);
  const u8 = w.u8;
  let p = w.pos;
  if (kind < 0) {
    u8[p++] = T_DATAVIEW;
  } else {
    u8[p++] = T_TYPED;
    u8[p++] = kind;
  }
  p = putVarUint(u8, p, offset);
  w.pos = putVarUint(u8, p, kind < 0 ? byteLength : v.length);
  if (shared) {
    // The viewed bytes, copied into a buffer of their own; it takes a reference id like any
    // buffer, so the decoder's ids stay in step.
    refOrRegister(w, {});
    writeTagVar(w, T_ARRAYBUFFER, byteLength);
    padAndReserve(w, 8, byteLength);
    copyBytesIn(w, buffer, v.byteOffset, byteLength);
    return;
  }
  const id = refOrRegister(w, buffer);
  if (id >= 0) {
    writeRef(w, id);
    return;
  }
  encodeArrayBuffer(w, buffer, bufferLength);
}

function encodeArrayBuffer(w, v, byteLength) {
  w.buffers.push(v);
  if (byteLength === 0 && isDetached(v)) {
    throw new CloneFailure('is a detached (transferred) ArrayBuffer and cannot be cloned');
  }
  if (byteLength > 0xffffffff) throw new CloneFailure('is an ArrayBuffer larger than 4 GiB and cannot be sent');
  writeTagVar(w, T_ARRAYBUFFER, byteLength);
  padAndReserve(w, 8, byteLength);
  copyBytesIn(w, v, 0, byteLength);
}

const COLOR_SPACES = ['srgb', 'display-p3'];

function encodeImageData(w, v) {
  const data = v.data;
  const space = COLOR_SPACES.indexOf(v.colorSpace ?? 'srgb');
  if (!(data instanceof Uint8ClampedArray) || space < 0) {
    throw new CloneFailure('is an ImageData in a pixel format or color space this version cannot send (only 8-bit RGBA in srgb or display-p3); send its .data, .width and .height instead');
  }
  const bytes = data.byteLength;
  if (bytes !== v.width * v.height * 4) throw new CloneFailure('is an ImageData whose data does not match its size');
  if (w.pos + 12 > w.end) growWriter(w, 12);
  const u8 = w.u8;
  u8[w.pos] = T_IMAGEDATA;
  let p = putVarUint(u8, w.pos + 1, v.width);
  p = putVarUint(u8, p, v.height);
  u8[p] = space;
  w.pos = p + 1;
  padAndReserve(w, 8, bytes);
  copyBytesIn(w, data.buffer, data.byteOffset, bytes);
}

// ----- Map / Set (forEach with a shared callback; `this` is the writer) -----

function mapEntryCallback(value, key) {
  const w = this;
  const d = w.cbDepth;
  const i = w.cbIndex++;
  try {
    encodeValue(w, key, d);
  } catch (e) {
    throw withSeg(e, '.keys()[' + i + ']');
  }
  try {
    encodeValue(w, value, d);
  } catch (e) {
    throw withSeg(e, '.get(' + describeKey(key, i) + ')');
  }
}

function setEntryCallback(value) {
  const w = this;
  const i = w.cbIndex++;
  try {
    encodeValue(w, value, w.cbDepth);
  } catch (e) {
    throw withSeg(e, '.values()[' + i + ']');
  }
}

function describeKey(k, i) {
  switch (typeof k) {
    case 'string': return JSON.stringify(k.length > 40 ? k.slice(0, 40) + '…' : k);
    case 'number': case 'boolean': case 'undefined': return String(k);
    case 'bigint': return k + 'n';
    default: return k === null ? 'null' : '<key #' + i + '>';
  }
}

function encodeMapOrSet(w, v, d, isMap) {
  put1(w, isMap ? T_MAP : T_SET);
  const sd = w.cbDepth;
  const si = w.cbIndex;
  w.cbDepth = d;
  w.cbIndex = 0;
  if (isMap) mapForEach.call(v, mapEntryCallback, w);
  else setForEach.call(v, setEntryCallback, w);
  w.cbDepth = sd;
  w.cbIndex = si;
  put1(w, T_END);
}

// ----- errors -----

function errorKindOf(name) {
  switch (name) {
    case 'Error': return 0;
    case 'EvalError': return 1;
    case 'RangeError': return 2;
    case 'ReferenceError': return 3;
    case 'SyntaxError': return 4;
    case 'TypeError': return 5;
    case 'URIError': return 6;
    case 'AggregateError': return 7;
    default: return -1;
  }
}

function encodeError(w, e, d) {
  const name = e.name;
  let kind = typeof name === 'string' ? errorKindOf(name) : 0;
  let flags = 0;
  if (kind < 0) {
    kind = 0;
    flags |= EF_NAME;
  }
  const md = Object.getOwnPropertyDescriptor(e, 'message');
  let message = '';
  if (md !== undefined && 'value' in md) {
    message = String(md.value);
    flags |= EF_MESSAGE;
  }
  const stack = e.stack;
  if (typeof stack === 'string') flags |= EF_STACK;
  if (hasOwn.call(e, 'cause')) flags |= EF_CAUSE;
  if (kind === 7 && hasOwn.call(e, 'errors')) flags |= EF_ERRORS;
  if (w.pos + 3 > w.end) growWriter(w, 3);
  const u8 = w.u8;
  u8[w.pos] = T_ERROR;
  u8[w.pos + 1] = kind;
  u8[w.pos + 2] = flags;
  w.pos += 3;
  if (flags & EF_NAME) writeString(w, name);
  if (flags & EF_MESSAGE) writeString(w, message);
  if (flags & EF_STACK) writeString(w, stack);
  if (flags & EF_CAUSE) {
    try {
      encodeValue(w, e.cause, d);
    } catch (x) {
      throw withSeg(x, '.cause');
    }
  }
  if (flags & EF_ERRORS) {
    try {
      encodeValue(w, e.errors, d);
    } catch (x) {
      throw withSeg(x, '.errors');
    }
  }
}

let domExceptionName = null;
let domExceptionMessage = null;

function domExceptionGetters() {
  if (domExceptionName === null) {
    const proto = globalThis.DOMException.prototype;
    domExceptionName = getterOf(proto, 'name');
    domExceptionMessage = getterOf(proto, 'message');
  }
}

function encodeDOMException(w, v) {
  let name, message;
  try {
    domExceptionGetters();
    name = String(domExceptionName.call(v));
    message = String(domExceptionMessage.call(v));
  } catch {
    return false;
  }
  put1(w, T_DOMEXCEPTION);
  writeString(w, name);
  writeString(w, message);
  const stack = v.stack;
  if (typeof stack === 'string') {
    put1(w, 1);
    writeString(w, stack);
  } else {
    put1(w, 0);
  }
  return true;
}

// ----- everything else: classify by internal slots -----

const SIDE_LANE_TYPES = new Set([
  'ImageBitmap', 'OffscreenCanvas', 'MessagePort', 'ReadableStream', 'WritableStream',
  'TransformStream', 'VideoFrame', 'AudioData', 'RTCDataChannel', 'MediaSourceHandle',
  'MIDIAccess', 'RTCEncodedAudioFrame', 'RTCEncodedVideoFrame', 'WebTransportSendStream',
  'WebTransportReceiveStream', 'FileSystemHandle', 'FileSystemFileHandle',
  'FileSystemDirectoryHandle', 'CryptoKey', 'GPUCompilationMessage', 'EncodedVideoChunk',
  'EncodedAudioChunk',
]);

const NOT_CLONEABLE_OBJECTS = new Set([
  'Array Iterator', 'Map Iterator', 'Set Iterator', 'String Iterator', 'RegExp String Iterator',
  'Iterator', 'Generator', 'AsyncGenerator', 'AsyncFunction', 'GeneratorFunction', 'Module',
  'FinalizationRegistry', 'WebAssembly.Module', 'WebAssembly.Memory', 'WebAssembly.Instance',
  'WebAssembly.Table', 'WebAssembly.Global', 'WebAssembly.Tag', 'WebAssembly.Exception',
]);

function encodeOther(w, v, d) {
  const tag = objToString.call(v);
  const type = tag.slice(8, -1);
  switch (type) {
    case 'Object':
    case 'Arguments':
      encodePlain(w, v, d, true);
      return;
    case 'Date': {
      let t;
      try { t = dateGetTime.call(v); } catch { break; }
      put1(w, T_DATE);
      writeF64Raw(w, t);
      return;
    }
    case 'RegExp': {
      let source;
      try { source = regexpSource.call(v); } catch { break; }
      put1(w, T_REGEXP);
      writeString(w, source);
      writeString(w, regexpFlags.call(v));
      return;
    }
    case 'Map':
    case 'Set': {
      try {
        if (type === 'Map') mapSize.call(v);
        else setSize.call(v);
      } catch { break; }
      encodeMapOrSet(w, v, d, type === 'Map');
      return;
    }
    case 'ArrayBuffer': {
      let n;
      try { n = arrayBufferByteLength.call(v); } catch { break; }
      encodeArrayBuffer(w, v, n);
      return;
    }
    case 'ImageData':
      encodeImageData(w, v);
      return;
    case 'Boolean': {
      let b;
      try { b = booleanValueOf.call(v); } catch { break; }
      if (w.pos + 2 > w.end) growWriter(w, 2);
      w.u8[w.pos] = T_BOOLEAN_OBJ;
      w.u8[w.pos + 1] = b ? 1 : 0;
      w.pos += 2;
      return;
    }
    case 'Number': {
      let n;
      try { n = numberValueOf.call(v); } catch { break; }
      put1(w, T_NUMBER_OBJ);
      writeF64Raw(w, n);
      return;
    }
    case 'String': {
      let s;
      try { s = stringValueOf.call(v); } catch { break; }
      put1(w, T_STRING_OBJ);
      writeString(w, s);
      return;
    }
    case 'BigInt': {
      let b;
      try { b = bigintValueOf.call(v); } catch { break; }
      put1(w, T_BIGINT_OBJ);
      writeBigInt(w, b);
      return;
    }
    case 'Error':
      if (isErrorFn !== null && !isErrorFn(v)) break;
      encodeError(w, v, d);
      return;
    case 'DOMException':
      if (typeof globalThis.DOMException === 'function' && encodeDOMException(w, v)) return;
      break;
    default:
      refuseOther(v, type);
  }
  // brand check failed: an ordinary object with a misleading Symbol.toStringTag
  encodePlain(w, v, d, true);
}

function isNativeFunction(f) {
  try {
    return /\{\s*\[native code\]\s*\}\s*$/.test(fnToString.call(f));
  } catch {
    return false;
  }
}

// Throws for platform / exotic objects; returns for ordinary objects that merely carry a
// custom Symbol.toStringTag (user classes), which are then sent as plain objects.
function refuseOther(v, type) {
  switch (type) {
    case 'Function':
    case 'AsyncFunction':
      throw new CloneFailure('is a function and cannot be sent to a worker (functions cannot be cloned); pass data, not code');
    case 'Symbol':
      throw new CloneFailure('is a Symbol object and cannot be sent to a worker (symbols cannot be cloned)');
    case 'WeakMap':
    case 'WeakSet':
    case 'WeakRef':
      throw new CloneFailure('is a ' + type + ' and cannot be sent to a worker (weak references cannot be cloned)');
    case 'Promise':
      throw new CloneFailure('is a Promise and cannot be sent to a worker; await it and send its result');
    case 'SharedArrayBuffer':
      throw new CloneFailure('is a SharedArrayBuffer; sharing memory through call arguments is not supported yet in this version (it would be copied, not shared); pass a typed-array view of it to send a copy of its bytes');
    case 'Blob':
    case 'File':
    case 'FileList':
      throw new CloneFailure('is a ' + type + ' and cannot travel through shared memory yet (not supported yet in this version); read it first (e.g. await blob.arrayBuffer()) and send the bytes');
    default:
      break;
  }
  if (SIDE_LANE_TYPES.has(type)) {
    throw new CloneFailure('is a ' + type + '; platform objects like this cannot live in shared memory and will be sent by the side lane (not supported yet in this version)');
  }
  if (NOT_CLONEABLE_OBJECTS.has(type)) {
    throw new CloneFailure('is a ' + type + ' object and cannot be cloned');
  }
  const Node = globalThis.Node;
  if (typeof Node === 'function' && v instanceof Node) {
    throw new CloneFailure('is a DOM node (' + type + ') and cannot be sent to a worker (DOM nodes exist only on the main thread); send the data you need from it instead');
  }
  // A built-in / platform prototype in the chain means internal slots we cannot see.
  for (let p = getPrototypeOf(v); p !== null && p !== ObjectPrototype; p = getPrototypeOf(p)) {
    const desc = Object.getOwnPropertyDescriptor(p, 'constructor');
    const ctor = desc !== undefined ? desc.value : undefined;
    if (typeof ctor === 'function' && isNativeFunction(ctor)) {
      throw new CloneFailure('is a ' + type + ' (a platform object) and cannot be cloned; only plain data, arrays, Map, Set, Date, RegExp, ArrayBuffer, typed arrays, DataView, errors and primitive wrappers can be sent');
    }
  }
}

// ----- public encode API -----

/** Appends one value to the writer's current message. Throws DataCloneError. */
export function encode(value, writer) {
  const w = writer;
  w.protoState = 0;
  w.buffers.length = 0;
  try {
    encodeValue(w, value, 0);
  } catch (e) {
    throw toPublicError(e, 'value');
  } finally {
    if (w.nSeen !== 0) clearSeen(w);
  }
}

/**
 * Writes the method name, then the argument array (error paths read `arguments[i]…`), then,
 * when either is set, the call's cancellation key (or UNDEFINED) and its flags (a SMALL_INT:
 * CALL_KEEP_RESULT_BUFFERS).
 */
export function encodeArgs(method, args, writer, key, flags = 0) {
  if (typeof method !== 'string') throw new TypeError('encodeArgs: method must be a string');
  if (!isArray(args)) throw new TypeError('encodeArgs: args must be an array');
  if (key !== undefined && typeof key !== 'string') throw new TypeError('encodeArgs: key must be a string or undefined');
  if (!(Number.isInteger(flags) && flags >= 0 && flags < 0x80)) throw new TypeError('encodeArgs: flags must be an integer from 0 to 127');
  const w = writer;
  w.protoState = 0;
  w.buffers.length = 0;
  try {
    writeString(w, method);
    refOrRegister(w, args);
    encodeArray(w, args, 1, false);
    if (key !== undefined || flags !== 0) {
      if (key !== undefined) writeString(w, key);
      else put1(w, T_UNDEFINED);
      if (flags !== 0) put1(w, T_SMALL_INT + flags);
    }
  } catch (e) {
    throw toPublicError(e, 'arguments');
  } finally {
    if (w.nSeen !== 0) clearSeen(w);
  }
}

// ---------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------

export class Reader {
  constructor() {
    this.u8 = EMPTY_U8;
    this.dv = EMPTY_DV;
    this.start = 0;
    this.pos = 0;
    this.end = 0;
    this.refs = [];
    this.nRefs = 0;
  }

  /** Begin reading the message u8[start .. start+len). */
  reset(u8, start, len) {
    if (!(u8 instanceof Uint8Array)) throw new TypeError('Reader.reset: u8 must be a Uint8Array');
    if (!(start >= 0 && len >= 0 && start + len <= u8.length) || start !== Math.floor(start) || len !== Math.floor(len)) {
      throw new RangeError('Reader.reset: [start, start+len) is outside u8');
    }
    if (this.u8 !== u8) {
      const dv = this.dv;
      if (dv.buffer !== u8.buffer || dv.byteOffset !== u8.byteOffset || dv.byteLength !== u8.byteLength) {
        this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
      }
      this.u8 = u8;
    }
    this.start = start;
    this.pos = start;
    this.end = start + len;
    return this;
  }

  /** Bytes consumed so far. */
  get offset() {
    return this.pos - this.start;
  }
}

function readVarUint(r) {
  const u8 = r.u8;
  let p = r.pos;
  if (p >= r.end) throw truncated(r);
  let b = u8[p++];
  if (b < 0x80) {
    r.pos = p;
    return b;
  }
  let n = b & 0x7f;
  let shift = 7;
  for (;;) {
    if (p >= r.end) throw truncated(r);
    b = u8[p++];
    if (shift === 28) {
      if (b > 0x0f) throw decodeError('varuint out of range', r);
      n += b * 0x10000000;
      break;
    }
    n |= (b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7;
  }
  r.pos = p;
  return n;
}

function need(r, n) {
  if (n > r.end - r.pos) throw truncated(r);
}

function readF64(r) {
  need(r, 8);
  const v = r.dv.getFloat64(r.pos, true);
  r.pos += 8;
  return v;
}

function readValue(r, d) {
  if (r.pos >= r.end) throw truncated(r);
  const t = r.u8[r.pos++];
  if (t >= T_SMALL_INT) return t - T_SMALL_INT;
  switch (t) {
    case T_UNDEFINED: return undefined;
    case T_NULL: return null;
    case T_FALSE: return false;
    case T_TRUE: return true;
    case T_INT32: {
      need(r, 4);
      const u8 = r.u8;
      const p = r.pos;
      r.pos = p + 4;
      return u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16) | (u8[p + 3] << 24);
    }
    case T_F64: return readF64(r);
    case T_STR_ASCII:
    case T_STR_LATIN1:
    case T_STR_UTF16:
      return readStringBody(r, t);
    case T_BIGINT_POS:
    case T_BIGINT_NEG:
      return readBigIntBody(r, t);
    case T_OBJECT: return readObject(r, d + 1);
    case T_ARRAY: return readArray(r, d + 1);
    case T_REF: {
      const id = readVarUint(r);
      if (id >= r.nRefs) throw decodeError('back-reference to unknown object #' + id, r);
      return r.refs[id];
    }
    default:
      return readOther(r, t, d + 1);
  }
}

function readOther(r, t, d) {
  if (d > MAX_DEPTH) throw decodeError('nesting deeper than ' + MAX_DEPTH, r);
  switch (t) {
    case T_DATE: {
      const v = new Date(readF64(r));
      pushRef(r, v);
      return v;
    }
    case T_REGEXP: {
      const at = r.nRefs;
      pushRef(r, null);
      const source = readString(r);
      const flags = readString(r);
      let v;
      try {
        v = new RegExp(source, flags);
      } catch (e) {
        throw decodeError('invalid RegExp (' + e.message + ')', r);
      }
      r.refs[at] = v;
      return v;
    }
    case T_MAP: {
      const m = new Map();
      pushRef(r, m);
      for (;;) {
        if (r.pos >= r.end) throw truncated(r);
        if (r.u8[r.pos] === T_END) {
          r.pos++;
          return m;
        }
        const k = readValue(r, d);
        m.set(k, readValue(r, d));
      }
    }
    case T_SET: {
      const s = new Set();
      pushRef(r, s);
      for (;;) {
        if (r.pos >= r.end) throw truncated(r);
        if (r.u8[r.pos] === T_END) {
          r.pos++;
          return s;
        }
        s.add(readValue(r, d));
      }
    }
    case T_ARRAYBUFFER: {
      const n = readVarUint(r);
      skipPad(r, 8);
      need(r, n);
      const ab = new ArrayBuffer(n);
      if (n > 0) new Uint8Array(ab).set(r.u8.subarray(r.pos, r.pos + n));
      r.pos += n;
      pushRef(r, ab);
      return ab;
    }
    case T_TYPED: return readView(r, false, d);
    case T_DATAVIEW: return readView(r, true, d);
    case T_BOOLEAN_OBJ: {
      need(r, 1);
      const b = r.u8[r.pos++];
      if (b > 1) throw decodeError('invalid Boolean object payload', r);
      const v = new Boolean(b === 1);
      pushRef(r, v);
      return v;
    }
    case T_NUMBER_OBJ: {
      const v = new Number(readF64(r));
      pushRef(r, v);
      return v;
    }
    case T_STRING_OBJ: {
      const at = r.nRefs;
      pushRef(r, null);
      const v = new String(readString(r));
      r.refs[at] = v;
      return v;
    }
    case T_BIGINT_OBJ: {
      const at = r.nRefs;
      pushRef(r, null);
      need(r, 1);
      const bt = r.u8[r.pos++];
      if (bt !== T_BIGINT_POS && bt !== T_BIGINT_NEG) throw decodeError('invalid BigInt object payload', r);
      const v = Object(readBigIntBody(r, bt));
      r.refs[at] = v;
      return v;
    }
    case T_ERROR: return readError(r, d);
    case T_DOMEXCEPTION: return readDOMException(r);
    case T_IMAGEDATA: {
      const width = readVarUint(r);
      const height = readVarUint(r);
      need(r, 1);
      const space = COLOR_SPACES[r.u8[r.pos++]];
      if (space === undefined) throw decodeError('unknown ImageData color space', r);
      skipPad(r, 8);
      const bytes = width * height * 4;
      if (bytes > r.end - r.pos) throw truncated(r);
      if (typeof ImageData !== 'function') throw decodeError('an ImageData, which this environment cannot create', r);
      const data = new Uint8ClampedArray(bytes);
      data.set(r.u8.subarray(r.pos, r.pos + bytes));
      r.pos += bytes;
      let v;
      try {
        v = new ImageData(data, width, height, { colorSpace: space });
      } catch (e) {
        throw decodeError('an invalid ImageData (' + (e && e.message) + ')', r);
      }
      pushRef(r, v);
      return v;
    }
    case T_END:
    case T_HOLE:
    case T_ARRAY_REST:
      throw decodeError('unexpected marker 0x' + t.toString(16) + ' where a value was expected', r);
    default:
      throw decodeError('unknown tag 0x' + t.toString(16), r);
  }
}

function pushRef(r, o) {
  r.refs[r.nRefs++] = o;
}

function clearRefs(r) {
  const refs = r.refs;
  for (let i = r.nRefs - 1; i >= 0; i--) refs[i] = undefined;
  r.nRefs = 0;
}

function skipPad(r, align) {
  const pad = (r.start - r.pos) & (align - 1);
  need(r, pad);
  r.pos += pad;
}

// ----- strings -----

function readString(r) {
  if (r.pos >= r.end) throw truncated(r);
  const t = r.u8[r.pos++];
  if (t < T_STR_ASCII || t > T_STR_UTF16) {
    throw decodeError('expected a string, found tag 0x' + t.toString(16), r);
  }
  return readStringBody(r, t);
}

const CHUNK = 4096;

function readStringBody(r, t) {
  const n = readVarUint(r);
  const u8 = r.u8;
  const p = r.pos;
  if (t !== T_STR_UTF16) {
    if (n > r.end - p) throw truncated(r);
    r.pos = p + n;
    if (n <= STRING_CACHE_MAX_LEN) return shortOneByte(u8, p, n);
    if (n <= MEDIUM_STRING) {
      const chars = charArrays[n];
      for (let i = 0; i < n; i++) chars[i] = u8[p + i];
      return fromCharCode.apply(null, chars);
    }
    return longOneByte(u8, p, n, t === T_STR_ASCII);
  }
  if (n > (r.end - p) >>> 1) throw truncated(r);
  r.pos = p + 2 * n;
  if (n <= MEDIUM_STRING) {
    const chars = charArrays[n];
    for (let i = 0, q = p; i < n; i++, q += 2) chars[i] = u8[q] | (u8[q + 1] << 8);
    return fromCharCode.apply(null, chars);
  }
  return longTwoByte(u8, p, n);
}

// TextDecoder refuses views of shared memory, so long strings are first copied
// (memcpy) into a private scratch buffer and then converted natively when that is exact.
const utf8Decoder = makeDecoder('utf-8');
const utf16Decoder = makeDecoder('utf-16le'); // exact for well-formed UTF-16 only

function makeDecoder(label) {
  try {
    // ignoreBOM: keep a leading U+FEFF (the default would strip it)
    return new TextDecoder(label, { ignoreBOM: true });
  } catch {
    return null;
  }
}

function longOneByte(u8, p, n, ascii) {
  if (ascii && utf8Decoder !== null) {
    const sc = getScratch(n);
    const view = n === sc.length ? sc : sc.subarray(0, n);
    view.set(u8.subarray(p, p + n));
    return utf8Decoder.decode(view);
  }
  // Latin-1: no native decoder is exact (the WHATWG "latin1" label means windows-1252)
  let s = '';
  for (let i = 0; i < n; i += CHUNK) s += fromCharCode.apply(null, u8.subarray(p + i, p + Math.min(n, i + CHUNK)));
  return s;
}

function longTwoByte(u8, p, n) {
  const sc = getScratch(2 * n);
  sc.set(u8.subarray(p, p + 2 * n));
  const u16 = new Uint16Array(sc.buffer, 0, n);
  if (utf16Decoder !== null && isWellFormedUtf16(u16, n)) return utf16Decoder.decode(u16);
  let s = '';
  for (let i = 0; i < n; i += CHUNK) s += fromCharCode.apply(null, u16.subarray(i, Math.min(n, i + CHUNK)));
  return s;
}

function isWellFormedUtf16(u16, n) {
  for (let i = 0; i < n; i++) {
    const c = u16[i];
    if ((c & 0xf800) === 0xd800) {
      // a surrogate: must be a high one followed by a low one
      if (c > 0xdbff || i + 1 === n || (u16[i + 1] & 0xfc00) !== 0xdc00) return false;
      i++;
    }
  }
  return true;
}

// Short one-byte strings (method names, property keys, small values) go through a
// small direct-mapped cache: hashing + verifying a few bytes is cheaper than building a
// string, and a repeated key comes back as the same (already internalized) string.
const STRING_CACHE_MAX_LEN = 24;
const STRING_CACHE_MASK = 4095;
const stringCache = new Array(STRING_CACHE_MASK + 1).fill('');
const charArrays = [];
for (let n = 0; n <= MEDIUM_STRING; n++) charArrays.push(new Array(n).fill(0));

function shortOneByte(u8, p, n) {
  if (n === 0) return '';
  let h = n;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ u8[p + i], 0x01000193);
  const slot = (h ^ (h >>> 15)) & STRING_CACHE_MASK;
  const c = stringCache[slot];
  if (c.length === n) {
    let i = 0;
    while (i < n && c.charCodeAt(i) === u8[p + i]) i++;
    if (i === n) return c;
  }
  const chars = charArrays[n];
  for (let i = 0; i < n; i++) chars[i] = u8[p + i];
  const s = fromCharCode.apply(null, chars);
  stringCache[slot] = s;
  return s;
}

// ----- bigint -----

const MAX_BIGINT_BYTES = 1 << 27; // V8's BigInt limit is 2^30 bits

function readBigIntBody(r, t) {
  const n = readVarUint(r);
  need(r, n);
  const u8 = r.u8;
  const p = r.pos;
  r.pos = p + n;
  let mag;
  if (n === 0) {
    mag = 0n;
  } else if (n === 8) {
    mag = r.dv.getBigUint64(p, true);
  } else {
    if (n > MAX_BIGINT_BYTES) throw decodeError('BigInt too large', r);
    const parts = new Array(n);
    for (let i = 0; i < n; i++) {
      const b = u8[p + n - 1 - i];
      parts[i] = HEX[b >> 4] + HEX[b & 15];
    }
    try {
      mag = BigInt('0x' + parts.join(''));
    } catch (e) {
      throw decodeError('BigInt could not be created (' + e.message + ')', r);
    }
  }
  return t === T_BIGINT_NEG ? -mag : mag;
}

// ----- objects & arrays -----

function setProp(o, k, v) {
  if (k === '__proto__') {
    defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  } else {
    o[k] = v;
  }
}

function readObject(r, d) {
  if (d > MAX_DEPTH) throw decodeError('nesting deeper than ' + MAX_DEPTH, r);
  const o = {};
  pushRef(r, o);
  const u8 = r.u8;
  for (;;) {
    if (r.pos >= r.end) throw truncated(r);
    const t = u8[r.pos++];
    if (t === T_END) return o;
    if (t < T_STR_ASCII || t > T_STR_UTF16) {
      throw decodeError('expected a property name, found tag 0x' + t.toString(16), r);
    }
    const k = readStringBody(r, t);
    const v = readValue(r, d);
    if (k === '__proto__') setProp(o, k, v);
    else o[k] = v;
  }
}

function readArray(r, d) {
  if (d > MAX_DEPTH) throw decodeError('nesting deeper than ' + MAX_DEPTH, r);
  const len = readVarUint(r);
  const a = [];
  pushRef(r, a);
  const u8 = r.u8;
  let i = 0;
  for (; i < len; i++) {
    if (r.pos >= r.end) throw truncated(r);
    const t = u8[r.pos];
    if (t === T_HOLE) {
      r.pos++; // a later a[j] = v (or the final length) leaves the hole
    } else if (t === T_ARRAY_REST) {
      r.pos++;
      break;
    } else {
      a[i] = readValue(r, d);
    }
  }
  for (;;) {
    if (r.pos >= r.end) throw truncated(r);
    const t = u8[r.pos++];
    if (t === T_END) break;
    if (t < T_STR_ASCII || t > T_STR_UTF16) {
      throw decodeError('expected an array property name, found tag 0x' + t.toString(16), r);
    }
    const k = readStringBody(r, t);
    if (k === 'length') throw decodeError('array property "length" is not allowed', r);
    setProp(a, k, readValue(r, d));
  }
  if (a.length < len) a.length = len;
  return a;
}

function readView(r, dataView, d) {
  // The view's id comes before its buffer's, as the encoder registered them.
  const id = r.nRefs;
  pushRef(r, null);
  let Ctor = DataView;
  let size = 1;
  if (!dataView) {
    need(r, 1);
    const kind = r.u8[r.pos++];
    if (kind >= TYPED_CTORS.length) throw decodeError('unknown typed array kind ' + kind, r);
    Ctor = TYPED_CTORS[kind];
    if (Ctor === undefined) throw decodeError('Float16Array is not available in this environment', r);
    size = TYPED_SIZES[kind];
  }
  const byteOffset = readVarUint(r);
  const length = readVarUint(r);
  const buffer = readValue(r, d + 1);
  if (!(buffer instanceof ArrayBuffer)) throw decodeError('a view whose buffer is not an ArrayBuffer', r);
  if (byteOffset % size !== 0 || byteOffset + length * size > buffer.byteLength) {
    throw decodeError('a view that lies outside its buffer', r);
  }
  const v = new Ctor(buffer, byteOffset, length);
  r.refs[id] = v;
  return v;
}

function defineHidden(o, k, v) {
  defineProperty(o, k, { value: v, writable: true, enumerable: false, configurable: true });
}

function readError(r, d) {
  need(r, 2);
  const kind = r.u8[r.pos];
  const flags = r.u8[r.pos + 1];
  r.pos += 2;
  if (kind >= ERROR_CTORS.length) throw decodeError('unknown error kind ' + kind, r);
  if (flags > 31 || ((flags & EF_ERRORS) && kind !== 7)) throw decodeError('invalid error flags', r);
  const e = kind === 7 ? new AggregateError([]) : new ERROR_CTORS[kind]();
  pushRef(r, e);
  if (flags & EF_NAME) defineHidden(e, 'name', readString(r));
  if (flags & EF_MESSAGE) defineHidden(e, 'message', readString(r));
  if (flags & EF_STACK) defineHidden(e, 'stack', readString(r));
  else if (hasOwn.call(e, 'stack')) delete e.stack; // do not show the decoder's stack
  if (flags & EF_CAUSE) defineHidden(e, 'cause', readValue(r, d));
  if (flags & EF_ERRORS) defineHidden(e, 'errors', readValue(r, d));
  return e;
}

function readDOMException(r) {
  const at = r.nRefs;
  pushRef(r, null);
  const name = readString(r);
  const message = readString(r);
  need(r, 1);
  const hasStack = r.u8[r.pos++];
  if (hasStack > 1) throw decodeError('invalid DOMException payload', r);
  const stack = hasStack ? readString(r) : undefined;
  const DOMEx = globalThis.DOMException;
  let e;
  if (typeof DOMEx === 'function') {
    e = new DOMEx(message, name);
  } else {
    e = new Error(message);
    defineHidden(e, 'name', name);
  }
  if (stack !== undefined) {
    try { defineHidden(e, 'stack', stack); } catch { /* non-configurable in some engines */ }
  }
  r.refs[at] = e;
  return e;
}

// ----- public decode API -----

function decodeFailure(e, r) {
  if (e instanceof DecodeError) return e;
  if (isStackOverflow(e)) return decodeError('input is nested too deeply (JavaScript stack exhausted)', r);
  return e;
}

/** Reads one value. Throws DecodeError on malformed input. */
export function decode(reader) {
  const r = reader;
  try {
    return readValue(r, 0);
  } catch (e) {
    throw decodeFailure(e, r);
  } finally {
    if (r.nRefs !== 0) clearRefs(r);
  }
}

/** Reads what encodeArgs wrote: returns { method, args, key, flags } (key undefined when none). */
export function decodeArgs(reader) {
  const r = reader;
  try {
    const method = readString(r);
    const args = readValue(r, 0);
    if (!isArray(args)) throw decodeError('arguments are not an array', r);
    let key;
    let flags = 0;
    if (r.pos < r.end) {
      if (r.u8[r.pos] === T_UNDEFINED) r.pos++;
      else key = readString(r);
    }
    if (r.pos < r.end) {
      const f = r.u8[r.pos++];
      if (f < T_SMALL_INT) throw decodeError('call flags that are not a small integer', r);
      flags = f - T_SMALL_INT;
    }
    return { method, args, key, flags };
  } catch (e) {
    throw decodeFailure(e, r);
  } finally {
    if (r.nRefs !== 0) clearRefs(r);
  }
}
