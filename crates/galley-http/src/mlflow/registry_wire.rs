//! MLflow's JSON shapes for the model registry, and the only conversions from the registry domain.
//!
//! Versions travel as strings (`"3"`), and empty optional fields are left out, as MLflow's
//! protobuf JSON does; the client reads a missing field as its empty default.

use galley_registry::model::{Alias, ModelVersion, RegisteredModel};
use serde::Serialize;

use super::wire::KeyValueDto;

/// Versions made from existing artifacts are usable at once; Galley never has pending uploads.
const READY: &str = "READY";

#[derive(Debug, Serialize)]
pub struct AliasDto {
    pub alias: String,
    pub version: String,
}

impl From<&Alias> for AliasDto {
    fn from(a: &Alias) -> Self {
        AliasDto {
            alias: a.alias.clone(),
            version: a.version.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ModelVersionDto {
    pub name: String,
    pub version: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_id: String,
    pub current_stage: &'static str,
    pub description: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub status: &'static str,
    pub run_link: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValueDto>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl From<&ModelVersion> for ModelVersionDto {
    fn from(v: &ModelVersion) -> Self {
        ModelVersionDto {
            name: v.name.clone(),
            version: v.version.to_string(),
            creation_timestamp: v.creation_timestamp,
            last_updated_timestamp: v.last_updated_timestamp,
            user_id: v.user_id.clone(),
            current_stage: v.current_stage.as_str(),
            description: v.description.clone(),
            source: v.source.clone(),
            run_id: v.run_id.clone(),
            status: READY,
            run_link: v.run_link.clone().unwrap_or_default(),
            tags: v.tags.iter().map(Into::into).collect(),
            aliases: v.aliases.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RegisteredModelDto {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValueDto>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<AliasDto>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latest_versions: Vec<ModelVersionDto>,
}

impl From<&RegisteredModel> for RegisteredModelDto {
    fn from(m: &RegisteredModel) -> Self {
        RegisteredModelDto {
            name: m.name.clone(),
            creation_timestamp: m.creation_timestamp,
            last_updated_timestamp: m.last_updated_timestamp,
            description: m.description.clone(),
            tags: m.tags.iter().map(Into::into).collect(),
            aliases: m.aliases.iter().map(Into::into).collect(),
            latest_versions: m.latest_versions.iter().map(Into::into).collect(),
        }
    }
}

pub fn versions(list: &[ModelVersion]) -> Vec<ModelVersionDto> {
    list.iter().map(Into::into).collect()
}
