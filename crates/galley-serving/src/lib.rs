//! The serving domain: deployments (a registered model version served under a name, with its
//! batching, scaling, canary and shadow settings), the rules they obey and the store port they
//! persist through. The runtime that serves them is galley-inference; this crate has no I/O.

pub mod error;
pub mod model;
pub mod store;
pub mod validation;

pub use error::ServingError;
pub use store::DeploymentStore;
