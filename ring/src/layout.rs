//! The shared-memory layout: every word that both Rust and the JS glue touch, written down
//! once. The JS glue reads its offsets from `src/js/layout.js`, which [`js_module`]
//! generates from the structs below; a test fails when the checked-in file drifts
//! (`ATELIER_BLESS=1 cargo test -p atelier-ring layout` rewrites it), and the runtime compares
//! [`fingerprint`] with the file's at start-up.
//!
//! All words are `u32` and every struct is `#[repr(C)]` with explicit alignment, so offsets
//! are the same on wasm32 (where they matter) and on the native target (where the tests and
//! the generator run).
//!
//! | struct | who writes | who reads |
//! |---|---|---|
//! | [`Slot`] envelope words (`call_id`, `attempt`, `arg_*`, `flags`) | controller, before it publishes the slot on a work ring | worker |
//! | [`Slot::state`] | controller (`FREE`→`QUEUED`, `DONE`→`FREE`), worker (`QUEUED`→`RUNNING`→`DONE`) | both |
//! | [`Slot::cancel`] | controller | worker (`ctx.signal`, `throwIfAborted`) |
//! | [`Slot`] result words (`res_*`, `worker`) | worker, before it publishes the completion | controller |
//! | [`Doorbell`] `seq` | whoever publishes (bumps it) | the sleeper (waits on it) |
//! | [`Doorbell`] `sleepers` | sleepers (count in/out) | the publisher (notify only when > 0) |
//! | [`WorkerCell`] | its worker | controller's watchdog |

use crate::sync::AtomicU32 as SyncU32;
use core::cell::UnsafeCell;
use core::mem::{offset_of, size_of};
use core::sync::atomic::AtomicU32;

/// Bumped whenever a struct below changes shape.
pub const LAYOUT_VERSION: u32 = 1;

/// Bytes of payload a slot holds inline; larger payloads live in a heap buffer the slot
/// points at.
pub const INLINE_BYTES: usize = 192;

/// `Slot::state` values.
pub mod state {
    /// Owned by the controller; not on any ring.
    pub const FREE: u32 = 0;
    /// Published on a work ring; the envelope is complete.
    pub const QUEUED: u32 = 1;
    /// Taken by a worker (which wrote its index to `Slot::worker`).
    pub const RUNNING: u32 = 2;
    /// The result words are written and the slot is on the completion ring.
    pub const DONE: u32 = 3;
}

/// `Slot::res_status` values.
pub mod status {
    /// The handler returned; the result bytes hold its value.
    pub const OK: u32 = 0;
    /// The handler threw (or the method is unknown, or its result could not be encoded);
    /// the result bytes hold the thrown value.
    pub const THREW: u32 = 1;
}

/// `Slot::cancel` values.
pub mod cancel {
    /// Not cancelled.
    pub const NONE: u32 = 0;
    /// Cancelled by a key, a signal or `dispose`.
    pub const ABORTED: u32 = 1;
    /// Cancelled by the call's timeout.
    pub const TIMED_OUT: u32 = 2;
}

/// `Slot::arg_ptr` / `res_ptr` value meaning "the bytes are in [`Slot::inline`]".
pub const INLINE_PTR: u32 = 0;

/// One call's envelope, its cancellation flag and its result.
#[repr(C, align(64))]
pub struct Slot {
    /// [`state`]: who owns the slot now.
    pub state: AtomicU32,
    /// The call's id (unique among the runtime's live calls).
    pub call_id: AtomicU32,
    /// Which run of the call this is; bumped when a call is requeued.
    pub attempt: AtomicU32,
    /// [`cancel`]: read by the handler's `ctx.signal`.
    pub cancel: AtomicU32,
    /// Where the encoded method and arguments are: [`INLINE_PTR`] or a heap address.
    pub arg_ptr: AtomicU32,
    /// Length of the encoded arguments.
    pub arg_len: AtomicU32,
    /// Call flags (reserved: transfer options).
    pub flags: AtomicU32,
    /// The index of the worker that took the call.
    pub worker: AtomicU32,
    /// [`status`] of the result.
    pub res_status: AtomicU32,
    /// The attempt the result belongs to (copied by the worker from `attempt`).
    pub res_attempt: AtomicU32,
    /// Where the encoded result is: [`INLINE_PTR`] or a heap address.
    pub res_ptr: AtomicU32,
    /// Length of the encoded result.
    pub res_len: AtomicU32,
    /// Capacity of the heap buffer at `res_ptr`.
    pub res_cap: AtomicU32,
    _reserved: [AtomicU32; 3],
    /// Inline payload: the arguments, then (once the worker has decoded them) the result.
    pub inline: UnsafeCell<[u8; INLINE_BYTES]>,
}

// SAFETY: every word is atomic; `inline` is written only by the slot's current owner (the
// controller while FREE, the worker while RUNNING), handed over through `state` and the
// rings' Release/Acquire pairs.
unsafe impl Sync for Slot {}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            state: AtomicU32::new(state::FREE),
            call_id: AtomicU32::new(0),
            attempt: AtomicU32::new(0),
            cancel: AtomicU32::new(cancel::NONE),
            arg_ptr: AtomicU32::new(INLINE_PTR),
            arg_len: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            worker: AtomicU32::new(0),
            res_status: AtomicU32::new(status::OK),
            res_attempt: AtomicU32::new(0),
            res_ptr: AtomicU32::new(INLINE_PTR),
            res_len: AtomicU32::new(0),
            res_cap: AtomicU32::new(0),
            _reserved: Default::default(),
            inline: UnsafeCell::new([0; INLINE_BYTES]),
        }
    }
}

impl Slot {
    /// The address of the inline payload bytes.
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

/// A worker's heartbeat cell.
#[repr(C, align(64))]
#[derive(Default)]
pub struct WorkerCell {
    /// Bumped by the worker on every loop turn, while it parks (on each timeout), and by
    /// `ctx.throwIfAborted()`.
    pub beat: AtomicU32,
    /// [`worker_state`] as the worker last wrote it.
    pub state: AtomicU32,
    /// Calls the worker has completed.
    pub completed: AtomicU32,
    /// The slot the worker is running, or `u32::MAX`.
    pub slot: AtomicU32,
}

/// `WorkerCell::state` values.
pub mod worker_state {
    /// Spawned, not yet past its start-up handshake.
    pub const STARTING: u32 = 0;
    /// Looking for work (spinning).
    pub const IDLE: u32 = 1;
    /// Running a handler.
    pub const BUSY: u32 = 2;
    /// Asleep on its task's doorbell.
    pub const PARKED: u32 = 3;
    /// Left its loop for good.
    pub const STOPPED: u32 = 4;
}

/// The constants the JS glue needs, as `(name, value)`.
pub fn constants() -> [(&'static str, u32); 39] {
    [
        ("LAYOUT_VERSION", LAYOUT_VERSION),
        ("INLINE_BYTES", INLINE_BYTES as u32),
        ("INLINE_PTR", INLINE_PTR),
        ("SLOT_SIZE", size_of::<Slot>() as u32),
        ("SLOT_STATE", offset_of!(Slot, state) as u32),
        ("SLOT_CALL_ID", offset_of!(Slot, call_id) as u32),
        ("SLOT_ATTEMPT", offset_of!(Slot, attempt) as u32),
        ("SLOT_CANCEL", offset_of!(Slot, cancel) as u32),
        ("SLOT_ARG_PTR", offset_of!(Slot, arg_ptr) as u32),
        ("SLOT_ARG_LEN", offset_of!(Slot, arg_len) as u32),
        ("SLOT_FLAGS", offset_of!(Slot, flags) as u32),
        ("SLOT_WORKER", offset_of!(Slot, worker) as u32),
        ("SLOT_RES_STATUS", offset_of!(Slot, res_status) as u32),
        ("SLOT_RES_ATTEMPT", offset_of!(Slot, res_attempt) as u32),
        ("SLOT_RES_PTR", offset_of!(Slot, res_ptr) as u32),
        ("SLOT_RES_LEN", offset_of!(Slot, res_len) as u32),
        ("SLOT_RES_CAP", offset_of!(Slot, res_cap) as u32),
        ("SLOT_INLINE", offset_of!(Slot, inline) as u32),
        ("STATE_FREE", state::FREE),
        ("STATE_QUEUED", state::QUEUED),
        ("STATE_RUNNING", state::RUNNING),
        ("STATE_DONE", state::DONE),
        ("STATUS_OK", status::OK),
        ("STATUS_THREW", status::THREW),
        ("CANCEL_NONE", cancel::NONE),
        ("CANCEL_ABORTED", cancel::ABORTED),
        ("CANCEL_TIMED_OUT", cancel::TIMED_OUT),
        ("BELL_SEQ", offset_of!(Doorbell, seq) as u32),
        ("BELL_SLEEPERS", offset_of!(Doorbell, sleepers) as u32),
        ("CELL_SIZE", size_of::<WorkerCell>() as u32),
        ("CELL_BEAT", offset_of!(WorkerCell, beat) as u32),
        ("CELL_STATE", offset_of!(WorkerCell, state) as u32),
        ("CELL_COMPLETED", offset_of!(WorkerCell, completed) as u32),
        ("CELL_SLOT", offset_of!(WorkerCell, slot) as u32),
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
        assert_eq!(size_of::<WorkerCell>(), 64);
        assert_eq!(core::mem::align_of::<Slot>(), 64);
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
