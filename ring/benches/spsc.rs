//! SPSC throughput: one producer thread and one consumer thread move `N` `u32` values through
//! a ring of capacity 1024. `atelier_ring::Ring` (MPMC, used here with one thread on each
//! end) against `rtrb::RingBuffer` (a dedicated SPSC ring) and `crossbeam_queue::ArrayQueue`
//! (the MPMC queue of the same design).
//!
//! `cargo bench -p atelier-ring --bench spsc -- --warm-up-time 1 --measurement-time 3`

use atelier_ring::Ring;
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
    let ring = Ring::new(CAP).unwrap();
    run(
        || {
            for v in 0..N {
                let mut spins = 0;
                while ring.push(v).is_err() {
                    backoff(&mut spins);
                }
            }
        },
        || {
            let mut sum = 0u64;
            for _ in 0..N {
                let mut spins = 0;
                loop {
                    match ring.pop() {
                        Ok(v) => {
                            sum += u64::from(black_box(v));
                            break;
                        }
                        Err(_) => backoff(&mut spins),
                    }
                }
            }
            sum
        },
    )
}

fn rtrb() -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u32>::new(CAP as usize);
    run(
        move || {
            for v in 0..N {
                let mut spins = 0;
                while tx.push(v).is_err() {
                    backoff(&mut spins);
                }
            }
        },
        move || {
            let mut sum = 0u64;
            for _ in 0..N {
                let mut spins = 0;
                loop {
                    match rx.pop() {
                        Ok(v) => {
                            sum += u64::from(black_box(v));
                            break;
                        }
                        Err(_) => backoff(&mut spins),
                    }
                }
            }
            sum
        },
    )
}

fn array_queue() -> Duration {
    let q = ArrayQueue::<u32>::new(CAP as usize);
    run(
        || {
            for v in 0..N {
                let mut spins = 0;
                while q.push(v).is_err() {
                    backoff(&mut spins);
                }
            }
        },
        || {
            let mut sum = 0u64;
            for _ in 0..N {
                let mut spins = 0;
                loop {
                    match q.pop() {
                        Some(v) => {
                            sum += u64::from(black_box(v));
                            break;
                        }
                        None => backoff(&mut spins),
                    }
                }
            }
            sum
        },
    )
}

/// One timed transfer of `N` values.
type Run = fn() -> Duration;

fn spsc(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_1024");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    let cases: [(&str, Run); 3] = [
        ("atelier_ring", ours),
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

criterion_group!(benches, spsc);
criterion_main!(benches);
