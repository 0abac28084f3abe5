//! The heartbeat watchdog, sans IO (API contract B.3, C.5, C.6).
//!
//! Every worker beats a counter in its cell: on every call it takes or completes, while a
//! handler calls `ctx.throwIfAborted()`, at least every
//! [`BEAT_MS`](atelier_ring::layout::BEAT_MS) while a handler awaits (its event loop is free),
//! and every [`IDLE_BEAT_MS`](atelier_ring::layout::IDLE_BEAT_MS) while it has nothing to run.
//! Only a worker whose thread is stuck, or gone, stops beating.
//!
//! The page calls [`Watchdog::observe`] for each watched seat on each of its ticks. Silence is
//! measured against the watchdog's own progress, not the wall clock: a tick credits at most
//! `max_credit_ms` of silence however long it came after the previous one, so a page that was
//! frozen or throttled (a background tab, a laptop asleep, a long task on the page's thread)
//! does not turn stale heartbeats into crashes when it resumes.
//!
//! Verdicts:
//! - **hang**: the worker has calls running and its beat has not moved for `hangTimeoutMs`
//!   (only when the task sets it);
//! - **exit**: the worker has nothing running and its beat has not moved for
//!   [`EXIT_SILENCE_MS`] (it called `close()`, or its thread is otherwise gone).
//!
//! Silence restarts when the beat moves and when the seat goes from idle to busy or back: a
//! long synchronous call that ends is not an exit, and an exit is not a hang.

/// Silence of an idle worker that means it is gone: four missed idle beats.
pub const EXIT_SILENCE_MS: f64 = 1000.0;

/// What the watchdog concluded about a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Calls running, no beat for the task's `hangTimeoutMs`.
    Hang,
    /// Nothing running, no beat for [`EXIT_SILENCE_MS`].
    Exit,
    /// The worker wrote over its completion ring (values no well-formed ring holds), or
    /// holds calls it can never finish (API contract B.8). It is replaced, and the calls it
    /// held are taken back by the sweep of its slots.
    Corrupt,
}

/// The watchdog's record of one seat.
#[derive(Debug, Clone, Copy, Default)]
struct Watch {
    armed: bool,
    beat: u32,
    busy: bool,
    silent_ms: f64,
}

/// One task's watchdog.
#[derive(Debug, Clone, Default)]
pub struct Watchdog {
    hang_ms: Option<f64>,
    last_tick: Option<f64>,
    /// The credit of the current tick.
    credit: f64,
    seats: Vec<Watch>,
}

impl Watchdog {
    /// A watchdog for `seats` seats; hangs are detected only with `hang_ms`.
    pub fn new(seats: usize, hang_ms: Option<f64>) -> Watchdog {
        Watchdog {
            hang_ms,
            last_tick: None,
            credit: 0.0,
            seats: vec![Watch::default(); seats],
        }
    }

    /// Sets `hangTimeoutMs` (None: off).
    pub fn set_hang_ms(&mut self, hang_ms: Option<f64>) {
        self.hang_ms = hang_ms;
    }

    /// Starts watching `seat`, whose worker has just finished its start-up, from its beat now.
    pub fn arm(&mut self, seat: usize, beat: u32) {
        if let Some(w) = self.seats.get_mut(seat) {
            *w = Watch {
                armed: true,
                beat,
                busy: false,
                silent_ms: 0.0,
            };
        }
    }

    /// Stops watching `seat` (its worker is gone or being replaced).
    pub fn disarm(&mut self, seat: usize) {
        if let Some(w) = self.seats.get_mut(seat) {
            *w = Watch::default();
        }
    }

    /// Whether `seat` is watched.
    pub fn armed(&self, seat: usize) -> bool {
        self.seats.get(seat).is_some_and(|w| w.armed)
    }

    /// Starts a tick at `now_ms` (a monotonic clock): the silence this tick may add is the
    /// time since the last tick, at most `max_credit_ms`.
    pub fn tick(&mut self, now_ms: f64, max_credit_ms: f64) {
        self.credit = match self.last_tick {
            Some(t) if now_ms > t => (now_ms - t).min(max_credit_ms),
            _ => 0.0,
        };
        self.last_tick = Some(now_ms);
    }

    /// Looks at `seat` in this tick: its beat word now and whether it has calls running.
    /// Returns a verdict once; the seat is disarmed with it.
    pub fn observe(&mut self, seat: usize, beat: u32, busy: bool) -> Option<Verdict> {
        let hang_ms = self.hang_ms;
        let credit = self.credit;
        let w = self.seats.get_mut(seat).filter(|w| w.armed)?;
        if beat != w.beat || busy != w.busy {
            w.beat = beat;
            w.busy = busy;
            w.silent_ms = 0.0;
            return None;
        }
        w.silent_ms += credit;
        let verdict = match (busy, hang_ms) {
            (true, Some(h)) if w.silent_ms >= h => Some(Verdict::Hang),
            (false, _) if w.silent_ms >= EXIT_SILENCE_MS => Some(Verdict::Exit),
            _ => None,
        };
        if verdict.is_some() {
            *w = Watch::default();
        }
        verdict
    }

    /// How long `seat`'s beat has not moved, as the watchdog counts it; None when unwatched.
    pub fn silence_ms(&self, seat: usize) -> Option<f64> {
        self.seats
            .get(seat)
            .filter(|w| w.armed)
            .map(|w| w.silent_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks every `step` ms from `from` to `to`, observing seat 0 with `beat(now)`.
    fn run(
        w: &mut Watchdog,
        from: f64,
        to: f64,
        step: f64,
        busy: bool,
        beat: impl Fn(f64) -> u32,
    ) -> Option<(f64, Verdict)> {
        let mut now = from;
        while now <= to {
            w.tick(now, 2.0 * step);
            if let Some(v) = w.observe(0, beat(now), busy) {
                return Some((now, v));
            }
            now += step;
        }
        None
    }

    #[test]
    fn a_busy_seat_that_stops_beating_hangs_after_hang_timeout() {
        let mut w = Watchdog::new(1, Some(500.0));
        w.arm(0, 7);
        // Beats every 100 ms for 3 s (an awaiting handler): no verdict.
        assert_eq!(
            run(&mut w, 0.0, 3000.0, 100.0, true, |t| (t / 100.0) as u32),
            None
        );
        // Then it stops at 3000: the verdict comes 500 ms later.
        let got = run(&mut w, 3100.0, 10_000.0, 100.0, true, |_| 30);
        assert_eq!(got, Some((3500.0, Verdict::Hang)));
        assert!(!w.armed(0));
    }

    #[test]
    fn without_hang_timeout_a_silent_busy_seat_is_never_a_verdict() {
        let mut w = Watchdog::new(1, None);
        w.arm(0, 0);
        assert_eq!(run(&mut w, 0.0, 60_000.0, 100.0, true, |_| 0), None);
        assert_eq!(w.silence_ms(0), Some(60_000.0));
    }

    #[test]
    fn an_idle_seat_that_stops_beating_exits_after_a_second() {
        let mut w = Watchdog::new(1, Some(500.0));
        w.arm(0, 0);
        let got = run(&mut w, 0.0, 5000.0, 250.0, false, |_| 0);
        assert_eq!(got, Some((1000.0, Verdict::Exit)));
    }

    #[test]
    fn a_starved_watchdog_credits_only_its_own_progress() {
        let mut w = Watchdog::new(1, Some(500.0));
        w.arm(0, 1);
        w.tick(0.0, 200.0);
        assert_eq!(w.observe(0, 1, true), None);
        // The page's thread was blocked for 5 s; the worker was frozen with it and has not
        // beaten yet when the page resumes.
        w.tick(5000.0, 200.0);
        assert_eq!(w.observe(0, 1, true), None);
        assert_eq!(w.silence_ms(0), Some(200.0));
        // It beats before the next tick.
        w.tick(5100.0, 200.0);
        assert_eq!(w.observe(0, 2, true), None);
        assert_eq!(w.silence_ms(0), Some(0.0));
    }

    #[test]
    fn a_long_call_that_ends_is_not_an_exit() {
        let mut w = Watchdog::new(1, None);
        w.arm(0, 0);
        // A synchronous call runs 10 s without beating.
        assert_eq!(run(&mut w, 0.0, 10_000.0, 100.0, true, |_| 0), None);
        // It ends (the worker beats on completing, but even a missed beat is covered: going
        // idle restarts the silence).
        assert_eq!(run(&mut w, 10_100.0, 10_900.0, 100.0, false, |_| 0), None);
        assert_eq!(
            run(&mut w, 11_000.0, 20_000.0, 100.0, false, |_| 0),
            Some((11_100.0, Verdict::Exit))
        );
    }

    #[test]
    fn clocks_that_go_backwards_credit_nothing_and_unarmed_seats_are_ignored() {
        let mut w = Watchdog::new(2, Some(100.0));
        w.arm(0, 0);
        w.tick(1000.0, 200.0);
        w.tick(500.0, 200.0);
        assert_eq!(w.observe(0, 0, true), None);
        assert_eq!(w.silence_ms(0), Some(0.0));
        assert_eq!(w.observe(1, 0, true), None);
        assert_eq!(w.observe(9, 0, true), None);
        assert_eq!(w.silence_ms(1), None);
    }
}
