//! The registry service: validates requests, resolves where a version's files are, and delegates.

use std::sync::Arc;

use galley_core::time::now_millis;
use galley_tracking::model::{KeyValue, LoggedModel, Page};
use galley_tracking::service::SearchRequest;
use galley_tracking::{search, validation as tracking_rules, TrackingError, TrackingService};

use crate::card;
use crate::error::{RegistryError, Result};
use crate::inspect::ModelInspector;
use crate::model::*;
use crate::store::RegistryStore;
use crate::validation::*;

#[derive(Clone)]
pub struct RegistryService {
    store: Arc<dyn RegistryStore>,
    tracking: TrackingService,
    inspector: Arc<dyn ModelInspector>,
}

/// A request to create a version, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct CreateVersion {
    pub name: String,
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<KeyValue>,
}

impl RegistryService {
    pub fn new(
        store: Arc<dyn RegistryStore>,
        tracking: TrackingService,
        inspector: Arc<dyn ModelInspector>,
    ) -> Self {
        RegistryService {
            store,
            tracking,
            inspector,
        }
    }

    pub async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<RegisteredModel> {
        validate_model_name(name)?;
        tags.iter().try_for_each(tracking_rules::validate_tag)?;
        self.store
            .create_registered_model(name, description.unwrap_or(""), tags, now_millis())
            .await
    }

    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.store.get_registered_model(name).await
    }

    pub async fn search_registered_models(
        &self,
        request: &SearchRequest,
    ) -> Result<Page<RegisteredModel>> {
        let search = RegistrySearch {
            filter: search::parse_registered_model_filter(request.filter.as_deref().unwrap_or(""))?,
            order_by: request
                .order_by
                .iter()
                .map(|o| search::parse_registered_model_order_by(o))
                .collect::<Result<_, _>>()?,
            max_results: max_results(request.max_results, 100, MAX_MODELS_PER_SEARCH)?,
            offset: galley_core::page::decode(request.page_token.as_deref())?,
        };
        self.store.search_registered_models(&search).await
    }

    pub async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel> {
        self.store
            .update_registered_model(name, description, now_millis())
            .await
    }

    pub async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel> {
        validate_model_name(new_name)?;
        self.store
            .rename_registered_model(name, new_name, now_millis())
            .await
    }

    pub async fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.store.delete_registered_model(name).await
    }

    pub async fn set_registered_model_tag(&self, name: &str, tag: &KeyValue) -> Result<()> {
        tracking_rules::validate_tag(tag)?;
        self.store.set_registered_model_tag(name, tag).await
    }

    pub async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.store.delete_registered_model_tag(name, key).await
    }

    /// `runs:/<run>/<path>` and `models:/m-<id>` sources are resolved to the artifact URI they
    /// stand for, so downloads never depend on the tracking data staying the same.
    async fn storage_location(&self, source: &str) -> Result<String> {
        if let Some(rest) = source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            let run = self.tracking.get_run(run_id).await?;
            let root = run.info.artifact_uri.trim_end_matches('/');
            return Ok(if path.is_empty() {
                root.to_string()
            } else {
                format!("{root}/{path}")
            });
        }
        if let Some(model_id) = logged_model_source(source) {
            return Ok(self.tracking.get_logged_model(model_id).await?.artifact_uri);
        }
        Ok(source.to_string())
    }

    pub async fn create_model_version(&self, request: CreateVersion) -> Result<ModelVersion> {
        validate_model_name(&request.name)?;
        if request.source.trim().is_empty() {
            return Err(RegistryError::InvalidParameter(
                "Missing value for required parameter 'source'.".into(),
            ));
        }
        request
            .tags
            .iter()
            .try_for_each(tracking_rules::validate_tag)?;
        let mut run_id = request.run_id.filter(|r| !r.is_empty());
        let model_id = request.model_id.filter(|m| !m.is_empty());
        check_source_owner(&request.source, run_id.as_deref(), model_id.as_deref())?;
        let logged_model = match &model_id {
            Some(id) => Some(self.tracking.get_logged_model(id).await?),
            None => None,
        };
        if run_id.is_none() {
            run_id = logged_model.as_ref().and_then(|m| m.source_run_id.clone());
        }
        if let Some(run_id) = &run_id {
            self.tracking.get_run(run_id).await?;
        }
        let storage_location = self.storage_location(&request.source).await?;
        let version = self
            .store
            .create_model_version(&NewModelVersion {
                name: request.name,
                source: request.source,
                storage_location,
                run_id,
                run_link: request.run_link.filter(|l| !l.is_empty()),
                model_id,
                description: request.description.unwrap_or_default(),
                user_id: String::new(),
                tags: request.tags,
                now: now_millis(),
            })
            .await?;
        if let Some(model) = logged_model {
            self.link_logged_model(&model, &version).await?;
        }
        self.record_signature(version).await
    }

    /// Inspects the new version's files once, so serving and model cards know its inputs and
    /// outputs without loading it.
    async fn record_signature(&self, mut version: ModelVersion) -> Result<ModelVersion> {
        if let Some(signature) = self.inspector.inspect(&version.storage_location).await {
            self.store
                .set_signature(&version.name, version.version, &signature)
                .await?;
            version.signature = Some(signature);
        }
        Ok(version)
    }

    /// Records on the logged model which registry versions were made from it, so the MLflow UI
    /// and client can navigate from a logged model to its versions.
    async fn link_logged_model(&self, model: &LoggedModel, version: &ModelVersion) -> Result<()> {
        let mut links: Vec<serde_json::Value> = model
            .tags
            .iter()
            .find(|t| t.key == MODEL_VERSIONS_TAG)
            .and_then(|t| serde_json::from_str(&t.value).ok())
            .unwrap_or_default();
        links.push(serde_json::json!({ "name": version.name, "version": version.version }));
        let tag = KeyValue::new(
            MODEL_VERSIONS_TAG,
            serde_json::Value::from(links).to_string(),
        );
        self.tracking
            .set_logged_model_tags(&model.model_id, &[tag])
            .await?;
        Ok(())
    }

    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        self.store
            .get_model_version(name, parse_version(version)?)
            .await
    }

    pub async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: &str,
    ) -> Result<ModelVersion> {
        self.store
            .update_model_version(name, parse_version(version)?, description, now_millis())
            .await
    }

    pub async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        self.store
            .delete_model_version(name, parse_version(version)?)
            .await
    }

    pub async fn search_model_versions(
        &self,
        request: &SearchRequest,
    ) -> Result<Page<ModelVersion>> {
        let search = RegistrySearch {
            filter: search::parse_model_version_filter(request.filter.as_deref().unwrap_or(""))?,
            order_by: request
                .order_by
                .iter()
                .map(|o| search::parse_model_version_order_by(o))
                .collect::<Result<_, _>>()?,
            max_results: max_results(request.max_results, 10_000, MAX_VERSIONS_PER_SEARCH)?,
            offset: galley_core::page::decode(request.page_token.as_deref())?,
        };
        self.store.search_model_versions(&search).await
    }

    pub async fn set_model_version_tag(
        &self,
        name: &str,
        version: &str,
        tag: &KeyValue,
    ) -> Result<()> {
        tracking_rules::validate_tag(tag)?;
        self.store
            .set_model_version_tag(name, parse_version(version)?, tag)
            .await
    }

    pub async fn delete_model_version_tag(
        &self,
        name: &str,
        version: &str,
        key: &str,
    ) -> Result<()> {
        self.store
            .delete_model_version_tag(name, parse_version(version)?, key)
            .await
    }

    pub async fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        let stage = Stage::parse(stage).ok_or_else(|| {
            RegistryError::InvalidParameter(format!(
                "Invalid Model Version stage: {stage}. Value must be one of None, Staging, Production, Archived."
            ))
        })?;
        self.store
            .transition_stage(
                name,
                parse_version(version)?,
                stage,
                archive_existing,
                now_millis(),
            )
            .await
    }

    pub async fn latest_versions(
        &self,
        name: &str,
        stages: &[String],
    ) -> Result<Vec<ModelVersion>> {
        let stages = stages
            .iter()
            .map(|s| {
                Stage::parse(s).ok_or_else(|| {
                    RegistryError::InvalidParameter(format!("Invalid Model Version stage: {s}."))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.store.latest_versions(name, &stages).await
    }

    pub async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        validate_alias(alias)?;
        self.store
            .set_alias(name, alias, parse_version(version)?)
            .await
    }

    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.store.delete_alias(name, alias).await
    }

    pub async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.store.get_version_by_alias(name, alias).await
    }

    /// The run, experiment and logged model behind a version. A run or logged model deleted
    /// since is left out rather than failing the whole answer.
    pub async fn lineage(&self, name: &str, version: &str) -> Result<Lineage> {
        let version = self.get_model_version(name, version).await?;
        let run = match &version.run_id {
            Some(id) => found(self.tracking.get_run(id).await)?,
            None => None,
        };
        let experiment = match &run {
            Some(run) => found(self.tracking.get_experiment(&run.info.experiment_id).await)?,
            None => None,
        };
        let logged_model = match &version.model_id {
            Some(id) => found(self.tracking.get_logged_model(id).await)?,
            None => None,
        };
        Ok(Lineage {
            version,
            run,
            experiment,
            logged_model,
        })
    }

    pub async fn put_model_card(&self, name: &str, version: &str, card: &ModelCard) -> Result<()> {
        validate_card(card)?;
        self.store
            .put_model_card(name, parse_version(version)?, card, now_millis())
            .await
    }

    pub async fn get_model_card(&self, name: &str, version: &str) -> Result<ModelCard> {
        self.store
            .get_model_card(name, parse_version(version)?)
            .await?
            .ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "Model Version (name={name}, version={version}) has no model card"
                ))
            })
    }

    /// The card as markdown, with the version's stage, aliases, signature and its run's
    /// datasets and metrics filled in. A version without a card renders those facts alone.
    pub async fn render_model_card(&self, name: &str, version: &str) -> Result<String> {
        let lineage = self.lineage(name, version).await?;
        let card = self
            .store
            .get_model_card(name, lineage.version.version)
            .await?
            .unwrap_or_default();
        Ok(card::render(&lineage.version, &card, lineage.run.as_ref()))
    }
}

/// MLflow's limits on one page of registry search results.
const MAX_MODELS_PER_SEARCH: u32 = 1_000;
const MAX_VERSIONS_PER_SEARCH: u32 = 200_000;

/// `Ok(None)` for a lookup that found nothing, so lineage can show what is still there.
fn found<T>(lookup: std::result::Result<T, TrackingError>) -> Result<Option<T>> {
    match lookup {
        Ok(value) => Ok(Some(value)),
        Err(TrackingError::NotFound(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

fn max_results(requested: Option<u32>, default: u32, limit: u32) -> Result<u32> {
    let value = requested.unwrap_or(default);
    if value == 0 || value > limit {
        return Err(RegistryError::InvalidParameter(format!(
            "Invalid value for max_results. It must be a positive integer at most {limit}, but got {value}."
        )));
    }
    Ok(value)
}

/// The logged-model tag listing the registry versions made from that model, as MLflow keeps it.
const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";
