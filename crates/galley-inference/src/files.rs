//! Reading a model version's files wherever the registry says they are: behind the artifact
//! store (`mlflow-artifacts:/...`, the default) or in a local folder (`file://` or a path).
//! Finding the model file in them: a `.onnx` location, an MLflow `onnx` flavor, or one `.onnx`.

use std::path::PathBuf;

use futures::TryStreamExt as _;
use galley_artifacts::{validate, ArtifactStore};

use galley_serving::ServingError;

/// The scheme MLflow clients use for files behind the server's artifact proxy.
const PROXY_SCHEME: &str = "mlflow-artifacts:";

/// How deep the search for a lone `.onnx` file goes below the version's folder.
const MAX_SEARCH_DEPTH: usize = 3;

/// Where one version's files live.
pub enum ModelFiles {
    Artifacts { store: ArtifactStore, root: String },
    Local(PathBuf),
}

impl ModelFiles {
    /// `None` for locations Galley cannot read (another server's URI, a cloud bucket it has no
    /// credentials for).
    pub fn at(location: &str, artifacts: &ArtifactStore) -> Option<ModelFiles> {
        if let Some(rest) = location.strip_prefix(PROXY_SCHEME) {
            // `mlflow-artifacts:/1/abc` and `mlflow-artifacts://host/1/abc` both name `1/abc`.
            let path = match rest.strip_prefix("//") {
                Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
                None => rest,
            };
            return Some(ModelFiles::Artifacts {
                store: artifacts.clone(),
                root: path.trim_matches('/').to_string(),
            });
        }
        if let Some(path) = location.strip_prefix("file://") {
            return Some(ModelFiles::Local(PathBuf::from(path)));
        }
        location
            .starts_with('/')
            .then(|| ModelFiles::Local(PathBuf::from(location)))
    }

    fn join(&self, relative: &str) -> String {
        match self {
            ModelFiles::Artifacts { root, .. } => [root.as_str(), relative]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/"),
            ModelFiles::Local(_) => relative.to_string(),
        }
    }

    /// The bytes of the file at `relative` (empty: the location itself is the file).
    pub async fn read(&self, relative: &str) -> Result<Vec<u8>, ServingError> {
        let unreadable = |e: &dyn std::fmt::Display| {
            ServingError::UnsupportedModel(format!("cannot read model file '{relative}': {e}"))
        };
        match self {
            ModelFiles::Artifacts { store, .. } => {
                let path = validate(&self.join(relative)).map_err(|e| unreadable(&e))?;
                let download = store.get(&path).await.map_err(|e| unreadable(&e))?;
                let chunks: Vec<bytes::Bytes> = download
                    .stream
                    .try_collect()
                    .await
                    .map_err(|e| unreadable(&e))?;
                Ok(chunks.concat())
            }
            ModelFiles::Local(root) => {
                let path = if relative.is_empty() {
                    root.clone()
                } else {
                    root.join(relative)
                };
                tokio::fs::read(&path).await.map_err(|e| unreadable(&e))
            }
        }
    }

    /// Entries of the folder at `relative`: (name, is_dir). Empty when it is not a folder.
    async fn list(&self, relative: &str) -> Vec<(String, bool)> {
        match self {
            ModelFiles::Artifacts { store, .. } => {
                let joined = self.join(relative);
                let dir = if joined.is_empty() {
                    None
                } else {
                    match validate(&joined) {
                        Ok(path) => Some(path),
                        Err(_) => return Vec::new(),
                    }
                };
                store
                    .list(dir.as_ref())
                    .await
                    .map(|entries| entries.into_iter().map(|e| (e.name, e.is_dir)).collect())
                    .unwrap_or_default()
            }
            ModelFiles::Local(root) => {
                let mut entries = Vec::new();
                let Ok(mut dir) = tokio::fs::read_dir(root.join(relative)).await else {
                    return entries;
                };
                while let Ok(Some(entry)) = dir.next_entry().await {
                    let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
                    entries.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
                }
                entries
            }
        }
    }

    /// The model file's path relative to the version's folder: `""` when the location is the
    /// `.onnx` file itself, the MLflow `onnx` flavor's data file, or else the shallowest `.onnx`
    /// file (first by name). `None` when there is no ONNX model.
    pub async fn find_onnx(&self, location: &str) -> Option<String> {
        if location.ends_with(".onnx") {
            return Some(String::new());
        }
        let top = self.list("").await;
        if top.iter().any(|(name, dir)| name == "MLmodel" && !dir) {
            if let Ok(bytes) = self.read("MLmodel").await {
                if let Some(data) = onnx_flavor_data(&String::from_utf8_lossy(&bytes)) {
                    return Some(data);
                }
            }
        }
        let mut level = vec![(String::new(), top)];
        for _ in 0..MAX_SEARCH_DEPTH {
            let mut found: Vec<String> = level
                .iter()
                .flat_map(|(prefix, entries)| {
                    entries
                        .iter()
                        .filter(|(name, dir)| !dir && name.ends_with(".onnx"))
                        .map(move |(name, _)| prefixed(prefix, name))
                })
                .collect();
            if !found.is_empty() {
                found.sort();
                return found.into_iter().next();
            }
            let mut next = Vec::new();
            for (prefix, entries) in &level {
                for (name, _) in entries.iter().filter(|(_, dir)| *dir) {
                    let path = prefixed(prefix, name);
                    let entries = self.list(&path).await;
                    next.push((path, entries));
                }
            }
            level = next;
        }
        None
    }
}

fn prefixed(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The `data` file of the `onnx` flavor in an MLmodel file:
///
/// ```yaml
/// flavors:
///   onnx:
///     data: model.onnx
/// ```
///
/// MLmodel files are machine-written with this fixed layout, so an indentation scan reads the
/// one key Galley needs without a YAML parser.
pub fn onnx_flavor_data(mlmodel: &str) -> Option<String> {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut lines = mlmodel.lines().skip_while(|l| l.trim_end() != "flavors:");
    lines.next()?;
    let mut in_onnx: Option<usize> = None;
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let depth = indent(line);
        if depth == 0 {
            break;
        }
        match in_onnx {
            None if line.trim_end().trim_start() == "onnx:" => in_onnx = Some(depth),
            Some(flavor_depth) if depth <= flavor_depth => in_onnx = None,
            Some(_) => {
                if let Some(value) = line.trim_start().strip_prefix("data:") {
                    let value = value.trim().trim_matches(['\'', '"']);
                    return (!value.is_empty()).then(|| value.to_string());
                }
            }
            None => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_onnx_flavor_of_an_mlmodel_file() {
        let mlmodel = "artifact_path: model\nflavors:\n  python_function:\n    data: other.bin\n    \
                       loader_module: mlflow.onnx\n  onnx:\n    code: null\n    data: model.onnx\n    \
                       onnx_version: 1.17.0\nmlflow_version: 3.17.2\n";
        assert_eq!(onnx_flavor_data(mlmodel).as_deref(), Some("model.onnx"));
        let sklearn = "flavors:\n  sklearn:\n    pickled_model: model.pkl\n";
        assert_eq!(onnx_flavor_data(sklearn), None);
        assert_eq!(onnx_flavor_data("no flavors here"), None);
    }

    #[test]
    fn locations_galley_can_read() {
        let store =
            ArtifactStore::open(tempfile::tempdir().unwrap().path().to_str().unwrap()).unwrap();
        let proxied = ModelFiles::at("mlflow-artifacts:/1/abc/artifacts/model", &store).unwrap();
        assert_eq!(
            proxied.join("model.onnx"),
            "1/abc/artifacts/model/model.onnx"
        );
        let with_host = ModelFiles::at("mlflow-artifacts://host:5000/1/abc", &store).unwrap();
        assert_eq!(with_host.join(""), "1/abc");
        assert!(matches!(
            ModelFiles::at("file:///models/m.onnx", &store),
            Some(ModelFiles::Local(_))
        ));
        assert!(ModelFiles::at("s3://bucket/model", &store).is_none());
    }
}
