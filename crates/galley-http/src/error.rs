//! Rendering every failure as `{"error_code": ..., "message": ...}` with the status from the code table.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use galley_core::{ErrorCode, HasErrorCode};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidParameterValue, message)
    }
}

impl<E: HasErrorCode> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError::new(error.code(), error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = %self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = %self.code, message = %self.message, "request rejected");
        }
        let body = serde_json::json!({
            "error_code": self.code.as_str(),
            "message": self.message,
        });
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The answer for any path no route matches.
pub async fn endpoint_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::EndpointNotFound,
        format!("No API endpoint found for '{}'", uri.path()),
    )
}
