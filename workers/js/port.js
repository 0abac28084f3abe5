// The worker side of the shared-memory protocol, in JS: claim a call from the task's work
// queue, publish its result on this worker's completion ring, beat the heartbeat. It mirrors
// the reference implementation in Rust (workers/src/lib.rs, which the native tests and loom
// models check) word for word; every constant comes from layout.js, generated from
// ring/src/layout.rs.
//
// A worker never allocates in the shared memory and holds no lock: results go into an arena
// the page gave this worker (or, for a result larger than the arena, into a buffer the page
// grants on request), so the worker can be terminated at any instruction and the page takes
// everything back (see docs/design/dispatch-path.md).
import * as L from './layout.js';

const KIND_SHIFT = L.STATE_KIND_SHIFT;
const OWNER_SHIFT = L.STATE_OWNER_SHIFT;

/** A state word (as an unsigned 32-bit number). */
export function pack(kind, owner, gen) {
  return ((kind << KIND_SHIFT) | ((owner & L.STATE_OWNER_MASK) << OWNER_SHIFT) | (gen & L.STATE_GEN_MASK)) >>> 0;
}

/** The names of the task-info array the page sends in the handshake (RuntimeCore.taskInfo). */
export const INFO = ['slots', 'slotCount', 'cells', 'queueHead', 'queueTail', 'queueEntries', 'queueCap', 'workBell', 'doneBell', 'rings', 'ringCap', 'results'];

export class Port {
  /**
   * @param {import('./views.js').Views} views views of the shared memory
   * @param {Record<string, number>} info the task's addresses (INFO)
   * @param {number} seat this worker's seat
   */
  constructor(views, info, seat) {
    const size = views.u8.length;
    for (const name of INFO) {
      const v = info[name];
      if (!Number.isInteger(v) || v < 0 || v >= size) throw new Error(`the handshake's task info has a bad ${name} (${v})`);
    }
    if ((info.queueCap & (info.queueCap - 1)) !== 0 || (info.ringCap & (info.ringCap - 1)) !== 0) {
      throw new Error('the handshake names a queue or ring whose size is not a power of two');
    }
    this.views = views;
    this.slots = info.slots;
    this.slotCount = info.slotCount;
    this.cell = (info.cells + seat * L.CELL_SIZE) >>> 2;
    const u32 = views.u32;
    this.owner = Atomics.load(u32, this.cell + (L.CELL_OWNER >>> 2));
    if (this.owner === 0) throw new Error(`seat ${seat} was given to no worker`);
    this.qHead = info.queueHead >>> 2;
    this.qTail = info.queueTail >>> 2;
    this.qEntries = info.queueEntries >>> 2;
    this.qMask = info.queueCap - 1;
    this.ringEntries = (info.rings >>> 2) + seat * info.ringCap;
    this.records = (info.results >>> 2) + seat * info.ringCap * L.RESULT_WORDS;
    this.ringMask = info.ringCap - 1;
    // A fresh seat's ring and arena start at 0 (the page's attach sets them so). They are
    // not read back: another worker may have written over them since (API contract B.8), and
    // a position taken from garbage would leave this worker waiting for ever for room.
    this.ringTail = 0;
    this.ringHeadCache = 0;
    Atomics.store(u32, this.cell + (L.CELL_RING_TAIL >>> 2), 0);
    this.arenaBase = Atomics.load(u32, this.cell + (L.CELL_ARENA_BASE >>> 2));
    this.arenaCap = Atomics.load(u32, this.cell + (L.CELL_ARENA_CAP >>> 2));
    if (this.arenaCap === 0 || (this.arenaCap & (this.arenaCap - 1)) !== 0 || this.arenaBase + this.arenaCap > views.cover(this.arenaBase + this.arenaCap).u8.length) {
      throw new Error(`seat ${seat} has no usable arena`);
    }
    this.write = 0;
    this.doneSeq = (info.doneBell + L.BELL_SEQ) >>> 2;
    this.doneSleepers = (info.doneBell + L.BELL_SLEEPERS) >>> 2;
    this.running = 0;
    this.phase = -1;
    this.gens = new Uint16Array(this.slotCount);
    /** Set where Atomics.waitAsync is missing: posts the doorbell fallback's message. */
    this.postBell = null;
  }

  word(name) {
    return this.cell + (name >>> 2);
  }

  // The advisory words of the cell (heartbeat, phase, counts) have this worker as their
  // only writer and publish nothing, so they take plain stores (the Rust reference uses
  // Relaxed): a sequentially consistent store costs a full fence on every call.

  beat() {
    const u32 = this.views.u32;
    const w = this.cell + (L.CELL_BEAT >>> 2);
    u32[w] = (u32[w] + 1) >>> 0;
  }

  setPhase(phase) {
    if (this.phase === phase) return;
    this.phase = phase;
    this.views.u32[this.cell + (L.CELL_PHASE >>> 2)] = phase;
  }

  /** The state word of slot `index`. */
  stateWord(index) {
    return (this.slots + index * L.SLOT_SIZE + L.SLOT_STATE) >>> 2;
  }

  /**
   * Claims the oldest pending call if this worker's quota leaves room: returns its slot, -1
   * when there is none, -2 when the queue's words are corrupt. See ring/src/work.rs: the
   * entry's slot is claimed by a compare-and-swap on its state word, and `head` is helped
   * past the entry either way, so a worker that stops anywhere in here holds nothing.
   */
  take() {
    const u32 = this.views.u32;
    if (!this.hasRoom()) return -1;
    const cap = this.qMask + 1;
    for (let turn = 2 * cap + 2; turn > 0; turn--) {
      const t = Atomics.load(u32, this.qTail);
      const h = Atomics.load(u32, this.qHead);
      const diff = (t - h) | 0;
      if (diff <= 0) return -1;
      if (diff > cap) return -2;
      const e = Atomics.load(u32, this.qEntries + (h & this.qMask));
      const slot = e >>> L.ENTRY_SLOT_SHIFT;
      const gen = e & L.STATE_GEN_MASK;
      let claimed = false;
      if (slot < this.slotCount) {
        const want = pack(L.STATE_PENDING, 0, gen);
        claimed = Atomics.compareExchange(u32, this.stateWord(slot), want, pack(L.STATE_RUNNING, this.owner, gen)) === want;
      }
      Atomics.compareExchange(u32, this.qHead, h, (h + 1) >>> 0);
      if (claimed) return this.claimed(slot, gen);
    }
    return -1;
  }

  /** How many messages the page has posted to this worker (advisory: only compared). */
  posts() {
    return Atomics.load(this.views.u32, this.cell + (L.CELL_POSTS >>> 2));
  }

  /** Whether this worker's quota leaves room for one more call. */
  hasRoom() {
    // The quota is a limit the page may change at any time: a plain read sees it soon enough.
    return this.running < this.views.u32[this.cell + (L.CELL_QUOTA >>> 2)];
  }

  /**
   * Claims the call the page handed to this worker alone (PENDING with this worker's owner
   * id, on no queue; workers/src/lib.rs `claim_handed`): returns its slot, -1 when the quota
   * leaves no room, -2 when the call is gone (cancelled, or taken back).
   */
  claimHanded(slot, gen) {
    if (!this.hasRoom()) return -1;
    if (slot < 0 || slot >= this.slotCount) return -2;
    gen &= L.STATE_GEN_MASK;
    const want = pack(L.STATE_PENDING, this.owner, gen);
    if (Atomics.compareExchange(this.views.u32, this.stateWord(slot), want, pack(L.STATE_RUNNING, this.owner, gen)) !== want) return -2;
    return this.claimed(slot, gen);
  }

  /** The bookkeeping of a claim of `slot` (generation `gen`); returns the slot. */
  claimed(slot, gen) {
    this.gens[slot] = gen;
    this.running++;
    this.views.u32[this.cell + (L.CELL_RUNNING >>> 2)] = this.running;
    this.setPhase(L.WORKER_BUSY);
    this.beat();
    return slot;
  }

  /** The cancellation code of the call on `slot`, or ABORTED once the call is no longer ours. */
  cancelCode(slot, gen) {
    const u32 = this.views.u32;
    const state = Atomics.load(u32, this.stateWord(slot));
    if ((state & L.STATE_GEN_MASK) !== gen || ((state >>> OWNER_SHIFT) & L.STATE_OWNER_MASK) !== this.owner) {
      return L.CANCEL_ABORTED;
    }
    return Atomics.load(u32, (this.slots + slot * L.SLOT_SIZE + L.SLOT_CANCEL) >>> 2);
  }

  /** Contiguous arena bytes a result may use from position `start` (ring/src/arena.rs `room`). */
  room(start) {
    const cap = this.arenaCap;
    const read = Atomics.load(this.views.u32, this.cell + (L.CELL_ARENA_READ >>> 2));
    const toEnd = cap - (start & (cap - 1));
    if (read === this.write) return toEnd;
    if (((this.write - read) >>> 0) > cap || ((start - read) >>> 0) > cap) return 0;
    return Math.min(toEnd, (read + cap - start) >>> 0);
  }

  /** Where a result of `len` bytes can start now (ring/src/arena.rs `place`), or -1. */
  place(len) {
    if (this.room(this.write) >= len) return this.write;
    const lap = ((this.write + this.arenaCap - 1) & ~(this.arenaCap - 1)) >>> 0;
    return lap !== this.write && this.room(lap) >= len ? lap : -1;
  }

  /** The address of arena position `pos`. */
  arenaAddr(pos) {
    return this.arenaBase + (pos & (this.arenaCap - 1));
  }

  /**
   * Wakes the page if it counts itself asleep: it answers buffer requests and reads results
   * when it wakes (ring/src/doorbell.rs `ring_if_watched`: `seq` moves only then, so a worker
   * completing call after call for a page that is awake writes no word the page reads).
   * The caller published with an Atomics store, which is sequentially consistent: it comes
   * before this load of the sleepers in the single order the page's count is in too.
   * Without Atomics.waitAsync the page sleeps on a message instead (protocol.js): `postBell`
   * sends it.
   */
  ringDoneBell() {
    const u32 = this.views.u32;
    if (Atomics.load(u32, this.doneSleepers) > 0) {
      Atomics.add(u32, this.doneSeq, 1);
      Atomics.notify(this.views.i32, this.doneSeq, 1);
      if (this.postBell !== null) this.postBell();
    }
  }

  /** Waits (blocking this worker, never the page) until `word` no longer holds `value`. */
  waitWhile(word, value) {
    while (Atomics.load(this.views.u32, word) === value) {
      this.ringDoneBell();
      this.beat();
      Atomics.wait(this.views.i32, word, value | 0, 20);
    }
  }

  /** Waits until the arena has room for `len` bytes at some position; returns it. */
  waitForArena(len) {
    const readWord = this.cell + (L.CELL_ARENA_READ >>> 2);
    for (;;) {
      // The read position is taken before looking for room: if the page releases space in
      // between, the wait below returns at once instead of waiting for a release that may
      // never come (nothing else may be unread).
      const read = Atomics.load(this.views.u32, readWord);
      const start = this.place(len);
      if (start >= 0) return start;
      this.waitWhile(readWord, read);
    }
  }

  /** Asks the page for a buffer of `len` bytes; returns its address, or 0 when refused. */
  grant(len) {
    const u32 = this.views.u32;
    const ptrWord = this.cell + (L.CELL_REQ_PTR >>> 2);
    // The previous grant goes back when the page has read its result.
    for (let p; (p = Atomics.load(u32, ptrWord)) !== 0; ) this.waitWhile(ptrWord, p);
    Atomics.store(u32, this.cell + (L.CELL_REQ_LEN >>> 2), len);
    this.waitWhile(ptrWord, 0);
    const answer = Atomics.load(u32, ptrWord);
    Atomics.store(u32, this.cell + (L.CELL_REQ_LEN >>> 2), 0);
    return answer === L.GRANT_REFUSED ? 0 : answer;
  }

  /**
   * Publishes the result of the call on `slot`: `len` bytes at `ptr`, ending the arena at
   * `end` (or -1 for a granted buffer). Returns false when the page took the call back
   * first (the result is dropped).
   *
   * The result's description goes into the record beside the ring position the entry will
   * fill (memory of this worker's seat), never into the slot: a terminated worker that lost
   * the slot to a requeue must not touch what the next attempt writes.
   */
  complete(slot, status, ptr, len, end) {
    const u32 = this.views.u32;
    const gen = this.gens[slot];
    const rec = this.records + (this.ringTail & this.ringMask) * L.RESULT_WORDS;
    u32[rec + L.RESULT_STATUS] = status;
    u32[rec + L.RESULT_PTR] = ptr;
    u32[rec + L.RESULT_LEN] = len;
    u32[rec + L.RESULT_END] = end < 0 ? 0 : end;
    const word = this.stateWord(slot);
    const done = pack(L.STATE_DONE, this.owner, gen);
    const running = pack(L.STATE_RUNNING, this.owner, gen);
    const abandoned = pack(L.STATE_ABANDONED, this.owner, gen);
    // Atomics are sequentially consistent: the result bytes are published by this
    // compare-and-swap, which the page reads with Acquire; the record by the ring's tail.
    const published =
      Atomics.compareExchange(u32, word, running, done) === running ||
      Atomics.compareExchange(u32, word, abandoned, done) === abandoned;
    this.running--;
    u32[this.cell + (L.CELL_RUNNING >>> 2)] = this.running;
    if (this.running === 0) this.setPhase(L.WORKER_IDLE);
    if (!published) {
      // A late completion of a call the page took back (a requeue, a reclaim): counted.
      u32[this.cell + (L.CELL_DISCARDED >>> 2)] += 1;
      return false;
    }
    if (end >= 0) {
      this.write = end;
      u32[this.cell + (L.CELL_ARENA_WRITE >>> 2)] = end;
    }
    this.push((slot << L.ENTRY_SLOT_SHIFT) | gen);
    u32[this.cell + (L.CELL_COMPLETED >>> 2)] += 1;
    this.ringDoneBell();
    return true;
  }

  /** Pushes an entry on this worker's completion ring (ring/src/spsc.rs). */
  push(entry) {
    const u32 = this.views.u32;
    const cap = this.ringMask + 1;
    if (((this.ringTail - this.ringHeadCache) >>> 0) >= cap) {
      this.ringHeadCache = Atomics.load(u32, this.cell + (L.CELL_RING_HEAD >>> 2));
      // A ring holds at most one entry per slot, so it is never full in a well-formed task.
      if (((this.ringTail - this.ringHeadCache) >>> 0) >= cap) throw new Error('the completion ring of this worker is corrupt in shared memory');
    }
    // Published by the store of the tail below.
    u32[this.ringEntries + (this.ringTail & this.ringMask)] = entry >>> 0;
    this.ringTail = (this.ringTail + 1) >>> 0;
    Atomics.store(u32, this.cell + (L.CELL_RING_TAIL >>> 2), this.ringTail);
  }
}
