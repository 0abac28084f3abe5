//! Single-thread latency, no contention: one push followed by one pop (the queue stays
//! empty between pairs), and a burst that fills a capacity-1024 queue and drains it.
//! `atelier_ring::SpscRing` and `atelier_ring::WorkQueue` against `rtrb::RingBuffer` and
//! `crossbeam_queue::ArrayQueue`.
//!
//! The work queue's take includes its claim, a compare-and-swap PENDING → TAKEN on a state
//! word that the push side sets, as the runtime does (see `benches/mpmc.rs`).
//!
//! `cargo bench -p atelier-ring --bench uncontended -- --warm-up-time 1 --measurement-time 3`

use atelier_ring::{SpscRing, WorkQueue};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

const CAP: u32 = 1024;

const PENDING: u32 = 1;
const TAKEN: u32 = 2;

/// A work queue with one state word per position, and the producer's tail.
struct Work {
    queue: WorkQueue,
    states: Vec<AtomicU32>,
    tail: u32,
}

impl Work {
    fn new() -> Work {
        Work {
            queue: WorkQueue::new(CAP).unwrap(),
            states: (0..CAP).map(|_| AtomicU32::new(0)).collect(),
            tail: 0,
        }
    }

    /// Publishes `v` (below `CAP`) in state word `v`.
    #[inline]
    fn push(&mut self, v: u32) {
        self.states[v as usize].store(PENDING, Ordering::Relaxed);
        self.queue.push(&mut self.tail, v).unwrap();
    }

    #[inline]
    fn take(&self) -> u32 {
        self.queue
            .take(|v| {
                self.states[v as usize]
                    .compare_exchange(PENDING, TAKEN, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            })
            .unwrap()
    }
}

fn push_pop_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_pop_pair");
    g.throughput(Throughput::Elements(1));

    let ring = SpscRing::new(CAP);
    let (mut tx, mut rx) = ring.split();
    g.bench_function("atelier_SpscRing", |b| {
        b.iter(|| {
            tx.push(black_box(7)).unwrap();
            black_box(rx.pop().unwrap())
        })
    });

    let mut work = Work::new();
    g.bench_function("atelier_WorkQueue", |b| {
        b.iter(|| {
            work.push(black_box(7));
            black_box(work.take())
        })
    });

    let (mut tx, mut rx) = rtrb::RingBuffer::<u32>::new(CAP as usize);
    g.bench_function("rtrb", |b| {
        b.iter(|| {
            tx.push(black_box(7)).unwrap();
            black_box(rx.pop().unwrap())
        })
    });

    let q = ArrayQueue::<u32>::new(CAP as usize);
    g.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter(|| {
            q.push(black_box(7)).unwrap();
            black_box(q.pop().unwrap())
        })
    });
    g.finish();
}

fn fill_drain(c: &mut Criterion) {
    let mut g = c.benchmark_group("fill_drain_1024");
    g.throughput(Throughput::Elements(u64::from(CAP)));

    let ring = SpscRing::new(CAP);
    let (mut tx, mut rx) = ring.split();
    g.bench_function("atelier_SpscRing", |b| {
        b.iter(|| {
            for v in 0..CAP {
                tx.push(black_box(v)).unwrap();
            }
            for _ in 0..CAP {
                black_box(rx.pop().unwrap());
            }
        })
    });

    let mut work = Work::new();
    g.bench_function("atelier_WorkQueue", |b| {
        b.iter(|| {
            for v in 0..CAP {
                work.push(black_box(v));
            }
            for _ in 0..CAP {
                black_box(work.take());
            }
        })
    });

    let (mut tx, mut rx) = rtrb::RingBuffer::<u32>::new(CAP as usize);
    g.bench_function("rtrb", |b| {
        b.iter(|| {
            for v in 0..CAP {
                tx.push(black_box(v)).unwrap();
            }
            for _ in 0..CAP {
                black_box(rx.pop().unwrap());
            }
        })
    });

    let q = ArrayQueue::<u32>::new(CAP as usize);
    g.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter(|| {
            for v in 0..CAP {
                q.push(black_box(v)).unwrap();
            }
            for _ in 0..CAP {
                black_box(q.pop().unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, push_pop_pair, fill_drain);
criterion_main!(benches);
