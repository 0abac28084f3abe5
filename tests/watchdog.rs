//! The watchdog and the crash policy through the controller, with a fake clock: workers are
//! `WorkerPort`s driven step by step on the test's thread, so "a worker that stops beating"
//! is one that the test stops calling.

use atelier::core::{Controller, CrashPolicy, Decision, Poll, TaskShape, Verdict, EXIT_SILENCE_MS};
use atelier_ring::layout::{cancel, status, BEAT_MS};
use atelier_workers::{Take, WorkerPort};

const TICK: f64 = 100.0;
const CREDIT: f64 = 2.0 * TICK;

fn setup(workers: u32, hang_ms: Option<f64>) -> (Controller, u32) {
    let mut ctl = Controller::new();
    let t = ctl
        .define_task(TaskShape {
            max_in_flight: workers,
            workers,
            slots: 3 * workers,
        })
        .unwrap();
    ctl.configure(t, CrashPolicy::RestartFailInFlight, 3, hang_ms)
        .unwrap();
    (ctl, t)
}

fn submit(ctl: &mut Controller, task: u32, bytes: &[u8]) -> u32 {
    let (dst, _) = ctl.reserve(bytes.len() as u32, 0).unwrap();
    // SAFETY: the staging buffer holds at least `bytes.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
    ctl.submit(task, bytes.len() as u32).unwrap()
}

/// Ticks from `from` to `to` every TICK ms; `each(now)` runs before each tick (the workers'
/// side). Returns the first verdicts and when they came.
fn ticks(
    ctl: &mut Controller,
    task: u32,
    from: f64,
    to: f64,
    mut each: impl FnMut(f64),
) -> Option<(f64, Vec<(u32, Verdict)>)> {
    let mut now = from;
    while now <= to {
        each(now);
        let v = ctl.watch(task, now, CREDIT).unwrap();
        if !v.is_empty() {
            return Some((now, v));
        }
        now += TICK;
    }
    None
}

#[test]
fn a_handler_that_awaits_keeps_beating_and_is_never_hung() {
    let (mut ctl, task) = setup(1, Some(500.0));
    let seat = ctl.attach(task, 0).unwrap().seat;
    let block = ctl.block(task).unwrap().clone();
    let mut port = WorkerPort::new(&block, seat).unwrap();
    ctl.arm(task, seat);
    submit(&mut ctl, task, b"sleep 3 s");
    let Take::Call(c) = port.take() else {
        panic!("no call")
    };
    // The worker's event loop is free: it beats every BEAT_MS for the 3 s timer.
    let beat_every = f64::from(BEAT_MS);
    let mut last = 0.0;
    let got = ticks(&mut ctl, task, 0.0, 3000.0, |now| {
        if now - last >= beat_every {
            port.beat();
            last = now;
        }
    });
    assert_eq!(got, None);
    port.complete(c, status::OK, b"woke").unwrap();
    assert!(matches!(ctl.poll(task).unwrap(), Poll::Done(_)));
}

#[test]
fn a_spinning_handler_is_hung_after_hang_timeout() {
    let (mut ctl, task) = setup(2, Some(500.0));
    let block = ctl.block(task).unwrap().clone();
    let a = ctl.attach(task, 0).unwrap().seat;
    let b = ctl.attach(task, 1).unwrap().seat;
    let mut pa = WorkerPort::new(&block, a).unwrap();
    let pb = WorkerPort::new(&block, b).unwrap();
    ctl.arm(task, a);
    ctl.arm(task, b);
    submit(&mut ctl, task, b"while (true) {}");
    let Take::Call(_) = pa.take() else {
        panic!("no call")
    };
    // Worker a never beats again; worker b is idle and beats.
    let got = ticks(&mut ctl, task, 0.0, 5000.0, |_| pb.beat());
    assert_eq!(got, Some((500.0, vec![(a, Verdict::Hang)])));
    // Reported once.
    assert_eq!(ticks(&mut ctl, task, 600.0, 2000.0, |_| pb.beat()), None);
    assert_eq!(ctl.silence_ms(task, a), None);
}

#[test]
fn a_starved_watchdog_does_not_turn_stale_beats_into_hangs() {
    let (mut ctl, task) = setup(1, Some(500.0));
    let block = ctl.block(task).unwrap().clone();
    let seat = ctl.attach(task, 0).unwrap().seat;
    let mut port = WorkerPort::new(&block, seat).unwrap();
    ctl.arm(task, seat);
    submit(&mut ctl, task, b"await");
    let Take::Call(_) = port.take() else {
        panic!("no call")
    };
    assert!(ctl.watch(task, 0.0, CREDIT).unwrap().is_empty());
    // The page's thread is blocked for 5 s, and the worker, frozen with the tab, has not
    // beaten yet when the first tick after it runs.
    assert!(ctl.watch(task, 5000.0, CREDIT).unwrap().is_empty());
    assert_eq!(ctl.silence_ms(task, seat), Some(CREDIT));
    // It beats before the next tick: silence starts over.
    port.beat();
    assert!(ctl.watch(task, 5100.0, CREDIT).unwrap().is_empty());
    assert_eq!(ctl.silence_ms(task, seat), Some(0.0));
    // A real hang after the freeze is still found, on the watchdog's own time.
    let got = ticks(&mut ctl, task, 5200.0, 9000.0, |_| {});
    assert_eq!(got, Some((5600.0, vec![(seat, Verdict::Hang)])));
}

#[test]
fn an_idle_worker_that_stops_beating_has_exited_within_about_a_second() {
    let (mut ctl, task) = setup(1, None);
    let block = ctl.block(task).unwrap().clone();
    let seat = ctl.attach(task, 0).unwrap().seat;
    let port = WorkerPort::new(&block, seat).unwrap();
    ctl.arm(task, seat);
    // Idle and beating for 2 s, then gone (it called close()).
    assert_eq!(ticks(&mut ctl, task, 0.0, 2000.0, |_| port.beat()), None);
    let got = ticks(&mut ctl, task, 2100.0, 9000.0, |_| {});
    assert_eq!(
        got,
        Some((2000.0 + EXIT_SILENCE_MS, vec![(seat, Verdict::Exit)]))
    );
}

#[test]
fn unarmed_and_reclaimed_seats_are_not_watched() {
    let (mut ctl, task) = setup(1, Some(200.0));
    let seat = ctl.attach(task, 0).unwrap().seat;
    // Not armed: a worker still starting is the start-up timeout's business.
    assert_eq!(ticks(&mut ctl, task, 0.0, 3000.0, |_| {}), None);
    ctl.arm(task, seat);
    ctl.reclaim(task, seat, false).unwrap();
    assert_eq!(ticks(&mut ctl, task, 3100.0, 6000.0, |_| {}), None);
}

#[test]
fn a_cancelled_call_whose_handler_runs_on_is_found_on_its_seat() {
    let (mut ctl, task) = setup(1, None);
    let block = ctl.block(task).unwrap().clone();
    let seat = ctl.attach(task, 0).unwrap().seat;
    let mut port = WorkerPort::new(&block, seat).unwrap();
    let id = submit(&mut ctl, task, b"spin");
    assert_eq!(ctl.running_on(task, id), None, "pending, not running");
    let Take::Call(c) = port.take() else {
        panic!("no call")
    };
    assert_eq!(ctl.running_on(task, id), Some(seat));
    ctl.cancel(task, id, cancel::ABORTED).unwrap();
    assert_eq!(
        ctl.running_on(task, id),
        Some(seat),
        "abandoned, still running"
    );
    port.complete(c, status::OK, b"late").unwrap();
    assert_eq!(ctl.running_on(task, id), None);
}

#[test]
fn a_returned_call_resets_the_retry_budget() {
    let (mut ctl, task) = setup(1, None);
    let block = ctl.block(task).unwrap().clone();
    let restart = |after_ms| Decision::Restart {
        after_ms,
        requeue: false,
    };
    assert_eq!(ctl.crashed(task).unwrap(), restart(100));
    assert_eq!(ctl.crashed(task).unwrap(), restart(200));
    // A call that throws is not a success; one that returns is.
    let seat = ctl.attach(task, 0).unwrap().seat;
    let mut port = WorkerPort::new(&block, seat).unwrap();
    for (st, bytes) in [(status::THREW, b"boom"), (status::OK, b"fine")] {
        submit(&mut ctl, task, b"x");
        let Take::Call(c) = port.take() else {
            panic!("no call")
        };
        port.complete(c, st, bytes).unwrap();
        assert!(matches!(ctl.poll(task).unwrap(), Poll::Done(_)));
        if st == status::THREW {
            assert_eq!(ctl.crashed(task).unwrap(), restart(400));
        }
    }
    assert_eq!(ctl.crashed(task).unwrap(), restart(100));
    ctl.configure(task, CrashPolicy::FailTask, 3, None).unwrap();
    assert_eq!(
        ctl.crashed(task).unwrap(),
        Decision::Halt { escalated: false }
    );
}
