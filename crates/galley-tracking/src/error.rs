//! Every way a tracking operation can fail, each mapped to a stable error code.

use galley_core::{ErrorCode, HasErrorCode, StoreFailure};

use crate::search::SearchError;

#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl HasErrorCode for TrackingError {
    fn code(&self) -> ErrorCode {
        match self {
            TrackingError::InvalidParameter(_) | TrackingError::Search(_) => {
                ErrorCode::InvalidParameterValue
            }
            TrackingError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            TrackingError::AlreadyExists(_) => ErrorCode::ResourceAlreadyExists,
            TrackingError::Store(failure) => failure.code(),
        }
    }
}

impl From<galley_core::page::InvalidPageToken> for TrackingError {
    fn from(e: galley_core::page::InvalidPageToken) -> Self {
        TrackingError::InvalidParameter(e.to_string())
    }
}

pub type Result<T, E = TrackingError> = std::result::Result<T, E>;
