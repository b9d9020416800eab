//! The one table of error codes: each code's stable name and HTTP status, for every domain and every wire format.

/// A stable, machine-readable error class. The names are MLflow's `ErrorCode` names so the
/// MLflow-compatible routes and Galley's native API speak one vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadRequest,
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    EndpointNotFound,
    ResourceConflict,
    PermissionDenied,
    Unauthenticated,
    RequestLimitExceeded,
    PayloadTooLarge,
    NotImplemented,
    TemporarilyUnavailable,
    InternalError,
}

impl ErrorCode {
    /// Every code, in table order; used by tests and the OpenAPI document.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidParameterValue,
        ErrorCode::ResourceAlreadyExists,
        ErrorCode::ResourceDoesNotExist,
        ErrorCode::EndpointNotFound,
        ErrorCode::ResourceConflict,
        ErrorCode::PermissionDenied,
        ErrorCode::Unauthenticated,
        ErrorCode::RequestLimitExceeded,
        ErrorCode::PayloadTooLarge,
        ErrorCode::NotImplemented,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::InternalError,
    ];

    /// The table. RESOURCE_ALREADY_EXISTS is 400 as in MLflow: clients retry 5xx for minutes,
    /// so only failures that may succeed on retry are ever 5xx.
    pub const fn entry(self) -> (&'static str, u16) {
        match self {
            ErrorCode::BadRequest => ("BAD_REQUEST", 400),
            ErrorCode::InvalidParameterValue => ("INVALID_PARAMETER_VALUE", 400),
            ErrorCode::ResourceAlreadyExists => ("RESOURCE_ALREADY_EXISTS", 400),
            ErrorCode::ResourceDoesNotExist => ("RESOURCE_DOES_NOT_EXIST", 404),
            ErrorCode::EndpointNotFound => ("ENDPOINT_NOT_FOUND", 404),
            ErrorCode::ResourceConflict => ("RESOURCE_CONFLICT", 409),
            ErrorCode::PermissionDenied => ("PERMISSION_DENIED", 403),
            ErrorCode::Unauthenticated => ("UNAUTHENTICATED", 401),
            ErrorCode::RequestLimitExceeded => ("REQUEST_LIMIT_EXCEEDED", 429),
            ErrorCode::PayloadTooLarge => ("PAYLOAD_TOO_LARGE", 413),
            ErrorCode::NotImplemented => ("NOT_IMPLEMENTED", 501),
            ErrorCode::TemporarilyUnavailable => ("TEMPORARILY_UNAVAILABLE", 503),
            ErrorCode::InternalError => ("INTERNAL_ERROR", 500),
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.entry().0
    }

    pub const fn http_status(self) -> u16 {
        self.entry().1
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every domain error enum so the HTTP layer can render any of them.
pub trait HasErrorCode: std::error::Error {
    fn code(&self) -> ErrorCode;
}

/// A metadata-store failure that is not the caller's fault; every domain error wraps it.
#[derive(Debug, thiserror::Error)]
pub enum StoreFailure {
    /// May succeed on retry: the database is unreachable, busy or the pool is exhausted.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    #[error("metadata store error: {0}")]
    Internal(String),
}

impl HasErrorCode for StoreFailure {
    fn code(&self) -> ErrorCode {
        match self {
            StoreFailure::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            StoreFailure::Internal(_) => ErrorCode::InternalError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_only_retryable_codes_are_5xx() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let retryable = matches!(
                code,
                ErrorCode::InternalError
                    | ErrorCode::TemporarilyUnavailable
                    | ErrorCode::NotImplemented
            );
            assert_eq!(code.http_status() >= 500, retryable, "{code}");
        }
    }
}
