//! Addresses as they are stored in shared memory: 32-bit words.
//!
//! On wasm32 a word is the address itself, and [`holds`] checks it against the memory's
//! current size. Natively (tests, loom, miri) pointers are wider than a word, so words are
//! handles into a process-wide table of the pointers that were turned into words; a word
//! not in the table is "outside memory", as a wild address would be on wasm32.

/// The word that stands for `ptr`.
pub fn to_word(ptr: *mut u8) -> u32 {
    imp::to_word(ptr)
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
    pub fn to_word(ptr: *mut u8) -> u32 {
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
    use std::collections::HashMap;
    use std::sync::Mutex;

    static TABLE: Mutex<Option<(u32, HashMap<u32, usize>)>> = Mutex::new(None);

    pub fn to_word(ptr: *mut u8) -> u32 {
        let mut guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        let (next, map) = guard.get_or_insert_with(|| (16, HashMap::new()));
        let word = *next;
        *next += 16;
        map.insert(word, ptr as usize);
        word
    }

    pub fn from_word(word: u32) -> *mut u8 {
        let guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .and_then(|(_, map)| map.get(&word).copied())
            .unwrap_or(0) as *mut u8
    }

    pub fn holds(word: u32, _len: u32) -> bool {
        !from_word(word).is_null()
    }
}
