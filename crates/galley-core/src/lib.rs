//! Vocabulary shared by every Galley crate: error codes, ids, time and page tokens. No I/O lives here.

pub mod error;
pub mod ids;
pub mod page;
pub mod time;

pub use error::{ErrorCode, HasErrorCode, StoreFailure};
