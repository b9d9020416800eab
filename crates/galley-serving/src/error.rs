//! Every way serving a request or managing a deployment can fail, each with a stable error code.

use galley_core::{ErrorCode, HasErrorCode, StoreFailure};
use galley_registry::RegistryError;

#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// The request does not fit the model's signature, or the model rejected it; or a
    /// deployment request breaks a rule.
    #[error("{0}")]
    InvalidInput(String),
    /// The deployment's queue is full: shed load now rather than queue without bound.
    #[error("deployment '{0}' is overloaded: its request queue is full")]
    Overloaded(String),
    /// The deployment is loading or shutting down.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// The model's files cannot be served (not ONNX, an operator Galley lacks, ...).
    #[error("{0}")]
    UnsupportedModel(String),
    /// Inference failed for a reason that is neither the model's nor the input's fault.
    #[error("{0}")]
    Model(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl HasErrorCode for ServingError {
    fn code(&self) -> ErrorCode {
        match self {
            ServingError::InvalidInput(_) | ServingError::UnsupportedModel(_) => {
                ErrorCode::InvalidParameterValue
            }
            ServingError::Overloaded(_) => ErrorCode::RequestLimitExceeded,
            ServingError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            ServingError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            ServingError::AlreadyExists(_) => ErrorCode::ResourceAlreadyExists,
            ServingError::Model(_) => ErrorCode::InternalError,
            ServingError::Registry(e) => e.code(),
            ServingError::Store(e) => e.code(),
        }
    }
}

pub type Result<T, E = ServingError> = std::result::Result<T, E>;
