//! The sleep/wake protocol around a [`Doorbell`], kept apart from the platform's wait and
//! notify so that it can be model-checked natively.
//!
//! # Memory ordering
//!
//! A publisher and a sleeper form a Dekker pair: the publisher writes "data" (a ring push)
//! then reads `sleepers`; the sleeper writes `sleepers` then reads "data" (a ring pop).
//! Release/Acquire cannot order a store before a later load of another location, so the
//! bump of `seq`, the read of `sleepers` and the increment of `sleepers` are `SeqCst`: in
//! the single total order either the publisher's read of `sleepers` comes after the
//! sleeper's increment (and it notifies), or the sleeper's re-check comes after the push
//! (and it finds the data). The wait itself compares `seq` with the value read before the
//! re-check, so a notify that lands between the re-check and the wait is not lost either.

use crate::layout::Doorbell;
use crate::sync::Ordering;

impl Doorbell {
    /// Call after publishing: bumps `seq` and says whether anybody may be asleep (then
    /// the caller must notify the `seq` word).
    #[inline]
    pub fn ring(&self) -> bool {
        // SeqCst: the Dekker pair described in the module docs.
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.sleepers.load(Ordering::SeqCst) > 0
    }

    /// The doorbell of a publisher that runs on every call (a worker completing calls, for
    /// the page): call after publishing, with a `SeqCst` fence (or a `SeqCst` store of the
    /// publication) between the two. Bumps `seq` only when somebody counts itself asleep,
    /// and then returns true (the caller must notify): with nobody asleep it costs one load,
    /// where [`ring`](Self::ring) always writes `seq`, a line the sleeper reads.
    ///
    /// Its sleepers must count themselves in ([`enter`](Self::enter)) before their last look
    /// for data, with a `SeqCst` fence between the two, and wait only while `seq` holds what
    /// `enter` returned. Then the pair of fences orders the publisher's store before its load
    /// of `sleepers` and the sleeper's increment before its look: either the publisher sees
    /// the sleeper (and bumps and notifies), or the look finds the data. A sleeper that reads
    /// `seq` before its last look and counts itself in only later (as `ring` allows) could
    /// miss both.
    #[inline]
    pub fn ring_if_watched(&self) -> bool {
        // SeqCst: with the fence before it, the Dekker pair described above.
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return false;
        }
        // SeqCst: a sleeper between `enter` and its wait compares `seq` to what it read.
        self.seq.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Call before going to sleep: returns the `seq` value to wait on. The caller must
    /// check for data once more after this and before waiting, and call
    /// [`leave`](Self::leave) when it is awake again (or decided not to sleep).
    #[inline]
    pub fn enter(&self) -> u32 {
        // SeqCst: the Dekker pair described in the module docs.
        let seen = self.seq.load(Ordering::SeqCst);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        seen
    }

    /// Undoes [`enter`](Self::enter).
    #[inline]
    pub fn leave(&self) {
        // Relaxed: the count only gates notifies; a late decrement costs one spare notify.
        // A corrupt count (already zero) is left at zero rather than wrapped.
        let _ = self
            .sleepers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The current `seq`.
    #[inline]
    pub fn seq(&self) -> u32 {
        self.seq.load(Ordering::SeqCst)
    }
}

/// Wakes up to `count` threads waiting on the doorbell's `seq` word. On wasm32 this is
/// `memory.atomic.notify`, which the main thread may call; elsewhere there are no
/// sleepers to wake (native tests poll).
#[inline]
pub fn notify(bell: &Doorbell, count: u32) -> u32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    {
        let ptr = bell.seq.as_ptr().cast::<i32>();
        // SAFETY: `ptr` points at a live, 4-byte-aligned word of this module's shared memory;
        // notify only reads the address, it does not access the word.
        unsafe { core::arch::wasm32::memory_atomic_notify(ptr, count) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
    {
        let _ = (bell, count);
        0
    }
}

/// Wakes up to `count` threads waiting on `word` (a worker waiting for the page's answer
/// to its buffer request). As [`notify`]: a no-op off wasm32.
#[inline]
pub fn notify_word(word: &core::sync::atomic::AtomicU32, count: u32) -> u32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    {
        // SAFETY: `word` is a live, 4-byte-aligned word of this module's shared memory;
        // notify only reads the address, it does not access the word.
        unsafe { core::arch::wasm32::memory_atomic_notify(word.as_ptr().cast::<i32>(), count) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
    {
        let _ = (word, count);
        0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ring_reports_sleepers() {
        let bell = Doorbell::default();
        assert!(!bell.ring());
        let seen = bell.enter();
        assert_eq!(seen, 1);
        assert!(bell.ring());
        assert_eq!(bell.seq(), 2);
        bell.leave();
        assert!(!bell.ring());
        // A corrupt (already zero) count is not wrapped around.
        bell.leave();
        assert!(!bell.ring());
    }

    #[test]
    fn ring_if_watched_moves_seq_only_for_sleepers() {
        let bell = Doorbell::default();
        assert!(!bell.ring_if_watched());
        assert_eq!(bell.seq(), 0);
        let seen = bell.enter();
        assert!(bell.ring_if_watched());
        assert_ne!(
            bell.seq(),
            seen,
            "a sleeper about to wait on `seen` returns at once"
        );
        bell.leave();
        assert!(!bell.ring_if_watched());
        assert_eq!(bell.seq(), 1);
    }
}
