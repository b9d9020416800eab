//! The port deployments persist through; galley-store implements it and its conformance suite
//! holds every backend to the same behaviour.
//!
//! Contract: each method is atomic; an unknown name is `ServingError::NotFound`; a taken name is
//! `ServingError::AlreadyExists`; `list` is ordered by name.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::Deployment;

#[async_trait]
pub trait DeploymentStore: Send + Sync + 'static {
    async fn create_deployment(&self, deployment: &Deployment) -> Result<()>;
    async fn get_deployment(&self, name: &str) -> Result<Deployment>;
    async fn list_deployments(&self) -> Result<Vec<Deployment>>;
    /// Replaces the stored deployment of the same name.
    async fn update_deployment(&self, deployment: &Deployment) -> Result<()>;
    async fn delete_deployment(&self, name: &str) -> Result<()>;
}
