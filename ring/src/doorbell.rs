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
}
