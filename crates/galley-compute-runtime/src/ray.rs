//! The Ray executor: each replica of an attempt is one Ray job, submitted to a Ray cluster's job
//! server through the Ray Jobs REST API (the dashboard's `/api/jobs/`), then polled, read and
//! stopped there.
//!
//! A Ray job has one entrypoint, so a gang of N replicas is N Ray jobs, each with its
//! `GALLEY_REPLICA_INDEX`; Ray does not start them together, which is acceptable because
//! admission already reserved the gang's resources in Galley's own quota. Submission ids are
//! deterministic, `galley-<job>-<attempt>` for a single replica and `galley-<job>-<attempt>-<r>`
//! for replica `r` of a gang, so a start retried after a crash finds the jobs it already submitted
//! instead of running them twice. Each job's metadata names the Galley job, attempt and replica,
//! which is how [`RayExecutor::live_attempts`] reads them back without parsing ids.
//!
//! The entrypoint is the job's argv, each argument shell-quoted (Ray runs entrypoints through a
//! shell), after a `cd` into the job's working directory when it has one: a directory on the Ray
//! nodes, since the REST API cannot upload a local one. Resources go to Ray as the entrypoint's
//! reservation (CPUs, GPUs, memory); a GPU flavor is not forwarded, as Ray names accelerator types
//! its own way.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use galley_compute::job::Job;
use galley_compute::{ComputeError, Result};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

use crate::executor::{AttemptStatus, Executor, LiveAttempt};
use crate::rest::{truncate, RestClient};

/// What the run loop reads of a log in one call, as the local executor.
const MAX_LOG_READ: usize = 4 << 20;
/// Ray's messages for failed jobs carry the log's tail; the job's message keeps only this much.
const MAX_MESSAGE: usize = 1_000;
/// How long `stop` waits for Ray to report the jobs ended before calling the stop failed.
const STOP_WAIT: Duration = Duration::from_secs(30);

pub struct RayExecutor {
    dashboard: Url,
    rest: RestClient,
}

/// A job as the job server describes it; fields this executor does not read are ignored.
#[derive(Debug, Deserialize)]
struct RayJob {
    #[serde(default)]
    submission_id: Option<String>,
    status: String,
    #[serde(default)]
    message: Option<String>,
    /// The entrypoint's exit code; older Rays do not report it.
    #[serde(default)]
    driver_exit_code: Option<i32>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

impl RayJob {
    fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }

    fn attempt_status(&self) -> AttemptStatus {
        match self.status.as_str() {
            "SUCCEEDED" => AttemptStatus::Succeeded,
            "FAILED" | "STOPPED" => {
                let first_line = self
                    .message
                    .as_deref()
                    .and_then(|m| m.lines().map(str::trim).find(|l| !l.is_empty()));
                AttemptStatus::Failed {
                    exit_code: self.driver_exit_code,
                    message: match first_line {
                        Some(line) => truncate(line, MAX_MESSAGE),
                        None => format!("the Ray job ended as {}", self.status),
                    },
                }
            }
            // PENDING and RUNNING; a status a later Ray adds is taken as not ended yet, so the
            // job is followed until it reports one of the ends above.
            _ => AttemptStatus::Running,
        }
    }

    /// The Galley attempt a job listed by Ray belongs to, when this executor submitted it.
    fn live_attempt(&self) -> Option<LiveAttempt> {
        if self.is_terminal() || !self.submission_id.as_deref()?.starts_with("galley-") {
            return None;
        }
        let metadata = self.metadata.as_ref()?;
        Some(LiveAttempt {
            job_id: metadata.get("galley_job_id")?.clone(),
            attempt: metadata.get("galley_attempt")?.parse().ok()?,
        })
    }
}

impl RayExecutor {
    /// An executor for the Ray cluster whose dashboard (and job server) answers at
    /// `dashboard_url`, e.g. `http://127.0.0.1:8265`.
    pub fn new(dashboard_url: &str) -> Result<Self> {
        let dashboard = Url::parse(dashboard_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .ok_or_else(|| {
                ComputeError::InvalidInput(format!(
                    "the Ray dashboard address '{dashboard_url}' is not an http(s) URL"
                ))
            })?;
        let rest = RestClient::new(format!("Ray at {dashboard}"), None, refused)?;
        Ok(RayExecutor { dashboard, rest })
    }

    /// The job server URL for `segments` under `/api/jobs`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.dashboard.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "jobs"]).extend(segments);
        }
        url
    }

    async fn ray_job(&self, submission_id: &str) -> Result<Option<RayJob>> {
        self.rest.get_json(self.url(&[submission_id])).await
    }

    async fn log(&self, submission_id: &str) -> Result<Option<Bytes>> {
        #[derive(Deserialize)]
        struct Logs {
            logs: String,
        }
        let logs: Option<Logs> = self
            .rest
            .get_json(self.url(&[submission_id, "logs"]))
            .await?;
        Ok(logs.map(|l| Bytes::from(l.logs)))
    }

    async fn submit(&self, job: &Job, env: &[(String, String)], replica: u32) -> Result<()> {
        let mut env_vars: BTreeMap<&str, String> = job
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        env_vars.extend(env.iter().map(|(k, v)| (k.as_str(), v.clone())));
        env_vars.insert("GALLEY_REPLICA_INDEX", replica.to_string());
        let submission_id = submission_id(job, replica);
        let body = json!({
            "entrypoint": entrypoint(job)?,
            "submission_id": submission_id,
            "runtime_env": { "env_vars": env_vars },
            "metadata": {
                "galley_job_id": job.id,
                "galley_attempt": job.attempt.to_string(),
                "galley_replica": replica.to_string(),
                "team": job.team,
                "queue": job.queue,
            },
            "entrypoint_num_cpus": job.request.cpu_millis as f64 / 1000.0,
            "entrypoint_num_gpus": job.request.gpus,
            "entrypoint_memory": job.request.memory_bytes,
        });
        let (status, answer) = self
            .rest
            .call(Method::POST, self.url(&[""]), Some(&body))
            .await?;
        // Ray refuses a taken submission id (with a 500 carrying the job agent's error); ours are
        // deterministic, so it is this very replica, submitted by a start that crashed or timed
        // out before recording it.
        let taken = format!("submission_id {submission_id} already exists");
        if status.is_success() || String::from_utf8_lossy(&answer).contains(&taken) {
            return Ok(());
        }
        Err(refused(status, &answer))
    }

    /// Asks Ray to stop a job; one that is unknown or already ended needs nothing.
    async fn request_stop(&self, submission_id: &str) -> Result<()> {
        let (status, body) = self
            .rest
            .call(Method::POST, self.url(&[submission_id, "stop"]), None)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(refused(status, &body))
    }
}

/// `galley-<job>-<attempt>`, with `-<replica>` for the replicas of a gang.
fn submission_id(job: &Job, replica: u32) -> String {
    if job.replicas > 1 {
        format!("galley-{}-{}-{replica}", job.id, job.attempt)
    } else {
        format!("galley-{}-{}", job.id, job.attempt)
    }
}

/// The job's argv as one shell command line; `exec` so that Ray's stop signal and the exit code
/// are the program's own rather than an intermediate shell's.
fn entrypoint(job: &Job) -> Result<String> {
    if job.command.iter().any(|arg| arg.contains('\0')) {
        return Err(ComputeError::InvalidInput(
            "a command argument contains a NUL byte".into(),
        ));
    }
    let command: Vec<String> = job.command.iter().map(|arg| shell_quote(arg)).collect();
    let command = format!("exec {}", command.join(" "));
    Ok(match &job.working_dir {
        Some(dir) => format!("cd {} && {command}", shell_quote(dir)),
        None => command,
    })
}

/// One argument as a POSIX shell word: kept as is when it holds nothing a shell reads
/// specially, otherwise single-quoted, where only `'` itself needs care (close, escape, reopen).
fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-+=/.,:@%".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// What an unsuccessful answer means: a 4xx is Ray refusing the request as made, anything else
/// may pass.
fn refused(status: StatusCode, body: &[u8]) -> ComputeError {
    let message = ray_message(&String::from_utf8_lossy(body));
    if status.is_client_error() {
        ComputeError::InvalidInput(format!("Ray refused the request: {message}"))
    } else {
        ComputeError::Unavailable(format!("Ray answered {status}: {message}"))
    }
}

/// The gist of a Ray error body. The job server answers with a Python traceback, sometimes one
/// nested in another's message, so the innermost error is the last `Name: message` line that
/// is not indented; a body without one is a plain message (`Job x does not exist`).
fn ray_message(body: &str) -> String {
    let is_exception = |line: &str| {
        line.split_once(": ").is_some_and(|(name, _)| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
    };
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = lines
        .iter()
        .rfind(|line| is_exception(line))
        .or(lines.last())
        .map_or("(empty answer)", |l| l.trim());
    truncate(line, MAX_MESSAGE)
}

/// The part of a whole log from byte `offset`, at most [`MAX_LOG_READ`] bytes.
fn log_from(log: Bytes, offset: u64) -> Bytes {
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(log.len());
    let end = start.saturating_add(MAX_LOG_READ).min(log.len());
    log.slice(start..end)
}

#[async_trait]
impl Executor for RayExecutor {
    async fn start(&self, job: &Job, env: &[(String, String)]) -> Result<String> {
        let mut submitted: Vec<String> = Vec::new();
        for replica in 0..job.replicas {
            if let Err(e) = self.submit(job, env, replica).await {
                // A refused gang is failed or retried as a new attempt: leave nothing of this one
                // running (best effort: what is missed, the reaper stops as an attempt nobody
                // wants). After a mere outage the next start resubmits under the same ids.
                if matches!(e, ComputeError::InvalidInput(_)) {
                    for id in &submitted {
                        let _ = self.request_stop(id).await;
                    }
                }
                return Err(e);
            }
            submitted.push(submission_id(job, replica));
        }
        Ok(submitted.join(","))
    }

    async fn status(&self, job: &Job) -> Result<AttemptStatus> {
        let mut all_succeeded = true;
        for replica in 0..job.replicas {
            let id = submission_id(job, replica);
            let status = match self.ray_job(&id).await? {
                Some(ray_job) => ray_job.attempt_status(),
                // Ray keeps jobs only as long as the cluster lives.
                None => AttemptStatus::Failed {
                    exit_code: None,
                    message: format!("Ray no longer knows job {id} (the cluster restarted?)"),
                },
            };
            match status {
                AttemptStatus::Succeeded => {}
                AttemptStatus::Running => all_succeeded = false,
                AttemptStatus::Failed { exit_code, message } if job.replicas > 1 => {
                    return Ok(AttemptStatus::Failed {
                        exit_code,
                        message: format!("replica {replica}: {message}"),
                    })
                }
                failed @ AttemptStatus::Failed { .. } => return Ok(failed),
            }
        }
        Ok(if all_succeeded {
            AttemptStatus::Succeeded
        } else {
            AttemptStatus::Running
        })
    }

    async fn stop(&self, job: &Job) -> Result<()> {
        let ids: Vec<String> = (0..job.replicas)
            .map(|replica| submission_id(job, replica))
            .collect();
        for id in &ids {
            self.request_stop(id).await?;
        }
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        for id in &ids {
            loop {
                match self.ray_job(id).await? {
                    Some(ray_job) if !ray_job.is_terminal() => {}
                    _ => break,
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(ComputeError::Unavailable(format!(
                        "Ray job {id} did not stop within {}s",
                        STOP_WAIT.as_secs()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Ok(())
    }

    async fn live_attempts(&self) -> Result<Vec<LiveAttempt>> {
        let jobs: Vec<RayJob> = self
            .rest
            .get_json(self.url(&[""]))
            .await?
            .unwrap_or_default();
        let mut live: Vec<LiveAttempt> = Vec::new();
        for attempt in jobs.iter().filter_map(RayJob::live_attempt) {
            if !live.contains(&attempt) {
                live.push(attempt);
            }
        }
        Ok(live)
    }

    async fn read_log(&self, job: &Job, replica: u32, offset: u64) -> Result<Option<Bytes>> {
        if replica >= job.replicas {
            return Ok(None);
        }
        let log = self.log(&submission_id(job, replica)).await?;
        Ok(log.map(|log| log_from(log, offset)))
    }

    async fn collect_logs(&self, job: &Job) -> Result<Vec<(u32, Bytes)>> {
        let mut logs = Vec::new();
        for replica in 0..job.replicas {
            if let Some(log) = self.log(&submission_id(job, replica)).await? {
                logs.push((replica, log));
            }
        }
        Ok(logs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ray_job(value: serde_json::Value) -> RayJob {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn plain_words_stay_and_the_rest_is_single_quoted() {
        assert_eq!(shell_quote("python"), "python");
        assert_eq!(shell_quote("--lr=0.1"), "--lr=0.1");
        assert_eq!(shell_quote("/data/x.csv"), "/data/x.csv");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("*"), "'*'");
    }

    #[test]
    fn a_quoted_argv_reaches_the_program_unchanged_through_a_real_shell() {
        let args = [
            "plain",
            "",
            "two words",
            "it's",
            "'",
            "\"double\"",
            "$HOME `id` $(id) \\n",
            "line\nbreak",
            "semi; rm -rf /tmp/nothing && echo |",
            "*?[a]~",
            "ünïcødé",
        ];
        let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        let script = format!(
            "for a in {}; do printf '%s\\0' \"$a\"; done",
            quoted.join(" ")
        );
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(out.status.success());
        let seen: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        let expected: Vec<&[u8]> = args
            .iter()
            .map(|a| a.as_bytes())
            .chain([&b""[..]])
            .collect();
        assert_eq!(seen, expected);
    }

    fn job(command: &[&str], replicas: u32, working_dir: Option<&str>) -> Job {
        let nodes = [galley_compute::inventory::Node {
            name: "ray".into(),
            cpu_millis: 8_000,
            memory_bytes: 16 << 30,
            gpus: vec![],
        }];
        let config = galley_compute::config::ComputeConfig::for_inventory(&nodes);
        let spec = galley_compute::job::JobSpec {
            command: command.iter().map(|a| a.to_string()).collect(),
            replicas: Some(replicas),
            working_dir: working_dir.map(str::to_string),
            executor: Some("ray".into()),
            ..Default::default()
        };
        galley_compute::submit::prepare(spec, &config, Some(&nodes), "job-abc".into(), 0).unwrap()
    }

    #[test]
    fn entrypoints_are_quoted_argvs_run_with_exec() {
        assert_eq!(
            entrypoint(&job(&["python", "-c", "print('hi')"], 1, None)).unwrap(),
            r#"exec python -c 'print('\''hi'\'')'"#
        );
        assert_eq!(
            entrypoint(&job(&["./train"], 1, Some("/srv/my code"))).unwrap(),
            "cd '/srv/my code' && exec ./train"
        );
        assert!(matches!(
            entrypoint(&job(&["echo", "a\0b"], 1, None)),
            Err(ComputeError::InvalidInput(_))
        ));
    }

    #[test]
    fn submission_ids_name_job_attempt_and_replica_of_a_gang() {
        let mut single = job(&["true"], 1, None);
        single.attempt = 2;
        assert_eq!(submission_id(&single, 0), "galley-job-abc-2");
        let gang = job(&["true"], 3, None);
        assert_eq!(submission_id(&gang, 0), "galley-job-abc-1-0");
        assert_eq!(submission_id(&gang, 2), "galley-job-abc-1-2");
    }

    #[test]
    fn ray_statuses_map_to_attempt_statuses() {
        for status in ["PENDING", "RUNNING"] {
            let job = ray_job(json!({"status": status, "message": "whatever"}));
            assert_eq!(job.attempt_status(), AttemptStatus::Running);
            assert!(!job.is_terminal());
        }
        let job = ray_job(json!({"status": "SUCCEEDED", "message": "Job finished successfully."}));
        assert_eq!(job.attempt_status(), AttemptStatus::Succeeded);
        assert!(job.is_terminal());

        let failed = ray_job(json!({
            "status": "FAILED",
            "message": "Job entrypoint command failed with exit code 3, last available logs:\nboom\n",
            "driver_exit_code": 3,
        }));
        assert_eq!(
            failed.attempt_status(),
            AttemptStatus::Failed {
                exit_code: Some(3),
                message: "Job entrypoint command failed with exit code 3, last available logs:"
                    .into(),
            }
        );
        let stopped =
            ray_job(json!({"status": "STOPPED", "message": "Job was intentionally stopped."}));
        assert_eq!(
            stopped.attempt_status(),
            AttemptStatus::Failed {
                exit_code: None,
                message: "Job was intentionally stopped.".into(),
            }
        );
        let silent = ray_job(json!({"status": "FAILED", "message": null}));
        assert_eq!(
            silent.attempt_status(),
            AttemptStatus::Failed {
                exit_code: None,
                message: "the Ray job ended as FAILED".into(),
            }
        );
        let unknown = ray_job(json!({"status": "SOMETHING_NEW"}));
        assert_eq!(unknown.attempt_status(), AttemptStatus::Running);
        assert!(!unknown.is_terminal());
    }

    #[test]
    fn only_running_galley_jobs_are_live_attempts() {
        let listed = json!([
            {"submission_id": "galley-job-1-2", "status": "RUNNING",
             "metadata": {"galley_job_id": "job-1", "galley_attempt": "2"}},
            {"submission_id": "galley-job-2-1", "status": "SUCCEEDED",
             "metadata": {"galley_job_id": "job-2", "galley_attempt": "1"}},
            {"submission_id": "raysubmit_abc", "status": "RUNNING",
             "metadata": {"galley_job_id": "job-3", "galley_attempt": "1"}},
            {"submission_id": null, "status": "RUNNING", "metadata": null},
            {"submission_id": "galley-by-hand", "status": "PENDING", "metadata": {}},
        ]);
        let jobs: Vec<RayJob> = serde_json::from_value(listed).unwrap();
        let live: Vec<LiveAttempt> = jobs.iter().filter_map(RayJob::live_attempt).collect();
        assert_eq!(
            live,
            vec![LiveAttempt {
                job_id: "job-1".into(),
                attempt: 2
            }]
        );
    }

    #[test]
    fn the_gist_of_an_error_is_the_traceback_last_line() {
        // As Ray 2.60 nests the job agent's traceback in the job head's.
        let body = "Traceback (most recent call last):\n  File \"job_head.py\", line 419, in submit_job\n    resp = await client.submit(req)\nRuntimeError: Request failed with status code 400: Traceback (most recent call last):\n  File \"job_manager.py\", line 553, in submit_job\n    raise ValueError(\nValueError: Job with submission_id galley-j-1 already exists.\n.\n";
        assert_eq!(
            ray_message(body),
            "ValueError: Job with submission_id galley-j-1 already exists."
        );
        assert_eq!(ray_message("Job x does not exist"), "Job x does not exist");
        assert_eq!(ray_message(""), "(empty answer)");
        assert!(matches!(
            refused(StatusCode::BAD_REQUEST, body.as_bytes()),
            ComputeError::InvalidInput(_)
        ));
        assert!(matches!(
            refused(StatusCode::INTERNAL_SERVER_ERROR, body.as_bytes()),
            ComputeError::Unavailable(_)
        ));
    }

    #[test]
    fn logs_are_read_from_the_offset() {
        let log = Bytes::from_static(b"hello world");
        assert_eq!(log_from(log.clone(), 0), log);
        assert_eq!(log_from(log.clone(), 6), Bytes::from_static(b"world"));
        assert!(log_from(log.clone(), 11).is_empty());
        assert!(log_from(log, u64::MAX).is_empty());
    }

    #[test]
    fn urls_keep_the_dashboard_prefix_and_encode_ids() {
        let ray = RayExecutor::new("http://127.0.0.1:8265").unwrap();
        assert_eq!(ray.url(&[""]).as_str(), "http://127.0.0.1:8265/api/jobs/");
        assert_eq!(
            ray.url(&["galley-a b", "logs"]).as_str(),
            "http://127.0.0.1:8265/api/jobs/galley-a%20b/logs"
        );
        let proxied = RayExecutor::new("https://ray.example/dash/").unwrap();
        assert_eq!(
            proxied.url(&["x", "stop"]).as_str(),
            "https://ray.example/dash/api/jobs/x/stop"
        );
        for bad in ["127.0.0.1:8265", "ftp://x", "not a url"] {
            assert!(matches!(
                RayExecutor::new(bad),
                Err(ComputeError::InvalidInput(_))
            ));
        }
    }
}
