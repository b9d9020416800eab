//! The registry's data: registered models, versions, aliases and stages. Wire formats live in galley-http.

use galley_tracking::model::KeyValue;
use galley_tracking::search::ast::{Comparison, OrderBy};

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
