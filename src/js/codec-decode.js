// Atelier codec, part 3 of 3: the decoder (Reader, decode, decodeArgs). Input may be
// hostile (shared memory): every length and index is checked. The format is described in
// codec-format.js.
import {
  HEX, COLOR_SPACES, DecodeError, EF_CAUSE, EF_ERRORS, EF_MESSAGE, EF_NAME, EF_STACK, EMPTY_DV,
  EMPTY_U8, ERROR_CTORS, MAX_DEPTH, TYPED_CTORS, TYPED_SIZES, T_ARRAY, T_ARRAYBUFFER,
  T_ARRAY_REST, T_BIGINT_NEG, T_BIGINT_OBJ, T_BIGINT_POS, T_BOOLEAN_OBJ, T_DATAVIEW, T_DATE,
  T_DOMEXCEPTION, T_END, T_ERROR, T_F64, T_FALSE, T_HOLE, T_IMAGEDATA, T_INT32, T_MAP, T_NULL,
  T_NUMBER_OBJ, T_OBJECT, T_REF, T_REGEXP, T_SET, T_SMALL_INT, T_STRING_OBJ, T_STR_ASCII,
  T_STR_LATIN1, T_STR_UTF16, T_TRUE, T_TYPED, T_UNDEFINED, decodeError, defineProperty,
  fromCharCode, getScratch, hasOwn, isArray, isStackOverflow, truncated, T_SIDE, T_SIDE_HEADER,
  SIDE_HEADER_BYTES,
} from './codec-format.js';
import { takeBuffer } from './codec-recycle.js';

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
    // The message's side-lane values (codec-format.js), set by the caller before it decodes
    // a message that has them (peekSide); cleared after each decode.
    this.side = null;
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
    case T_SIDE: {
      const i = readVarUint(r);
      const side = r.side;
      if (side === null || i >= side.length) throw decodeError('side-lane value ' + i + ' is missing', r);
      const v = side[i];
      pushRef(r, v);
      return v;
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
      // (A pooled buffer's bytes are all overwritten here: codec-recycle.js.)
      const ab = takeBuffer(n);
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
      const data = new Uint8ClampedArray(takeBuffer(bytes));
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
const MEDIUM_STRING = 64; // build via fromCharCode.apply up to this length

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
  if (!(buffer instanceof ArrayBuffer || (Shared !== undefined && buffer instanceof Shared))) {
    throw decodeError('a view whose buffer is not an ArrayBuffer', r);
  }
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

const Shared = globalThis.SharedArrayBuffer;

/**
 * The side-lane header of the message `reader` is at: `{ count, token }`, or null when the
 * message has no side-lane values. Does not move the reader.
 */
export function peekSide(reader) {
  const r = reader;
  if (r.pos >= r.end || r.u8[r.pos] !== T_SIDE_HEADER) return null;
  if (r.end - r.pos < SIDE_HEADER_BYTES) throw truncated(r);
  return { count: r.dv.getUint32(r.pos + 4, true), token: r.dv.getUint32(r.pos + 8, true) };
}

// Steps over the side-lane header, checking that the caller supplied the values.
function skipSideHeader(r) {
  const h = peekSide(r);
  if (h === null) return;
  if (r.side === null || r.side.length !== h.count) {
    throw decodeError('the message has ' + h.count + ' side-lane values and ' + (r.side === null ? 'none' : r.side.length) + ' were given', r);
  }
  r.pos += SIDE_HEADER_BYTES;
}

/** Reads one value. Throws DecodeError on malformed input. */
export function decode(reader) {
  const r = reader;
  try {
    skipSideHeader(r);
    return readValue(r, 0);
  } catch (e) {
    throw decodeFailure(e, r);
  } finally {
    r.side = null;
    if (r.nRefs !== 0) clearRefs(r);
  }
}

/** Reads what encodeArgs wrote: returns { method, args, key, flags } (key undefined when none). */
export function decodeArgs(reader) {
  const r = reader;
  try {
    skipSideHeader(r);
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
    r.side = null;
    if (r.nRefs !== 0) clearRefs(r);
  }
}
