//! The controller: the main thread's side of the dispatch path, as sans-IO Rust. It admits
//! calls, writes their envelopes into slots, publishes them on the task's work ring, and
//! takes completions off the completion ring, validating every word a worker wrote.
//!
//! It never blocks and never waits: the binding layer decides when to look for completions
//! (on a doorbell wake-up) and settles the JS promises.

use atelier_ring::addr;
use atelier_ring::layout::{cancel, state, status, INLINE_BYTES, INLINE_PTR};
use atelier_ring::{doorbell, reserve_staging, Doorbell, HeapBuf, PushError, TaskBlock};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The shape of a task, as the controller needs it.
#[derive(Debug, Clone, Copy)]
pub struct TaskShape {
    /// Calls on workers at once (and so the number of slots).
    pub max_in_flight: u32,
    /// Workers in the pool (heartbeat cells).
    pub workers: u32,
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
    /// The work ring refused the slot: its words are corrupt.
    RingCorrupt,
}

/// A finished call, as read from its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The call's id, from the controller's own record (not from shared memory).
    pub call_id: u32,
    /// What the worker reported.
    pub outcome: Outcome,
    /// Where the encoded result starts.
    pub ptr: usize,
    /// Its length.
    pub len: u32,
    /// The worker that ran it.
    pub worker: u32,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The result bytes hold the handler's value.
    Returned,
    /// The result bytes hold the thrown value.
    Threw,
    /// The worker's result words are invalid; the call fails with this reason.
    Invalid(Invalid),
}

/// What was wrong with a completion's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// `res_status` is not a known status.
    Status(u32),
    /// `res_len` does not fit the inline bytes or the buffer's capacity.
    Length(u32),
    /// `res_ptr`/`res_cap` do not name a result buffer in memory.
    Buffer(u32),
}

impl core::fmt::Display for Invalid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Invalid::Status(s) => write!(f, "unknown result status {s}"),
            Invalid::Length(n) => write!(f, "result length {n} is out of bounds"),
            Invalid::Buffer(p) => write!(f, "result buffer address {p:#x} is not a result buffer"),
        }
    }
}

/// What [`Controller::poll`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// A finished call; its result bytes stay valid until the next `poll`/`release`.
    Done(Completion),
    /// Nothing more for now.
    Empty,
}

/// Where a call's arguments live while it is not finished.
enum Args {
    Inline,
    /// Held (never read) so the buffer lives until the call ends.
    Heap(#[allow(dead_code)] HeapBuf),
}

/// The controller's own (trusted) record of a slot.
struct Record {
    call_id: u32,
    attempt: u32,
    busy: bool,
    args: Args,
}

/// A call accepted but not started.
struct Pending {
    call_id: u32,
    args: PendingArgs,
}

enum PendingArgs {
    Small(Vec<u8>),
    Large(HeapBuf, u32),
}

/// A call's arguments on their way into a slot.
enum ArgsIn<'a> {
    Inline(&'a [u8]),
    Heap(HeapBuf, u32),
}

struct TaskState {
    block: Arc<TaskBlock>,
    records: Vec<Record>,
    free: Vec<u32>,
    pending: VecDeque<Pending>,
    in_flight: u32,
    /// Completion-ring entries that named no finished call (stale, forged or corrupt).
    ignored: u64,
    /// Slots whose envelope is written (QUEUED) but that the work ring refused for now, in
    /// order. A ring with room for every slot can still refuse: a worker that claimed a
    /// cell one lap earlier and was descheduled before releasing it holds that cell, and
    /// the producer cannot pass it. [`Controller::flush`] retries them.
    unpublished: VecDeque<u32>,
}

/// The main thread's controller for one runtime.
pub struct Controller {
    done_bell: Arc<Doorbell>,
    tasks: Vec<Option<TaskState>>,
    next_call: u32,
    staging: Option<HeapBuf>,
    /// The completion handed out by the last `poll`, released by the next.
    current: Option<(u32, u32)>,
    /// Blocks of removed tasks. A terminated worker may still be finishing its last
    /// instructions on its block, so a block is never freed while the runtime lives.
    retired: Vec<Arc<TaskBlock>>,
}

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
            next_call: 1,
            staging: None,
            current: None,
            retired: Vec::new(),
        }
    }

    /// The doorbell workers ring after publishing a completion.
    pub fn done_bell(&self) -> &Doorbell {
        &self.done_bell
    }

    /// Creates a task; returns its index.
    pub fn define_task(&mut self, shape: TaskShape) -> Result<u32, atelier_ring::CapacityError> {
        let index = self.tasks.len() as u32;
        let block = Arc::new(TaskBlock::new(
            index,
            shape.max_in_flight,
            shape.workers,
            self.done_bell.clone(),
        )?);
        let records = (0..shape.max_in_flight)
            .map(|_| Record {
                call_id: 0,
                attempt: 0,
                busy: false,
                args: Args::Inline,
            })
            .collect();
        self.tasks.push(Some(TaskState {
            block,
            records,
            free: (0..shape.max_in_flight).rev().collect(),
            pending: VecDeque::new(),
            in_flight: 0,
            ignored: 0,
            unpublished: VecDeque::new(),
        }));
        Ok(index)
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

    /// The task's shared block (its address goes to the task's workers).
    pub fn block(&self, task: u32) -> Result<&Arc<TaskBlock>, NoSuchTask> {
        Ok(&self.task(task)?.block)
    }

    /// Calls of the task on workers, and accepted but not started.
    pub fn depths(&self, task: u32) -> Result<(u32, u32), NoSuchTask> {
        let t = self.task(task)?;
        Ok((t.in_flight, t.pending.len() as u32))
    }

    /// Completion-ring entries of the task that were ignored as stale or corrupt.
    pub fn ignored(&self, task: u32) -> Result<u64, NoSuchTask> {
        Ok(self.task(task)?.ignored)
    }

    /// Makes sure the staging buffer (where the binding encodes a call's arguments) holds
    /// `need` bytes, keeping the first `keep`; returns its address and capacity.
    pub fn reserve(&mut self, need: u32, keep: u32) -> Option<(*mut u8, u32)> {
        reserve_staging(&mut self.staging, need, keep)
    }

    /// Submits a call whose encoded arguments are the first `len` bytes of the staging
    /// buffer; returns its id. A payload larger than a slot's inline bytes takes the staging
    /// buffer over (reserve again before the next call).
    pub fn submit(&mut self, task: u32, len: u32) -> Result<u32, SubmitError> {
        let have = self.staging.as_ref().map_or(0, HeapBuf::capacity);
        if len > have && len > 0 {
            return Err(SubmitError::TooLong(len));
        }
        let t = self
            .tasks
            .get_mut(task as usize)
            .and_then(Option::as_mut)
            .ok_or(SubmitError::NoSuchTask(task))?;
        let call_id = self.next_call;
        self.next_call = self.next_call.wrapping_add(1).max(1);
        let small: &[u8] = match &self.staging {
            // SAFETY: the staging buffer is ours and holds at least `len` bytes (checked above).
            Some(buf) if len as usize <= INLINE_BYTES => unsafe {
                std::slice::from_raw_parts(buf.as_ptr(), len as usize)
            },
            _ => &[],
        };
        let args = if len as usize <= INLINE_BYTES {
            // The common case: a slot is free and nobody waits, so the bytes go straight
            // from the staging buffer into the slot.
            if t.pending.is_empty() {
                if let Some(index) = t.free.pop() {
                    t.publish(index, call_id, ArgsIn::Inline(small))?;
                    return Ok(call_id);
                }
            }
            PendingArgs::Small(small.to_vec())
        } else {
            let buf = self.staging.take().ok_or(SubmitError::TooLong(len))?;
            PendingArgs::Large(buf, len)
        };
        t.pending.push_back(Pending { call_id, args });
        t.start_pending()?;
        Ok(call_id)
    }

    /// Retries publishing the task's calls that its work ring refused for now; returns how
    /// many are still waiting for room (the binding retries on a timer while it is not 0).
    pub fn flush(&mut self, task: u32) -> Result<u32, SubmitError> {
        let t = self
            .task_mut(task)
            .map_err(|e| SubmitError::NoSuchTask(e.0))?;
        t.flush()?;
        Ok(t.unpublished.len() as u32)
    }

    /// Takes the next finished call of `task`, after releasing the one handed out before.
    pub fn poll(&mut self, task: u32) -> Result<Poll, NoSuchTask> {
        self.release();
        let t = self.task_mut(task)?;
        loop {
            let index = match t.block.done.pop() {
                Ok(index) => index,
                Err(_) => return Ok(Poll::Empty),
            };
            match t.read_completion(index) {
                Some(done) => {
                    self.current = Some((task, index));
                    return Ok(Poll::Done(done));
                }
                None => t.ignored += 1,
            }
        }
    }

    /// Releases the completion handed out by the last [`poll`](Self::poll) (its slot and
    /// buffers) and starts pending calls on the freed slot. `poll` does this itself.
    pub fn release(&mut self) {
        let Some((task, index)) = self.current.take() else {
            return;
        };
        if let Ok(t) = self.task_mut(task) {
            t.release_slot(index);
            // A corrupt work ring is noticed again on the next submit.
            let _ = t.start_pending();
        }
    }

    /// Forgets a task (its workers are terminated). Its block is retired, not freed: see
    /// `retired`.
    pub fn remove_task(&mut self, task: u32) -> Result<(), NoSuchTask> {
        self.task(task)?;
        if matches!(self.current, Some((t, _)) if t == task) {
            self.current = None;
        }
        if let Some(t) = self.tasks[task as usize].take() {
            self.retired.push(t.block);
        }
        Ok(())
    }
}

impl TaskState {
    /// Moves pending calls onto free slots.
    fn start_pending(&mut self) -> Result<(), SubmitError> {
        while !self.free.is_empty() {
            let Some(call) = self.pending.pop_front() else {
                break;
            };
            let index = self.free.pop().unwrap_or_default();
            let args = match call.args {
                PendingArgs::Small(bytes) => {
                    self.publish(index, call.call_id, ArgsIn::Inline(&bytes))?;
                    continue;
                }
                PendingArgs::Large(buf, len) => ArgsIn::Heap(buf, len),
            };
            self.publish(index, call.call_id, args)?;
        }
        Ok(())
    }

    /// Writes a call's envelope into free slot `index` and publishes it on the work ring.
    fn publish(&mut self, index: u32, call_id: u32, args: ArgsIn<'_>) -> Result<(), SubmitError> {
        let slot = &self.block.slots[index as usize];
        let record = &mut self.records[index as usize];
        record.call_id = call_id;
        record.attempt = record.attempt.wrapping_add(1);
        record.busy = true;
        let (arg_ptr, arg_len) = match args {
            ArgsIn::Inline(bytes) => {
                // SAFETY: the slot is FREE, so only the controller touches its inline
                // bytes; `bytes` is at most INLINE_BYTES long.
                unsafe {
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), slot.inline_ptr(), bytes.len())
                };
                record.args = Args::Inline;
                (INLINE_PTR, bytes.len() as u32)
            }
            ArgsIn::Heap(buf, len) => {
                let ptr = addr::to_word(buf.as_ptr());
                record.args = Args::Heap(buf);
                (ptr, len)
            }
        };
        // Relaxed: these words are published by the Release store of QUEUED below and
        // by the ring's Release publish.
        slot.call_id.store(call_id, Ordering::Relaxed);
        slot.attempt.store(record.attempt, Ordering::Relaxed);
        slot.cancel.store(cancel::NONE, Ordering::Relaxed);
        slot.arg_ptr.store(arg_ptr, Ordering::Relaxed);
        slot.arg_len.store(arg_len, Ordering::Relaxed);
        slot.flags.store(0, Ordering::Relaxed);
        slot.res_ptr.store(INLINE_PTR, Ordering::Relaxed);
        slot.res_len.store(0, Ordering::Relaxed);
        slot.res_cap.store(0, Ordering::Relaxed);
        slot.state.store(state::QUEUED, Ordering::Release);
        self.in_flight += 1;
        self.unpublished.push_back(index);
        self.flush()
    }

    /// Publishes the slots the work ring refused so far, in order, and rings the doorbell.
    fn flush(&mut self) -> Result<(), SubmitError> {
        let mut published = false;
        while let Some(&index) = self.unpublished.front() {
            match self.block.work.push(index) {
                Ok(()) => {
                    self.unpublished.pop_front();
                    published = true;
                }
                Err(PushError::Full(_)) => break,
                Err(PushError::Corrupt(_)) => return Err(SubmitError::RingCorrupt),
            }
        }
        if published && self.block.work_bell.ring() {
            doorbell::notify(&self.block.work_bell, 1);
        }
        Ok(())
    }

    /// Validates the completion of slot `index`; `None` when it names no finished call.
    fn read_completion(&mut self, index: u32) -> Option<Completion> {
        let record = self.records.get(index as usize)?;
        if !record.busy {
            return None;
        }
        let slot = &self.block.slots[index as usize];
        // Acquire: pairs with the worker's Release store of DONE, so the result words and
        // bytes written before it are visible.
        if slot.state.load(Ordering::Acquire) != state::DONE
            || slot.res_attempt.load(Ordering::Relaxed) != record.attempt
        {
            return None;
        }
        let call_id = record.call_id;
        let worker = slot.worker.load(Ordering::Relaxed);
        let len = slot.res_len.load(Ordering::Relaxed);
        let ptr = slot.res_ptr.load(Ordering::Relaxed);
        let cap = slot.res_cap.load(Ordering::Relaxed);
        let invalid = |why| Completion {
            call_id,
            outcome: Outcome::Invalid(why),
            ptr: 0,
            len: 0,
            worker,
        };
        let outcome = match slot.res_status.load(Ordering::Relaxed) {
            status::OK => Outcome::Returned,
            status::THREW => Outcome::Threw,
            other => return Some(invalid(Invalid::Status(other))),
        };
        let at = if ptr == INLINE_PTR {
            if len as usize > INLINE_BYTES {
                return Some(invalid(Invalid::Length(len)));
            }
            slot.inline_ptr() as usize
        } else {
            if len > cap {
                return Some(invalid(Invalid::Length(len)));
            }
            if !addr::holds(ptr, cap) {
                return Some(invalid(Invalid::Buffer(ptr)));
            }
            addr::from_word(ptr) as usize
        };
        Some(Completion {
            call_id,
            outcome,
            ptr: at,
            len,
            worker,
        })
    }

    fn release_slot(&mut self, index: u32) {
        let slot = &self.block.slots[index as usize];
        let ptr = slot.res_ptr.load(Ordering::Relaxed);
        if ptr != INLINE_PTR {
            let cap = slot.res_cap.load(Ordering::Relaxed);
            if addr::holds(ptr, cap) {
                // SAFETY: `holds` checked the buffer (and so its header) is inside memory;
                // the slot is DONE, so the worker has given the buffer up, and the address is
                // cleared below so it is taken once. A header that does not match is leaked.
                if unsafe { HeapBuf::from_raw(addr::from_word(ptr), cap) }.is_err() {
                    self.ignored += 1;
                }
            }
            slot.res_ptr.store(INLINE_PTR, Ordering::Relaxed);
        }
        let record = &mut self.records[index as usize];
        record.busy = false;
        record.args = Args::Inline;
        // Release: our reads of the slot happen-before its reuse is published.
        slot.state.store(state::FREE, Ordering::Release);
        self.free.push(index);
        self.in_flight -= 1;
    }
}
