//! The compute layer end to end through the native API: jobs run as real processes by the
//! local executor, with logs, retries, timeouts, cancellation, a restart mid-job, queue files,
//! and refusals of jobs that could never run.

use std::time::Duration;

use serde_json::{json, Value};

use crate::app::{spawn_app, start, test_config, TestApp};

async fn submit(app: &TestApp, spec: Value) -> String {
    let (status, reply) = app.call("POST", "/api/v1/jobs", Some(&spec)).await;
    assert_eq!(status, 200, "{reply}");
    reply["job"]["id"].as_str().unwrap().to_string()
}

async fn job(base: &str, id: &str) -> Value {
    reqwest::get(format!("{base}/api/v1/jobs/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls until the job is in one of `states`; returns the job and its events.
async fn wait_for(base: &str, id: &str, states: &[&str]) -> Value {
    for _ in 0..300 {
        let reply = job(base, id).await;
        if states.contains(&reply["job"]["state"].as_str().unwrap_or_default()) {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never reached {states:?}: {}", job(base, id).await);
}

fn event_kinds(reply: &Value) -> Vec<String> {
    reply["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn log(base: &str, id: &str) -> String {
    reqwest::get(format!("{base}/api/v1/jobs/{id}/logs?replica=0&offset=0"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn shell(script: &str) -> Value {
    json!(["/bin/sh", "-c", script])
}

#[tokio::test]
async fn a_job_runs_logs_and_links_its_run() {
    let app = spawn_app().await;
    let id = submit(
        &app,
        json!({ "command": shell("echo hello from $GALLEY_JOB_ID; echo run=$MLFLOW_RUN_ID"), "resources": {"cpu": "500m", "memory": "64Mi"} }),
    )
    .await;
    let reply = wait_for(&app.base, &id, &["succeeded", "failed"]).await;
    assert_eq!(reply["job"]["state"], "succeeded", "{reply}");
    assert_eq!(
        event_kinds(&reply),
        ["submitted", "admitted", "started", "succeeded"]
    );
    let output = log(&app.base, &id).await;
    assert!(output.contains(&format!("hello from {id}")), "{output}");
    let run_id = reply["job"]["run_id"].as_str().unwrap();
    assert!(output.contains(&format!("run={run_id}")), "{output}");
    let (status, run) = app.get("runs/get", &[("run_id", run_id)]).await;
    assert_eq!(status, 200);
    let tags = run["run"]["data"]["tags"].as_array().unwrap();
    assert!(tags
        .iter()
        .any(|t| t["key"] == "galley.job_id" && t["value"] == id.as_str()));
}

#[tokio::test]
async fn failures_retry_with_backoff_then_fail() {
    let app = spawn_app().await;
    let id = submit(
        &app,
        json!({ "command": shell("echo attempt $GALLEY_JOB_ATTEMPT; exit 3"), "retries": 1, "retry_backoff": "0s" }),
    )
    .await;
    let reply = wait_for(&app.base, &id, &["failed"]).await;
    assert_eq!(reply["job"]["attempt"], 2);
    assert_eq!(reply["job"]["exit_code"], 3);
    assert_eq!(
        event_kinds(&reply),
        [
            "submitted",
            "admitted",
            "started",
            "failed",
            "retrying",
            "admitted",
            "started",
            "failed"
        ]
    );
    assert!(log(&app.base, &id).await.contains("attempt 2"));
}

#[tokio::test]
async fn max_runtime_and_cancel_stop_the_processes() {
    let app = spawn_app().await;
    let slow = submit(
        &app,
        json!({ "command": ["sleep", "30"], "max_runtime": "1s" }),
    )
    .await;
    let cancelled = submit(
        &app,
        json!({ "command": ["sleep", "30"], "resources": {"cpu": "100m"} }),
    )
    .await;
    let reply = wait_for(&app.base, &slow, &["failed"]).await;
    assert_eq!(event_kinds(&reply).last().unwrap(), "timed_out", "{reply}");
    assert!(reply["job"]["message"]
        .as_str()
        .unwrap()
        .contains("max runtime"));

    wait_for(&app.base, &cancelled, &["running"]).await;
    let (status, _) = app
        .call("POST", &format!("/api/v1/jobs/{cancelled}/cancel"), None)
        .await;
    assert_eq!(status, 200);
    // The process group is gone within a few rounds.
    let pgid_file = app
        .data_dir
        .path()
        .join(format!("jobs/{cancelled}/attempt-1/pgid"));
    let pgid: i32 = std::fs::read_to_string(pgid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut alive = true;
    for _ in 0..100 {
        // SAFETY: signal 0 only probes for the process group.
        alive = unsafe { libc::kill(-pgid, 0) } == 0;
        if !alive {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive, "the cancelled job's processes still run");
    let (status, reply) = app
        .call("POST", &format!("/api/v1/jobs/{cancelled}/cancel"), None)
        .await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (409, Some("RESOURCE_CONFLICT"))
    );
}

#[tokio::test]
async fn a_job_survives_a_server_restart() {
    let data_dir = tempfile::tempdir().unwrap();
    let config = test_config(data_dir.path());
    let (base, stop) = start(&config).await;
    let spec = json!({ "command": shell("sleep 2; echo finished") });
    let reply = reqwest::Client::new()
        .post(format!("{base}/api/v1/jobs"))
        .json(&spec)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let id = reply["job"]["id"].as_str().unwrap().to_string();
    wait_for(&base, &id, &["running"]).await;
    drop(stop);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (base, _stop) = start(&config).await;
    let reply = wait_for(&base, &id, &["succeeded", "failed"]).await;
    assert_eq!(reply["job"]["state"], "succeeded", "{reply}");
    assert_eq!(reply["job"]["attempt"], 1, "the same attempt carried on");
    assert!(log(&base, &id).await.contains("finished"));
}

#[tokio::test]
async fn queue_files_apply_whole_or_not_at_all() {
    let app = spawn_app().await;
    let file = "teams:\n  - name: vision\n    queues:\n      - {name: vision, cohort: lab, quota: {cpu: 1, memory: 1Gi}}\n  - name: nlp\n    queues:\n      - {name: nlp, cohort: lab, quota: {cpu: 1, memory: 1Gi}}\n";
    let apply = |body: &'static str, dry_run: bool| {
        let url = app.url(&format!("/api/v1/queues/apply?dry_run={dry_run}"));
        let http = app.http.clone();
        async move {
            let response = http.post(url).body(body).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, plan) = apply(file, true).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["applied"], false);
    let changes = plan["changes"].to_string();
    assert!(
        changes.contains("+ queue vision") && changes.contains("- queue default"),
        "{changes}"
    );

    let (status, applied) = apply(file, false).await;
    assert_eq!((status, applied["version"].as_i64()), (200, Some(1)));
    let (_, again) = apply(file, false).await;
    assert_eq!(
        (
            again["applied"].as_bool(),
            again["changes"].as_array().map(Vec::len)
        ),
        (Some(false), Some(0))
    );

    // A malformed file changes nothing.
    let (status, error) = apply(
        "teams:\n  - {name: vision, queues: [{name: v, quota: {cpu: lots}}]}\n",
        false,
    )
    .await;
    assert_eq!(
        (status, error["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "{error}"
    );
    let (_, queues) = app.call("GET", "/api/v1/queues", None).await;
    let names: Vec<_> = queues["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["vision", "nlp"]);

    // nlp borrows vision's idle core; the job waits with a reason once both are used.
    let first = submit(&app, json!({ "team": "nlp", "command": ["sleep", "30"], "resources": {"cpu": 1, "memory": "100Mi"} })).await;
    let second = submit(&app, json!({ "team": "nlp", "command": ["sleep", "30"], "resources": {"cpu": 1, "memory": "100Mi"} })).await;
    let third = submit(
        &app,
        json!({ "team": "nlp", "command": ["true"], "resources": {"cpu": 1, "memory": "100Mi"} }),
    )
    .await;
    wait_for(&app.base, &first, &["running"]).await;
    wait_for(&app.base, &second, &["running"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = job(&app.base, &third).await;
    let message = waiting["job"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("waiting for quota in queue nlp") && message.contains("position 1 of 1"),
        "{message}"
    );
    // Removing a queue with jobs is refused.
    let (status, error) = apply(
        "teams:\n  - {name: vision, queues: [{name: vision, quota: {cpu: 1}}]}\n",
        false,
    )
    .await;
    assert_eq!(
        (status, error["error_code"].as_str()),
        (409, Some("RESOURCE_CONFLICT")),
        "{error}"
    );
    for id in [&first, &second, &third] {
        app.call("POST", &format!("/api/v1/jobs/{id}/cancel"), None)
            .await;
    }
}

#[tokio::test]
async fn jobs_that_could_never_run_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "team": "nobody", "command": ["true"] }),
            404,
            "unknown team",
        ),
        (
            json!({ "command": ["true"], "resources": {"cpu": 100000} }),
            400,
            "can never run",
        ),
        (
            json!({ "command": ["true"], "resources": {"gpus": 1} }),
            400,
            "no GPU quota",
        ),
        (
            json!({ "command": ["true"], "replicas": 5000 }),
            400,
            "replicas",
        ),
        (json!({ "command": [] }), 400, "command"),
        (
            json!({ "command": ["true"], "priority": "urgent" }),
            400,
            "unknown priority",
        ),
        (
            json!({ "command": ["true"], "max_runtime": "soon" }),
            400,
            "max_runtime",
        ),
        (
            json!({ "command": ["true"], "resources": {"memory": "lots"} }),
            400,
            "memory",
        ),
        (
            json!({ "command": ["true"], "surprise": 1 }),
            400,
            "surprise",
        ),
        (
            json!({ "command": ["true"], "executor": "slurm" }),
            400,
            "executor",
        ),
    ];
    for (spec, expected_status, expected_message) in cases {
        let (status, reply) = app.call("POST", "/api/v1/jobs", Some(&spec)).await;
        let message = reply["message"].as_str().unwrap_or_default();
        assert_eq!(status, expected_status, "{spec}: {reply}");
        assert!(message.contains(expected_message), "{spec}: {message}");
    }
    let (_, listed) = app.call("GET", "/api/v1/jobs", None).await;
    assert!(
        listed["jobs"].as_array().unwrap().is_empty(),
        "nothing was stored"
    );
    for bad in ["state=sleeping", "max_results=0", "max_results=many"] {
        let (status, _) = app.call("GET", &format!("/api/v1/jobs?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, _) = app.call("GET", "/api/v1/jobs/job-nope", None).await;
    assert_eq!(status, 404);
}
