//! The client subcommands against a live server: JSON output, tables, and errors on stderr.

use std::process::Command;

use serde_json::json;

use crate::app::spawn_app;

fn galley(base: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_galley"))
        .env("GALLEY_URL", base)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn experiments_and_runs_commands() {
    let app = spawn_app().await;
    let base = app.base.clone();
    let created = tokio::task::spawn_blocking({
        let base = base.clone();
        move || galley(&base, &["experiments", "create", "cli-exp"])
    })
    .await
    .unwrap();
    assert!(created.status.success());
    let id = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();

    let (_, run) = app
        .post(
            "runs/create",
            json!({ "experiment_id": id, "run_name": "cli-run" }),
        )
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    app.post(
        "runs/log-metric",
        json!({ "run_id": run_id, "key": "acc", "value": 0.5, "timestamp": 1 }),
    )
    .await;

    let outputs = tokio::task::spawn_blocking(move || {
        (
            galley(&base, &["experiments", "list", "--json"]),
            galley(
                &base,
                &[
                    "runs",
                    "list",
                    "-e",
                    &id,
                    "--filter",
                    "metrics.acc > 0.1",
                    "--json",
                ],
            ),
            galley(&base, &["runs", "show", &run_id]),
            galley(&base, &["experiments", "show", "no-such-experiment"]),
        )
    })
    .await
    .unwrap();
    let experiments: serde_json::Value = serde_json::from_slice(&outputs.0.stdout).unwrap();
    assert!(experiments
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "cli-exp"));
    let runs: serde_json::Value = serde_json::from_slice(&outputs.1.stdout).unwrap();
    assert_eq!(runs[0]["info"]["run_name"], "cli-run");
    let shown = String::from_utf8(outputs.2.stdout).unwrap();
    assert!(
        shown.contains("metric:") && shown.contains("acc = 0.5"),
        "{shown}"
    );
    assert!(!outputs.3.status.success());
    let stderr = String::from_utf8(outputs.3.stderr).unwrap();
    assert!(stderr.contains("RESOURCE_DOES_NOT_EXIST"), "{stderr}");
}
