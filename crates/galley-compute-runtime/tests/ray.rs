//! The Ray executor against a real Ray head: a job that succeeds and logs, one that fails, one
//! stopped while running, a gang of two; plus an unreachable cluster, which needs no Ray.
//!
//! Cases that need Ray run when `GALLEY_TEST_RAY_ADDRESS` names a dashboard;
//! `eval "$(scripts/ray-test-head.sh)"` starts a local head and sets it. Every case uses a fresh
//! job id, because submission ids are deterministic and the head outlives a test run.

use std::io::Write as _;
use std::time::Duration;

use galley_compute::config::ComputeConfig;
use galley_compute::inventory::Node;
use galley_compute::job::{Job, JobSpec, ResourceSpec};
use galley_compute::{submit, ComputeError};
use galley_compute_runtime::executor::LiveAttempt;
use galley_compute_runtime::{AttemptStatus, Executor, RayExecutor};

/// The executor, or `None` after saying loudly that the case skipped. Written straight to the
/// stderr handle because the test harness swallows `eprintln!` of passing tests.
fn ray(case: &str) -> Option<RayExecutor> {
    let Ok(address) = std::env::var("GALLEY_TEST_RAY_ADDRESS") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: Ray executor test (GALLEY_TEST_RAY_ADDRESS is not set): {case} \
             (scripts/ray-test-head.sh starts a Ray head)"
        );
        return None;
    };
    Some(RayExecutor::new(&address).unwrap())
}

/// A job as the compute service would hand it over. Small reservations, so the cases fit on a
/// two-CPU head side by side.
fn job(command: &[&str], replicas: u32) -> Job {
    let nodes = [Node {
        name: "ray".into(),
        cpu_millis: 2_000,
        memory_bytes: 4 << 30,
        gpus: vec![],
    }];
    let config = ComputeConfig::for_inventory(&nodes);
    let spec = JobSpec {
        command: command.iter().map(|a| a.to_string()).collect(),
        env: [(
            "GALLEY_TEST_FROM_SPEC".to_string(),
            "spec value".to_string(),
        )]
        .into(),
        replicas: Some(replicas),
        resources: ResourceSpec {
            cpu: Some("100m".into()),
            memory: Some("64Mi".into()),
            ..ResourceSpec::default()
        },
        executor: Some("ray".into()),
        ..JobSpec::default()
    };
    submit::prepare(spec, &config, Some(&nodes), submit::new_job_id(), 0).unwrap()
}

/// What the run loop adds to every job's environment.
fn env(job: &Job) -> Vec<(String, String)> {
    vec![
        ("GALLEY_JOB_ID".into(), job.id.clone()),
        ("MLFLOW_TRACKING_URI".into(), "http://127.0.0.1:5000".into()),
        (
            "MLFLOW_RUN_ID".into(),
            "0123456789abcdef0123456789abcdef".into(),
        ),
    ]
}

/// Polls until the attempt ends; Ray takes a few seconds to set up each job's driver.
async fn ended(ray: &RayExecutor, job: &Job) -> AttemptStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = ray.status(job).await.unwrap();
        if status != AttemptStatus::Running {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {} still running after 120s",
            job.id
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn live(job: &Job) -> LiveAttempt {
    LiveAttempt {
        job_id: job.id.clone(),
        attempt: job.attempt,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_job_runs_with_its_environment_and_its_log_is_read_from_an_offset() {
    let Some(ray) = ray("a job runs") else { return };
    let job = job(
        &[
            "python",
            "-c",
            "import os; print('hello', os.environ['GALLEY_JOB_ID']); \
             print('spec:', os.environ['GALLEY_TEST_FROM_SPEC']); \
             print('replica:', os.environ['GALLEY_REPLICA_INDEX'])",
        ],
        1,
    );
    let external_id = ray.start(&job, &env(&job)).await.unwrap();
    assert_eq!(external_id, format!("galley-{}-1", job.id));
    // A start retried after a crash finds the job it already submitted.
    assert_eq!(ray.start(&job, &env(&job)).await.unwrap(), external_id);

    assert_eq!(ended(&ray, &job).await, AttemptStatus::Succeeded);
    let log = text(&ray.read_log(&job, 0, 0).await.unwrap().unwrap());
    let hello = format!("hello {}", job.id);
    assert!(log.contains(&hello), "{log}");
    assert!(log.contains("spec: spec value"), "{log}");
    assert!(log.contains("replica: 0"), "{log}");

    let at = log.find(&hello).unwrap();
    let rest = ray.read_log(&job, 0, at as u64).await.unwrap().unwrap();
    assert!(text(&rest).starts_with(&hello), "{}", text(&rest));
    let past_end = ray.read_log(&job, 0, 1 << 40).await.unwrap().unwrap();
    assert!(past_end.is_empty());
    assert_eq!(ray.read_log(&job, 1, 0).await.unwrap(), None);

    let logs = ray.collect_logs(&job).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0, 0);
    assert!(text(&logs[0].1).contains(&hello));
    assert!(!ray.live_attempts().await.unwrap().contains(&live(&job)));
}

#[tokio::test]
async fn a_failing_job_fails_with_its_exit_code() {
    let Some(ray) = ray("a failing job") else {
        return;
    };
    let job = job(&["sh", "-c", "echo going down >&2; exit 3"], 1);
    ray.start(&job, &env(&job)).await.unwrap();
    match ended(&ray, &job).await {
        AttemptStatus::Failed { exit_code, message } => {
            assert_eq!(exit_code, Some(3), "{message}");
            assert!(message.contains("exit code 3"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let log = text(&ray.read_log(&job, 0, 0).await.unwrap().unwrap());
    assert!(log.contains("going down"), "{log}");
}

#[tokio::test]
async fn a_stopped_job_fails_and_is_no_longer_live() {
    let Some(ray) = ray("a stopped job") else {
        return;
    };
    let job = job(&["sleep", "60"], 1);
    ray.start(&job, &env(&job)).await.unwrap();
    assert_eq!(ray.status(&job).await.unwrap(), AttemptStatus::Running);
    assert!(ray.live_attempts().await.unwrap().contains(&live(&job)));

    let started = std::time::Instant::now();
    ray.stop(&job).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    match ray.status(&job).await.unwrap() {
        AttemptStatus::Failed { exit_code, message } => {
            assert_eq!(exit_code, None);
            assert!(message.contains("stopped"), "{message}");
        }
        other => panic!("expected a stopped job to read as failed, got {other:?}"),
    }
    assert!(!ray.live_attempts().await.unwrap().contains(&live(&job)));
    // Stopping again, or stopping what Ray never had, changes nothing.
    ray.stop(&job).await.unwrap();
    let mut never_started = job.clone();
    never_started.attempt += 1;
    ray.stop(&never_started).await.unwrap();
}

#[tokio::test]
async fn a_gang_is_one_ray_job_per_replica() {
    let Some(ray) = ray("a gang") else { return };
    let job = job(
        &[
            "sh",
            "-c",
            "echo \"replica $GALLEY_REPLICA_INDEX of $GALLEY_JOB_ID\"",
        ],
        2,
    );
    let external_id = ray.start(&job, &env(&job)).await.unwrap();
    assert_eq!(
        external_id,
        format!("galley-{0}-1-0,galley-{0}-1-1", job.id)
    );
    assert_eq!(ended(&ray, &job).await, AttemptStatus::Succeeded);
    let logs = ray.collect_logs(&job).await.unwrap();
    assert_eq!(logs.iter().map(|(r, _)| *r).collect::<Vec<_>>(), [0, 1]);
    for (replica, log) in logs {
        let log = text(&log);
        assert!(
            log.contains(&format!("replica {replica} of {}", job.id)),
            "{log}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_cluster_is_unavailable() {
    // Port 9 (discard) has no dashboard: the connection is refused at once.
    let ray = RayExecutor::new("http://127.0.0.1:9").unwrap();
    let job = job(&["true"], 1);
    let err = ray.status(&job).await.unwrap_err();
    assert!(matches!(err, ComputeError::Unavailable(_)), "{err}");
    let err = ray.start(&job, &env(&job)).await.unwrap_err();
    assert!(matches!(err, ComputeError::Unavailable(_)), "{err}");
    let err = ray.live_attempts().await.unwrap_err();
    assert!(matches!(err, ComputeError::Unavailable(_)), "{err}");
}
