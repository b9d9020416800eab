//! The port through which the registry learns what a version's files hold (format and tensor
//! signature). The serving layer implements it; the registry knows no model formats itself.

use async_trait::async_trait;

use crate::model::ModelSignature;

#[async_trait]
pub trait ModelInspector: Send + Sync {
    /// Looks at the files at `storage_location`. `None` when they hold nothing Galley can serve
    /// or cannot be read; a model that cannot be inspected still registers, as in MLflow, and
    /// the implementation logs why.
    async fn inspect(&self, storage_location: &str) -> Option<ModelSignature>;
}
