//! Vocabulary shared by every Galley crate: error codes, ids, time, page tokens, and the lease
//! port background loops coordinate through. No I/O lives here.

pub mod duration;
pub mod error;
pub mod ids;
pub mod lease;
pub mod page;
pub mod time;

pub use error::{ErrorCode, HasErrorCode, StoreFailure};
pub use lease::LeaseStore;
