//! MPMC throughput: two producer threads and two consumer threads move `N` `u32` values
//! through a queue of capacity 1024: `atelier_ring::Ring` against
//! `crossbeam_queue::ArrayQueue` (the same bounded design by D. Vyukov).
//!
//! `cargo bench -p atelier-ring --bench mpmc -- --warm-up-time 1 --measurement-time 3`

use atelier_ring::Ring;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use crossbeam_queue::ArrayQueue;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

const N: u32 = 1 << 20;
const CAP: u32 = 1024;
const PRODUCERS: u32 = 2;
const CONSUMERS: u32 = 2;

/// The two operations the bench needs, so one driver runs both queues.
trait Queue: Sync {
    fn try_push(&self, v: u32) -> bool;
    fn try_pop(&self) -> Option<u32>;
}

impl Queue for Ring {
    #[inline]
    fn try_push(&self, v: u32) -> bool {
        self.push(v).is_ok()
    }
    #[inline]
    fn try_pop(&self) -> Option<u32> {
        self.pop().ok()
    }
}

impl Queue for ArrayQueue<u32> {
    #[inline]
    fn try_push(&self, v: u32) -> bool {
        self.push(v).is_ok()
    }
    #[inline]
    fn try_pop(&self) -> Option<u32> {
        self.pop()
    }
}

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

/// Moves `N` values through `q` with `PRODUCERS` + `CONSUMERS` threads started together;
/// returns the time until every consumer has its share, after checking the checksum.
fn run(q: &impl Queue) -> Duration {
    let per_producer = N / PRODUCERS;
    let per_consumer = N / CONSUMERS;
    let start = Barrier::new((PRODUCERS + CONSUMERS + 1) as usize);
    let (sum, took) = thread::scope(|s| {
        for p in 0..PRODUCERS {
            let start = &start;
            s.spawn(move || {
                start.wait();
                for v in p * per_producer..(p + 1) * per_producer {
                    let mut spins = 0;
                    while !q.try_push(v) {
                        backoff(&mut spins);
                    }
                }
            });
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    let mut sum = 0u64;
                    for _ in 0..per_consumer {
                        let mut spins = 0;
                        loop {
                            if let Some(v) = q.try_pop() {
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

fn mpmc(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpmc_2x2_1024");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.bench_function("atelier_ring", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(&Ring::new(CAP).unwrap())).sum())
    });
    g.bench_function("crossbeam_ArrayQueue", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| run(&ArrayQueue::<u32>::new(CAP as usize)))
                .sum()
        })
    });
    g.finish();
}

criterion_group!(benches, mpmc);
criterion_main!(benches);
