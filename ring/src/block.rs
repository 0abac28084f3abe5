//! The shared state of one task: its work ring and doorbell, its completion ring, its call
//! slots and its workers' heartbeat cells, in one allocation that the controller owns and
//! whose address each of the task's workers receives in its start-up handshake.

use crate::layout::{Doorbell, Slot, WorkerCell};
use crate::ring::{CapacityError, Ring};
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
    /// Rung by the controller after it publishes on `work`; the task's idle workers sleep on it.
    pub work_bell: Doorbell,
    /// Slot indices published for the task's workers to take.
    pub work: Ring,
    /// Slot indices whose result is written, for the controller to take.
    pub done: Ring,
    /// The runtime's completion doorbell (shared by all its tasks): rung by workers after
    /// they publish on `done`; the controller waits on it.
    pub done_bell: Arc<Doorbell>,
    /// The call slots; there are never more calls on workers than slots.
    pub slots: Box<[Slot]>,
    /// One heartbeat cell per worker index.
    pub cells: Box<[WorkerCell]>,
}

impl TaskBlock {
    /// A task with `slots` call slots and `workers` heartbeat cells.
    pub fn new(
        task_index: u32,
        slots: u32,
        workers: u32,
        done_bell: Arc<Doorbell>,
    ) -> Result<TaskBlock, CapacityError> {
        // Room for twice the slots: a ring refuses a push while a consumer that claimed a
        // cell one lap earlier has not let go of it, and more room makes that rarer.
        let cap = Ring::capacity_for(slots.saturating_mul(2));
        Ok(TaskBlock {
            magic: TASK_MAGIC,
            task_index,
            work_bell: Doorbell::default(),
            work: Ring::new(cap)?,
            done: Ring::new(cap)?,
            done_bell,
            slots: (0..slots)
                .map(|_| Slot::default())
                .collect::<Vec<_>>()
                .into(),
            cells: (0..workers)
                .map(|_| WorkerCell::default())
                .collect::<Vec<_>>()
                .into(),
        })
    }

    /// The slot at `index`, if there is one.
    pub fn slot(&self, index: u32) -> Option<&Slot> {
        self.slots.get(index as usize)
    }
}
