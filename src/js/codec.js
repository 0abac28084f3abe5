// Atelier codec: structured-clone-like serialization of JS values into (shared) memory.
//
// ES module, no dependencies. Used on the main thread and in workers; every call's method
// name and arguments (and its result) go through it. It is in three parts:
//
//   codec-format.js   the byte format (documented there), tags, shared intrinsics, errors
//   codec-encode.js   Writer, encode, encodeArgs, detachBuffers, the side-lane threshold
//   codec-decode.js   Reader, decode, decodeArgs, peekSide
//   codec-recycle.js  the backing stores of moved buffers, kept for the next decoded buffer
//
// This module is the codec's public face: everything else imports from here.
export {
  FORMAT_VERSION, MAX_DEPTH, CALL_KEEP_RESULT_BUFFERS, DataCloneError, DecodeError,
} from './codec-format.js';
export {
  Writer, encode, encodeArgs, detachBuffers, setArrayPropertyScan, isTransferable,
  SIDE_LANE_MIN_BYTES, setSideLaneMinBytes,
} from './codec-encode.js';
export { Reader, decode, decodeArgs, peekSide } from './codec-decode.js';
export { pooledBufferBytes, setBufferPoolIdleMs } from './codec-recycle.js';
