//! SPSC: `atelier_ring::SpscRing` (a worker's completion ring) against `rtrb::RingBuffer`
//! (the SPSC ring its design follows) and `crossbeam_queue::ArrayQueue` (a bounded MPMC
//! queue used with one thread on each end).
//!
//! * `spsc_1024`: one producer thread and one consumer thread move `N` `u32` values through
//!   a ring of capacity 1024.
//! * `spsc_push_pop_pair`: one thread, no contention: a push followed by a pop.
//! * `spsc_1024 paired`: after criterion's groups, the two-thread transfer again in
//!   interleaved rounds (ours, then the other, then the other, then ours, ...), printed as the
//!   ratio of the times with a 95 % bootstrap interval. Two threads on a small shared machine
//!   swing between runs by up to 4× (whether they land on one core or two, and what else
//!   runs), so criterion's separate groups can disagree from run to run; rounds taken side
//!   by side see the same machine.
//!
//! `cargo bench -p atelier-ring --bench spsc -- --warm-up-time 1 --measurement-time 3`
//! (a filter given to criterion skips the paired rounds unless it matches `paired`).

use atelier_ring::SpscRing;
use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
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
    let ring = Box::new(SpscRing::new(CAP));
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

/// Interleaved rounds of the same transfer.
const ROUNDS: usize = 200;

/// The geometric mean of `mine[i] / theirs[i]` with a 95 % bootstrap interval (the browser
/// harness's `pairedRatio`, `benches/browser/harness/stats.js`).
fn paired_ratio(mine: &[f64], theirs: &[f64]) -> (f64, f64, f64) {
    let logs: Vec<f64> = mine.iter().zip(theirs).map(|(a, b)| (a / b).ln()).collect();
    let n = logs.len();
    // xorshift64*: a fixed seed, so a rerun on the same numbers gives the same interval.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    };
    let mut means: Vec<f64> = (0..10_000)
        .map(|_| (0..n).map(|_| logs[next()]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let point = (logs.iter().sum::<f64>() / n as f64).exp();
    (point, means[250].exp(), means[9750].exp())
}

/// `spsc_1024` in interleaved rounds: prints each peer's median time and ours against it.
fn paired() {
    let peers: [(&str, Run); 2] = [("rtrb", rtrb), ("crossbeam_ArrayQueue", array_queue)];
    for (name, theirs_run) in peers {
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        ours();
        theirs_run();
        for r in 0..ROUNDS {
            let (a, b) = if r % 2 == 0 {
                let a = ours();
                (a, theirs_run())
            } else {
                let b = theirs_run();
                (ours(), b)
            };
            mine.push(a.as_secs_f64());
            theirs.push(b.as_secs_f64());
        }
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2] * 1e3
        };
        let (point, lo, hi) = paired_ratio(&mine, &theirs);
        println!(
            "spsc_1024 paired: atelier_SpscRing {:.3} ms, {name} {:.3} ms (medians of {ROUNDS} rounds); \
             time of ours / {name}: {point:.3}x [{lo:.3} {hi:.3}] ({})",
            median(&mine),
            median(&theirs),
            if hi <= 1.0 {
                "ours is faster"
            } else if lo >= 1.0 {
                "ours is slower"
            } else {
                "no difference shown"
            }
        );
    }
}

criterion_group!(benches, two_threads, push_pop_pair);

/// Criterion's options that take no value (every other `--option` is followed by its value).
const FLAGS: [&str; 9] = [
    "--bench",
    "--test",
    "--list",
    "--exact",
    "--noplot",
    "--discard-baseline",
    "--quick",
    "--quiet",
    "--verbose",
];

fn main() {
    benches();
    // A filter (criterion's free argument, not an option's value) selects groups.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().enumerate().find(|(i, a)| {
        let after_option =
            *i > 0 && args[i - 1].starts_with("--") && !FLAGS.contains(&args[i - 1].as_str());
        !a.starts_with('-') && !after_option
    });
    if filter.is_none_or(|(_, f)| "spsc_1024 paired".contains(f.as_str())) {
        paired();
    }
    Criterion::default().configure_from_args().final_summary();
}
