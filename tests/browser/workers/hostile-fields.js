// What the hostile-memory suite's worker (hostile.js) writes garbage into: every word of a
// task's shared memory that a worker can reach, by name, and the garbage it writes.
import * as L from '/pkg/layout.js';

const SLOT = {
  slotState: L.SLOT_STATE,
  slotCallId: L.SLOT_CALL_ID,
  slotAttempt: L.SLOT_ATTEMPT,
  slotCancel: L.SLOT_CANCEL,
  slotArgPtr: L.SLOT_ARG_PTR,
  slotArgLen: L.SLOT_ARG_LEN,
  slotFlags: L.SLOT_FLAGS,
  slotStarted: L.SLOT_STARTED,
};
// Every word of a cell but `req_ptr` and `arena_base`: an honest worker writes its result
// where those point, anywhere in the module's memory, allocator included (the page cannot
// stop a worker from writing there; this test is about what the page reads).
const CELL = {
  cellBeat: L.CELL_BEAT,
  cellPhase: L.CELL_PHASE,
  cellCompleted: L.CELL_COMPLETED,
  cellRunning: L.CELL_RUNNING,
  cellRingTail: L.CELL_RING_TAIL,
  cellArenaWrite: L.CELL_ARENA_WRITE,
  cellReqLen: L.CELL_REQ_LEN,
  cellDiscarded: L.CELL_DISCARDED,
  cellOwner: L.CELL_OWNER,
  cellQuota: L.CELL_QUOTA,
  cellRingHead: L.CELL_RING_HEAD,
  cellArenaRead: L.CELL_ARENA_READ,
  cellArenaCap: L.CELL_ARENA_CAP,
  cellPosts: L.CELL_POSTS,
};
const RESULT = { resultStatus: L.RESULT_STATUS, resultPtr: L.RESULT_PTR, resultLen: L.RESULT_LEN, resultEnd: L.RESULT_END };
const OTHER = ['ringEntry', 'queueHead', 'queueTail', 'queueEntry'];

/** Every field this worker writes garbage into (the page draws from it). */
export const FIELDS = [...Object.keys(SLOT), ...Object.keys(CELL), ...Object.keys(RESULT), ...OTHER];

/** The byte address of `field`; `index` picks the slot, seat and entry; `seats` is the task's. */
export function address(info, seat, field, index, seats) {
  // Half the time this worker's own seat, else any seat of the task.
  const s = index % 2 === 0 ? seat : (index >>> 1) % seats;
  const pos = (index >>> 3) % info.ringCap;
  if (field in SLOT) return info.slots + (index % info.slotCount) * L.SLOT_SIZE + SLOT[field];
  if (field in CELL) return info.cells + s * L.CELL_SIZE + CELL[field];
  if (field in RESULT) return info.results + ((s * info.ringCap + pos) * L.RESULT_WORDS + RESULT[field]) * 4;
  if (field === 'ringEntry') return info.rings + (s * info.ringCap + pos) * 4;
  if (field === 'queueHead') return info.queueHead;
  if (field === 'queueTail') return info.queueTail;
  if (field === 'queueEntry') return info.queueEntries + (index % info.queueCap) * 4;
  throw new TypeError(`unknown field ${field}`);
}

/** Garbage, biased toward near misses of the real value (as tests/hostile.rs draws it). */
export function garbage(real, kind, noise) {
  switch (kind % 6) {
    case 0: return noise >>> 0;
    case 1: return noise % 64;
    case 2: return (real + 1 + (noise % 4)) >>> 0;
    case 3: return (real - 1 - (noise % 4)) >>> 0;
    case 4: return (0xffffffff - (noise % 4)) >>> 0;
    default: return (real ^ (1 << (noise % 32))) >>> 0;
  }
}
