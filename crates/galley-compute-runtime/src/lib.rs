//! The compute runtime: what acts on jobs. Submission, cancellation, logs and queue status
//! ([`service`]); the scheduling run loop ([`runner`]); the executor port ([`executor`]) and the
//! executors behind it, local processes ([`local`]) and Ray jobs ([`ray`]); this machine's
//! cores, memory and GPUs ([`machine`]).

pub mod executor;
pub mod kubernetes;
pub mod local;
pub mod machine;
pub mod ray;
mod rest;
mod runner;
pub mod service;

pub use executor::{AttemptStatus, Executor};
pub use kubernetes::{KubernetesExecutor, KubernetesSettings};
pub use local::LocalExecutor;
pub use ray::RayExecutor;
pub use service::{ComputeService, ComputeSettings};
