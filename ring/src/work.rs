//! The work queue: the page publishes slot entries in the order it admits calls, and a
//! task's workers take them. One producer (the page), any number of consumers.
//!
//! A worker can be terminated at any instruction, so nothing here may wait for a consumer
//! that stopped half-way. A consumer does not own a position while it works on it: it reads
//! the entry at `head`, tries to claim the slot the entry names (a compare-and-swap on the
//! slot's state word, outside this module), and then *helps* `head` past that position,
//! whether its claim succeeded or not. A consumer that stops after claiming, or anywhere
//! else, leaves `head` where it was; the next consumer (or the page) finds the entry's slot
//! no longer claimable and moves `head` on itself. The slot's state word, not the queue, is
//! the single point where a call is taken, so a call is never taken twice and never lost.
//!
//! The producer side pays no compare-and-swap: `tail` is written by the page alone, which
//! keeps its own (trusted) copy of it.
//!
//! # Memory ordering
//!
//! * The producer writes the entry (`Relaxed`) and then stores `tail` with `Release`; a
//!   consumer loads `tail` with `Acquire` before it reads the entry, so the entry of every
//!   position below the `tail` it saw is visible.
//! * A consumer reads the entry before its compare-and-swap of `head` (`Release`), and the
//!   producer loads `head` with `Acquire` before it overwrites that cell one lap later, so a
//!   consumer whose CAS succeeds read the entry of its own lap. A consumer that read a later
//!   lap's entry (it was descheduled while `head` moved on) may claim that entry's slot,
//!   which is a genuine pending call; its CAS of `head` then fails, harmlessly.
//! * `head` is read after `tail`: the producer read a `head` of at least `tail - capacity`
//!   before publishing that `tail`, and that read happens-before ours, so in a well-formed
//!   queue `tail - head` never exceeds the capacity. A larger distance means the words were
//!   overwritten (the memory is shared with code we do not trust) and is reported as
//!   [`TakeError::Corrupt`], never followed.

use crate::sync::{AtomicU32, Ordering};
use alloc::boxed::Box;
use alloc::vec::Vec;
use crossbeam_utils::CachePadded;

/// The largest capacity a queue accepts.
pub const MAX_CAPACITY: u32 = 1 << 20;

/// A capacity that is not a power of two in `2..=MAX_CAPACITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError(pub u32);

impl core::fmt::Display for CapacityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "queue capacity {} is not a power of two between 2 and {MAX_CAPACITY}",
            self.0
        )
    }
}

/// Why [`WorkQueue::push`] refused; the entry is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// Every position between `head` and `tail` is taken: help `head` on with
    /// [`WorkQueue::skip_stale`] and try again.
    Full(u32),
    /// `head` is further from `tail` than any well-formed queue allows.
    Corrupt(u32),
}

/// Why [`WorkQueue::take`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeError {
    /// Nothing is published that this consumer could claim.
    Empty,
    /// The queue's words hold values no well-formed queue can hold.
    Corrupt,
}

/// A single-producer, multi-consumer queue of `u32` entries.
pub struct WorkQueue {
    head: CachePadded<AtomicU32>,
    tail: CachePadded<AtomicU32>,
    mask: u32,
    entries: Box<[AtomicU32]>,
}

impl WorkQueue {
    /// A queue with room for `capacity` entries (a power of two, at least 2).
    ///
    /// # Examples
    /// ```
    /// use atelier_ring::WorkQueue;
    /// let q = WorkQueue::new(4).unwrap();
    /// let mut tail = 0;
    /// q.push(&mut tail, 7).unwrap();
    /// assert_eq!(q.take(|e| e == 7), Ok(7));
    /// ```
    pub fn new(capacity: u32) -> Result<WorkQueue, CapacityError> {
        if !(2..=MAX_CAPACITY).contains(&capacity) || !capacity.is_power_of_two() {
            return Err(CapacityError(capacity));
        }
        let entries: Vec<AtomicU32> = (0..capacity).map(|_| AtomicU32::new(0)).collect();
        Ok(WorkQueue {
            head: CachePadded::new(AtomicU32::new(0)),
            tail: CachePadded::new(AtomicU32::new(0)),
            mask: capacity - 1,
            entries: entries.into_boxed_slice(),
        })
    }

    /// The smallest valid capacity that holds `n` entries (callers bound `n` first).
    pub fn capacity_for(n: u32) -> u32 {
        n.max(2)
            .checked_next_power_of_two()
            .unwrap_or(MAX_CAPACITY)
            .min(MAX_CAPACITY)
    }

    /// How many entries the queue holds at most.
    pub fn capacity(&self) -> u32 {
        self.mask.wrapping_add(1)
    }

    /// The address of `head` (for the JS consumers).
    pub fn head_word(&self) -> &AtomicU32 {
        &self.head
    }

    /// The address of `tail` (for the JS consumers).
    pub fn tail_word(&self) -> &AtomicU32 {
        &self.tail
    }

    /// The entries (for the JS consumers).
    pub fn entries(&self) -> &[AtomicU32] {
        &self.entries
    }

    /// Publishes `entry` at position `*tail` (the producer's own count of its pushes, which
    /// it never reads back from shared memory) and advances it.
    pub fn push(&self, tail: &mut u32, entry: u32) -> Result<(), PushError> {
        let t = *tail;
        // Acquire: pairs with the consumers' Release CAS of `head`, so their reads of the
        // cell we are about to overwrite happen-before our write.
        let h = self.head.load(Ordering::Acquire);
        let used = t.wrapping_sub(h);
        if used > self.capacity() {
            return Err(PushError::Corrupt(entry));
        }
        if used == self.capacity() {
            return Err(PushError::Full(entry));
        }
        // Relaxed: published by the Release store of `tail` below.
        self.entries[(t & self.mask) as usize].store(entry, Ordering::Relaxed);
        *tail = t.wrapping_add(1);
        // Release: makes the entry visible to every consumer that loads this tail.
        self.tail.store(*tail, Ordering::Release);
        Ok(())
    }

    /// Takes the oldest entry that `claim` accepts. `claim` is called with the entry at
    /// `head` and tries to take the call it names (a compare-and-swap on the slot's state);
    /// it returns whether it did. Either way `head` is helped past that entry. A consumer
    /// that stops for ever inside `claim`, or anywhere else in here, holds nothing.
    pub fn take(&self, mut claim: impl FnMut(u32) -> bool) -> Result<u32, TakeError> {
        // Bounded: each turn moves `head` by one (ours or another thread's CAS), and a
        // well-formed queue holds at most `capacity` entries; a queue that keeps being refilled
        // while we skip is reported empty and the caller looks again.
        for _ in 0..self.capacity().saturating_mul(2).saturating_add(2) {
            let Some((h, entry)) = self.peek()? else {
                return Err(TakeError::Empty);
            };
            let claimed = claim(entry);
            self.advance(h);
            if claimed {
                return Ok(entry);
            }
        }
        Err(TakeError::Empty)
    }

    /// Moves `head` past entries that `pending` says are no longer claimable (their call
    /// was taken, dropped or republished), stopping at the first one still pending. The page
    /// calls this when [`push`](Self::push) finds the queue full: consumers that stopped
    /// after claiming leave stale entries behind, and nothing else would move past them.
    pub fn skip_stale(&self, pending: impl Fn(u32) -> bool) -> Result<(), TakeError> {
        for _ in 0..self.capacity().saturating_mul(2).saturating_add(2) {
            let Some((h, entry)) = self.peek()? else {
                return Ok(());
            };
            if pending(entry) {
                return Ok(());
            }
            self.advance(h);
        }
        Ok(())
    }

    /// Empties the queue: `head` and `tail` both at `tail`, the producer's own count of its
    /// pushes. For the producer after a consumer wrote over the queue's words (API contract
    /// B.8): the entries published before are dropped, and the producer publishes again what
    /// is still pending. A consumer inside [`take`](Self::take) meanwhile finds its
    /// compare-and-swap of `head` failed, or claims a call that was still pending; neither
    /// holds anything.
    pub fn reset(&self, tail: u32) {
        // Release (both): consumers that load either counter with Acquire see the entries the
        // producer wrote before; the ones it writes next are published by `push`.
        self.head.store(tail, Ordering::Release);
        self.tail.store(tail, Ordering::Release);
    }

    /// `head`, as the consumers left it (for the producer's checks; untrusted).
    pub fn head(&self) -> u32 {
        // Acquire: a consumer's claim of the entry before `head` happens-before its Release
        // CAS of `head`, so a producer that sees `head` past an entry sees that claim.
        self.head.load(Ordering::Acquire)
    }

    /// How many positions lie between `head` and `tail` (for tests and snapshots).
    pub fn len(&self) -> u32 {
        let t = self.tail.load(Ordering::Acquire);
        let h = self.head.load(Ordering::Relaxed);
        // `head` may have moved past the `tail` we read in the meantime: that is empty, not
        // a wrapped-around distance (as in `peek`).
        (t.wrapping_sub(h) as i32).clamp(0, self.capacity() as i32) as u32
    }

    /// Whether no position lies between `head` and `tail`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position at `head` and its entry, `None` when the queue is empty.
    fn peek(&self) -> Result<Option<(u32, u32)>, TakeError> {
        // Acquire: pairs with the producer's Release store, so the entries below `t` are
        // visible. `head` is read after `tail` (see the module docs).
        let t = self.tail.load(Ordering::Acquire);
        let h = self.head.load(Ordering::Relaxed);
        let diff = t.wrapping_sub(h) as i32;
        if diff <= 0 {
            // Empty, or `head` moved past the `tail` we read in the meantime.
            return Ok(None);
        }
        if diff as u32 > self.capacity() {
            return Err(TakeError::Corrupt);
        }
        // Relaxed: made visible by the Acquire load of `tail` (see the module docs).
        Ok(Some((
            h,
            self.entries[(h & self.mask) as usize].load(Ordering::Relaxed),
        )))
    }

    /// Helps `head` from `h` to `h + 1`; a failure means another thread already did.
    fn advance(&self, h: u32) {
        // Release: our read of the entry at `h` happens-before the producer's overwrite of
        // that cell one lap later (it loads `head` with Acquire).
        let _ =
            self.head
                .compare_exchange(h, h.wrapping_add(1), Ordering::Release, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reset_empties_a_queue_whose_counters_were_written_over() {
        let q = WorkQueue::new(4).unwrap();
        let mut tail = 0;
        for e in [1, 2] {
            q.push(&mut tail, e).unwrap();
        }
        q.head_word()
            .store(tail.wrapping_sub(100), Ordering::Relaxed);
        assert_eq!(q.take(|_| true), Err(TakeError::Corrupt));
        assert!(matches!(q.push(&mut tail, 3), Err(PushError::Corrupt(3))));
        q.reset(tail);
        assert_eq!(q.head(), tail);
        assert_eq!(q.take(|_| true), Err(TakeError::Empty));
        q.push(&mut tail, 4).unwrap();
        assert_eq!(q.take(|_| true), Ok(4));
    }

    #[test]
    fn takes_in_order_and_skips_what_claim_refuses() {
        let q = WorkQueue::new(4).unwrap();
        let mut tail = 0;
        for e in [1, 2, 3] {
            q.push(&mut tail, e).unwrap();
        }
        // Entry 1 is stale (its call was dropped): skipped, and `head` moves past it.
        assert_eq!(q.take(|e| e != 1), Ok(2));
        assert_eq!(q.len(), 1);
        assert_eq!(q.take(|_| true), Ok(3));
        assert_eq!(q.take(|_| true), Err(TakeError::Empty));
    }

    #[test]
    fn full_until_the_page_skips_stale_entries() {
        let q = WorkQueue::new(2).unwrap();
        let mut tail = 0;
        q.push(&mut tail, 10).unwrap();
        q.push(&mut tail, 11).unwrap();
        assert_eq!(q.push(&mut tail, 12), Err(PushError::Full(12)));
        // 10 was claimed by a consumer that stopped before it moved `head`.
        q.skip_stale(|e| e != 10).unwrap();
        q.push(&mut tail, 12).unwrap();
        assert_eq!(q.take(|_| true), Ok(11));
        assert_eq!(q.take(|_| true), Ok(12));
    }

    #[test]
    fn corrupt_counters_are_reported_not_followed() {
        let q = WorkQueue::new(4).unwrap();
        let mut tail = 0;
        q.push(&mut tail, 1).unwrap();
        q.tail.store(100, Ordering::Relaxed);
        assert_eq!(q.take(|_| true), Err(TakeError::Corrupt));
        q.tail.store(1, Ordering::Relaxed);
        q.head.store(50, Ordering::Relaxed);
        // `head` beyond `tail` looks empty to a consumer, and corrupt to the producer.
        assert_eq!(q.take(|_| true), Err(TakeError::Empty));
        assert_eq!(q.push(&mut tail, 2), Err(PushError::Corrupt(2)));
    }

    #[test]
    fn capacities() {
        assert!(WorkQueue::new(3).is_err());
        assert!(WorkQueue::new(1).is_err());
        assert_eq!(WorkQueue::capacity_for(5), 8);
        assert_eq!(WorkQueue::capacity_for(0), 2);
    }
}
