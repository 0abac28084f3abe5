// Atelier codec, part 1 of 3: the byte format, its tags, the intrinsics and the errors that the
// encoder (codec-encode.js) and the decoder (codec-decode.js) share. codec.js is the public face.
//
// ES module, no dependencies. Used on the main thread and in workers; every call's
// method name + arguments (and its result) go through here, so the code is written for
// speed: one reusable Writer/Reader per thread, no closures per value, `switch (typeof)`
// first, small-int / one-byte-string fast paths, bulk copies for binary data.
//
// ===================================================================================
// BYTE FORMAT  (FORMAT_VERSION = 3)
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
//   0x1F       SIDE     [ref]  varuint i: the i-th value of the message's side lane (below)
//   0x20       SIDE_HEADER     (only as a message's first byte) 3 zero bytes, u32 count,
//                              u32 token, u32 zero: 16 bytes in all
//   (0x21-0x7F unused: a decoder rejects them)
//   0x80-0xFF  SMALL_INT       the integer (tag - 0x80), i.e. 0..127, no payload
//
// varuint: unsigned LEB128, 1..5 bytes, value <= 0xFFFFFFFF.
//
// Back-references: every value marked [ref] gets the next id (0, 1, 2, ...) at the
// moment its tag is written/read, i.e. BEFORE its children, so cycles work. A second
// occurrence of the same object is written as REF id. Ids are scoped to one top-level
// encode()/decode() (encodeArgs/decodeArgs count as one value).
//
// The side lane: values that cannot live in shared memory (platform objects such as
// ImageBitmap, MessagePort or streams; Blob and File; SharedArrayBuffer, which must arrive as
// the same memory) and ArrayBuffers that move (are transferred) and are at least the
// writer's `sideMin` bytes long travel beside the message, by postMessage. The encoder
// collects them in `writer.side` (each once, in order of first occurrence) and writes SIDE i
// where they were; a message with any starts with SIDE_HEADER (16 bytes, so everything after
// it keeps its alignment), whose token (`writer.sideToken`) ties the message to the
// postMessage that carries the values. The decoder needs them in `reader.side` before it
// reads such a message (peekSide() reads the header).
//
// Padding bytes are written as zero and ignored by the decoder. Payload alignment lets a
// decoder build views over the message, but this decoder always makes fresh, private
// (non-shared) copies.
//
// ===================================================================================
// DIFFERENCES FROM structuredClone (deliberate)
// ===================================================================================
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

export const FORMAT_VERSION = 3;

/** A call flag: the worker keeps the buffers of its result (`with({ transferResult: false })`). */
export const CALL_KEEP_RESULT_BUFFERS = 1;


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
export const T_END = 0x00;
export const T_UNDEFINED = 0x01;
export const T_NULL = 0x02;
export const T_FALSE = 0x03;
export const T_TRUE = 0x04;
export const T_INT32 = 0x05;
export const T_F64 = 0x06;
export const T_BIGINT_POS = 0x07;
export const T_BIGINT_NEG = 0x08;
export const T_STR_ASCII = 0x09;
export const T_STR_LATIN1 = 0x0a;
export const T_STR_UTF16 = 0x0b;
export const T_OBJECT = 0x0c;
export const T_ARRAY = 0x0d;
export const T_HOLE = 0x0e;
export const T_ARRAY_REST = 0x0f;
export const T_REF = 0x10;
export const T_DATE = 0x11;
export const T_REGEXP = 0x12;
export const T_MAP = 0x13;
export const T_SET = 0x14;
export const T_ARRAYBUFFER = 0x15;
export const T_TYPED = 0x16;
export const T_DATAVIEW = 0x17;
export const T_BOOLEAN_OBJ = 0x18;
export const T_NUMBER_OBJ = 0x19;
export const T_STRING_OBJ = 0x1a;
export const T_BIGINT_OBJ = 0x1b;
export const T_ERROR = 0x1c;
export const T_DOMEXCEPTION = 0x1d;
export const T_IMAGEDATA = 0x1e;
export const T_SIDE = 0x1f;
export const T_SIDE_HEADER = 0x20;
export const T_SMALL_INT = 0x80;

/** Bytes of the SIDE_HEADER that starts a message with side-lane values. */
export const SIDE_HEADER_BYTES = 16;

// Error flags
export const EF_NAME = 1;
export const EF_MESSAGE = 2;
export const EF_STACK = 4;
export const EF_CAUSE = 8;
export const EF_ERRORS = 16;

// ---------------------------------------------------------------------------------
// Intrinsics captured at load time (robust against later monkey-patching, and fast)
// ---------------------------------------------------------------------------------
export const ObjectPrototype = Object.prototype;
export const getPrototypeOf = Object.getPrototypeOf;
export const defineProperty = Object.defineProperty;
export const objectKeys = Object.keys;
export const isArray = Array.isArray;
export const isView = ArrayBuffer.isView;
export const hasOwn = Object.prototype.hasOwnProperty;
export const objToString = Object.prototype.toString;
export const fromCharCode = String.fromCharCode;
export const fnToString = Function.prototype.toString;
export const getterOf = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
export const TypedArrayPrototype = getPrototypeOf(Int8Array.prototype);
export const typedArrayTag = getterOf(TypedArrayPrototype, Symbol.toStringTag);
export const arrayBufferByteLength = getterOf(ArrayBuffer.prototype, 'byteLength');
export const arrayBufferSlice = ArrayBuffer.prototype.slice;
export const mapSize = getterOf(Map.prototype, 'size');
export const mapForEach = Map.prototype.forEach;
export const setSize = getterOf(Set.prototype, 'size');
export const setForEach = Set.prototype.forEach;
export const dateGetTime = Date.prototype.getTime;
export const regexpSource = getterOf(RegExp.prototype, 'source');
export const regexpFlags = getterOf(RegExp.prototype, 'flags');
export const booleanValueOf = Boolean.prototype.valueOf;
export const numberValueOf = Number.prototype.valueOf;
export const stringValueOf = String.prototype.valueOf;
export const bigintValueOf = BigInt.prototype.valueOf;
export const Float16 = typeof globalThis.Float16Array === 'function' ? globalThis.Float16Array : undefined;
export const isErrorFn = typeof Error.isError === 'function' ? Error.isError : null;

export const EMPTY_U8 = new Uint8Array(0);
export const EMPTY_DV = new DataView(new ArrayBuffer(0));

export const TYPED_CTORS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
  Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, Float16,
];
export const TYPED_SIZES = [1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 2];

export const ERROR_CTORS = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];

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
export class CloneFailure {
  constructor(detail) {
    this.detail = detail;
    this.segs = [];
  }
}

export function withSeg(e, seg) {
  if (e instanceof CloneFailure) e.segs.push(seg);
  return e;
}

export function propSeg(k) {
  return /^[A-Za-z_$][\w$]*$/.test(k) ? '.' + k : '[' + JSON.stringify(k) + ']';
}

export function isStackOverflow(e) {
  return e !== null && typeof e === 'object' &&
    (e instanceof RangeError || (e && e.name === 'InternalError')) &&
    /call stack|too much recursion/i.test(String(e.message));
}

export function makeCloneError(message, path) {
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

export function toPublicError(e, root) {
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

export function decodeError(msg, r) {
  return new DecodeError('Atelier codec: ' + msg + (r ? ' (at byte ' + (r.pos - r.start) + ' of the message)' : ''));
}

export function truncated(r) {
  return decodeError('truncated input', r);
}


// Long strings are converted natively through a private scratch buffer (TextEncoder and
// TextDecoder refuse views of shared memory); both directions share it.
let scratch = new Uint8Array(1024);
const SCRATCH_KEEP = 1 << 20;

export function getScratch(n) {
  if (scratch.length >= n) return scratch;
  const s = new Uint8Array(Math.max(n, scratch.length * 2));
  if (n <= SCRATCH_KEEP) scratch = s;
  return s;
}

/** Hexadecimal digits (BigInt magnitudes go through BigInt's hex form). */
export const HEX = '0123456789abcdef';

export const COLOR_SPACES = ['srgb', 'display-p3'];
