//! The artifact-store conformance cases on S3, plus what only S3 roots have: root URL parsing and
//! the mapping of an unreachable store or a missing bucket to a retryable error.
//!
//! Cases that need a server run when `GALLEY_TEST_S3_ENDPOINT` names one and the `AWS_*`
//! variables point the store at it; `eval "$(scripts/s3-test-server.sh)"` sets both (moto). Each
//! case gets its own bucket, created with an anonymous PUT, which moto accepts.

mod cases;

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use galley_artifacts::{validate, ArtifactError, ArtifactStore};
use galley_core::{ErrorCode, HasErrorCode as _};
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStoreExt as _, RetryConfig};

const PREFIX: &str = "galley/artifacts";

/// The endpoint, or `None` after saying loudly that the case skipped. Written straight to the
/// stderr handle because the test harness swallows `eprintln!` of passing tests.
fn endpoint(case: &str) -> Option<String> {
    let Ok(endpoint) = std::env::var("GALLEY_TEST_S3_ENDPOINT") else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: GALLEY_TEST_S3_ENDPOINT is not set ({case}; scripts/s3-test-server.sh starts an S3 server)"
        );
        return None;
    };
    // The store under test reads AWS_ENDPOINT_URL like a real server would; with another value
    // the cases would silently run against some other S3.
    assert_eq!(
        std::env::var("AWS_ENDPOINT_URL").ok().as_deref(),
        Some(endpoint.as_str()),
        "GALLEY_TEST_S3_ENDPOINT is set but AWS_ENDPOINT_URL differs; \
         eval \"$(scripts/s3-test-server.sh)\" sets both"
    );
    Some(endpoint)
}

/// Bucket names are global to the server and the server outlives a test run.
fn unique_bucket() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    format!(
        "galley-test-{:x}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

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

async fn s3(case: &str) -> Option<cases::Backend> {
    let endpoint = endpoint(case)?;
    let bucket = create_bucket(&endpoint).await;
    let raw = AmazonS3Builder::from_env()
        .with_bucket_name(&bucket)
        .build()
        .unwrap();
    Some(cases::Backend {
        store: ArtifactStore::open(&format!("s3://{bucket}/{PREFIX}")).unwrap(),
        raw: Arc::new(raw),
        prefix: PREFIX.into(),
        _dir: None,
    })
}

cases::conformance!(s3);

fn assert_unavailable<T>(result: Result<T, ArtifactError>, what: &str) {
    match result {
        Err(e @ ArtifactError::Unavailable(_)) => {
            assert_eq!(e.code(), ErrorCode::TemporarilyUnavailable, "{what}");
            assert_eq!(e.code().http_status(), 503, "{what}");
        }
        Err(e) => panic!("{what}: expected Unavailable, got {e:?}"),
        Ok(_) => panic!("{what}: expected Unavailable, got Ok"),
    }
}

/// Every operation an S3 store in trouble can be asked for.
async fn assert_every_operation_unavailable(store: &ArtifactStore) {
    let path = validate("run/artifacts/file.txt").unwrap();
    let body = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]);
    assert_unavailable(store.put(&path, body).await, "put");
    assert_unavailable(
        store.put_bytes(&path, Bytes::from_static(b"x")).await,
        "put_bytes",
    );
    assert_unavailable(store.get(&path).await.map(|_| ()), "get");
    assert_unavailable(store.list(None).await, "list root");
    assert_unavailable(
        store.list(Some(&validate("run").unwrap())).await,
        "list dir",
    );
    assert_unavailable(store.delete(&path).await, "delete");
    assert_unavailable(store.check().await, "check");
}

#[test]
fn malformed_s3_roots_are_rejected_at_open() {
    for root in [
        "s3://",
        "s3:///prefix",
        "s3://bucket?versionId=1",
        "s3://user@bucket/x",
        "s3://bucket:9000/x",
        "s3://bucket/../escape",
        "s3://bucket//double",
        "s3://bucket/a/./b",
    ] {
        let error = ArtifactStore::open(root).unwrap_err();
        assert!(
            matches!(error, ArtifactError::InvalidRoot { .. }),
            "{root}: {error:?}"
        );
        assert_eq!(error.code(), ErrorCode::InvalidParameterValue, "{root}");
    }
}

#[test]
fn well_formed_s3_roots_open_without_contacting_anything() {
    for root in [
        "s3://bucket",
        "s3://bucket/",
        "s3://my.bucket-1/a/b/",
        "s3://b/x y",
    ] {
        let store = ArtifactStore::open(root).unwrap();
        assert_eq!(store.root(), root);
    }
}

/// Needs no server: nothing listens on a port just released.
#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s3 = AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name("galley")
        .with_access_key_id("galley-test")
        .with_secret_access_key("galley-test")
        .with_retry(RetryConfig {
            max_retries: 1,
            retry_timeout: Duration::from_secs(5),
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let store = ArtifactStore::from_object_store(Arc::new(s3), "s3://galley");
    assert_every_operation_unavailable(&store).await;
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable_not_a_missing_artifact() {
    if endpoint("a_missing_bucket_is_unavailable_not_a_missing_artifact").is_none() {
        return;
    }
    let store = ArtifactStore::open(&format!("s3://{}/{PREFIX}", unique_bucket())).unwrap();
    assert_every_operation_unavailable(&store).await;
}

#[tokio::test]
async fn a_bucket_root_without_prefix_keeps_keys_as_given() {
    let Some(endpoint) = endpoint("a_bucket_root_without_prefix_keeps_keys_as_given") else {
        return;
    };
    let bucket = create_bucket(&endpoint).await;
    let store = ArtifactStore::open(&format!("s3://{bucket}")).unwrap();
    store
        .put_bytes(
            &validate("1/r/artifacts/a.txt").unwrap(),
            Bytes::from_static(b"abc"),
        )
        .await
        .unwrap();
    let raw = AmazonS3Builder::from_env()
        .with_bucket_name(&bucket)
        .build()
        .unwrap();
    let object = raw
        .get(&object_store::path::Path::from("1/r/artifacts/a.txt"))
        .await
        .unwrap();
    assert_eq!(object.bytes().await.unwrap().as_ref(), b"abc");
}
