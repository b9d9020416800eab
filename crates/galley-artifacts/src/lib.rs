//! The artifact store: run artifacts and model files behind `object_store`, so a local folder (the
//! default) and S3-compatible stores share one code path. Uploads and downloads are streamed.

mod path;

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use galley_core::{ErrorCode, HasErrorCode};
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart};

pub use path::{validate, ArtifactPath};

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{0}")]
    InvalidPath(String),
    #[error("Artifact '{0}' not found")]
    NotFound(String),
    #[error("unsupported artifact root '{0}': use a local folder path or file:// URL")]
    UnsupportedRoot(String),
    #[error("artifact storage error: {0}")]
    Storage(#[from] object_store::Error),
    #[error("upload interrupted: {0}")]
    Upload(String),
}

impl HasErrorCode for ArtifactError {
    fn code(&self) -> ErrorCode {
        match self {
            ArtifactError::InvalidPath(_) | ArtifactError::UnsupportedRoot(_) => {
                ErrorCode::InvalidParameterValue
            }
            ArtifactError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            ArtifactError::Upload(_) => ErrorCode::BadRequest,
            ArtifactError::Storage(object_store::Error::NotFound { .. }) => {
                ErrorCode::ResourceDoesNotExist
            }
            ArtifactError::Storage(_) => ErrorCode::InternalError,
        }
    }
}

pub type Result<T, E = ArtifactError> = std::result::Result<T, E>;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// The entry's name relative to the listed directory (MLflow lists basenames).
    pub name: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

/// A download: the byte stream and, where known, its length.
pub struct Download {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes>>,
}

#[derive(Clone, Debug)]
pub struct ArtifactStore {
    inner: Arc<dyn ObjectStore>,
    root: String,
}

impl ArtifactStore {
    /// Opens the store at `root`: a folder path or `file://` URL, created when missing.
    pub fn open(root: &str) -> Result<ArtifactStore> {
        let folder = match root.split_once("://") {
            None => root,
            Some(("file", rest)) => rest,
            Some(_) => return Err(ArtifactError::UnsupportedRoot(root.to_string())),
        };
        std::fs::create_dir_all(folder).map_err(|e| {
            ArtifactError::Storage(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            })
        })?;
        let local = LocalFileSystem::new_with_prefix(folder)?.with_automatic_cleanup(true);
        Ok(ArtifactStore {
            inner: Arc::new(local),
            root: root.to_string(),
        })
    }

    /// Wraps any object store, for backends configured outside this crate.
    pub fn from_object_store(inner: Arc<dyn ObjectStore>, root: impl Into<String>) -> Self {
        ArtifactStore {
            inner,
            root: root.into(),
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// Streams `body` into `path`. The object appears only once the whole body arrived, so a
    /// dropped upload leaves nothing behind.
    pub async fn put<S, E>(&self, path: &ArtifactPath, body: S) -> Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        let upload = self.inner.put_multipart(path.as_object_path()).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut body = body;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    written += bytes.len() as u64;
                    writer.wait_for_capacity(8).await?;
                    writer.write(&bytes);
                }
                Err(e) => {
                    writer.abort().await?;
                    return Err(ArtifactError::Upload(e.to_string()));
                }
            }
        }
        writer.finish().await?;
        Ok(written)
    }

    pub async fn put_bytes(&self, path: &ArtifactPath, bytes: Bytes) -> Result<()> {
        self.inner
            .put(path.as_object_path(), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, path: &ArtifactPath) -> Result<Download> {
        let result = self
            .inner
            .get(path.as_object_path())
            .await
            .map_err(|e| not_found_as(e, path))?;
        let size = result.meta.size;
        let stream = result.into_stream().map_err(ArtifactError::from).boxed();
        Ok(Download { size, stream })
    }

    /// Lists the direct children of `dir` (the root when `None`). A missing directory is empty.
    pub async fn list(&self, dir: Option<&ArtifactPath>) -> Result<Vec<ArtifactEntry>> {
        let prefix = dir.map(|d| d.as_object_path());
        let listing = match self.inner.list_with_delimiter(prefix).await {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut entries: Vec<ArtifactEntry> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .map(|name| ArtifactEntry {
                name: name.to_string(),
                is_dir: true,
                size: None,
            })
            .chain(listing.objects.iter().filter_map(|o| {
                o.location.filename().map(|name| ArtifactEntry {
                    name: name.to_string(),
                    is_dir: false,
                    size: Some(o.size),
                })
            }))
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Deletes a file, or everything under a directory.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let children: Vec<_> = self
            .inner
            .list(Some(path.as_object_path()))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        if children.is_empty() {
            return self
                .inner
                .delete(path.as_object_path())
                .await
                .map_err(|e| not_found_as(e, path));
        }
        for child in children {
            self.inner.delete(&child).await?;
        }
        Ok(())
    }
}

fn not_found_as(error: object_store::Error, path: &ArtifactPath) -> ArtifactError {
    match error {
        object_store::Error::NotFound { .. } => ArtifactError::NotFound(path.to_string()),
        other => ArtifactError::Storage(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ArtifactStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn streams_in_lists_and_deletes() {
        let (_dir, store) = store();
        let path = validate("1/run/artifacts/model/MLmodel").unwrap();
        let chunks = futures::stream::iter(vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"flavors:")),
            Ok(Bytes::from_static(b" {}\n")),
        ]);
        assert_eq!(store.put(&path, chunks).await.unwrap(), 12);
        let download = store.get(&path).await.unwrap();
        assert_eq!(download.size, 12);
        let body: Vec<Bytes> = download.stream.try_collect().await.unwrap();
        assert_eq!(body.concat(), b"flavors: {}\n");

        let listing = store
            .list(Some(&validate("1/run/artifacts").unwrap()))
            .await
            .unwrap();
        assert_eq!(
            listing,
            vec![ArtifactEntry {
                name: "model".into(),
                is_dir: true,
                size: None
            }]
        );
        assert!(store
            .list(Some(&validate("nothing/here").unwrap()))
            .await
            .unwrap()
            .is_empty());

        store
            .delete(&validate("1/run/artifacts/model").unwrap())
            .await
            .unwrap();
        assert!(matches!(
            store.get(&path).await,
            Err(ArtifactError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn failed_upload_leaves_nothing() {
        let (_dir, store) = store();
        let path = validate("a/b.bin").unwrap();
        let chunks = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err(std::io::Error::other("client went away")),
        ]);
        assert!(store.put(&path, chunks).await.is_err());
        assert!(matches!(
            store.get(&path).await,
            Err(ArtifactError::NotFound(_))
        ));
    }
}
