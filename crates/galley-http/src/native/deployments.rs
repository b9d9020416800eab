//! `/api/v1/deployments`: create, list, show, change, roll back and delete model deployments,
//! and read what their shadow traffic produced.

use axum::extract::{Path, State};
use axum::Json;
use galley_inference::{DeploymentRequest, DeploymentStatus};
use galley_serving::model::*;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{required, JsonBody};
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ShareBody {
    version: i64,
    percent: u8,
}

impl From<ShareBody> for TrafficShare {
    fn from(b: ShareBody) -> Self {
        TrafficShare {
            version: b.version,
            percent: b.percent,
        }
    }
}

/// A field that may be absent (keep), `null` (remove) or a value (set).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Create and update share one body; on update every field is optional.
#[derive(Deserialize)]
pub struct DeploymentBody {
    name: Option<String>,
    model: Option<String>,
    version: Option<i64>,
    alias: Option<String>,
    /// A fixed number of replicas (sets both min and max).
    replicas: Option<u32>,
    min_replicas: Option<u32>,
    max_replicas: Option<u32>,
    max_batch_size: Option<u32>,
    max_batch_delay_ms: Option<u32>,
    max_queue: Option<u32>,
    log_sample_rate: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    canary: Option<Option<ShareBody>>,
    #[serde(default, deserialize_with = "present")]
    shadow: Option<Option<ShareBody>>,
}

impl DeploymentBody {
    fn selector(&self) -> ApiResult<Option<VersionSelector>> {
        match (self.version, &self.alias) {
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "Give either 'version' or 'alias', not both.",
            )),
            (Some(v), None) => Ok(Some(VersionSelector::Version(v))),
            (None, Some(a)) => Ok(Some(VersionSelector::Alias(a.clone()))),
            (None, None) => Ok(None),
        }
    }

    /// The request this body makes of `base` (the current deployment, or defaults).
    fn apply(self, name: String, base: Option<&Deployment>) -> ApiResult<DeploymentRequest> {
        let selector = match (self.selector()?, base) {
            (Some(selector), _) => selector,
            (None, Some(current)) => current.selector.clone(),
            (None, None) => {
                return Err(ApiError::invalid(
                    "Missing value for required parameter 'version' or 'alias'.",
                ))
            }
        };
        let model = match (self.model, base) {
            (Some(model), _) => model,
            (None, Some(current)) => current.model.clone(),
            (None, None) => required(None, "model")?,
        };
        let mut batch = base.map(|d| d.batch).unwrap_or_default();
        batch.max_batch_size = self.max_batch_size.unwrap_or(batch.max_batch_size);
        batch.max_batch_delay_ms = self.max_batch_delay_ms.unwrap_or(batch.max_batch_delay_ms);
        batch.max_queue = self.max_queue.unwrap_or(batch.max_queue);
        let mut scale = base.map(|d| d.scale).unwrap_or_default();
        if let Some(replicas) = self.replicas {
            scale = ScaleSettings {
                min_replicas: replicas,
                max_replicas: replicas,
            };
        }
        scale.min_replicas = self.min_replicas.unwrap_or(scale.min_replicas);
        scale.max_replicas = self
            .max_replicas
            .unwrap_or(scale.max_replicas.max(scale.min_replicas));
        let share = |given: Option<Option<ShareBody>>, current: Option<TrafficShare>| match given {
            Some(value) => value.map(Into::into),
            None => current,
        };
        Ok(DeploymentRequest {
            name,
            model,
            selector,
            batch,
            scale,
            canary: share(self.canary, base.and_then(|d| d.canary)),
            shadow: share(self.shadow, base.and_then(|d| d.shadow)),
            log_sample_rate: self
                .log_sample_rate
                .unwrap_or(base.map_or(DEFAULT_LOG_SAMPLE_RATE, |d| d.log_sample_rate)),
        })
    }
}

fn share_json(share: Option<TrafficShare>) -> Value {
    share.map_or(
        Value::Null,
        |s| json!({ "version": s.version, "percent": s.percent }),
    )
}

pub fn deployment_json(status: &DeploymentStatus) -> Value {
    let d = &status.deployment;
    let selector = match &d.selector {
        VersionSelector::Version(v) => json!({ "version": v }),
        VersionSelector::Alias(a) => json!({ "alias": a }),
    };
    let versions: Vec<Value> = status
        .versions
        .iter()
        .map(|v| {
            json!({ "version": v.version, "replicas": v.replicas, "busy": v.busy, "queued": v.queued })
        })
        .collect();
    json!({
        "name": d.name,
        "model": d.model,
        "selector": selector,
        "version": d.version,
        "previous_version": d.previous_version,
        "max_batch_size": d.batch.max_batch_size,
        "max_batch_delay_ms": d.batch.max_batch_delay_ms,
        "max_queue": d.batch.max_queue,
        "min_replicas": d.scale.min_replicas,
        "max_replicas": d.scale.max_replicas,
        "canary": share_json(d.canary),
        "shadow": share_json(d.shadow),
        "log_sample_rate": d.log_sample_rate,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "ready": status.ready,
        "loaded_versions": versions,
    })
}

fn reply(s: &AppState, deployment: Deployment) -> Reply {
    let status = s.serving.status(deployment);
    Ok(Json(json!({ "deployment": deployment_json(&status) })))
}

pub async fn create(State(s): State<AppState>, JsonBody(b): JsonBody<DeploymentBody>) -> Reply {
    let name = required(b.name.clone(), "name")?;
    let request = b.apply(name, None)?;
    let created = s.serving.create(request).await?;
    reply(&s, created)
}

pub async fn list(State(s): State<AppState>) -> Reply {
    let all: Vec<Value> = s
        .serving
        .list()
        .await?
        .iter()
        .map(deployment_json)
        .collect();
    Ok(Json(json!({ "deployments": all })))
}

pub async fn get(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    let status = s.serving.get(&name).await?;
    Ok(Json(json!({ "deployment": deployment_json(&status) })))
}

pub async fn update(
    State(s): State<AppState>,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<DeploymentBody>,
) -> Reply {
    if b.name.as_ref().is_some_and(|n| n != &name) {
        return Err(ApiError::invalid(
            "A deployment cannot be renamed; create a new one.",
        ));
    }
    let current = s.serving.get(&name).await?.deployment;
    let request = b.apply(name, Some(&current))?;
    let updated = s.serving.update(request).await?;
    reply(&s, updated)
}

pub async fn rollback(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    let rolled_back = s.serving.rollback(&name).await?;
    reply(&s, rolled_back)
}

pub async fn delete(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    s.serving.delete(&name).await?;
    Ok(Json(json!({})))
}

pub async fn shadow(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    let records = s.serving.shadow_records(&name)?;
    Ok(Json(json!({ "records": records })))
}
