//! The port monitoring persists through; galley-store implements it and its conformance suite
//! holds every backend to the same behaviour.
//!
//! Contract: each method is atomic (a bulk write stores all of its rows or none).

use async_trait::async_trait;

use crate::alerts::{AlertEvent, AlertRule, Delivery};
use crate::error::Result;
use crate::model::{Label, MetricPoint, PredictionFile, ReferenceRecord, Window};

#[async_trait]
pub trait MonitoringStore: Send + Sync + 'static {
    async fn add_prediction_file(&self, file: &PredictionFile) -> Result<()>;
    /// The deployment's files holding requests that arrived in `window`, oldest first.
    async fn prediction_files(
        &self,
        deployment: &str,
        window: Window,
    ) -> Result<Vec<PredictionFile>>;

    /// Stores labels, replacing any earlier label of the same request row.
    async fn put_labels(&self, deployment: &str, labels: &[Label]) -> Result<()>;
    /// The labels of the given requests; requests without labels are absent.
    async fn labels(&self, deployment: &str, request_ids: &[String]) -> Result<Vec<Label>>;

    /// Stores a version's reference profile record, replacing an earlier one.
    async fn put_reference(&self, reference: &ReferenceRecord) -> Result<()>;
    /// `MonitoringError::NotFound` when the version has no reference profile.
    async fn reference(&self, model: &str, version: i64) -> Result<ReferenceRecord>;

    /// Stores a window's evaluation, replacing the values of the same window, metric and column.
    async fn put_results(&self, deployment: &str, points: &[MetricPoint]) -> Result<()>;
    /// Values whose window ends within `range`, ordered by window start, then metric and column;
    /// `metric` narrows to one metric.
    async fn results(
        &self,
        deployment: &str,
        metric: Option<&str>,
        range: Window,
    ) -> Result<Vec<MetricPoint>>;

    async fn create_rule(&self, rule: &AlertRule) -> Result<()>;
    /// The deployment's rules, oldest first.
    async fn rules(&self, deployment: &str) -> Result<Vec<AlertRule>>;
    /// `MonitoringError::NotFound` for an unknown id.
    async fn delete_rule(&self, deployment: &str, id: &str) -> Result<()>;

    /// Records a firing; `false` (and nothing stored) when the rule already fired for that
    /// window, so re-evaluating a window alerts once.
    async fn add_event(&self, event: &AlertEvent) -> Result<bool>;
    async fn set_delivery(&self, event_id: &str, delivery: Delivery, attempts: u32) -> Result<()>;
    /// Records the retraining job an event submitted.
    async fn set_retrain_job(&self, event_id: &str, job_id: &str) -> Result<()>;
    /// The deployment's events, newest first, at most `limit`.
    async fn events(&self, deployment: &str, limit: u32) -> Result<Vec<AlertEvent>>;
}
