// The messages between a task's pool and each of its workers: the start-up handshake, the
// side lane, and the doorbell fallback. Every message is an object whose `__atelier` field
// names its type, so the runtime ignores the app's own messages and vice versa.
//
//   worker -> page  { __atelier: 'atelier:hello' }                    createTaskWorker() ran
//   page -> worker  { __atelier: 'atelier:init', memory, info,         attach to the task
//                     seat, index, protocol, layout, taskName, poolSize,
//                     timeOrigin }
//   worker -> page  { __atelier: 'atelier:ready' }                    attached; pulling calls
//   worker -> page  { __atelier: 'atelier:fail', error: {name, message} }  could not attach
//   worker -> page  { __atelier: 'atelier:fault', error: {name, message} } its run loop failed
//   both ways       { __atelier: 'atelier:bell' }                     the doorbell fallback
//   page -> worker  { __atelier: 'atelier:side-call', token, slot,    a call handed to this
//                     gen, values }                                   worker alone (PENDING
//                                                                     with its owner id, on
//                                                                     no queue), with the
//                                                                     values of its arguments
//   worker -> page  { __atelier: 'atelier:side-want', token }         the call it took needs
//                                                                     its side-lane values
//   page -> worker  { __atelier: 'atelier:side', token, values,       them (moving what
//                     error }                                         moves), or why not
//   worker -> page  { __atelier: 'atelier:side-result', token,        a result's side-lane
//                     values }                                        values, posted just
//                                                                     before its completion
//                                                                     (flagged STATUS_SIDE)
//
// The side lane (API contract B.1, C.10; docs/values.md) carries what cannot live in shared
// memory (platform objects, Blobs, SharedArrayBuffers) and large buffers that move; a
// message's header (codec-format.js) names the token. A call without such values makes no
// postMessage at all.
//
// Where `Atomics.waitAsync` is missing (Firefox ESR 140; API contract B.10) neither the page
// nor an idle worker can sleep on a doorbell word without blocking its event loop, so the
// side that publishes also posts `atelier:bell` to a sleeping other side. Calls, arguments and
// results still travel through shared memory; only the wake-up is a message.
//
// `protocol` and `layout` are layout.js's PROTOCOL_VERSION and LAYOUT_FINGERPRINT: a worker
// that loaded another build of the package fails its start naming both.

export const MSG_HELLO = 'atelier:hello';
export const MSG_INIT = 'atelier:init';
export const MSG_READY = 'atelier:ready';
export const MSG_FAIL = 'atelier:fail';
export const MSG_FAULT = 'atelier:fault';
export const MSG_BELL = 'atelier:bell';
export const MSG_SIDE_CALL = 'atelier:side-call';
export const MSG_SIDE_WANT = 'atelier:side-want';
export const MSG_SIDE = 'atelier:side';
export const MSG_SIDE_RESULT = 'atelier:side-result';

/** The handshake message type of `data`, or null for any other message. */
export function protocolType(data) {
  return data !== null && typeof data === 'object' && typeof data.__atelier === 'string' ? data.__atelier : null;
}
