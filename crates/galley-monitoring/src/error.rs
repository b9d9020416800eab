//! Every way a monitoring request can fail, each with a stable error code.

use galley_core::{ErrorCode, HasErrorCode, StoreFailure};

#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    /// A request breaks a rule, or a dataset cannot be compared (see the message).
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    NotFound(String),
    /// The artifact store failed while reading or writing monitoring data.
    #[error("{0}")]
    Artifacts(String),
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl HasErrorCode for MonitoringError {
    fn code(&self) -> ErrorCode {
        match self {
            MonitoringError::InvalidInput(_) => ErrorCode::InvalidParameterValue,
            MonitoringError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            MonitoringError::Artifacts(_) => ErrorCode::TemporarilyUnavailable,
            MonitoringError::Store(e) => e.code(),
        }
    }
}

pub type Result<T, E = MonitoringError> = std::result::Result<T, E>;
