//! The worker side of the dispatch path, as plain Rust over a [`TaskBlock`]: take a call
//! off the task's work ring ([`WorkerPort::take`]), let the JS harness decode and run it,
//! publish its result ([`WorkerPort::complete`]), and beat the heartbeat.
//!
//! The JS harness that drives this (`createTaskWorker`, the start-up handshake and the
//! pull loop) is `workers/js/worker.js`; the wasm binding is in the runtime crate.
#![warn(missing_docs)]

use atelier_ring::layout::{state, status, worker_state, INLINE_BYTES, INLINE_PTR};
use atelier_ring::{doorbell, HeapBuf, PopError, PushError, TaskBlock, WorkerCell, TASK_MAGIC};
use std::sync::atomic::Ordering;

/// What [`WorkerPort::take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// A call to run: the slot index.
    Call(u32),
    /// Nothing published.
    Empty,
    /// The work ring's words are corrupt.
    Corrupt,
}

/// How often [`WorkerPort::complete`] retries a completion ring that is momentarily full
/// (a few hundred milliseconds of spinning) before it calls the ring corrupt.
const FULL_RETRIES: u32 = 1 << 26;

/// Why [`WorkerPort::complete`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteError {
    /// The slot is not the call this worker is running.
    NotRunning(u32),
    /// `len` is more than the staging buffer holds.
    TooLong(u32),
    /// The status is not one of `layout::status`.
    BadStatus(u32),
    /// The completion ring is full or corrupt.
    RingCorrupt,
}

impl core::fmt::Display for CompleteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CompleteError::NotRunning(s) => write!(f, "slot {s} is not the call this worker runs"),
            CompleteError::TooLong(n) => write!(f, "result length {n} exceeds the staging buffer"),
            CompleteError::BadStatus(s) => write!(f, "unknown result status {s}"),
            CompleteError::RingCorrupt => f.write_str("the completion ring is corrupt"),
        }
    }
}

/// Why [`WorkerPort::new`] refused a task block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachError {
    /// The block does not start with [`TASK_MAGIC`].
    NotATask,
    /// The worker index has no heartbeat cell.
    NoSuchWorker(u32),
}

/// One worker's handle on its task's shared state.
pub struct WorkerPort<'a> {
    block: &'a TaskBlock,
    index: u32,
    staging: Option<HeapBuf>,
    running: Option<u32>,
}

impl<'a> WorkerPort<'a> {
    /// Attaches worker `index` to `block`.
    pub fn new(block: &'a TaskBlock, index: u32) -> Result<Self, AttachError> {
        if block.magic != TASK_MAGIC {
            return Err(AttachError::NotATask);
        }
        if index as usize >= block.cells.len() {
            return Err(AttachError::NoSuchWorker(index));
        }
        let port = WorkerPort {
            block,
            index,
            staging: None,
            running: None,
        };
        port.set_state(worker_state::IDLE);
        Ok(port)
    }

    fn cell(&self) -> &WorkerCell {
        &self.block.cells[self.index as usize]
    }

    fn set_state(&self, s: u32) {
        // Relaxed: the cell is advisory (snapshots, the watchdog); nothing is published by it.
        self.cell().state.store(s, Ordering::Relaxed);
    }

    /// Bumps the heartbeat.
    pub fn beat(&self) {
        // Relaxed: the watchdog only needs to see the counter move eventually.
        self.cell().beat.fetch_add(1, Ordering::Relaxed);
    }

    /// Records that the worker is about to sleep on the task's doorbell (or woke up).
    pub fn set_parked(&self, parked: bool) {
        self.set_state(if parked {
            worker_state::PARKED
        } else {
            worker_state::IDLE
        });
    }

    /// Takes the next call off the work ring and marks it running on this worker.
    pub fn take(&mut self) -> Take {
        if let Some(slot) = self.running {
            return Take::Call(slot);
        }
        // Bounded: every entry is either taken or skipped, and the ring holds at most
        // `capacity` of them.
        for _ in 0..=self.block.work.capacity() {
            let index = match self.block.work.pop() {
                Ok(index) => index,
                Err(PopError::Empty) => return Take::Empty,
                Err(PopError::Corrupt) => return Take::Corrupt,
            };
            let Some(slot) = self.block.slot(index) else {
                continue; // an index out of range cannot be a call: skip it
            };
            // Acquire: the controller's Release store of QUEUED (and the ring's Release
            // publish) make the envelope visible. Only a QUEUED slot is a call to run; a
            // slot the controller took back (a cancel, a requeue) is skipped.
            if slot
                .state
                .compare_exchange(
                    state::QUEUED,
                    state::RUNNING,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                slot.worker.store(self.index, Ordering::Relaxed);
                self.cell().slot.store(index, Ordering::Relaxed);
                self.set_state(worker_state::BUSY);
                self.beat();
                self.running = Some(index);
                return Take::Call(index);
            }
        }
        Take::Corrupt
    }

    /// Makes sure the staging buffer holds at least `need` bytes, keeping its first `keep`
    /// bytes; returns its address and capacity, or `None` when memory is out.
    pub fn reserve(&mut self, need: u32, keep: u32) -> Option<(*mut u8, u32)> {
        atelier_ring::reserve_staging(&mut self.staging, need, keep)
    }

    /// Publishes the result of the running call: `len` bytes from the staging buffer.
    pub fn complete(
        &mut self,
        slot_index: u32,
        result_status: u32,
        len: u32,
    ) -> Result<(), CompleteError> {
        if self.running != Some(slot_index) {
            return Err(CompleteError::NotRunning(slot_index));
        }
        if result_status != status::OK && result_status != status::THREW {
            return Err(CompleteError::BadStatus(result_status));
        }
        let have = self.staging.as_ref().map_or(0, HeapBuf::capacity);
        if len > have {
            return Err(CompleteError::TooLong(len));
        }
        let slot = &self.block.slots[slot_index as usize];
        if len as usize <= INLINE_BYTES {
            if let Some(buf) = &self.staging {
                // SAFETY: the slot is RUNNING on this worker, so its inline bytes are ours
                // until we publish; `len` fits both the staging buffer and the inline bytes.
                unsafe {
                    core::ptr::copy_nonoverlapping(buf.as_ptr(), slot.inline_ptr(), len as usize)
                };
            }
            slot.res_ptr.store(INLINE_PTR, Ordering::Relaxed);
            slot.res_cap.store(0, Ordering::Relaxed);
        } else {
            let (ptr, cap) = self
                .staging
                .take()
                .map(HeapBuf::into_raw)
                .unwrap_or((core::ptr::null_mut(), 0));
            slot.res_ptr
                .store(atelier_ring::addr::to_word(ptr), Ordering::Relaxed);
            slot.res_cap.store(cap, Ordering::Relaxed);
        }
        slot.res_status.store(result_status, Ordering::Relaxed);
        slot.res_len.store(len, Ordering::Relaxed);
        // Relaxed: published with the words above by the Release store of DONE and the
        // ring's Release publish.
        let attempt = slot.attempt.load(Ordering::Relaxed);
        slot.res_attempt.store(attempt, Ordering::Relaxed);
        slot.state.store(state::DONE, Ordering::Release);
        self.running = None;
        let cell = self.cell();
        cell.slot.store(u32::MAX, Ordering::Relaxed);
        cell.completed.fetch_add(1, Ordering::Relaxed);
        self.set_state(worker_state::IDLE);
        // The completion ring has room for every slot, but the controller may hold a cell it
        // claimed one lap earlier (descheduled mid-pop): wait for it to let go.
        let mut tries: u32 = 0;
        loop {
            match self.block.done.push(slot_index) {
                Ok(()) => break,
                Err(PushError::Full(_)) if tries < FULL_RETRIES => {
                    tries += 1;
                    core::hint::spin_loop();
                }
                Err(_) => return Err(CompleteError::RingCorrupt),
            }
        }
        if self.block.done_bell.ring() {
            doorbell::notify(&self.block.done_bell, 1);
        }
        Ok(())
    }

    /// The task this worker serves.
    pub fn block(&self) -> &'a TaskBlock {
        self.block
    }

    /// This worker's index.
    pub fn index(&self) -> u32 {
        self.index
    }
}
