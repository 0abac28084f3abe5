//! The shared state of one task: its work queue and doorbell, its call slots, and one cell
//! and completion ring per worker, in one allocation that the page owns. The page hands
//! each worker the addresses it needs in its start-up handshake.

use crate::layout::{result, Doorbell, Slot, WorkerCell, MAX_SLOTS};
use crate::spsc::SpscWords;
use crate::sync::AtomicU32;
use crate::work::{CapacityError, WorkQueue};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Written at the start of every [`TaskBlock`], so a worker handed a wrong address fails
/// loudly instead of reading garbage.
pub const TASK_MAGIC: u32 = 0xA7E1_7A5C;

/// One task's shared state.
#[repr(C)]
pub struct TaskBlock {
    /// [`TASK_MAGIC`].
    pub magic: u32,
    /// The task's index in its runtime.
    pub task_index: u32,
    /// Rung by the page after it publishes work; the task's idle workers sleep on it.
    pub work_bell: Doorbell,
    /// Slot entries published for the task's workers to claim.
    pub queue: WorkQueue,
    /// The runtime's completion doorbell (shared by all its tasks): rung by workers after
    /// they publish a completion or a buffer request; the page waits on it.
    pub done_bell: Arc<Doorbell>,
    /// The call slots: pending and running calls of the task.
    pub slots: Box<[Slot]>,
    /// One cell per worker index.
    pub cells: Box<[WorkerCell]>,
    /// The seats' completion rings, `ring_cap` entries each, seat after seat.
    pub rings: Box<[AtomicU32]>,
    /// The seats' result records (`layout::result`), one beside each ring entry: the record
    /// at ring position `p` of seat `s` is `results[(s * ring_cap + p % ring_cap) * 4..][..4]`.
    pub results: Box<[AtomicU32]>,
    /// Entries of each worker's completion ring: a power of two no smaller than twice the
    /// slots (a worker never holds more completions than there are slots, and the page may
    /// publish how far it has read up to `ring_cap - slots` entries late).
    pub ring_cap: u32,
}

/// Why a task block could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeError {
    /// More slots than [`MAX_SLOTS`], or none.
    Slots(u32),
    /// No workers.
    Workers,
    /// The work queue's capacity.
    Capacity(CapacityError),
    /// The block's bytes do not fit under the runtime's shared-memory ceiling.
    Memory(u64),
}

impl core::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ShapeError::Slots(n) => write!(f, "{n} call slots: a task has 1 to {MAX_SLOTS}"),
            ShapeError::Workers => f.write_str("a task needs at least one worker"),
            ShapeError::Capacity(e) => e.fmt(f),
            ShapeError::Memory(n) => write!(
                f,
                "the task's {n} bytes of shared state do not fit under maxSharedMemoryBytes"
            ),
        }
    }
}

impl TaskBlock {
    /// A task with `slots` call slots and `workers` worker cells.
    pub fn new(
        task_index: u32,
        slots: u32,
        workers: u32,
        done_bell: Arc<Doorbell>,
    ) -> Result<TaskBlock, ShapeError> {
        if slots == 0 || slots > MAX_SLOTS {
            return Err(ShapeError::Slots(slots));
        }
        if workers == 0 {
            return Err(ShapeError::Workers);
        }
        // Room for twice the slots: stale entries of calls already taken (by a worker that
        // stopped before it moved `head`) or dropped can sit in front of pending ones.
        let queue = WorkQueue::new(WorkQueue::capacity_for(slots.saturating_mul(2)))
            .map_err(ShapeError::Capacity)?;
        // Twice the slots: a worker holds at most one entry per slot, and the page may leave
        // up to `ring_cap - slots` entries read but not yet published (it publishes its
        // position once per batch, `Consumer::pop_unpublished`).
        let ring_cap = slots.saturating_mul(2).max(2).next_power_of_two();
        Ok(TaskBlock {
            magic: TASK_MAGIC,
            task_index,
            work_bell: Doorbell::default(),
            queue,
            done_bell,
            slots: (0..slots)
                .map(|_| Slot::default())
                .collect::<Vec<_>>()
                .into(),
            cells: (0..workers)
                .map(|_| WorkerCell::default())
                .collect::<Vec<_>>()
                .into(),
            rings: (0..(ring_cap as usize) * (workers as usize))
                .map(|_| AtomicU32::new(0))
                .collect::<Vec<_>>()
                .into(),
            results: (0..(ring_cap as usize) * (workers as usize) * result::WORDS)
                .map(|_| AtomicU32::new(0))
                .collect::<Vec<_>>()
                .into(),
            ring_cap,
        })
    }

    /// The slot at `index`, if there is one.
    pub fn slot(&self, index: u32) -> Option<&Slot> {
        self.slots.get(index as usize)
    }

    /// Worker `index`'s completion ring.
    pub fn ring(&self, index: u32) -> Option<SpscWords<'_>> {
        let cell = self.cells.get(index as usize)?;
        let at = index as usize * self.ring_cap as usize;
        Some(SpscWords {
            head: &cell.ring_head,
            tail: &cell.ring_tail,
            entries: &self.rings[at..at + self.ring_cap as usize],
        })
    }

    /// The result record of ring position `pos` of seat `seat`.
    pub fn result(&self, seat: u32, pos: u32) -> Option<&[AtomicU32]> {
        if seat as usize >= self.cells.len() {
            return None;
        }
        let at = (seat as usize * self.ring_cap as usize + (pos & (self.ring_cap - 1)) as usize)
            * result::WORDS;
        self.results.get(at..at + result::WORDS)
    }

    /// Bytes of shared memory the block takes (for the page's accounting).
    pub fn footprint(&self) -> usize {
        core::mem::size_of::<TaskBlock>()
            + self.slots.len() * core::mem::size_of::<Slot>()
            + self.cells.len() * core::mem::size_of::<WorkerCell>()
            + (self.rings.len() + self.results.len() + self.queue.capacity() as usize) * 4
    }
}
