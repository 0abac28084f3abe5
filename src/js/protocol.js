// The start-up handshake between a task's pool and each of its workers: the only
// postMessage traffic of the runtime. Every message is an object whose `__atelier` field
// names its type, so the runtime ignores the app's own messages and vice versa.
//
//   worker -> page  { __atelier: 'atelier:hello' }                    createTaskWorker() ran
//   page -> worker  { __atelier: 'atelier:init', module, memory,       attach to the task
//                     task, index, layout, taskName, poolSize }
//   worker -> page  { __atelier: 'atelier:ready' }                    attached; pulling calls
//   worker -> page  { __atelier: 'atelier:fail', error: {name, message} }  could not attach

export const MSG_HELLO = 'atelier:hello';
export const MSG_INIT = 'atelier:init';
export const MSG_READY = 'atelier:ready';
export const MSG_FAIL = 'atelier:fail';

/** The handshake message type of `data`, or null for any other message. */
export function protocolType(data) {
  return data !== null && typeof data === 'object' && typeof data.__atelier === 'string' ? data.__atelier : null;
}
