//! `/api/v1/models/...`: lineage, model cards and signatures of registry versions.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use galley_registry::model::{Lineage, ModelCard, ModelVersion};
use galley_tracking::model::KeyValue;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

/// Tags and params as a JSON object: the native API's shape for key/value lists.
fn object(pairs: &[KeyValue]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|kv| (kv.key.clone(), Value::String(kv.value.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn version_json(v: &ModelVersion) -> Value {
    json!({
        "name": v.name,
        "version": v.version,
        "stage": v.current_stage.as_str(),
        "description": v.description,
        "source": v.source,
        "storage_location": v.storage_location,
        "run_id": v.run_id,
        "model_id": v.model_id,
        "aliases": v.aliases,
        "tags": object(&v.tags),
        "signature": v.signature,
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
    })
}

fn lineage_json(l: &Lineage) -> Value {
    let run = l.run.as_ref().map(|r| {
        let metrics: Map<String, Value> = r
            .metrics
            .iter()
            .map(|m| (m.key.clone(), json!(m.value)))
            .collect();
        json!({
            "run_id": r.info.run_id,
            "run_name": r.info.run_name,
            "status": r.info.status.as_str(),
            "lifecycle_stage": r.info.lifecycle_stage.as_str(),
            "start_time": r.info.start_time,
            "end_time": r.info.end_time,
            "artifact_uri": r.info.artifact_uri,
            "params": object(&r.params),
            "metrics": metrics,
            "tags": object(&r.tags),
        })
    });
    let datasets: Vec<Value> = l
        .run
        .iter()
        .flat_map(|r| &r.dataset_inputs)
        .map(|d| {
            let context = d
                .tags
                .iter()
                .find(|t| t.key == "mlflow.data.context")
                .map(|t| t.value.as_str());
            json!({
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "source": d.dataset.source,
                "context": context,
            })
        })
        .collect();
    json!({
        "model_version": version_json(&l.version),
        "experiment": l.experiment.as_ref().map(|e| json!({
            "experiment_id": e.experiment_id,
            "name": e.name,
        })),
        "run": run,
        "datasets": datasets,
        "logged_model": l.logged_model.as_ref().map(|m| json!({
            "model_id": m.model_id,
            "name": m.name,
            "artifact_uri": m.artifact_uri,
            "source_run_id": m.source_run_id,
        })),
        "deployments": [],
    })
}

pub async fn lineage(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Reply {
    let lineage = s.registry.lineage(&name, &version).await?;
    let number = lineage.version.version;
    let deployments: Vec<Value> = s
        .serving
        .list()
        .await?
        .into_iter()
        .filter(|d| d.deployment.model == name)
        .filter_map(|d| {
            let role = d.deployment.role_of(number)?;
            Some(json!({ "name": d.deployment.name, "role": role.as_str(), "ready": d.ready }))
        })
        .collect();
    let mut graph = lineage_json(&lineage);
    graph["deployments"] = Value::Array(deployments);
    Ok(Json(graph))
}

pub async fn get_card(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Reply {
    let card = s.registry.get_model_card(&name, &version).await?;
    Ok(Json(json!({ "card": card })))
}

pub async fn put_card(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    JsonBody(card): JsonBody<ModelCard>,
) -> Reply {
    s.registry.put_model_card(&name, &version, &card).await?;
    Ok(Json(json!({ "card": card })))
}

pub async fn card_markdown(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let markdown = s.registry.render_model_card(&name, &version).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        markdown,
    ))
}

pub async fn signature(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Reply {
    let found = s.registry.get_model_version(&name, &version).await?;
    let signature = found.signature.ok_or_else(|| {
        ApiError::new(
            galley_core::ErrorCode::ResourceDoesNotExist,
            format!(
                "No servable model format was found in the files of model {name} version {version}"
            ),
        )
    })?;
    Ok(Json(json!({ "signature": signature })))
}
