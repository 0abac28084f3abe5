//! Addresses as they are stored in shared memory: 32-bit words.
//!
//! On wasm32 a word is the address itself, and [`holds`] checks it against the memory's
//! current size. Natively (tests, loom, miri) pointers are wider than a word, so a word is
//! an offset into a process-wide table of the regions that were turned into words: each
//! [`to_word`] reserves a range of words as long as its region (plus the 8 bytes before it,
//! so that, as on wasm32, no address below 8 is valid), so that `word + k` stands for `ptr + k` as it
//! would on wasm32. A word in no region is "outside memory", as a wild address would be.

/// The word that stands for `ptr`, the start of `len` bytes (with 8 readable bytes before).
pub fn to_word(ptr: *mut u8, len: u32) -> u32 {
    imp::to_word(ptr, len)
}

/// The pointer a word stands for (check it with [`holds`] first).
pub fn from_word(word: u32) -> *mut u8 {
    imp::from_word(word)
}

/// Whether `len` bytes at `word`, and the 8 bytes before it, lie inside memory.
pub fn holds(word: u32, len: u32) -> bool {
    imp::holds(word, len)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub fn to_word(ptr: *mut u8, _len: u32) -> u32 {
        ptr as usize as u32
    }

    pub fn from_word(word: u32) -> *mut u8 {
        word as usize as *mut u8
    }

    pub fn holds(word: u32, len: u32) -> bool {
        let size = (core::arch::wasm32::memory_size(0) as u64) * 65536;
        word >= 8 && u64::from(word) + u64::from(len) <= size
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    extern crate std;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// Next free word, and the regions: first word (of the 8 bytes before the data) ->
    /// (address of that first byte, length including those 8 bytes).
    type Table = (u32, BTreeMap<u32, (usize, u32)>);
    static TABLE: Mutex<Option<Table>> = Mutex::new(None);

    fn with<R>(f: impl FnOnce(&mut Table) -> R) -> R {
        let mut guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        f(guard.get_or_insert_with(|| (16, BTreeMap::new())))
    }

    pub fn to_word(ptr: *mut u8, len: u32) -> u32 {
        with(|(next, map)| {
            let first = *next;
            let span = len.saturating_add(8);
            map.insert(first, ((ptr as usize).wrapping_sub(8), span));
            // Keep words 16-aligned (they stand for 8-aligned addresses) and leave a gap, so
            // that one past a region is outside memory.
            *next = first
                .checked_add(span.saturating_add(16 + 15) & !15)
                .expect("native address words exhausted");
            first + 8
        })
    }

    fn region(word: u32) -> Option<(u32, usize, u32)> {
        with(|(_, map)| {
            let (&first, &(base, span)) = map.range(..=word).next_back()?;
            (word - first < span).then_some((first, base, span))
        })
    }

    pub fn from_word(word: u32) -> *mut u8 {
        region(word).map_or(core::ptr::null_mut(), |(first, base, _)| {
            base.wrapping_add((word - first) as usize) as *mut u8
        })
    }

    pub fn holds(word: u32, len: u32) -> bool {
        let Some(start) = word.checked_sub(8) else {
            return false;
        };
        region(start).is_some_and(|(first, _, span)| {
            u64::from(word - first) + u64::from(len) <= u64::from(span)
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn words_stand_for_addresses_inside_their_region() {
        let mut data = [0u8; 64];
        let base = data.as_mut_ptr();
        // SAFETY: 8 bytes in: the region's 8 "header" bytes lie inside `data`.
        let ptr = unsafe { base.add(8) };
        let w = to_word(ptr, 56);
        assert_eq!(from_word(w), ptr);
        // SAFETY: inside `data`.
        assert_eq!(from_word(w + 10), unsafe { ptr.add(10) });
        assert!(holds(w, 56));
        assert!(holds(w + 8, 48));
        assert!(!holds(w, 57));
        assert!(!holds(w + 100_000, 1));
        assert!(!holds(0, 0));
    }
}
