//! Request extractors whose rejections are rendered as API errors, never as axum's plain-text ones.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use galley_core::ErrorCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON request body. An empty body reads as `{}`, as MLflow's server treats it.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("Could not read the request body: {e}"),
            )
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        // Tracking the path costs a tenth of a small request's handling, so it is only done
        // again, to name where, once a body has failed (deserializing is deterministic).
        if let Ok(body) = T::deserialize(&mut serde_json::Deserializer::from_slice(bytes)) {
            return Ok(JsonBody(body));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(JsonBody)
            .map_err(|e| {
                let inner = e.inner();
                let code = if inner.is_syntax() || inner.is_eof() {
                    ErrorCode::BadRequest
                } else {
                    ErrorCode::InvalidParameterValue
                };
                let at = e.path().to_string();
                let at = if at == "." || at == "?" {
                    String::new()
                } else {
                    format!(" at '{at}'")
                };
                ApiError::new(code, format!("Invalid request body{at}: {inner}"))
            })
    }
}

/// Query-string parameters, as MLflow's clients send them on GET. A repeated key is a list
/// (`order_by=a&order_by=b`, the way `requests` encodes one); every value is a string, so
/// numeric fields use the lenient deserializers.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let invalid =
            |e: &dyn std::fmt::Display| ApiError::invalid(format!("Invalid query parameters: {e}"));
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|e| invalid(&e))?;
        let mut fields = Map::new();
        for (key, value) in pairs {
            match fields.get_mut(&key) {
                None => {
                    fields.insert(key, Value::String(value));
                }
                Some(Value::Array(values)) => values.push(Value::String(value)),
                Some(first) => *first = Value::Array(vec![first.take(), Value::String(value)]),
            }
        }
        serde_path_to_error::deserialize(Value::Object(fields))
            .map(QueryParams)
            .map_err(|e| invalid(&e))
    }
}

/// A request field MLflow marks as required.
pub fn required<T>(value: Option<T>, name: &str) -> Result<T, ApiError> {
    value
        .ok_or_else(|| ApiError::invalid(format!("Missing value for required parameter '{name}'.")))
}

/// A `true`/`false` query parameter; absent is false, anything else is refused.
pub fn flag(value: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::invalid(format!(
            "{name} must be true or false, got '{other}'"
        ))),
    }
}
