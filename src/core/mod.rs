//! The sans-IO core: everything the page decides, with no browser in sight, so that it is
//! tested natively with fake workers (threads running [`atelier_workers::WorkerPort`]).

pub mod controller;
pub mod meter;
pub mod recovery;
pub mod task;
pub mod watchdog;

pub use controller::{Controller, NoSuchTask, Occupancy, Poll, SubmitError, TaskShape};
pub use meter::{Meter, Metered, DEFAULT_CEILING};
pub use recovery::{backoff_ms, CrashPolicy, Decision, Recovery};
pub use task::{
    AttachError, Cancelled, Completion, Invalid, Outcome, SeatGrant, MAX_REPAIRS, NO_WORKER,
    SEATS_PER_WORKER,
};
pub use watchdog::{Verdict, EXIT_SILENCE_MS};
