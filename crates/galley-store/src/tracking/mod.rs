//! `TrackingStore` on SQL: experiments, runs, metrics, datasets and logged models.

mod experiments;
mod logged_models;
mod run_data;
mod runs;
mod search;

use async_trait::async_trait;
use galley_tracking::model::*;
use galley_tracking::{TrackingError, TrackingStore};

pub(crate) use crate::sql::{col, db_err, is_unique_violation};
use crate::SqlStore;

type Result<T> = std::result::Result<T, TrackingError>;

/// Ids are integers in the database and strings on the wire; a non-integer id names nothing.
pub(crate) fn experiment_key(experiment_id: &str) -> Result<i64> {
    experiment_id.parse::<i64>().map_err(|_| {
        TrackingError::NotFound(format!("No Experiment with id={experiment_id} exists"))
    })
}

/// NaN is stored as 0 with a flag because SQLite cannot store NaN.
pub(crate) fn stored_value(value: f64) -> (f64, i64) {
    if value.is_nan() {
        (0.0, 1)
    } else {
        (value, 0)
    }
}

pub(crate) fn loaded_value(value: f64, is_nan: i64) -> f64 {
    if is_nan != 0 {
        f64::NAN
    } else {
        value
    }
}

#[async_trait]
impl TrackingStore for SqlStore {
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        default_artifact_root: &str,
        tags: &[KeyValue],
        now: i64,
    ) -> Result<String> {
        experiments::create(
            self,
            name,
            artifact_location,
            default_artifact_root,
            tags,
            now,
        )
        .await
    }

    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        experiments::get(self, experiment_id).await
    }

    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        experiments::get_by_name(self, name).await
    }

    async fn search_experiments(&self, query: &ExperimentSearch) -> Result<Page<Experiment>> {
        search::experiments(self, query).await
    }

    async fn rename_experiment(&self, experiment_id: &str, new_name: &str, now: i64) -> Result<()> {
        experiments::rename(self, experiment_id, new_name, now).await
    }

    async fn set_experiment_lifecycle(
        &self,
        experiment_id: &str,
        stage: LifecycleStage,
        now: i64,
    ) -> Result<()> {
        experiments::set_lifecycle(self, experiment_id, stage, now).await
    }

    async fn set_experiment_tag(&self, experiment_id: &str, tag: &KeyValue) -> Result<()> {
        experiments::set_tag(self, experiment_id, tag).await
    }

    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        experiments::delete_tag(self, experiment_id, key).await
    }

    async fn create_run(&self, run: &NewRun, artifact_uri: &str) -> Result<Run> {
        runs::create(self, run, artifact_uri).await
    }

    async fn get_run(&self, run_id: &str) -> Result<Run> {
        runs::get(self, run_id).await
    }

    async fn update_run(&self, run_id: &str, update: &RunUpdate) -> Result<RunInfo> {
        runs::update(self, run_id, update).await
    }

    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage, now: i64) -> Result<()> {
        runs::set_lifecycle(self, run_id, stage, now).await
    }

    async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        runs::log_batch(self, run_id, metrics, params, tags).await
    }

    async fn delete_run_tag(&self, run_id: &str, key: &str) -> Result<()> {
        runs::delete_tag(self, run_id, key).await
    }

    async fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        runs::metric_history(self, run_id, key).await
    }

    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: &[DatasetInput],
        model_ids: &[String],
    ) -> Result<()> {
        runs::log_inputs(self, run_id, datasets, model_ids).await
    }

    async fn log_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()> {
        runs::log_outputs(self, run_id, outputs).await
    }

    async fn search_runs(&self, query: &RunSearch) -> Result<Page<Run>> {
        search::runs(self, query).await
    }

    async fn create_logged_model(
        &self,
        model: &NewLoggedModel,
        artifact_uri: &str,
    ) -> Result<LoggedModel> {
        logged_models::create(self, model, artifact_uri).await
    }

    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        logged_models::get(self, model_id).await
    }

    async fn set_logged_model_status(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
        now: i64,
    ) -> Result<LoggedModel> {
        logged_models::set_status(self, model_id, status, now).await
    }

    async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        logged_models::delete(self, model_id).await
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: &[KeyValue]) -> Result<()> {
        logged_models::set_tags(self, model_id, tags).await
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        logged_models::delete_tag(self, model_id, key).await
    }

    async fn log_logged_model_params(&self, model_id: &str, params: &[KeyValue]) -> Result<()> {
        logged_models::log_params(self, model_id, params).await
    }

    async fn search_logged_models(&self, query: &LoggedModelSearch) -> Result<Page<LoggedModel>> {
        logged_models::search(self, query).await
    }
}
