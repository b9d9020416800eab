//! Every way a compute request can fail, each with a stable error code.

use galley_core::{ErrorCode, HasErrorCode, StoreFailure};

#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// A request or a queues file breaks a rule (see the message).
    #[error("{0}")]
    InvalidInput(String),
    /// The job could never be admitted as asked: no queue or node could ever hold it.
    #[error("job can never run: {0}")]
    Infeasible(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with current state (cancelling a finished job, removing a queue
    /// that still has jobs, a concurrent configuration change).
    #[error("{0}")]
    Conflict(String),
    /// An executor or the artifact store failed; may succeed on retry.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

impl HasErrorCode for ComputeError {
    fn code(&self) -> ErrorCode {
        match self {
            ComputeError::InvalidInput(_) | ComputeError::Infeasible(_) => {
                ErrorCode::InvalidParameterValue
            }
            ComputeError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            ComputeError::Conflict(_) => ErrorCode::ResourceConflict,
            ComputeError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            ComputeError::Store(e) => e.code(),
        }
    }
}

pub type Result<T, E = ComputeError> = std::result::Result<T, E>;
