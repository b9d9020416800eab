//! The artifact store: run artifacts and model files behind `object_store`, so a local folder (the
//! default) and S3-compatible stores share one code path. Uploads and downloads are streamed.

mod path;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use galley_core::{ErrorCode, HasErrorCode};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt as _, PutPayload, RetryConfig, WriteMultipart,
};

pub use path::{validate, ArtifactPath};

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{0}")]
    InvalidPath(String),
    #[error("Artifact '{0}' not found")]
    NotFound(String),
    #[error(
        "unsupported artifact root '{0}': use a local folder path, a file:// URL or s3://bucket[/prefix]"
    )]
    UnsupportedRoot(String),
    #[error("invalid artifact root '{root}': {reason}")]
    InvalidRoot { root: String, reason: String },
    #[error("artifact storage error: {0}")]
    Storage(object_store::Error),
    /// The backing store could not serve the request but may on retry: unreachable, overloaded,
    /// or (S3) the bucket is missing or the endpoint refused the request's configuration.
    #[error("artifact storage unavailable: {0}")]
    Unavailable(object_store::Error),
    #[error("upload interrupted: {0}")]
    Upload(String),
}

impl HasErrorCode for ArtifactError {
    fn code(&self) -> ErrorCode {
        match self {
            ArtifactError::InvalidPath(_)
            | ArtifactError::UnsupportedRoot(_)
            | ArtifactError::InvalidRoot { .. } => ErrorCode::InvalidParameterValue,
            ArtifactError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            ArtifactError::Upload(_) => ErrorCode::BadRequest,
            ArtifactError::Storage(object_store::Error::NotFound { .. }) => {
                ErrorCode::ResourceDoesNotExist
            }
            ArtifactError::Storage(_) => ErrorCode::InternalError,
            ArtifactError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
        }
    }
}

impl From<object_store::Error> for ArtifactError {
    fn from(error: object_store::Error) -> Self {
        if is_unavailable(&error) {
            ArtifactError::Unavailable(error)
        } else {
            ArtifactError::Storage(error)
        }
    }
}

/// Whether a failure is the backend's rather than the request's, so that clients (MLflow's
/// retries 5xx for minutes) get a 503 and try again. Local-folder failures keep their old
/// mapping: a full disk or a permission error is not going to pass on its own.
fn is_unavailable(error: &object_store::Error) -> bool {
    match error {
        // Whatever S3 answers that object_store does not map to a specific variant has already
        // been retried: transport failures, 5xx and throttling, and requests the endpoint refused
        // because of the server's configuration (region, bucket). None is the client's fault.
        object_store::Error::Generic { store: "S3", .. } => true,
        // S3 says 404 for a missing bucket too; that is a misconfigured server, not a missing
        // artifact. The code is in the response body, which object_store keeps in the message.
        object_store::Error::NotFound { .. } => error.to_string().contains("NoSuchBucket"),
        _ => {
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                if inner.is::<object_store::client::HttpError>() {
                    return true;
                }
                source = inner.source();
            }
            false
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
    /// Opens the store at `root`: a folder path or `file://` URL, created when missing, or
    /// `s3://bucket[/prefix]`, configured by the standard `AWS_*` environment variables
    /// (`AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for S3-compatible servers). Nothing is
    /// contacted here; [`ArtifactStore::check`] does that.
    pub fn open(root: &str) -> Result<ArtifactStore> {
        match root.split_once("://") {
            None => Self::open_folder(root, root),
            Some(("file", folder)) => Self::open_folder(folder, root),
            Some(("s3", location)) => Self::open_s3(location, root),
            Some(_) => Err(ArtifactError::UnsupportedRoot(root.to_string())),
        }
    }

    fn open_folder(folder: &str, root: &str) -> Result<ArtifactStore> {
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

    /// `location` is `bucket[/prefix]`; every key lives under the prefix, so several servers (or
    /// a server and other data) can share a bucket.
    fn open_s3(location: &str, root: &str) -> Result<ArtifactStore> {
        let invalid = |reason: String| ArtifactError::InvalidRoot {
            root: root.to_string(),
            reason,
        };
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        // Legacy buckets may hold capitals and underscores; anything else (`?`, `@`, `:`)
        // would be silently reinterpreted inside the request URL.
        let valid_bucket = !bucket.is_empty()
            && bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_bucket {
            return Err(invalid(format!("'{bucket}' is not an S3 bucket name")));
        }
        let prefix = match prefix.trim_end_matches('/') {
            "" => None,
            p => {
                Some(validate(p).map_err(|_| invalid(format!("'{p}' is not a valid key prefix")))?)
            }
        };
        let s3 = s3_builder_from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let inner: Arc<dyn ObjectStore> = match prefix {
            Some(prefix) => Arc::new(PrefixStore::new(s3, prefix.as_object_path().clone())),
            None => Arc::new(s3),
        };
        Ok(ArtifactStore {
            inner,
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

    /// Lists the root once, so a caller can fail at startup on an unreachable store, a missing
    /// bucket or rejected credentials instead of on the first request.
    pub async fn check(&self) -> Result<()> {
        self.inner.list_with_delimiter(None).await?;
        Ok(())
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

    /// The whole file at `path` in memory, for files the caller must see entire (Parquet footers).
    pub async fn get_bytes(&self, path: &ArtifactPath) -> Result<Bytes> {
        let result = self
            .inner
            .get(path.as_object_path())
            .await
            .map_err(|e| not_found_as(e, path))?;
        Ok(result.bytes().await?)
    }

    /// Lists the direct children of `dir` (the root when `None`). A missing directory is empty.
    pub async fn list(&self, dir: Option<&ArtifactPath>) -> Result<Vec<ArtifactEntry>> {
        let prefix = dir.map(|d| d.as_object_path());
        let listing = match self.inner.list_with_delimiter(prefix).await {
            Ok(listing) => listing,
            Err(e @ object_store::Error::NotFound { .. }) if !is_unavailable(&e) => {
                return Ok(Vec::new())
            }
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

    /// Deletes a file, or everything under a directory. A missing path is `NotFound`.
    pub async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let children: Vec<_> = self
            .inner
            .list(Some(path.as_object_path()))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        if children.is_empty() {
            // S3 acknowledges deleting a missing key; ask first so every backend says NotFound.
            self.inner
                .head(path.as_object_path())
                .await
                .map_err(|e| not_found_as(e, path))?;
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

/// `AmazonS3Builder::from_env`, over Galley's defaults instead of object_store's, so that the
/// `AWS_*` variables (`AWS_TIMEOUT`, `AWS_READ_TIMEOUT` included) still have the last word.
fn s3_builder_from_env() -> AmazonS3Builder {
    // object_store's 30 s request timeout runs until the response body is read, which would cut
    // off every download that a client reads for longer; stalls are caught per read instead.
    let options = ClientOptions::new()
        .with_timeout_disabled()
        .with_read_timeout(Duration::from_secs(60));
    let mut builder = AmazonS3Builder::new()
        .with_client_options(options)
        // The defaults retry for up to 3 minutes, longer than the MLflow client waits for an
        // answer (120 s); that client retries 5xx itself, so fail fast and let it.
        .with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
            ..RetryConfig::default()
        });
    // `vars_os`, not `vars`: one non-UTF-8 variable anywhere must not panic the server.
    for (key, value) in std::env::vars_os() {
        let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
            continue;
        };
        if key.starts_with("AWS_") {
            if let Ok(config_key) = key.to_ascii_lowercase().parse() {
                builder = builder.with_config(config_key, value);
            }
        }
    }
    builder
}

fn not_found_as(error: object_store::Error, path: &ArtifactPath) -> ArtifactError {
    match error {
        object_store::Error::NotFound { .. } if !is_unavailable(&error) => {
            ArtifactError::NotFound(path.to_string())
        }
        other => other.into(),
    }
}
