//! The model registry: registered models, their numbered versions, aliases and stages, MLflow's
//! naming rules, the `RegistryStore` port and the service that enforces the rules.
//!
//! Lineage and model cards read the version's run through galley-tracking; what a version's files
//! hold (format, tensor signature) comes in through the `ModelInspector` port.
//!
//! Depends on galley-tracking to resolve where a version's files are (`runs:/` and `models:/m-`
//! sources) and to check that a version's run exists.

pub mod card;
pub mod error;
pub mod inspect;
pub mod model;
pub mod service;
pub mod store;
pub mod validation;

pub use error::RegistryError;
pub use inspect::ModelInspector;
pub use service::RegistryService;
pub use store::RegistryStore;
