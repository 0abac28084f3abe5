//! The controller binding: one `RuntimeCore` per `createTaskRuntime()`, used from the page's
//! thread only (it never blocks, so it never traps there).

use super::addr;
use crate::core::{Controller, Invalid, Outcome, Poll, SubmitError, TaskShape};
use wasm_bindgen::prelude::*;

/// `RuntimeCore::poll`'s out-record, read by the JS glue at `out_addr()`.
const OUT_CALL_ID: usize = 0;
const OUT_OUTCOME: usize = 1;
const OUT_PTR: usize = 2;
const OUT_LEN: usize = 3;
const OUT_WORKER: usize = 4;

/// The runtime's controller, as the JS glue sees it.
#[wasm_bindgen]
pub struct RuntimeCore {
    ctl: Controller,
    out: Box<[u32; 8]>,
    invalid: Option<Invalid>,
}

#[wasm_bindgen]
impl RuntimeCore {
    /// A controller with no tasks.
    #[wasm_bindgen(constructor)]
    pub fn new() -> RuntimeCore {
        RuntimeCore {
            ctl: Controller::new(),
            out: Box::new([0; 8]),
            invalid: None,
        }
    }

    /// Creates a task with `max_in_flight` slots and `workers` heartbeat cells.
    #[wasm_bindgen(js_name = defineTask)]
    pub fn define_task(&mut self, max_in_flight: u32, workers: u32) -> Result<u32, JsError> {
        self.ctl
            .define_task(TaskShape {
                max_in_flight,
                workers,
            })
            .map_err(|e| JsError::new(&format!("maxInFlight: {e}")))
    }

    /// Forgets a task (after its workers were terminated).
    #[wasm_bindgen(js_name = removeTask)]
    pub fn remove_task(&mut self, task: u32) {
        let _ = self.ctl.remove_task(task);
    }

    /// The address of the task's shared block, for its workers' handshake.
    #[wasm_bindgen(js_name = taskAddr)]
    pub fn task_addr(&self, task: u32) -> u32 {
        self.ctl.block(task).map_or(0, |b| addr(&**b))
    }

    /// The address of the task's first call slot.
    #[wasm_bindgen(js_name = slotsAddr)]
    pub fn slots_addr(&self, task: u32) -> u32 {
        self.ctl.block(task).map_or(0, |b| addr(b.slots.as_ptr()))
    }

    /// The address of the task's first heartbeat cell.
    #[wasm_bindgen(js_name = cellsAddr)]
    pub fn cells_addr(&self, task: u32) -> u32 {
        self.ctl.block(task).map_or(0, |b| addr(b.cells.as_ptr()))
    }

    /// The address of the completion doorbell the page's thread waits on.
    #[wasm_bindgen(js_name = doneBellAddr)]
    pub fn done_bell_addr(&self) -> u32 {
        addr(self.ctl.done_bell())
    }

    /// The address of `poll`'s out-record.
    #[wasm_bindgen(js_name = outAddr)]
    pub fn out_addr(&self) -> u32 {
        addr(self.out.as_ptr())
    }

    /// Makes the staging buffer hold `need` bytes (keeping the first `keep`); returns its
    /// address, or 0 when shared memory is out.
    pub fn reserve(&mut self, need: u32, keep: u32) -> u32 {
        match self.ctl.reserve(need, keep) {
            Some((ptr, cap)) => {
                self.out[OUT_LEN] = cap;
                addr(ptr)
            }
            None => 0,
        }
    }

    /// The staging buffer's capacity after the last `reserve`.
    #[wasm_bindgen(js_name = stagingCap)]
    pub fn staging_cap(&self) -> u32 {
        self.out[OUT_LEN]
    }

    /// Submits a call whose arguments are the first `len` staging bytes; returns its id.
    pub fn submit(&mut self, task: u32, len: u32) -> Result<u32, JsError> {
        self.ctl.submit(task, len).map_err(|e| match e {
            SubmitError::NoSuchTask(t) => JsError::new(&format!("task {t} is disposed")),
            SubmitError::TooLong(n) => JsError::new(&format!(
                "internal: {n} bytes submitted beyond the staging buffer"
            )),
            SubmitError::RingCorrupt => JsError::new(
                "the task's work ring in shared memory is corrupt (a worker wrote over it)",
            ),
        })
    }

    /// Retries publishing calls the work ring refused for now; returns how many still wait.
    pub fn flush(&mut self, task: u32) -> u32 {
        self.ctl.flush(task).unwrap_or(0)
    }

    /// Takes the next finished call of `task` into the out-record; false when there is none.
    pub fn poll(&mut self, task: u32) -> bool {
        match self.ctl.poll(task) {
            Ok(Poll::Done(c)) => {
                self.out[OUT_CALL_ID] = c.call_id;
                self.out[OUT_OUTCOME] = match c.outcome {
                    Outcome::Returned => 0,
                    Outcome::Threw => 1,
                    Outcome::Invalid(why) => {
                        self.invalid = Some(why);
                        2
                    }
                };
                self.out[OUT_PTR] = c.ptr as u32;
                self.out[OUT_LEN] = c.len;
                self.out[OUT_WORKER] = c.worker;
                true
            }
            Ok(Poll::Empty) | Err(_) => false,
        }
    }

    /// Why the last polled completion was invalid.
    #[wasm_bindgen(js_name = invalidReason)]
    pub fn invalid_reason(&self) -> String {
        self.invalid.map(|i| i.to_string()).unwrap_or_default()
    }

    /// Calls of the task on workers.
    #[wasm_bindgen(js_name = inFlight)]
    pub fn in_flight(&self, task: u32) -> u32 {
        self.ctl.depths(task).map_or(0, |d| d.0)
    }

    /// Calls of the task accepted but not started.
    pub fn pending(&self, task: u32) -> u32 {
        self.ctl.depths(task).map_or(0, |d| d.1)
    }
}

impl Default for RuntimeCore {
    fn default() -> Self {
        Self::new()
    }
}
