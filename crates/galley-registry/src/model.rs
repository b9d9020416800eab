//! The registry's data: registered models, versions, aliases and stages. Wire formats live in galley-http.

use galley_tracking::model::{Experiment, KeyValue, LoggedModel, Run};
use galley_tracking::search::ast::{Comparison, OrderBy};
use serde::{Deserialize, Serialize};

/// MLflow's (deprecated but widely used) deployment stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Case-insensitive, as MLflow accepts `staging` or `STAGING`.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub user_id: String,
    pub current_stage: Stage,
    pub description: String,
    /// Where the client said the files are (`runs:/...`, `models:/m-...`, or a URI).
    pub source: String,
    /// Where the files really are: `source` with `runs:/` and `models:/m-` resolved.
    pub storage_location: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<String>,
    /// Found in the artifacts at registration; `None` when no format Galley serves was found.
    pub signature: Option<ModelSignature>,
}

impl ModelVersion {
    /// What MLflow's `get-download-uri` answers: a `runs:/` source as given (the client resolves
    /// it through the run), anything else where the files really are.
    pub fn download_uri(&self) -> &str {
        if self.source.starts_with("runs:/") {
            &self.source
        } else {
            &self.storage_location
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub alias: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: String,
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<Alias>,
    /// The newest version in each stage, as MLflow reports `latest_versions`.
    pub latest_versions: Vec<ModelVersion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    pub storage_location: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
    pub description: String,
    pub user_id: String,
    pub tags: Vec<KeyValue>,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySearch {
    pub filter: Vec<Comparison>,
    pub order_by: Vec<OrderBy>,
    pub max_results: u32,
    pub offset: u64,
}

/// One named tensor a model takes or returns. `shape` dims are `None` where the model leaves them
/// open (the batch axis, usually).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    /// Open Inference Protocol datatype names: `FP32`, `INT64`, `BYTES`, ...
    pub datatype: String,
    pub shape: Vec<Option<i64>>,
}

/// What a version's artifacts hold, found when it is registered, so serving can validate
/// requests without loading the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSignature {
    /// `onnx` for now.
    pub format: String,
    /// The model file, relative to the version's storage location.
    pub path: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

/// A model card: the structured facts reviewers ask for, plus free markdown. One per version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    #[serde(default)]
    pub intended_use: String,
    #[serde(default)]
    pub limitations: String,
    #[serde(default)]
    pub training_data: String,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub markdown: String,
}

/// Where a version came from, in one answer: its run, that run's experiment, parameters,
/// metrics and datasets, and the logged model it was registered from.
#[derive(Debug, Clone, PartialEq)]
pub struct Lineage {
    pub version: ModelVersion,
    pub run: Option<Run>,
    pub experiment: Option<Experiment>,
    pub logged_model: Option<LoggedModel>,
}
