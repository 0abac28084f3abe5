//! One task's side of the page: its slots' private records, the calls waiting in the page
//! for a slot, its worker seats, and every transition of the call state machine that the
//! page makes (see `atelier_ring::layout::state`).
//!
//! The page never trusts shared memory: its own record of each slot (busy, generation, call
//! id, attempt, arguments) and of each seat (owner id, arena, granted buffer, ring position)
//! is what it acts on; the words in shared memory are only compared against it.

use super::meter::{Meter, Metered};
use super::recovery::Recovery;
use super::watchdog::{Verdict, Watchdog};
use atelier_ring::arena::{self, ARENA_DEFAULT};
use atelier_ring::layout::{
    self, cancel, entry, entry_slot, pack, result, state, Slot, INLINE_BYTES, INLINE_PTR,
    STATE_OWNER_MASK,
};
use atelier_ring::{addr, doorbell, Consumer, PushError, SpscPopError, TaskBlock};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub use atelier_ring::layout::SEATS_PER_WORKER;

/// Where a call's arguments live.
pub(crate) enum Args {
    /// Already in the slot's inline bytes (`len` of them): workers only read them, so they
    /// survive a requeue.
    InSlot(u32),
    /// Small arguments of a call waiting for a slot.
    Bytes(Vec<u8>),
    /// In a buffer of the page's, `len` bytes of it.
    Heap(Metered, u32),
}

/// The page's record of a slot.
struct Record {
    busy: bool,
    gen: u32,
    call_id: u32,
    attempt: u32,
    /// The page already settled the call (cancelled it while it ran): its completion is
    /// discarded.
    settled: bool,
    args: Option<Args>,
    /// The call's place in admission order (kept across requeues), for `drop-oldest`.
    admitted: u64,
    /// How many times this attempt's state word was found overwritten and put right.
    repairs: u32,
    /// The work-queue position of this generation's entry, once pushed: a consumer moves
    /// `head` past an entry only after trying to claim its call, so a call still pending
    /// behind `head` lost its entry to a worker that wrote over the queue (see `audit`).
    pushed: Option<u32>,
    /// The owner id of the seat the page handed the call to (PENDING with that owner, on no
    /// queue: see `admit_to`), or 0 for a call on the work queue.
    assigned: u32,
}

/// A call admitted to the task that has no slot yet.
struct Waiting {
    call_id: u32,
    args: Args,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SeatState {
    Free,
    Live,
    /// Its worker was declared dead; its arena and cell are kept until the page is sure the
    /// terminated thread has stopped touching them.
    Quarantined,
}

/// The page's record of a worker seat: a cell, a completion ring and an arena that one
/// incarnation of a worker uses.
struct Seat {
    state: SeatState,
    owner: u32,
    /// The page's own count of the entries it took from the seat's ring.
    head: u32,
    /// The worker's ring tail as the page last read (and validated) it: entries below it
    /// are read without loading the tail again, a word the worker writes on every call.
    tail: u32,
    arena: Option<Metered>,
    /// The word that stands for the arena's address in shared memory.
    arena_word: u32,
    /// The page's own arena read position.
    read: u32,
    /// A buffer granted for one large result, and its word.
    grant: Option<(Metered, u32)>,
    /// Since when (and for how many watchdog ticks in a row) the worker has held a call it
    /// can never finish (see `watch`).
    suspect: Option<(f64, u32)>,
}

impl Seat {
    /// A seat no worker uses.
    fn free() -> Seat {
        Seat {
            state: SeatState::Free,
            owner: 0,
            head: 0,
            tail: 0,
            arena: None,
            arena_word: 0,
            read: 0,
            grant: None,
            suspect: None,
        }
    }
}

/// Writes a pending call's envelope into its slot: the words a worker reads after it claims
/// the call. Relaxed: the caller publishes them with its Release store of the state word.
fn write_envelope(slot: &Slot, call_id: u32, attempt: u32, args: (u32, u32), timed: bool) {
    slot.call_id.store(call_id, Ordering::Relaxed);
    // Relaxed stores: published by the Release store of the slot's state that follows.
    store_changed(&slot.attempt, attempt, Ordering::Relaxed);
    store_changed(&slot.cancel, cancel::NONE, Ordering::Relaxed);
    store_changed(&slot.arg_ptr, args.0, Ordering::Relaxed);
    store_changed(&slot.arg_len, args.1, Ordering::Relaxed);
    let flags = if timed { layout::call_flags::TIMED } else { 0 };
    store_changed(&slot.flags, flags, Ordering::Relaxed);
}

/// Stores `v` into a word the page owns, with `order`, unless it holds `v` already. In
/// WebAssembly every atomic store is an exchange, which waits for the stores before it to
/// reach the cache, while an atomic load is a plain read; most words the page owns repeat
/// from call to call. (A worker that wrote over the word meanwhile could as well have done
/// so after a store; a word a worker wrote over is put right by the next store.)
#[inline]
fn store_changed(word: &AtomicU32, v: u32, order: Ordering) {
    // Relaxed: only compared.
    if word.load(Ordering::Relaxed) != v {
        word.store(v, order);
    }
}

/// How long, and for how many watchdog ticks in a row, a worker may hold a call it can never
/// finish before it is replaced: far longer than the few instructions between a worker's
/// compare-and-swap of a state word and its publication of that change.
const SUSPECT_MS: f64 = 1000.0;
const SUSPECT_TICKS: u32 = 3;

/// How many times a call's state word may be found overwritten and put right before the call
/// fails (see `requeue_pending`): the next overwrite fails it.
pub const MAX_REPAIRS: u32 = 2;

pub use atelier_ring::layout::NO_WORKER;

/// A finished call, as read from its slot and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The call's id, from the page's own record.
    pub call_id: u32,
    /// What the worker reported.
    pub outcome: Outcome,
    /// Where the encoded result starts (valid until the next `poll`).
    pub ptr: usize,
    /// Its length.
    pub len: u32,
    /// The worker index that ran it.
    pub worker: u32,
    /// The seat of the worker that ran it (which of that index's workers).
    pub seat: u32,
    /// Some of its values travel beside it by postMessage ([`status::SIDE`](layout::status::SIDE)).
    pub side: bool,
    /// Which run of the call this was (1 on the first, more after requeues).
    pub attempt: u32,
    /// When the worker began it ([`Slot::started`](atelier_ring::layout::Slot::started)).
    pub started: u32,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The result bytes hold the handler's value.
    Returned,
    /// The result bytes hold the thrown value.
    Threw,
    /// The worker's result words are invalid; the call fails with this reason.
    Invalid(Invalid),
}

/// What was wrong with a completion's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// `res_status` is not a known status.
    Status(u32),
    /// The call's state word was overwritten more than [`MAX_REPAIRS`] times (the last
    /// garbage value): it fails instead of being published again.
    State(u32),
    /// `res_ptr`/`res_len`/`res_end` do not name bytes in the worker's arena (whose read
    /// position the page holds at `read`) or its granted buffer.
    Buffer {
        /// `res_ptr`.
        ptr: u32,
        /// `res_len`.
        len: u32,
        /// `res_end`.
        end: u32,
        /// The page's arena read position.
        read: u32,
    },
}

impl core::fmt::Display for Invalid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Invalid::Status(s) => write!(f, "unknown result status {s}"),
            Invalid::State(w) => write!(
                f,
                "its state word in shared memory was overwritten {} times, last with {w:#x}: a \
                 worker of the task writes into shared memory it does not own",
                MAX_REPAIRS + 1
            ),
            Invalid::Buffer {
                ptr,
                len,
                end,
                read,
            } => write!(
                f,
                "a result of {len} bytes at {ptr:#x} ending at arena position {end} (read up to \
                 {read}) is not inside the worker's arena or granted buffer"
            ),
        }
    }
}

/// What [`TaskState::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The call had not started: it is gone, and no worker will run it.
    Dropped,
    /// The call is running: its cancellation flag is set and its completion will be
    /// discarded; its slot comes back when the worker finishes or is reclaimed.
    Running,
    /// No live call has that id.
    Unknown,
}

/// Why a seat could not be given to a new worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachError {
    /// No such worker index.
    NoSuchWorker(u32),
    /// Every seat of the index is in use or quarantined: try again after the quarantine.
    Busy,
    /// The arena does not fit under the shared-memory ceiling.
    Memory,
}

/// A seat given to a worker: what its start-up handshake carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatGrant {
    /// The seat (cell and ring) index.
    pub seat: u32,
    /// The owner id the worker writes into the slots it claims.
    pub owner: u32,
}

pub(crate) struct TaskState {
    pub(crate) block: Arc<TaskBlock>,
    records: Vec<Record>,
    free: Vec<u32>,
    waiting: VecDeque<Waiting>,
    /// The page's own count of its pushes on the work queue.
    tail: u32,
    seats: Vec<Seat>,
    workers: u32,
    max_in_flight: u32,
    next_owner: u32,
    /// Work-queue entries the queue refused for now, in order (see `flush`).
    unpublished: VecDeque<u32>,
    /// Completions taken off a reclaimed seat's ring: (seat, entry, ring position).
    recovered: VecDeque<(u32, u32, u32)>,
    /// The live seats, in seat order (rebuilt by `attach` and `reclaim`, the only changes to
    /// and from Live): the loops of every poll and of the audit visit these alone.
    live: Vec<u32>,
    /// Where in `live` the next poll starts looking, so that no worker's completions wait
    /// behind another's.
    next_live: usize,
    /// Completion entries that named no finished call (stale, forged or corrupt).
    pub(crate) ignored: u64,
    /// Completions of calls the page had already settled.
    pub(crate) discarded: u64,
    /// Calls put back on the queue after their worker died (`task.requeue.total`).
    pub(crate) requeued: u64,
    /// Whether workers write when they start a call ([`layout::call_flags::TIMED`]).
    pub(crate) timed: bool,
    pub(crate) footprint: u64,
    /// Calls admitted onto a slot so far (`Record::admitted`).
    admissions: u64,
    /// The crash policy and retry budget.
    pub(crate) recovery: Recovery,
    /// The heartbeat watchdog of the task's seats.
    pub(crate) watchdog: Watchdog,
    /// Argument buffers of finished calls, for the controller to reuse as its staging buffer
    /// (at most [`SPENT_KEPT`]; see [`take_spent`](Self::take_spent)).
    spent: Vec<Metered>,
    /// Seats whose completion ring was found corrupt, for the next watchdog tick to report.
    corrupt_rings: Vec<u32>,
    /// Calls whose state word was overwritten once too often, with the last garbage value:
    /// `poll` fails them.
    broken: VecDeque<(u32, u32)>,
}

/// Argument buffers a task keeps for reuse until the controller takes them.
const SPENT_KEPT: usize = 2;

/// The completion handed out by the last poll: its seat, its slot, and what the worker gets
/// back once the page has read the result.
#[derive(Clone, Copy)]
pub(crate) struct Current {
    seat: u32,
    slot: u32,
    space: Space,
}

/// Where a result lay.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Space {
    /// In the worker's arena, which is released up to this position.
    Arena(u32),
    /// In the buffer the page granted the worker, which is freed.
    Grant,
    /// Nowhere valid: nothing is released (the worker that wrote it is replaced).
    Invalid,
}

impl TaskState {
    pub(crate) fn new(block: Arc<TaskBlock>, workers: u32, max_in_flight: u32) -> TaskState {
        let slots = block.slots.len() as u32;
        let footprint = block.footprint() as u64;
        TaskState {
            records: (0..slots)
                .map(|_| Record {
                    busy: false,
                    gen: 0,
                    call_id: 0,
                    attempt: 0,
                    settled: false,
                    args: None,
                    admitted: 0,
                    repairs: 0,
                    pushed: None,
                    assigned: 0,
                })
                .collect(),
            free: (0..slots).rev().collect(),
            waiting: VecDeque::new(),
            tail: 0,
            seats: (0..block.cells.len()).map(|_| Seat::free()).collect(),
            workers,
            max_in_flight,
            next_owner: 1,
            unpublished: VecDeque::new(),
            recovered: VecDeque::new(),
            live: Vec::new(),
            next_live: 0,
            ignored: 0,
            discarded: 0,
            requeued: 0,
            timed: false,
            footprint,
            admissions: 0,
            recovery: Recovery::default(),
            watchdog: Watchdog::new(block.cells.len(), None),
            spent: Vec::new(),
            corrupt_rings: Vec::new(),
            broken: VecDeque::new(),
            block,
        }
    }

    /// An argument buffer of a finished call, to be reused.
    pub(crate) fn take_spent(&mut self) -> Option<Metered> {
        self.spent.pop()
    }

    /// Drops the argument buffers kept for reuse.
    pub(crate) fn trim(&mut self) {
        self.spent.clear();
    }

    /// Calls on slots (pending or running), and calls waiting in the page for a slot.
    pub(crate) fn depths(&self) -> (u32, u32) {
        let busy = self.records.len() - self.free.len();
        (busy as u32, self.waiting.len() as u32)
    }

    /// Calls running on workers now, read from the slots' state words (advisory).
    pub(crate) fn running(&self) -> u32 {
        self.records
            .iter()
            .zip(self.block.slots.iter())
            .filter(|(r, s)| {
                r.busy && {
                    let k = layout::kind(s.state.load(Ordering::Relaxed));
                    k == state::RUNNING || k == state::ABANDONED
                }
            })
            .count() as u32
    }

    /// Admits a call whose arguments fit a slot: straight into a free slot when nobody
    /// waits (the common case: no copy beyond the one into the slot), else to wait in the page.
    pub(crate) fn admit_small(&mut self, call_id: u32, bytes: &[u8]) {
        if self.waiting.is_empty() {
            if let Some(index) = self.free.pop() {
                self.publish(index, call_id, 1, Args::Bytes(Vec::new()), bytes);
                return self.ring_work_bell();
            }
        }
        self.admit(call_id, Args::Bytes(bytes.to_vec()))
    }

    /// Admits a call whose arguments fit a slot straight to the worker on `seat`, when it is
    /// live, a slot is free and nobody waits: the slot becomes PENDING with that worker's
    /// owner id and goes on no queue; only that worker may claim it (the page tells it which
    /// slot by a message, with values that travel beside the call). Returns the slot and its
    /// generation, or None, and then admits nothing.
    pub(crate) fn admit_to(&mut self, call_id: u32, bytes: &[u8], seat: u32) -> Option<(u32, u32)> {
        let owner = match self.seats.get(seat as usize) {
            Some(s) if s.state == SeatState::Live => s.owner,
            _ => return None,
        };
        if !self.waiting.is_empty() {
            return None;
        }
        let index = self.free.pop()?;
        self.publish_to(index, call_id, 1, Args::Bytes(Vec::new()), bytes, owner);
        Some((index, self.records[index as usize].gen))
    }

    /// Admits a call: onto a free slot, or to wait in the page for one.
    pub(crate) fn admit(&mut self, call_id: u32, args: Args) {
        self.waiting.push_back(Waiting { call_id, args });
        self.start_waiting()
    }

    /// Moves waiting calls onto free slots.
    fn start_waiting(&mut self) {
        let mut any = false;
        while !self.free.is_empty() {
            let Some(call) = self.waiting.pop_front() else {
                break;
            };
            let index = self.free.pop().unwrap_or_default();
            self.publish(index, call.call_id, 1, call.args, &[]);
            any = true;
        }
        if any {
            self.ring_work_bell();
        }
    }

    fn ring_work_bell(&self) {
        if self.block.work_bell.ring() {
            doorbell::notify(&self.block.work_bell, u32::MAX);
        }
    }

    /// Writes a call's envelope into slot `index` (FREE, owned by the page) and publishes
    /// it as a new generation. Small arguments come as `Args::Bytes` (a waiting call's) or,
    /// with an empty vector, as `staged` (straight from the staging buffer).
    fn publish(&mut self, index: u32, call_id: u32, attempt: u32, args: Args, staged: &[u8]) {
        self.publish_to(index, call_id, attempt, args, staged, 0)
    }

    /// [`publish`](Self::publish), for the worker whose owner id is `owner` alone (PENDING
    /// with that owner, and no queue entry) when it is not 0.
    fn publish_to(
        &mut self,
        index: u32,
        call_id: u32,
        attempt: u32,
        args: Args,
        staged: &[u8],
        owner: u32,
    ) {
        let slot = &self.block.slots[index as usize];
        let record = &mut self.records[index as usize];
        let (args, arg_ptr, arg_len) = match args {
            Args::Bytes(bytes) => {
                let bytes = if bytes.is_empty() { staged } else { &bytes[..] };
                let len = bytes.len().min(INLINE_BYTES);
                // SAFETY: the slot is FREE (or taken back from a dead worker), so only the page
                // writes its inline bytes; `len` is at most INLINE_BYTES.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), slot.inline_ptr(), len) };
                (Args::InSlot(len as u32), INLINE_PTR, len as u32)
            }
            Args::InSlot(len) => (Args::InSlot(len), INLINE_PTR, len),
            Args::Heap(buf, len) => {
                let word = addr::to_word(buf.as_ptr(), buf.capacity());
                (Args::Heap(buf, len), word, len)
            }
        };
        record.busy = true;
        record.settled = false;
        record.call_id = call_id;
        record.attempt = attempt;
        record.gen = (record.gen + 1) & layout::STATE_GEN_MASK;
        record.args = Some(args);
        record.pushed = None;
        record.repairs = 0;
        record.assigned = owner;
        if attempt == 1 {
            self.admissions += 1;
            record.admitted = self.admissions;
        }
        let gen = record.gen;
        // Published by the Release store of PENDING below (and the queue's Release publish
        // of the entry).
        write_envelope(slot, call_id, attempt, (arg_ptr, arg_len), self.timed);
        slot.state
            .store(pack(state::PENDING, owner, gen), Ordering::Release);
        if owner == 0 {
            self.push_entry(entry(index, gen))
        }
    }

    /// Publishes an entry on the work queue, after the entries it refused so far.
    fn push_entry(&mut self, e: u32) {
        self.unpublished.push_back(e);
        self.flush()
    }

    /// Pushes the entries the work queue refused so far, in order. Never fails once a call is
    /// admitted: a queue a worker wrote over is repaired (see `requeue_pending`), and what it
    /// still refuses waits here. The queue holds twice as
    /// many positions as there are slots, but entries of calls that were dropped (or taken by
    /// a worker that stopped before it moved `head`) can sit behind a pending call that no
    /// worker can take yet (every worker at its quota): `skip_stale` cannot pass that call,
    /// and the queue stays full until a worker takes it. Such entries wait here, in order,
    /// and go out on the next submit, poll or release: a worker at its quota frees room by
    /// completing a call, which the page then polls, so no timer is needed.
    pub(crate) fn flush(&mut self) {
        let mut skipped = false;
        let mut repaired = false;
        while let Some(&e) = self.unpublished.front() {
            match self.block.queue.push(&mut self.tail, e) {
                Ok(()) => {
                    self.unpublished.pop_front();
                    let i = entry_slot(e) as usize;
                    if let Some(r) = self.records.get_mut(i) {
                        if r.busy && r.gen == layout::gen(e) {
                            r.pushed = Some(self.tail.wrapping_sub(1));
                        }
                    }
                }
                // A worker wrote over the queue's counters: empty it and publish every
                // pending call again. Once per flush: what a queue corrupted again at once
                // refuses waits here for the next flush (a submit, a poll, a watchdog tick).
                Err(PushError::Corrupt(_)) => {
                    if repaired {
                        break;
                    }
                    repaired = true;
                    self.requeue_pending(true);
                }
                Err(PushError::Full(_)) if !skipped => {
                    skipped = true;
                    let slots = &self.block.slots;
                    let records = &self.records;
                    let skip = self.block.queue.skip_stale(|e| {
                        let i = entry_slot(e) as usize;
                        let g = layout::gen(e);
                        records.get(i).is_some_and(|r| r.busy && r.gen == g)
                            && slots[i].state.load(Ordering::Relaxed) == pack(state::PENDING, 0, g)
                    });
                    if skip.is_err() {
                        if repaired {
                            break;
                        }
                        repaired = true;
                        self.requeue_pending(true);
                    }
                }
                Err(PushError::Full(_)) => break,
            }
        }
    }

    /// Publishes again, in admission order, the calls that are pending (every one when
    /// `all`, after the queue was emptied; otherwise those whose entry `head` passed while
    /// they stayed pending), and the calls whose state word holds what no worker of the task
    /// could have written, with their envelope rewritten from the page's record. A settled
    /// call whose state word is garbage is freed. Returns how many calls it published;
    /// their entries go out with the next `flush`.
    fn requeue_pending(&mut self, all: bool) -> u32 {
        if all {
            self.block.queue.reset(self.tail);
            self.unpublished.clear();
        }
        let head = self.block.queue.head();
        let mut lost = Vec::new();
        let mut garbage_settled = Vec::new();
        for (i, record) in self.records.iter().enumerate() {
            if !record.busy {
                continue;
            }
            let gen = record.gen;
            // Acquire: pairs with a worker's claim, so a claimed call is seen as claimed.
            let now = self.block.slots[i].state.load(Ordering::Acquire);
            let pending = now == pack(state::PENDING, 0, gen);
            // A call handed to a live worker is on no queue: only that worker claims it.
            let handed = record.assigned != 0
                && now == pack(state::PENDING, record.assigned, gen)
                && self.live_seat(record.assigned).is_some();
            let held = layout::gen(now) == gen
                && (handed
                    || self.runner(now).is_some()
                    || (layout::kind(now) == state::DONE && self.owns(layout::owner(now))));
            if pending {
                let passed = match record.pushed {
                    Some(at) => (head.wrapping_sub(at) as i32) > 0,
                    None => false,
                };
                if all || passed {
                    lost.push((record.admitted, i as u32, false));
                }
            } else if !held {
                if record.settled {
                    garbage_settled.push(i as u32);
                } else {
                    lost.push((record.admitted, i as u32, true));
                }
            }
        }
        for i in garbage_settled {
            self.free_slot(i);
        }
        // A call whose state word keeps being overwritten (a handler that writes over its own
        // slot would otherwise run for ever) fails.
        lost.retain(|&(_, i, rewrite)| {
            if !rewrite {
                return true;
            }
            let record = &mut self.records[i as usize];
            record.repairs += 1;
            if record.repairs <= MAX_REPAIRS {
                return true;
            }
            let word = self.block.slots[i as usize].state.load(Ordering::Relaxed);
            if !self.broken.iter().any(|b| b.0 == i) {
                self.broken.push_back((i, word));
            }
            false
        });
        lost.sort_unstable();
        for &(_, i, rewrite) in &lost {
            let record = &mut self.records[i as usize];
            let slot = &self.block.slots[i as usize];
            let gen = record.gen;
            if rewrite {
                let (ptr, len) = match &record.args {
                    Some(Args::InSlot(len)) => (INLINE_PTR, *len),
                    Some(Args::Heap(buf, len)) => {
                        (addr::to_word(buf.as_ptr(), buf.capacity()), *len)
                    }
                    _ => (INLINE_PTR, 0),
                };
                // Published by the Release store of PENDING below.
                write_envelope(slot, record.call_id, record.attempt, (ptr, len), self.timed);
            }
            // Release: the envelope above happens-before a worker's Acquire claim. A worker
            // that still held the call under the overwritten word cannot complete it now (its
            // compare-and-swap expects its own RUNNING word): the call runs once more, and
            // settles once.
            slot.state
                .store(pack(state::PENDING, 0, gen), Ordering::Release);
            record.pushed = None;
            record.assigned = 0;
            self.unpublished.push_back(entry(i, gen));
        }
        lost.len() as u32
    }

    /// The live seat whose owner id is `owner`.
    fn live_seat(&self, owner: u32) -> Option<usize> {
        self.seats
            .iter()
            .position(|s| s.state == SeatState::Live && s.owner == owner)
    }

    /// Whether `owner` is the owner id of one of the task's live or quarantined seats.
    fn owns(&self, owner: u32) -> bool {
        self.seats
            .iter()
            .any(|s| s.state != SeatState::Free && s.owner == owner)
    }

    /// Puts the task's shared words back in order after a worker may have written over them
    /// (API contract B.8): the work queue is emptied and every pending call published again,
    /// as are calls whose state word no worker of the task could have written. The page
    /// calls it whenever it declares a worker dead. Returns how many calls it published again.
    pub(crate) fn repair(&mut self) -> u32 {
        let n = self.requeue_pending(true);
        self.flush();
        if n > 0 {
            self.ring_work_bell();
        }
        n
    }

    /// The watchdog tick's check of the work queue: calls still pending whose entry the
    /// consumers passed (a worker wrote over the queue), and garbage state words, are
    /// published again. Cheap when nothing is wrong: one pass over the slots.
    fn audit(&mut self) {
        // The queue's tail is the page's: a worker that moved it back hides pending calls
        // from the others; one that moved it on shows them stale entries.
        let tail = self.block.queue.tail_word();
        if tail.load(Ordering::Relaxed) != self.tail {
            // Release: as `WorkQueue::push`'s store of the tail.
            tail.store(self.tail, Ordering::Release);
            self.ring_work_bell();
        }
        if self.requeue_pending(false) > 0 || !self.unpublished.is_empty() {
            self.flush();
            self.ring_work_bell();
        }
    }

    /// The share of `maxInFlight` for worker `index`.
    fn quota(&self, index: u32) -> u32 {
        let (m, p) = (self.max_in_flight, self.workers);
        m / p + u32::from(index < m % p)
    }

    /// Gives worker `index` a seat: a fresh owner id, an arena, its quota.
    pub(crate) fn attach(&mut self, index: u32, meter: &Meter) -> Result<SeatGrant, AttachError> {
        if index >= self.workers {
            return Err(AttachError::NoSuchWorker(index));
        }
        let first = index * SEATS_PER_WORKER;
        let seat = (first..first + SEATS_PER_WORKER)
            .find(|&s| self.seats[s as usize].state == SeatState::Free)
            .ok_or(AttachError::Busy)?;
        let arena = meter.alloc(ARENA_DEFAULT).ok_or(AttachError::Memory)?;
        let owner = self.fresh_owner();
        let quota = self.quota(index);
        let cell = &self.block.cells[seat as usize];
        let arena_word = addr::to_word(arena.as_ptr(), arena.capacity());
        // Relaxed: the handshake (a postMessage, after this) carries these to the worker.
        cell.quota.store(quota, Ordering::Relaxed);
        cell.arena_base.store(arena_word, Ordering::Relaxed);
        cell.arena_cap.store(arena.capacity(), Ordering::Relaxed);
        cell.arena_read.store(0, Ordering::Relaxed);
        cell.req_ptr.store(0, Ordering::Relaxed);
        // The ring starts empty at 0, as the seat's `head` below (a worker may have written
        // over a free seat's counters).
        cell.ring_head.store(0, Ordering::Relaxed);
        cell.ring_tail.store(0, Ordering::Relaxed);
        cell.owner.store(owner, Ordering::Release);
        let s = &mut self.seats[seat as usize];
        *s = Seat {
            state: SeatState::Live,
            owner,
            head: 0,
            tail: 0,
            arena: Some(arena),
            arena_word,
            read: 0,
            grant: None,
            suspect: None,
        };
        self.update_live();
        Ok(SeatGrant { seat, owner })
    }

    /// Rebuilds `live` after a seat changed state.
    fn update_live(&mut self) {
        self.live.clear();
        for (i, s) in self.seats.iter().enumerate() {
            if s.state == SeatState::Live {
                self.live.push(i as u32);
            }
        }
    }

    /// An owner id no seat of the task uses.
    fn fresh_owner(&mut self) -> u32 {
        loop {
            let id = self.next_owner;
            self.next_owner = if id >= STATE_OWNER_MASK { 1 } else { id + 1 };
            if self.seats.iter().all(|s| s.owner != id) {
                return id;
            }
        }
    }

    /// Answers the buffer requests of the task's live workers.
    pub(crate) fn serve_requests(&mut self, meter: &Meter) {
        for k in 0..self.live.len() {
            let i = self.live[k] as usize;
            let seat = &mut self.seats[i];
            let cell = &self.block.cells[i];
            // Acquire: pairs with the worker's Release store of the request.
            let want = cell.req_len.load(Ordering::Acquire);
            let answered = cell.req_ptr.load(Ordering::Relaxed);
            if answered == layout::GRANT_REFUSED && want == 0 {
                cell.req_ptr.store(0, Ordering::Relaxed);
                continue;
            }
            if want == 0 || answered != 0 || seat.grant.is_some() {
                continue;
            }
            let answer = match meter.alloc(want) {
                Some(buf) => {
                    let w = addr::to_word(buf.as_ptr(), buf.capacity());
                    seat.grant = Some((buf, w));
                    w
                }
                None => layout::GRANT_REFUSED,
            };
            // Release: the buffer's (zeroed) bytes happen-before the worker writes into it.
            cell.req_ptr.store(answer, Ordering::Release);
            doorbell::notify_word(&cell.req_ptr, 1);
        }
    }

    /// Takes the next finished call of the task, validated.
    pub(crate) fn poll(&mut self) -> Option<(Completion, Current)> {
        while let Some((index, word)) = self.broken.pop_front() {
            let record = &self.records[index as usize];
            if !record.busy || record.settled {
                continue;
            }
            // No worker can be named: the page cannot tell which one wrote the garbage.
            let done = Completion {
                call_id: record.call_id,
                outcome: Outcome::Invalid(Invalid::State(word)),
                ptr: 0,
                len: 0,
                worker: NO_WORKER,
                seat: u32::MAX,
                side: false,
                attempt: record.attempt,
                started: 0,
            };
            let current = Current {
                seat: u32::MAX,
                slot: index,
                space: Space::Invalid,
            };
            return Some((done, current));
        }
        if !self.unpublished.is_empty() {
            self.flush();
            // Entries that went out now may be for sleeping workers.
            self.ring_work_bell();
        }
        while let Some((seat, e, pos)) = self.recovered.pop_front() {
            if let Some(done) = self.read_completion(seat, e, pos) {
                return Some(done);
            }
        }
        let n = self.live.len();
        let mut at = if self.next_live < n {
            self.next_live
        } else {
            0
        };
        for _ in 0..n {
            let seat = self.live[at] as usize;
            at = if at + 1 == n { 0 } else { at + 1 };
            while let Some((e, pos)) = self.pop_ring(seat) {
                if let Some(done) = self.read_completion(seat as u32, e, pos) {
                    self.next_live = at;
                    return Some(done);
                }
            }
        }
        // Every completion there was is read and released (the caller releases the last one
        // before it polls again): the batch is over.
        self.publish_reads();
        None
    }

    /// Tells each live worker how far the page has read its completion ring and its arena.
    /// The page publishes these positions once per batch of completions rather than once
    /// per completion (`pop_ring`, `release`): each is an atomic store, an exchange in
    /// WebAssembly. A worker thus sees less room than there is until the batch ends, never
    /// more. The watchdog's audit calls this too, putting right words a worker wrote over.
    fn publish_reads(&self) {
        for &i in &self.live {
            let (s, cell) = (&self.seats[i as usize], &self.block.cells[i as usize]);
            // Release: the page's reads of the results and ring entries before these
            // positions happen-before the worker reuses them.
            store_changed(&cell.arena_read, s.read, Ordering::Release);
            store_changed(&cell.ring_head, s.head, Ordering::Release);
        }
    }

    /// The next entry of a seat's completion ring, with its position (where its result
    /// record is).
    fn pop_ring(&mut self, seat: usize) -> Option<(u32, u32)> {
        let words = self.block.ring(seat as u32)?;
        let (pos, tail) = (self.seats[seat].head, self.seats[seat].tail);
        let mut rx = Consumer::resume(words, pos, tail);
        let popped = rx.pop_unpublished();
        self.seats[seat].tail = rx.cached_tail();
        match popped {
            Ok(e) => {
                self.seats[seat].head = rx.position();
                // The worker learns how far the page has read once per batch
                // (`publish_reads`), or at once before it could run out of ring room: it
                // holds at most one entry per slot, and the ring has `ring_cap - slots` more.
                let slack = self
                    .block
                    .ring_cap
                    .saturating_sub(self.block.slots.len() as u32);
                if rx.unpublished() >= slack {
                    rx.publish();
                }
                Some((e, pos))
            }
            Err(SpscPopError::Empty) => None,
            Err(SpscPopError::Corrupt) => {
                // The worker scribbled over its ring's counter: the next watchdog tick
                // reports it, and its completions are found by sweeping its slots when it is
                // reclaimed.
                self.ignored += 1;
                if !self.corrupt_rings.contains(&(seat as u32)) {
                    self.corrupt_rings.push(seat as u32);
                }
                None
            }
        }
    }

    /// Validates the completion `e` that seat `seat`'s worker pushed at ring position `pos`.
    /// Completions of calls the page already settled are released here and not returned.
    fn read_completion(&mut self, seat: u32, e: u32, pos: u32) -> Option<(Completion, Current)> {
        let (index, gen) = (entry_slot(e), layout::gen(e));
        let (Some(record), Some(slot), Some(s)) = (
            self.records.get(index as usize),
            self.block.slots.get(index as usize),
            self.seats.get(seat as usize),
        ) else {
            self.ignored += 1;
            return None;
        };
        // Acquire: pairs with the worker's Release CAS to DONE, so the result bytes written
        // before it are visible (the record beside the entry was published by the ring).
        let Some(words) = self.block.result(seat, pos) else {
            self.ignored += 1;
            return None;
        };
        if !record.busy
            || record.gen != gen
            || slot.state.load(Ordering::Acquire) != pack(state::DONE, s.owner, gen)
        {
            self.ignored += 1;
            return None;
        }
        let worker = seat / SEATS_PER_WORKER;
        let call_id = record.call_id;
        let attempt = record.attempt;
        let settled = record.settled;
        // Relaxed: published by the ring's Release store of its tail (see above).
        let status = words[result::STATUS].load(Ordering::Relaxed);
        let ptr = words[result::PTR].load(Ordering::Relaxed);
        let len = words[result::LEN].load(Ordering::Relaxed);
        let end = words[result::END].load(Ordering::Relaxed);
        let mut current = Current {
            seat,
            slot: index,
            space: Space::Invalid,
        };
        let located = if let Some((g, _)) = s
            .grant
            .as_ref()
            .filter(|(g, w)| *w == ptr && len <= g.capacity())
        {
            current.space = Space::Grant;
            Some(g.as_ptr() as usize)
        } else if let Some(a) = s.arena.as_ref() {
            let cap = a.capacity();
            let offset = ptr.wrapping_sub(s.arena_word);
            if arena::check(cap, s.read, offset, len, end) {
                current.space = Space::Arena(end);
                Some(a.as_ptr() as usize + offset as usize)
            } else {
                None
            }
        } else {
            None
        };
        if settled {
            self.discarded += 1;
            self.release(current);
            return None;
        }
        let side = status & layout::status::SIDE != 0;
        let outcome = match (status & !layout::status::SIDE, located) {
            (_, None) => Outcome::Invalid(Invalid::Buffer {
                ptr,
                len,
                end,
                read: s.read,
            }),
            (layout::status::OK, Some(_)) => Outcome::Returned,
            (layout::status::THREW, Some(_)) => Outcome::Threw,
            (other, Some(_)) => Outcome::Invalid(Invalid::Status(other)),
        };
        let (ptr, len) = match (outcome, located) {
            (Outcome::Returned | Outcome::Threw, Some(p)) => (p, len),
            _ => (0, 0),
        };
        Some((
            Completion {
                call_id,
                outcome,
                ptr,
                len,
                worker,
                seat,
                side,
                attempt,
                started: slot.started.load(Ordering::Relaxed),
            },
            current,
        ))
    }

    /// Releases a completion handed out by `poll`: the worker's arena (or grant), the slot,
    /// and starts waiting calls on it.
    pub(crate) fn release(&mut self, current: Current) {
        let Current { seat, slot, space } = current;
        if let Some(s) = self.seats.get_mut(seat as usize) {
            let cell = &self.block.cells[seat as usize];
            match space {
                Space::Arena(end) => {
                    s.read = end;
                    // Published with the batch (`publish_reads`), or at once when a quarter
                    // of the arena has been read since it last was (a large result: the
                    // worker may be waiting for its room). A word a worker wrote over reads
                    // as far behind and is put right here.
                    let cap = s.arena.as_ref().map_or(0, Metered::capacity);
                    if end.wrapping_sub(cell.arena_read.load(Ordering::Relaxed)) >= cap / 4 {
                        // Release: our reads of the result happen-before the worker overwrites it.
                        cell.arena_read.store(end, Ordering::Release);
                    }
                }
                Space::Grant => {
                    s.grant = None;
                    // Release: our reads of the granted buffer happen-before the worker asks
                    // for the next one.
                    cell.req_ptr.store(0, Ordering::Release);
                }
                Space::Invalid => {}
            }
        }
        if self.waiting.is_empty() {
            self.free_slot(slot);
        } else if self.retire(slot) {
            // A waiting call takes the slot at once (`start_waiting` takes the free list's
            // last entry): its PENDING store follows, and nobody needs to see FREE between.
            self.free.push(slot);
        }
        self.start_waiting()
    }

    /// Returns slot `index` to the free list (its call is over).
    fn free_slot(&mut self, index: u32) {
        if !self.retire(index) {
            return;
        }
        let record = &self.records[index as usize];
        // Release: the page's reads of the slot happen-before its reuse is published.
        self.block.slots[index as usize]
            .state
            .store(pack(state::FREE, 0, record.gen), Ordering::Release);
        self.free.push(index);
    }

    /// Ends the page's record of the call on slot `index`; false when it held none.
    fn retire(&mut self, index: u32) -> bool {
        let record = &mut self.records[index as usize];
        if !record.busy {
            return false;
        }
        record.busy = false;
        record.settled = false;
        // No worker reads a free slot's arguments any more: their buffer may be reused.
        if let Some(Args::Heap(buf, _)) = record.args.take() {
            if self.spent.len() < SPENT_KEPT {
                self.spent.push(buf);
            }
        }
        true
    }

    /// Cancels a call: drops it if it has not started, flags it and abandons it if it runs.
    pub(crate) fn cancel(&mut self, call_id: u32, code: u32) -> Cancelled {
        // A scan rather than an index: cancelling is rare, and an index would cost every call
        // an insert and a removal.
        if let Some(at) = self.waiting.iter().position(|w| w.call_id == call_id) {
            self.waiting.remove(at);
            return Cancelled::Dropped;
        }
        let Some(index) = self
            .records
            .iter()
            .position(|r| r.busy && r.call_id == call_id)
            .map(|i| i as u32)
        else {
            return Cancelled::Unknown;
        };
        let record = &mut self.records[index as usize];
        if record.settled {
            return Cancelled::Unknown;
        }
        let gen = record.gen;
        let slot = &self.block.slots[index as usize];
        // Acquire on success: a pending call's envelope is the page's own; on failure we read
        // the state a worker wrote.
        match slot.state.compare_exchange(
            pack(state::PENDING, record.assigned, gen),
            pack(state::FREE, 0, gen),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.free_slot(index);
                self.start_waiting();
                Cancelled::Dropped
            }
            Err(now) => {
                record.settled = true;
                // Relaxed: the handler polls the flag; nothing is published with it.
                slot.cancel.store(code, Ordering::Relaxed);
                if layout::kind(now) == state::RUNNING {
                    let o = layout::owner(now);
                    // Fails harmlessly when the worker completed in the meantime.
                    let _ = slot.state.compare_exchange(
                        pack(state::RUNNING, o, gen),
                        pack(state::ABANDONED, o, gen),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    );
                }
                Cancelled::Running
            }
        }
    }

    /// Declares the worker on `seat` dead: takes back every slot it held. Calls it was
    /// running are requeued (`requeue`, with their next attempt) or failed (their ids are
    /// returned); completions it published but the page has not read are kept. The seat is
    /// quarantined until [`release_seat`](Self::release_seat).
    pub(crate) fn reclaim(&mut self, seat: u32, requeue: bool) -> Vec<u32> {
        let Some(s) = self.seats.get_mut(seat as usize) else {
            return Vec::new();
        };
        if s.state != SeatState::Live {
            return Vec::new();
        }
        s.state = SeatState::Quarantined;
        self.update_live();
        self.watchdog.disarm(seat as usize);
        // A terminated thread may run on for a while (a zombie, see `release_seat`): with no
        // quota it claims no more calls. Relaxed: the worker re-reads the quota on every take.
        self.block.cells[seat as usize]
            .quota
            .store(0, Ordering::Relaxed);
        let failed = self.sweep(seat, requeue);
        // Whatever else the dead worker may have written over is put back in order.
        self.repair();
        failed
    }

    /// Takes back what the worker on `seat` held: the completions it published go to
    /// `recovered` (read by `poll`), its running calls are requeued or failed, its abandoned
    /// ones freed. A call it moved to DONE but never pushed on its ring (it died in between)
    /// counts as running: its result is not trusted without its record. So does a completion
    /// whose values travel by postMessage ([`status::SIDE`](layout::status::SIDE)): the
    /// worker's messages died with it.
    fn sweep(&mut self, seat: u32, requeue: bool) -> Vec<u32> {
        let mut published = Vec::new();
        while let Some((e, pos)) = self.pop_ring(seat as usize) {
            // Relaxed: published by the ring's Release store of its tail, like every record.
            let side = self.block.result(seat, pos).is_some_and(|w| {
                w[result::STATUS].load(Ordering::Relaxed) & layout::status::SIDE != 0
            });
            if !side {
                published.push(e);
                self.recovered.push_back((seat, e, pos));
            }
        }
        let owner = self.seats[seat as usize].owner;
        let mut failed = Vec::new();
        let mut requeued = false;
        for index in 0..self.records.len() as u32 {
            let record = &self.records[index as usize];
            if !record.busy {
                continue;
            }
            let gen = record.gen;
            let slot = &self.block.slots[index as usize];
            let mut now = slot.state.load(Ordering::Acquire);
            if layout::owner(now) != owner || layout::gen(now) != gen {
                continue;
            }
            if layout::kind(now) == state::PENDING && record.assigned == owner {
                // Handed to this worker, which never claimed it: it goes on the work queue,
                // with the same attempt (it never ran), whatever the crash policy.
                match slot.state.compare_exchange(
                    now,
                    pack(state::FREE, 0, gen),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        let record = &mut self.records[index as usize];
                        let (call_id, attempt, admitted) =
                            (record.call_id, record.attempt, record.admitted);
                        if let Some(args) = record.args.take() {
                            self.publish(index, call_id, attempt, args, &[]);
                            // Its place in admission order is the one it had.
                            self.records[index as usize].admitted = admitted;
                            requeued = true;
                        }
                        continue;
                    }
                    // The worker claimed it just now (it had room before its quota went to
                    // 0): a running call of the dead worker, like the others.
                    Err(word) => now = word,
                }
            }
            let kind = layout::kind(now);
            if kind == state::DONE && published.contains(&entry(index, gen)) {
                continue;
            }
            if kind != state::RUNNING && kind != state::ABANDONED && kind != state::DONE {
                continue;
            }
            // Taken back from the dead worker; a CAS, since a terminated thread may still
            // complete it in its last instructions (its entry then finds the slot moved on).
            if slot
                .state
                .compare_exchange(
                    now,
                    pack(state::FREE, 0, gen),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
            {
                // It completed just now: its entry is read at the end of the quarantine.
                continue;
            }
            let record = &mut self.records[index as usize];
            let settled = record.settled || kind == state::ABANDONED;
            if requeue && !settled {
                let (call_id, attempt) = (record.call_id, record.attempt + 1);
                if let Some(args) = record.args.take() {
                    self.publish(index, call_id, attempt, args, &[]);
                    self.requeued += 1;
                    requeued = true;
                }
                continue;
            }
            if !settled {
                failed.push(record.call_id);
            }
            self.free_slot(index);
        }
        if requeued {
            self.ring_work_bell();
        }
        self.start_waiting();
        failed
    }

    /// Ends a seat's quarantine: sweeps it once more (a terminated thread may have claimed
    /// or finished a call after it was declared dead; what it claimed is requeued, since it
    /// never ran for anyone), frees its arena and grant, and resets its cell for the next
    /// worker of the index.
    ///
    /// Returns false (and keeps the seat) while completions recovered from it are still to be
    /// read by `poll`: call again after the next drain.
    pub(crate) fn release_seat(&mut self, seat: u32) -> bool {
        match self.seats.get(seat as usize) {
            Some(s) if s.state == SeatState::Quarantined => {}
            _ => return true,
        }
        self.sweep(seat, true);
        if self.recovered.iter().any(|r| r.0 == seat) {
            return false;
        }
        let cell = &self.block.cells[seat as usize];
        for w in [
            &cell.beat,
            &cell.phase,
            &cell.completed,
            &cell.running,
            &cell.arena_write,
            &cell.req_len,
            &cell.discarded,
            &cell.owner,
            &cell.quota,
            &cell.arena_read,
            &cell.arena_base,
            &cell.arena_cap,
            &cell.req_ptr,
            &cell.posts,
        ] {
            w.store(0, Ordering::Relaxed);
        }
        cell.ring_head.store(0, Ordering::Relaxed);
        cell.ring_tail.store(0, Ordering::Relaxed);
        self.seats[seat as usize] = Seat::free();
        true
    }

    /// Whether the seat waits for `release_seat`.
    pub(crate) fn quarantined(&self, seat: u32) -> bool {
        self.seats
            .get(seat as usize)
            .is_some_and(|s| s.state == SeatState::Quarantined)
    }

    /// Seats in use or quarantined.
    pub(crate) fn seats_in_use(&self) -> u32 {
        self.seats
            .iter()
            .filter(|s| s.state != SeatState::Free)
            .count() as u32
    }

    /// Ids of every call the task holds: waiting, pending, running.
    pub(crate) fn call_ids(&self) -> Vec<u32> {
        let slots = self.records.iter().filter(|r| r.busy).map(|r| r.call_id);
        slots
            .chain(self.waiting.iter().map(|w| w.call_id))
            .collect()
    }

    /// Starts watching `seat`'s heartbeat (its worker finished its start-up).
    pub(crate) fn arm(&mut self, seat: u32) {
        if self.seats.get(seat as usize).map(|s| s.state) == Some(SeatState::Live) {
            // Relaxed: the beat is a counter compared for change; nothing is read through it.
            let beat = self.block.cells[seat as usize].beat.load(Ordering::Relaxed);
            self.watchdog.arm(seat as usize, beat);
        }
    }

    /// The seat whose worker runs slot `state` (RUNNING or ABANDONED), if it is live.
    fn runner(&self, now: u32) -> Option<usize> {
        let kind = layout::kind(now);
        if kind != state::RUNNING && kind != state::ABANDONED {
            return None;
        }
        let owner = layout::owner(now);
        self.seats
            .iter()
            .position(|s| s.state == SeatState::Live && s.owner == owner)
    }

    /// One watchdog tick at `now_ms`: the seats found hung or gone. Each is reported once
    /// (the page then declares its worker dead with [`reclaim`](Self::reclaim)).
    pub(crate) fn watch(&mut self, now_ms: f64, max_credit_ms: f64) -> Vec<(u32, Verdict)> {
        self.watchdog.tick(now_ms, max_credit_ms);
        self.audit();
        let mut busy = vec![false; self.seats.len()];
        let mut running = vec![0u32; self.seats.len()];
        let mut done = vec![false; self.seats.len()];
        for (record, slot) in self.records.iter().zip(self.block.slots.iter()) {
            if record.busy {
                // Relaxed: advisory; the state word is only compared.
                let now = slot.state.load(Ordering::Relaxed);
                if let Some(seat) = self.runner(now) {
                    busy[seat] = true;
                    if layout::gen(now) == record.gen {
                        running[seat] += 1;
                    }
                } else if layout::kind(now) == state::DONE && layout::gen(now) == record.gen {
                    if let Some(seat) = self.live_seat(layout::owner(now)) {
                        done[seat] = true;
                    }
                }
            }
        }
        // The words of each live worker's cell that the page owns, restored from its own
        // copies: a worker that wrote over them (API contract B.8) cannot make an honest one
        // wait for ever (for arena room, for ring room) or stop taking calls.
        self.publish_reads();
        for &seat in &self.live {
            let quota = self.quota(seat / SEATS_PER_WORKER);
            // Relaxed: see `attach`.
            store_changed(
                &self.block.cells[seat as usize].quota,
                quota,
                Ordering::Relaxed,
            );
        }
        let mut verdicts = Vec::new();
        // A worker that holds a call it can never finish (API contract B.8): a call it
        // finished whose entry is not on its ring, though the page has read every entry the
        // worker pushed (a worker wrote over the ring), or more running calls than the worker
        // says it runs (a worker wrote another owner into a state word). Such calls are taken
        // back when the worker is replaced.
        for (seat, s) in self.seats.iter_mut().enumerate() {
            if s.state != SeatState::Live {
                s.suspect = None;
                continue;
            }
            let cell = &self.block.cells[seat];
            // Relaxed (both): advisory, and seen held over several ticks.
            let ring_read = cell.ring_tail.load(Ordering::Relaxed) == s.head;
            let says = cell.running.load(Ordering::Relaxed);
            if (done[seat] && ring_read) || running[seat] > says {
                let (since, ticks) = s.suspect.unwrap_or((now_ms, 0));
                if ticks + 1 >= SUSPECT_TICKS && now_ms - since >= SUSPECT_MS {
                    s.suspect = None;
                    verdicts.push((seat as u32, Verdict::Corrupt));
                } else {
                    s.suspect = Some((since, ticks + 1));
                }
            } else {
                s.suspect = None;
            }
        }
        for seat in std::mem::take(&mut self.corrupt_rings) {
            if self
                .seats
                .get(seat as usize)
                .is_some_and(|s| s.state == SeatState::Live)
            {
                verdicts.push((seat, Verdict::Corrupt));
            }
        }
        for (seat, cell) in self.block.cells.iter().enumerate() {
            if !self.watchdog.armed(seat) {
                continue;
            }
            // Relaxed: see `arm`.
            let beat = cell.beat.load(Ordering::Relaxed);
            if let Some(v) = self.watchdog.observe(seat, beat, busy[seat]) {
                verdicts.push((seat as u32, v));
            }
        }
        verdicts
    }

    /// The seat whose worker still runs call `call_id` (after a cancel: its handler has not
    /// returned), if any.
    pub(crate) fn running_on(&self, call_id: u32) -> Option<u32> {
        let index = self
            .records
            .iter()
            .position(|r| r.busy && r.call_id == call_id)?;
        let gen = self.records[index].gen;
        // Acquire: pairs with the worker's claim, so the owner read is the claimer's.
        let now = self.block.slots[index].state.load(Ordering::Acquire);
        if layout::gen(now) != gen {
            return None;
        }
        self.runner(now).map(|s| s as u32)
    }

    /// Whether a new call would go straight onto a slot (pending or running), with nobody
    /// waiting ahead of it.
    pub(crate) fn room(&self) -> bool {
        self.waiting.is_empty() && !self.free.is_empty()
    }

    /// Drops the oldest pending call (`queuePolicy: 'drop-oldest'`); returns its id, or None
    /// when no call is pending (every slot holds a running call).
    pub(crate) fn drop_oldest(&mut self) -> Option<u32> {
        // Relaxed: candidates only; the CAS below decides. Each is tried once, oldest first:
        // one whose CAS fails was claimed just now, or holds a word no page wrote (a worker
        // wrote over it; the audit puts it right), and the next is tried.
        let mut candidates: Vec<(u64, usize)> = self
            .records
            .iter()
            .zip(self.block.slots.iter())
            .enumerate()
            .filter(|(_, (r, s))| {
                r.busy
                    && !r.settled
                    && layout::kind(s.state.load(Ordering::Relaxed)) == state::PENDING
            })
            .map(|(i, (r, _))| (r.admitted, i))
            .collect();
        candidates.sort_unstable();
        for (_, index) in candidates {
            let r = &self.records[index];
            let (gen, call_id, owner) = (r.gen, r.call_id, r.assigned);
            // Acquire on success: the envelope is the page's own again. A call handed to one
            // worker (its owner id in the word) is dropped the same way: it has not started.
            if self.block.slots[index]
                .state
                .compare_exchange(
                    pack(state::PENDING, owner, gen),
                    pack(state::FREE, 0, gen),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                self.free_slot(index as u32);
                return Some(call_id);
            }
        }
        None
    }
}
