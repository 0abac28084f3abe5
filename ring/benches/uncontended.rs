//! Single-thread latency, no contention: one push followed by one pop (the ring stays
//! empty between pairs), and a burst that fills a capacity-1024 queue and drains it.
//! `atelier_ring::Ring` against `rtrb::RingBuffer` and `crossbeam_queue::ArrayQueue`.
//!
//! `cargo bench -p atelier-ring --bench uncontended -- --warm-up-time 1 --measurement-time 3`

use atelier_ring::Ring;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use std::hint::black_box;

const CAP: u32 = 1024;

fn push_pop_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_pop_pair");
    g.throughput(Throughput::Elements(1));

    let ring = Ring::new(CAP).unwrap();
    g.bench_function("atelier_ring", |b| {
        b.iter(|| {
            ring.push(black_box(7)).unwrap();
            black_box(ring.pop().unwrap())
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

    let ring = Ring::new(CAP).unwrap();
    g.bench_function("atelier_ring", |b| {
        b.iter(|| {
            for v in 0..CAP {
                ring.push(black_box(v)).unwrap();
            }
            for _ in 0..CAP {
                black_box(ring.pop().unwrap());
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
