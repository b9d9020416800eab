//! The port the registry persists through; galley-store implements it and its conformance suite
//! holds every backend to the same behaviour.
//!
//! Contract: each method is atomic; unknown models, versions and aliases are
//! `RegistryError::NotFound`; a taken model name is `RegistryError::AlreadyExists`; renaming a
//! model carries its versions, tags and aliases along; deleting a version deletes the aliases
//! that point at it; version numbers are never reused.

use async_trait::async_trait;
use galley_tracking::model::{KeyValue, Page};

use crate::error::Result;
use crate::model::*;

#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[KeyValue],
        now: i64,
    ) -> Result<RegisteredModel>;
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;
    async fn search_registered_models(
        &self,
        search: &RegistrySearch,
    ) -> Result<Page<RegisteredModel>>;
    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
        now: i64,
    ) -> Result<RegisteredModel>;
    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        now: i64,
    ) -> Result<RegisteredModel>;
    async fn delete_registered_model(&self, name: &str) -> Result<()>;
    async fn set_registered_model_tag(&self, name: &str, tag: &KeyValue) -> Result<()>;
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;

    async fn create_model_version(&self, version: &NewModelVersion) -> Result<ModelVersion>;
    async fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion>;
    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
        now: i64,
    ) -> Result<ModelVersion>;
    async fn delete_model_version(&self, name: &str, version: i64) -> Result<()>;
    async fn search_model_versions(&self, search: &RegistrySearch) -> Result<Page<ModelVersion>>;
    async fn set_model_version_tag(&self, name: &str, version: i64, tag: &KeyValue) -> Result<()>;
    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()>;
    /// Moves a version to `stage`; with `archive_existing`, other versions in that stage
    /// (Staging or Production only) move to Archived in the same transaction.
    async fn transition_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        now: i64,
    ) -> Result<ModelVersion>;
    /// The newest version in each of `stages` (every stage when empty).
    async fn latest_versions(&self, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>>;

    async fn set_alias(&self, name: &str, alias: &str, version: i64) -> Result<()>;
    async fn delete_alias(&self, name: &str, alias: &str) -> Result<()>;
    async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;

    /// Records what inspection found in a version's files.
    async fn set_signature(
        &self,
        name: &str,
        version: i64,
        signature: &ModelSignature,
    ) -> Result<()>;
    /// Replaces the version's card.
    async fn put_model_card(
        &self,
        name: &str,
        version: i64,
        card: &ModelCard,
        now: i64,
    ) -> Result<()>;
    /// `NotFound` for an unknown version, `Ok(None)` for a version without a card.
    async fn get_model_card(&self, name: &str, version: i64) -> Result<Option<ModelCard>>;
}
