//! The shared-memory layout: every word that both Rust and the JS glue touch, written down
//! once. The JS glue reads its offsets and constants from `src/js/layout.js`, which
//! [`js_module`] generates from the items below; a test fails when the checked-in file
//! drifts (`ATELIER_BLESS=1 cargo test -p atelier-ring layout` rewrites it), CI regenerates
//! it and fails on any diff, and the page and each worker compare [`fingerprint`] and
//! [`PROTOCOL_VERSION`] in the start-up handshake.
//!
//! All words are `u32` and every struct the JS glue indexes is `#[repr(C)]` with explicit
//! alignment, so offsets are the same on wasm32 (where they matter) and on the native target
//! (where the tests and the generator run). Structures whose padding depends on the target
//! (the work queue's `CachePadded` counters) are reached by addresses the page hands out.
//!
//! # Who writes what
//!
//! | word | written by | read by | reclaimed |
//! |---|---|---|---|
//! | [`Slot::state`] | page (FREE→PENDING, RUNNING→PENDING on a requeue, PENDING→FREE on a drop, RUNNING→ABANDONED, DONE→FREE), worker (PENDING→RUNNING, RUNNING/ABANDONED→DONE), each by compare-and-swap | both | the slot returns to FREE when the page has read its result or reclaimed its worker |
//! | [`Slot`] envelope words (`call_id`, `attempt`, `arg_*`, `flags`) and `inline` | page, while the slot is FREE | worker | with the slot |
//! | [`Slot::cancel`] | page | worker (`ctx.signal`, `throwIfAborted`) | with the slot |
//! | [`WorkerCell`] worker line (`beat`, `phase`, `completed`, `running`, `ring_tail`, `arena_write`, `req_len`, `discarded`) | its worker | page | the cell is reset when its seat is released |
//! | [`WorkerCell`] page line (`owner`, `quota`, `ring_head`, `arena_read`, `arena_base`, `arena_cap`, `req_ptr`) | page | the worker | — |
//! | completion ring entries and result records of seat *i* | the worker on seat *i* | page | reset with the cell |
//! | work queue `tail` and entries | page | workers | — |
//! | work queue `head` | any worker or the page (compare-and-swap, helping) | all | — |
//! | [`Doorbell`] `seq` | whoever publishes (bumps it) | the sleeper (waits on it) | — |
//! | [`Doorbell`] `sleepers` | sleepers (count in/out) | the publisher (notify only when > 0) | — |
//!
//! A worker writes nothing into a slot but its state word (by compare-and-swap): its result
//! goes into its own arena (or a buffer the page granted it) and the result's description
//! into the record beside its completion-ring entry, all memory of its seat. So a slot's
//! arguments survive a requeue, and a terminated worker that is still finishing its last
//! instructions can only write into memory that belongs to its own (quarantined) seat.

use crate::sync::AtomicU32 as SyncU32;
use core::cell::UnsafeCell;
use core::mem::{offset_of, size_of};
use core::sync::atomic::AtomicU32;

/// Bumped whenever a struct below changes shape.
pub const LAYOUT_VERSION: u32 = 6;

/// Bumped whenever the messages between page and workers (the start-up handshake, the side
/// lane), the codec's format or the meaning of a shared word changes.
pub const PROTOCOL_VERSION: u32 = 10;

/// The longest a live worker goes without beating its heartbeat while a handler awaits (its
/// event loop is free). The page's watchdog counts silence in these terms.
pub const BEAT_MS: u32 = 100;

/// The same while the worker has nothing running and sleeps: the page only needs to tell
/// that it is still there (an exit is four missed beats), so it wakes less often.
pub const IDLE_BEAT_MS: u32 = 250;

/// Bytes of arguments a slot holds inline; larger arguments live in a heap buffer of the
/// page's that the slot points at.
pub const INLINE_BYTES: usize = 192;

/// Seats (cells, completion rings) per worker index: a replacement never shares a cell with
/// a terminated predecessor that may still be running (a busy worker outlives `terminate()`
/// by up to 2 s in Chromium, and its seat is quarantined for 3 s), and the seats of a
/// quarantine do not hold up restarts: a worker restarted every 100 ms needs 30. A task
/// block has `poolSize * SEATS_PER_WORKER` cells.
pub const SEATS_PER_WORKER: u32 = 32;

/// The worker index of a completion the page made itself, for a call no worker can be blamed
/// for (its state word was overwritten too often): no worker is replaced for it.
pub const NO_WORKER: u32 = u32::MAX;

/// Slots a task may have at most: a work-queue or completion entry packs a slot index
/// into 16 bits.
pub const MAX_SLOTS: u32 = 0xFFFF;

/// The kinds of [`Slot::state`] (its top three bits).
///
/// ```text
///            page admits            worker claims (CAS)        worker completes (CAS)
///   FREE ----------------> PENDING ------------------> RUNNING -----------------------> DONE
///    ^  ^                  |   ^                        |   |                            |
///    |  +--page drops------+   +--page requeues (gen+1)-+   +--page settles early------+ |
///    |     (gen+1)                                          |        (cancel w/ grace)  | |
///    |                                                      v                           | |
///    |                                                  ABANDONED --worker completes--> + |
///    +--------------------- page reads the result, or reclaims the dead owner ------------+
/// ```
pub mod state {
    /// Owned by the page; not published.
    pub const FREE: u32 = 0;
    /// Admitted: the envelope is complete and the slot is on the work queue; a worker with
    /// room may claim it. With an owner id, the page handed the call to that worker alone
    /// (a call with side-lane values, posted to it): it is on no queue, only that worker
    /// claims it, and the page puts it on the queue if that worker dies first.
    pub const PENDING: u32 = 1;
    /// Claimed by the worker named in the state word's owner field.
    pub const RUNNING: u32 = 2;
    /// The owner wrote the result words and pushed the slot on its completion ring.
    pub const DONE: u32 = 3;
    /// The page settled the call (cancelled, timed out) while its owner still runs it; the
    /// owner's completion is discarded.
    pub const ABANDONED: u32 = 4;
}

/// Bit position of the kind in a state word.
pub const STATE_KIND_SHIFT: u32 = 29;
/// Bit position of the owner in a state word.
pub const STATE_OWNER_SHIFT: u32 = 16;
/// Mask of the owner (after shifting): worker incarnation ids are `1..=OWNER_MASK`.
pub const STATE_OWNER_MASK: u32 = 0x1FFF;
/// Mask of the generation: bumped by the page every time it (re)publishes a slot, so a
/// compare-and-swap prepared for an earlier publication fails.
pub const STATE_GEN_MASK: u32 = 0xFFFF;
/// Bit position of the slot index in a work-queue or completion entry (the low 16 bits are
/// the generation).
pub const ENTRY_SLOT_SHIFT: u32 = 16;

/// A state word.
#[inline]
pub const fn pack(kind: u32, owner: u32, gen: u32) -> u32 {
    (kind << STATE_KIND_SHIFT)
        | ((owner & STATE_OWNER_MASK) << STATE_OWNER_SHIFT)
        | (gen & STATE_GEN_MASK)
}

/// The kind of a state word (see [`state`]).
#[inline]
pub const fn kind(word: u32) -> u32 {
    word >> STATE_KIND_SHIFT
}

/// The owner of a state word (0: none).
#[inline]
pub const fn owner(word: u32) -> u32 {
    (word >> STATE_OWNER_SHIFT) & STATE_OWNER_MASK
}

/// The generation of a state word.
#[inline]
pub const fn gen(word: u32) -> u32 {
    word & STATE_GEN_MASK
}

/// A work-queue or completion-ring entry naming publication `gen` of slot `slot`.
#[inline]
pub const fn entry(slot: u32, gen: u32) -> u32 {
    (slot << ENTRY_SLOT_SHIFT) | (gen & STATE_GEN_MASK)
}

/// The slot an entry names.
#[inline]
pub const fn entry_slot(entry: u32) -> u32 {
    entry >> ENTRY_SLOT_SHIFT
}

/// The words of a result record, beside each completion-ring entry: what the worker
/// reports about the result of the call the entry names.
pub mod result {
    /// [`super::status`] of the result.
    pub const STATUS: usize = 0;
    /// Where the encoded result is: inside the worker's arena, or the buffer the page granted.
    pub const PTR: usize = 1;
    /// Length of the encoded result.
    pub const LEN: usize = 2;
    /// The arena position just past the result (the page releases the arena up to it once
    /// it has read the result); unused for a granted buffer.
    pub const END: usize = 3;
    /// Words per record.
    pub const WORDS: usize = 4;
}

/// `result::STATUS` values.
pub mod status {
    /// The handler returned; the result bytes hold its value.
    pub const OK: u32 = 0;
    /// The handler threw (or the method is unknown, or its result could not be encoded);
    /// the result bytes hold the thrown value.
    pub const THREW: u32 = 1;
    /// A flag on OK or THREW: some of the result's values travel beside it by postMessage
    /// (the side lane), posted before the completion. A worker's messages die with it, so a
    /// completion with this flag that the page recovers from a dead worker's seat counts as
    /// running: its call is requeued or failed with the worker's other running calls.
    pub const SIDE: u32 = 0x100;
}

/// [`Slot::flags`] bits.
pub mod call_flags {
    /// The page wants to know when the call starts: the worker writes
    /// [`Slot::started`](super::Slot::started) (set while anyone observes the runtime).
    pub const TIMED: u32 = 1;
}

/// Values of [`Slot::cancel`].
pub mod cancel {
    /// Not cancelled.
    pub const NONE: u32 = 0;
    /// Cancelled by a key, a signal or `dispose`.
    pub const ABORTED: u32 = 1;
    /// Cancelled by the call's timeout.
    pub const TIMED_OUT: u32 = 2;
}

/// `Slot::arg_ptr` value meaning "the bytes are in [`Slot::inline`]".
pub const INLINE_PTR: u32 = 0;

/// `WorkerCell::req_ptr` value meaning "the page refused the request: memory is out".
pub const GRANT_REFUSED: u32 = 1;

/// One call's envelope, its cancellation flag and where its result is.
#[repr(C, align(64))]
pub struct Slot {
    /// The packed state word: kind, owner, generation (see [`pack`]).
    pub state: AtomicU32,
    /// The call's id (unique among the runtime's live calls).
    pub call_id: AtomicU32,
    /// Which run of the call this is: 1 on the first, bumped when the call is requeued
    /// (`ctx.attempt`).
    pub attempt: AtomicU32,
    /// [`cancel`]: read by the handler's `ctx.signal`.
    pub cancel: AtomicU32,
    /// Where the encoded method and arguments are: [`INLINE_PTR`] or a heap address.
    pub arg_ptr: AtomicU32,
    /// Length of the encoded arguments.
    pub arg_len: AtomicU32,
    /// [`call_flags`] of this attempt.
    pub flags: AtomicU32,
    /// When the worker began this attempt: microseconds since the page's time origin,
    /// wrapping. For metrics only (`queue.wait_ms`, `task.duration_ms`); never trusted.
    pub started: AtomicU32,
    _reserved: [AtomicU32; 8],
    /// The arguments, when they fit.
    pub inline: UnsafeCell<[u8; INLINE_BYTES]>,
}

// SAFETY: every word is atomic; `inline` is written only by the page while the slot is FREE
// (it owns it then) and only read by workers after they claimed the slot, which the
// Release store of PENDING and the work queue's Release publish order after the writes.
unsafe impl Sync for Slot {}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            state: AtomicU32::new(pack(state::FREE, 0, 0)),
            call_id: AtomicU32::new(0),
            attempt: AtomicU32::new(0),
            cancel: AtomicU32::new(cancel::NONE),
            arg_ptr: AtomicU32::new(INLINE_PTR),
            arg_len: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            started: AtomicU32::new(0),
            _reserved: Default::default(),
            inline: UnsafeCell::new([0; INLINE_BYTES]),
        }
    }
}

impl Slot {
    /// The address of the inline argument bytes.
    pub fn inline_ptr(&self) -> *mut u8 {
        self.inline.get().cast()
    }
}

/// A word to sleep on and a count of sleepers, on a cache line of its own.
///
/// The protocol (a Dekker pair, so both sides use `SeqCst`): the publisher makes its data
/// visible, bumps `seq`, then notifies only if `sleepers > 0`; a sleeper reads `seq`,
/// increments `sleepers`, checks for data once more, and only then waits while `seq` still
/// holds the value it read. Either the publisher sees the sleeper, or the sleeper's re-check
/// sees the data. See [`crate::doorbell`].
#[repr(C, align(64))]
pub struct Doorbell {
    /// Bumped after every publish.
    pub seq: SyncU32,
    /// Threads between "about to sleep" and "awake".
    pub sleepers: SyncU32,
}

impl Default for Doorbell {
    fn default() -> Self {
        Doorbell {
            seq: SyncU32::new(0),
            sleepers: SyncU32::new(0),
        }
    }
}

/// A worker's cell: its heartbeat, its completion ring's counters, its arena and its
/// buffer requests. The first cache line is written by the worker, the second by the page.
#[repr(C, align(64))]
#[derive(Default)]
pub struct WorkerCell {
    /// Bumped by the worker on every loop turn, every half second while it sleeps, and by
    /// `ctx.throwIfAborted()`.
    pub beat: AtomicU32,
    /// [`worker_state`] as the worker last wrote it.
    pub phase: AtomicU32,
    /// Calls the worker has completed.
    pub completed: AtomicU32,
    /// Calls the worker is running now (it takes more only while this is below `quota`).
    pub running: AtomicU32,
    /// Completion ring: entries pushed so far (the producer's counter).
    pub ring_tail: SyncU32,
    /// Arena: the position just past the last result written (advisory: the page never
    /// trusts it).
    pub arena_write: AtomicU32,
    /// A request for a result buffer larger than the arena holds: its length, 0 for none.
    pub req_len: AtomicU32,
    /// Completions the worker dropped because the page had taken the call back first (a
    /// requeue, a reclaim): a late completion of an earlier attempt, counted.
    pub discarded: AtomicU32,
    _worker_reserved: [AtomicU32; 8],
    /// The incarnation id the worker writes into the state words of the slots it claims.
    pub owner: AtomicU32,
    /// How many calls the worker may run at once: its share of `maxInFlight`.
    pub quota: AtomicU32,
    /// Completion ring: entries taken so far (the consumer's counter).
    pub ring_head: SyncU32,
    /// Arena: results before this position have been read and may be overwritten.
    pub arena_read: AtomicU32,
    /// Arena: address of the worker's result buffer.
    pub arena_base: AtomicU32,
    /// Arena: its size in bytes (a multiple of 8).
    pub arena_cap: AtomicU32,
    /// The page's answer to `req_len`: 0 none yet, [`GRANT_REFUSED`], or a buffer's address.
    pub req_ptr: AtomicU32,
    /// Messages the page has posted to this worker since its seat was given (a call handed
    /// to it, a call's side-lane values): a worker that spins on the work queue stops when
    /// this moves, since its event loop cannot deliver a message while it spins.
    pub posts: AtomicU32,
    _page_reserved: [AtomicU32; 8],
}

/// `WorkerCell::phase` values.
pub mod worker_state {
    /// Spawned, not yet past its start-up handshake.
    pub const STARTING: u32 = 0;
    /// Looking for work (spinning).
    pub const IDLE: u32 = 1;
    /// Running at least one handler.
    pub const BUSY: u32 = 2;
    /// Asleep on its task's doorbell.
    pub const PARKED: u32 = 3;
    /// Left its loop for good.
    pub const STOPPED: u32 = 4;
}

/// The constants the JS glue needs, as `(name, value)`.
pub fn constants() -> [(&'static str, u32); 66] {
    [
        ("LAYOUT_VERSION", LAYOUT_VERSION),
        ("PROTOCOL_VERSION", PROTOCOL_VERSION),
        ("BEAT_MS", BEAT_MS),
        ("IDLE_BEAT_MS", IDLE_BEAT_MS),
        ("INLINE_BYTES", INLINE_BYTES as u32),
        ("SEATS_PER_WORKER", SEATS_PER_WORKER),
        ("NO_WORKER", NO_WORKER),
        ("INLINE_PTR", INLINE_PTR),
        ("MAX_SLOTS", MAX_SLOTS),
        ("SLOT_SIZE", size_of::<Slot>() as u32),
        ("SLOT_STATE", offset_of!(Slot, state) as u32),
        ("SLOT_CALL_ID", offset_of!(Slot, call_id) as u32),
        ("SLOT_ATTEMPT", offset_of!(Slot, attempt) as u32),
        ("SLOT_CANCEL", offset_of!(Slot, cancel) as u32),
        ("SLOT_ARG_PTR", offset_of!(Slot, arg_ptr) as u32),
        ("SLOT_ARG_LEN", offset_of!(Slot, arg_len) as u32),
        ("SLOT_FLAGS", offset_of!(Slot, flags) as u32),
        ("SLOT_STARTED", offset_of!(Slot, started) as u32),
        ("RESULT_STATUS", result::STATUS as u32),
        ("RESULT_PTR", result::PTR as u32),
        ("RESULT_LEN", result::LEN as u32),
        ("RESULT_END", result::END as u32),
        ("RESULT_WORDS", result::WORDS as u32),
        ("SLOT_INLINE", offset_of!(Slot, inline) as u32),
        ("STATE_FREE", state::FREE),
        ("STATE_PENDING", state::PENDING),
        ("STATE_RUNNING", state::RUNNING),
        ("STATE_DONE", state::DONE),
        ("STATE_ABANDONED", state::ABANDONED),
        ("STATE_KIND_SHIFT", STATE_KIND_SHIFT),
        ("STATE_OWNER_SHIFT", STATE_OWNER_SHIFT),
        ("STATE_OWNER_MASK", STATE_OWNER_MASK),
        ("STATE_GEN_MASK", STATE_GEN_MASK),
        ("ENTRY_SLOT_SHIFT", ENTRY_SLOT_SHIFT),
        ("STATUS_OK", status::OK),
        ("STATUS_THREW", status::THREW),
        ("STATUS_SIDE", status::SIDE),
        ("CALL_TIMED", call_flags::TIMED),
        ("CANCEL_NONE", cancel::NONE),
        ("CANCEL_ABORTED", cancel::ABORTED),
        ("CANCEL_TIMED_OUT", cancel::TIMED_OUT),
        ("GRANT_REFUSED", GRANT_REFUSED),
        ("BELL_SEQ", offset_of!(Doorbell, seq) as u32),
        ("BELL_SLEEPERS", offset_of!(Doorbell, sleepers) as u32),
        ("CELL_SIZE", size_of::<WorkerCell>() as u32),
        ("CELL_BEAT", offset_of!(WorkerCell, beat) as u32),
        ("CELL_PHASE", offset_of!(WorkerCell, phase) as u32),
        ("CELL_COMPLETED", offset_of!(WorkerCell, completed) as u32),
        ("CELL_RUNNING", offset_of!(WorkerCell, running) as u32),
        ("CELL_RING_TAIL", offset_of!(WorkerCell, ring_tail) as u32),
        (
            "CELL_ARENA_WRITE",
            offset_of!(WorkerCell, arena_write) as u32,
        ),
        ("CELL_REQ_LEN", offset_of!(WorkerCell, req_len) as u32),
        ("CELL_DISCARDED", offset_of!(WorkerCell, discarded) as u32),
        ("CELL_OWNER", offset_of!(WorkerCell, owner) as u32),
        ("CELL_QUOTA", offset_of!(WorkerCell, quota) as u32),
        ("CELL_RING_HEAD", offset_of!(WorkerCell, ring_head) as u32),
        ("CELL_ARENA_READ", offset_of!(WorkerCell, arena_read) as u32),
        ("CELL_ARENA_BASE", offset_of!(WorkerCell, arena_base) as u32),
        ("CELL_ARENA_CAP", offset_of!(WorkerCell, arena_cap) as u32),
        ("CELL_REQ_PTR", offset_of!(WorkerCell, req_ptr) as u32),
        ("CELL_POSTS", offset_of!(WorkerCell, posts) as u32),
        ("WORKER_STARTING", worker_state::STARTING),
        ("WORKER_IDLE", worker_state::IDLE),
        ("WORKER_BUSY", worker_state::BUSY),
        ("WORKER_PARKED", worker_state::PARKED),
        ("WORKER_STOPPED", worker_state::STOPPED),
    ]
}

/// A hash of every constant (FNV-1a over names and values): equal on both sides of the
/// boundary exactly when the layouts agree.
pub fn fingerprint() -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |b: u8| {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    };
    for (name, value) in constants() {
        name.bytes().for_each(&mut eat);
        value.to_le_bytes().into_iter().for_each(&mut eat);
    }
    h
}

/// The text of `src/js/layout.js`.
#[cfg(feature = "std")]
pub fn js_module() -> alloc::string::String {
    use core::fmt::Write;
    let mut out = alloc::string::String::new();
    out.push_str(
        "// Generated from ring/src/layout.rs by `ATELIER_BLESS=1 cargo test -p atelier-ring layout`.\n\
         // Do not edit: a test fails when this file and the Rust layout disagree.\n",
    );
    for (name, value) in constants() {
        let _ = writeln!(out, "export const {name} = {value};");
    }
    let _ = writeln!(out, "export const LAYOUT_FINGERPRINT = {};", fingerprint());
    out
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_what_the_js_glue_assumes() {
        assert_eq!(size_of::<Slot>(), 64 + INLINE_BYTES);
        assert_eq!(offset_of!(Slot, inline), 64);
        assert_eq!(size_of::<Doorbell>(), 64);
        assert_eq!(size_of::<WorkerCell>(), 128);
        assert_eq!(offset_of!(WorkerCell, owner), 64);
        assert_eq!(core::mem::align_of::<Slot>(), 64);
    }

    #[test]
    fn state_words_pack_and_unpack() {
        for kind_ in [
            state::FREE,
            state::PENDING,
            state::RUNNING,
            state::DONE,
            state::ABANDONED,
        ] {
            for owner_ in [0, 1, 77, STATE_OWNER_MASK] {
                for gen_ in [0, 1, 0x1234, STATE_GEN_MASK] {
                    let w = pack(kind_, owner_, gen_);
                    assert_eq!((kind(w), owner(w), gen(w)), (kind_, owner_, gen_));
                }
            }
        }
        // A generation wraps inside its field instead of spilling into the owner.
        assert_eq!(
            pack(state::PENDING, 3, STATE_GEN_MASK + 1),
            pack(state::PENDING, 3, 0)
        );
        assert_eq!(entry_slot(entry(MAX_SLOTS, 9)), MAX_SLOTS);
    }

    #[test]
    fn constant_names_are_unique() {
        let names: std::collections::BTreeSet<_> = constants().iter().map(|c| c.0).collect();
        assert_eq!(names.len(), constants().len());
    }

    #[test]
    fn layout_js_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/js/layout.js");
        let want = js_module();
        if std::env::var_os("ATELIER_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is out of date with ring/src/layout.rs; regenerate it with \
             `ATELIER_BLESS=1 cargo test -p atelier-ring layout`",
            path.display()
        );
    }
}
