//! Helpers the native tests share.

use atelier_ring::layout::INLINE_PTR;
use atelier_ring::{addr, TaskBlock};
use atelier_workers::Claim;
use std::sync::atomic::Ordering;

/// The argument bytes of a claimed call.
pub fn args_of(block: &TaskBlock, c: Claim) -> Vec<u8> {
    let slot = &block.slots[c.slot as usize];
    let len = slot.arg_len.load(Ordering::Relaxed);
    let ptr = slot.arg_ptr.load(Ordering::Relaxed);
    let src = if ptr == INLINE_PTR {
        slot.inline_ptr()
    } else {
        assert!(addr::holds(ptr, len));
        addr::from_word(ptr)
    };
    // SAFETY: the page wrote `len` bytes there before publishing the slot.
    unsafe { std::slice::from_raw_parts(src, len as usize) }.to_vec()
}
