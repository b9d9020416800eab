//! The serving runtime: loads deployed registry versions through galley-onnx, batches requests
//! dynamically over resizable worker pools, routes canary and shadow traffic, scales replicas,
//! swaps versions without dropping requests (`service`), hands answered requests to monitoring (`prediction_log`), and reads and inspects a version's
//! files for the registry (`files`, `inspect`). Knows nothing about HTTP or SQL.

pub mod batcher;
pub mod files;
pub mod inspect;
mod loaded;
pub mod prediction_log;
mod routing;
mod rows;
mod scaling;
pub mod service;
pub mod shadow;
mod signature_check;

pub use inspect::ArtifactInspector;
pub use prediction_log::{PredictionRecord, PredictionSink};
pub use service::{DeploymentRequest, DeploymentStatus, Inference, ServingService};
