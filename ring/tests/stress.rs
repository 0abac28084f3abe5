//! Native multi-threaded stress of the work queue, the SPSC ring and the doorbell protocol.
//!
//! * Work queue: the page (one producer) publishes calls into a pool of slots, as the
//!   runtime does: it writes the call into a free slot, makes the slot's state word PENDING
//!   (with a generation), and pushes an entry naming slot and generation. `C` consumers take
//!   entries and claim them by compare-and-swap on the state word, then free the slot. When
//!   the queue is full the page moves `head` past stale entries with `skip_stale`. Every call
//!   must be taken exactly once.
//! * Dying consumers: consumers "die" at random points of `take` (their `claim` closure
//!   unwinds, before or after its compare-and-swap, and the thread starts a new life as a
//!   replacement worker would). A call claimed by a consumer that then died counts as taken
//!   (recovering it is the page's business, not the queue's); every other call must still be
//!   taken exactly once, and the page must never be stuck behind the dead consumers' entries.
//! * SPSC: one producer, one consumer, every value once and in order; and a producer that is
//!   replaced now and then by a new one resuming at the published `tail`, the old one having
//!   written (but not published) one more entry before it died.
//! * Doorbell: a publisher pushes into the work queue and rings, sleepers follow the
//!   protocol of `atelier_ring::doorbell` (enter → re-check → wait → leave). A wait that
//!   outlives a generous deadline is a lost wake-up and fails the test.
//!
//! A consumer of the work queue does not see calls in the order they were published: one
//! descheduled between its load of `head` and its read of the cell may read (and claim) the
//! next lap's entry, and then take an older call. So only exactly-once is checked there.
//!
//! Counts are scaled down under miri (which runs every test of the crate) so that the whole
//! suite stays within a few minutes there; natively each test takes about a second or less.
#![cfg(not(loom))]

use atelier_ring::doorbell::notify;
use atelier_ring::{
    Doorbell, Producer, PushError, SpscPopError, SpscPushError, SpscRing, TakeError, WorkQueue,
};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
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

/// A small xorshift, so that runs are reproducible.
struct Rng(u32);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 % n
    }
}

// ---- work queue ---------------------------------------------------------------------------

/// A slot's state word: the phase in the low two bits, the generation above them.
const FREE: u32 = 0;
const PENDING: u32 = 1;
const TAKEN: u32 = 2;
const PHASE: u32 = 3;

/// Generations are 16 bits, as in the runtime's entries.
const GEN_MASK: u32 = 0xFFFF;

fn state(phase: u32, gen: u32) -> u32 {
    (gen & GEN_MASK) << 2 | phase
}

/// A work-queue entry: slot index and generation.
fn entry(slot: u32, gen: u32) -> u32 {
    slot << 16 | (gen & GEN_MASK)
}

fn entry_slot(e: u32) -> usize {
    (e >> 16) as usize
}

fn entry_gen(e: u32) -> u32 {
    e & GEN_MASK
}

/// The pool of slots the page publishes calls into.
struct Slots {
    states: Vec<AtomicU32>,
    /// The call each slot holds (the runtime's envelope): written by the page while the slot
    /// is FREE, published by the Release store of PENDING.
    calls: Vec<AtomicU32>,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            states: (0..n).map(|_| AtomicU32::new(state(FREE, 0))).collect(),
            calls: (0..n).map(|_| AtomicU32::new(u32::MAX)).collect(),
        }
    }

    /// A consumer's claim of entry `e`: PENDING → TAKEN for exactly the entry's generation.
    /// On success returns the call, read after the Acquire CAS that pairs with the page's
    /// Release store of PENDING.
    fn claim(&self, e: u32) -> Option<u32> {
        let (s, g) = (entry_slot(e), entry_gen(e));
        self.states
            .get(s)?
            .compare_exchange(
                state(PENDING, g),
                state(TAKEN, g),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        Some(self.calls[s].load(Ordering::Relaxed))
    }

    /// Whether entry `e`'s publication is still claimable (the page's `skip_stale` test;
    /// Relaxed as in the runtime: a stale PENDING only stops the skip early).
    fn pending(&self, e: u32) -> bool {
        let (s, g) = (entry_slot(e), entry_gen(e));
        self.states[s].load(Ordering::Relaxed) == state(PENDING, g)
    }
}

/// The page's push of `e`: on Full, `skip_stale`, and push again; if the queue is still full
/// its `head` entry is pending, so wait for a consumer.
fn push_entry(queue: &WorkQueue, tail: &mut u32, e: u32, pending: impl Fn(u32) -> bool) {
    let mut backoff = Backoff::new();
    loop {
        match queue.push(tail, e) {
            Ok(()) => return,
            Err(PushError::Full(back)) => assert_eq!(back, e, "Full hands the entry back"),
            Err(err) => panic!("page: {err:?}"),
        }
        queue.skip_stale(&pending).expect("skip_stale");
        match queue.push(tail, e) {
            Ok(()) => return,
            Err(PushError::Full(_)) => {}
            Err(err) => panic!("page: {err:?}"),
        }
        backoff.snooze(&|| format!("page at position {tail}: queue full of pending calls"));
    }
}

/// Checks that `taken` (every consumer's calls) holds each of `0..total` exactly once.
fn check_exactly_once(total: usize, taken: &[Vec<u32>]) {
    let mut count = vec![0u8; total];
    for (c, got) in taken.iter().enumerate() {
        for &call in got {
            let n = count
                .get_mut(call as usize)
                .unwrap_or_else(|| panic!("consumer {c} took a foreign call {call}"));
            *n += 1;
            assert_eq!(*n, 1, "call {call} taken twice");
        }
    }
    let lost = count.iter().filter(|&&n| n == 0).count();
    assert_eq!(lost, 0, "{lost} of {total} calls never taken");
}

/// The page publishes `total` calls round-robin over `slots` slots through a queue of
/// `capacity`; `consumers` threads take them. A slot is reused once its previous call was
/// taken and freed, with the next generation, so stale entries of earlier generations are
/// around whenever the queue wraps.
fn spmc(consumers: usize, capacity: u32, slots: usize, total: usize) {
    let queue = WorkQueue::new(capacity).unwrap();
    let pool = Slots::new(slots);
    let done = AtomicBool::new(false);
    let start = Barrier::new(consumers + 1);

    let taken: Vec<Vec<u32>> = thread::scope(|s| {
        let handles: Vec<_> = (0..consumers)
            .map(|c| {
                let (queue, pool, done, start) = (&queue, &pool, &done, &start);
                s.spawn(move || {
                    start.wait();
                    let mut got = Vec::with_capacity(total / consumers + 16);
                    let mut backoff = Backoff::new();
                    loop {
                        // Read before the take: once it is set every call is published, so
                        // an empty queue then means every position was passed, and a
                        // position is passed only once its call was claimed.
                        let finished = done.load(Ordering::Acquire);
                        let mut call = None;
                        match queue.take(|e| {
                            call = pool.claim(e);
                            call.is_some()
                        }) {
                            Ok(e) => {
                                got.push(call.expect("Ok without a claim"));
                                // The call is done: free the slot. Release: our read of the
                                // call happens-before the page's next write into the slot.
                                pool.states[entry_slot(e)]
                                    .store(state(FREE, entry_gen(e)), Ordering::Release);
                                backoff.reset();
                            }
                            Err(TakeError::Empty) if finished => return got,
                            Err(TakeError::Empty) => backoff
                                .snooze(&|| format!("consumer {c}: queue empty, page not done")),
                            Err(e) => panic!("consumer {c}: {e:?}"),
                        }
                    }
                })
            })
            .collect();

        start.wait();
        let mut tail = 0u32;
        let mut gens = vec![0u32; slots];
        for call in 0..total as u32 {
            let s = call as usize % slots;
            // Wait until the slot's previous call was taken and freed. Acquire: pairs with
            // the consumer's Release store of FREE.
            let mut backoff = Backoff::new();
            while pool.states[s].load(Ordering::Acquire) & PHASE != FREE {
                backoff.snooze(&|| format!("page: slot {s} never freed (call {call})"));
            }
            gens[s] = (gens[s] + 1) & GEN_MASK;
            pool.calls[s].store(call, Ordering::Relaxed);
            // Release: publishes the call to the consumer whose claim reads PENDING.
            pool.states[s].store(state(PENDING, gens[s]), Ordering::Release);
            push_entry(&queue, &mut tail, entry(s as u32, gens[s]), |e| {
                pool.pending(e)
            });
        }
        done.store(true, Ordering::Release);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    check_exactly_once(total, &taken);
    for (i, s) in pool.states.iter().enumerate() {
        assert_eq!(s.load(Ordering::Relaxed) & PHASE, FREE, "slot {i}");
    }
    queue.skip_stale(|e| pool.pending(e)).unwrap();
    assert!(queue.is_empty());
    assert_eq!(queue.take(|_| true), Err(TakeError::Empty));
}

#[test]
fn work_queue_1x1_capacity_2() {
    spmc(1, 2, 1, scaled(300_000, 200));
}

#[test]
fn work_queue_1x2_capacity_2_more_slots_than_room() {
    // Four slots, two positions: the page keeps finding the queue full of pending calls.
    spmc(2, 2, 4, scaled(1_000_000, 200));
}

#[test]
fn work_queue_1x3_capacity_8() {
    // Twice as many positions as slots, as the runtime sizes it.
    spmc(3, 8, 4, scaled(2_000_000, 300));
}

#[test]
fn work_queue_1x4_capacity_64() {
    spmc(4, 64, 48, scaled(2_000_000, 300));
}

/// Where a dying consumer stops, inside its `claim` closure.
#[derive(Clone, Copy, Debug)]
enum Death {
    /// Before the claim's CAS: it holds nothing.
    BeforeClaim,
    /// After the CAS, whatever it returned: when it succeeded the call is the dead
    /// consumer's, and its entry sits at `head` until somebody moves past it.
    AfterClaim,
}

/// The unwinding payload of a consumer that dies.
struct Died;

/// `immortal` consumers that never stop and `mortal` ones that die at random points (and
/// start a new life each time, as a replacement worker would) take `total` calls published
/// by the page, each call in its own slot, through a queue of `capacity`.
fn dying_consumers(immortal: usize, mortal: usize, capacity: u32, total: usize) {
    let queue = WorkQueue::new(capacity).unwrap();
    // Entry `e` names slot `e`, generation 0: every call has its own state word.
    let states: Vec<AtomicU32> = (0..total).map(|_| AtomicU32::new(FREE)).collect();
    let claim = |e: u32| {
        states[e as usize]
            .compare_exchange(PENDING, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    };
    let pending = |e: u32| states[e as usize].load(Ordering::Relaxed) == PENDING;
    let done = AtomicBool::new(false);
    let deaths = AtomicUsize::new(0);
    let dead_claims = AtomicUsize::new(0);

    let taken: Vec<Vec<u32>> = thread::scope(|s| {
        let handles: Vec<_> = (0..immortal + mortal)
            .map(|c| {
                let (queue, done, deaths, dead_claims) = (&queue, &done, &deaths, &dead_claims);
                let claim = &claim;
                s.spawn(move || {
                    let mut rng = Rng(0x9E37_79B9 ^ (c as u32 + 1).wrapping_mul(0x85EB_CA6B));
                    let mut got = Vec::new();
                    let mut backoff = Backoff::new();
                    loop {
                        // A life: some takes, then (for a mortal) death at a random point of
                        // a random one of them.
                        let dies_at = if c < immortal { u32::MAX } else { rng.below(8) };
                        let how = if rng.below(2) == 0 {
                            Death::BeforeClaim
                        } else {
                            Death::AfterClaim
                        };
                        let mut claims_made = 0;
                        let life = catch_unwind(AssertUnwindSafe(|| loop {
                            let finished = done.load(Ordering::Acquire);
                            let got_now = queue.take(|e| {
                                let dying = claims_made == dies_at;
                                claims_made += 1;
                                if dying && matches!(how, Death::BeforeClaim) {
                                    resume_unwind(Box::new(Died));
                                }
                                let ok = claim(e);
                                if ok {
                                    got.push(e);
                                }
                                if dying {
                                    if ok {
                                        dead_claims.fetch_add(1, Ordering::Relaxed);
                                    }
                                    resume_unwind(Box::new(Died));
                                }
                                ok
                            });
                            match got_now {
                                Ok(_) => backoff.reset(),
                                Err(TakeError::Empty) if finished => return,
                                Err(TakeError::Empty) => backoff.snooze(&|| {
                                    format!("consumer {c}: queue empty, page not done")
                                }),
                                Err(e) => panic!("consumer {c}: {e:?}"),
                            }
                        }));
                        match life {
                            Ok(()) => return got,
                            Err(payload) if payload.is::<Died>() => {
                                deaths.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(payload) => resume_unwind(payload),
                        }
                    }
                })
            })
            .collect();

        let mut tail = 0u32;
        for call in 0..total as u32 {
            // Relaxed: published by the queue's Release store of `tail`; no call data here.
            states[call as usize].store(PENDING, Ordering::Relaxed);
            push_entry(&queue, &mut tail, call, pending);
        }
        done.store(true, Ordering::Release);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    check_exactly_once(total, &taken);
    assert!(states.iter().all(|s| s.load(Ordering::Relaxed) == TAKEN));
    queue.skip_stale(pending).unwrap();
    assert!(queue.is_empty());
    let (deaths, dead_claims) = (deaths.into_inner(), dead_claims.into_inner());
    eprintln!(
        "dying consumers {immortal}+{mortal}, cap {capacity}: {total} calls, {deaths} deaths, \
         {dead_claims} of them holding a claim"
    );
    if !cfg!(miri) {
        assert!(
            dead_claims > 0,
            "no consumer died holding a claim: the test tested nothing"
        );
    }
}

#[test]
fn dying_consumers_1_immortal_2_mortal_capacity_2() {
    dying_consumers(1, 2, 2, scaled(300_000, 150));
}

#[test]
fn dying_consumers_1_immortal_3_mortal_capacity_16() {
    dying_consumers(1, 3, 16, scaled(1_000_000, 150));
}

/// Consumers that die right after their claim on every take leave a stale entry at `head`
/// each time; with a queue of 2 the page needs `skip_stale` at nearly every push.
#[test]
fn every_claim_dies_before_moving_head() {
    let total = scaled(50_000, 100) as u32;
    let queue = WorkQueue::new(2).unwrap();
    let states: Vec<AtomicU32> = (0..total).map(|_| AtomicU32::new(FREE)).collect();
    let done = AtomicBool::new(false);
    let taken: Vec<Vec<u32>> = thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (queue, states, done) = (&queue, &states, &done);
                s.spawn(move || {
                    let mut got = Vec::new();
                    let mut backoff = Backoff::new();
                    loop {
                        let finished = done.load(Ordering::Acquire);
                        let died = catch_unwind(AssertUnwindSafe(|| {
                            queue.take(|e| {
                                let ok = states[e as usize]
                                    .compare_exchange(
                                        PENDING,
                                        TAKEN,
                                        Ordering::Acquire,
                                        Ordering::Relaxed,
                                    )
                                    .is_ok();
                                if ok {
                                    got.push(e);
                                    resume_unwind(Box::new(Died));
                                }
                                false
                            })
                        }));
                        match died {
                            Err(_) => backoff.reset(),
                            Ok(Err(TakeError::Empty)) if finished => return got,
                            Ok(Err(TakeError::Empty)) => {
                                backoff.snooze(&|| "consumer: queue empty, page not done".into())
                            }
                            Ok(other) => panic!("{other:?}"),
                        }
                    }
                })
            })
            .collect();
        let mut tail = 0;
        for call in 0..total {
            states[call as usize].store(PENDING, Ordering::Relaxed);
            push_entry(&queue, &mut tail, call, |e| {
                states[e as usize].load(Ordering::Relaxed) == PENDING
            });
        }
        done.store(true, Ordering::Release);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    check_exactly_once(total as usize, &taken);
}

// ---- SPSC ring ----------------------------------------------------------------------------

/// One producer thread pushes `0..total` through a ring of `capacity`; the consumer (this
/// thread) must pop exactly that, in order.
fn spsc(capacity: u32, total: usize) {
    let ring = SpscRing::new(capacity);
    let (mut tx, mut rx) = ring.split();
    let total = total as u32;
    thread::scope(|s| {
        s.spawn(move || {
            let mut backoff = Backoff::new();
            for v in 0..total {
                loop {
                    match tx.push(v) {
                        Ok(()) => break,
                        Err(SpscPushError::Full(back)) => {
                            assert_eq!(back, v, "Full hands the value back");
                            backoff.snooze(&|| format!("producer at {v}: ring full"));
                        }
                        Err(e) => panic!("producer: {e:?}"),
                    }
                }
                backoff.reset();
            }
        });
        let mut backoff = Backoff::new();
        for want in 0..total {
            let got = loop {
                match rx.pop() {
                    Ok(v) => break v,
                    Err(SpscPopError::Empty) => {
                        backoff.snooze(&|| format!("consumer at {want}: ring empty"))
                    }
                    Err(e) => panic!("consumer: {e:?}"),
                }
            };
            backoff.reset();
            assert_eq!(got, want, "out of order, lost or duplicated");
        }
        assert_eq!(rx.pop(), Err(SpscPopError::Empty));
    });
}

#[test]
fn spsc_capacity_2() {
    spsc(2, scaled(1_000_000, 300));
}

#[test]
fn spsc_capacity_64() {
    spsc(64, scaled(4_000_000, 300));
}

#[test]
fn spsc_capacity_1024() {
    spsc(1024, scaled(4_000_000, 300));
}

/// A value no producer pushes: what a producer killed mid-push left in a cell.
const UNPUBLISHED: u32 = u32::MAX;

/// The producer (a worker) is terminated every few pushes, after writing one more entry
/// but before publishing it, and replaced by a new producer resuming at the published
/// `tail` (as a new worker resumes its seat's ring), often while the ring is still full.
/// The consumer (the page) pops `0..total` in order and never sees an unpublished entry.
fn spsc_producer_restarts(capacity: u32, total: usize) {
    let ring = SpscRing::new(capacity);
    let total = total as u32;
    let restarts = thread::scope(|s| {
        let producer = s.spawn(|| {
            let words = ring.words();
            let mut rng = Rng(0x2545_f491);
            let mut restarts = 0u32;
            let mut backoff = Backoff::new();
            loop {
                // The new producer learns where to resume from the shared word.
                let tail = words.tail.load(Ordering::Relaxed);
                if tail == total {
                    return restarts;
                }
                let mut tx = Producer::new(words, tail);
                let life = 1 + rng.below(2 * capacity);
                let mut v = tail;
                while v < total && v - tail < life {
                    match tx.push(v) {
                        Ok(()) => {
                            v += 1;
                            backoff.reset();
                        }
                        Err(SpscPushError::Full(_)) => {
                            backoff.snooze(&|| format!("producer at {v}: ring full"))
                        }
                        Err(e) => panic!("producer: {e:?}"),
                    }
                }
                // Killed in the middle of the next push: the room check and the entry's
                // write of `Producer::push` happened, the store of `tail` did not.
                if v.wrapping_sub(words.head.load(Ordering::Acquire)) < capacity {
                    let cell = (v & (capacity - 1)) as usize;
                    words.entries[cell].store(UNPUBLISHED, Ordering::Relaxed);
                }
                restarts += 1;
            }
        });
        let mut rx = atelier_ring::Consumer::new(ring.words(), 0);
        let mut backoff = Backoff::new();
        for want in 0..total {
            let got = loop {
                match rx.pop() {
                    Ok(v) => break v,
                    Err(SpscPopError::Empty) => {
                        backoff.snooze(&|| format!("consumer at {want}: ring empty"))
                    }
                    Err(e) => panic!("consumer at {want}: {e:?}"),
                }
            };
            backoff.reset();
            assert_ne!(got, UNPUBLISHED, "popped an entry that was never published");
            assert_eq!(got, want, "out of order, lost or duplicated");
        }
        producer.join().unwrap()
    });
    assert!(restarts > 0);
}

#[test]
fn spsc_producer_restarts_capacity_2() {
    spsc_producer_restarts(2, scaled(300_000, 200));
}

#[test]
fn spsc_producer_restarts_capacity_16() {
    spsc_producer_restarts(16, scaled(1_000_000, 200));
}

/// A producer built on a full ring (a worker resuming a seat whose completions the page has
/// not read yet) must see that it is full, not overwrite the oldest unread entry.
#[test]
fn spsc_producer_resumed_on_a_full_ring_waits_for_room() {
    let ring = SpscRing::new(4);
    let words = ring.words();
    let mut first = Producer::new(words, 0);
    for v in 0..4 {
        first.push(v).unwrap();
    }
    let mut second = Producer::new(words, 4);
    assert_eq!(second.push(4), Err(SpscPushError::Full(4)));
    let mut rx = atelier_ring::Consumer::new(words, 0);
    assert_eq!(rx.pop(), Ok(0));
    second.push(4).unwrap();
    assert_eq!(second.push(5), Err(SpscPushError::Full(5)));
    let rest: Vec<u32> = std::iter::from_fn(|| rx.pop().ok()).collect();
    assert_eq!(rest, [1, 2, 3, 4]);
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

/// The page's work queue with its doorbell: the publisher is the page, the sleepers are
/// workers waiting for calls. Value `v` is a call with its own state word.
struct Bell {
    queue: WorkQueue,
    states: Vec<AtomicU32>,
    tail: AtomicU32,
    bell: Doorbell,
    /// Bumped by the publisher on every notify it decides on.
    notifies: AtomicU64,
    /// Set by the publisher, then rung, when it has nothing more to publish.
    done: AtomicBool,
    taken: AtomicUsize,
    sleeps: AtomicUsize,
}

impl Bell {
    fn new(capacity: u32, values: usize) -> Self {
        Bell {
            queue: WorkQueue::new(capacity).unwrap(),
            states: (0..values).map(|_| AtomicU32::new(FREE)).collect(),
            tail: AtomicU32::new(0),
            bell: Doorbell::default(),
            notifies: AtomicU64::new(0),
            done: AtomicBool::new(false),
            taken: AtomicUsize::new(0),
            sleeps: AtomicUsize::new(0),
        }
    }

    fn pending(&self, v: u32) -> bool {
        self.states[v as usize].load(Ordering::Relaxed) == PENDING
    }

    /// Publishes `v`: PENDING, push (skipping stale entries and retrying on Full), ring,
    /// notify if told to. Only the publisher thread calls this (it owns `tail`).
    fn publish(&self, v: u32) {
        self.states[v as usize].store(PENDING, Ordering::Relaxed);
        let mut tail = self.tail.load(Ordering::Relaxed);
        push_entry(&self.queue, &mut tail, v, |e| self.pending(e));
        self.tail.store(tail, Ordering::Relaxed);
        self.ring_bell();
    }

    fn ring_bell(&self) {
        if self.bell.ring() {
            self.notifies.fetch_add(1, Ordering::SeqCst);
            assert_eq!(notify(&self.bell, u32::MAX), 0, "no native waiters");
        }
    }

    /// One take: the claimed value, or why there was none.
    fn take(&self) -> Result<u32, TakeError> {
        self.queue.take(|v| {
            self.states[v as usize]
                .compare_exchange(PENDING, TAKEN, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// A sleeper's loop: take values until the publisher is done; returns what it took.
    fn sleeper(&self, id: usize, wake: Wake) -> Vec<u32> {
        let mut got = Vec::new();
        let mut backoff = Backoff::new();
        loop {
            // Read before the take: once it is set every value is in the queue, so an empty
            // take after it means there is nothing left for anybody.
            let finished = self.done.load(Ordering::SeqCst);
            match self.take() {
                Ok(v) => {
                    got.push(v);
                    self.taken.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                Err(TakeError::Empty) if finished => return got,
                Err(TakeError::Empty) => {}
                Err(e) => panic!("sleeper {id}: {e:?}"),
            }
            // The protocol: enter, check once more, only then wait.
            let seen = self.bell.enter();
            match self.take() {
                Ok(v) => {
                    self.bell.leave();
                    got.push(v);
                    self.taken.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                Err(TakeError::Empty) => {}
                Err(e) => panic!("sleeper {id}: {e:?}"),
            }
            if self.done.load(Ordering::SeqCst) {
                self.bell.leave();
                continue; // the next turn returns once the queue is drained
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
                            "sleeper {id} lost a wake-up: seq {seen}, {} entries in the queue, \
                             {} taken",
                            self.queue.len(),
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
/// deadline fails the test); without it, it pushes as fast as the queue allows.
fn doorbell(
    sleepers: usize,
    capacity: u32,
    bursts: usize,
    max_burst: u32,
    lockstep: bool,
    wake: Wake,
) {
    let b = Bell::new(capacity, bursts * max_burst as usize);
    let mut next = 0u32;
    let got: Vec<Vec<u32>> = thread::scope(|s| {
        let handles: Vec<_> = (0..sleepers)
            .map(|id| {
                let b = &b;
                s.spawn(move || b.sleeper(id, wake))
            })
            .collect();
        let mut rng = Rng(0x2545_f491);
        for _ in 0..bursts {
            let n = 1 + rng.below(max_burst);
            for _ in 0..n {
                b.publish(next);
                next += 1;
            }
            if lockstep {
                let mut backoff = Backoff::new();
                while b.taken.load(Ordering::SeqCst) < next as usize {
                    backoff.snooze(&|| {
                        format!(
                            "lost wake-up: {} of {next} taken, {} in the queue, {} sleeping",
                            b.taken.load(Ordering::SeqCst),
                            b.queue.len(),
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

    check_exactly_once(next as usize, &got);
    b.queue.skip_stale(|v| b.pending(v)).unwrap();
    assert!(b.queue.is_empty());
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

/// `len()` is a snapshot, exact only without concurrent pushes and takes; it should still
/// never report more entries than the queue ever held at once, even from a thread that is
/// neither the producer nor a consumer.
///
/// Not under miri: the memory model lets `len()`'s load of `head` return an older value
/// than the `tail` it read before (miri emulates that), so the snapshot is only guaranteed
/// to lie in `0..=capacity`; the tighter bound holds on the strongly ordered targets the
/// runtime runs on (x86, wasm).
#[test]
#[cfg_attr(
    miri,
    ignore = "the bound needs stronger ordering than miri's weak-memory emulation gives"
)]
fn len_never_exceeds_what_the_queue_held() {
    let queue = WorkQueue::new(64).unwrap();
    let stop = AtomicBool::new(false);
    let rounds = scaled(200_000, 200) as u32;
    let worst = thread::scope(|s| {
        s.spawn(|| {
            let mut tail = 0;
            for i in 0..rounds {
                queue.push(&mut tail, i).unwrap();
                // Take it at once: the queue holds at most one entry at any time.
                assert_eq!(queue.take(|_| true), Ok(i));
            }
            stop.store(true, Ordering::Relaxed);
        });
        let watcher = s.spawn(|| {
            let mut worst = 0;
            while !stop.load(Ordering::Relaxed) {
                worst = worst.max(queue.len());
            }
            worst
        });
        watcher.join().unwrap()
    });
    assert!(
        worst <= 1,
        "len() reported {worst} for a queue that never held more than 1"
    );
}
