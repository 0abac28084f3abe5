//! The controller against fake workers: threads that run the real worker side
//! (`atelier_workers::WorkerPort`) and echo each call's argument bytes back.

use atelier::core::{Controller, Outcome, Poll, TaskShape};
use atelier_ring::layout::{status, INLINE_BYTES, INLINE_PTR};
use atelier_ring::{addr, TaskBlock};
use atelier_workers::{Take, WorkerPort};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// A worker that echoes arguments (reversed, so a result is not the argument by accident)
/// until `stop` is set.
fn spawn_echo(block: Arc<TaskBlock>, index: u32, stop: Arc<AtomicBool>) -> thread::JoinHandle<u32> {
    thread::spawn(move || {
        let mut port = WorkerPort::new(&block, index).unwrap();
        let mut ran = 0;
        while !stop.load(Ordering::Relaxed) {
            let slot_index = match port.take() {
                Take::Call(s) => s,
                Take::Empty => {
                    thread::yield_now();
                    continue;
                }
                Take::Corrupt => panic!("work ring corrupt"),
            };
            let slot = &block.slots[slot_index as usize];
            let len = slot.arg_len.load(Ordering::Relaxed);
            let ptr = slot.arg_ptr.load(Ordering::Relaxed);
            let src = if ptr == INLINE_PTR {
                slot.inline_ptr()
            } else {
                addr::from_word(ptr)
            };
            // SAFETY: the controller wrote `len` bytes there before publishing the slot.
            let mut bytes = unsafe { std::slice::from_raw_parts(src, len as usize) }.to_vec();
            bytes.reverse();
            let (dst, _) = port.reserve(len.max(1), 0).unwrap();
            // SAFETY: the staging buffer holds at least `len` bytes.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
            port.complete(slot_index, status::OK, len).unwrap();
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
    // Mostly small payloads, every 7th larger than a slot's inline bytes.
    let len = if i.is_multiple_of(7) {
        INLINE_BYTES + 1 + (i as usize % 3000)
    } else {
        i as usize % INLINE_BYTES
    };
    (0..len)
        .map(|k| (k as u32).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

#[test]
fn every_call_completes_once_with_its_own_result() {
    let calls: u32 = if cfg!(miri) { 50 } else { 20_000 };
    let mut ctl = Controller::new();
    let task = ctl
        .define_task(TaskShape {
            max_in_flight: 8,
            workers: 2,
        })
        .unwrap();
    let block = ctl.block(task).unwrap().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|i| spawn_echo(block.clone(), i, stop.clone()))
        .collect();

    let mut expected: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut done = 0;
    let mut next = 0;
    while done < calls {
        // Keep up to 64 calls outstanding: 8 on workers, the rest pending.
        while next < calls && expected.len() < 64 {
            let p = payload(next);
            let id = submit(&mut ctl, task, &p);
            assert!(expected.insert(id, p).is_none(), "call id {id} reused");
            next += 1;
        }
        let (in_flight, _) = ctl.depths(task).unwrap();
        assert!(in_flight <= 8);
        match ctl.poll(task).unwrap() {
            Poll::Done(c) => {
                assert_eq!(c.outcome, Outcome::Returned);
                let want = expected
                    .remove(&c.call_id)
                    .expect("completion for an unknown call");
                // SAFETY: the result bytes stay valid until the next poll.
                let mut got =
                    unsafe { std::slice::from_raw_parts(c.ptr as *const u8, c.len as usize) }
                        .to_vec();
                got.reverse();
                assert_eq!(got, want, "call {} got another call's result", c.call_id);
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
    assert_eq!(ctl.ignored(task).unwrap(), 0);
    stop.store(true, Ordering::Relaxed);
    let ran: Vec<u32> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(ran.iter().sum::<u32>(), calls);
}

#[test]
fn forged_and_stale_completion_entries_are_ignored() {
    let mut ctl = Controller::new();
    let task = ctl
        .define_task(TaskShape {
            max_in_flight: 2,
            workers: 1,
        })
        .unwrap();
    let block = ctl.block(task).unwrap().clone();
    // Entries naming no running call: an index out of range and a free slot.
    block.done.push(1000).unwrap();
    block.done.push(1).unwrap();
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(ctl.ignored(task).unwrap(), 2);

    // A running call whose slot is pushed before the worker finished it.
    let id = submit(&mut ctl, task, b"abc");
    let mut port = WorkerPort::new(&block, 0).unwrap();
    let Take::Call(s) = port.take() else {
        panic!("no call")
    };
    block.done.push(s).unwrap();
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(ctl.ignored(task).unwrap(), 3);
    port.reserve(1, 0).unwrap();
    port.complete(s, status::OK, 0).unwrap();
    match ctl.poll(task).unwrap() {
        Poll::Done(c) => assert_eq!(c.call_id, id),
        Poll::Empty => panic!("the real completion was lost"),
    }
}

#[test]
fn invalid_result_words_fail_the_call_with_a_reason() {
    let mut ctl = Controller::new();
    let task = ctl
        .define_task(TaskShape {
            max_in_flight: 1,
            workers: 1,
        })
        .unwrap();
    let block = ctl.block(task).unwrap().clone();
    let id = submit(&mut ctl, task, b"x");
    let mut port = WorkerPort::new(&block, 0).unwrap();
    let Take::Call(s) = port.take() else {
        panic!("no call")
    };
    port.reserve(1, 0).unwrap();
    port.complete(s, status::OK, 1).unwrap();
    // A worker scribbles over its result words after publishing.
    block.slots[s as usize]
        .res_len
        .store(100_000, Ordering::Relaxed);
    match ctl.poll(task).unwrap() {
        Poll::Done(c) => {
            assert_eq!(c.call_id, id);
            assert!(matches!(c.outcome, Outcome::Invalid(_)), "{:?}", c.outcome);
        }
        Poll::Empty => panic!("the call must settle"),
    }
    assert_eq!(ctl.poll(task).unwrap(), Poll::Empty);
    assert_eq!(ctl.depths(task).unwrap(), (0, 0));
}

#[test]
fn a_worker_refuses_to_complete_a_call_it_does_not_run() {
    let mut ctl = Controller::new();
    let task = ctl
        .define_task(TaskShape {
            max_in_flight: 2,
            workers: 1,
        })
        .unwrap();
    let block = ctl.block(task).unwrap().clone();
    let mut port = WorkerPort::new(&block, 0).unwrap();
    port.reserve(8, 0).unwrap();
    assert!(port.complete(0, status::OK, 0).is_err());
    submit(&mut ctl, task, b"a");
    let Take::Call(s) = port.take() else {
        panic!("no call")
    };
    assert!(port.complete(s, 7, 0).is_err(), "unknown status");
    assert!(
        port.complete(s, status::OK, 1 << 20).is_err(),
        "longer than staging"
    );
    assert!(WorkerPort::new(&block, 5).is_err(), "no such worker");
}

#[test]
fn a_call_the_work_ring_refuses_for_now_is_published_later_not_lost() {
    let mut ctl = Controller::new();
    let task = ctl
        .define_task(TaskShape {
            max_in_flight: 2,
            workers: 1,
        })
        .unwrap();
    let block = ctl.block(task).unwrap().clone();
    // Cells held as by consumers that claimed them and were descheduled: the ring is full.
    let cap = block.work.capacity();
    for _ in 0..cap {
        block.work.push(u32::MAX).unwrap();
    }
    let id = submit(&mut ctl, task, b"held back");
    assert_eq!(ctl.flush(task).unwrap(), 1, "the call waits for room");
    let mut port = WorkerPort::new(&block, 0).unwrap();
    // The stalled cells are let go of (a worker skips entries that name no slot) ...
    assert_eq!(port.take(), Take::Empty);
    // ... and the call goes out on the next flush.
    assert_eq!(ctl.flush(task).unwrap(), 0);
    let Take::Call(s) = port.take() else {
        panic!("the held-back call was lost")
    };
    port.reserve(1, 0).unwrap();
    port.complete(s, status::OK, 0).unwrap();
    match ctl.poll(task).unwrap() {
        Poll::Done(c) => assert_eq!(c.call_id, id),
        Poll::Empty => panic!("no completion"),
    }
}
