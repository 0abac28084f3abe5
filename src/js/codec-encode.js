// Atelier codec, part 2 of 3: the encoder (Writer, encode, encodeArgs) and the transfer
// helper. The format is described in codec-format.js.
import {
  CALL_KEEP_RESULT_BUFFERS, COLOR_SPACES, CloneFailure, DataCloneError, EF_CAUSE, EF_ERRORS,
  EF_MESSAGE, EF_NAME, EF_STACK, EMPTY_DV, EMPTY_U8, MAX_DEPTH, ObjectPrototype, T_ARRAY,
  T_ARRAYBUFFER, T_ARRAY_REST, T_BIGINT_NEG, T_BIGINT_OBJ, T_BIGINT_POS, T_BOOLEAN_OBJ,
  T_DATAVIEW, T_DATE, T_DOMEXCEPTION, T_END, T_ERROR, T_F64, T_FALSE, T_HOLE, T_IMAGEDATA,
  T_INT32, T_MAP, T_NULL, T_NUMBER_OBJ, T_OBJECT, T_REF, T_REGEXP, T_SET, T_SMALL_INT,
  T_STRING_OBJ, T_STR_ASCII, T_STR_LATIN1, T_STR_UTF16, T_TRUE, T_TYPED, T_UNDEFINED,
  arrayBufferByteLength, arrayBufferSlice, bigintValueOf, booleanValueOf, dateGetTime, fnToString,
  getPrototypeOf, getScratch, getterOf, hasOwn, isArray, isErrorFn, isView, mapForEach, mapSize,
  numberValueOf, objToString, objectKeys, propSeg, regexpFlags, regexpSource, setForEach, setSize,
  stringValueOf, toPublicError, typedArrayTag, withSeg, T_SIDE, T_SIDE_HEADER, SIDE_HEADER_BYTES,
} from './codec-format.js';
import { recycleBuffer } from './codec-recycle.js';

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
    // The side lane (codec-format.js): the values that travel beside the message, the token
    // its header carries, and which ArrayBuffers move (null: all of them, as a call's default
    // transfer does); those of at least setSideLaneMinBytes() bytes take the side lane.
    this.side = [];
    this.sideToken = 0;
    this.moves = null;
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
const textEncoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;

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
  const offset = v.byteOffset;
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
  const id = refOrRegister(w, buffer);
  if (id >= 0) {
    writeRef(w, id);
    return;
  }
  // A view of shared memory arrives as a view of the same memory (its buffer takes the side
  // lane), as structuredClone makes it.
  if (shared) encodeSide(w, buffer);
  else encodeArrayBuffer(w, buffer, bufferLength);
}

function encodeArrayBuffer(w, v, byteLength) {
  if (byteLength >= sideLaneMinBytes && (w.moves === null || w.moves.has(v))) {
    // A large buffer that moves: transferring it is faster than copying its bytes.
    encodeSide(w, v);
    return;
  }
  w.buffers.push(v);
  if (byteLength === 0 && isDetached(v)) {
    throw new CloneFailure('is a detached (transferred) ArrayBuffer and cannot be cloned');
  }
  if (byteLength > 0xffffffff) throw new CloneFailure('is an ArrayBuffer larger than 4 GiB and cannot be sent');
  writeTagVar(w, T_ARRAYBUFFER, byteLength);
  padAndReserve(w, 8, byteLength);
  copyBytesIn(w, v, 0, byteLength);
}


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
  'SharedArrayBuffer', 'Blob', 'File', 'FileList', 'ImageBitmap', 'OffscreenCanvas', 'MessagePort', 'ReadableStream', 'WritableStream',
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
      if (refuseOther(w, v, type)) return;
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

// Sends platform objects that postMessage can carry by the side lane; throws for other
// platform / exotic objects; returns for ordinary objects that merely carry a custom
// Symbol.toStringTag (user classes), which are then sent as plain objects.
function refuseOther(w, v, type) {
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
    default:
      break;
  }
  if (SIDE_LANE_TYPES.has(type)) {
    encodeSide(w, v);
    return true;
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

// ----- the side lane -----

/**
 * The default size from which an ArrayBuffer that moves takes the side lane (is transferred
 * by postMessage) rather than being copied through shared memory. `cargo atelier bench f32`
 * times both lanes at each size: on a 2-core machine a side-lane round trip of a moved
 * Float32Array costs 36-55 µs at any size up to 4 MiB (two messages), the copy 11.5 µs at
 * 64 KiB and 59 µs at 256 KiB (with the memory of moved buffers reused, codec-recycle.js);
 * they cross between 64 and 256 KiB.
 */
export const SIDE_LANE_MIN_BYTES = 128 << 10;

let sideLaneMinBytes = SIDE_LANE_MIN_BYTES;

/**
 * Sets the size from which moving ArrayBuffers take the side lane, from the next message on
 * (Infinity: never; 0: always). For benchmarks; returns the previous size.
 */
export function setSideLaneMinBytes(bytes) {
  if (!(bytes >= 0)) throw new RangeError('setSideLaneMinBytes: bytes must be a number >= 0 (or Infinity)');
  const old = sideLaneMinBytes;
  sideLaneMinBytes = bytes;
  return old;
}

// `v` (registered by the caller) travels beside the message.
function encodeSide(w, v) {
  writeTagVar(w, T_SIDE, w.side.length);
  w.side.push(v);
}

// Shifts the message by SIDE_HEADER_BYTES (a multiple of 8, so alignment holds) and writes
// the header in front.
function writeSideHeader(w) {
  const n = SIDE_HEADER_BYTES;
  if (w.pos + n > w.end) growWriter(w, n);
  const u8 = w.u8;
  const start = w.start;
  u8.copyWithin(start + n, start, w.pos);
  u8.fill(0, start, start + n);
  u8[start] = T_SIDE_HEADER;
  w.dv.setUint32(start + 4, w.side.length, true);
  w.dv.setUint32(start + 8, w.sideToken >>> 0, true);
  w.pos += n;
}

/**
 * Platform types that postMessage can transfer, and those of them it cannot clone (they must
 * be transferred to be sent at all).
 */
const TRANSFERABLE_TYPES = new Set([
  'ArrayBuffer', 'ImageBitmap', 'OffscreenCanvas', 'MessagePort', 'ReadableStream',
  'WritableStream', 'TransformStream', 'VideoFrame', 'AudioData', 'RTCDataChannel',
  'MediaSourceHandle', 'MediaStreamTrack', 'WebTransportSendStream', 'WebTransportReceiveStream',
  'MIDIAccess',
]);

/** True when postMessage can transfer `v` (move it, detaching the sender's). */
export function isTransferable(v) {
  return v !== null && typeof v === 'object' && TRANSFERABLE_TYPES.has(objToString.call(v).slice(8, -1));
}

// ----- public encode API -----

/**
 * Empties the writer's lists of the buffers and side-lane values the last message met.
 * Setting an array's length is a call into the engine (about 25 ns each in V8, more than
 * encoding a small value), so an empty list is left alone.
 */
function clearLists(w) {
  if (w.buffers.length !== 0) w.buffers.length = 0;
  if (w.side.length !== 0) w.side.length = 0;
}

/** Appends one value to the writer's current message. Throws DataCloneError. */
export function encode(value, writer) {
  const w = writer;
  w.protoState = 0;
  clearLists(w);
  try {
    encodeValue(w, value, 0);
    if (w.side.length !== 0) writeSideHeader(w);
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
  clearLists(w);
  try {
    writeString(w, method);
    refOrRegister(w, args);
    encodeArray(w, args, 1, false);
    if (key !== undefined || flags !== 0) {
      if (key !== undefined) writeString(w, key);
      else put1(w, T_UNDEFINED);
      if (flags !== 0) put1(w, T_SMALL_INT + flags);
    }
    if (w.side.length !== 0) writeSideHeader(w);
  } catch (e) {
    throw toPublicError(e, 'arguments');
  } finally {
    if (w.nSeen !== 0) clearSeen(w);
  }
}

/**
 * Detaches each buffer, as postMessage's transfer does (the bytes went through shared memory
 * already). A buffer that cannot be detached (a WebAssembly memory's) is left as is.
 */
export function detachBuffers(buffers) {
  for (const b of buffers) {
    try {
      // Its backing store is kept for the next buffer decoded on this thread (codec-recycle.js).
      if (typeof b.transfer === 'function') recycleBuffer(b);
      else structuredClone(b, { transfer: [b] });
    } catch {
      // not detachable: it stays usable, as a copy was sent
    }
  }
}
