//! What a task does when one of its workers crashes (API contract C.4, C.17): the crash
//! policy, the retry budget and the restart backoff, as a sans-IO state machine the page
//! asks once per crash.
//!
//! A *crash* is an error event, a failed start (`'load'`), an exit or a hang. A hard cancel
//! (C.7) is not one: it never reaches this module.

/// `crashPolicy`: what becomes of the calls that were running on a crashed worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPolicy {
    /// They reject with `WorkerCrashedError`; the worker restarts; everything else goes on.
    RestartFailInFlight,
    /// They go back to pending (bypassing admission) and run again with the next attempt.
    RestartRequeueInFlight,
    /// The task halts: running calls fail, waiting and pending calls are rejected.
    FailTask,
}

/// The first restart's delay after a crash.
pub const BACKOFF_FIRST_MS: u32 = 100;
/// The longest delay: the backoff doubles up to this.
pub const BACKOFF_MAX_MS: u32 = 2000;
/// `crashMaxRetries`' default.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// What to do about one crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Respawn the worker `after_ms` after the crash; its running calls are requeued
    /// (`requeue`) or fail.
    Restart {
        /// Milliseconds from the crash to the spawn.
        after_ms: u32,
        /// Whether the crashed worker's running calls go back to pending.
        requeue: bool,
    },
    /// Halt the task: the policy is `fail-task`, or the crashes in a row exceeded the retry
    /// budget (`escalated`).
    Halt {
        /// True when the policy itself was a restart policy and the budget ran out.
        escalated: bool,
    },
}

/// The delay before restart number `n` (1-based) of a streak: 100 ms doubling to 2 s.
pub fn backoff_ms(n: u32) -> u32 {
    let shift = n.saturating_sub(1).min(16);
    (BACKOFF_FIRST_MS << shift).min(BACKOFF_MAX_MS)
}

/// A task's crash policy and the state of its retry budget.
#[derive(Debug, Clone)]
pub struct Recovery {
    policy: CrashPolicy,
    max_retries: u32,
    /// Restarts since the last successful call (or since `resume`).
    streak: u32,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery::new(CrashPolicy::RestartFailInFlight, DEFAULT_MAX_RETRIES)
    }
}

impl Recovery {
    /// `max_retries` consecutive restarts are allowed; the next crash halts the task.
    pub fn new(policy: CrashPolicy, max_retries: u32) -> Recovery {
        Recovery {
            policy,
            max_retries,
            streak: 0,
        }
    }

    /// The task's policy.
    pub fn policy(&self) -> CrashPolicy {
        self.policy
    }

    /// Restarts since the last success.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// A worker crashed: restart it (after the backoff) or halt the task.
    pub fn crashed(&mut self) -> Decision {
        match self.policy {
            CrashPolicy::FailTask => Decision::Halt { escalated: false },
            _ if self.streak >= self.max_retries => Decision::Halt { escalated: true },
            policy => {
                self.streak += 1;
                Decision::Restart {
                    after_ms: backoff_ms(self.streak),
                    requeue: policy == CrashPolicy::RestartRequeueInFlight,
                }
            }
        }
    }

    /// A call returned: the streak of crashes is over.
    pub fn succeeded(&mut self) {
        self.streak = 0;
    }

    /// `startWorkers()` lifted a halt: the budget is whole again.
    pub fn resume(&mut self) {
        self.streak = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_to_2_s() {
        let got: Vec<u32> = (1..=8).map(backoff_ms).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(backoff_ms(u32::MAX), 2000);
    }

    #[test]
    fn the_crash_after_the_budget_escalates_and_a_success_resets_it() {
        let mut r = Recovery::default();
        let restart = |after_ms| Decision::Restart {
            after_ms,
            requeue: false,
        };
        assert_eq!(r.crashed(), restart(100));
        assert_eq!(r.crashed(), restart(200));
        r.succeeded();
        assert_eq!(r.crashed(), restart(100));
        assert_eq!(r.crashed(), restart(200));
        assert_eq!(r.crashed(), restart(400));
        assert_eq!(r.crashed(), Decision::Halt { escalated: true });
        assert_eq!(r.crashed(), Decision::Halt { escalated: true });
        r.resume();
        assert_eq!(r.crashed(), restart(100));
    }

    #[test]
    fn policies_decide_requeue_and_halt() {
        let mut r = Recovery::new(CrashPolicy::RestartRequeueInFlight, 1);
        assert_eq!(
            r.crashed(),
            Decision::Restart {
                after_ms: 100,
                requeue: true
            }
        );
        assert_eq!(r.crashed(), Decision::Halt { escalated: true });
        let mut r = Recovery::new(CrashPolicy::FailTask, 3);
        assert_eq!(r.crashed(), Decision::Halt { escalated: false });
        let mut r = Recovery::new(CrashPolicy::RestartFailInFlight, 0);
        assert_eq!(r.crashed(), Decision::Halt { escalated: true });
    }
}
