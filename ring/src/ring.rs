//! A bounded multi-producer multi-consumer ring of `u32` values (D. Vyukov's bounded
//! queue), the one queue shape the dispatch path needs: work rings (the controller pushes
//! slot indices, a task's workers pull them) and completion rings (workers push, the
//! controller pulls).
//!
//! # Memory ordering
//!
//! Every cell carries a sequence number. For the cell at position `pos` (taken modulo the
//! capacity) the sequence says what the cell is waiting for:
//!
//! * `seq == pos`: empty, waiting for the producer that claims `pos`;
//! * `seq == pos + 1`: full, waiting for the consumer that claims `pos`;
//! * `seq == pos + capacity`: emptied, waiting for the producer one lap later.
//!
//! A producer claims `pos` by a CAS on `tail`, writes the value, then stores
//! `seq = pos + 1` with `Release`. A consumer loads `seq` with `Acquire` before it reads the
//! value, so the value write happens-before the read; it then stores `seq = pos + capacity`
//! with `Release`, which the next lap's producer loads with `Acquire` before it overwrites
//! the value. `head` and `tail` only hand out positions, and the cell's sequence is what
//! publishes data, so the CAS on them is `Relaxed`.
//!
//! # Untrusted memory
//!
//! The ring lives in memory that code in a worker can write. No corrupt word can make an
//! operation index out of bounds (positions are masked) or spin forever: a sequence that
//! says "another thread got here first" while `head`/`tail` has not moved cannot happen in
//! a well-formed ring, and is reported as [`PopError::Corrupt`] / [`PushError::Corrupt`].

use crate::sync::{AtomicU32, Ordering};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// The largest capacity a ring accepts.
pub const MAX_CAPACITY: u32 = 1 << 30;

/// One cell: a sequence number and the value it guards.
#[repr(C)]
struct Cell {
    seq: AtomicU32,
    value: AtomicU32,
}

/// `head` and `tail` each on a cache line of their own, so producers and consumers do not
/// invalidate each other's line.
#[repr(C, align(64))]
struct Padded(AtomicU32);

/// A bounded MPMC ring of `u32`.
pub struct Ring {
    head: Padded,
    tail: Padded,
    mask: u32,
    cells: Box<[Cell]>,
}

/// Why a push failed; the value is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// Every cell is full.
    Full(u32),
    /// The ring's words hold values no well-formed ring can hold.
    Corrupt(u32),
}

/// Why a pop returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopError {
    /// No value is published.
    Empty,
    /// The ring's words hold values no well-formed ring can hold.
    Corrupt,
}

/// A capacity that is not a power of two in `2..=MAX_CAPACITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError(pub u32);

impl core::fmt::Display for CapacityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "ring capacity {} is not a power of two between 2 and {MAX_CAPACITY}",
            self.0
        )
    }
}

impl Ring {
    /// A ring with room for `capacity` values (a power of two, at least 2).
    ///
    /// # Examples
    /// ```
    /// use atelier_ring::{Ring, PopError};
    /// let ring = Ring::new(4).unwrap();
    /// ring.push(7).unwrap();
    /// assert_eq!(ring.pop(), Ok(7));
    /// assert_eq!(ring.pop(), Err(PopError::Empty));
    /// ```
    pub fn new(capacity: u32) -> Result<Ring, CapacityError> {
        if !(2..=MAX_CAPACITY).contains(&capacity) || !capacity.is_power_of_two() {
            return Err(CapacityError(capacity));
        }
        let cells: Vec<Cell> = (0..capacity)
            .map(|i| Cell {
                seq: AtomicU32::new(i),
                value: AtomicU32::new(0),
            })
            .collect();
        Ok(Ring {
            head: Padded(AtomicU32::new(0)),
            tail: Padded(AtomicU32::new(0)),
            mask: capacity - 1,
            cells: cells.into_boxed_slice(),
        })
    }

    /// The smallest valid capacity that holds `n` values ([`MAX_CAPACITY`] when `n` is
    /// larger than that: callers bound `n` first).
    pub fn capacity_for(n: u32) -> u32 {
        n.max(2)
            .checked_next_power_of_two()
            .unwrap_or(MAX_CAPACITY)
            .min(MAX_CAPACITY)
    }

    /// How many values the ring holds at most.
    pub fn capacity(&self) -> u32 {
        self.mask.wrapping_add(1)
    }

    /// Publishes `value`, or hands it back when the ring is full.
    ///
    /// # Examples
    /// ```
    /// use atelier_ring::{Ring, PushError};
    /// let ring = Ring::new(2).unwrap();
    /// ring.push(1).unwrap();
    /// ring.push(2).unwrap();
    /// assert_eq!(ring.push(3), Err(PushError::Full(3)));
    /// ```
    pub fn push(&self, value: u32) -> Result<(), PushError> {
        // Relaxed: `tail` only hands out positions; the cell's `seq` publishes (see the type docs).
        let mut pos = self.tail.0.load(Ordering::Relaxed);
        loop {
            let cell = &self.cells[(pos & self.mask) as usize];
            // Acquire: pairs with the consumer's Release store of `seq` one lap earlier, so its
            // read of the old value happens-before our overwrite.
            let seq = cell.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as i32;
            if diff == 0 {
                match self.tail.0.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        cell.value.store(value, Ordering::Relaxed);
                        // Release: publishes the value to the consumer's Acquire load of `seq`.
                        cell.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                return Err(PushError::Full(value));
            } else {
                // Another producer claimed `pos` and so moved `tail` first; a `tail` that has
                // not moved means the words are corrupt.
                let now = self.tail.0.load(Ordering::Relaxed);
                if now == pos {
                    return Err(PushError::Corrupt(value));
                }
                pos = now;
            }
            crate::sync::spin_hint();
        }
    }

    /// Takes the oldest published value.
    pub fn pop(&self) -> Result<u32, PopError> {
        // Relaxed: see `push`.
        let mut pos = self.head.0.load(Ordering::Relaxed);
        loop {
            let cell = &self.cells[(pos & self.mask) as usize];
            // Acquire: pairs with the producer's Release store, so its value write is visible.
            let seq = cell.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as i32;
            if diff == 0 {
                match self.head.0.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let value = cell.value.load(Ordering::Relaxed);
                        // Release: our read of the value happens-before the next lap's overwrite.
                        cell.seq.store(
                            pos.wrapping_add(self.mask).wrapping_add(1),
                            Ordering::Release,
                        );
                        return Ok(value);
                    }
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                return Err(PopError::Empty);
            } else {
                // Another consumer took `pos` and moved `head` first; see `push`.
                let now = self.head.0.load(Ordering::Relaxed);
                if now == pos {
                    return Err(PopError::Corrupt);
                }
                pos = now;
            }
            crate::sync::spin_hint();
        }
    }

    /// How many values are published and not yet taken; a snapshot, exact only when no other
    /// thread is pushing or popping, and always in `0..=capacity`.
    pub fn len(&self) -> u32 {
        // Acquire (all three loads): keeps them in program order, so `head` is read between
        // two reads of `tail`; when those agree, `tail - head` is a count the ring really
        // held. A few tries, then a clamped estimate (never below zero, never above capacity).
        let cap = self.capacity() as i32;
        let mut tail = self.tail.0.load(Ordering::Acquire);
        for _ in 0..8 {
            let head = self.head.0.load(Ordering::Acquire);
            let again = self.tail.0.load(Ordering::Acquire);
            if again == tail {
                return (tail.wrapping_sub(head) as i32).clamp(0, cap) as u32;
            }
            tail = again;
        }
        let head = self.head.0.load(Ordering::Acquire);
        (tail.wrapping_sub(head) as i32).clamp(0, cap) as u32
    }

    /// Whether [`len`](Self::len) is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Overwrites the ring's words, for tests of corruption handling.
    #[doc(hidden)]
    pub fn corrupt_for_test(&self, head: u32, tail: u32, seq_at: u32, seq: u32) {
        self.head.0.store(head, Ordering::Relaxed);
        self.tail.0.store(tail, Ordering::Relaxed);
        self.cells[(seq_at & self.mask) as usize]
            .seq
            .store(seq, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_capacities() {
        for bad in [0, 1, 3, 6, MAX_CAPACITY + 1, u32::MAX] {
            assert_eq!(Ring::new(bad).err(), Some(CapacityError(bad)));
        }
        assert!(Ring::new(2).is_ok());
        assert!(CapacityError(3).to_string().contains("power of two"));
    }

    #[test]
    fn capacity_for_rounds_up() {
        assert_eq!(Ring::capacity_for(0), 2);
        assert_eq!(Ring::capacity_for(3), 4);
        assert_eq!(Ring::capacity_for(64), 64);
        assert_eq!(Ring::capacity_for(u32::MAX), MAX_CAPACITY);
    }

    #[test]
    fn fifo_and_full_and_empty() {
        let ring = Ring::new(4).unwrap();
        assert_eq!(ring.pop(), Err(PopError::Empty));
        for v in 10..14 {
            ring.push(v).unwrap();
        }
        assert_eq!(ring.len(), 4);
        assert_eq!(ring.push(99), Err(PushError::Full(99)));
        for v in 10..14 {
            assert_eq!(ring.pop(), Ok(v));
        }
        assert!(ring.is_empty());
    }

    #[test]
    fn wraps_many_laps() {
        let ring = Ring::new(2).unwrap();
        for v in 0..10_000u32 {
            ring.push(v).unwrap();
            assert_eq!(ring.pop(), Ok(v));
        }
    }

    #[test]
    fn positions_wrap_around_u32() {
        let ring = Ring::new(4).unwrap();
        let start = u32::MAX - 5;
        // A ring whose counters are near the end of the u32 range, as after 2^32 operations.
        ring.head.0.store(start, Ordering::Relaxed);
        ring.tail.0.store(start, Ordering::Relaxed);
        for i in 0..4u32 {
            let pos = start.wrapping_add(i);
            ring.cells[(pos & ring.mask) as usize]
                .seq
                .store(pos, Ordering::Relaxed);
        }
        for v in 0..100u32 {
            ring.push(v).unwrap();
            ring.push(v + 1000).unwrap();
            assert_eq!(ring.pop(), Ok(v));
            assert_eq!(ring.pop(), Ok(v + 1000));
        }
    }

    #[test]
    fn corrupt_words_are_reported_not_looped_on() {
        let ring = Ring::new(4).unwrap();
        // A sequence that claims a later lap while head stands still.
        ring.corrupt_for_test(0, 0, 0, 100);
        assert_eq!(ring.pop(), Err(PopError::Corrupt));
        assert_eq!(ring.push(5), Err(PushError::Corrupt(5)));
        // Garbage everywhere: every operation still returns.
        let ring = Ring::new(8).unwrap();
        ring.corrupt_for_test(0xdead_beef, 3, 0xdead_beef, 0x1234_5678);
        let _ = ring.pop();
        let _ = ring.push(1);
        assert!(ring.len() <= ring.capacity());
    }
}
