//! The artifact-store conformance cases on a local folder, the default root, plus what only
//! folder roots have: `file://` URLs and the rejection of schemes Galley does not know.

mod cases;

use std::sync::Arc;

use galley_artifacts::{ArtifactError, ArtifactStore};
use galley_core::{ErrorCode, HasErrorCode as _};
use object_store::local::LocalFileSystem;

/// The root is a folder inside the temp dir, so the raw view can see anything that escapes it.
async fn folder(_case: &str) -> Option<cases::Backend> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    Some(cases::Backend {
        store: ArtifactStore::open(root.to_str().unwrap()).unwrap(),
        raw: Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
        prefix: "artifacts".into(),
        _dir: Some(dir),
    })
}

cases::conformance!(folder);

#[tokio::test]
async fn file_urls_open_the_folder_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("nested/root");
    let url = format!("file://{}", folder.display());
    let store = ArtifactStore::open(&url).unwrap();
    assert_eq!(store.root(), url);
    assert!(folder.is_dir());
    store.check().await.unwrap();
}

#[test]
fn unknown_schemes_are_rejected() {
    for root in [
        "gs://bucket/x",
        "hdfs://namenode/x",
        "https://example.com/x",
    ] {
        let error = ArtifactStore::open(root).unwrap_err();
        assert!(
            matches!(error, ArtifactError::UnsupportedRoot(_)),
            "{root}: {error:?}"
        );
        assert_eq!(error.code(), ErrorCode::InvalidParameterValue);
        assert!(error.to_string().contains("s3://"), "{error}");
    }
}
