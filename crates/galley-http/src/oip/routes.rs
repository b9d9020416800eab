//! Open Inference Protocol V2 endpoints (`/v2/...`, Triton's binary tensor extension included)
//! and the KServe V1-style `POST /v1/models/{name}:predict`.
//!
//! A deployment is a V2 "model": its name is the deployment name, its versions are the registry
//! versions it keeps loaded. Errors carry `{"error": ...}`, the key `tritonclient` reads, beside
//! Galley's `error_code` and `message`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use galley_core::ErrorCode;
use galley_onnx::{DType, Tensor};
use serde_json::{json, Value};

use super::codec::{
    decode_request, encode_response, json_elements, JsonData, HEADER_LENGTH_HEADER as HEADER_LENGTH,
};
use crate::error::ApiError;
use crate::AppState;

const REQUEST_ID: &str = "x-request-id";

/// An API error rendered for V2 clients.
pub struct OipError(ApiError);

impl<E: Into<ApiError>> From<E> for OipError {
    fn from(error: E) -> Self {
        OipError(error.into())
    }
}

impl IntoResponse for OipError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "error": self.0.message,
            "error_code": self.0.code.as_str(),
            "message": self.0.message,
        });
        (status, Json(body)).into_response()
    }
}

type Reply<T = Json<Value>> = Result<T, OipError>;

fn parse_version(raw: &str) -> Result<i64, OipError> {
    raw.parse::<i64>().map_err(|_| {
        OipError(ApiError::invalid(format!(
            "Model version must be an integer, got '{raw}'"
        )))
    })
}

pub async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

/// Ready once the metadata store answers; deployments that failed to load report on their own
/// `/ready` route.
pub async fn ready(State(s): State<AppState>) -> Response {
    if (s.health_check)().await {
        Json(json!({ "ready": true })).into_response()
    } else {
        OipError(ApiError::new(
            ErrorCode::TemporarilyUnavailable,
            "metadata store unavailable",
        ))
        .into_response()
    }
}

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "galley",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
}

fn dims(shape: &[Option<i64>]) -> Vec<i64> {
    shape.iter().map(|d| d.unwrap_or(-1)).collect()
}

fn metadata(s: &AppState, name: &str, version: Option<i64>) -> Reply {
    let (_, loaded) = s.serving.loaded(name, version)?;
    let status = s.serving.loaded_versions(name)?;
    let specs = |specs: &[galley_onnx::TensorSpec]| -> Vec<Value> {
        specs
            .iter()
            .map(|t| json!({ "name": t.name, "datatype": t.dtype.as_str(), "shape": dims(&t.shape) }))
            .collect()
    };
    let signature = loaded.signature();
    Ok(Json(json!({
        "name": name,
        "versions": status.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        "platform": "onnx",
        "inputs": specs(&signature.inputs),
        "outputs": specs(&signature.outputs),
    })))
}

pub async fn model_metadata(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    metadata(&s, &name, None)
}

pub async fn version_metadata(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Reply {
    metadata(&s, &name, Some(parse_version(&version)?))
}

fn model_ready(s: &AppState, name: &str, version: Option<i64>) -> Reply {
    s.serving.loaded(name, version)?;
    Ok(Json(json!({ "name": name, "ready": true })))
}

pub async fn model_ready_route(State(s): State<AppState>, Path(name): Path<String>) -> Reply {
    model_ready(&s, &name, None)
}

pub async fn version_ready_route(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Reply {
    model_ready(&s, &name, Some(parse_version(&version)?))
}

/// The optional request key that keeps a caller on one canary arm.
fn routing_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-galley-routing-key")
        .and_then(|v| v.to_str().ok())
}

/// The caller's id for a request, which ground-truth labels later refer to.
fn header_request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Every answer names its request id, so a caller that sent none can still label it.
fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

async fn infer(
    s: AppState,
    name: String,
    version: Option<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply<Response> {
    let header_length = match headers.get(HEADER_LENGTH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::invalid("Inference-Header-Content-Length must be a byte count")
                })?,
        ),
    };
    s.serving.refuse_when_full(&name, version)?;
    let mut request = decode_request(&body, header_length)?;
    let inputs = std::mem::take(&mut request.inputs);
    let inference = s
        .serving
        .infer(
            &name,
            version,
            routing_key(&headers),
            request.id.clone().or_else(|| header_request_id(&headers)),
            inputs,
        )
        .await?;
    let encoded = encode_response(
        &name,
        &inference.version.to_string(),
        Some(&inference.request_id),
        &inference.outputs,
        &request,
    )?;
    let mut response = encoded.body.into_response();
    let content_type = if encoded.header_length.is_some() {
        "application/octet-stream"
    } else {
        "application/json"
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(length) = encoded.header_length {
        response
            .headers_mut()
            .insert(HEADER_LENGTH, HeaderValue::from(length));
    }
    Ok(with_request_id(response, &inference.request_id))
}

pub async fn infer_route(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply<Response> {
    infer(s, name, None, headers, body).await
}

pub async fn version_infer_route(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply<Response> {
    let version = parse_version(&version)?;
    infer(s, name, Some(version), headers, body).await
}

/// `POST /v1/models/{name}:predict {"instances": [...]}`: each instance is one row for a model
/// with one input (a list, or a scalar for one feature), or an object of inputs by name.
/// Answers `{"predictions": [...]}`: per row, the value of a single output, or an object of all.
pub async fn predict(
    State(s): State<AppState>,
    Path(target): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply<Response> {
    let Some(name) = target.strip_suffix(":predict") else {
        return Err(OipError(ApiError::new(
            ErrorCode::EndpointNotFound,
            format!("No API endpoint found for '/v1/models/{target}'; use /v1/models/NAME:predict"),
        )));
    };
    s.serving.refuse_when_full(name, None)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("Invalid JSON body: {e}")))?;
    let instances = body["instances"]
        .as_array()
        .filter(|rows| !rows.is_empty())
        .ok_or_else(|| ApiError::invalid("'instances' must be a non-empty list of rows"))?;
    let (_, loaded) = s.serving.loaded(name, None)?;
    let inputs = instances_to_inputs(&loaded.signature().inputs, instances)?;
    let inference = s
        .serving
        .infer(
            name,
            None,
            routing_key(&headers),
            header_request_id(&headers),
            inputs,
        )
        .await?;
    let predictions = outputs_to_predictions(&inference.outputs, instances.len());
    let body = json!({
        "predictions": predictions,
        "model_version": inference.version.to_string(),
        "request_id": inference.request_id,
    });
    Ok(with_request_id(
        Json(body).into_response(),
        &inference.request_id,
    ))
}

/// Rows of JSON values to one tensor per model input, typed by the signature.
fn instances_to_inputs(
    specs: &[galley_onnx::TensorSpec],
    rows: &[Value],
) -> Result<Vec<(String, Tensor)>, OipError> {
    let per_input: Vec<(&galley_onnx::TensorSpec, Vec<&Value>)> =
        match specs {
            [only] if !rows[0].is_object() => vec![(only, rows.iter().collect())],
            _ => {
                specs
                    .iter()
                    .map(|spec| {
                        let values =
                            rows.iter()
                                .map(|row| {
                                    row.get(&spec.name).ok_or_else(|| {
                                        OipError(ApiError::invalid(format!(
                                "every instance needs the input '{}' (the model takes {})",
                                spec.name,
                                specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                            )))
                                    })
                                })
                                .collect::<Result<Vec<_>, _>>()?;
                        Ok((spec, values))
                    })
                    .collect::<Result<_, OipError>>()?
            }
        };
    per_input
        .into_iter()
        .map(|(spec, values)| {
            let name = &spec.name;
            let mut flat = Vec::new();
            let mut row_shape: Option<Vec<usize>> = None;
            for value in values {
                let mut shape = Vec::new();
                flatten(value, &mut flat, &mut shape, 0);
                if row_shape.get_or_insert_with(|| shape.clone()) != &shape {
                    return Err(OipError(ApiError::invalid(format!(
                        "instances of input '{name}' differ in shape"
                    ))));
                }
            }
            let mut shape = vec![rows.len()];
            shape.extend(row_shape.unwrap_or_default());
            // A model input of rank 2 given scalars per row: one feature per row.
            if shape.len() + 1 == spec.shape.len() {
                shape.push(1);
            }
            Ok((name.clone(), typed_tensor(name, spec.dtype, shape, &flat)?))
        })
        .collect()
}

fn flatten<'a>(value: &'a Value, flat: &mut Vec<&'a Value>, shape: &mut Vec<usize>, depth: usize) {
    match value {
        Value::Array(items) => {
            if shape.len() == depth {
                shape.push(items.len());
            }
            for item in items {
                flatten(item, flat, shape, depth + 1);
            }
        }
        other => flat.push(other),
    }
}

/// The elements are checked as the V2 route checks JSON `data`, one codec for both.
fn typed_tensor(
    name: &str,
    dtype: DType,
    shape: Vec<usize>,
    values: &[&Value],
) -> Result<Tensor, OipError> {
    let data = json_elements(name, dtype, values)?;
    Tensor::new(shape, data)
        .map_err(|e| OipError(ApiError::invalid(format!("input '{name}': {e}"))))
}

/// One prediction per row: the row's slice of a single output, or an object of every output.
fn outputs_to_predictions(outputs: &[(String, Tensor)], rows: usize) -> Vec<Value> {
    let per_output: Vec<(&str, Vec<Value>)> = outputs
        .iter()
        .map(|(name, tensor)| (name.as_str(), rows_of(tensor, rows)))
        .collect();
    (0..rows)
        .map(|i| match per_output.as_slice() {
            [(_, values)] => values[i].clone(),
            _ => Value::Object(
                per_output
                    .iter()
                    .map(|(name, values)| (name.to_string(), values[i].clone()))
                    .collect(),
            ),
        })
        .collect()
}

fn rows_of(tensor: &Tensor, rows: usize) -> Vec<Value> {
    let values = match serde_json::to_value(JsonData(&tensor.data)) {
        Ok(Value::Array(values)) => values,
        _ => Vec::new(),
    };
    let per_row = values.len().checked_div(rows).unwrap_or(0);
    (0..rows)
        .map(|i| {
            let slice = values
                .get(i * per_row..(i + 1) * per_row)
                .unwrap_or_default();
            if tensor.shape.len() <= 1 {
                slice.first().cloned().unwrap_or(Value::Null)
            } else {
                Value::Array(slice.to_vec())
            }
        })
        .collect()
}
