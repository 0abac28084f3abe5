//! Native multi-threaded stress of the ring and the doorbell protocol.
//!
//! * MPMC: `P` producers and `C` consumers push and pop distinct values through a small
//!   ring, retrying on `Full`/`Empty`; every value must arrive exactly once, and every
//!   consumer must see each producer's values in the order they were pushed (a consumer's
//!   pops take increasing positions, and so do one producer's pushes).
//! * Doorbell: a publisher pushes and rings, sleepers follow the protocol of
//!   `atelier_ring::doorbell` (enter → re-check → wait → leave). A wait that outlives a
//!   generous deadline is a lost wake-up and fails the test.
//!
//! Counts are scaled down under miri (which runs every test of the crate) so that the whole
//! suite stays within a few minutes there; natively each test takes well under a second.
#![cfg(not(loom))]

use atelier_ring::doorbell::notify;
use atelier_ring::{Doorbell, PopError, PushError, Ring};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may last before the test calls it a hang (miri runs thousands
/// of times slower, so it gets longer).
const DEADLINE: Duration = if cfg!(miri) {
    Duration::from_secs(600)
} else {
    Duration::from_secs(20)
};

/// A value is `producer << SHIFT | index`.
const SHIFT: u32 = 24;

/// Spins a little, then yields, then sleeps: the machine may have fewer cores than threads.
struct Backoff {
    step: u64,
    since: Option<Instant>,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            step: 0,
            since: None,
        }
    }

    fn reset(&mut self) {
        self.step = 0;
        self.since = None;
    }

    /// Waits a little; panics with `what` once the same wait has lasted `DEADLINE`.
    fn snooze(&mut self, what: &dyn Fn() -> String) {
        if self.step < 6 && !cfg!(miri) {
            for _ in 0..(1 << self.step) {
                std::hint::spin_loop();
            }
        } else if self.step < 64 || cfg!(miri) {
            thread::yield_now();
        } else {
            // A long wait: the thread we wait for is probably not running (more threads
            // than cores, or a loaded machine), and a yield need not let it run.
            thread::sleep(Duration::from_micros(50));
        }
        self.step = self.step.wrapping_add(1);
        // Reading the clock on every turn is slow (under miri especially); every 64th turn
        // is plenty.
        if self.step.is_multiple_of(64) {
            let since = *self.since.get_or_insert_with(Instant::now);
            assert!(since.elapsed() < DEADLINE, "stuck: {}", what());
        }
    }
}

/// Scales a native count down for miri.
fn scaled(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

/// Runs `producers` × `consumers` threads over a ring of `capacity`, `total` values in all.
fn mpmc(producers: u32, consumers: u32, capacity: u32, total: usize) {
    let per = (total / producers as usize) as u32;
    assert!(per < 1 << SHIFT);
    let ring = Ring::new(capacity).unwrap();
    let taken = AtomicUsize::new(0);
    let all = per as usize * producers as usize;
    let start = Barrier::new((producers + consumers) as usize);

    let seen: Vec<Vec<u32>> = thread::scope(|s| {
        for p in 0..producers {
            let (ring, start) = (&ring, &start);
            s.spawn(move || {
                start.wait();
                let mut backoff = Backoff::new();
                for i in 0..per {
                    let mut v = p << SHIFT | i;
                    loop {
                        match ring.push(v) {
                            Ok(()) => break,
                            Err(PushError::Full(back)) => {
                                assert_eq!(back, v, "Full must hand the value back");
                                v = back;
                                backoff.snooze(&|| format!("producer {p} at {i}: ring full"));
                            }
                            Err(e) => panic!("producer {p}: {e:?}"),
                        }
                    }
                    backoff.reset();
                }
            });
        }
        let handles: Vec<_> = (0..consumers)
            .map(|c| {
                let (ring, taken, start) = (&ring, &taken, &start);
                s.spawn(move || {
                    start.wait();
                    let mut got = Vec::with_capacity(all / consumers as usize + 16);
                    let mut backoff = Backoff::new();
                    while taken.load(Ordering::Relaxed) < all {
                        match ring.pop() {
                            Ok(v) => {
                                got.push(v);
                                taken.fetch_add(1, Ordering::Relaxed);
                                backoff.reset();
                            }
                            Err(PopError::Empty) => backoff.snooze(&|| {
                                format!(
                                    "consumer {c}: ring empty with {} of {all} taken",
                                    taken.load(Ordering::Relaxed)
                                )
                            }),
                            Err(e) => panic!("consumer {c}: {e:?}"),
                        }
                    }
                    got
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    // Exactly once.
    let mut count = vec![0u8; all];
    for (c, got) in seen.iter().enumerate() {
        // Per-producer FIFO as this consumer saw it.
        let mut last = vec![None::<u32>; producers as usize];
        for &v in got {
            let (p, i) = (v >> SHIFT, v & ((1 << SHIFT) - 1));
            assert!(
                p < producers && i < per,
                "consumer {c} got a foreign value {v:#x}"
            );
            let slot = &mut count[(p * per + i) as usize];
            *slot += 1;
            assert_eq!(*slot, 1, "value {v:#x} delivered twice");
            if let Some(prev) = last[p as usize] {
                assert!(
                    prev < i,
                    "consumer {c} saw producer {p}'s {i} after its {prev}"
                );
            }
            last[p as usize] = Some(i);
        }
        if consumers == 1 {
            // The only consumer sees every producer's values, all of them, in order.
            for p in 0..producers {
                let mine: Vec<u32> = got
                    .iter()
                    .filter(|&&v| v >> SHIFT == p)
                    .map(|&v| v & ((1 << SHIFT) - 1))
                    .collect();
                assert!(mine.iter().copied().eq(0..per), "producer {p} out of order");
            }
        }
    }
    assert!(count.iter().all(|&n| n == 1), "a value was lost");
    assert_eq!(seen.iter().map(Vec::len).sum::<usize>(), all);
    assert!(ring.is_empty());
    assert_eq!(ring.pop(), Err(PopError::Empty));
}

#[test]
fn spsc_capacity_2() {
    mpmc(1, 1, 2, scaled(100_000, 300));
}

#[test]
fn spsc_capacity_64() {
    mpmc(1, 1, 64, scaled(600_000, 300));
}

#[test]
fn mpmc_2x2_capacity_2() {
    mpmc(2, 2, 2, scaled(100_000, 300));
}

#[test]
fn mpmc_2x2_capacity_4() {
    mpmc(2, 2, 4, scaled(150_000, 300));
}

#[test]
fn mpmc_2x2_capacity_64() {
    mpmc(2, 2, 64, scaled(600_000, 300));
}

#[test]
fn mpmc_4x4_capacity_2() {
    mpmc(4, 4, 2, scaled(100_000, 200));
}

#[test]
fn mpmc_4x4_capacity_64() {
    mpmc(4, 4, 64, scaled(500_000, 200));
}

#[test]
fn mpsc_4x1_capacity_4_keeps_each_producers_order() {
    mpmc(4, 1, 4, scaled(200_000, 200));
}

#[test]
fn spmc_1x4_capacity_2() {
    mpmc(1, 4, 2, scaled(100_000, 200));
}

// ---- doorbell ----------------------------------------------------------------------------

/// What wakes a sleeper that found nothing.
#[derive(Clone, Copy, Debug)]
enum Wake {
    /// Any change of `seq` (a wait that polls the word).
    SeqChange,
    /// Only a notify the publisher decided on (`ring()` returned true), or `seq` having
    /// moved before the wait began: the semantics of `memory.atomic.wait32`, which returns
    /// at once when the word no longer holds the expected value and otherwise sleeps until
    /// notified. This is what checks the publisher's notify decision.
    NotifyOnly,
}

struct Bell {
    ring: Ring,
    bell: Doorbell,
    /// Bumped by the publisher on every notify it decides on.
    notifies: AtomicU64,
    /// Set by the publisher, then rung, when it has nothing more to publish.
    done: AtomicBool,
    taken: AtomicUsize,
    sleeps: AtomicUsize,
}

impl Bell {
    fn new(capacity: u32) -> Self {
        Bell {
            ring: Ring::new(capacity).unwrap(),
            bell: Doorbell::default(),
            notifies: AtomicU64::new(0),
            done: AtomicBool::new(false),
            taken: AtomicUsize::new(0),
            sleeps: AtomicUsize::new(0),
        }
    }

    /// Publishes `v`: push (retrying on Full), ring, notify if told to.
    fn publish(&self, v: u32) {
        let mut backoff = Backoff::new();
        while let Err(e) = self.ring.push(v) {
            assert_eq!(e, PushError::Full(v));
            backoff.snooze(&|| format!("publisher at {v}: ring full, sleepers stuck?"));
        }
        self.ring_bell();
    }

    fn ring_bell(&self) {
        if self.bell.ring() {
            self.notifies.fetch_add(1, Ordering::SeqCst);
            assert_eq!(notify(&self.bell, u32::MAX), 0, "no native waiters");
        }
    }

    /// A sleeper's loop: take values until the publisher is done; returns what it took.
    fn sleeper(&self, id: usize, wake: Wake) -> Vec<u32> {
        let mut got = Vec::new();
        let mut backoff = Backoff::new();
        loop {
            // Read before the pop: once it is set every value is in the ring, so an empty
            // pop after it means there is nothing left for anybody.
            let finished = self.done.load(Ordering::SeqCst);
            match self.ring.pop() {
                Ok(v) => {
                    got.push(v);
                    self.taken.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                Err(PopError::Empty) if finished => return got,
                Err(PopError::Empty) => {}
                Err(e) => panic!("sleeper {id}: {e:?}"),
            }
            // The protocol: enter, check once more, only then wait.
            let seen = self.bell.enter();
            match self.ring.pop() {
                Ok(v) => {
                    self.bell.leave();
                    got.push(v);
                    self.taken.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                Err(PopError::Empty) => {}
                Err(e) => panic!("sleeper {id}: {e:?}"),
            }
            if self.done.load(Ordering::SeqCst) {
                self.bell.leave();
                continue; // the next turn returns once the ring is drained
            }
            // "Wait" while seq == seen. The notify count is read before the comparison, as
            // the real wait queues itself before it compares.
            let notified = self.notifies.load(Ordering::SeqCst);
            if self.bell.seq() == seen {
                self.sleeps.fetch_add(1, Ordering::Relaxed);
                backoff.reset();
                loop {
                    let woken = match wake {
                        Wake::SeqChange => self.bell.seq() != seen,
                        Wake::NotifyOnly => self.notifies.load(Ordering::SeqCst) != notified,
                    };
                    if woken {
                        break;
                    }
                    backoff.snooze(&|| {
                        format!(
                            "sleeper {id} lost a wake-up: seq {seen}, {} values in the ring, \
                             {} taken",
                            self.ring.len(),
                            self.taken.load(Ordering::SeqCst)
                        )
                    });
                }
            }
            self.bell.leave();
        }
    }
}

/// One publisher, `sleepers` sleepers. The publisher pushes `bursts` bursts of 1..=`max_burst`
/// values; with `lockstep` it waits after each burst until the sleepers took everything,
/// so every burst lands while they are going to sleep (a lost wake-up then hangs, and the
/// deadline fails the test); without it, it pushes as fast as the ring allows.
fn doorbell(
    sleepers: usize,
    capacity: u32,
    bursts: usize,
    max_burst: u32,
    lockstep: bool,
    wake: Wake,
) {
    let b = Bell::new(capacity);
    let mut next = 0u32;
    let got: Vec<Vec<u32>> = thread::scope(|s| {
        let handles: Vec<_> = (0..sleepers)
            .map(|id| {
                let b = &b;
                s.spawn(move || b.sleeper(id, wake))
            })
            .collect();
        // A small xorshift decides burst sizes, so the run is reproducible.
        let mut x = 0x2545_f491_u32;
        for _ in 0..bursts {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let n = 1 + x % max_burst;
            for _ in 0..n {
                b.publish(next);
                next += 1;
            }
            if lockstep {
                let mut backoff = Backoff::new();
                while b.taken.load(Ordering::SeqCst) < next as usize {
                    backoff.snooze(&|| {
                        format!(
                            "lost wake-up: {} of {next} taken, {} in the ring, {} sleeping",
                            b.taken.load(Ordering::SeqCst),
                            b.ring.len(),
                            b.bell.sleepers.load(Ordering::SeqCst)
                        )
                    });
                }
            }
        }
        b.done.store(true, Ordering::SeqCst);
        b.ring_bell();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut count = vec![0u8; next as usize];
    for (id, mine) in got.iter().enumerate() {
        // One publisher, so each sleeper's values are increasing.
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "sleeper {id} out of order"
        );
        for &v in mine {
            count[v as usize] += 1;
        }
    }
    assert!(
        count.iter().all(|&n| n == 1),
        "a value was lost or duplicated"
    );
    assert!(b.ring.is_empty());
    assert_eq!(
        b.bell.sleepers.load(Ordering::SeqCst),
        0,
        "a sleeper never left"
    );
    // Natively every publish bumps seq once, plus the final ring.
    assert_eq!(b.bell.seq(), next.wrapping_add(1));
    eprintln!(
        "doorbell {sleepers} sleepers, cap {capacity}, {wake:?}: {next} values, {} sleeps, {} notifies",
        b.sleeps.load(Ordering::Relaxed),
        b.notifies.load(Ordering::Relaxed)
    );
}

#[test]
fn doorbell_free_running_seq_wait() {
    doorbell(3, 4, scaled(30_000, 40), 16, false, Wake::SeqChange);
}

#[test]
fn doorbell_free_running_notify_wait() {
    doorbell(2, 64, scaled(30_000, 40), 16, false, Wake::NotifyOnly);
}

#[test]
fn doorbell_lockstep_every_wake_up_counts() {
    // Only notifies wake a sleeper, and the publisher waits for each burst to be taken: a
    // single wrong "nobody is asleep" decision hangs the run until the deadline.
    doorbell(2, 8, scaled(10_000, 30), 4, true, Wake::NotifyOnly);
}

#[test]
fn doorbell_lockstep_one_sleeper() {
    doorbell(1, 2, scaled(10_000, 30), 2, true, Wake::NotifyOnly);
}

// ---- len() ---------------------------------------------------------------------------------

/// `len()` is documented as a snapshot, exact only without concurrent pushes and pops; it
/// should still never report more values than the ring ever held at once.
///
/// (`len()` once loaded `tail` then `head`: a push and a pop landing between the two loads
/// made `tail - head` wrap, and a ring that never held more than one value reported 64.)
///
/// Not under miri: the memory model lets `len()`'s Acquire load of `head` return an older
/// value than the two loads of `tail` around it (miri emulates that), so the snapshot is only
/// guaranteed to lie in `0..=capacity`; the tighter bound holds on the strongly ordered
/// targets the runtime runs on (x86, wasm).
#[test]
#[cfg_attr(
    miri,
    ignore = "the bound needs stronger ordering than miri's weak-memory emulation gives"
)]
fn len_never_exceeds_what_the_ring_held() {
    let ring = Ring::new(64).unwrap();
    let stop = AtomicBool::new(false);
    let rounds = scaled(200_000, 200);
    let worst = thread::scope(|s| {
        s.spawn(|| {
            for i in 0..rounds as u32 {
                ring.push(i).unwrap();
                // Pop it at once: the ring holds at most one value at any time.
                assert_eq!(ring.pop(), Ok(i));
            }
            stop.store(true, Ordering::Relaxed);
        });
        let watcher = s.spawn(|| {
            let mut worst = 0;
            while !stop.load(Ordering::Relaxed) {
                worst = worst.max(ring.len());
            }
            worst
        });
        watcher.join().unwrap()
    });
    assert!(
        worst <= 1,
        "len() reported {worst} for a ring that never held more than 1"
    );
}
