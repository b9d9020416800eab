//! Bad input: each failure has MLflow's error code and a 4xx status, and changes nothing.

use serde_json::json;

use crate::app::spawn_app;

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_400s() {
    let app = spawn_app().await;
    let (status, body) = app.post_raw("experiments/create", "{not json").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    let (status, body) = app.post("experiments/create", json!({ "name": 5 })).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    let (status, body) = app.post("experiments/create", json!({})).await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("'name'"),
        "{body}"
    );
    let run = app.create_run().await;
    let bad_metric = json!({ "run_id": run, "key": "m", "value": "high", "timestamp": 1 });
    let (status, _) = app.post("runs/log-metric", bad_metric).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn unknown_ids_are_404s_and_duplicates_400s() {
    let app = spawn_app().await;
    let (status, body) = app.get("runs/get", &[("run_id", "f00")]).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    let (status, _) = app
        .get("experiments/get", &[("experiment_id", "12345")])
        .await;
    assert_eq!(status, 404);
    app.post("experiments/create", json!({ "name": "dup" }))
        .await;
    let (status, body) = app
        .post("experiments/create", json!({ "name": "dup" }))
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("RESOURCE_ALREADY_EXISTS"))
    );
    let (status, body) = app.post("no/such/endpoint", json!({})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("ENDPOINT_NOT_FOUND"))
    );
}

#[tokio::test]
async fn an_oversize_or_conflicting_batch_writes_nothing() {
    let app = spawn_app().await;
    let run = app.create_run().await;
    let metrics: Vec<_> = (0..1001)
        .map(|i| json!({ "key": "m", "value": i, "timestamp": i, "step": i }))
        .collect();
    let (status, body) = app
        .post(
            "runs/log-batch",
            json!({ "run_id": run, "metrics": metrics }),
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );

    app.post(
        "runs/log-parameter",
        json!({ "run_id": run, "key": "lr", "value": "0.1" }),
    )
    .await;
    let conflicting = json!({
        "run_id": run,
        "metrics": [{ "key": "acc", "value": 1.0, "timestamp": 1 }],
        "params": [{ "key": "lr", "value": "0.2" }],
    });
    let (status, _) = app.post("runs/log-batch", conflicting).await;
    assert_eq!(status, 400);
    let (_, got) = app.get("runs/get", &[("run_id", &run)]).await;
    assert_eq!(got["run"]["data"]["metrics"], json!([]), "{got}");
    let (_, history) = app
        .get(
            "metrics/get-history",
            &[("run_id", &run), ("metric_key", "m")],
        )
        .await;
    assert_eq!(history["metrics"], json!([]));
}

#[tokio::test]
async fn bad_filters_are_invalid_parameter_values() {
    let app = spawn_app().await;
    for filter in [
        "metrics.acc >> 1",
        "a = 'x' OR b = 'y'",
        "params.p = 1",
        "metrics.`unclosed = 1",
    ] {
        let (status, body) = app
            .post(
                "runs/search",
                json!({ "experiment_ids": ["0"], "filter": filter }),
            )
            .await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE")),
            "{filter}"
        );
    }
    let (status, _) = app
        .post(
            "runs/search",
            json!({ "experiment_ids": ["0"], "page_token": "%%%" }),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn artifact_traversal_is_rejected_and_writes_nothing() {
    let app = spawn_app().await;
    for path in [
        "../escape.txt",
        "a/../../escape.txt",
        "%2e%2e/escape.txt",
        "a/%252e%252e/x",
    ] {
        let response = app
            .http
            .put(app.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}")))
            .body("owned")
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    let escaped = app.data_dir.path().join("escape.txt");
    assert!(!escaped.exists());
    assert!(!app
        .data_dir
        .path()
        .parent()
        .unwrap()
        .join("escape.txt")
        .exists());
}

#[tokio::test]
async fn artifacts_stream_round_trip() {
    let app = spawn_app().await;
    let payload: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let url = app.url("/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/big.bin");
    let put = app
        .http
        .put(&url)
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let got = app.http.get(&url).send().await.unwrap();
    assert_eq!(
        got.headers()["content-length"],
        payload.len().to_string().as_str()
    );
    assert_eq!(got.bytes().await.unwrap().as_ref(), payload.as_slice());
    let listing: serde_json::Value = app
        .http
        .get(app.url("/api/2.0/mlflow-artifacts/artifacts"))
        .query(&[("path", "0/r/artifacts")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listing["files"],
        json!([{ "path": "big.bin", "is_dir": false, "file_size": 5_000_000 }])
    );
    let missing = app
        .http
        .get(app.url("/api/2.0/mlflow-artifacts/artifacts/0/none"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
