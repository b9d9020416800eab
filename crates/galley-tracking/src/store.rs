//! The port the tracking service persists through. Backends (galley-store) implement it; the
//! conformance suite there holds every backend to the same behaviour.
//!
//! Contract every backend keeps: each method is atomic (a failed call changes nothing); unknown
//! ids are `TrackingError::NotFound`; unique names are `TrackingError::AlreadyExists`; writes to a
//! deleted run are `TrackingError::InvalidParameter`; searches are ordered deterministically.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::*;

#[async_trait]
pub trait TrackingStore: Send + Sync + 'static {
    /// Creates an experiment. `artifact_location` of `None` means "`<default root>/<new id>`",
    /// which only the store can compute since it allocates the id.
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        default_artifact_root: &str,
        tags: &[KeyValue],
        now: i64,
    ) -> Result<String>;
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment>;
    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment>;
    async fn search_experiments(&self, search: &ExperimentSearch) -> Result<Page<Experiment>>;
    async fn rename_experiment(&self, experiment_id: &str, new_name: &str, now: i64) -> Result<()>;
    /// Deleting or restoring an experiment does the same to its runs, as MLflow does.
    async fn set_experiment_lifecycle(
        &self,
        experiment_id: &str,
        stage: LifecycleStage,
        now: i64,
    ) -> Result<()>;
    async fn set_experiment_tag(&self, experiment_id: &str, tag: &KeyValue) -> Result<()>;
    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()>;

    async fn create_run(&self, run: &NewRun, artifact_uri: &str) -> Result<Run>;
    async fn get_run(&self, run_id: &str) -> Result<Run>;
    async fn update_run(&self, run_id: &str, update: &RunUpdate) -> Result<RunInfo>;
    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage, now: i64) -> Result<()>;
    /// Writes metrics, params and tags in one transaction. A param already logged with another
    /// value fails the whole batch. A `mlflow.runName` tag renames the run.
    async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()>;
    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<()>;
    /// Every logged value of one metric, ordered by step, then timestamp.
    async fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>>;
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()>;
    async fn log_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()>;
    async fn search_runs(&self, search: &RunSearch) -> Result<Page<Run>>;

    /// `artifact_uri` is computed by the service from the experiment's location and the new id.
    async fn create_logged_model(
        &self,
        model: &NewLoggedModel,
        artifact_uri: &str,
    ) -> Result<LoggedModel>;
    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel>;
    async fn set_logged_model_status(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
        now: i64,
    ) -> Result<LoggedModel>;
    async fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: &[KeyValue]) -> Result<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    async fn log_logged_model_params(&self, model_id: &str, params: &[KeyValue]) -> Result<()>;
    async fn search_logged_models(&self, search: &LoggedModelSearch) -> Result<Page<LoggedModel>>;
}
