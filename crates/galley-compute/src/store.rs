//! The port the compute layer persists through; galley-store implements it and its conformance
//! suite holds every backend to the same behaviour.
//!
//! Contract: each method is atomic. A job update is a compare-and-set on the job's state and
//! attempt, so a scheduler decision never overwrites a concurrent cancel, and two replicas
//! cannot both start the same attempt.

use async_trait::async_trait;

use crate::config::ComputeConfig;
use crate::error::Result;
use crate::job::{Job, JobEvent, JobState};

/// A stored configuration and its version; versions count up from 1 with each apply.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredConfig {
    pub config: ComputeConfig,
    pub version: i64,
    pub applied_at: i64,
}

#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub team: Option<String>,
    pub queue: Option<String>,
    /// Any of these states; empty is all.
    pub states: Vec<JobState>,
    pub max_results: u32,
    /// The last id of the previous page (jobs are listed newest first).
    pub page_token: Option<String>,
}

#[async_trait]
pub trait ComputeStore: Send + Sync + 'static {
    /// The last applied configuration; `None` before the first apply.
    async fn config(&self) -> Result<Option<StoredConfig>>;
    /// Stores `config` as version `expected_version + 1`; `ComputeError::Conflict` when another
    /// apply got there first.
    async fn put_config(
        &self,
        config: &ComputeConfig,
        expected_version: i64,
        applied_at: i64,
    ) -> Result<i64>;

    /// Stores a new job with its `submitted` event.
    async fn insert_job(&self, job: &Job, event: &JobEvent) -> Result<()>;
    /// `ComputeError::NotFound` for an unknown id.
    async fn job(&self, id: &str) -> Result<Job>;
    /// Newest first; the token for the next page, if any.
    async fn jobs(&self, filter: &JobFilter) -> Result<(Vec<Job>, Option<String>)>;
    /// Every job not yet finished, oldest first: what the scheduler works from.
    async fn active_jobs(&self) -> Result<Vec<Job>>;
    /// Replaces the job and appends `events` if its stored state and attempt are still
    /// `expected`; `false` (nothing written) when they changed.
    async fn update_job(
        &self,
        job: &Job,
        expected: (JobState, u32),
        events: &[JobEvent],
    ) -> Result<bool>;
    /// The job's events, oldest first.
    async fn job_events(&self, id: &str) -> Result<Vec<JobEvent>>;
}
