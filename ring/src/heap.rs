//! Heap buffers that cross between threads: a payload too large for a slot's inline bytes
//! is written into a [`HeapBuf`] on one side and freed on the other.
//!
//! The address and capacity that reach the freeing side come through shared memory, so
//! they are untrusted. Each buffer carries an 8-byte header (a tag derived from its own
//! address, and its capacity) in front of its data; [`HeapBuf::from_raw`] frees nothing
//! whose header does not match. That catches garbage and stale words; it cannot stop code
//! that forges a header on purpose (nothing can, inside one shared memory), which is why
//! only the runtime's own code ever calls it.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;

const HEADER: usize = 8;
const ALIGN: usize = 8;
const TAG: u32 = 0xA7E1_1E55;

/// The largest buffer, so that an address plus a capacity fits in 32 bits on wasm32.
pub const MAX_HEAP_BYTES: u32 = (1 << 31) - 64;

/// An owned, zero-initialised byte buffer with a validating header.
///
/// Zeroed because [`HeapBuf::from_raw`] reads a header in front of an address that came
/// through shared memory: an address inside another buffer must read initialised bytes (miri
/// catches the difference). On wasm the allocator takes large buffers from freshly grown,
/// already zeroed memory, so the zeroing costs little where it would cost most.
pub struct HeapBuf {
    data: NonNull<u8>,
    cap: u32,
}

// SAFETY: a HeapBuf owns its allocation outright, like a Box<[u8]>.
unsafe impl Send for HeapBuf {}

/// A freeing side was handed an address or capacity that is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignBuffer;

fn layout(cap: u32) -> Option<Layout> {
    if cap > MAX_HEAP_BYTES {
        return None;
    }
    Layout::from_size_align(cap as usize + HEADER, ALIGN).ok()
}

fn tag(data: *const u8) -> u32 {
    TAG ^ (data as usize as u32)
}

impl HeapBuf {
    /// A buffer of `cap` zeroed bytes, or `None` when `cap` is too large or memory is out.
    pub fn new(cap: u32) -> Option<HeapBuf> {
        let layout = layout(cap)?;
        // SAFETY: the layout has a non-zero size (it includes the header).
        let base = unsafe { alloc_zeroed(layout) };
        let base = NonNull::new(base)?;
        // SAFETY: the allocation is HEADER + cap bytes, 8-aligned, so the header words are
        // in bounds and aligned, and data stays inside the allocation.
        let data = unsafe {
            let data = base.as_ptr().add(HEADER);
            base.as_ptr().cast::<u32>().write(tag(data));
            base.as_ptr().cast::<u32>().add(1).write(cap);
            NonNull::new_unchecked(data)
        };
        Some(HeapBuf { data, cap })
    }

    /// The address of the first data byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.data.as_ptr()
    }

    /// How many data bytes the buffer has.
    pub fn capacity(&self) -> u32 {
        self.cap
    }

    /// Gives up ownership; the buffer lives on until [`HeapBuf::from_raw`] takes it back.
    pub fn into_raw(self) -> (*mut u8, u32) {
        let raw = (self.data.as_ptr(), self.cap);
        core::mem::forget(self);
        raw
    }

    /// Takes back a buffer given up by [`into_raw`](Self::into_raw), after checking its
    /// header.
    ///
    /// # Safety
    /// `data - 8 .. data` must be readable memory (the caller checks the address against
    /// the memory's bounds), and a buffer whose header matches must not be owned by anybody
    /// else (the caller takes each address once).
    pub unsafe fn from_raw(data: *mut u8, cap: u32) -> Result<HeapBuf, ForeignBuffer> {
        if (data as usize) < HEADER
            || !(data as usize).is_multiple_of(ALIGN)
            || layout(cap).is_none()
        {
            return Err(ForeignBuffer);
        }
        // SAFETY: the caller guarantees the 8 header bytes before `data` are readable;
        // alignment was checked above.
        let (t, c) = unsafe {
            let base = data.sub(HEADER).cast::<u32>();
            (base.read_volatile(), base.add(1).read_volatile())
        };
        if t != tag(data) || c != cap {
            return Err(ForeignBuffer);
        }
        // SAFETY: `data` is non-null (it is at least HEADER).
        let data = unsafe { NonNull::new_unchecked(data) };
        Ok(HeapBuf { data, cap })
    }
}

impl Drop for HeapBuf {
    fn drop(&mut self) {
        // SAFETY: `data - HEADER` is the start of an allocation made by `new` with this
        // layout; the header is cleared first so a stale copy of the address cannot be
        // taken back twice.
        unsafe {
            let base = self.data.as_ptr().sub(HEADER);
            base.cast::<u32>().write(0);
            dealloc(base, layout(self.cap).unwrap_unchecked());
        }
    }
}

/// Staging capacity a side starts with, and falls back to after a large payload took its
/// staging buffer over.
pub const STAGING_DEFAULT: u32 = 4096;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_raw() {
        let buf = HeapBuf::new(100).unwrap();
        // SAFETY: fresh buffer of 100 bytes.
        unsafe { buf.as_ptr().add(99).write(7) };
        let (ptr, cap) = buf.into_raw();
        assert_eq!(cap, 100);
        // SAFETY: just given up by into_raw.
        let back = unsafe { HeapBuf::from_raw(ptr, cap) }.unwrap();
        // SAFETY: still 100 bytes.
        assert_eq!(unsafe { back.as_ptr().add(99).read() }, 7);
    }

    #[test]
    fn refuses_wrong_capacity_and_misaligned_addresses() {
        let (ptr, cap) = HeapBuf::new(64).unwrap().into_raw();
        // SAFETY: the header of a live buffer is readable.
        assert!(unsafe { HeapBuf::from_raw(ptr, cap + 1) }.is_err());
        // SAFETY: ptr + 8 is inside the live buffer, so its 8 preceding bytes are readable.
        assert!(unsafe { HeapBuf::from_raw(ptr.add(8), 56) }.is_err());
        // SAFETY: misaligned and tiny addresses are refused before any read.
        assert!(unsafe { HeapBuf::from_raw(ptr.add(1), cap) }.is_err());
        // SAFETY: as above.
        assert!(unsafe { HeapBuf::from_raw(core::ptr::without_provenance_mut(4), cap) }.is_err());
        // SAFETY: the real one is still accepted, once.
        drop(unsafe { HeapBuf::from_raw(ptr, cap) }.unwrap());
        assert!(HeapBuf::new(MAX_HEAP_BYTES + 1).is_none());
    }
}
