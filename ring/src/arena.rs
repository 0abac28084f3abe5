//! Each worker's result arena: a byte ring in a buffer the page allocated for that worker.
//! The worker writes each result at its write position and names it in the slot
//! (`res_ptr`, `res_len`, `res_end`); the page reads results in the order of the worker's
//! completion ring, which is the order they were written, and releases the arena up to
//! `res_end` after each. So the worker needs no allocator (it takes no lock that the page
//! could ever wait for), and when the worker dies the page frees the whole buffer.
//!
//! Positions are `u32` counters that wrap; a result never straddles the end of the buffer:
//! when it does not fit before the end, it starts at the next lap (the skipped bytes are
//! released with it). Positions are multiples of 8, as the codec wants its messages aligned.
//!
//! The page never trusts what the worker wrote: [`check`] accepts a result only when it lies
//! between the page's own read position and one capacity beyond it.

/// Arena size a worker gets by default.
pub const ARENA_DEFAULT: u32 = 256 * 1024;

/// Rounds a position up to a multiple of 8.
#[inline]
pub const fn align8(pos: u32) -> u32 {
    pos.wrapping_add(7) & !7
}

/// Contiguous bytes a result may use from position `start` (at or after `write`), given the
/// page's `read` position: up to the end of the buffer, and never over a result the page has
/// not read yet. `cap` is a power of two; 0 when the counters make no sense.
#[inline]
pub fn room(cap: u32, read: u32, write: u32, start: u32) -> u32 {
    let to_end = cap - (start & (cap - 1));
    if read == write {
        // Nothing is unread: the whole buffer is free.
        return to_end;
    }
    if write.wrapping_sub(read) > cap || start.wrapping_sub(read) > cap {
        return 0;
    }
    to_end.min(read.wrapping_add(cap).wrapping_sub(start))
}

/// The start of the lap after position `pos` (`pos` itself when it starts a lap).
#[inline]
pub fn next_lap(cap: u32, pos: u32) -> u32 {
    pos.wrapping_add(cap - 1) & !(cap - 1)
}

/// Where a result of `len` bytes can start, writing from `write` with the page at `read`:
/// at `write`, or at the next lap when it does not fit before the end; `None` when the
/// arena is too full (or too small) for it now.
pub fn place(cap: u32, read: u32, write: u32, len: u32) -> Option<u32> {
    if room(cap, read, write, write) >= len {
        return Some(write);
    }
    let lap = next_lap(cap, write);
    (lap != write && room(cap, read, write, lap) >= len).then_some(lap)
}

/// The position just past a result of `len` bytes that starts at `start`.
#[inline]
pub fn end_of(start: u32, len: u32) -> u32 {
    align8(start.wrapping_add(len))
}

/// Checks a result that a worker says it wrote at offset `offset` of its arena, `len` bytes,
/// ending at position `end`, against the page's own `read` position. On success the page
/// may read `offset .. offset + len` (inside the buffer) and then release the arena up to
/// `end`. Whether the worker overwrote its own unread results is its business: a worker
/// that lies can only corrupt its own calls' results.
pub fn check(cap: u32, read: u32, offset: u32, len: u32, end: u32) -> bool {
    if len > cap || offset > cap - len {
        return false;
    }
    // Results start at multiples of 8, so `end` minus the aligned length is the start; it
    // lies after what the page released, less than two laps on.
    let start = end.wrapping_sub(align8(len));
    start & (cap - 1) == offset
        && start.wrapping_sub(read) < cap.saturating_mul(2)
        && end.wrapping_sub(read) <= cap.saturating_mul(2)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn results_wrap_to_the_next_lap_and_check_out() {
        let cap = 64;
        let mut read = 0;
        let mut write = 0;
        let mut written = std::collections::VecDeque::new();
        for len in [10u32, 20, 30, 5, 40, 8, 64, 1, 0, 33] {
            let start = loop {
                match place(cap, read, write, len) {
                    Some(s) => break s,
                    None => {
                        // The page reads the oldest result and releases up to its end.
                        let (off, l, end) = written.pop_front().expect("an empty arena fits");
                        assert!(check(cap, read, off, l, end));
                        read = end;
                    }
                }
            };
            assert!(start & 7 == 0);
            assert!((start & (cap - 1)) + len <= cap, "never straddles the end");
            let end = end_of(start, len);
            written.push_back((start & (cap - 1), len, end));
            write = end;
        }
    }

    #[test]
    fn check_refuses_what_lies_outside_the_unread_part() {
        let cap = 64;
        // A result at offset 8, 10 bytes, ending at 24, with the page at 8: fine.
        assert!(check(cap, 8, 8, 10, 24));
        // Its length pokes past the buffer, its end is a lap away, its offset disagrees.
        assert!(!check(cap, 8, 60, 10, 24));
        assert!(!check(cap, 8, 8, 10, 24 + 128));
        assert!(!check(cap, 8, 16, 10, 24));
        // It starts before what the page already released.
        assert!(!check(cap, 16, 8, 10, 24));
        assert!(!check(cap, 200, 8, 10, 24));
        assert!(!check(cap, 0, 0, 65, 72));
    }

    #[test]
    fn too_large_never_fits() {
        assert_eq!(place(64, 0, 0, 65), None);
        assert_eq!(place(64, 0, 0, 64), Some(0));
        assert_eq!(place(64, 0, 8, 60), None);
        // Empty at offset 8: a result that does not fit before the end starts a lap.
        assert_eq!(place(64, 8, 8, 60), Some(64));
        assert_eq!(place(64, 8, 8, 56), Some(8));
        // Unread bytes from 8 to 16: the next lap may use up to offset 8.
        assert_eq!(place(64, 8, 16, 48), Some(16));
        assert_eq!(place(64, 8, 16, 49), None);
        assert_eq!(place(64, 40, 48, 8), Some(48));
        assert_eq!(place(64, 40, 48, 17), Some(64));
        assert_eq!(place(64, 40, 48, 41), None);
    }
}
