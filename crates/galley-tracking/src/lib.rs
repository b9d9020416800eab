//! Experiment tracking: the domain model of experiments, runs, metrics and logged models, MLflow's
//! validation rules and search grammar, the `TrackingStore` port, and the service that enforces the rules.

pub mod error;
pub mod model;
pub mod names;
pub mod search;
pub mod service;
pub mod store;
pub mod validation;

pub use error::TrackingError;
pub use service::TrackingService;
pub use store::TrackingStore;
