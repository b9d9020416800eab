//! The executor port: what the run loop asks of whatever runs a job's replicas (local processes
//! here; Ray and Kubernetes plug in behind the same trait).

use async_trait::async_trait;
use bytes::Bytes;
use galley_compute::job::Job;
use galley_compute::Result;

/// Where one attempt of a job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptStatus {
    Running,
    Succeeded,
    /// A replica failed, or the attempt vanished (`exit_code` is `None` then).
    Failed {
        exit_code: Option<i32>,
        message: String,
    },
}

/// An attempt an executor still has processes (or remote work) for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveAttempt {
    pub job_id: String,
    pub attempt: u32,
}

#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Starts every replica of the job's current attempt with `env` added to each replica's
    /// environment; returns the executor's id for the attempt.
    async fn start(&self, job: &Job, env: &[(String, String)]) -> Result<String>;
    async fn status(&self, job: &Job) -> Result<AttemptStatus>;
    /// Stops every replica of the job's current attempt; idempotent.
    async fn stop(&self, job: &Job) -> Result<()>;
    /// Attempts this executor still runs, so the run loop can stop those it no longer wants
    /// (cancelled elsewhere, or left over from before a restart).
    async fn live_attempts(&self) -> Result<Vec<LiveAttempt>>;
    /// A replica's output of the job's current attempt from byte `offset`; `None` once the
    /// executor no longer has it (the run loop archived it to the artifact store).
    async fn read_log(&self, job: &Job, replica: u32, offset: u64) -> Result<Option<Bytes>>;
    /// Every replica's complete log of the attempt, for archiving when it ends.
    async fn collect_logs(&self, job: &Job) -> Result<Vec<(u32, Bytes)>>;
}
