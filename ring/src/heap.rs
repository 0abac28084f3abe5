//! Heap buffers of the page's: payloads too large for a slot's inline bytes, the workers'
//! result arenas and the buffers granted for large results. Only the page allocates and frees
//! them; workers are handed their addresses, and the page never frees an address it read
//! back from shared memory (it keeps every buffer it owns in its own records).

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use core::ptr::NonNull;

const ALIGN: usize = 8;

/// The largest buffer, so that an address plus a capacity fits in 32 bits on wasm32.
pub const MAX_HEAP_BYTES: u32 = (1 << 31) - 64;

/// An owned, zero-initialised, 8-aligned byte buffer.
///
/// Zeroed so that a worker handed it never reads uninitialised memory. On wasm the allocator
/// takes large buffers from freshly grown, already zeroed memory, so the zeroing costs little
/// where it would cost most.
pub struct HeapBuf {
    data: NonNull<u8>,
    cap: u32,
}

// SAFETY: a HeapBuf owns its allocation outright, like a Box<[u8]>.
unsafe impl Send for HeapBuf {}

fn layout(cap: u32) -> Option<Layout> {
    if cap > MAX_HEAP_BYTES {
        return None;
    }
    Layout::from_size_align((cap as usize).max(1), ALIGN).ok()
}

impl HeapBuf {
    /// A buffer of `cap` zeroed bytes, or `None` when `cap` is too large or memory is out.
    pub fn new(cap: u32) -> Option<HeapBuf> {
        let layout = layout(cap)?;
        // SAFETY: the layout has a non-zero size (at least 1).
        let data = NonNull::new(unsafe { alloc_zeroed(layout) })?;
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
}

impl Drop for HeapBuf {
    fn drop(&mut self) {
        // SAFETY: `data` was allocated by `new` with this layout (which `new` checked exists).
        unsafe { dealloc(self.data.as_ptr(), layout(self.cap).unwrap_unchecked()) }
    }
}

/// Staging capacity the page starts with, and falls back to after a large payload took its
/// staging buffer over.
pub const STAGING_DEFAULT: u32 = 4096;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn zeroed_aligned_and_bounded() {
        let buf = HeapBuf::new(100).unwrap();
        assert_eq!(buf.as_ptr() as usize % ALIGN, 0);
        // SAFETY: a fresh buffer of 100 bytes.
        let bytes = unsafe { core::slice::from_raw_parts(buf.as_ptr(), 100) };
        assert!(bytes.iter().all(|&b| b == 0));
        assert!(HeapBuf::new(0).is_some());
        assert!(HeapBuf::new(MAX_HEAP_BYTES + 1).is_none());
    }
}
