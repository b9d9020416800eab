//! `/api/v1/...` compute: jobs (submit, list, show with events, cancel, logs), queues with their
//! quotas and usage, applying a queues file, and the inventory admission places on.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use galley_compute::job::{JobSpec, JobState};
use galley_compute::store::JobFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{flag, JsonBody, QueryParams};
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

const MAX_RESULTS: u32 = 1_000;

pub async fn submit(State(s): State<AppState>, JsonBody(spec): JsonBody<JobSpec>) -> Reply {
    let job = s.compute.submit(spec).await?;
    Ok(Json(json!({ "job": job })))
}

#[derive(Deserialize)]
pub struct ListQuery {
    team: Option<String>,
    queue: Option<String>,
    /// Comma-separated states.
    state: Option<String>,
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
}

pub async fn list(State(s): State<AppState>, QueryParams(q): QueryParams<ListQuery>) -> Reply {
    let states = q
        .state
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|name| {
            JobState::parse(name).ok_or_else(|| {
                ApiError::invalid(format!(
                    "unknown job state '{name}' (one of {})",
                    JobState::ALL.map(JobState::as_str).join(", ")
                ))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let max_results = u32::try_from(q.max_results.unwrap_or(100))
        .ok()
        .filter(|n| (1..=MAX_RESULTS).contains(n))
        .ok_or_else(|| {
            ApiError::invalid(format!("max_results must be between 1 and {MAX_RESULTS}"))
        })?;
    let filter = JobFilter {
        team: q.team,
        queue: q.queue,
        states,
        max_results,
        page_token: q.page_token,
    };
    let (jobs, next) = s.compute.jobs(&filter).await?;
    Ok(Json(json!({ "jobs": jobs, "next_page_token": next })))
}

pub async fn get(State(s): State<AppState>, Path(id): Path<String>) -> Reply {
    let job = s.compute.job(&id).await?;
    let events = s.compute.events(&id).await?;
    Ok(Json(json!({ "job": job, "events": events })))
}

pub async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> Reply {
    let job = s.compute.cancel(&id).await?;
    Ok(Json(json!({ "job": job })))
}

#[derive(Deserialize)]
pub struct LogQuery {
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    replica: Option<i64>,
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    offset: Option<i64>,
}

/// The log bytes as text; `x-galley-log-next-offset` says where to read on from and
/// `x-galley-log-complete` whether more can come (for `galley jobs logs -f`).
pub async fn logs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<LogQuery>,
) -> ApiResult<Response> {
    let whole = |value: Option<i64>, name: &str| {
        u64::try_from(value.unwrap_or(0))
            .map_err(|_| ApiError::invalid(format!("{name} must not be negative")))
    };
    let offset = whole(q.offset, "offset")?;
    let replica = u32::try_from(whole(q.replica, "replica")?)
        .map_err(|_| ApiError::invalid("replica is out of range"))?;
    let slice = s.compute.log(&id, replica, offset).await?;
    let next = offset + slice.bytes.len() as u64;
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ),
        (
            HeaderName::from_static("x-galley-log-next-offset"),
            HeaderValue::from(next),
        ),
        (
            HeaderName::from_static("x-galley-log-complete"),
            HeaderValue::from_static(if slice.complete { "true" } else { "false" }),
        ),
    ];
    Ok((headers, slice.bytes).into_response())
}

pub async fn queues(State(s): State<AppState>) -> Reply {
    Ok(Json(json!({ "queues": s.compute.queues().await? })))
}

pub async fn queue(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    let queue = s
        .compute
        .queues()
        .await?
        .into_iter()
        .find(|q| q.name == name)
        .ok_or_else(|| {
            ApiError::new(
                galley_core::ErrorCode::ResourceDoesNotExist,
                format!("queue '{name}' does not exist"),
            )
        })?;
    let filter = JobFilter {
        queue: Some(name),
        states: vec![JobState::Pending, JobState::Admitted, JobState::Running],
        max_results: MAX_RESULTS,
        ..JobFilter::default()
    };
    let (jobs, _) = s.compute.jobs(&filter).await?;
    Ok(Json(json!({ "queue": queue, "jobs": jobs })))
}

#[derive(Deserialize)]
pub struct ApplyQuery {
    /// `true` or `false`.
    dry_run: Option<String>,
}

/// The body is the queues file itself (YAML or JSON).
pub async fn apply(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ApplyQuery>,
    body: Bytes,
) -> Reply {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the queues file is not UTF-8 text"))?;
    let dry_run = flag(q.dry_run.as_deref(), "dry_run")?;
    let outcome = s.compute.apply(text, dry_run).await?;
    Ok(Json(json!(outcome)))
}

pub async fn inventory(State(s): State<AppState>) -> Reply {
    let (config, version) = s.compute.config().await?;
    let declared = config.nodes.is_some();
    Ok(Json(json!({
        "nodes": s.compute.nodes(&config),
        "declared": declared,
        "config_version": version,
    })))
}
