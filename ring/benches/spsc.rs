//! SPSC: `atelier_ring::SpscRing` (a worker's completion ring) against `rtrb::RingBuffer`
//! (the SPSC ring its design follows) and `crossbeam_queue::ArrayQueue` (a bounded MPMC
//! queue used with one thread on each end).
//!
//! * `spsc_1024`: one producer thread and one consumer thread move `N` `u32` values through
//!   a ring of capacity 1024.
//! * `spsc_push_pop_pair`: one thread, no contention: a push followed by a pop.
//!
//! `cargo bench -p atelier-ring --bench spsc -- --warm-up-time 1 --measurement-time 3`

use atelier_ring::SpscRing;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use crossbeam_queue::ArrayQueue;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

const N: u32 = 1 << 20;
const CAP: u32 = 1024;

/// Spins a little, then yields (the bench machine may have as few cores as threads).
#[inline]
fn backoff(spins: &mut u32) {
    if *spins < 64 {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Pushes `0..N` with `push` (which says whether the value went in), backing off on Full.
#[inline]
fn produce(mut push: impl FnMut(u32) -> bool) {
    for v in 0..N {
        let mut spins = 0;
        while !push(v) {
            backoff(&mut spins);
        }
    }
}

/// Pops `N` values with `pop`, backing off on Empty; returns their sum.
#[inline]
fn consume(mut pop: impl FnMut() -> Option<u32>) -> u64 {
    let mut sum = 0u64;
    for _ in 0..N {
        let mut spins = 0;
        loop {
            if let Some(v) = pop() {
                sum += u64::from(black_box(v));
                break;
            }
            backoff(&mut spins);
        }
    }
    sum
}

/// Runs `produce` on a second thread and `consume` on this one, both started together;
/// returns the time until the consumer has everything, after checking its checksum.
fn run(produce: impl FnOnce() + Send, consume: impl FnOnce() -> u64) -> Duration {
    let start = Barrier::new(2);
    let (sum, took) = thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            produce();
        });
        start.wait();
        let t = Instant::now();
        let sum = consume();
        (sum, t.elapsed())
    });
    assert_eq!(sum, u64::from(N) * u64::from(N - 1) / 2);
    took
}

fn ours() -> Duration {
    let ring = SpscRing::new(CAP);
    let (mut tx, mut rx) = ring.split();
    run(
        move || produce(|v| tx.push(v).is_ok()),
        move || consume(|| rx.pop().ok()),
    )
}

fn rtrb() -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u32>::new(CAP as usize);
    run(
        move || produce(|v| tx.push(v).is_ok()),
        move || consume(|| rx.pop().ok()),
    )
}

fn array_queue() -> Duration {
    let q = ArrayQueue::<u32>::new(CAP as usize);
    run(|| produce(|v| q.push(v).is_ok()), || consume(|| q.pop()))
}

/// One timed transfer of `N` values.
type Run = fn() -> Duration;

fn two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_1024");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    let cases: [(&str, Run); 3] = [
        ("atelier_SpscRing", ours),
        ("rtrb", rtrb),
        ("crossbeam_ArrayQueue", array_queue),
    ];
    for (name, f) in cases {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| f()).sum())
        });
    }
    g.finish();
}

fn push_pop_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_push_pop_pair");
    g.throughput(Throughput::Elements(1));

    let ring = SpscRing::new(CAP);
    let (mut tx, mut rx) = ring.split();
    g.bench_function("atelier_SpscRing", |b| {
        b.iter(|| {
            tx.push(black_box(7)).unwrap();
            black_box(rx.pop().unwrap())
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

criterion_group!(benches, two_threads, push_pop_pair);
criterion_main!(benches);
