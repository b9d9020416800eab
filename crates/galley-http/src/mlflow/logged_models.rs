//! MLflow 3 logged-model endpoints under `/logged-models`.

use axum::extract::{Path, State};
use axum::Json;
use galley_tracking::model::{LoggedModelOrderRequest, LoggedModelStatus};
use galley_tracking::service::NewLoggedModelRequest;
use serde::Deserialize;
use serde_json::{json, Value};

use super::tracking::{max_results, OneOrMany};
use super::wire::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::{required, JsonBody};
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

#[derive(Deserialize)]
pub struct CreateBody {
    experiment_id: Option<String>,
    name: Option<String>,
    model_type: Option<String>,
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValueDto>,
    #[serde(default)]
    tags: Vec<KeyValueDto>,
}

pub async fn create(State(s): State<AppState>, JsonBody(b): JsonBody<CreateBody>) -> Reply {
    let model = s
        .tracking
        .create_logged_model(NewLoggedModelRequest {
            experiment_id: required(b.experiment_id, "experiment_id")?,
            name: b.name.filter(|n| !n.is_empty()),
            model_type: b.model_type,
            source_run_id: b.source_run_id.filter(|r| !r.is_empty()),
            params: key_values(b.params),
            tags: key_values(b.tags),
        })
        .await?;
    Ok(Json(json!({ "model": LoggedModelDto::from(&model) })))
}

pub async fn get(State(s): State<AppState>, Path(model_id): Path<String>) -> Reply {
    let model = s.tracking.get_logged_model(&model_id).await?;
    Ok(Json(json!({ "model": LoggedModelDto::from(&model) })))
}

#[derive(Deserialize)]
pub struct FinalizeBody {
    status: Option<serde_json::Value>,
}

pub async fn finalize(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    JsonBody(b): JsonBody<FinalizeBody>,
) -> Reply {
    let raw = match required(b.status, "status")? {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let status = LoggedModelStatus::parse(&raw)
        .ok_or_else(|| ApiError::invalid(format!("Invalid logged model status '{raw}'")))?;
    let model = s.tracking.finalize_logged_model(&model_id, status).await?;
    Ok(Json(json!({ "model": LoggedModelDto::from(&model) })))
}

pub async fn delete(State(s): State<AppState>, Path(model_id): Path<String>) -> Reply {
    s.tracking.delete_logged_model(&model_id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct TagsBody {
    #[serde(default)]
    tags: Vec<KeyValueDto>,
}

pub async fn set_tags(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    JsonBody(b): JsonBody<TagsBody>,
) -> Reply {
    s.tracking
        .set_logged_model_tags(&model_id, &key_values(b.tags))
        .await?;
    Ok(Json(json!({})))
}

pub async fn delete_tag(
    State(s): State<AppState>,
    Path((model_id, key)): Path<(String, String)>,
) -> Reply {
    s.tracking.delete_logged_model_tag(&model_id, &key).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct ParamsBody {
    #[serde(default)]
    params: Vec<KeyValueDto>,
}

pub async fn log_params(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    JsonBody(b): JsonBody<ParamsBody>,
) -> Reply {
    s.tracking
        .log_logged_model_params(&model_id, &key_values(b.params))
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct SearchBody {
    #[serde(default)]
    experiment_ids: OneOrMany,
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    #[serde(default)]
    order_by: Vec<OrderByDto>,
}

/// MLflow's structured order_by entry for logged models.
#[derive(Deserialize)]
pub struct OrderByDto {
    field_name: String,
    #[serde(default = "ascending_default")]
    ascending: bool,
    dataset_name: Option<String>,
    dataset_digest: Option<String>,
}

fn ascending_default() -> bool {
    true
}

pub async fn search(State(s): State<AppState>, JsonBody(b): JsonBody<SearchBody>) -> Reply {
    let max_results = max_results(b.max_results)?;
    let order_by: Vec<LoggedModelOrderRequest> = b
        .order_by
        .into_iter()
        .map(|o| LoggedModelOrderRequest {
            field_name: o.field_name,
            ascending: o.ascending,
            dataset_name: o.dataset_name,
            dataset_digest: o.dataset_digest,
        })
        .collect();
    let page = s
        .tracking
        .search_logged_models(
            b.experiment_ids.into_vec(),
            b.filter.as_deref(),
            &order_by,
            max_results,
            b.page_token.as_deref(),
        )
        .await?;
    let models: Vec<LoggedModelDto> = page.items.iter().map(Into::into).collect();
    let mut body = json!({ "models": models });
    if let Some(token) = next_page_token(page.next_offset) {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}
