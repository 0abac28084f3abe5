//! A single-producer, single-consumer ring of `u32`: each worker's completion ring (the
//! worker pushes the slots it finished, the page pops them).
//!
//! Neither side pays a compare-and-swap: each side owns one counter, keeps its own copy of
//! it, and caches the other side's counter, reloading it only when the ring looks full (or
//! empty), as `rtrb` does. A producer terminated at any instruction leaves at most one entry
//! unpublished (its counter store is the publish), which the page recovers when it reclaims
//! the producer's slots; nothing waits for it.
//!
//! # Memory ordering
//!
//! The producer writes an entry (`Relaxed`) and then stores `tail` with `Release`; the
//! consumer loads `tail` with `Acquire` before it reads entries below it. The consumer
//! stores `head` with `Release` after reading an entry (or, with `pop_unpublished`, after
//! reading a batch of them); the producer loads `head` with `Acquire` before it overwrites
//! that cell one lap later.
//!
//! The counters live in memory shared with code we do not trust: a distance between them
//! larger than the capacity is reported as corrupt, never followed.

use crate::sync::{AtomicU32, Ordering};
use alloc::boxed::Box;
use alloc::vec::Vec;
use crossbeam_utils::CachePadded;

/// The shared words of one ring: two counters and a power-of-two number of entries.
#[derive(Clone, Copy)]
pub struct SpscWords<'a> {
    /// Entries popped so far (written by the consumer).
    pub head: &'a AtomicU32,
    /// Entries pushed so far (written by the producer).
    pub tail: &'a AtomicU32,
    /// The cells.
    pub entries: &'a [AtomicU32],
}

/// Why [`Producer::push`] refused; the value is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpscPushError {
    /// The ring is full.
    Full(u32),
    /// The consumer's counter is further away than any well-formed ring allows.
    Corrupt(u32),
}

/// Why [`Consumer::pop`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpscPopError {
    /// Nothing is published.
    Empty,
    /// The producer's counter is further away than any well-formed ring allows.
    Corrupt,
}

/// The producing side. Exactly one may exist per ring.
pub struct Producer<'a> {
    words: SpscWords<'a>,
    mask: u32,
    tail: u32,
    head_cache: u32,
}

/// The consuming side. Exactly one may exist per ring.
pub struct Consumer<'a> {
    words: SpscWords<'a>,
    mask: u32,
    head: u32,
    tail_cache: u32,
}

/// The index mask of `entries`. Checked at run time, once per side, because the sides index
/// the cells with `pos & mask` unchecked: a power-of-two length gives every such index a cell.
fn mask_of(entries: &[AtomicU32]) -> u32 {
    let n = entries.len();
    assert!(
        n.is_power_of_two() && (2..=1 << 31).contains(&n),
        "an SPSC ring needs a power-of-two number of cells from 2 to 2^31, not {n}"
    );
    n as u32 - 1
}

/// The cell of position `pos`.
#[inline(always)]
fn cell(entries: &[AtomicU32], mask: u32, pos: u32) -> &AtomicU32 {
    let i = (pos & mask) as usize;
    debug_assert!(i < entries.len());
    // SAFETY: `mask` is `entries.len() - 1` for a power-of-two length (`mask_of` checked it
    // when the side was made, and neither changes after), so `pos & mask < entries.len()`.
    // Skipping the bounds check is what keeps a push or pop level with `rtrb`'s.
    unsafe { entries.get_unchecked(i) }
}

impl<'a> Producer<'a> {
    /// The producer of `words`, resuming at `tail` (the count of entries it pushed so far;
    /// 0 for a fresh ring).
    pub fn new(words: SpscWords<'a>, tail: u32) -> Producer<'a> {
        let mask = mask_of(words.entries);
        Producer {
            words,
            mask,
            tail,
            // Assume the ring is full, so the first push loads the consumer's `head`: the
            // ring may still hold entries that a previous producer published and the
            // consumer has not popped yet (a worker resuming a seat's ring).
            head_cache: tail.wrapping_sub(mask.wrapping_add(1)),
        }
    }

    /// The count of entries pushed so far: the position the next push fills (a record kept
    /// beside the ring at this position is published by that push).
    pub fn position(&self) -> u32 {
        self.tail
    }

    /// Publishes `value`, or hands it back when the ring is full.
    #[inline]
    pub fn push(&mut self, value: u32) -> Result<(), SpscPushError> {
        let cap = self.mask.wrapping_add(1);
        if self.tail.wrapping_sub(self.head_cache) >= cap {
            // Acquire: pairs with the consumer's Release store of `head`, so its reads of
            // the cells we are about to overwrite happen-before our writes.
            self.head_cache = self.words.head.load(Ordering::Acquire);
            let used = self.tail.wrapping_sub(self.head_cache);
            if used > cap {
                return Err(SpscPushError::Corrupt(value));
            }
            if used == cap {
                return Err(SpscPushError::Full(value));
            }
        }
        // Relaxed: published by the Release store of `tail`.
        cell(self.words.entries, self.mask, self.tail).store(value, Ordering::Relaxed);
        self.tail = self.tail.wrapping_add(1);
        // Release: makes the entry visible to the consumer that loads this tail.
        self.words.tail.store(self.tail, Ordering::Release);
        Ok(())
    }
}

impl<'a> Consumer<'a> {
    /// The consumer of `words`, resuming at `head` (the count of entries it popped so far).
    pub fn new(words: SpscWords<'a>, head: u32) -> Consumer<'a> {
        Consumer {
            words,
            mask: mask_of(words.entries),
            head,
            tail_cache: head,
        }
    }

    /// The consumer of `words`, resuming at `head` with `tail`, the producer's counter as
    /// this consumer last read it ([`cached_tail`](Self::cached_tail)): entries below it are
    /// taken without loading the shared counter again. A `tail` further from `head` than the
    /// ring holds is not trusted (the counter is loaded instead).
    pub fn resume(words: SpscWords<'a>, head: u32, tail: u32) -> Consumer<'a> {
        let mut rx = Consumer::new(words, head);
        if tail.wrapping_sub(head) <= rx.mask.wrapping_add(1) {
            rx.tail_cache = tail;
        }
        rx
    }

    /// The producer's counter as this consumer last read it (for [`resume`](Self::resume)).
    #[inline]
    pub fn cached_tail(&self) -> u32 {
        self.tail_cache
    }

    /// Takes the oldest published value.
    #[inline]
    pub fn pop(&mut self) -> Result<u32, SpscPopError> {
        let value = self.pop_unpublished()?;
        self.publish();
        Ok(value)
    }

    /// Takes the oldest published value without telling the producer: [`publish`] does,
    /// later, for every value taken since. Meanwhile the producer sees less room than there
    /// is, never more, so it cannot overwrite a cell the consumer has not read. A consumer
    /// that reads values in batches publishes once per batch and saves a store per value
    /// (in WebAssembly every atomic store is an exchange, which waits for the stores
    /// before it to reach the cache).
    ///
    /// [`publish`]: Self::publish
    #[inline]
    pub fn pop_unpublished(&mut self) -> Result<u32, SpscPopError> {
        if self.head == self.tail_cache {
            // Acquire: pairs with the producer's Release store, so the entries below the
            // tail we see are visible.
            self.tail_cache = self.words.tail.load(Ordering::Acquire);
            let have = self.tail_cache.wrapping_sub(self.head);
            if have > self.mask.wrapping_add(1) {
                self.tail_cache = self.head;
                return Err(SpscPopError::Corrupt);
            }
            if have == 0 {
                return Err(SpscPopError::Empty);
            }
        }
        // Relaxed: made visible by the Acquire load of `tail`.
        let value = cell(self.words.entries, self.mask, self.head).load(Ordering::Relaxed);
        self.head = self.head.wrapping_add(1);
        Ok(value)
    }

    /// Tells the producer that every value taken so far has been read.
    #[inline]
    pub fn publish(&self) {
        // Release: our reads of the cells happen-before the producer overwrites them.
        self.words.head.store(self.head, Ordering::Release);
    }

    /// Values taken but not yet published (see [`pop_unpublished`](Self::pop_unpublished)),
    /// as the shared counter says: a counter that another party wrote over reads as a large
    /// lag, so a caller that publishes past a bound puts it right.
    #[inline]
    pub fn unpublished(&self) -> u32 {
        // Relaxed: only compared; the value decides whether to publish, nothing is read by it.
        self.head
            .wrapping_sub(self.words.head.load(Ordering::Relaxed))
    }

    /// The count of entries popped so far.
    pub fn position(&self) -> u32 {
        self.head
    }
}

/// A ring that owns its words (benches, tests); the task block embeds its rings' counters
/// in the workers' cells instead.
pub struct SpscRing {
    head: CachePadded<AtomicU32>,
    tail: CachePadded<AtomicU32>,
    entries: Box<[AtomicU32]>,
}

impl SpscRing {
    /// A ring with room for `capacity` values (rounded up to a power of two, at least 2).
    ///
    /// # Examples
    /// ```
    /// use atelier_ring::SpscRing;
    /// let ring = SpscRing::new(4);
    /// let (mut tx, mut rx) = ring.split();
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.pop(), Ok(7));
    /// ```
    pub fn new(capacity: u32) -> SpscRing {
        let cap = capacity.max(2).next_power_of_two();
        let entries: Vec<AtomicU32> = (0..cap).map(|_| AtomicU32::new(0)).collect();
        SpscRing {
            head: CachePadded::new(AtomicU32::new(0)),
            tail: CachePadded::new(AtomicU32::new(0)),
            entries: entries.into_boxed_slice(),
        }
    }

    /// The ring's words.
    pub fn words(&self) -> SpscWords<'_> {
        SpscWords {
            head: &self.head,
            tail: &self.tail,
            entries: &self.entries,
        }
    }

    /// Its producer and consumer, starting from the counters' current values.
    pub fn split(&self) -> (Producer<'_>, Consumer<'_>) {
        let w = self.words();
        (
            Producer::new(w, w.tail.load(Ordering::Relaxed)),
            Consumer::new(w, w.head.load(Ordering::Relaxed)),
        )
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fills_drains_and_wraps() {
        let ring = SpscRing::new(4);
        let (mut tx, mut rx) = ring.split();
        for lap in 0..5u32 {
            for i in 0..4 {
                tx.push(lap * 10 + i).unwrap();
            }
            assert_eq!(tx.push(99), Err(SpscPushError::Full(99)));
            for i in 0..4 {
                assert_eq!(rx.pop(), Ok(lap * 10 + i));
            }
            assert_eq!(rx.pop(), Err(SpscPopError::Empty));
        }
    }

    #[test]
    fn unpublished_reads_leave_the_producer_less_room() {
        let ring = SpscRing::new(4);
        let (mut tx, mut rx) = ring.split();
        for i in 0..4 {
            tx.push(i).unwrap();
        }
        assert_eq!(rx.pop_unpublished(), Ok(0));
        assert_eq!(rx.pop_unpublished(), Ok(1));
        assert_eq!(rx.unpublished(), 2);
        // The producer still sees a full ring: the two cells read are not yet its to reuse.
        assert_eq!(tx.push(4), Err(SpscPushError::Full(4)));
        rx.publish();
        assert_eq!(rx.unpublished(), 0);
        tx.push(4).unwrap();
        tx.push(5).unwrap();
        assert_eq!(tx.push(6), Err(SpscPushError::Full(6)));
        let rest: Vec<u32> = core::iter::from_fn(|| rx.pop().ok()).collect();
        assert_eq!(rest, [2, 3, 4, 5]);
        // A counter another party wrote over reads as a large lag.
        ring.head.store(1000, Ordering::Relaxed);
        assert!(rx.unpublished() > 4);
        rx.publish();
        assert_eq!(ring.head.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn a_resumed_consumer_reads_below_its_cached_tail_without_the_counter() {
        let ring = SpscRing::new(4);
        let (mut tx, mut rx) = ring.split();
        for i in 0..3 {
            tx.push(i).unwrap();
        }
        assert_eq!(rx.pop(), Ok(0));
        let (head, tail) = (rx.position(), rx.cached_tail());
        assert_eq!((head, tail), (1, 3));
        // The shared counter is not read while entries remain below the cached tail.
        ring.tail.store(1000, Ordering::Relaxed);
        let mut rx = Consumer::resume(ring.words(), head, tail);
        assert_eq!(rx.pop(), Ok(1));
        assert_eq!(rx.pop(), Ok(2));
        assert_eq!(rx.pop(), Err(SpscPopError::Corrupt));
        // A cached tail further away than the ring holds is not trusted.
        ring.tail.store(3, Ordering::Relaxed);
        let mut rx = Consumer::resume(ring.words(), 3, 3 + 100);
        assert_eq!(rx.pop(), Err(SpscPopError::Empty));
    }

    #[test]
    fn corrupt_counters_are_reported() {
        let ring = SpscRing::new(4);
        let (mut tx, mut rx) = ring.split();
        ring.tail.store(1000, Ordering::Relaxed);
        assert_eq!(rx.pop(), Err(SpscPopError::Corrupt));
        ring.tail.store(0, Ordering::Relaxed);
        ring.head.store(0, Ordering::Relaxed);
        for i in 0..4 {
            tx.push(i).unwrap();
        }
        ring.head.store(u32::MAX - 10, Ordering::Relaxed);
        assert_eq!(tx.push(5), Err(SpscPushError::Corrupt(5)));
    }
}
