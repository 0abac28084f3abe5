//! The controller binding: one `RuntimeCore` per `createTaskRuntime()`, used from the page's
//! thread only (it never blocks, so it never traps there).

use super::addr;
use crate::core::{
    AttachError, Cancelled, Controller, CrashPolicy, Decision, Outcome, Poll, SubmitError,
    TaskShape, Verdict,
};
use wasm_bindgen::prelude::*;

/// `RuntimeCore::poll`'s out-record, read by the JS glue at `out_addr()`.
const OUT_CALL_ID: usize = 0;
const OUT_OUTCOME: usize = 1;
const OUT_PTR: usize = 2;
const OUT_LEN: usize = 3;
const OUT_WORKER: usize = 4;
/// When the worker began the call (`Slot::started`).
const OUT_STARTED: usize = 6;
/// Which run of the call finished (1 on the first).
const OUT_ATTEMPT: usize = 7;
/// `reserve`'s capacity.
const OUT_CAP: usize = 5;
/// The seat of the worker that ran the call.
const OUT_SEAT: usize = 8;
/// `submit_to`'s slot and generation.
const OUT_HANDED_SLOT: usize = 9;
const OUT_HANDED_GEN: usize = 10;

/// The runtime's controller, as the JS glue sees it.
#[wasm_bindgen]
pub struct RuntimeCore {
    ctl: Controller,
    out: Box<[u32; 11]>,
    invalid: String,
}

fn submit_error(e: SubmitError) -> JsError {
    match e {
        SubmitError::NoSuchTask(t) => JsError::new(&format!("task {t} is disposed")),
        SubmitError::TooLong(n) => JsError::new(&format!(
            "internal: {n} bytes submitted beyond the staging buffer"
        )),
    }
}

#[wasm_bindgen]
impl RuntimeCore {
    /// A controller with no tasks.
    #[wasm_bindgen(constructor)]
    pub fn new() -> RuntimeCore {
        RuntimeCore {
            ctl: Controller::new(),
            out: Box::new([0; 11]),
            invalid: String::new(),
        }
    }

    /// Sets the shared-memory ceiling (`maxSharedMemoryBytes`).
    #[wasm_bindgen(js_name = setCeiling)]
    pub fn set_ceiling(&self, bytes: f64) {
        self.ctl.meter().set_ceiling(bytes as u64);
    }

    /// Bytes of shared memory the runtime holds now.
    #[wasm_bindgen(js_name = bytesInUse)]
    pub fn bytes_in_use(&self) -> f64 {
        self.ctl.meter().used() as f64
    }

    /// `[bytes, slots, waiting, seats, retired, staging]`, from the controller's own
    /// accounting.
    pub fn occupancy(&self) -> Vec<f64> {
        let o = self.ctl.occupancy();
        vec![
            o.bytes as f64,
            f64::from(o.slots),
            f64::from(o.waiting),
            f64::from(o.seats),
            f64::from(o.retired),
            o.staging as f64,
        ]
    }

    /// Creates a task with `slots` call slots (at least `max_in_flight`) for `workers` workers.
    #[wasm_bindgen(js_name = defineTask)]
    pub fn define_task(
        &mut self,
        max_in_flight: u32,
        workers: u32,
        slots: u32,
    ) -> Result<u32, JsError> {
        self.ctl
            .define_task(TaskShape {
                max_in_flight,
                workers,
                slots,
            })
            .map_err(|e| JsError::new(&format!("defineTask: {e}")))
    }

    /// Forgets a task (after its workers were terminated); returns the ids of its calls.
    #[wasm_bindgen(js_name = removeTask)]
    pub fn remove_task(&mut self, task: u32) -> Vec<u32> {
        self.ctl.remove_task(task).unwrap_or_default()
    }

    /// Frees a removed task's shared memory (after the quarantine).
    #[wasm_bindgen(js_name = releaseTask)]
    pub fn release_task(&mut self, task: u32) {
        self.ctl.release_task(task);
    }

    /// The addresses a worker of the task needs: `[slots, slotCount, cells, queueHead,
    /// queueTail, queueEntries, queueCap, workBell, doneBell, rings, ringCap, results]`.
    #[wasm_bindgen(js_name = taskInfo)]
    pub fn task_info(&self, task: u32) -> Vec<u32> {
        let Ok(b) = self.ctl.block(task) else {
            return Vec::new();
        };
        vec![
            addr(b.slots.as_ptr()),
            b.slots.len() as u32,
            addr(b.cells.as_ptr()),
            addr(b.queue.head_word()),
            addr(b.queue.tail_word()),
            addr(b.queue.entries().as_ptr()),
            b.queue.capacity(),
            addr(&b.work_bell),
            addr(&*b.done_bell),
            addr(b.rings.as_ptr()),
            b.ring_cap,
            addr(b.results.as_ptr()),
        ]
    }

    /// Gives worker `index` of the task a seat; returns it, or -1 while both of the index's
    /// seats are quarantined, -2 beyond the shared-memory ceiling, -3 for no such worker.
    pub fn attach(&mut self, task: u32, index: u32) -> i32 {
        match self.ctl.attach(task, index) {
            Ok(g) => g.seat as i32,
            Err(AttachError::Busy) => -1,
            Err(AttachError::Memory) => -2,
            Err(AttachError::NoSuchWorker(_)) => -3,
        }
    }

    /// Declares the worker on `seat` dead; returns the ids of the calls that fail with it
    /// (none when `requeue`).
    pub fn reclaim(&mut self, task: u32, seat: u32, requeue: bool) -> Result<Vec<u32>, JsError> {
        self.ctl
            .reclaim(task, seat, requeue)
            .map_err(|e| submit_error(SubmitError::NoSuchTask(e.0)))
    }

    /// Ends a seat's quarantine; false while completions recovered from it wait to be polled.
    #[wasm_bindgen(js_name = releaseSeat)]
    pub fn release_seat(&mut self, task: u32, seat: u32) -> bool {
        self.ctl.release_seat(task, seat).unwrap_or(true)
    }

    /// Cancels a call: 1 dropped (it never runs), 2 running (flagged; its result will be
    /// discarded), 0 unknown.
    pub fn cancel(&mut self, task: u32, call_id: u32, code: u32) -> u32 {
        match self.ctl.cancel(task, call_id, code) {
            Ok(Cancelled::Dropped) => 1,
            Ok(Cancelled::Running) => 2,
            Ok(Cancelled::Unknown) | Err(_) => 0,
        }
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
    /// address, or 0 beyond the shared-memory ceiling.
    pub fn reserve(&mut self, need: u32, keep: u32) -> u32 {
        match self.ctl.reserve(need, keep) {
            Some((ptr, cap)) => {
                self.out[OUT_CAP] = cap;
                addr(ptr)
            }
            None => 0,
        }
    }

    /// Whether workers write when they start a call (someone observes the runtime).
    #[wasm_bindgen(js_name = setTimed)]
    pub fn set_timed(&mut self, timed: bool) {
        self.ctl.set_timed(timed);
    }

    /// Calls of `task` requeued after their worker died, so far.
    pub fn requeued(&self, task: u32) -> f64 {
        self.ctl.requeued(task).unwrap_or(0) as f64
    }

    /// Drops the argument buffers kept for reuse (the page calls it once idle).
    pub fn trim(&mut self) {
        self.ctl.trim();
    }

    /// The staging buffer's capacity after the last `reserve`.
    #[wasm_bindgen(js_name = stagingCap)]
    pub fn staging_cap(&self) -> u32 {
        self.out[OUT_CAP]
    }

    /// Submits a call whose arguments are the first `len` staging bytes; returns its id.
    pub fn submit(&mut self, task: u32, len: u32) -> Result<u32, JsError> {
        self.ctl.submit(task, len).map_err(submit_error)
    }

    /// Submits a call whose arguments are the first `len` staging bytes to the worker on
    /// `seat` alone; returns its id (its slot and generation in the out-record), or 0 when it
    /// cannot be handed to that worker now (nothing was submitted).
    #[wasm_bindgen(js_name = submitTo)]
    pub fn submit_to(&mut self, task: u32, len: u32, seat: u32) -> Result<u32, JsError> {
        match self.ctl.submit_to(task, len, seat).map_err(submit_error)? {
            Some((id, slot, gen)) => {
                self.out[OUT_HANDED_SLOT] = slot;
                self.out[OUT_HANDED_GEN] = gen;
                Ok(id)
            }
            None => Ok(0),
        }
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
                        self.invalid = why.to_string();
                        2
                    }
                };
                self.out[OUT_PTR] = c.ptr as u32;
                self.out[OUT_LEN] = c.len;
                self.out[OUT_WORKER] = c.worker;
                self.out[OUT_SEAT] = c.seat;
                self.out[OUT_STARTED] = c.started;
                self.out[OUT_ATTEMPT] = c.attempt;
                true
            }
            Ok(Poll::Empty) | Err(_) => false,
        }
    }

    /// Why the last polled completion was invalid.
    #[wasm_bindgen(js_name = invalidReason)]
    pub fn invalid_reason(&self) -> String {
        self.invalid.clone()
    }

    /// Calls of the task running on workers.
    #[wasm_bindgen(js_name = inFlight)]
    pub fn in_flight(&self, task: u32) -> u32 {
        self.ctl.running(task).unwrap_or(0)
    }

    /// Calls of the task accepted onto a slot but not started (pending in shared memory).
    pub fn pending(&self, task: u32) -> u32 {
        let running = self.ctl.running(task).unwrap_or(0);
        self.ctl
            .depths(task)
            .map_or(0, |(slots, _)| slots.saturating_sub(running))
    }

    /// Calls of the task waiting in the page for a slot (every slot holds a call).
    pub fn waiting(&self, task: u32) -> u32 {
        self.ctl.depths(task).map_or(0, |d| d.1)
    }

    /// Completions ignored as stale or forged, and discarded because their call was already
    /// settled.
    pub fn ignored(&self, task: u32) -> Vec<f64> {
        self.ctl
            .ignored(task)
            .map_or_else(|_| vec![0.0, 0.0], |(i, d)| vec![i as f64, d as f64])
    }

    /// Sets the task's crash policy (0 restart-fail-in-flight, 1 restart-requeue-in-flight,
    /// 2 fail-task), `crashMaxRetries` and `hangTimeoutMs` (0: off).
    pub fn configure(&mut self, task: u32, policy: u32, max_retries: u32, hang_ms: f64) {
        let policy = match policy {
            1 => CrashPolicy::RestartRequeueInFlight,
            2 => CrashPolicy::FailTask,
            _ => CrashPolicy::RestartFailInFlight,
        };
        let hang = (hang_ms > 0.0).then_some(hang_ms);
        let _ = self.ctl.configure(task, policy, max_retries, hang);
    }

    /// A worker of the task crashed: `[0, afterMs, requeue]` to restart it, `[1, escalated]`
    /// to halt the task.
    pub fn crashed(&mut self, task: u32) -> Vec<u32> {
        match self.ctl.crashed(task) {
            Ok(Decision::Restart { after_ms, requeue }) => vec![0, after_ms, u32::from(requeue)],
            Ok(Decision::Halt { escalated }) => vec![1, u32::from(escalated)],
            Err(_) => vec![1, 0],
        }
    }

    /// `startWorkers()` lifted the task's halt: its retry budget is whole again.
    pub fn resume(&mut self, task: u32) {
        self.ctl.resume(task);
    }

    /// Starts watching the heartbeat of the worker on `seat`.
    pub fn arm(&mut self, task: u32, seat: u32) {
        self.ctl.arm(task, seat);
    }

    /// One watchdog tick: `[seat, verdict, ...]` with verdict 1 for a hang, 2 for an exit, 3
    /// for a worker that wrote over its completion ring.
    pub fn watch(&mut self, task: u32, now_ms: f64, max_credit_ms: f64) -> Vec<u32> {
        let verdicts = self
            .ctl
            .watch(task, now_ms, max_credit_ms)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(verdicts.len() * 2);
        for (seat, v) in verdicts {
            out.push(seat);
            out.push(match v {
                Verdict::Hang => 1,
                Verdict::Exit => 2,
                Verdict::Corrupt => 3,
            });
        }
        out
    }

    /// Milliseconds the heartbeat of the worker on `seat` has been still; -1 when unwatched.
    pub fn silence(&self, task: u32, seat: u32) -> f64 {
        self.ctl.silence_ms(task, seat).unwrap_or(-1.0)
    }

    /// The seat whose worker still runs call `call_id`, or -1.
    #[wasm_bindgen(js_name = runningOn)]
    pub fn running_on(&self, task: u32, call_id: u32) -> i32 {
        self.ctl.running_on(task, call_id).map_or(-1, |s| s as i32)
    }

    /// Whether a new call would go straight onto a slot, nobody waiting ahead of it.
    pub fn room(&self, task: u32) -> bool {
        self.ctl.room(task)
    }

    /// Drops the task's oldest pending call; returns its id, or 0 when none is pending.
    #[wasm_bindgen(js_name = dropOldest)]
    pub fn drop_oldest(&mut self, task: u32) -> Result<u32, JsError> {
        Ok(self
            .ctl
            .drop_oldest(task)
            .map_err(|e| submit_error(SubmitError::NoSuchTask(e.0)))?
            .unwrap_or(0))
    }
}

impl Default for RuntimeCore {
    fn default() -> Self {
        Self::new()
    }
}
