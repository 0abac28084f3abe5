//! SPMC throughput (the work queue's shape: the page publishes, workers take): one producer
//! thread and two consumer threads move `N` calls through a queue of capacity 1024.
//! (The file keeps its old name, `mpmc`, which `Cargo.toml` registers.)
//!
//! * `atelier_WorkQueue`: each call has a state word; the producer makes it PENDING and
//!   pushes the call's index, a consumer's `claim` is a compare-and-swap PENDING → TAKEN on
//!   it, as in the runtime. The CAS is part of the work queue's price: it is what makes a
//!   take exactly-once without any consumer owning a position.
//! * `crossbeam_ArrayQueue`: a bounded MPMC queue (D. Vyukov's design), plain push and pop.
//! * `crossbeam_ArrayQueue+claim`: the same, plus the same state-word store and CAS per
//!   call, so the difference from `atelier_WorkQueue` is the queue alone.
//!
//! `cargo bench -p atelier-ring --bench mpmc -- --warm-up-time 1 --measurement-time 3`

use atelier_ring::{PushError, WorkQueue};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use crossbeam_queue::ArrayQueue;
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

const N: u32 = 1 << 20;
const CAP: u32 = 1024;
const CONSUMERS: u32 = 2;

const PENDING: u32 = 1;
const TAKEN: u32 = 2;

/// Spins a little, then yields (the bench machine may have fewer cores than threads).
#[inline]
fn backoff(spins: &mut u32) {
    if *spins < 64 {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// The two operations the bench needs, so one driver runs every queue. `states` holds one
/// word per call, zero at the start.
trait Queue: Sync {
    /// Publishes call `v` (the producer alone calls this); false when full.
    fn publish(&self, tail: &mut u32, states: &[AtomicU32], v: u32) -> bool;
    /// Takes a call.
    fn take(&self, states: &[AtomicU32]) -> Option<u32>;
}

/// The runtime's claim: PENDING → TAKEN.
#[inline]
fn claim(states: &[AtomicU32], v: u32) -> bool {
    states[v as usize]
        .compare_exchange(PENDING, TAKEN, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

impl Queue for WorkQueue {
    #[inline]
    fn publish(&self, tail: &mut u32, states: &[AtomicU32], v: u32) -> bool {
        // Relaxed: published by the queue's Release store of `tail`.
        states[v as usize].store(PENDING, Ordering::Relaxed);
        match self.push(tail, v) {
            Ok(()) => true,
            Err(PushError::Full(_)) => {
                // Nothing here leaves stale entries, but the page's loop does this.
                let _ = self.skip_stale(|e| states[e as usize].load(Ordering::Relaxed) == PENDING);
                false
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    #[inline]
    fn take(&self, states: &[AtomicU32]) -> Option<u32> {
        WorkQueue::take(self, |v| claim(states, v)).ok()
    }
}

impl Queue for ArrayQueue<u32> {
    #[inline]
    fn publish(&self, _: &mut u32, _: &[AtomicU32], v: u32) -> bool {
        self.push(v).is_ok()
    }
    #[inline]
    fn take(&self, _: &[AtomicU32]) -> Option<u32> {
        self.pop()
    }
}

/// An `ArrayQueue` that pays the same state-word store and CAS as the work queue.
struct WithClaim(ArrayQueue<u32>);

impl Queue for WithClaim {
    #[inline]
    fn publish(&self, _: &mut u32, states: &[AtomicU32], v: u32) -> bool {
        states[v as usize].store(PENDING, Ordering::Release);
        self.0.push(v).is_ok()
    }
    #[inline]
    fn take(&self, states: &[AtomicU32]) -> Option<u32> {
        let v = self.0.pop()?;
        assert!(claim(states, v));
        Some(v)
    }
}

/// Moves `N` calls through `q` with one producer and `CONSUMERS` consumers started
/// together; returns the time until every call is taken, after checking the checksum.
fn run(q: &impl Queue) -> Duration {
    let states: Vec<AtomicU32> = (0..N).map(|_| AtomicU32::new(0)).collect();
    let per_consumer = N / CONSUMERS;
    let start = Barrier::new((CONSUMERS + 2) as usize);
    let (sum, took) = thread::scope(|s| {
        let states = &states[..];
        let start = &start;
        s.spawn(move || {
            start.wait();
            let mut tail = 0;
            for v in 0..N {
                let mut spins = 0;
                while !q.publish(&mut tail, states, v) {
                    backoff(&mut spins);
                }
            }
        });
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                s.spawn(move || {
                    start.wait();
                    let mut sum = 0u64;
                    for _ in 0..per_consumer {
                        let mut spins = 0;
                        loop {
                            if let Some(v) = q.take(states) {
                                sum += u64::from(black_box(v));
                                break;
                            }
                            backoff(&mut spins);
                        }
                    }
                    sum
                })
            })
            .collect();
        start.wait();
        let t = Instant::now();
        let sum: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        (sum, t.elapsed())
    });
    assert_eq!(sum, u64::from(N) * u64::from(N - 1) / 2);
    took
}

fn spmc(c: &mut Criterion) {
    let mut g = c.benchmark_group("spmc_1x2_1024");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.bench_function("atelier_WorkQueue", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(&WorkQueue::new(CAP).unwrap())).sum())
    });
    g.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| run(&ArrayQueue::<u32>::new(CAP as usize)))
                .sum()
        })
    });
    g.bench_function("crossbeam_ArrayQueue+claim", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| run(&WithClaim(ArrayQueue::new(CAP as usize))))
                .sum()
        })
    });
    g.finish();
}

criterion_group!(benches, spmc);
criterion_main!(benches);
