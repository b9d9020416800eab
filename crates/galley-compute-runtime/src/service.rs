//! The compute service: submission, listing, cancellation, logs, queue status and applying
//! queue configuration. The scheduling run loop that acts on jobs is in [`crate::runner`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use galley_artifacts::ArtifactStore;
use galley_compute::config::ComputeConfig;
use galley_compute::inventory::Node;
use galley_compute::job::{Job, JobEvent, JobSpec, JobState};
use galley_compute::resources::Resources;
use galley_compute::store::JobFilter;
use galley_compute::{submit, ComputeError, ComputeStore, Result};
use galley_core::time::now_millis;
use galley_core::LeaseStore;
use galley_tracking::TrackingService;
use serde::Serialize;
use tokio::sync::Notify;

use crate::executor::Executor;

/// Everything the compute layer needs from the server that hosts it.
pub struct ComputeSettings {
    pub store: Arc<dyn ComputeStore>,
    pub leases: Arc<dyn LeaseStore>,
    /// By name: `local`, and any others the server was configured with.
    pub executors: BTreeMap<String, Arc<dyn Executor>>,
    /// This machine, as the local executor sees it.
    pub machine: Node,
    pub artifacts: ArtifactStore,
    pub tracking: TrackingService,
    /// What jobs get as `MLFLOW_TRACKING_URI`: this server's address.
    pub tracking_uri: String,
    /// Names this replica when it takes the scheduler lease.
    pub holder: String,
}

#[derive(Clone)]
pub struct ComputeService {
    pub(crate) inner: Arc<ComputeSettings>,
    pub(crate) wake: Arc<Notify>,
}

/// A queue as `galley queues list|show` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct QueueStatus {
    pub name: String,
    pub team: String,
    pub cohort: Option<String>,
    pub weight: f64,
    /// Resource name → nominal, borrowing and lending limits, as users write amounts.
    pub quota: BTreeMap<String, QuotaStatus>,
    pub usage: BTreeMap<String, String>,
    pub pending: usize,
    pub admitted: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct QuotaStatus {
    pub nominal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub borrowing_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lending_limit: Option<String>,
}

/// What applying a queues file did, or would do with `dry_run`.
#[derive(Clone, Debug, Serialize)]
pub struct ApplyOutcome {
    pub changes: Vec<String>,
    pub version: i64,
    pub applied: bool,
}

/// A slice of a replica's log; `complete` once the job has ended and nothing more will come.
#[derive(Clone, Debug)]
pub struct LogSlice {
    pub bytes: Bytes,
    pub complete: bool,
}

impl ComputeService {
    pub fn new(settings: ComputeSettings) -> Self {
        ComputeService {
            inner: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The applied configuration and its version, or the one-team default (version 0).
    pub async fn config(&self) -> Result<(ComputeConfig, i64)> {
        Ok(match self.inner.store.config().await? {
            Some(stored) => (stored.config, stored.version),
            None => (
                ComputeConfig::for_inventory(std::slice::from_ref(&self.inner.machine)),
                0,
            ),
        })
    }

    /// The inventory admission places on: declared nodes, else this machine.
    pub fn nodes(&self, config: &ComputeConfig) -> Vec<Node> {
        config
            .nodes
            .clone()
            .unwrap_or_else(|| vec![self.inner.machine.clone()])
    }

    /// The job `spec` would make now, or why it would be refused; nothing is stored.
    pub async fn prepare(&self, spec: JobSpec) -> Result<Job> {
        let (config, _) = self.config().await?;
        let executor = spec.executor.as_deref().unwrap_or("local");
        if !self.inner.executors.contains_key(executor) {
            let configured: Vec<_> = self.inner.executors.keys().cloned().collect();
            return Err(ComputeError::InvalidInput(format!(
                "executor '{executor}' is not configured on this server (configured: {})",
                configured.join(", ")
            )));
        }
        let nodes = self.nodes(&config);
        submit::prepare(
            spec,
            &config,
            Some(&nodes),
            submit::new_job_id(),
            now_millis(),
        )
    }

    pub async fn submit(&self, spec: JobSpec) -> Result<Job> {
        let job = self.prepare(spec).await?;
        let now = job.submitted_at;
        let event = JobEvent {
            job_id: job.id.clone(),
            at: now,
            kind: "submitted".into(),
            message: format!(
                "to queue {} (team {}), {} replica(s) of {}",
                job.queue,
                job.team,
                job.replicas,
                job.request
                    .resources(job.request.gpu_flavor.as_deref())
                    .describe()
            ),
        };
        self.inner.store.insert_job(&job, &event).await?;
        metrics::counter!("galley_jobs_submitted_total", "queue" => job.queue.clone()).increment(1);
        tracing::info!(job = %job.id, queue = %job.queue, team = %job.team, "job submitted");
        self.wake.notify_one();
        Ok(job)
    }

    pub async fn job(&self, id: &str) -> Result<Job> {
        self.inner.store.job(id).await
    }

    pub async fn jobs(&self, filter: &JobFilter) -> Result<(Vec<Job>, Option<String>)> {
        self.inner.store.jobs(filter).await
    }

    pub async fn events(&self, id: &str) -> Result<Vec<JobEvent>> {
        self.inner.store.job(id).await?;
        self.inner.store.job_events(id).await
    }

    /// Marks the job cancelled; the run loop stops its replicas on its next round.
    pub async fn cancel(&self, id: &str) -> Result<Job> {
        loop {
            let mut job = self.inner.store.job(id).await?;
            if job.state.is_terminal() {
                return Err(ComputeError::Conflict(format!(
                    "job {id} already ended ({})",
                    job.state
                )));
            }
            let expected = (job.state, job.attempt);
            let now = now_millis();
            job.state = JobState::Cancelled;
            job.finished_at = Some(now);
            job.message = Some("cancelled".into());
            let event = JobEvent {
                job_id: job.id.clone(),
                at: now,
                kind: "cancelled".into(),
                message: format!("cancelled while {}", expected.0),
            };
            if self
                .inner
                .store
                .update_job(&job, expected, &[event])
                .await?
            {
                self.wake.notify_one();
                return Ok(job);
            }
            // The run loop moved the job meanwhile; cancel what it is now.
        }
    }

    /// A replica's log of the job's current attempt from `offset`: live from the executor while
    /// it has it, else from the artifact store where finished attempts are archived.
    pub async fn log(&self, id: &str, replica: u32, offset: u64) -> Result<LogSlice> {
        let job = self.inner.store.job(id).await?;
        if replica >= job.replicas {
            return Err(ComputeError::InvalidInput(format!(
                "job {id} has {} replica(s); replica {replica} does not exist",
                job.replicas
            )));
        }
        let complete = job.state.is_terminal();
        if let Some(executor) = self.inner.executors.get(&job.executor) {
            if let Some(bytes) = executor.read_log(&job, replica, offset).await? {
                return Ok(LogSlice { bytes, complete });
            }
        }
        let path = crate::runner::log_path(&job, replica);
        let bytes = match self.inner.artifacts.get_bytes(&path).await {
            Ok(bytes) => bytes.slice((offset as usize).min(bytes.len())..),
            Err(_) => Bytes::new(),
        };
        Ok(LogSlice { bytes, complete })
    }

    /// Reads a queues file and compares it with what is applied; stores it unless `dry_run`.
    /// Refused whole when it is malformed, or when it drops a queue that still has jobs.
    pub async fn apply(&self, text: &str, dry_run: bool) -> Result<ApplyOutcome> {
        let next = ComputeConfig::parse(text)?;
        let (current, version) = self.config().await?;
        let active = self.inner.store.active_jobs().await?;
        let orphaned: Vec<String> = active
            .iter()
            .filter(|job| next.queue(&job.queue).is_none())
            .map(|job| format!("{} ({})", job.queue, job.id))
            .collect();
        if !orphaned.is_empty() {
            return Err(ComputeError::Conflict(format!(
                "the file drops queues that still have pending or running jobs: {}; cancel or \
                 finish them first",
                orphaned.join(", ")
            )));
        }
        let changes = current.plan(&next);
        if dry_run || (changes.is_empty() && version > 0) {
            return Ok(ApplyOutcome {
                changes,
                version,
                applied: false,
            });
        }
        let version = self
            .inner
            .store
            .put_config(&next, version, now_millis())
            .await?;
        tracing::info!(
            version,
            changes = changes.len(),
            "queues configuration applied"
        );
        self.wake.notify_one();
        Ok(ApplyOutcome {
            changes,
            version,
            applied: true,
        })
    }

    pub async fn queues(&self) -> Result<Vec<QueueStatus>> {
        let (config, _) = self.config().await?;
        let active = self.inner.store.active_jobs().await?;
        Ok(config
            .queues
            .iter()
            .map(|queue| {
                let mut usage = Resources::new();
                let (mut pending, mut admitted) = (0, 0);
                for job in active.iter().filter(|j| j.queue == queue.name) {
                    match &job.admission {
                        Some(admission) if job.state.holds_resources() => {
                            usage.add(&admission.usage);
                            admitted += 1;
                        }
                        _ => pending += 1,
                    }
                }
                QueueStatus {
                    name: queue.name.clone(),
                    team: queue.team.clone(),
                    cohort: queue.cohort.clone(),
                    weight: queue.weight,
                    quota: queue
                        .quotas
                        .iter()
                        .map(|(r, q)| {
                            let status = QuotaStatus {
                                nominal: r.format_amount(q.nominal),
                                borrowing_limit: q.borrowing_limit.map(|l| r.format_amount(l)),
                                lending_limit: q.lending_limit.map(|l| r.format_amount(l)),
                            };
                            (r.to_string(), status)
                        })
                        .collect(),
                    usage: usage
                        .iter()
                        .map(|(r, a)| (r.to_string(), r.format_amount(a)))
                        .collect(),
                    pending,
                    admitted,
                }
            })
            .collect())
    }
}
