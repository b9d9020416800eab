//! Where a source's rows are read from (a file or folder on disk, or `artifacts:/PATH` fetched
//! from the artifact store) and whether its columns can feed the views defined on it.

use std::path::{Path, PathBuf};

use arrow_schema::{DataType, Schema};
use galley_artifacts::{validate, ArtifactStore};
use galley_features::definitions::{Definitions, FeatureView, Source};
use galley_features::value::Dtype;
use galley_features::{FeatureError, Result};
use galley_features_offline::{OfflineError, OfflineSource};

use crate::arrow_values::{accepts, is_time};

/// The prefix naming a source in the server's artifact store.
const ARTIFACTS_PREFIX: &str = "artifacts:/";

pub(crate) struct SourceResolver {
    artifacts: ArtifactStore,
    work_dir: PathBuf,
}

/// A source opened for reading; a fetched copy lives as long as this does.
pub(crate) struct OpenedSource {
    pub(crate) table: OfflineSource,
    _fetched: Option<tempfile::TempDir>,
}

impl SourceResolver {
    pub(crate) fn new(artifacts: ArtifactStore, work_dir: PathBuf) -> Self {
        Self {
            artifacts,
            work_dir,
        }
    }

    pub(crate) async fn open(&self, source: &Source) -> Result<OpenedSource> {
        let Some(artifact) = source.path.strip_prefix(ARTIFACTS_PREFIX) else {
            let path = PathBuf::from(&source.path);
            let table = blocking(move || OfflineSource::open(&path)).await?;
            return Ok(OpenedSource {
                table,
                _fetched: None,
            });
        };
        let fetched = tempfile::tempdir_in(&self.work_dir).map_err(|e| {
            FeatureError::Unavailable(format!("cannot make a download folder: {e}"))
        })?;
        let local = self.fetch(artifact, fetched.path()).await.map_err(|e| {
            FeatureError::Unavailable(format!(
                "source {}: cannot fetch {}: {e}",
                source.name, source.path
            ))
        })?;
        let table = blocking(move || OfflineSource::open(&local)).await?;
        Ok(OpenedSource {
            table,
            _fetched: Some(fetched),
        })
    }

    /// Copies the artifact (a file, or every file directly in a folder) under `into`.
    async fn fetch(&self, artifact: &str, into: &Path) -> Result<PathBuf, String> {
        let path = validate(artifact.trim_matches('/')).map_err(|e| e.to_string())?;
        let entries = self
            .artifacts
            .list(Some(&path))
            .await
            .map_err(|e| e.to_string())?;
        let files: Vec<String> = entries
            .into_iter()
            .filter(|e| !e.is_dir)
            .map(|e| format!("{}/{}", artifact.trim_matches('/'), e.name))
            .collect();
        if files.is_empty() {
            let name = artifact.rsplit('/').next().unwrap_or("source");
            let local = into.join(name);
            self.copy(artifact, &local).await?;
            return Ok(local);
        }
        for file in &files {
            let name = file.rsplit('/').next().unwrap_or("part");
            self.copy(file, &into.join(name)).await?;
        }
        Ok(into.to_path_buf())
    }

    async fn copy(&self, artifact: &str, local: &Path) -> Result<(), String> {
        let path = validate(artifact.trim_matches('/')).map_err(|e| e.to_string())?;
        let bytes = self
            .artifacts
            .get_bytes(&path)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::write(local, bytes)
            .await
            .map_err(|e| e.to_string())
    }

    /// Checks every feature view against its source's columns: the join keys, the timestamp
    /// columns and each feature must be there with a fitting type. All problems at once.
    pub(crate) async fn check(&self, definitions: &Definitions) -> Result<()> {
        let mut problems = Vec::new();
        for source in &definitions.sources {
            let views: Vec<&FeatureView> = definitions
                .feature_views
                .iter()
                .filter(|v| v.source == source.name)
                .collect();
            if views.is_empty() {
                continue;
            }
            let opened = match self.open(source).await {
                Ok(opened) => opened,
                Err(error) => {
                    problems.push(format!("source {}: {error}", source.name));
                    continue;
                }
            };
            let schema = opened.table.schema();
            for view in views {
                check_view(definitions, view, source, &schema, &mut problems);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(FeatureError::InvalidInput(problems.join("; ")))
        }
    }
}

fn check_view(
    definitions: &Definitions,
    view: &FeatureView,
    source: &Source,
    schema: &Schema,
    problems: &mut Vec<String>,
) {
    let at = format!("feature view {} (source {})", view.name, source.name);
    let column = |name: &str| schema.field_with_name(name).ok().map(|f| f.data_type());
    let mut require = |name: &str, role: &str, fits: &dyn Fn(&DataType) -> bool, wants: &str| {
        match column(name) {
            None => problems.push(format!("{at}: the source has no {role} column {name:?}")),
            Some(t) if !fits(t) => problems.push(format!(
                "{at}: {role} column {name:?} is {t}, which cannot be {wants}"
            )),
            Some(_) => {}
        }
    };
    for key in definitions.join_keys(view) {
        let declared = definitions.join_key_type(view, &key);
        let fits = |t: &DataType| match declared {
            Some(Dtype::String) => accepts(Dtype::String, t),
            Some(dtype) => accepts(dtype, t) && t.is_integer(),
            None => t.is_integer() || accepts(Dtype::String, t),
        };
        let wants = declared.map_or("an entity key (an integer or a string)".to_string(), |d| {
            format!("an entity key of type {d}")
        });
        require(&key, "join key", &fits, &wants);
    }
    require(
        &source.timestamp_field,
        "timestamp",
        &is_time,
        "an event time",
    );
    if let Some(created) = &source.created_timestamp_column {
        require(created, "created timestamp", &is_time, "a creation time");
    }
    for field in &view.schema {
        let dtype = field.dtype;
        require(
            &field.name,
            "feature",
            &move |t: &DataType| accepts(dtype, t),
            &format!("a {dtype} feature"),
        );
    }
}

/// Runs file work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OfflineError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| FeatureError::Unavailable(format!("file work stopped: {e}")))?
        .map_err(offline_error)
}

/// Problems with the caller's data are theirs to fix (4xx); failing disks may pass (5xx).
pub(crate) fn offline_error(error: OfflineError) -> FeatureError {
    match error {
        OfflineError::Io(e) => FeatureError::Unavailable(e.to_string()),
        other => FeatureError::InvalidInput(other.to_string()),
    }
}
