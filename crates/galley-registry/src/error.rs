//! Every way a registry operation can fail, each mapped to a stable error code.

use galley_core::{ErrorCode, HasErrorCode, StoreFailure};
use galley_tracking::search::SearchError;
use galley_tracking::TrackingError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl HasErrorCode for RegistryError {
    fn code(&self) -> ErrorCode {
        match self {
            RegistryError::InvalidParameter(_) | RegistryError::Search(_) => {
                ErrorCode::InvalidParameterValue
            }
            RegistryError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            RegistryError::AlreadyExists(_) => ErrorCode::ResourceAlreadyExists,
            RegistryError::Tracking(e) => e.code(),
            RegistryError::Store(e) => e.code(),
        }
    }
}

impl From<galley_core::page::InvalidPageToken> for RegistryError {
    fn from(e: galley_core::page::InvalidPageToken) -> Self {
        RegistryError::InvalidParameter(e.to_string())
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
