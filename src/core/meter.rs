//! The page's accounting of the shared memory it hands out: every payload buffer, arena,
//! grant and task block is counted while it lives, against a ceiling the runtime was given
//! (`createTaskRuntime({ maxSharedMemoryBytes })`). A request beyond the ceiling fails
//! instead of growing the memory.

use atelier_ring::HeapBuf;
use std::cell::Cell;
use std::rc::Rc;

/// Shared-memory ceiling when the runtime names none.
pub const DEFAULT_CEILING: u64 = 512 << 20;

/// Bytes in use and the ceiling. Clones share the count.
#[derive(Clone)]
pub struct Meter {
    used: Rc<Cell<u64>>,
    ceiling: Rc<Cell<u64>>,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            used: Rc::new(Cell::new(0)),
            ceiling: Rc::new(Cell::new(DEFAULT_CEILING)),
        }
    }
}

impl Meter {
    /// Bytes in use now.
    pub fn used(&self) -> u64 {
        self.used.get()
    }

    /// The ceiling.
    pub fn ceiling(&self) -> u64 {
        self.ceiling.get()
    }

    /// Sets the ceiling.
    pub fn set_ceiling(&self, bytes: u64) {
        self.ceiling.set(bytes);
    }

    /// Counts `n` bytes if they fit under the ceiling.
    pub fn take(&self, n: u64) -> bool {
        let used = self.used.get().saturating_add(n);
        if used > self.ceiling.get() {
            return false;
        }
        self.used.set(used);
        true
    }

    /// Gives back `n` bytes counted by [`take`](Self::take).
    pub fn give(&self, n: u64) {
        self.used.set(self.used.get().saturating_sub(n));
    }

    /// A zeroed buffer of `cap` bytes, counted while it lives; `None` beyond the ceiling or
    /// when the memory is out.
    pub fn alloc(&self, cap: u32) -> Option<Metered> {
        let n = u64::from(cap);
        if !self.take(n) {
            return None;
        }
        match HeapBuf::new(cap) {
            Some(buf) => Some(Metered {
                buf,
                meter: self.clone(),
            }),
            None => {
                self.give(n);
                None
            }
        }
    }
}

/// A [`HeapBuf`] counted by a [`Meter`] until it is dropped.
pub struct Metered {
    buf: HeapBuf,
    meter: Meter,
}

impl Metered {
    /// The address of the first data byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.buf.as_ptr()
    }

    /// How many data bytes the buffer has.
    pub fn capacity(&self) -> u32 {
        self.buf.capacity()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.meter.give(u64::from(self.buf.capacity()));
    }
}
