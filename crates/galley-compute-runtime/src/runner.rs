//! The scheduling run loop. One replica of the server holds the `compute-scheduler` lease and,
//! each round: stops attempts nobody wants any more (cancelled, or left from before a restart),
//! follows running jobs to their end (success, failure and retry, timeout), runs a scheduling
//! pass, and carries out its decisions: preemptions first, then starts. Every change is a
//! compare-and-set on the job's state, so a concurrent cancel always wins.

use std::time::Duration;

use galley_artifacts::ArtifactPath;
use galley_compute::job::{Job, JobEvent, JobState};
use galley_compute::scheduler::{schedule, Workload};
use galley_compute::{ComputeError, Result};
use galley_core::duration::format_duration_ms;
use galley_core::time::now_millis;
use galley_tracking::model::KeyValue;
use galley_tracking::service::CreateRun;
use tokio::sync::watch;

use crate::executor::{AttemptStatus, Executor};
use crate::service::ComputeService;

const LEASE: &str = "compute-scheduler";

/// Where a finished attempt's replica log is archived.
pub(crate) fn log_path(job: &Job, replica: u32) -> ArtifactPath {
    galley_artifacts::validate(&format!(
        "jobs/{}/attempt-{}/replica-{replica}.log",
        job.id, job.attempt
    ))
    .expect("job ids and numbers make valid artifact paths")
}

/// Sends the job back to pending as its next attempt (a retry or a preemption).
fn requeue(job: &mut Job, message: String) {
    job.state = JobState::Pending;
    job.attempt += 1;
    job.admission = None;
    job.started_at = None;
    job.message = Some(message);
}

fn event(job: &Job, at: i64, kind: &str, message: impl Into<String>) -> JobEvent {
    JobEvent {
        job_id: job.id.clone(),
        at,
        kind: kind.into(),
        message: message.into(),
    }
}

impl ComputeService {
    /// Runs rounds every `interval`, or sooner when a job is submitted or cancelled, until
    /// `shutdown` turns true. Replicas that do not hold the lease only keep trying to take it.
    pub fn spawn_scheduler(
        &self,
        interval: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                let now = now_millis();
                let lease_for = (interval * 5).max(Duration::from_secs(10)).as_millis() as i64;
                let holder = &service.inner.holder;
                match service
                    .inner
                    .leases
                    .try_lease(LEASE, holder, now, now + lease_for)
                    .await
                {
                    Ok(true) => {
                        if let Err(e) = service.round().await {
                            tracing::warn!(error = %e, "scheduling round failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "could not take the scheduler lease"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = service.wake.notified() => {}
                    _ = shutdown.changed() => return,
                }
            }
        })
    }

    /// One round; public so tests can drive the loop step by step.
    pub async fn round(&self) -> Result<()> {
        let started = std::time::Instant::now();
        // Reaping changes no job, so it and supervision work from one read; the pass and the
        // starts each read again what the step before them changed.
        let active = self.inner.store.active_jobs().await?;
        self.reap(&active).await?;
        self.supervise(active).await?;
        self.schedule_pass().await?;
        self.start_admitted().await?;
        metrics::histogram!("galley_scheduling_round_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(())
    }

    fn executor(&self, job: &Job) -> Result<&dyn Executor> {
        self.inner
            .executors
            .get(&job.executor)
            .map(|e| e.as_ref())
            .ok_or_else(|| {
                ComputeError::Unavailable(format!(
                    "executor '{}' is not configured on this server",
                    job.executor
                ))
            })
    }

    /// Stops attempts executors still run that no active job claims.
    async fn reap(&self, active: &[Job]) -> Result<()> {
        for executor in self.inner.executors.values() {
            for live in executor.live_attempts().await? {
                let wanted = active.iter().any(|j| {
                    j.id == live.job_id && j.attempt == live.attempt && j.state.holds_resources()
                });
                if wanted {
                    continue;
                }
                let Ok(mut job) = self.inner.store.job(&live.job_id).await else {
                    continue;
                };
                job.attempt = live.attempt;
                tracing::info!(job = %job.id, attempt = live.attempt, "stopping an attempt no job wants");
                executor.stop(&job).await?;
                self.archive_logs(executor.as_ref(), &job).await;
            }
        }
        Ok(())
    }

    /// Follows running jobs: finished, failed (retried while retries remain), timed out.
    async fn supervise(&self, active: Vec<Job>) -> Result<()> {
        let now = now_millis();
        for job in active {
            if job.state != JobState::Running {
                continue;
            }
            let executor = self.executor(&job)?;
            let deadline = job
                .max_runtime_ms
                .zip(job.started_at)
                .map(|(max, at)| at + max);
            let status = if deadline.is_some_and(|d| d <= now) {
                executor.stop(&job).await?;
                AttemptStatus::Failed {
                    exit_code: None,
                    message: format!(
                        "timed out: ran longer than its max runtime of {}",
                        format_duration_ms(job.max_runtime_ms.unwrap_or(0))
                    ),
                }
            } else {
                executor.status(&job).await?
            };
            match status {
                AttemptStatus::Running => {}
                AttemptStatus::Succeeded => {
                    self.archive_logs(executor, &job).await;
                    let ended = (JobState::Succeeded, "succeeded");
                    self.finish(job, ended, Some(0), "succeeded".into(), now)
                        .await?;
                }
                AttemptStatus::Failed { exit_code, message } => {
                    // A gang fails as a whole: stop the replicas still running.
                    executor.stop(&job).await?;
                    self.archive_logs(executor, &job).await;
                    let timed_out = deadline.is_some_and(|d| d <= now);
                    self.fail_or_retry(job, exit_code, message, timed_out, now)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Ends the job in `state`, recording an event of `kind`.
    async fn finish(
        &self,
        mut job: Job,
        (state, kind): (JobState, &str),
        exit_code: Option<i32>,
        message: String,
        now: i64,
    ) -> Result<()> {
        let expected = (job.state, job.attempt);
        job.state = state;
        job.exit_code = exit_code;
        job.finished_at = Some(now);
        job.message = Some(message.clone());
        let recorded = event(&job, now, kind, message);
        if self
            .inner
            .store
            .update_job(&job, expected, &[recorded])
            .await?
        {
            metrics::counter!("galley_jobs_finished_total", "state" => state.as_str()).increment(1);
            tracing::info!(job = %job.id, state = %state, "job finished");
        }
        Ok(())
    }

    async fn fail_or_retry(
        &self,
        mut job: Job,
        exit_code: Option<i32>,
        message: String,
        timed_out: bool,
        now: i64,
    ) -> Result<()> {
        if timed_out || job.attempt > job.retries {
            let kind = if timed_out { "timed_out" } else { "failed" };
            return self
                .finish(job, (JobState::Failed, kind), exit_code, message, now)
                .await;
        }
        let expected = (job.state, job.attempt);
        let backoff = job
            .retry_backoff_ms
            .saturating_mul(1 << (job.attempt - 1).min(20));
        let failed = event(
            &job,
            now,
            "failed",
            format!("attempt {}: {message}", job.attempt),
        );
        requeue(&mut job, format!("retrying after: {message}"));
        job.exit_code = exit_code;
        job.not_before = Some(now + backoff);
        let retrying = event(
            &job,
            now,
            "retrying",
            format!(
                "attempt {} of {} in {}",
                job.attempt,
                job.retries + 1,
                format_duration_ms(backoff)
            ),
        );
        self.inner
            .store
            .update_job(&job, expected, &[failed, retrying])
            .await?;
        Ok(())
    }

    /// Copies an ended attempt's logs to the artifact store; a failure is logged, not fatal.
    async fn archive_logs(&self, executor: &dyn Executor, job: &Job) {
        let logs = match executor.collect_logs(job).await {
            Ok(logs) => logs,
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "could not collect job logs");
                return;
            }
        };
        for (replica, bytes) in logs {
            if let Err(e) = self
                .inner
                .artifacts
                .put_bytes(&log_path(job, replica), bytes)
                .await
            {
                tracing::warn!(job = %job.id, replica, error = %e, "could not archive a job log");
            }
        }
    }

    async fn schedule_pass(&self) -> Result<()> {
        let (config, _) = self.config().await?;
        let nodes = self.nodes(&config);
        let jobs = self.inner.store.active_jobs().await?;
        let workloads: Vec<Workload> = jobs.iter().filter_map(Workload::of).collect();
        let now = now_millis();
        let started = std::time::Instant::now();
        let decisions = schedule(&config, Some(&nodes), &workloads, now);
        metrics::histogram!("galley_scheduling_pass_seconds")
            .record(started.elapsed().as_secs_f64());
        let find = |id: &str| jobs.iter().find(|j| j.id == id).cloned();

        for preempted in &decisions.preempted {
            let Some(mut job) = find(&preempted.job) else {
                continue;
            };
            let executor = self.executor(&job)?;
            let expected = (job.state, job.attempt);
            executor.stop(&job).await?;
            self.archive_logs(executor, &job).await;
            let recorded = event(&job, now, "preempted", preempted.reason.clone());
            requeue(&mut job, format!("preempted: {}", preempted.reason));
            self.inner
                .store
                .update_job(&job, expected, &[recorded])
                .await?;
            metrics::counter!("galley_jobs_preempted_total", "queue" => job.queue.clone())
                .increment(1);
        }
        for admitted in decisions.admitted {
            let Some(mut job) = find(&admitted.job) else {
                continue;
            };
            let expected = (job.state, job.attempt);
            let nodes: Vec<&str> = admitted
                .admission
                .placements
                .iter()
                .map(|p| p.node.as_str())
                .collect();
            let recorded = event(
                &job,
                now,
                "admitted",
                format!(
                    "{} on {}",
                    admitted.admission.usage.describe(),
                    if nodes.is_empty() {
                        "the executor's nodes".into()
                    } else {
                        nodes.join(", ")
                    }
                ),
            );
            job.state = JobState::Admitted;
            job.admission = Some(admitted.admission);
            job.message = None;
            self.inner
                .store
                .update_job(&job, expected, &[recorded])
                .await?;
        }
        for waiting in decisions.waiting {
            let Some(mut job) = find(&waiting.job) else {
                continue;
            };
            let message = match waiting.position {
                Some(position) => format!(
                    "{} (position {position} of {} in queue {})",
                    waiting.message, waiting.queue_length, job.queue
                ),
                None => waiting.message,
            };
            if job.message.as_deref() != Some(message.as_str()) {
                let expected = (job.state, job.attempt);
                job.message = Some(message);
                self.inner.store.update_job(&job, expected, &[]).await?;
            }
        }
        Ok(())
    }

    async fn start_admitted(&self) -> Result<()> {
        for mut job in self.inner.store.active_jobs().await? {
            if job.state != JobState::Admitted {
                continue;
            }
            let expected = (job.state, job.attempt);
            let now = now_millis();
            if job.run_id.is_none() {
                job.run_id = Some(self.create_run(&job).await?);
            }
            let env = self.job_env(&job);
            let executor = self.executor(&job)?;
            match executor.start(&job, &env).await {
                Ok(external_id) => {
                    let recorded = event(
                        &job,
                        now,
                        "started",
                        format!("attempt {} ({} replica(s))", job.attempt, job.replicas),
                    );
                    job.state = JobState::Running;
                    job.started_at = Some(now);
                    job.external_id = Some(external_id);
                    if !self
                        .inner
                        .store
                        .update_job(&job, expected, &[recorded])
                        .await?
                    {
                        // Cancelled while starting: the next round's reap stops it.
                        self.wake.notify_one();
                    }
                }
                Err(ComputeError::InvalidInput(message)) => {
                    self.fail_or_retry(job, None, message, false, now).await?;
                }
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "job start failed; retrying next round")
                }
            }
        }
        Ok(())
    }

    /// The tracking run a job logs to, tagged with the job, as MLflow Projects do for theirs.
    async fn create_run(&self, job: &Job) -> Result<String> {
        let tag = |key: &str, value: &str| KeyValue {
            key: key.into(),
            value: value.into(),
        };
        let run = self
            .inner
            .tracking
            .create_run(CreateRun {
                experiment_id: job.env.get("MLFLOW_EXPERIMENT_ID").cloned(),
                user_id: None,
                run_name: Some(job.name.clone()),
                start_time: Some(now_millis()),
                tags: vec![
                    tag("galley.job_id", &job.id),
                    tag("galley.team", &job.team),
                    tag("galley.queue", &job.queue),
                ],
            })
            .await
            .map_err(|e| {
                ComputeError::Unavailable(format!("could not create the job's run: {e}"))
            })?;
        Ok(run.info.run_id)
    }

    fn job_env(&self, job: &Job) -> Vec<(String, String)> {
        let mut env = vec![
            ("GALLEY_JOB_ID".into(), job.id.clone()),
            ("GALLEY_JOB_ATTEMPT".into(), job.attempt.to_string()),
            ("GALLEY_REPLICAS".into(), job.replicas.to_string()),
            ("GALLEY_URL".into(), self.inner.tracking_uri.clone()),
            (
                "MLFLOW_TRACKING_URI".into(),
                self.inner.tracking_uri.clone(),
            ),
        ];
        if let Some(run_id) = &job.run_id {
            env.push(("MLFLOW_RUN_ID".into(), run_id.clone()));
        }
        env
    }
}
