//! The sans-IO core: everything the runtime decides, with no browser in sight, so that it
//! is tested natively with fake workers (threads running [`atelier_workers::WorkerPort`]).

pub mod controller;

pub use controller::{Completion, Controller, Invalid, Outcome, Poll, SubmitError, TaskShape};
