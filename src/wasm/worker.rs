//! The worker binding: one `WorkerCore` per worker, attached to its task's shared block by
//! the address the start-up handshake carried.

use super::addr;
use atelier_ring::layout::INLINE_BYTES;
use atelier_ring::{addr as words, TaskBlock};
use atelier_workers::{AttachError, Take, WorkerPort};
use wasm_bindgen::prelude::*;

/// A worker's handle on its task, as the JS harness sees it.
#[wasm_bindgen]
pub struct WorkerCore {
    port: WorkerPort<'static>,
    staging_cap: u32,
}

#[wasm_bindgen]
impl WorkerCore {
    /// Attaches worker `index` to the task block at `task_addr`.
    #[wasm_bindgen(constructor)]
    pub fn new(task_addr: u32, index: u32) -> Result<WorkerCore, JsError> {
        let size = core::mem::size_of::<TaskBlock>() as u32;
        if task_addr % 8 != 0 || !words::holds(task_addr, size) {
            return Err(JsError::new("the handshake named no task block"));
        }
        // SAFETY: the address comes from the controller's handshake (the page's own code),
        // is aligned and inside memory, and the controller keeps the block alive while any
        // of the task's workers runs; `WorkerPort::new` checks its magic word.
        let block: &'static TaskBlock = unsafe { &*(task_addr as usize as *const TaskBlock) };
        let port = WorkerPort::new(block, index).map_err(|e| match e {
            AttachError::NotATask => JsError::new("the handshake named no task block"),
            AttachError::NoSuchWorker(i) => JsError::new(&format!("the task has no worker {i}")),
        })?;
        Ok(WorkerCore {
            port,
            staging_cap: 0,
        })
    }

    /// The next call's slot index, -1 when there is none, -2 when the ring is corrupt.
    pub fn take(&mut self) -> i32 {
        match self.port.take() {
            Take::Call(s) => s as i32,
            Take::Empty => -1,
            Take::Corrupt => -2,
        }
    }

    /// Makes the staging buffer hold `need` bytes (keeping the first `keep`); returns its
    /// address, or 0 when shared memory is out.
    pub fn reserve(&mut self, need: u32, keep: u32) -> u32 {
        match self.port.reserve(need, keep) {
            Some((ptr, cap)) => {
                self.staging_cap = cap;
                addr(ptr)
            }
            None => 0,
        }
    }

    /// The staging buffer's capacity after the last `reserve`.
    #[wasm_bindgen(js_name = stagingCap)]
    pub fn staging_cap(&self) -> u32 {
        self.staging_cap
    }

    /// Publishes the running call's result: `len` staging bytes. Returns true when the
    /// staging buffer went with it (reserve again before the next result).
    pub fn complete(&mut self, slot: u32, status: u32, len: u32) -> Result<bool, JsError> {
        self.port
            .complete(slot, status, len)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(len as usize > INLINE_BYTES)
    }

    /// Bumps the heartbeat.
    pub fn beat(&self) {
        self.port.beat();
    }

    /// Records that the worker sleeps (or woke up).
    #[wasm_bindgen(js_name = setParked)]
    pub fn set_parked(&self, parked: bool) {
        self.port.set_parked(parked);
    }

    /// The address of the task's work doorbell.
    #[wasm_bindgen(js_name = workBellAddr)]
    pub fn work_bell_addr(&self) -> u32 {
        addr(&self.port.block().work_bell)
    }

    /// The address of the task's first call slot.
    #[wasm_bindgen(js_name = slotsAddr)]
    pub fn slots_addr(&self) -> u32 {
        addr(self.port.block().slots.as_ptr())
    }

    /// How many slots the task has.
    #[wasm_bindgen(js_name = slotCount)]
    pub fn slot_count(&self) -> u32 {
        self.port.block().slots.len() as u32
    }
}
