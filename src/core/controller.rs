//! The controller: the page's side of the dispatch path, as sans-IO Rust. It admits calls
//! into slots (or lets them wait in the page when every slot is taken), publishes them on
//! the task's work queue, takes completions off the workers' rings validating every word a
//! worker wrote, answers the workers' buffer requests, cancels calls, and takes back
//! everything a dead worker held.
//!
//! It never blocks and never waits for a worker, and it is the only code that allocates in
//! the shared memory: workers write into arenas and buffers it handed them. The binding
//! layer decides when to look for completions (on a doorbell wake-up) and settles the JS
//! promises.

use super::meter::{Meter, Metered};
use super::recovery::{CrashPolicy, Decision, Recovery};
use super::task::{
    Args, AttachError, Cancelled, Completion, Current, Outcome, SeatGrant, TaskState,
    SEATS_PER_WORKER,
};
use super::watchdog::Verdict;
use atelier_ring::layout::INLINE_BYTES;
use atelier_ring::{Doorbell, ShapeError, TaskBlock, STAGING_DEFAULT};
use std::sync::Arc;

/// The shape of a task, as the controller needs it.
#[derive(Debug, Clone, Copy)]
pub struct TaskShape {
    /// Calls on workers at once: split between the workers as their quotas.
    pub max_in_flight: u32,
    /// Workers in the pool.
    pub workers: u32,
    /// Call slots: calls running plus calls pending in shared memory, where workers take
    /// them without the page. At least `max_in_flight`.
    pub slots: u32,
}

/// A task index the controller does not know (never defined, or disposed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSuchTask(pub u32);

/// Why a call could not be submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// See [`NoSuchTask`].
    NoSuchTask(u32),
    /// The length is more than the staging buffer holds (reserve first).
    TooLong(u32),
}

/// What [`Controller::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// A finished call; its result bytes stay valid until the next `poll`/`release`.
    Done(Completion),
    /// Nothing more for now.
    Empty,
}

/// How much of the shared memory the runtime holds, from its own accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Occupancy {
    /// Bytes of payload buffers, arenas, grants, staging and task blocks in use.
    pub bytes: u64,
    /// Slots holding a call (pending or running), over all tasks.
    pub slots: u32,
    /// Calls waiting in the page for a slot.
    pub waiting: u32,
    /// Worker seats in use or quarantined.
    pub seats: u32,
    /// Tasks removed whose blocks are not released yet.
    pub retired: u32,
    /// Bytes of the page's staging buffer (included in `bytes`; its size follows the
    /// largest recent call).
    pub staging: u64,
}

/// The main thread's controller for one runtime.
pub struct Controller {
    done_bell: Arc<Doorbell>,
    tasks: Vec<Option<TaskState>>,
    /// Tasks removed but not yet released (a terminated worker may still be finishing its
    /// last instructions on the block).
    retired: Vec<Option<TaskState>>,
    next_call: u32,
    staging: Option<Metered>,
    /// A finished call's argument buffer, the next staging buffer when it is large enough:
    /// calls whose arguments just exceed a slot's inline bytes take the staging buffer each
    /// time, and would otherwise each allocate (and zero) a fresh one.
    spare: Option<Metered>,
    /// See [`set_timed`](Self::set_timed).
    timed: bool,
    /// The completion handed out by the last `poll`, released by the next.
    current: Option<(u32, Current)>,
    meter: Meter,
}

/// The largest argument buffer kept for reuse.
const SPARE_MAX: u32 = 1 << 20;

impl Default for Controller {
    fn default() -> Self {
        Self::new()
    }
}

impl Controller {
    /// An empty controller.
    pub fn new() -> Controller {
        Controller {
            done_bell: Arc::new(Doorbell::default()),
            tasks: Vec::new(),
            retired: Vec::new(),
            next_call: 1,
            staging: None,
            spare: None,
            timed: false,
            current: None,
            meter: Meter::default(),
        }
    }

    /// The doorbell workers ring after publishing a completion or a request.
    pub fn done_bell(&self) -> &Doorbell {
        &self.done_bell
    }

    /// The runtime's shared-memory accounting.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Creates a task; returns its index.
    pub fn define_task(&mut self, shape: TaskShape) -> Result<u32, ShapeError> {
        if shape.max_in_flight == 0 || shape.slots < shape.max_in_flight {
            return Err(ShapeError::Slots(shape.slots));
        }
        // Reuse the index of a task removed and released, so a page that defines and disposes
        // tasks for ever keeps a bounded table.
        let index = (0..self.tasks.len())
            .find(|&i| self.tasks[i].is_none() && self.retired.get(i).is_none_or(Option::is_none))
            .unwrap_or(self.tasks.len());
        let block = TaskBlock::new(
            index as u32,
            shape.slots,
            shape
                .workers
                .checked_mul(SEATS_PER_WORKER)
                .ok_or(ShapeError::Workers)?,
            self.done_bell.clone(),
        )?;
        let footprint = block.footprint() as u64;
        if !self.meter.take(footprint) {
            return Err(ShapeError::Memory(footprint));
        }
        let mut state = TaskState::new(Arc::new(block), shape.workers, shape.max_in_flight);
        state.timed = self.timed;
        if index == self.tasks.len() {
            self.tasks.push(Some(state));
        } else {
            self.tasks[index] = Some(state);
        }
        Ok(index as u32)
    }

    fn task(&self, task: u32) -> Result<&TaskState, NoSuchTask> {
        self.tasks
            .get(task as usize)
            .and_then(Option::as_ref)
            .ok_or(NoSuchTask(task))
    }

    fn task_mut(&mut self, task: u32) -> Result<&mut TaskState, NoSuchTask> {
        self.tasks
            .get_mut(task as usize)
            .and_then(Option::as_mut)
            .ok_or(NoSuchTask(task))
    }

    /// The task's shared block (its addresses go to the task's workers).
    pub fn block(&self, task: u32) -> Result<&Arc<TaskBlock>, NoSuchTask> {
        Ok(&self.task(task)?.block)
    }

    /// Calls of the task on slots (pending or running), and calls waiting in the page.
    pub fn depths(&self, task: u32) -> Result<(u32, u32), NoSuchTask> {
        Ok(self.task(task)?.depths())
    }

    /// Calls of the task running on workers now.
    pub fn running(&self, task: u32) -> Result<u32, NoSuchTask> {
        Ok(self.task(task)?.running())
    }

    /// Whether the workers of every task, present and future, write when they start a call
    /// (someone observes the runtime).
    pub fn set_timed(&mut self, timed: bool) {
        self.timed = timed;
        for t in self.tasks.iter_mut().flatten() {
            t.timed = timed;
        }
    }

    /// Calls of the task put back on its queue after their worker died, so far.
    pub fn requeued(&self, task: u32) -> Result<u64, NoSuchTask> {
        Ok(self.task(task)?.requeued)
    }

    /// Completion entries of the task that were ignored as stale or corrupt, and
    /// completions discarded because the page had already settled their call.
    pub fn ignored(&self, task: u32) -> Result<(u64, u64), NoSuchTask> {
        let t = self.task(task)?;
        Ok((t.ignored, t.discarded))
    }

    /// Makes sure the staging buffer (where the binding encodes a call's arguments) holds
    /// `need` bytes, keeping the first `keep`; returns its address and capacity, or `None`
    /// beyond the shared-memory ceiling.
    pub fn reserve(&mut self, need: u32, keep: u32) -> Option<(*mut u8, u32)> {
        let have = self.staging.as_ref().map_or(0, Metered::capacity);
        if have < need && self.staging.is_none() {
            if let Some(spare) = self.spare.take_if(|s| s.capacity() >= need) {
                self.staging = Some(spare);
                return self.staging.as_ref().map(|b| (b.as_ptr(), b.capacity()));
            }
        }
        if have < need {
            // Small buffers double (a message grows a few bytes at a time while it is
            // encoded); large ones are sized to the request, rounded to 64 KiB.
            let cap = if need <= 1 << 20 {
                need.max(STAGING_DEFAULT).next_power_of_two()
            } else {
                need.checked_next_multiple_of(1 << 16).unwrap_or(need)
            };
            let fresh = self.meter.alloc(cap)?;
            if let Some(old) = self.staging.as_ref() {
                let keep = keep.min(old.capacity()) as usize;
                // SAFETY: both buffers are the page's own and distinct; `keep` fits both.
                unsafe { core::ptr::copy_nonoverlapping(old.as_ptr(), fresh.as_ptr(), keep) };
            }
            self.staging = Some(fresh);
        }
        self.staging.as_ref().map(|b| (b.as_ptr(), b.capacity()))
    }

    /// Submits a call whose encoded arguments are the first `len` bytes of the staging
    /// buffer; returns its id. Arguments larger than a slot's inline bytes take the staging
    /// buffer over (reserve again before the next call).
    pub fn submit(&mut self, task: u32, len: u32) -> Result<u32, SubmitError> {
        self.check_staged(len)?;
        let t = submit_target(&mut self.tasks, task)?;
        let call_id = self.next_call;
        self.next_call = self.next_call.wrapping_add(1).max(1);
        if len as usize <= INLINE_BYTES {
            t.admit_small(call_id, staged(&self.staging, len));
        } else {
            let buf = self.staging.take().ok_or(SubmitError::TooLong(len))?;
            t.admit(call_id, Args::Heap(buf, len));
        }
        Ok(call_id)
    }

    /// An error unless the staging buffer holds `len` bytes.
    fn check_staged(&self, len: u32) -> Result<(), SubmitError> {
        let have = self.staging.as_ref().map_or(0, Metered::capacity);
        if len > have && len > 0 {
            return Err(SubmitError::TooLong(len));
        }
        Ok(())
    }

    /// Submits a call whose arguments are the first `len` staging bytes to the worker on
    /// `seat` alone: PENDING with its owner id, on no queue (the page tells that worker which
    /// slot by a message). Only when the arguments fit a slot, that seat is live, a slot is
    /// free and no call waits; returns `(call id, slot, generation)`, or None and submits
    /// nothing.
    pub fn submit_to(
        &mut self,
        task: u32,
        len: u32,
        seat: u32,
    ) -> Result<Option<(u32, u32, u32)>, SubmitError> {
        if len as usize > INLINE_BYTES {
            return Ok(None);
        }
        self.check_staged(len)?;
        let t = submit_target(&mut self.tasks, task)?;
        let small = staged(&self.staging, len);
        let call_id = self.next_call;
        let Some((slot, gen)) = t.admit_to(call_id, small, seat) else {
            return Ok(None);
        };
        self.next_call = self.next_call.wrapping_add(1).max(1);
        Ok(Some((call_id, slot, gen)))
    }

    /// Takes the next finished call of `task`, after releasing the one handed out before,
    /// and answers the task's workers' buffer requests.
    pub fn poll(&mut self, task: u32) -> Result<Poll, NoSuchTask> {
        self.release();
        let meter = self.meter.clone();
        let t = self.task_mut(task)?;
        t.serve_requests(&meter);
        match t.poll() {
            Some((done, current)) => {
                if done.outcome == Outcome::Returned {
                    t.recovery.succeeded();
                }
                self.current = Some((task, current));
                Ok(Poll::Done(done))
            }
            None => Ok(Poll::Empty),
        }
    }

    /// Releases the completion handed out by the last [`poll`](Self::poll) (its slot and
    /// the worker's arena space) and starts waiting calls. `poll` does this itself.
    pub fn release(&mut self) {
        let Some((task, current)) = self.current.take() else {
            return;
        };
        let mut spent = None;
        if let Ok(t) = self.task_mut(task) {
            t.release(current);
            spent = t.take_spent();
        }
        if let Some(buf) = spent {
            if buf.capacity() <= SPARE_MAX
                && self
                    .spare
                    .as_ref()
                    .is_none_or(|s| s.capacity() < buf.capacity())
            {
                self.spare = Some(buf);
            }
        }
    }

    /// Drops the buffers kept for reuse (the runtime calls this when it has been idle for a
    /// moment, so that idle memory is what live calls and workers hold).
    pub fn trim(&mut self) {
        self.spare = None;
        for t in self.tasks.iter_mut().flatten() {
            t.trim();
        }
    }

    /// Cancels call `call_id` of `task` with cancellation code `code` (`layout::cancel`).
    pub fn cancel(&mut self, task: u32, call_id: u32, code: u32) -> Result<Cancelled, NoSuchTask> {
        self.release();
        Ok(self.task_mut(task)?.cancel(call_id, code))
    }

    /// Gives worker `index` of `task` a seat (cell, completion ring, arena) and an owner id.
    pub fn attach(&mut self, task: u32, index: u32) -> Result<SeatGrant, AttachError> {
        let meter = self.meter.clone();
        let t = self
            .task_mut(task)
            .map_err(|_| AttachError::NoSuchWorker(index))?;
        t.attach(index, &meter)
    }

    /// Declares the worker on `seat` dead (crashed, hung, terminated, stopped): calls it was
    /// running are requeued (`requeue`) or failed (their ids are returned), everything else
    /// it held is taken back. The seat stays quarantined until [`release_seat`](Self::release_seat).
    pub fn reclaim(&mut self, task: u32, seat: u32, requeue: bool) -> Result<Vec<u32>, NoSuchTask> {
        self.release();
        Ok(self.task_mut(task)?.reclaim(seat, requeue))
    }

    /// Ends a seat's quarantine (see [`TaskState::release_seat`]): false while completions
    /// recovered from it are still to be polled.
    pub fn release_seat(&mut self, task: u32, seat: u32) -> Result<bool, NoSuchTask> {
        self.release();
        Ok(self.task_mut(task)?.release_seat(seat))
    }

    /// Whether the seat waits for `release_seat`.
    pub fn quarantined(&self, task: u32, seat: u32) -> bool {
        self.task(task).is_ok_and(|t| t.quarantined(seat))
    }

    /// Forgets a task (its workers are terminated) and returns the ids of the calls it held.
    /// Its shared memory is kept until [`release_task`](Self::release_task): a terminated
    /// worker may still be finishing its last instructions on it.
    pub fn remove_task(&mut self, task: u32) -> Result<Vec<u32>, NoSuchTask> {
        if matches!(self.current, Some((t, _)) if t == task) {
            self.current = None;
        }
        let t = self
            .tasks
            .get_mut(task as usize)
            .and_then(Option::take)
            .ok_or(NoSuchTask(task))?;
        let ids = t.call_ids();
        if self.retired.len() <= task as usize {
            self.retired.resize_with(task as usize + 1, || None);
        }
        self.retired[task as usize] = Some(t);
        Ok(ids)
    }

    /// Frees a removed task's block, arenas and buffers.
    pub fn release_task(&mut self, task: u32) {
        if let Some(t) = self.retired.get_mut(task as usize).and_then(Option::take) {
            self.meter.give(t.footprint);
        }
        self.compact();
    }

    /// Shortens the task tables past their last index in use (live or retired) and gives
    /// back their spare capacity: a page that defines and disposes tasks for ever holds
    /// tables as long as the most tasks it had at once, and only while it has them. Tables
    /// with no task left hold no memory at all, so a runtime with no tasks holds the same
    /// bytes whatever it had before (the memory-cycle tests compare them exactly; up to four
    /// spare entries of 396 bytes were left over before).
    fn compact(&mut self) {
        let in_use = |tasks: &[Option<TaskState>], retired: &[Option<TaskState>], i: usize| {
            tasks.get(i).is_some_and(Option::is_some) || retired.get(i).is_some_and(Option::is_some)
        };
        let mut len = self.tasks.len().max(self.retired.len());
        while len > 0 && !in_use(&self.tasks, &self.retired, len - 1) {
            len -= 1;
        }
        self.tasks.truncate(len);
        self.retired.truncate(len);
        for table in [&mut self.tasks, &mut self.retired] {
            if table.is_empty() || table.capacity() > 2 * table.len() + 4 {
                table.shrink_to(table.len());
            }
        }
    }

    /// The runtime's shared-memory occupancy, from the controller's own accounting.
    pub fn occupancy(&self) -> Occupancy {
        let mut o = Occupancy {
            bytes: self.meter.used(),
            retired: self.retired.iter().flatten().count() as u32,
            staging: self.staging.as_ref().map_or(0, |b| u64::from(b.capacity())),
            ..Occupancy::default()
        };
        for t in self.tasks.iter().flatten() {
            let (slots, waiting) = t.depths();
            o.slots += slots;
            o.waiting += waiting;
            o.seats += t.seats_in_use();
        }
        o
    }

    /// Sets `task`'s crash policy, retry budget and `hangTimeoutMs` (None: off).
    pub fn configure(
        &mut self,
        task: u32,
        policy: CrashPolicy,
        max_retries: u32,
        hang_ms: Option<f64>,
    ) -> Result<(), NoSuchTask> {
        let t = self.task_mut(task)?;
        t.recovery = Recovery::new(policy, max_retries);
        t.watchdog.set_hang_ms(hang_ms);
        Ok(())
    }

    /// A worker of `task` crashed: what the crash policy and the retry budget say.
    pub fn crashed(&mut self, task: u32) -> Result<Decision, NoSuchTask> {
        Ok(self.task_mut(task)?.recovery.crashed())
    }

    /// `startWorkers()` lifted `task`'s halt: its retry budget is whole again.
    pub fn resume(&mut self, task: u32) {
        if let Ok(t) = self.task_mut(task) {
            t.recovery.resume();
        }
    }

    /// Starts watching the heartbeat of the worker on `seat` (it finished its start-up).
    pub fn arm(&mut self, task: u32, seat: u32) {
        if let Ok(t) = self.task_mut(task) {
            t.arm(seat);
        }
    }

    /// One watchdog tick of `task` at `now_ms` (a monotonic clock); a tick adds at most
    /// `max_credit_ms` of silence. Returns the seats found hung or gone, once each.
    pub fn watch(
        &mut self,
        task: u32,
        now_ms: f64,
        max_credit_ms: f64,
    ) -> Result<Vec<(u32, Verdict)>, NoSuchTask> {
        // The completion handed out last is done with: the tick's audit must not find its
        // call still DONE by a worker that may be gone.
        self.release();
        Ok(self.task_mut(task)?.watch(now_ms, max_credit_ms))
    }

    /// How long the heartbeat of the worker on `seat` has been still, as the watchdog counts
    /// it; None when the seat is not watched.
    pub fn silence_ms(&self, task: u32, seat: u32) -> Option<f64> {
        self.task(task).ok()?.watchdog.silence_ms(seat as usize)
    }

    /// The seat whose worker still runs call `call_id` (a cancelled call whose handler has not
    /// returned), if any.
    pub fn running_on(&self, task: u32, call_id: u32) -> Option<u32> {
        self.task(task).ok()?.running_on(call_id)
    }

    /// Whether a new call of `task` would go straight onto a slot, nobody waiting ahead.
    pub fn room(&self, task: u32) -> bool {
        self.task(task).is_ok_and(TaskState::room)
    }

    /// Drops `task`'s oldest pending call (`queuePolicy: 'drop-oldest'`): returns its id, or
    /// None when no call is pending.
    pub fn drop_oldest(&mut self, task: u32) -> Result<Option<u32>, NoSuchTask> {
        self.release();
        Ok(self.task_mut(task)?.drop_oldest())
    }
}

/// Task `task`, for a submit.
fn submit_target(
    tasks: &mut [Option<TaskState>],
    task: u32,
) -> Result<&mut TaskState, SubmitError> {
    tasks
        .get_mut(task as usize)
        .and_then(Option::as_mut)
        .ok_or(SubmitError::NoSuchTask(task))
}

/// The first `len` bytes of the staging buffer (`check_staged` said it holds them).
fn staged(staging: &Option<Metered>, len: u32) -> &[u8] {
    match staging {
        // SAFETY: the staging buffer is ours and holds at least `len` bytes (check_staged).
        Some(buf) => unsafe { std::slice::from_raw_parts(buf.as_ptr(), len as usize) },
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_with_no_task_left_hold_no_memory() {
        let mut ctl = Controller::new();
        let shape = TaskShape {
            workers: 1,
            max_in_flight: 1,
            slots: 3,
        };
        let tasks: Vec<u32> = (0..3).map(|_| ctl.define_task(shape).unwrap()).collect();
        for &t in &tasks {
            ctl.remove_task(t).unwrap();
        }
        for &t in &tasks {
            ctl.release_task(t);
        }
        assert_eq!((ctl.tasks.capacity(), ctl.retired.capacity()), (0, 0));
    }
}
