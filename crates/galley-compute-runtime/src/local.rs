//! The local executor: each replica is a process on this machine, all replicas of an attempt in
//! one process group, output captured to a file per replica.
//!
//! Everything needed to follow an attempt lives on disk under `<jobs dir>/<job>/attempt-<n>/`:
//! the process group id, each replica's log, and each replica's exit code, written by a small
//! `sh` wrapper when the replica exits. Replicas do not die with the server, so a restarted
//! server picks its running jobs up again from these files.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use galley_compute::job::Job;
use galley_compute::{ComputeError, Result};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::executor::{AttemptStatus, Executor, LiveAttempt};

/// Runs the replica's argv, then records its exit code atomically; a replica killed by a signal
/// leaves no exit file, which is how a kill is told from an exit.
const WRAPPER: &str = r#""$@"; code=$?; echo "$code" > "$GALLEY_EXIT_FILE.tmp" && mv "$GALLEY_EXIT_FILE.tmp" "$GALLEY_EXIT_FILE"; exit "$code""#;

/// Marks an attempt whose processes are gone and whose logs were archived.
const FINISHED_MARKER: &str = "finished";

pub struct LocalExecutor {
    jobs_dir: PathBuf,
    /// How long replicas get between SIGTERM and SIGKILL.
    grace: std::time::Duration,
}

impl LocalExecutor {
    pub fn new(jobs_dir: impl Into<PathBuf>, grace: std::time::Duration) -> Self {
        LocalExecutor {
            jobs_dir: jobs_dir.into(),
            grace,
        }
    }

    fn attempt_dir(&self, job_id: &str, attempt: u32) -> PathBuf {
        self.jobs_dir
            .join(job_id)
            .join(format!("attempt-{attempt}"))
    }

    async fn process_group(&self, dir: &Path) -> Option<i32> {
        tokio::fs::read_to_string(dir.join("pgid"))
            .await
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    async fn exit_code(dir: &Path, replica: u32) -> Option<i32> {
        tokio::fs::read_to_string(dir.join(format!("replica-{replica}.exit")))
            .await
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The attempt's outcome once every replica exited, or as soon as one failed.
    async fn settled(dir: &Path, replicas: u32) -> Option<AttemptStatus> {
        let mut all_exited = true;
        for replica in 0..replicas {
            match Self::exit_code(dir, replica).await {
                Some(0) => {}
                Some(code) => {
                    return Some(AttemptStatus::Failed {
                        exit_code: Some(code),
                        message: format!("replica {replica} exited with code {code}"),
                    })
                }
                None => all_exited = false,
            }
        }
        all_exited.then_some(AttemptStatus::Succeeded)
    }

    async fn stop_group(&self, pgid: i32) {
        signal_group(pgid, libc::SIGTERM);
        let deadline = tokio::time::Instant::now() + self.grace;
        while group_alive(pgid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if group_alive(pgid) {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> ComputeError {
    ComputeError::Unavailable(format!("local executor: {what}: {e}"))
}

/// Signals every process of the group; a group that is gone is not an error.
fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid only sends a signal; no memory is touched.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    pgid > 1 && unsafe { libc::kill(-pgid, 0) } == 0
}

async fn write_synced(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, contents.as_bytes()).await?;
    file.sync_all().await
}

#[async_trait]
impl Executor for LocalExecutor {
    async fn start(&self, job: &Job, env: &[(String, String)]) -> Result<String> {
        let dir = self.attempt_dir(&job.id, job.attempt);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| unavailable("creating the job directory", e))?;
        let admission = job.admission.as_ref();
        let mut pgid: Option<i32> = None;
        for replica in 0..job.replicas {
            let log_path = dir.join(format!("replica-{replica}.log"));
            let log =
                std::fs::File::create(&log_path).map_err(|e| unavailable("creating a log", e))?;
            let err_log = log
                .try_clone()
                .map_err(|e| unavailable("creating a log", e))?;
            let mut command = tokio::process::Command::new("/bin/sh");
            command
                .arg("-c")
                .arg(WRAPPER)
                .arg("galley-replica")
                .args(&job.command)
                .envs(job.env.iter())
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("GALLEY_REPLICA_INDEX", replica.to_string())
                .env(
                    "GALLEY_EXIT_FILE",
                    dir.join(format!("replica-{replica}.exit")),
                )
                .current_dir(job.working_dir.as_deref().map_or(dir.as_path(), Path::new))
                .stdin(std::process::Stdio::null())
                .stdout(log)
                .stderr(err_log)
                .process_group(pgid.unwrap_or(0));
            let gpus = admission
                .and_then(|a| a.placements.get(replica as usize))
                .map(|p| p.gpus.join(","))
                .unwrap_or_default();
            // Replicas see only the GPUs they were given, by UUID.
            command.env("CUDA_VISIBLE_DEVICES", gpus);
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    if let Some(pgid) = pgid {
                        self.stop_group(pgid).await;
                    }
                    return Err(ComputeError::InvalidInput(format!(
                        "could not start '{}': {e}",
                        job.command[0]
                    )));
                }
            };
            if pgid.is_none() {
                let id = child
                    .id()
                    .and_then(|id| i32::try_from(id).ok())
                    .unwrap_or(0);
                pgid = Some(id);
                write_synced(&dir.join("pgid"), &id.to_string())
                    .await
                    .map_err(|e| unavailable("recording the process group", e))?;
            }
            // Reap the wrapper when it exits; its exit code is in the exit file.
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Ok(pgid.unwrap_or(0).to_string())
    }

    async fn status(&self, job: &Job) -> Result<AttemptStatus> {
        let dir = self.attempt_dir(&job.id, job.attempt);
        if let Some(settled) = Self::settled(&dir, job.replicas).await {
            return Ok(settled);
        }
        if self.process_group(&dir).await.is_some_and(group_alive) {
            return Ok(AttemptStatus::Running);
        }
        // The group may have ended between the two reads: look once more before calling the
        // replicas killed.
        Ok(Self::settled(&dir, job.replicas)
            .await
            .unwrap_or_else(|| AttemptStatus::Failed {
                exit_code: None,
                message: "a replica ended without an exit code (killed by a signal, or the \
                          machine restarted)"
                    .into(),
            }))
    }

    async fn stop(&self, job: &Job) -> Result<()> {
        let dir = self.attempt_dir(&job.id, job.attempt);
        if let Some(pgid) = self.process_group(&dir).await {
            self.stop_group(pgid).await;
        }
        Ok(())
    }

    async fn live_attempts(&self) -> Result<Vec<LiveAttempt>> {
        let mut live = Vec::new();
        let Ok(mut jobs) = tokio::fs::read_dir(&self.jobs_dir).await else {
            return Ok(live);
        };
        while let Ok(Some(job_dir)) = jobs.next_entry().await {
            let Ok(mut attempts) = tokio::fs::read_dir(job_dir.path()).await else {
                continue;
            };
            while let Ok(Some(attempt_dir)) = attempts.next_entry().await {
                let name = attempt_dir.file_name().to_string_lossy().into_owned();
                let Some(attempt) = name.strip_prefix("attempt-").and_then(|n| n.parse().ok())
                else {
                    continue;
                };
                if !attempt_dir.path().join(FINISHED_MARKER).exists() {
                    live.push(LiveAttempt {
                        job_id: job_dir.file_name().to_string_lossy().into_owned(),
                        attempt,
                    });
                }
            }
        }
        Ok(live)
    }

    async fn read_log(&self, job: &Job, replica: u32, offset: u64) -> Result<Option<Bytes>> {
        let path = self
            .attempt_dir(&job.id, job.attempt)
            .join(format!("replica-{replica}.log"));
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return Ok(None);
        };
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|e| unavailable("reading a log", e))?;
        let mut bytes = Vec::new();
        file.take(4 << 20)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| unavailable("reading a log", e))?;
        Ok(Some(Bytes::from(bytes)))
    }

    async fn collect_logs(&self, job: &Job) -> Result<Vec<(u32, Bytes)>> {
        let dir = self.attempt_dir(&job.id, job.attempt);
        let mut logs = Vec::new();
        for replica in 0..job.replicas {
            if let Ok(bytes) = tokio::fs::read(dir.join(format!("replica-{replica}.log"))).await {
                logs.push((replica, Bytes::from(bytes)));
            }
        }
        // From here on the run loop owns the archived copy; the attempt is no longer live.
        write_synced(&dir.join(FINISHED_MARKER), "")
            .await
            .map_err(|e| unavailable("marking an attempt finished", e))?;
        Ok(logs)
    }
}
