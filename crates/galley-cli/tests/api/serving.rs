//! Serving over HTTP: deployments of registered ONNX versions answered on the Open Inference
//! Protocol V2 and `:predict` routes, hot swaps under load, canary and shadow traffic,
//! backpressure, and deployments surviving a restart.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp};

/// Two sklearn classifiers with the same signature (X: FP32 [-1, 4]), made by
/// scripts/make_onnx_fixtures.py, with onnxruntime's answers for 8 rows.
pub(crate) const LOGISTIC: &[u8] =
    include_bytes!("../../../galley-onnx/tests/fixtures/logistic_regression_iris.onnx");
const FOREST: &[u8] =
    include_bytes!("../../../galley-onnx/tests/fixtures/random_forest_classifier_iris.onnx");
const EXPECTED: &str =
    include_str!("../../../galley-onnx/tests/fixtures/logistic_regression_iris.json");

pub(crate) fn fixture() -> (Vec<f32>, Vec<i64>) {
    let fixture: Value = serde_json::from_str(EXPECTED).unwrap();
    let rows = fixture["inputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let labels = fixture["outputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    (rows, labels)
}

/// Registers `bytes` as the next version of `model` (creating it if needed).
pub(crate) async fn register_onnx(app: &TestApp, model: &str, bytes: &[u8]) {
    let run = app.create_run().await;
    let (_, body) = app.get("runs/get", &[("run_id", &run)]).await;
    let artifact_dir = body["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mlflow-artifacts:/")
        .to_string();
    let response = app
        .http
        .put(app.url(&format!(
            "/api/2.0/mlflow-artifacts/artifacts/{artifact_dir}/model/model.onnx"
        )))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    app.post("registered-models/create", json!({ "name": model }))
        .await;
    let (status, body) = app
        .post(
            "model-versions/create",
            json!({ "name": model, "source": format!("runs:/{run}/model"), "run_id": run }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

pub(crate) async fn native(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let body = (!body.is_null()).then_some(body);
    app.call(method.as_str(), &format!("/api/v1/{path}"), body.as_ref())
        .await
}

pub(crate) async fn deploy(app: &TestApp, body: Value) {
    let (status, reply) = native(app, reqwest::Method::POST, "deployments", body).await;
    assert_eq!(status, 200, "{reply}");
}

pub(crate) fn v2_request(rows: &[f32]) -> Value {
    json!({ "inputs": [{ "name": "X", "datatype": "FP32", "shape": [rows.len() / 4, 4], "data": rows }] })
}

pub(crate) async fn infer(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    body: &Value,
) -> (u16, Value) {
    let response = http
        .post(format!("{base}/v2/models/{name}/infer"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn labels(reply: &Value) -> Vec<i64> {
    let outputs = reply["outputs"].as_array().unwrap();
    let label = outputs
        .iter()
        .find(|o| o["name"] == "output_label")
        .unwrap();
    label["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn deploy_and_infer_on_v2_and_predict() {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    deploy(
        &app,
        json!({ "name": "iris-api", "model": "iris", "version": 1, "max_batch_size": 8 }),
    )
    .await;
    let (rows, expected) = fixture();

    let meta: Value = app.call("GET", "/v2/models/iris-api", None).await.1;
    assert_eq!(
        meta["inputs"],
        json!([{ "name": "X", "datatype": "FP32", "shape": [-1, 4] }])
    );
    assert_eq!(meta["versions"], json!(["1"]));
    for path in [
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/iris-api/ready",
        "/v2/models/iris-api/versions/1/ready",
    ] {
        let status = app.http.get(app.url(path)).send().await.unwrap().status();
        assert_eq!(status.as_u16(), 200, "{path}");
    }

    let (status, reply) = infer(&app.http, &app.base, "iris-api", &v2_request(&rows)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (
            reply["model_name"].as_str(),
            reply["model_version"].as_str()
        ),
        (Some("iris-api"), Some("1"))
    );
    assert_eq!(labels(&reply), expected);

    let instances: Vec<Vec<f32>> = rows.chunks(4).map(<[f32]>::to_vec).collect();
    let response = app
        .http
        .post(app.url("/v1/models/iris-api:predict"))
        .json(&json!({ "instances": instances }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let predictions: Value = response.json().await.unwrap();
    let predicted: Vec<i64> = predictions["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["output_label"].as_i64().unwrap())
        .collect();
    assert_eq!(predicted, expected);

    // Requests that do not fit the signature are 400s with the key tritonclient reads.
    let bad = json!({ "inputs": [{ "name": "X", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3] }] });
    let (status, reply) = infer(&app.http, &app.base, "iris-api", &bad).await;
    assert_eq!(status, 400);
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("must have shape [-1, 4]"),
        "{reply}"
    );
    let (status, _) = infer(&app.http, &app.base, "nope", &v2_request(&rows)).await;
    assert_eq!(status, 404);
    let status = app
        .http
        .get(app.url("/v2/models/iris-api/versions/9/ready"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);

    // Lineage lists the deployment serving the version.
    let lineage: Value = app
        .call("GET", "/api/v1/models/iris/versions/1/lineage", None)
        .await
        .1;
    assert_eq!(
        lineage["deployments"],
        json!([{ "name": "iris-api", "role": "serving", "ready": true }])
    );
}

#[tokio::test]
async fn bad_deployments_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    let post = reqwest::Method::POST;
    for (body, code) in [
        (
            json!({ "name": "x", "model": "iris", "version": 7 }),
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            json!({ "name": "x", "model": "iris", "alias": "nobody" }),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({ "name": "bad name", "model": "iris", "version": 1 }),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({ "name": "x", "model": "iris", "version": 1, "max_batch_size": 0 }),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({ "name": "x", "model": "iris", "version": 1, "canary": { "version": 1, "percent": 10 } }),
            "INVALID_PARAMETER_VALUE",
        ),
        (
            json!({ "name": "x", "model": "iris" }),
            "INVALID_PARAMETER_VALUE",
        ),
    ] {
        let (status, reply) = native(&app, post.clone(), "deployments", body.clone()).await;
        assert_eq!(
            (status / 100, reply["error_code"].as_str()),
            (4, Some(code)),
            "{body}"
        );
    }
    let (_, listed) = native(&app, reqwest::Method::GET, "deployments", Value::Null).await;
    assert_eq!(listed["deployments"], json!([]));

    deploy(&app, json!({ "name": "x", "model": "iris", "version": 1 })).await;
    let (status, reply) = native(
        &app,
        post.clone(),
        "deployments",
        json!({ "name": "x", "model": "iris", "version": 1 }),
    )
    .await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (400, Some("RESOURCE_ALREADY_EXISTS"))
    );
    let (status, _) = native(&app, post, "deployments/x/rollback", Value::Null).await;
    assert_eq!(status, 400, "nothing to roll back to");
}

#[tokio::test]
async fn hot_swaps_under_load_drop_nothing() {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    register_onnx(&app, "iris", FOREST).await;
    deploy(
        &app,
        json!({ "name": "live", "model": "iris", "version": 1 }),
    )
    .await;
    let (rows, _) = fixture();
    let request = Arc::new(v2_request(&rows));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (http, base, request, stop) = (
                app.http.clone(),
                app.base.clone(),
                request.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut answered_by = std::collections::BTreeMap::<String, usize>::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, reply) = infer(&http, &base, "live", &request).await;
                    assert_eq!(status, 200, "a request failed during a swap: {reply}");
                    *answered_by
                        .entry(reply["model_version"].as_str().unwrap().to_string())
                        .or_default() += 1;
                }
                answered_by
            })
        })
        .collect();
    let patch = reqwest::Method::PATCH;
    for version in [2, 1, 2] {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, reply) = native(
            &app,
            patch.clone(),
            "deployments/live",
            json!({ "version": version }),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (status, reply) = native(
        &app,
        reqwest::Method::POST,
        "deployments/live/rollback",
        Value::Null,
    )
    .await;
    assert_eq!(
        (status, reply["deployment"]["version"].as_i64()),
        (200, Some(1))
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut versions = std::collections::BTreeSet::new();
    for client in clients {
        versions.extend(client.await.unwrap().into_keys());
    }
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), ["1", "2"]);
}

#[tokio::test]
async fn canary_and_shadow_traffic() {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    register_onnx(&app, "iris", FOREST).await;
    deploy(
        &app,
        json!({ "name": "split", "model": "iris", "version": 1,
                "canary": { "version": 2, "percent": 50 }, "shadow": null }),
    )
    .await;
    let (rows, _) = fixture();
    let request = v2_request(&rows[..4]);
    let mut canary = 0;
    for _ in 0..200 {
        let (_, reply) = infer(&app.http, &app.base, "split", &request).await;
        canary += usize::from(reply["model_version"] == "2");
    }
    assert!(
        (50..150).contains(&canary),
        "canary answered {canary} of 200"
    );

    // A routing key keeps its caller on one arm.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let reply: Value = app
            .http
            .post(app.url("/v2/models/split/infer"))
            .header("x-galley-routing-key", "user-42")
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.insert(reply["model_version"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 1);

    let (status, _) = native(
        &app,
        reqwest::Method::PATCH,
        "deployments/split",
        json!({ "canary": null, "shadow": { "version": 2, "percent": 100 } }),
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..5 {
        let (_, reply) = infer(&app.http, &app.base, "split", &request).await;
        assert_eq!(
            reply["model_version"], "1",
            "shadow answers are never returned"
        );
    }
    let mut records = Value::Null;
    for _ in 0..100 {
        (_, records) = native(
            &app,
            reqwest::Method::GET,
            "deployments/split/shadow",
            Value::Null,
        )
        .await;
        if records["records"].as_array().is_some_and(|r| r.len() == 5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = &records["records"][0];
    assert_eq!(
        (first["version"].as_i64(), first["served_version"].as_i64()),
        (Some(2), Some(1)),
        "{records}"
    );
    assert!(first["max_abs_diff"].is_number());
}

#[tokio::test]
async fn a_full_queue_answers_429_and_served_requests_stay_correct() {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    deploy(
        &app,
        json!({ "name": "small", "model": "iris", "version": 1,
                "max_batch_size": 1, "max_queue": 1, "replicas": 1 }),
    )
    .await;
    let (rows, expected) = fixture();
    let big: Vec<f32> = rows
        .iter()
        .copied()
        .cycle()
        .take(rows.len() * 500)
        .collect();
    let request = Arc::new(v2_request(&big));
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let (http, base, request) = (app.http.clone(), app.base.clone(), request.clone());
            tokio::spawn(async move { infer(&http, &base, "small", &request).await })
        })
        .collect();
    let (mut served, mut refused) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            (200, reply) => {
                assert_eq!(labels(&reply)[..8], expected[..]);
                served += 1;
            }
            (429, reply) => {
                assert_eq!(reply["error_code"], "REQUEST_LIMIT_EXCEEDED");
                refused += 1;
            }
            (status, reply) => panic!("unexpected {status}: {reply}"),
        }
    }
    assert!(
        served > 0 && refused > 0,
        "served {served}, refused {refused}"
    );
}

#[tokio::test]
async fn deployments_survive_a_restart() {
    let app = spawn_app().await;
    register_onnx(&app, "iris", LOGISTIC).await;
    deploy(
        &app,
        json!({ "name": "kept", "model": "iris", "version": 1 }),
    )
    .await;

    let app = app.restart().await;
    let (rows, expected) = fixture();
    let (status, reply) = infer(&app.http, &app.base, "kept", &v2_request(&rows)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(labels(&reply), expected);
}
