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

/// Runs `galley` off the async runtime and returns (success, stdout, stderr).
pub(crate) async fn galley_async(base: &str, args: &[&str]) -> (bool, String, String) {
    let base = base.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        galley(&base, &args)
    })
    .await
    .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn models_commands() {
    let app = spawn_app().await;
    let run_id = app.create_run().await;
    app.post(
        "runs/log-batch",
        json!({ "run_id": run_id,
                "params": [{ "key": "depth", "value": "4" }],
                "metrics": [{ "key": "auc", "value": 0.91, "timestamp": 1, "step": 0 }] }),
    )
    .await;
    app.post(
        "runs/log-inputs",
        json!({ "run_id": run_id, "datasets": [{
            "tags": [{ "key": "mlflow.data.context", "value": "training" }],
            "dataset": { "name": "payments", "digest": "d1g3st", "source_type": "local",
                         "source": "/data/payments.parquet" } }] }),
    )
    .await;
    let name = "fraud detector";
    app.post("registered-models/create", json!({ "name": name }))
        .await;
    let (status, _) = app
        .post(
            "model-versions/create",
            json!({ "name": name, "source": format!("runs:/{run_id}/model"), "run_id": run_id }),
        )
        .await;
    assert_eq!(status, 200);
    let base = app.base.clone();

    let (ok, out, _) = galley_async(&base, &["models", "list", "--json"]).await;
    assert!(ok);
    let models: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(models[0]["name"], name);

    assert!(
        galley_async(&base, &["models", "alias", name, "champion", "1"])
            .await
            .0
    );
    let (ok, out, _) = galley_async(&base, &["models", "alias", name, "champion"]).await;
    assert_eq!((ok, out.trim()), (true, "1"));
    let (_, out, _) = galley_async(&base, &["models", "versions", name]).await;
    assert!(out.contains("champion") && out.contains(&run_id), "{out}");

    let card = app.data_dir.path().join("card.json");
    std::fs::write(
        &card,
        r#"{"intended_use": "Flag risky payments.", "owners": ["risk-team"]}"#,
    )
    .unwrap();
    let (ok, out, err) = galley_async(
        &base,
        &["models", "card", name, "1", "--set", card.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.starts_with("# fraud detector — version 1"), "{out}");
    assert!(
        out.contains("Flag risky payments.") && out.contains("| auc | 0.91 |"),
        "{out}"
    );

    let (ok, out, _) = galley_async(&base, &["models", "lineage", name, "1"]).await;
    assert!(ok);
    assert!(out.contains("params: depth=4"), "{out}");
    assert!(
        out.contains("payments digest d1g3st from local /data/payments.parquet [training]"),
        "{out}"
    );
    let (_, out, _) = galley_async(&base, &["models", "lineage", name, "1", "--json"]).await;
    let graph: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(graph["run"]["metrics"]["auc"], 0.91);

    assert!(
        galley_async(&base, &["models", "alias", name, "champion", "--delete"])
            .await
            .0
    );
    let (ok, _, err) = galley_async(&base, &["models", "lineage", "nope", "1"]).await;
    assert!(!ok && err.contains("RESOURCE_DOES_NOT_EXIST"), "{err}");
}
