//! Compute domain: what users run and where. Pure: no I/O, no clock.
//!
//! - [`resources`]: cpu, memory and GPU flavors, and their quantity spellings.
//! - [`inventory`]: nodes and GPU devices an executor runs on.
//! - [`config`]: teams, queues, cohorts, quotas, priority classes and policy; the queues file.
//! - [`job`]: submissions, the job state machine and events.
//! - [`submit`]: turning a submission into a job, refusing jobs that could never run.
//! - [`scheduler`]: the scheduling core, one pass at a time.
//! - [`sim`]: job traces replayed through the core on a virtual clock.
//! - [`store`]: the store port.

pub mod config;
mod error;
pub mod inventory;
pub mod job;
pub mod resources;
pub mod scheduler;
pub mod sim;
pub mod store;
pub mod submit;

pub use error::{ComputeError, Result};
pub use store::ComputeStore;
