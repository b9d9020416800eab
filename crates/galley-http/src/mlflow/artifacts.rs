//! The MLflow artifact proxy (`/api/2.0/mlflow-artifacts`): streamed uploads and downloads, listings.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::TryStreamExt as _;
use galley_artifacts::validate;
use galley_core::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::AppState;

pub async fn upload(
    State(s): State<AppState>,
    Path(path): Path<String>,
    request: Request,
) -> ApiResult<Json<Value>> {
    let path = validate(&path)?;
    let body = request.into_body().into_data_stream();
    let bytes = s.artifacts.put(&path, body).await?;
    tracing::debug!(path = %path, bytes, "artifact stored");
    Ok(Json(json!({})))
}

pub async fn download(State(s): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let path = validate(&path)?;
    let download = s.artifacts.get(&path).await?;
    let stream = download.stream.map_err(std::io::Error::other);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, download.size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

pub async fn delete(State(s): State<AppState>, Path(path): Path<String>) -> ApiResult<Json<Value>> {
    s.artifacts.delete(&validate(&path)?).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct ListQuery {
    path: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<Value>> {
    let dir = match q.path.as_deref().map(|p| p.trim_matches('/')) {
        None | Some("") => None,
        Some(p) => Some(validate(p)?),
    };
    let entries = s.artifacts.list(dir.as_ref()).await?;
    let files: Vec<Value> = entries
        .iter()
        .map(|e| match e.size {
            Some(size) => json!({ "path": e.name, "is_dir": e.is_dir, "file_size": size }),
            None => json!({ "path": e.name, "is_dir": e.is_dir }),
        })
        .collect();
    Ok(Json(json!({ "files": files })))
}

/// Clients probe multipart uploads and fall back to a single streamed PUT on this answer.
pub async fn multipart_unsupported() -> ApiError {
    ApiError::new(
        ErrorCode::NotImplemented,
        "Multipart upload is not supported by this server; use a single PUT.",
    )
}
