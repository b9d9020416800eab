//! Every way a feature store request can fail, each with a stable error code.

use galley_core::{ErrorCode, HasErrorCode, StoreFailure};

use crate::online::OnlineStoreError;

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// A request, a definitions file or a data file breaks a rule (see the message).
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    NotFound(String),
    /// The change would break readers (a feature removed or retyped, a view deleted) and
    /// `force` was not given; or the definitions changed concurrently.
    #[error("{0}")]
    Conflict(String),
    /// A source file or the artifact store could not be read; may succeed on retry.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Online(#[from] OnlineStoreError),
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl HasErrorCode for FeatureError {
    fn code(&self) -> ErrorCode {
        match self {
            FeatureError::InvalidInput(_) => ErrorCode::InvalidParameterValue,
            FeatureError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            FeatureError::Conflict(_) => ErrorCode::ResourceConflict,
            FeatureError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            FeatureError::Online(OnlineStoreError::Unavailable(_)) => {
                ErrorCode::TemporarilyUnavailable
            }
            FeatureError::Online(OnlineStoreError::Internal(_)) => ErrorCode::InternalError,
            FeatureError::Store(e) => e.code(),
        }
    }
}

pub type Result<T, E = FeatureError> = std::result::Result<T, E>;
