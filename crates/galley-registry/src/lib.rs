//! The model registry: registered models, their numbered versions, aliases and stages, MLflow's
//! naming rules, the `RegistryStore` port and the service that enforces the rules.
//!
//! Depends on galley-tracking to resolve where a version's files are (`runs:/` and `models:/m-`
//! sources) and to check that a version's run exists.

pub mod error;
pub mod model;
pub mod service;
pub mod store;
pub mod validation;

pub use error::RegistryError;
pub use service::RegistryService;
pub use store::RegistryStore;
