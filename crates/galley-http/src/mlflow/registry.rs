//! MLflow model-registry endpoints: registered models, model versions, stages, tags and aliases.

use axum::extract::State;
use axum::Json;
use galley_registry::model::ModelVersion;
use galley_registry::service::CreateVersion;
use galley_tracking::model::{KeyValue, Page};
use galley_tracking::service::SearchRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::registry_wire::*;
use super::tracking::{max_results, OneOrMany};
use super::wire::*;
use crate::error::ApiResult;
use crate::extract::{required, JsonBody, QueryParams};
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

fn empty() -> Reply {
    Ok(Json(json!({})))
}

fn model_reply(model: &galley_registry::model::RegisteredModel) -> Reply {
    Ok(Json(
        json!({ "registered_model": RegisteredModelDto::from(model) }),
    ))
}

fn version_reply(version: &ModelVersion) -> Reply {
    Ok(Json(
        json!({ "model_version": ModelVersionDto::from(version) }),
    ))
}

/// `{field: [...], next_page_token?}`; MLflow leaves an empty list out entirely.
fn page_reply<T, D: Serialize>(field: &str, page: &Page<T>, dto: impl Fn(&T) -> D) -> Reply {
    let mut body = json!({});
    if !page.items.is_empty() {
        body[field] = json!(page.items.iter().map(dto).collect::<Vec<_>>());
    }
    if let Some(token) = next_page_token(page.next_offset) {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}

/// The `name` every registry request carries.
#[derive(Deserialize)]
pub struct ModelRef {
    name: Option<String>,
}

impl ModelRef {
    fn name(self) -> ApiResult<String> {
        required(self.name.filter(|n| !n.is_empty()), "name")
    }
}

/// `name` and `version`, the version as a string or a number.
#[derive(Deserialize)]
pub struct VersionRef {
    name: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    version: Option<String>,
}

impl VersionRef {
    fn parts(self) -> ApiResult<(String, String)> {
        Ok((
            required(self.name.filter(|n| !n.is_empty()), "name")?,
            required(self.version, "version")?,
        ))
    }
}

#[derive(Deserialize)]
pub struct SearchQuery {
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: OneOrMany,
    page_token: Option<String>,
}

impl SearchQuery {
    fn request(self) -> ApiResult<SearchRequest> {
        Ok(SearchRequest {
            filter: self.filter,
            order_by: self.order_by.into_vec(),
            max_results: max_results(self.max_results)?,
            page_token: self.page_token,
            ..Default::default()
        })
    }
}

// ---- registered models ----

#[derive(Deserialize)]
pub struct CreateModelBody {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValueDto>,
}

pub async fn create_model(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<CreateModelBody>,
) -> Reply {
    let name = required(b.name, "name")?;
    let model = s
        .registry
        .create_registered_model(&name, b.description.as_deref(), &key_values(b.tags))
        .await?;
    model_reply(&model)
}

pub async fn get_model(State(s): State<AppState>, QueryParams(q): QueryParams<ModelRef>) -> Reply {
    model_reply(&s.registry.get_registered_model(&q.name()?).await?)
}

#[derive(Deserialize)]
pub struct UpdateBody {
    #[serde(flatten)]
    version: VersionRef,
    description: Option<String>,
}

pub async fn update_model(State(s): State<AppState>, JsonBody(b): JsonBody<UpdateBody>) -> Reply {
    let name = required(b.version.name.filter(|n| !n.is_empty()), "name")?;
    let model = s
        .registry
        .update_registered_model(&name, b.description.as_deref().unwrap_or(""))
        .await?;
    model_reply(&model)
}

#[derive(Deserialize)]
pub struct RenameBody {
    name: Option<String>,
    new_name: Option<String>,
}

pub async fn rename_model(State(s): State<AppState>, JsonBody(b): JsonBody<RenameBody>) -> Reply {
    let name = required(b.name, "name")?;
    let new_name = required(b.new_name, "new_name")?;
    model_reply(&s.registry.rename_registered_model(&name, &new_name).await?)
}

pub async fn delete_model(State(s): State<AppState>, JsonBody(b): JsonBody<ModelRef>) -> Reply {
    s.registry.delete_registered_model(&b.name()?).await?;
    empty()
}

#[derive(Deserialize)]
pub struct TagBody {
    #[serde(flatten)]
    version: VersionRef,
    key: Option<String>,
    #[serde(default)]
    value: String,
}

pub async fn set_model_tag(State(s): State<AppState>, JsonBody(b): JsonBody<TagBody>) -> Reply {
    let name = required(b.version.name.filter(|n| !n.is_empty()), "name")?;
    let tag = KeyValue::new(required(b.key, "key")?, b.value);
    s.registry.set_registered_model_tag(&name, &tag).await?;
    empty()
}

pub async fn delete_model_tag(State(s): State<AppState>, JsonBody(b): JsonBody<TagBody>) -> Reply {
    let name = required(b.version.name.filter(|n| !n.is_empty()), "name")?;
    s.registry
        .delete_registered_model_tag(&name, &required(b.key, "key")?)
        .await?;
    empty()
}

pub async fn search_models(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<SearchQuery>,
) -> Reply {
    let page = s.registry.search_registered_models(&q.request()?).await?;
    page_reply("registered_models", &page, |m| RegisteredModelDto::from(m))
}

#[derive(Deserialize)]
pub struct LatestVersionsBody {
    name: Option<String>,
    #[serde(default)]
    stages: OneOrMany,
}

async fn latest_versions(s: AppState, b: LatestVersionsBody) -> Reply {
    let name = required(b.name.filter(|n| !n.is_empty()), "name")?;
    let found = s
        .registry
        .latest_versions(&name, &b.stages.into_vec())
        .await?;
    Ok(Json(json!({ "model_versions": versions(&found) })))
}

pub async fn latest_versions_post(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<LatestVersionsBody>,
) -> Reply {
    latest_versions(s, b).await
}

pub async fn latest_versions_get(
    State(s): State<AppState>,
    QueryParams(b): QueryParams<LatestVersionsBody>,
) -> Reply {
    latest_versions(s, b).await
}

// ---- aliases ----

#[derive(Deserialize)]
pub struct AliasBody {
    #[serde(flatten)]
    version: VersionRef,
    alias: Option<String>,
}

pub async fn set_alias(State(s): State<AppState>, JsonBody(b): JsonBody<AliasBody>) -> Reply {
    let alias = required(b.alias, "alias")?;
    let (name, version) = b.version.parts()?;
    s.registry.set_alias(&name, &alias, &version).await?;
    empty()
}

pub async fn delete_alias(State(s): State<AppState>, JsonBody(b): JsonBody<AliasBody>) -> Reply {
    let name = required(b.version.name.filter(|n| !n.is_empty()), "name")?;
    s.registry
        .delete_alias(&name, &required(b.alias, "alias")?)
        .await?;
    empty()
}

pub async fn get_by_alias(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<AliasBody>,
) -> Reply {
    let name = required(q.version.name.filter(|n| !n.is_empty()), "name")?;
    let alias = required(q.alias, "alias")?;
    version_reply(&s.registry.get_version_by_alias(&name, &alias).await?)
}

// ---- model versions ----

#[derive(Deserialize)]
pub struct CreateVersionBody {
    name: Option<String>,
    source: Option<String>,
    run_id: Option<String>,
    run_link: Option<String>,
    model_id: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValueDto>,
}

pub async fn create_version(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<CreateVersionBody>,
) -> Reply {
    let version = s
        .registry
        .create_model_version(CreateVersion {
            name: required(b.name, "name")?,
            source: required(b.source, "source")?,
            run_id: b.run_id,
            run_link: b.run_link,
            model_id: b.model_id,
            description: b.description,
            tags: key_values(b.tags),
        })
        .await?;
    version_reply(&version)
}

pub async fn get_version(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<VersionRef>,
) -> Reply {
    let (name, version) = q.parts()?;
    version_reply(&s.registry.get_model_version(&name, &version).await?)
}

pub async fn update_version(State(s): State<AppState>, JsonBody(b): JsonBody<UpdateBody>) -> Reply {
    let (name, version) = b.version.parts()?;
    let updated = s
        .registry
        .update_model_version(&name, &version, b.description.as_deref().unwrap_or(""))
        .await?;
    version_reply(&updated)
}

pub async fn delete_version(State(s): State<AppState>, JsonBody(b): JsonBody<VersionRef>) -> Reply {
    let (name, version) = b.parts()?;
    s.registry.delete_model_version(&name, &version).await?;
    empty()
}

#[derive(Deserialize)]
pub struct TransitionBody {
    #[serde(flatten)]
    version: VersionRef,
    stage: Option<String>,
    #[serde(default)]
    archive_existing_versions: bool,
}

pub async fn transition_stage(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<TransitionBody>,
) -> Reply {
    let (name, version) = b.version.parts()?;
    let moved = s
        .registry
        .transition_stage(
            &name,
            &version,
            &required(b.stage, "stage")?,
            b.archive_existing_versions,
        )
        .await?;
    version_reply(&moved)
}

pub async fn set_version_tag(State(s): State<AppState>, JsonBody(b): JsonBody<TagBody>) -> Reply {
    let key = required(b.key, "key")?;
    let (name, version) = b.version.parts()?;
    s.registry
        .set_model_version_tag(&name, &version, &KeyValue::new(key, b.value))
        .await?;
    empty()
}

pub async fn delete_version_tag(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<TagBody>,
) -> Reply {
    let key = required(b.key, "key")?;
    let (name, version) = b.version.parts()?;
    s.registry
        .delete_model_version_tag(&name, &version, &key)
        .await?;
    empty()
}

pub async fn search_versions(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<SearchQuery>,
) -> Reply {
    let page = s.registry.search_model_versions(&q.request()?).await?;
    page_reply("model_versions", &page, |v| ModelVersionDto::from(v))
}

pub async fn download_uri(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<VersionRef>,
) -> Reply {
    let (name, version) = q.parts()?;
    let found = s.registry.get_model_version(&name, &version).await?;
    Ok(Json(json!({ "artifact_uri": found.download_uri() })))
}
