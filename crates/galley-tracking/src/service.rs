//! The tracking service: validates requests, fills MLflow's defaults and delegates to the store.

use std::sync::Arc;

use galley_core::{ids, time::now_millis};

use crate::error::{Result, TrackingError};
use crate::model::*;
use crate::names::generate_run_name;
use crate::search;
use crate::store::TrackingStore;
use crate::validation::*;

/// The tag MLflow mirrors the run name into.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
pub const DEFAULT_EXPERIMENT_ID: &str = "0";

#[derive(Clone)]
pub struct TrackingService {
    store: Arc<dyn TrackingStore>,
    /// Where experiments created without an explicit location put their artifacts,
    /// e.g. `mlflow-artifacts:` so clients upload through the server's artifact proxy.
    default_artifact_root: String,
}

/// A request to create a run, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct CreateRun {
    pub experiment_id: Option<String>,
    pub user_id: Option<String>,
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<KeyValue>,
}

/// A search request as the client sent it: filter and order_by are still text.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    pub max_results: Option<u32>,
    pub page_token: Option<String>,
}

fn join_uri(root: &str, child: &str) -> String {
    format!("{}/{}", root.trim_end_matches('/'), child)
}

impl TrackingService {
    pub fn new(store: Arc<dyn TrackingStore>, default_artifact_root: impl Into<String>) -> Self {
        TrackingService {
            store,
            default_artifact_root: default_artifact_root.into(),
        }
    }

    pub fn store(&self) -> &Arc<dyn TrackingStore> {
        &self.store
    }

    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<String> {
        validate_experiment_name(name)?;
        tags.iter().try_for_each(validate_experiment_tag)?;
        let location = artifact_location.filter(|l| !l.is_empty());
        self.store
            .create_experiment(
                name,
                location,
                &self.default_artifact_root,
                tags,
                now_millis(),
            )
            .await
    }

    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        self.store.get_experiment(experiment_id).await
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        self.store.get_experiment_by_name(name).await
    }

    pub async fn search_experiments(&self, request: &SearchRequest) -> Result<Page<Experiment>> {
        let max_results = request.max_results.unwrap_or(1000);
        validate_max_results(max_results)?;
        let search = ExperimentSearch {
            view_type: request.view_type,
            filter: search::parse_experiment_filter(request.filter.as_deref().unwrap_or(""))?,
            order_by: request
                .order_by
                .iter()
                .map(|o| search::parse_experiment_order_by(o))
                .collect::<Result<_, _>>()?,
            max_results,
            offset: galley_core::page::decode(request.page_token.as_deref())?,
        };
        self.store.search_experiments(&search).await
    }

    pub async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        validate_experiment_name(new_name)?;
        let experiment = self.store.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(TrackingError::InvalidParameter(format!(
                "Cannot rename a non-active experiment. Experiment '{experiment_id}' is deleted."
            )));
        }
        self.store
            .rename_experiment(experiment_id, new_name, now_millis())
            .await
    }

    pub async fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        if experiment_id == DEFAULT_EXPERIMENT_ID {
            return Err(TrackingError::InvalidParameter(
                "Cannot delete the default experiment '0'. This is an internally reserved experiment."
                    .into(),
            ));
        }
        self.store
            .set_experiment_lifecycle(experiment_id, LifecycleStage::Deleted, now_millis())
            .await
    }

    pub async fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.store
            .set_experiment_lifecycle(experiment_id, LifecycleStage::Active, now_millis())
            .await
    }

    pub async fn set_experiment_tag(&self, experiment_id: &str, tag: &KeyValue) -> Result<()> {
        validate_experiment_tag(tag)?;
        self.require_active_experiment(experiment_id).await?;
        self.store.set_experiment_tag(experiment_id, tag).await
    }

    pub async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        self.require_active_experiment(experiment_id).await?;
        self.store.delete_experiment_tag(experiment_id, key).await
    }

    async fn require_active_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let experiment = self.store.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(TrackingError::InvalidParameter(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
            )));
        }
        Ok(experiment)
    }

    pub async fn create_run(&self, request: CreateRun) -> Result<Run> {
        let experiment_id = request
            .experiment_id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| DEFAULT_EXPERIMENT_ID.to_string());
        request.tags.iter().try_for_each(validate_tag)?;
        let experiment = self.require_active_experiment(&experiment_id).await?;
        let tagged_name = request
            .tags
            .iter()
            .find(|t| t.key == RUN_NAME_TAG)
            .map(|t| t.value.clone());
        let run_name = match (request.run_name.filter(|n| !n.is_empty()), tagged_name) {
            (Some(name), Some(tagged)) if name != tagged => {
                return Err(TrackingError::InvalidParameter(format!(
                    "Both 'run_name' argument and '{RUN_NAME_TAG}' tag are specified, but with \
                     different values (run_name='{name}', {RUN_NAME_TAG}='{tagged}')."
                )))
            }
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => generate_run_name(),
        };
        let mut tags: Vec<KeyValue> = request
            .tags
            .into_iter()
            .filter(|t| t.key != RUN_NAME_TAG)
            .collect();
        tags.push(KeyValue::new(RUN_NAME_TAG, run_name.clone()));
        let run = NewRun {
            run_id: ids::new_run_id(),
            experiment_id,
            user_id: request.user_id.unwrap_or_default(),
            run_name,
            start_time: request.start_time.unwrap_or_else(now_millis),
            tags,
        };
        let artifact_uri = join_uri(
            &experiment.artifact_location,
            &format!("{}/artifacts", run.run_id),
        );
        self.store.create_run(&run, &artifact_uri).await
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        self.store.get_run(run_id).await
    }

    pub async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        self.require_active_run(run_id).await?;
        self.store.update_run(run_id, &update).await
    }

    pub async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.store
            .set_run_lifecycle(run_id, LifecycleStage::Deleted, now_millis())
            .await
    }

    pub async fn restore_run(&self, run_id: &str) -> Result<()> {
        self.store
            .set_run_lifecycle(run_id, LifecycleStage::Active, now_millis())
            .await
    }

    async fn require_active_run(&self, run_id: &str) -> Result<Run> {
        let run = self.store.get_run(run_id).await?;
        if run.info.lifecycle_stage != LifecycleStage::Active {
            return Err(TrackingError::InvalidParameter(format!(
                "The run {run_id} must be in the 'active' state. Current state is deleted."
            )));
        }
        Ok(run)
    }

    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        validate_batch(metrics, params, tags)?;
        self.store.log_batch(run_id, metrics, params, tags).await
    }

    pub async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let run = self.require_active_run(run_id).await?;
        if !run.tags.iter().any(|t| t.key == key) {
            return Err(TrackingError::NotFound(format!(
                "No tag with name: {key} in run with id {run_id}"
            )));
        }
        self.store.delete_run_tag(run_id, key).await
    }

    pub async fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        self.store.get_metric_history(run_id, key).await
    }

    pub async fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()> {
        for input in datasets {
            input.tags.iter().try_for_each(validate_tag)?;
            if input.dataset.name.is_empty() || input.dataset.digest.is_empty() {
                return Err(TrackingError::InvalidParameter(
                    "A dataset input needs a name and a digest".into(),
                ));
            }
        }
        self.require_active_run(run_id).await?;
        self.store.log_inputs(run_id, datasets, model_ids).await
    }

    pub async fn log_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()> {
        self.require_active_run(run_id).await?;
        self.store.log_outputs(run_id, outputs).await
    }

    pub async fn search_runs(
        &self,
        experiment_ids: Vec<String>,
        request: &SearchRequest,
    ) -> Result<Page<Run>> {
        let max_results = request.max_results.unwrap_or(1000);
        validate_max_results(max_results)?;
        let search = RunSearch {
            experiment_ids,
            view_type: request.view_type,
            filter: search::parse_run_filter(request.filter.as_deref().unwrap_or(""))?,
            order_by: request
                .order_by
                .iter()
                .map(|o| search::parse_run_order_by(o))
                .collect::<Result<_, _>>()?,
            max_results,
            offset: galley_core::page::decode(request.page_token.as_deref())?,
        };
        self.store.search_runs(&search).await
    }

    pub async fn create_logged_model(&self, request: NewLoggedModelRequest) -> Result<LoggedModel> {
        request.tags.iter().try_for_each(validate_tag)?;
        request.params.iter().try_for_each(validate_param)?;
        let experiment = self
            .require_active_experiment(&request.experiment_id)
            .await?;
        if let Some(run_id) = &request.source_run_id {
            self.store.get_run(run_id).await?;
        }
        let model = NewLoggedModel {
            model_id: ids::new_logged_model_id(),
            experiment_id: request.experiment_id,
            name: request.name.unwrap_or_else(generate_run_name),
            model_type: request.model_type,
            source_run_id: request.source_run_id,
            params: request.params,
            tags: request.tags,
            creation_timestamp_ms: now_millis(),
        };
        let artifact_uri = join_uri(
            &experiment.artifact_location,
            &format!("models/{}/artifacts", model.model_id),
        );
        self.store.create_logged_model(&model, &artifact_uri).await
    }

    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.store.get_logged_model(model_id).await
    }

    pub async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        if status == LoggedModelStatus::Pending {
            return Err(TrackingError::InvalidParameter(
                "A logged model can only be finalized as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
                    .into(),
            ));
        }
        self.store
            .set_logged_model_status(model_id, status, now_millis())
            .await
    }

    pub async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.store.delete_logged_model(model_id).await
    }

    pub async fn set_logged_model_tags(&self, model_id: &str, tags: &[KeyValue]) -> Result<()> {
        tags.iter().try_for_each(validate_tag)?;
        self.store.set_logged_model_tags(model_id, tags).await
    }

    pub async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.store.delete_logged_model_tag(model_id, key).await
    }

    pub async fn log_logged_model_params(&self, model_id: &str, params: &[KeyValue]) -> Result<()> {
        params.iter().try_for_each(validate_param)?;
        self.store.log_logged_model_params(model_id, params).await
    }

    /// `order_by` holds `(field_name, ascending)` pairs as MLflow's structured order_by sends them.
    pub async fn search_logged_models(
        &self,
        experiment_ids: Vec<String>,
        filter: Option<&str>,
        order_by: &[LoggedModelOrderRequest],
        max_results: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedModel>> {
        let max_results = max_results.unwrap_or(100);
        validate_max_results(max_results)?;
        let order_by = order_by
            .iter()
            .map(logged_model_order)
            .collect::<Result<_>>()?;
        self.store
            .search_logged_models(&LoggedModelSearch {
                experiment_ids,
                filter: search::parse_logged_model_filter(filter.unwrap_or(""))?,
                order_by,
                max_results,
                offset: galley_core::page::decode(page_token)?,
            })
            .await
    }
}

/// A request to create a logged model, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct NewLoggedModelRequest {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

/// MLflow's rules for a logged-model `order_by` entry: an attribute, or `metrics.<key>`.
fn logged_model_order(request: &LoggedModelOrderRequest) -> Result<LoggedModelOrder> {
    let key = match request.field_name.split_once('.') {
        None => match request.field_name.as_str() {
            "creation_timestamp" | "last_updated_timestamp" | "name" | "model_id" => {
                LoggedModelOrderKey::Attribute(request.field_name.clone())
            }
            other => {
                return Err(TrackingError::InvalidParameter(format!(
                    "Invalid order by field name: {other}; use creation_timestamp, \
                     last_updated_timestamp, name, model_id or metrics.<key>"
                )))
            }
        },
        Some(("metrics", key)) if !key.is_empty() => LoggedModelOrderKey::Metric {
            key: key.to_owned(),
            dataset_name: request.dataset_name.clone(),
            dataset_digest: request.dataset_digest.clone(),
        },
        Some(_) => {
            return Err(TrackingError::InvalidParameter(format!(
                "Invalid order by field name: {}. Only metrics are supported.",
                request.field_name
            )))
        }
    };
    Ok(LoggedModelOrder {
        key,
        ascending: request.ascending,
    })
}
