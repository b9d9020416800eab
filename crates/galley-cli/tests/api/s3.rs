//! A whole server on an `s3://bucket/prefix` artifact root: the MLflow artifact proxy stores,
//! lists, serves and deletes through S3, under the prefix only, and a missing bucket is a
//! retryable 503.
//!
//! Runs when `GALLEY_TEST_S3_ENDPOINT` names an S3 server and the `AWS_*` variables point at it,
//! as `eval "$(scripts/s3-test-server.sh)"` sets up (moto); otherwise each test says it skipped.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use galley_artifacts::{validate, ArtifactStore};
use serde_json::{json, Value};

use crate::app::{spawn_app_with, TestApp};

const PREFIX: &str = "galley/artifacts";

/// Written straight to the stderr handle: the harness swallows `eprintln!` of passing tests.
fn endpoint(test: &str) -> Option<String> {
    let Ok(endpoint) = std::env::var("GALLEY_TEST_S3_ENDPOINT") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: GALLEY_TEST_S3_ENDPOINT is not set ({test}; scripts/s3-test-server.sh starts an S3 server)"
        );
        return None;
    };
    // The server reads AWS_ENDPOINT_URL itself; with another value it would talk to another S3.
    assert_eq!(
        std::env::var("AWS_ENDPOINT_URL").ok().as_deref(),
        Some(endpoint.as_str()),
        "GALLEY_TEST_S3_ENDPOINT is set but AWS_ENDPOINT_URL differs; \
         eval \"$(scripts/s3-test-server.sh)\" sets both"
    );
    Some(endpoint)
}

fn unique_bucket() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!("galley-api-{:x}-{nanos:x}", std::process::id())
}

/// moto accepts an anonymous CreateBucket; a server that does not fails here, loudly.
async fn create_bucket(endpoint: &str) -> String {
    let bucket = unique_bucket();
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating bucket {bucket} at {endpoint}: {e}"));
    assert!(
        response.status().is_success(),
        "creating bucket {bucket} at {endpoint}: {}",
        response.status()
    );
    bucket
}

async fn spawn_on(bucket: &str) -> TestApp {
    let root = format!("s3://{bucket}/{PREFIX}");
    spawn_app_with(|config| config.artifact_root = Some(root)).await
}

fn artifact_url(app: &TestApp, path: &str) -> String {
    app.url(&format!("/api/2.0/mlflow-artifacts/artifacts/{path}"))
}

async fn list(app: &TestApp, path: &str) -> Value {
    let response = app
        .http
        .get(app.url("/api/2.0/mlflow-artifacts/artifacts"))
        .query(&[("path", path)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["files"].clone()
}

/// Every key in the bucket, read with the same AWS_* configuration but without the prefix.
async fn bucket_keys(bucket: &str) -> Vec<String> {
    let whole = ArtifactStore::open(&format!("s3://{bucket}")).unwrap();
    let mut keys = Vec::new();
    let mut dirs = vec![None];
    while let Some(dir) = dirs.pop() {
        for entry in whole.list(dir.as_ref()).await.unwrap() {
            let key = match &dir {
                Some(d) => format!("{d}/{}", entry.name),
                None => entry.name.clone(),
            };
            if entry.is_dir {
                dirs.push(Some(validate(&key).unwrap()));
            } else {
                keys.push(key);
            }
        }
    }
    keys.sort();
    keys
}

#[tokio::test]
async fn the_artifact_proxy_stores_through_s3_under_the_prefix() {
    let Some(endpoint) = endpoint("the_artifact_proxy_stores_through_s3_under_the_prefix") else {
        return;
    };
    let bucket = create_bucket(&endpoint).await;
    let app = spawn_on(&bucket).await;

    // Over one 5 MiB part, so the proxy's streamed upload is a real S3 multipart upload.
    let payload: Vec<u8> = (0..6_000_000u32).map(|i| (i % 251) as u8).collect();
    let put = app
        .http
        .put(artifact_url(&app, "1/run/artifacts/model/model.bin"))
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let put = app
        .http
        .put(artifact_url(&app, "1/run/artifacts/model/MLmodel"))
        .body("flavors: {}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    assert_eq!(
        list(&app, "1/run/artifacts").await,
        json!([{ "path": "model", "is_dir": true }])
    );
    assert_eq!(
        list(&app, "1/run/artifacts/model/").await,
        json!([
            { "path": "MLmodel", "is_dir": false, "file_size": 12 },
            { "path": "model.bin", "is_dir": false, "file_size": 6_000_000 },
        ])
    );

    let got = app
        .http
        .get(artifact_url(&app, "1/run/artifacts/model/model.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-length"], "6000000");
    assert!(got.bytes().await.unwrap().as_ref() == payload.as_slice());

    assert_eq!(
        bucket_keys(&bucket).await,
        vec![
            format!("{PREFIX}/1/run/artifacts/model/MLmodel"),
            format!("{PREFIX}/1/run/artifacts/model/model.bin"),
        ]
    );

    // The traversal guard holds on S3 too: nothing reaches the bucket.
    for path in ["../escape.txt", "a/../../escape.txt", "%2e%2e/escape.txt"] {
        let response = app
            .http
            .put(artifact_url(&app, path))
            .body("owned")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{path}");
    }

    let deleted = app
        .http
        .delete(artifact_url(&app, "1/run/artifacts/model"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let missing = app
        .http
        .get(artifact_url(&app, "1/run/artifacts/model/MLmodel"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
    assert!(bucket_keys(&bucket).await.is_empty());
}

/// A server pointed at a bucket that does not exist answers 503 (MLflow clients retry it)
/// rather than claiming the artifact is missing.
#[tokio::test]
async fn a_missing_bucket_is_a_retryable_503() {
    if endpoint("a_missing_bucket_is_a_retryable_503").is_none() {
        return;
    }
    let app = spawn_on(&unique_bucket()).await;
    let put = app
        .http
        .put(artifact_url(&app, "1/run/artifacts/a.txt"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 503);
    let body: Value = put.json().await.unwrap();
    assert_eq!(body["error_code"], "TEMPORARILY_UNAVAILABLE", "{body}");
    let get = app
        .http
        .get(artifact_url(&app, "1/run/artifacts/a.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 503);
}
