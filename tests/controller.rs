//! The controller against fake workers: threads that run the real worker side
//! (`atelier_workers::WorkerPort`) and echo each call's argument bytes back (reversed, so a
//! result is not the argument by accident), and workers that stop for ever at chosen points,
//! as a terminated Web Worker does.

mod common;

use atelier::core::{Cancelled, Controller, Outcome, Poll, TaskShape};
use atelier_ring::layout::{self, cancel, state, status, INLINE_BYTES};
use atelier_ring::TaskBlock;
use atelier_workers::{Claim, Completed, Take, WorkerPort};
use common::args_of;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

fn reversed(mut v: Vec<u8>) -> Vec<u8> {
    v.reverse();
    v
}

/// A worker on `seat` that echoes arguments until `stop` is set; returns how many it ran.
fn spawn_echo(block: Arc<TaskBlock>, seat: u32, stop: Arc<AtomicBool>) -> thread::JoinHandle<u32> {
    thread::spawn(move || {
        let mut port = WorkerPort::new(&block, seat).unwrap();
        let mut ran = 0;
        while !stop.load(Ordering::Relaxed) {
            let c = match port.take() {
                Take::Call(c) => c,
                Take::Empty => {
                    thread::yield_now();
                    continue;
                }
                Take::Corrupt => panic!("work queue corrupt"),
            };
            let out = reversed(args_of(&block, c));
            assert_eq!(port.complete(c, status::OK, &out), Ok(Completed::Published));
            ran += 1;
        }
        ran
    })
}

fn submit(ctl: &mut Controller, task: u32, bytes: &[u8]) -> u32 {
    let (dst, _) = ctl.reserve(bytes.len().max(1) as u32, 0).unwrap();
    // SAFETY: the staging buffer holds at least `bytes.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
    ctl.submit(task, bytes.len() as u32).unwrap()
}

fn payload(i: u32) -> Vec<u8> {
    // Mostly small payloads; every 7th larger than a slot's inline bytes, every 101st
    // larger than a worker's arena (its result takes a granted buffer).
    let len = if i.is_multiple_of(101) {
        70_000 + i as usize % 5000
    } else if i.is_multiple_of(7) {
        INLINE_BYTES + 1 + (i as usize % 3000)
    } else {
        i as usize % INLINE_BYTES
    };
    (0..len)
        .map(|k| (k as u32).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

/// The result bytes of a completion.
fn result_of(c: &atelier::core::Completion) -> Vec<u8> {
    // SAFETY: the result bytes stay valid until the next poll.
    unsafe { std::slice::from_raw_parts(c.ptr as *const u8, c.len as usize) }.to_vec()
}

fn task(
    ctl: &mut Controller,
    max_in_flight: u32,
    workers: u32,
    slots: u32,
) -> (u32, Arc<TaskBlock>) {
    let t = ctl
        .define_task(TaskShape {
            max_in_flight,
            workers,
            slots,
        })
        .unwrap();
    let block = ctl.block(t).unwrap().clone();
    (t, block)
}

fn poll_until_done(ctl: &mut Controller, task: u32) -> atelier::core::Completion {
    for _ in 0..10_000_000 {
        match ctl.poll(task).unwrap() {
            Poll::Done(c) => return c,
            Poll::Empty => thread::yield_now(),
        }
    }
    panic!("no completion");
}

#[test]
fn every_call_completes_once_with_its_own_result() {
    let calls: u32 = if cfg!(miri) { 40 } else { 20_000 };
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 4, 2, 12);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let seat = ctl.attach(task, i).unwrap().seat;
            spawn_echo(block.clone(), seat, stop.clone())
        })
        .collect();
    let baseline = ctl.occupancy();

    let mut expected: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut done = 0;
    let mut next = 0;
    while done < calls {
        // Keep up to 64 calls outstanding: 4 running, 8 pending in shared memory, the rest
        // waiting in the page.
        while next < calls && expected.len() < 64 {
            let p = payload(next);
            let id = submit(&mut ctl, task, &p);
            assert!(expected.insert(id, p).is_none(), "call id {id} reused");
            next += 1;
        }
        assert!(ctl.running(task).unwrap() <= 4, "maxInFlight is a bound");
        match ctl.poll(task).unwrap() {
            Poll::Done(c) => {
                assert_eq!(c.outcome, Outcome::Returned);
                let want = expected
                    .remove(&c.call_id)
                    .expect("completion for an unknown call");
                assert_eq!(
                    reversed(result_of(&c)),
                    want,
                    "call {} got another call's result",
                    c.call_id
                );
                done += 1;
            }
            Poll::Empty => thread::yield_now(),
        }
    }
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(
        ctl.depths(task).unwrap(),
        (0, 0),
        "slots return to zero when the task drains"
    );
    assert_eq!(ctl.ignored(task).unwrap(), (0, 0));
    stop.store(true, Ordering::Relaxed);
    let ran: Vec<u32> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(ran.iter().sum::<u32>(), calls);
    let after = ctl.occupancy();
    assert_eq!(after.slots, 0);
    // The staging buffer may have grown for the large payloads; nothing else is held.
    assert!(
        after.bytes <= baseline.bytes + (1 << 17),
        "{baseline:?} -> {after:?}"
    );
}

#[test]
fn workers_chain_pending_calls_without_the_page() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 8);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let ids: Vec<u32> = (0..8).map(|i| submit(&mut ctl, task, &[i as u8])).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = spawn_echo(block.clone(), seat, stop.clone());
    // The page does nothing (no poll) while the worker runs every pending call in turn.
    while block.cells[seat as usize].completed.load(Ordering::Relaxed) < 8 {
        thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(worker.join().unwrap(), 8);
    let mut got: Vec<u32> = (0..8)
        .map(|_| poll_until_done(&mut ctl, task).call_id)
        .collect();
    got.sort_unstable();
    assert_eq!(got, ids);
}

#[test]
fn a_quota_bounds_the_calls_a_worker_holds() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 3, 2, 9);
    let a = ctl.attach(task, 0).unwrap().seat;
    let b = ctl.attach(task, 1).unwrap().seat;
    for i in 0..9 {
        submit(&mut ctl, task, &[i]);
    }
    let mut pa = WorkerPort::new(&block, a).unwrap();
    let mut pb = WorkerPort::new(&block, b).unwrap();
    // maxInFlight 3 over two workers: quotas 2 and 1.
    let held_a: Vec<Claim> = std::iter::from_fn(|| match pa.take() {
        Take::Call(c) => Some(c),
        _ => None,
    })
    .collect();
    let held_b: Vec<Claim> = std::iter::from_fn(|| match pb.take() {
        Take::Call(c) => Some(c),
        _ => None,
    })
    .collect();
    assert_eq!((held_a.len(), held_b.len()), (2, 1));
    assert_eq!(ctl.running(task).unwrap(), 3);
    pa.complete(held_a[0], status::OK, b"x").unwrap();
    assert!(
        matches!(pa.take(), Take::Call(_)),
        "room again after a completion"
    );
}

#[test]
fn a_dead_worker_fails_only_its_calls_and_the_next_call_settles() {
    // poolSize 1: the worker dies in the middle of a call. That call fails; the next call,
    // on a fresh worker, settles.
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 3);
    let first = ctl.attach(task, 0).unwrap().seat;
    let a = submit(&mut ctl, task, b"crashes");
    let b = submit(&mut ctl, task, b"pending");
    let mut port = WorkerPort::new(&block, first).unwrap();
    let Take::Call(_) = port.take() else {
        panic!("no call")
    };
    drop(port); // terminated mid-call: nothing more happens on its side
    let failed = ctl.reclaim(task, first, false).unwrap();
    assert_eq!(failed, vec![a]);
    assert!(ctl.quarantined(task, first));
    // The replacement takes the other seat of the index and runs the pending call.
    let second = ctl.attach(task, 0).unwrap().seat;
    assert_ne!(second, first);
    let stop = Arc::new(AtomicBool::new(false));
    let w = spawn_echo(block.clone(), second, stop.clone());
    assert_eq!(poll_until_done(&mut ctl, task).call_id, b);
    let c = submit(&mut ctl, task, b"after");
    assert_eq!(poll_until_done(&mut ctl, task).call_id, c);
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert!(ctl.release_seat(task, first).unwrap());
    assert_eq!(ctl.occupancy().seats, 1);
    assert_eq!(ctl.depths(task).unwrap(), (0, 0));
}

#[test]
fn a_requeued_call_runs_again_and_the_late_completion_is_discarded() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 2);
    let old = ctl.attach(task, 0).unwrap().seat;
    let id = submit(&mut ctl, task, b"again");
    let mut zombie = WorkerPort::new(&block, old).unwrap();
    let Take::Call(c) = zombie.take() else {
        panic!("no call")
    };
    assert_eq!(
        block.slots[c.slot as usize].attempt.load(Ordering::Relaxed),
        1
    );
    assert!(
        ctl.reclaim(task, old, true).unwrap().is_empty(),
        "requeued, not failed"
    );
    // The terminated worker finishes its last instructions: its completion loses the race.
    assert_eq!(
        zombie.complete(c, status::OK, b"stale"),
        Ok(Completed::Discarded)
    );
    let fresh = ctl.attach(task, 0).unwrap().seat;
    let mut port = WorkerPort::new(&block, fresh).unwrap();
    let Take::Call(c2) = port.take() else {
        panic!("the requeued call is lost")
    };
    assert_eq!(
        block.slots[c2.slot as usize]
            .attempt
            .load(Ordering::Relaxed),
        2,
        "next attempt"
    );
    assert_eq!(args_of(&block, c2), b"again", "arguments survive a requeue");
    port.complete(c2, status::OK, b"fresh").unwrap();
    let done = poll_until_done(&mut ctl, task);
    assert_eq!((done.call_id, result_of(&done)), (id, b"fresh".to_vec()));
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
}

#[test]
fn a_side_lane_completion_of_a_dead_worker_counts_as_running() {
    // Two calls finished by a worker that then died: the plain one is delivered; the one whose
    // values went by postMessage (lost with the worker) is requeued, or failed without requeue.
    for requeue in [true, false] {
        let mut ctl = Controller::new();
        let (task, block) = task(&mut ctl, 2, 1, 4);
        let old = ctl.attach(task, 0).unwrap().seat;
        let plain = submit(&mut ctl, task, b"plain");
        let side = submit(&mut ctl, task, b"side");
        let mut port = WorkerPort::new(&block, old).unwrap();
        let (Take::Call(a), Take::Call(b)) = (port.take(), port.take()) else {
            panic!("no calls")
        };
        port.complete(a, status::OK, b"A").unwrap();
        port.complete(b, status::OK | status::SIDE, b"B").unwrap();
        drop(port);
        let failed = ctl.reclaim(task, old, requeue).unwrap();
        assert_eq!(failed, if requeue { vec![] } else { vec![side] });
        let done = poll_until_done(&mut ctl, task);
        assert_eq!((done.call_id, done.side), (plain, false));
        assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
        if requeue {
            let fresh = ctl.attach(task, 0).unwrap().seat;
            let mut port = WorkerPort::new(&block, fresh).unwrap();
            let Take::Call(c) = port.take() else {
                panic!("the side-lane call was not requeued")
            };
            assert_eq!(args_of(&block, c), b"side");
            port.complete(c, status::OK | status::SIDE, b"B2").unwrap();
            let done = poll_until_done(&mut ctl, task);
            assert_eq!((done.call_id, done.side, done.seat), (side, true, fresh));
            assert_eq!(result_of(&done), b"B2".to_vec());
            assert_eq!(done.outcome, Outcome::Returned);
        }
        assert!(ctl.release_seat(task, old).unwrap());
    }
}

/// Submits `bytes` to the worker on `seat` alone; returns (call id, slot, generation).
fn submit_to(ctl: &mut Controller, task: u32, bytes: &[u8], seat: u32) -> Option<(u32, u32, u32)> {
    let (ptr, _) = ctl.reserve(bytes.len() as u32, 0).unwrap();
    // SAFETY: the staging buffer holds at least `bytes.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
    ctl.submit_to(task, bytes.len() as u32, seat).unwrap()
}

#[test]
fn a_call_handed_to_one_worker_is_claimed_by_it_alone() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 2, 2, 6);
    let a = ctl.attach(task, 0).unwrap().seat;
    let b = ctl.attach(task, 1).unwrap().seat;
    let mut pa = WorkerPort::new(&block, a).unwrap();
    let mut pb = WorkerPort::new(&block, b).unwrap();
    let (id, slot, gen) = submit_to(&mut ctl, task, b"handed", a).expect("handed");
    assert_eq!(pb.take(), Take::Empty, "on no queue");
    assert_eq!(
        pb.claim_handed(slot, gen),
        Take::Empty,
        "not the other worker's"
    );
    // The watchdog's audit leaves it where it is.
    ctl.watch(task, 0.0, 1000.0).unwrap();
    assert_eq!(pb.take(), Take::Empty, "still on no queue after an audit");
    let Take::Call(c) = pa.claim_handed(slot, gen) else {
        panic!("its worker cannot claim it")
    };
    assert_eq!(args_of(&block, c), b"handed");
    pa.complete(c, status::OK, b"done").unwrap();
    let done = poll_until_done(&mut ctl, task);
    assert_eq!((done.call_id, result_of(&done)), (id, b"done".to_vec()));

    // Cancelled before its worker claims it: dropped, and the claim fails.
    let (id, slot, gen) = submit_to(&mut ctl, task, b"dropped", a).unwrap();
    assert_eq!(
        ctl.cancel(task, id, cancel::ABORTED).unwrap(),
        Cancelled::Dropped
    );
    assert_eq!(pa.claim_handed(slot, gen), Take::Empty);
    // drop-oldest drops it too (it has not started), and the claim fails.
    let (id, slot, gen) = submit_to(&mut ctl, task, b"oldest", a).unwrap();
    assert_eq!(ctl.drop_oldest(task).unwrap(), Some(id));
    assert_eq!(pa.claim_handed(slot, gen), Take::Empty);
    // A pending word no page wrote (another owner's) is passed over, never tried for ever.
    let (_, slot, gen) = submit_to(&mut ctl, task, b"forged", a).unwrap();
    let word = &block.slots[slot as usize].state;
    word.store(layout::pack(state::PENDING, 77, gen), Ordering::Relaxed);
    assert_eq!(ctl.drop_oldest(task).unwrap(), None);
    let owner = block.cells[a as usize].owner.load(Ordering::Relaxed);
    word.store(layout::pack(state::PENDING, owner, gen), Ordering::Relaxed);
    let Take::Call(c) = pa.claim_handed(slot, gen) else {
        panic!("restored, it is claimable again")
    };
    pa.complete(c, status::OK, b"F").unwrap();
    poll_until_done(&mut ctl, task);

    // Its worker dies before claiming it: it goes on the work queue, as the same attempt,
    // whatever the crash policy, and another worker takes it.
    let (id, slot, _) = submit_to(&mut ctl, task, b"moved", a).unwrap();
    drop(pa);
    assert!(
        ctl.reclaim(task, a, false).unwrap().is_empty(),
        "never ran: not failed"
    );
    let Take::Call(c) = pb.take() else {
        panic!("the handed call is lost with its worker")
    };
    assert_eq!((c.slot, args_of(&block, c)), (slot, b"moved".to_vec()));
    assert_eq!(
        block.slots[slot as usize].attempt.load(Ordering::Relaxed),
        1
    );
    pb.complete(c, status::OK, b"M").unwrap();
    assert_eq!(poll_until_done(&mut ctl, task).call_id, id);
    assert!(
        submit_to(&mut ctl, task, b"x", a).is_none(),
        "a dead seat takes no call"
    );
    assert!(ctl.release_seat(task, a).unwrap());
}

#[test]
fn cancelling_drops_a_pending_call_and_abandons_a_running_one() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 3);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let running = submit(&mut ctl, task, b"r");
    let pending = submit(&mut ctl, task, b"p");
    let waiting = submit(&mut ctl, task, b"w");
    let after = submit(&mut ctl, task, b"a"); // waits in the page: 3 slots
    let mut port = WorkerPort::new(&block, seat).unwrap();
    let Take::Call(c) = port.take() else { panic!() };
    assert_eq!(
        ctl.cancel(task, pending, cancel::ABORTED).unwrap(),
        Cancelled::Dropped
    );
    assert_eq!(
        ctl.cancel(task, after, cancel::ABORTED).unwrap(),
        Cancelled::Dropped
    );
    assert_eq!(
        ctl.cancel(task, running, cancel::TIMED_OUT).unwrap(),
        Cancelled::Running
    );
    assert_eq!(
        ctl.cancel(task, running, cancel::ABORTED).unwrap(),
        Cancelled::Unknown
    );
    let slot = &block.slots[c.slot as usize];
    assert_eq!(
        slot.cancel.load(Ordering::Relaxed),
        cancel::TIMED_OUT,
        "the handler sees its flag"
    );
    assert_eq!(
        layout::kind(slot.state.load(Ordering::Relaxed)),
        state::ABANDONED
    );
    // The abandoned call's completion is discarded; the dropped one never runs.
    port.complete(c, status::OK, b"late").unwrap();
    let Take::Call(c2) = port.take() else {
        panic!()
    };
    assert_eq!(args_of(&block, c2), b"w");
    port.complete(c2, status::OK, b"W").unwrap();
    assert_eq!(port.take(), Take::Empty, "the dropped calls never run");
    assert_eq!(poll_until_done(&mut ctl, task).call_id, waiting);
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(ctl.ignored(task).unwrap(), (0, 1));
    assert_eq!(ctl.depths(task).unwrap(), (0, 0));
}

#[test]
fn dropped_calls_behind_a_call_no_worker_can_take_yet_never_jam_the_queue() {
    // One worker at its quota (holding a call), one pending call at `head` that nobody can
    // take yet, and many calls submitted and cancelled behind it: their stale entries fill
    // the queue, which `skip_stale` cannot clear past the pending call.
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 3);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let mut port = WorkerPort::new(&block, seat).unwrap();
    submit(&mut ctl, task, b"held");
    let Take::Call(held) = port.take() else {
        panic!()
    };
    let head = submit(&mut ctl, task, b"head");
    let cap = block.queue.capacity();
    for i in 0..cap * 3 {
        let id = submit(&mut ctl, task, &[i as u8]);
        assert_eq!(
            ctl.cancel(task, id, cancel::ABORTED).unwrap(),
            Cancelled::Dropped
        );
    }
    let last = submit(&mut ctl, task, b"last");
    // The worker finishes, the page polls, and the queue drains in order.
    port.complete(held, status::OK, b"1").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    drop(port);
    assert!(ctl.reclaim(task, seat, true).unwrap().is_empty());
    let fresh = ctl.attach(task, 0).unwrap().seat;
    let w = spawn_echo(block.clone(), fresh, stop.clone());
    let mut got: Vec<u32> = (0..3)
        .map(|_| poll_until_done(&mut ctl, task).call_id)
        .collect();
    got.sort_unstable();
    assert_eq!(got[1..], [head, last]);
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
}

#[test]
fn forged_and_stale_completion_entries_are_ignored() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 2, 1, 2);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let words = block.ring(seat).unwrap();
    let mut forge = atelier_ring::Producer::new(words, 0);
    // Entries naming no running call: a slot out of range and a free slot.
    forge.push(layout::entry(1000, 1)).unwrap();
    forge.push(layout::entry(1, 0)).unwrap();
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(ctl.ignored(task).unwrap().0, 2);

    // A running call's entry pushed before the worker finished it: ignored, and the call is
    // still there to finish.
    let id = submit(&mut ctl, task, b"abc");
    let mut port = WorkerPort::new(&block, seat).unwrap();
    let Take::Call(c) = port.take() else {
        panic!("no call")
    };
    drop(port);
    atelier_ring::Producer::new(words, 2)
        .push(layout::entry(c.slot, c.gen))
        .unwrap();
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(ctl.ignored(task).unwrap().0, 3);
    assert!(ctl.reclaim(task, seat, true).unwrap().is_empty());
    let fresh = ctl.attach(task, 0).unwrap().seat;
    let stop = Arc::new(AtomicBool::new(false));
    let w = spawn_echo(block.clone(), fresh, stop.clone());
    assert_eq!(poll_until_done(&mut ctl, task).call_id, id);
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
}

#[test]
fn invalid_result_words_fail_the_call_with_a_reason() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 1);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let id = submit(&mut ctl, task, b"x");
    let mut port = WorkerPort::new(&block, seat).unwrap();
    let Take::Call(c) = port.take() else {
        panic!("no call")
    };
    // The worker scribbles over its result record after publishing it: a result address
    // outside its arena.
    port.complete(c, status::OK, b"y").unwrap();
    block.result(seat, 0).unwrap()[layout::result::PTR].store(0xdead_0000, Ordering::Relaxed);
    match ctl.poll(task).unwrap() {
        Poll::Done(d) => {
            assert_eq!(d.call_id, id);
            assert!(matches!(d.outcome, Outcome::Invalid(_)), "{:?}", d.outcome);
            assert_eq!(d.len, 0, "nothing outside the arena is handed out");
        }
        Poll::Empty => panic!("the call must settle"),
    }
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(ctl.depths(task).unwrap(), (0, 0));
}

#[test]
fn a_worker_refuses_to_complete_a_call_it_does_not_run() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 2, 1, 2);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let mut port = WorkerPort::new(&block, seat).unwrap();
    assert!(port
        .complete(Claim { slot: 0, gen: 1 }, status::OK, b"")
        .is_err());
    submit(&mut ctl, task, b"a");
    let Take::Call(c) = port.take() else {
        panic!("no call")
    };
    assert!(port.complete(c, 7, b"").is_err(), "unknown status");
    assert!(WorkerPort::new(&block, 99).is_err(), "no such seat");
    assert!(
        WorkerPort::new(&block, seat ^ 1).is_err(),
        "a seat the page gave nobody"
    );
}

#[test]
fn a_zombie_that_claims_after_its_reclaim_gives_the_call_back_at_release() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 2);
    let old = ctl.attach(task, 0).unwrap().seat;
    let mut zombie = WorkerPort::new(&block, old).unwrap();
    assert!(ctl.reclaim(task, old, false).unwrap().is_empty());
    let id = submit(&mut ctl, task, b"z");
    // The terminated thread runs on (a busy worker outlives terminate() by up to 2 s): its
    // seat has no quota any more, so it claims nothing.
    assert_eq!(zombie.take(), Take::Empty);
    // Unless it read the quota just before the reclaim: it claims the call.
    block.cells[old as usize].quota.store(1, Ordering::Relaxed);
    let Take::Call(_) = zombie.take() else {
        panic!()
    };
    drop(zombie);
    // At the end of the quarantine the call goes back to pending, for the replacement.
    assert!(ctl.release_seat(task, old).unwrap());
    let fresh = ctl.attach(task, 0).unwrap().seat;
    let stop = Arc::new(AtomicBool::new(false));
    let w = spawn_echo(block.clone(), fresh, stop.clone());
    assert_eq!(poll_until_done(&mut ctl, task).call_id, id);
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
}

/// A tiny deterministic generator (xorshift), for seeded tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn workers_killed_at_random_points_never_lose_a_call_or_a_byte() {
    let rounds = if cfg!(miri) { 20 } else { 3000 };
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 2, 2, 6);
    let mut seats: Vec<Option<u32>> = (0..2)
        .map(|i| Some(ctl.attach(task, i).unwrap().seat))
        .collect();
    let baseline = ctl.occupancy();
    let mut outstanding: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut quarantine: Vec<u32> = Vec::new();
    let (mut ok, mut failed) = (0u32, 0u32);
    for round in 0..rounds {
        for _ in 0..rng.below(4) {
            let p = payload(rng.below(400) as u32);
            outstanding.insert(submit(&mut ctl, task, &p), p);
        }
        // One worker, on its own thread, runs a few steps and may stop for ever at any of
        // them, as a terminated worker does.
        let index = rng.below(2) as usize;
        if let Some(seat) = seats[index] {
            let stop_at = rng.below(8);
            let b = block.clone();
            let h = thread::spawn(move || {
                let mut port = WorkerPort::new(&b, seat).unwrap();
                for step in 0..8 {
                    if step == stop_at {
                        return;
                    }
                    if let Take::Call(c) = port.take() {
                        if step + 1 == stop_at {
                            return; // dies holding the call
                        }
                        let out = reversed(args_of(&b, c));
                        let _ = port.complete(c, status::OK, &out);
                    }
                }
            });
            // The page keeps draining meanwhile (a large result waits for a granted buffer).
            while !h.is_finished() {
                if let Poll::Done(c) = ctl.poll(task).unwrap() {
                    let want = outstanding
                        .remove(&c.call_id)
                        .expect("settled twice or unknown");
                    assert_eq!(reversed(result_of(&c)), want);
                    ok += 1;
                }
            }
            h.join().unwrap();
            if stop_at < 8 {
                // Declared dead: its calls fail (or are requeued, every third death).
                let requeue = round % 3 == 0;
                for id in ctl.reclaim(task, seat, requeue).unwrap() {
                    assert!(outstanding.remove(&id).is_some());
                    failed += 1;
                }
                quarantine.push(seat);
                seats[index] = None;
            }
        }
        // The page drains, ends quarantines, and respawns.
        while let Poll::Done(c) = ctl.poll(task).unwrap() {
            let want = outstanding
                .remove(&c.call_id)
                .expect("settled twice or unknown");
            assert_eq!(reversed(result_of(&c)), want);
            ok += 1;
        }
        quarantine.retain(|&s| !ctl.release_seat(task, s).unwrap());
        for (i, s) in seats.iter_mut().enumerate() {
            if s.is_none() {
                *s = ctl.attach(task, i as u32).ok().map(|g| g.seat);
            }
        }
    }
    // Drain with healthy workers.
    let stop = Arc::new(AtomicBool::new(false));
    let live: Vec<_> = seats
        .iter()
        .flatten()
        .map(|&s| spawn_echo(block.clone(), s, stop.clone()))
        .collect();
    while !outstanding.is_empty() {
        if let Poll::Done(c) = ctl.poll(task).unwrap() {
            let want = outstanding
                .remove(&c.call_id)
                .expect("settled twice or unknown");
            assert_eq!(reversed(result_of(&c)), want);
            ok += 1;
        }
        quarantine.retain(|&s| !ctl.release_seat(task, s).unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    live.into_iter().for_each(|w| {
        w.join().unwrap();
    });
    quarantine.retain(|&s| !ctl.release_seat(task, s).unwrap());
    assert!(quarantine.is_empty());
    // Idle, the runtime lets go of the argument buffers it keeps for reuse.
    ctl.release();
    ctl.trim();
    let after = ctl.occupancy();
    eprintln!("random kills: {rounds} rounds, {ok} calls returned, {failed} failed with their worker; {baseline:?} -> {after:?}");
    assert_eq!((after.slots, after.waiting, after.seats), (0, 0, 2));
    assert!(
        after.bytes <= baseline.bytes + (1 << 16),
        "{baseline:?} -> {after:?}"
    );
    assert!(failed > 0 && ok > 0);
}

#[test]
fn remove_and_release_give_every_byte_back() {
    let mut ctl = Controller::new();
    let before = ctl.occupancy();
    for _ in 0..50 {
        let (task, _) = task(&mut ctl, 4, 2, 12);
        ctl.attach(task, 0).unwrap();
        ctl.attach(task, 1).unwrap();
        submit(&mut ctl, task, &[1; 1000]);
        let ids = ctl.remove_task(task).unwrap();
        assert_eq!(ids.len(), 1);
        ctl.release_task(task);
    }
    let after = ctl.occupancy();
    assert_eq!(after.retired, 0);
    assert!(
        after.bytes <= before.bytes + 8192,
        "{before:?} -> {after:?}"
    );
}

#[test]
fn drop_oldest_frees_the_oldest_pending_call_never_a_running_one() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 3);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let mut port = WorkerPort::new(&block, seat).unwrap();
    let a = submit(&mut ctl, task, b"a");
    let b = submit(&mut ctl, task, b"b");
    assert!(ctl.room(task));
    let c = submit(&mut ctl, task, b"c");
    assert!(!ctl.room(task), "every slot holds a call");
    let Take::Call(running) = port.take() else {
        panic!("no call")
    };
    assert_eq!(args_of(&block, running), b"a");
    assert_eq!(
        ctl.drop_oldest(task).unwrap(),
        Some(b),
        "a runs: b is the oldest pending"
    );
    assert!(ctl.room(task));
    let d = submit(&mut ctl, task, b"d");
    assert_eq!(ctl.drop_oldest(task).unwrap(), Some(c));
    assert_eq!(ctl.drop_oldest(task).unwrap(), Some(d));
    assert_eq!(
        ctl.drop_oldest(task).unwrap(),
        None,
        "only a running call is left"
    );
    port.complete(running, status::OK, b"A").unwrap();
    assert_eq!(poll_until_done(&mut ctl, task).call_id, a);
    ctl.release();
    assert_eq!(ctl.depths(task).unwrap(), (0, 0));
    // The dropped calls' queue entries are stale: the worker finds nothing more.
    assert!(matches!(port.take(), Take::Empty));
}

#[test]
fn arguments_just_above_inline_reuse_a_finished_calls_buffer() {
    let mut ctl = Controller::new();
    let (task, block) = task(&mut ctl, 1, 1, 8);
    let seat = ctl.attach(task, 0).unwrap().seat;
    let stop = Arc::new(AtomicBool::new(false));
    let worker = spawn_echo(block.clone(), seat, stop.clone());
    let big = vec![7u8; INLINE_BYTES + 8];
    let mut staging = Vec::new();
    let mut bytes = Vec::new();
    for i in 0..20u8 {
        let mut arg = big.clone();
        arg[0] = i;
        let (ptr, _) = ctl.reserve(arg.len() as u32, 0).unwrap();
        staging.push(ptr as usize);
        submit(&mut ctl, task, &arg);
        let done = poll_until_done(&mut ctl, task);
        assert_eq!(result_of(&done), reversed(arg));
        bytes.push(ctl.occupancy().bytes);
    }
    ctl.release();
    // Two buffers take turns: the one the last call took, and the spare it gave back.
    let distinct: std::collections::HashSet<_> = staging[2..].iter().collect();
    assert!(distinct.len() <= 2, "staging buffers: {staging:?}");
    assert!(
        bytes[2..].windows(2).all(|w| w[0] == w[1]),
        "no allocation per call: {bytes:?}"
    );
    let before = ctl.occupancy().bytes;
    ctl.trim();
    assert!(ctl.occupancy().bytes < before, "trim lets the spare go");
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}
