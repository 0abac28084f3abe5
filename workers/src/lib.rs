//! The worker side of the dispatch path, as plain Rust over a [`TaskBlock`]: claim a call
//! from the task's work queue ([`WorkerPort::take`]), run it, write its result into the
//! worker's arena and publish it on the worker's completion ring
//! ([`WorkerPort::complete`]), and beat the heartbeat.
//!
//! The browser's workers run the same protocol in JS (`workers/js/worker.js`): they never
//! instantiate the wasm module, so they take no lock and own no allocation in the shared
//! memory (see `docs/design/dispatch-path.md`). This crate is the reference that the native
//! tests drive the controller with, and the port a Rust-handler worker will use.
#![warn(missing_docs)]

use atelier_ring::layout::{
    self, entry, entry_slot, pack, result, state, status, worker_state, GRANT_REFUSED,
};
use atelier_ring::{addr, arena, doorbell, Producer, SpscPushError, TakeError, TaskBlock};
use atelier_ring::{WorkerCell, TASK_MAGIC};
use crossbeam_utils::Backoff;
use std::sync::atomic::{fence, Ordering};

/// A call this worker claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The slot index.
    pub slot: u32,
    /// The slot's generation when it was claimed.
    pub gen: u32,
}

/// What [`WorkerPort::take`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// A call to run.
    Call(Claim),
    /// Nothing pending, or the worker already runs as many calls as its quota allows.
    Empty,
    /// The work queue's words are corrupt.
    Corrupt,
}

/// How [`WorkerPort::complete`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// The result is published.
    Published,
    /// The page took the call back (requeued it or reclaimed this worker) before the result
    /// was published; the result is dropped.
    Discarded,
}

/// Why [`WorkerPort::complete`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteError {
    /// The claim is not a call this worker runs.
    NotRunning(u32),
    /// The status is not one of `layout::status`.
    BadStatus(u32),
    /// The result is larger than the page would grant.
    Refused(u32),
    /// The completion ring is full or corrupt.
    RingCorrupt,
}

impl core::fmt::Display for CompleteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CompleteError::NotRunning(s) => write!(f, "slot {s} is not a call this worker runs"),
            CompleteError::BadStatus(s) => write!(f, "unknown result status {s}"),
            CompleteError::Refused(n) => {
                write!(
                    f,
                    "the page refused {n} bytes of shared memory for a result"
                )
            }
            CompleteError::RingCorrupt => f.write_str("the completion ring is corrupt"),
        }
    }
}

/// Why [`WorkerPort::new`] refused a task block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachError {
    /// The block does not start with [`TASK_MAGIC`].
    NotATask,
    /// The seat has no cell, or the page gave it no owner id or arena.
    NoSuchSeat(u32),
}

/// One worker's handle on its task's shared state.
pub struct WorkerPort<'a> {
    block: &'a TaskBlock,
    seat: u32,
    owner: u32,
    ring: Producer<'a>,
    arena_base: u32,
    arena_cap: u32,
    write: u32,
    running: Vec<Claim>,
}

impl<'a> WorkerPort<'a> {
    /// Attaches to `seat` of `block`, which the page prepared for this worker.
    pub fn new(block: &'a TaskBlock, seat: u32) -> Result<Self, AttachError> {
        if block.magic != TASK_MAGIC {
            return Err(AttachError::NotATask);
        }
        let (Some(cell), Some(words)) = (block.cells.get(seat as usize), block.ring(seat)) else {
            return Err(AttachError::NoSuchSeat(seat));
        };
        let owner = cell.owner.load(Ordering::Acquire);
        let arena_base = cell.arena_base.load(Ordering::Relaxed);
        let arena_cap = cell.arena_cap.load(Ordering::Relaxed);
        if owner == 0 || !arena_cap.is_power_of_two() || !addr::holds(arena_base, arena_cap) {
            return Err(AttachError::NoSuchSeat(seat));
        }
        let port = WorkerPort {
            block,
            seat,
            owner,
            // A fresh seat's ring and arena start at 0 (the page's attach sets them so); they
            // are not read back, since another worker may have written over them since.
            ring: Producer::new(words, 0),
            arena_base,
            arena_cap,
            write: 0,
            running: Vec::new(),
        };
        // Relaxed: the page reads the ring's tail with Acquire after entries are pushed.
        cell.ring_tail.store(0, Ordering::Relaxed);
        port.set_phase(worker_state::IDLE);
        Ok(port)
    }

    fn cell(&self) -> &'a WorkerCell {
        &self.block.cells[self.seat as usize]
    }

    fn set_phase(&self, s: u32) {
        // Relaxed: the phase is advisory (snapshots, the watchdog); nothing is published by it.
        self.cell().phase.store(s, Ordering::Relaxed);
    }

    /// Bumps the heartbeat.
    pub fn beat(&self) {
        // Relaxed: the watchdog only needs to see the counter move eventually.
        self.cell().beat.fetch_add(1, Ordering::Relaxed);
    }

    /// Records that the worker is about to sleep on the task's doorbell (or woke up).
    pub fn set_parked(&self, parked: bool) {
        self.set_phase(if parked {
            worker_state::PARKED
        } else {
            worker_state::IDLE
        });
    }

    /// Calls this worker runs now.
    pub fn running(&self) -> &[Claim] {
        &self.running
    }

    /// Claims the call the page handed to this worker alone (PENDING with this worker's
    /// owner id, on no queue; the page names its slot and generation in a message), if the
    /// worker's quota leaves room for it. `Take::Empty` when there is no room (try again
    /// after a completion) or the call is gone (the page cancelled it, or took it back).
    pub fn claim_handed(&mut self, slot: u32, gen: u32) -> Take {
        if !self.has_room() {
            return Take::Empty;
        }
        let Some(s) = self.block.slots.get(slot as usize) else {
            return Take::Empty;
        };
        let gen = gen & layout::STATE_GEN_MASK;
        // Acquire: pairs with the page's Release store of PENDING, so the envelope is visible.
        let ok = s
            .state
            .compare_exchange(
                pack(state::PENDING, self.owner, gen),
                pack(state::RUNNING, self.owner, gen),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok();
        if !ok {
            return Take::Empty;
        }
        self.claimed(Claim { slot, gen })
    }

    /// Whether the worker's quota leaves room for one more call.
    fn has_room(&self) -> bool {
        // Relaxed: the quota is a limit the page may change at any time; a stale value only
        // delays the change by one call.
        let quota = self.cell().quota.load(Ordering::Relaxed);
        (self.running.len() as u32) < quota
    }

    /// The bookkeeping of a claim: the call runs on this worker now.
    fn claimed(&mut self, c: Claim) -> Take {
        self.running.push(c);
        self.publish_running();
        self.set_phase(worker_state::BUSY);
        self.beat();
        Take::Call(c)
    }

    /// Claims the oldest pending call, if the worker's quota leaves room for one.
    pub fn take(&mut self) -> Take {
        if !self.has_room() {
            return Take::Empty;
        }
        let slots = &self.block.slots;
        let owner = self.owner;
        let mut claimed = None;
        let got = self.block.queue.take(|e| {
            let (index, gen) = (entry_slot(e), layout::gen(e));
            let Some(slot) = slots.get(index as usize) else {
                return false; // an index out of range cannot be a call: skip it
            };
            // Acquire: pairs with the page's Release store of PENDING, so the envelope is
            // visible. Only this exact publication is claimable: a slot the page dropped,
            // requeued (a later generation) or that another worker claimed is skipped.
            let ok = slot
                .state
                .compare_exchange(
                    pack(state::PENDING, 0, gen),
                    pack(state::RUNNING, owner, gen),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok();
            if ok {
                claimed = Some(Claim { slot: index, gen });
            }
            ok
        });
        match (got, claimed) {
            (Ok(_), Some(c)) => self.claimed(c),
            (Err(TakeError::Corrupt), _) => Take::Corrupt,
            _ => Take::Empty,
        }
    }

    fn publish_running(&self) {
        // Relaxed: advisory, like the phase.
        self.cell()
            .running
            .store(self.running.len() as u32, Ordering::Relaxed);
    }

    /// Publishes the result of a call this worker runs: `status` and the encoded `bytes`.
    pub fn complete(
        &mut self,
        claim: Claim,
        result_status: u32,
        bytes: &[u8],
    ) -> Result<Completed, CompleteError> {
        let Some(at) = self.running.iter().position(|c| *c == claim) else {
            return Err(CompleteError::NotRunning(claim.slot));
        };
        let kind = result_status & !status::SIDE;
        if kind != status::OK && kind != status::THREW {
            return Err(CompleteError::BadStatus(result_status));
        }
        self.running.swap_remove(at);
        self.publish_running();
        let len = bytes.len() as u32;
        let (ptr, end) = self.place(len)?;
        // SAFETY: `ptr .. ptr + len` lies inside this worker's arena (place checked it against
        // the page's read position) or inside a buffer the page granted to it alone.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), addr::from_word(ptr), bytes.len())
        };
        // The result's description goes into the record beside the ring position the entry
        // will fill: memory of this worker's seat, never the slot (a terminated worker that
        // lost the slot to a requeue must not touch what the next attempt writes).
        let pos = self.ring.position();
        let Some(record) = self.block.result(self.seat, pos) else {
            return Err(CompleteError::RingCorrupt);
        };
        // Relaxed: published with the entry by the ring's Release store of its tail.
        record[result::STATUS].store(result_status, Ordering::Relaxed);
        record[result::PTR].store(ptr, Ordering::Relaxed);
        record[result::LEN].store(len, Ordering::Relaxed);
        record[result::END].store(end.unwrap_or(0), Ordering::Relaxed);
        let slot = &self.block.slots[claim.slot as usize];
        let done = pack(state::DONE, self.owner, claim.gen);
        // Release: the result bytes written above happen-before the page's Acquire load of
        // DONE. RUNNING or ABANDONED (the page already settled the call) both move to DONE;
        // anything else means the page took the call back.
        let published = [state::RUNNING, state::ABANDONED].into_iter().any(|kind| {
            slot.state
                .compare_exchange(
                    pack(kind, self.owner, claim.gen),
                    done,
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .is_ok()
        });
        if !published {
            // A granted buffer stays with this worker's seat: the page frees it when it
            // reclaims the seat. Relaxed: advisory.
            self.cell().discarded.fetch_add(1, Ordering::Relaxed);
            self.finish_turn();
            return Ok(Completed::Discarded);
        }
        if let Some(end) = end {
            self.write = end;
            // Relaxed: advisory.
            self.cell().arena_write.store(end, Ordering::Relaxed);
        }
        match self.ring.push(entry(claim.slot, claim.gen)) {
            Ok(()) => {}
            Err(SpscPushError::Full(_) | SpscPushError::Corrupt(_)) => {
                return Err(CompleteError::RingCorrupt)
            }
        }
        // Relaxed: advisory.
        self.cell().completed.fetch_add(1, Ordering::Relaxed);
        self.finish_turn();
        self.wake_page();
        Ok(Completed::Published)
    }

    fn finish_turn(&self) {
        if self.running.is_empty() {
            self.set_phase(worker_state::IDLE);
        }
    }

    /// Finds room for a result of `len` bytes: in the arena (waiting for the page to read
    /// earlier results when it is full), or in a buffer the page grants when the arena is too
    /// small for it. Returns its address and its arena end position (`None` for a granted
    /// buffer).
    fn place(&mut self, len: u32) -> Result<(u32, Option<u32>), CompleteError> {
        let cap = self.arena_cap;
        if len <= cap {
            let backoff = Backoff::new();
            loop {
                // Acquire: pairs with the page's Release store after it read the results
                // before this position, so we never overwrite bytes it is still reading.
                let read = self.cell().arena_read.load(Ordering::Acquire);
                if let Some(start) = arena::place(cap, read, self.write, len) {
                    let ptr = self.arena_base + (start & (cap - 1));
                    return Ok((ptr, Some(arena::end_of(start, len))));
                }
                self.wake_page();
                backoff.snooze();
            }
        }
        self.grant(len).map(|p| (p, None))
    }

    /// Asks the page for a buffer of `len` bytes and waits for its answer.
    fn grant(&mut self, len: u32) -> Result<u32, CompleteError> {
        let cell = self.cell();
        let backoff = Backoff::new();
        // Wait until the previous grant was returned (the page reads its result first).
        while cell.req_ptr.load(Ordering::Acquire) != 0 {
            self.wake_page();
            backoff.snooze();
        }
        // Release: the page reads the request after it was rung.
        cell.req_len.store(len, Ordering::Release);
        let answer = loop {
            // Acquire: pairs with the page's Release store of the buffer's address.
            let p = cell.req_ptr.load(Ordering::Acquire);
            if p != 0 {
                break p;
            }
            self.wake_page();
            backoff.snooze();
        };
        cell.req_len.store(0, Ordering::Relaxed);
        if answer == GRANT_REFUSED {
            return Err(CompleteError::Refused(len));
        }
        Ok(answer)
    }

    /// Wakes the page if it counts itself asleep on the completion doorbell (it reads
    /// results and answers buffer requests when it wakes).
    fn wake_page(&self) {
        // SeqCst: the publisher's half of the doorbell's Dekker pair (`ring_if_watched`):
        // what this worker published (the ring's tail, a request) before the page's count.
        fence(Ordering::SeqCst);
        if self.block.done_bell.ring_if_watched() {
            doorbell::notify(&self.block.done_bell, 1);
        }
    }

    /// The task this worker serves.
    pub fn block(&self) -> &'a TaskBlock {
        self.block
    }

    /// This worker's seat.
    pub fn seat(&self) -> u32 {
        self.seat
    }
}
