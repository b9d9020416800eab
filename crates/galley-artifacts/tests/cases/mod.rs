//! The artifact-store conformance cases: every backend (a local folder in `tests/local.rs`, S3 in
//! `tests/s3.rs`) runs this one list through `conformance!`, so their behaviour cannot drift.
//! A case gets a fresh, empty store and a raw view of what lies around it.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use galley_artifacts::{validate, ArtifactEntry, ArtifactError, ArtifactStore};
use galley_core::{ErrorCode, HasErrorCode as _};
use object_store::ObjectStore;

/// One fresh store under test.
pub struct Backend {
    pub store: ArtifactStore,
    /// The folder or bucket that holds the store's root, without the root's prefix, to see
    /// where objects really land.
    pub raw: Arc<dyn ObjectStore>,
    /// The store's root inside `raw`.
    pub prefix: String,
    pub _dir: Option<tempfile::TempDir>,
}

/// Declares every case below as a test; `$backend` is an `async fn(case: &str) -> Option<Backend>`,
/// `None` meaning the backend is not configured and the case skips (the backend says so).
macro_rules! conformance {
    ($backend:expr) => {
        $crate::cases::conformance!(
            @cases $backend;
            streams_in_lists_and_deletes,
            failed_upload_leaves_nothing,
            large_uploads_stream_in_parts,
            empty_uploads_round_trip,
            uploads_replace_existing_artifacts,
            lists_direct_children_sorted_by_name,
            deletes_files_and_directories_and_reports_missing_ones,
            everything_lands_under_the_root,
            reachable_store_passes_check,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(backend) = $backend(stringify!($case)).await else { return };
                $crate::cases::$case(&backend).await;
            }
        )*
    };
}
pub(crate) use conformance;

fn chunks(
    parts: &[&'static [u8]],
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin {
    futures::stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    )
}

async fn read(store: &ArtifactStore, path: &str) -> (u64, Vec<u8>) {
    let download = store.get(&validate(path).unwrap()).await.unwrap();
    let body: Vec<Bytes> = download.stream.try_collect().await.unwrap();
    (download.size, body.concat())
}

async fn put(store: &ArtifactStore, path: &str, body: &'static [u8]) {
    store
        .put(&validate(path).unwrap(), chunks(&[body]))
        .await
        .unwrap();
}

fn assert_not_found<T>(result: Result<T, ArtifactError>) {
    match result {
        Err(e @ ArtifactError::NotFound(_)) => {
            assert_eq!(e.code(), ErrorCode::ResourceDoesNotExist)
        }
        Err(e) => panic!("expected NotFound, got {e:?}"),
        Ok(_) => panic!("expected NotFound, got Ok"),
    }
}

fn file(name: &str, size: u64) -> ArtifactEntry {
    ArtifactEntry {
        name: name.into(),
        is_dir: false,
        size: Some(size),
    }
}

fn dir(name: &str) -> ArtifactEntry {
    ArtifactEntry {
        name: name.into(),
        is_dir: true,
        size: None,
    }
}

pub async fn streams_in_lists_and_deletes(b: &Backend) {
    let store = &b.store;
    let path = validate("1/run/artifacts/model/MLmodel").unwrap();
    let written = store
        .put(&path, chunks(&[b"flavors:", b" {}\n"]))
        .await
        .unwrap();
    assert_eq!(written, 12);
    assert_eq!(
        read(store, "1/run/artifacts/model/MLmodel").await,
        (12, b"flavors: {}\n".to_vec())
    );

    let listing = store
        .list(Some(&validate("1/run/artifacts").unwrap()))
        .await
        .unwrap();
    assert_eq!(listing, vec![dir("model")]);
    assert!(store
        .list(Some(&validate("nothing/here").unwrap()))
        .await
        .unwrap()
        .is_empty());

    store
        .delete(&validate("1/run/artifacts/model").unwrap())
        .await
        .unwrap();
    assert_not_found(store.get(&path).await);
}

pub async fn failed_upload_leaves_nothing(b: &Backend) {
    let path = validate("a/b.bin").unwrap();
    let body = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::other("client went away")),
    ]);
    let error = b.store.put(&path, body).await.unwrap_err();
    assert!(matches!(error, ArtifactError::Upload(_)), "{error:?}");
    assert_eq!(error.code(), ErrorCode::BadRequest);
    assert_not_found(b.store.get(&path).await);
    // Objects only: a local folder keeps the empty directory the upload was staged in.
    let objects: Vec<_> = b.raw.list(None).try_collect().await.unwrap();
    assert!(objects.is_empty(), "{objects:?}");
}

/// Larger than two multipart parts (5 MiB each), so S3 sees a real multipart upload.
pub async fn large_uploads_stream_in_parts(b: &Backend) {
    let payload: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let body = futures::stream::iter(
        payload
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let path = validate("0/r/artifacts/big.bin").unwrap();
    let written = b.store.put(&path, body).await.unwrap();
    assert_eq!(written, payload.len() as u64);
    let (size, got) = read(&b.store, "0/r/artifacts/big.bin").await;
    assert_eq!(size, payload.len() as u64);
    assert!(got == payload, "downloaded bytes differ from the upload");
    assert_eq!(
        b.store
            .list(Some(&validate("0/r/artifacts").unwrap()))
            .await
            .unwrap(),
        vec![file("big.bin", payload.len() as u64)]
    );
}

pub async fn empty_uploads_round_trip(b: &Backend) {
    let written = b
        .store
        .put(&validate("run/empty.txt").unwrap(), chunks(&[]))
        .await
        .unwrap();
    assert_eq!(written, 0);
    assert_eq!(read(&b.store, "run/empty.txt").await, (0, Vec::new()));
    assert_eq!(
        b.store.list(Some(&validate("run").unwrap())).await.unwrap(),
        vec![file("empty.txt", 0)]
    );
}

pub async fn uploads_replace_existing_artifacts(b: &Backend) {
    put(
        &b.store,
        "run/metrics.json",
        b"{\"old\": true, \"padding\": 0}",
    )
    .await;
    put(&b.store, "run/metrics.json", b"{}").await;
    assert_eq!(
        read(&b.store, "run/metrics.json").await,
        (2, b"{}".to_vec())
    );
    b.store
        .put_bytes(
            &validate("run/metrics.json").unwrap(),
            Bytes::from_static(b"[1]"),
        )
        .await
        .unwrap();
    assert_eq!(
        read(&b.store, "run/metrics.json").await,
        (3, b"[1]".to_vec())
    );
}

pub async fn lists_direct_children_sorted_by_name(b: &Backend) {
    put(&b.store, "b.txt", b"bb").await;
    put(&b.store, "a/x.txt", b"x").await;
    put(&b.store, "c/d/deep.txt", b"deep").await;
    put(&b.store, "c/e.txt", b"eee").await;
    put(&b.store, "with space/n.txt", b"n").await;

    assert_eq!(
        b.store.list(None).await.unwrap(),
        vec![dir("a"), file("b.txt", 2), dir("c"), dir("with space")]
    );
    assert_eq!(
        b.store.list(Some(&validate("c").unwrap())).await.unwrap(),
        vec![dir("d"), file("e.txt", 3)]
    );
    // Clients send directory paths with a trailing slash.
    assert_eq!(
        b.store
            .list(Some(&validate("c/d/").unwrap()))
            .await
            .unwrap(),
        vec![file("deep.txt", 4)]
    );
    // A file is not a directory, and a missing directory is empty rather than an error.
    assert!(b
        .store
        .list(Some(&validate("b.txt").unwrap()))
        .await
        .unwrap()
        .is_empty());
    assert!(b
        .store
        .list(Some(&validate("missing/dir").unwrap()))
        .await
        .unwrap()
        .is_empty());
}

pub async fn deletes_files_and_directories_and_reports_missing_ones(b: &Backend) {
    put(&b.store, "d/one.txt", b"1").await;
    put(&b.store, "d/two.txt", b"2").await;
    put(&b.store, "d/sub/three.txt", b"3").await;
    put(&b.store, "keep/four.txt", b"4").await;

    b.store
        .delete(&validate("d/one.txt").unwrap())
        .await
        .unwrap();
    assert_not_found(b.store.get(&validate("d/one.txt").unwrap()).await);
    assert_eq!(
        b.store.list(Some(&validate("d").unwrap())).await.unwrap(),
        vec![dir("sub"), file("two.txt", 1)]
    );

    b.store.delete(&validate("d").unwrap()).await.unwrap();
    assert!(b
        .store
        .list(Some(&validate("d").unwrap()))
        .await
        .unwrap()
        .is_empty());
    assert_not_found(b.store.get(&validate("d/sub/three.txt").unwrap()).await);
    assert_eq!(b.store.list(None).await.unwrap(), vec![dir("keep")]);

    assert_not_found(b.store.delete(&validate("d").unwrap()).await);
    assert_not_found(b.store.delete(&validate("never/was.txt").unwrap()).await);
    assert_eq!(read(&b.store, "keep/four.txt").await, (1, b"4".to_vec()));
}

/// The traversal guard is `validate`; this checks that what it lets through stays under the
/// root, key for key, and that nothing it rejects can be turned into a key.
pub async fn everything_lands_under_the_root(b: &Backend) {
    let paths = [
        "1/abc/artifacts/model/MLmodel",
        "with space/file.txt",
        "a/.hidden",
        "dir/",
    ];
    for path in paths {
        put(&b.store, path, b"x").await;
    }
    for bad in [
        "../x",
        "a/../../x",
        "%2e%2e/x",
        "/etc/passwd",
        "a\\..\\b",
        "a//b",
    ] {
        let error = validate(bad).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidParameterValue, "{bad}");
    }

    let mut keys: Vec<String> = b
        .raw
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    let mut expected: Vec<String> = paths
        .iter()
        .map(|p| format!("{}/{}", b.prefix, p.trim_end_matches('/')))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
}

pub async fn reachable_store_passes_check(b: &Backend) {
    b.store.check().await.unwrap();
    put(&b.store, "x", b"x").await;
    b.store.check().await.unwrap();
}
