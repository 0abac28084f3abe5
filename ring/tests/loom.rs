//! Loom models of the ring and the doorbell protocol.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p atelier-ring --test loom --release
//! ```
//!
//! Each model counts its executions (with a std atomic, outside the model) and asserts that
//! loom explored a meaningful number of interleavings, so that a model that accidentally
//! stopped exploring (a bound too tight, a `LOOM_MAX_*` variable) fails instead of passing
//! vacuously. The preemption bound defaults to 3; `LOOM_MAX_PREEMPTIONS` overrides it.
#![cfg(loom)]

use atelier_ring::{Doorbell, PopError, PushError, Ring};
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Checks `f` under loom with a preemption bound of 3 and returns how many executions it
/// explored.
fn explore(f: impl Fn() + Sync + Send + 'static) -> usize {
    explore_with(Some(3), f)
}

/// Checks `f` under loom with `bound` (None: every interleaving) unless `LOOM_MAX_PREEMPTIONS`
/// says otherwise, and returns how many executions it explored.
fn explore_with(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) -> usize {
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = bound;
    }
    // The push/pop helpers spin (yielding) on Full/Empty, which takes more branches in one
    // execution than loom's default of 1000 allows.
    builder.max_branches = builder.max_branches.max(100_000);
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    let n = runs.load(Ordering::Relaxed);
    eprintln!("{n} executions");
    n
}

/// Pushes, yielding to the other threads while the ring is full. Only for models small
/// enough that the spinning does not blow up the state space.
fn push(ring: &Ring, v: u32) {
    while !try_push(ring, v, 1) {
        thread::yield_now();
    }
}

/// Pops, yielding to the other threads while the ring is empty (see [`push`]).
fn pop(ring: &Ring) -> u32 {
    loop {
        if let Some(v) = try_pop(ring, 1) {
            return v;
        }
        thread::yield_now();
    }
}

/// Tries to push `v` up to `tries` times, yielding between tries; whether it went in.
fn try_push(ring: &Ring, v: u32, tries: usize) -> bool {
    for i in 0..tries {
        match ring.push(v) {
            Ok(()) => return true,
            Err(PushError::Full(back)) => assert_eq!(back, v, "Full hands the value back"),
            Err(e) => panic!("{e:?}"),
        }
        if i + 1 < tries {
            thread::yield_now();
        }
    }
    false
}

/// Tries to pop up to `tries` times, yielding between tries.
fn try_pop(ring: &Ring, tries: usize) -> Option<u32> {
    for i in 0..tries {
        match ring.pop() {
            Ok(v) => return Some(v),
            Err(PopError::Empty) => {}
            Err(e) => panic!("{e:?}"),
        }
        if i + 1 < tries {
            thread::yield_now();
        }
    }
    None
}

/// Pops everything left, once no other thread touches the ring.
fn drain(ring: &Ring) -> Vec<u32> {
    core::iter::from_fn(|| try_pop(ring, 1)).collect()
}

/// Checks that `taken` (every value popped, each consumer's in the order it popped them)
/// holds each pushed value exactly once and nothing else, and that every consumer saw each
/// producer's values in push order.
fn check_delivery(pushed: &[Vec<u32>], taken: &[Vec<u32>]) {
    let mut want: Vec<u32> = pushed.iter().flatten().copied().collect();
    let mut got: Vec<u32> = taken.iter().flatten().copied().collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "pushed {pushed:?}, taken {taken:?}");
    for mine in pushed {
        for seq in taken {
            let order: Vec<u32> = seq.iter().copied().filter(|v| mine.contains(v)).collect();
            let expected: Vec<u32> = mine.iter().copied().filter(|v| order.contains(v)).collect();
            assert_eq!(
                order, expected,
                "producer order broken: pushed {pushed:?}, taken {taken:?}"
            );
        }
    }
}

/// Pushes `values` (each with `tries` tries) and returns the ones that went in.
fn producer(ring: &Ring, values: &[u32], tries: usize) -> Vec<u32> {
    values
        .iter()
        .copied()
        .filter(|&v| try_push(ring, v, tries))
        .collect()
}

/// Pops `n` times (each with `tries` tries) and returns what it got, in order.
fn consumer(ring: &Ring, n: usize, tries: usize) -> Vec<u32> {
    (0..n).filter_map(|_| try_pop(ring, tries)).collect()
}

/// (a) Two producers, one consumer, capacity 2. The producers push two values each (giving
/// up on a Full after a retry) while the consumer pops, so cells are reused once the
/// consumer has made room; afterwards the main thread drains the ring. Every value that
/// went in arrives exactly once, and the consumer (followed by the drain, which is a later
/// pop of the same single consumer) sees each producer's values in order.
#[test]
fn two_producers_one_consumer() {
    let runs = explore(|| {
        let ring = Arc::new(Ring::new(2).unwrap());
        let producers: Vec<_> = [[1, 2], [11, 12]]
            .into_iter()
            .map(|values| {
                let ring = ring.clone();
                thread::spawn(move || producer(&ring, &values, 2))
            })
            .collect();
        let mut got = consumer(&ring, 2, 2);
        let pushed: Vec<Vec<u32>> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        got.extend(drain(&ring));
        check_delivery(&pushed, &[got]);
    });
    assert!(runs >= 1000, "only {runs} executions explored");
}

/// (b) One producer, two consumers, capacity 2, three values: each value that went in is
/// taken by exactly one thread, and each consumer sees increasing values.
#[test]
fn one_producer_two_consumers() {
    let runs = explore(|| {
        let ring = Arc::new(Ring::new(2).unwrap());
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let ring = ring.clone();
                thread::spawn(move || consumer(&ring, 2, 1))
            })
            .collect();
        let pushed = producer(&ring, &[1, 2, 3], 2);
        let mut taken: Vec<Vec<u32>> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        taken.push(drain(&ring));
        check_delivery(&[pushed], &taken);
    });
    assert!(runs >= 1000, "only {runs} executions explored");
}

/// (c) Wrap-around: one producer, one consumer, capacity 2, four values, so each cell is
/// written, read, written again and read again. The push's Release store of `seq` and the
/// pop's Acquire load of it are what make the value in a reused cell visible: with either
/// one `Relaxed` (tried on a scratch copy of ring.rs) loom finds an execution where the
/// consumer reads the cell's previous lap, `[10, 11, 10, 13]`. A small model, so a deeper
/// preemption bound.
///
/// The other pair (the pop's Release store of `seq`, the push's Acquire load), which orders
/// a consumer's read before the next lap's overwrite, shows only with a second producer or
/// consumer; with either one `Relaxed`, (a), (b) and (c') fail (a value delivered twice, or
/// a well-formed ring reported `Corrupt`).
#[test]
fn wrap_around_reuses_cells() {
    let runs = explore_with(Some(8), || {
        let ring = Arc::new(Ring::new(2).unwrap());
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                for v in [10, 11, 12, 13] {
                    push(&ring, v);
                }
            })
        };
        let got: Vec<u32> = (0..4).map(|_| pop(&ring)).collect();
        producer.join().unwrap();
        assert_eq!(got, [10, 11, 12, 13]);
        assert!(ring.is_empty());
    });
    assert!(runs >= 1000, "only {runs} executions explored");
}

/// (c') Wrap-around with contention on both ends: one value is already in the ring, two
/// producers push one value each and two consumers (one of them the main thread) pop one
/// each, so a cell is reused while both ends race. Five threads' worth of state: bound 2.
#[test]
fn two_by_two_wrap_around() {
    let runs = explore_with(Some(2), || {
        let ring = Arc::new(Ring::new(2).unwrap());
        assert!(try_push(&ring, 1, 1));
        let producers: Vec<_> = [2, 3]
            .into_iter()
            .map(|v| {
                let ring = ring.clone();
                thread::spawn(move || producer(&ring, &[v], 2))
            })
            .collect();
        let other = {
            let ring = ring.clone();
            thread::spawn(move || consumer(&ring, 1, 2))
        };
        let mine = consumer(&ring, 1, 2);
        let mut pushed: Vec<Vec<u32>> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        pushed.push(vec![1]);
        let taken = [mine, other.join().unwrap(), drain(&ring)];
        check_delivery(&pushed, &taken);
    });
    assert!(runs >= 1000, "only {runs} executions explored");
}

// ---- doorbell ----------------------------------------------------------------------------

/// A doorbell whose initial words are `SeqCst` stores.
///
/// Loom models `SeqCst` *accesses* as `AcqRel` (its README, "Unsupported features"), except
/// that a `SeqCst` load may not return a `SeqCst` store older than another `SeqCst` store to
/// the same word. The words' initial values are not `SeqCst` stores in loom, so without
/// these two stores a `SeqCst` load could return the initial zero after a `SeqCst` increment,
/// which no C++/Rust execution allows (initialisation happens-before everything, and a
/// `SeqCst` load reads the last `SeqCst` write before it in the total order). Storing the
/// same zeros with `SeqCst` before any thread starts changes nothing in the program and lets
/// loom apply its rule. [`loom_without_sc_initial_stores_reports_a_false_alarm`] shows the
/// model failing without them.
fn sc_doorbell() -> Doorbell {
    let bell = Doorbell::default();
    bell.seq.store(0, loom::sync::atomic::Ordering::SeqCst);
    bell.sleepers.store(0, loom::sync::atomic::Ordering::SeqCst);
    bell
}

/// The publisher's side: publish, ring, and say whether it decided to notify.
fn publish(ring: &Ring, bell: &Doorbell, v: u32) -> bool {
    push(ring, v);
    bell.ring()
}

/// The sleeper's side up to the wait: enter, re-check, and compare `seq` as the wait would.
/// Returns what the re-check popped, whether the thread would now block, and the `seq` it
/// would block on. A thread that would block stays counted in `sleepers` (it is asleep):
/// the caller calls `leave` for it once the publisher is done, as a woken thread would. A
/// thread that would not block leaves at once if `leave_early`, else the caller leaves for
/// it later too.
fn about_to_sleep(
    ring: &Ring,
    bell: &Doorbell,
    leave_early: bool,
) -> (Result<u32, PopError>, bool, u32) {
    let seen = bell.enter();
    let got = ring.pop();
    // `memory.atomic.wait32` blocks only while the word still holds `seen`.
    let would_block = got.is_err() && bell.seq() == seen;
    if !would_block && leave_early {
        bell.leave();
    }
    (got, would_block, seen)
}

/// The doorbell model: a publisher publishes 7 then 8; a sleeper enters, re-checks, and
/// either takes a value, sees `seq` moved, or blocks (and leaves once woken).
fn doorbell_model(bell: fn() -> Doorbell) {
    let ring = Arc::new(Ring::new(2).unwrap());
    let bell = Arc::new(bell());
    let publisher = {
        let (ring, bell) = (ring.clone(), bell.clone());
        thread::spawn(move || [7, 8].map(|v| publish(&ring, &bell, v)))
    };
    let (got, would_block, seen) = about_to_sleep(&ring, &bell, true);
    let notified = publisher.join().unwrap();
    if would_block {
        bell.leave(); // woken (by the notify the assertion below demands)
    }
    // The property: a sleeper that blocks on `seen` is woken, i.e. a publish that moved
    // `seq` past `seen` (publish k moves it from k-1 to k) decided to notify.
    let woken = (seen as usize..2).any(|k| notified[k]);
    assert!(
        !would_block || woken,
        "lost wake-up: the sleeper blocks on seq {seen} and the publisher saw no sleeper \
         ({notified:?})"
    );
    // And every value is in exactly one place, in order.
    let mut all: Vec<u32> = got.ok().into_iter().collect();
    all.extend(drain(&ring));
    assert_eq!(all, [7, 8]);
    assert_eq!(bell.sleepers.load(loom::sync::atomic::Ordering::SeqCst), 0);
}

/// (d) The Dekker pair of the doorbell: either the publisher sees the sleeper (and
/// notifies), or the sleeper's re-check finds the value, or `seq` has moved so the wait
/// returns at once. Never a sleeper that blocks with nobody to wake it.
#[test]
fn doorbell_never_loses_a_wake_up() {
    let runs = explore_with(None, || doorbell_model(sc_doorbell));
    assert!(runs >= 100, "only {runs} executions explored");
}

/// (d') Two sleepers and a publisher that publishes twice: every sleeper that would block
/// has a notify coming from a publish it had not seen (a notify wakes every waiter on the
/// word).
///
/// Both sleepers call `leave` only after the publisher is done, even one that found a value.
/// An early `leave` is a `Relaxed` read-modify-write of `sleepers`; in the real memory model
/// the publisher's `SeqCst` load cannot return it once the other sleeper's later `SeqCst`
/// increment precedes the load, but loom (which does not model `SeqCst` accesses) lets it,
/// and reports a lost wake-up that cannot happen. Model (d) covers the early `leave` with a
/// single sleeper. Deferring it only keeps `sleepers` higher, which can only add notifies.
#[test]
fn doorbell_two_sleepers_two_publishes() {
    let runs = explore(|| {
        let ring = Arc::new(Ring::new(2).unwrap());
        let bell = Arc::new(sc_doorbell());
        let sleepers: Vec<_> = (0..2)
            .map(|_| {
                let (ring, bell) = (ring.clone(), bell.clone());
                // Leaves are deferred: see the test's docs.
                thread::spawn(move || about_to_sleep(&ring, &bell, false))
            })
            .collect();
        let first = publish(&ring, &bell, 1);
        let second = publish(&ring, &bell, 2);
        let mut left = Vec::new();
        for s in sleepers {
            let (got, would_block, seen) = s.join().unwrap();
            bell.leave();
            if would_block {
                // It blocks on `seen`, so some publish that moved seq past `seen` must notify
                // (publish k moves seq from k-1 to k). Each sleeper pops at most once, so one
                // that entered after both publishes always finds a value and never gets here:
                // every blocking sleeper needs such a notify.
                let woken = (seen < 1 && first) || (seen < 2 && second);
                assert!(
                    woken,
                    "lost wake-up: blocked on seq {seen}, notifies {first} {second}"
                );
            }
            if let Ok(v) = got {
                left.push(v);
            }
        }
        while let Ok(v) = ring.pop() {
            left.push(v);
        }
        left.sort_unstable();
        assert_eq!(left, [1, 2]);
        assert_eq!(bell.sleepers.load(loom::sync::atomic::Ordering::SeqCst), 0);
    });
    assert!(runs >= 1000, "only {runs} executions explored");
}

/// Documents a loom limitation rather than a property of the crate: with the doorbell's
/// initial words left as loom creates them (not `SeqCst` stores), loom lets the publisher's
/// `SeqCst` load of `sleepers` return the initial zero after the sleeper's `SeqCst`
/// increment, and reports a lost wake-up that no real execution has. If this test starts
/// failing (loom models `SeqCst` accesses), [`sc_doorbell`] is no longer needed.
#[test]
#[should_panic(expected = "lost wake-up")]
fn loom_without_sc_initial_stores_reports_a_false_alarm() {
    explore(|| doorbell_model(Doorbell::default));
}
