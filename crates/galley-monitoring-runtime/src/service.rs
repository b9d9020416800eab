//! The monitoring service: ground-truth labels, reference profiles of model versions, and the
//! evaluation of a deployment's logged predictions over a time window (drift against the
//! reference, performance against labels), stored as time series and exported as gauges.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use galley_artifacts::{validate, ArtifactStore};
use galley_core::time::now_millis;
use galley_core::LeaseStore;
use galley_monitoring::alerts::{
    validate_rule, AlertEvent, AlertRule, Comparison, Delivery, RetrainLauncher, RuleSpec,
    MAX_RULES_PER_DEPLOYMENT,
};
use galley_monitoring::drift::{self, DatasetDrift, DriftOptions};
use galley_monitoring::model::{Label, MetricPoint, ReferenceRecord, Window};
use galley_monitoring::profile::{ColumnProfile, ColumnValues};
use galley_monitoring::validation::{parse_window, validate_labels};
use galley_monitoring::{MonitoringError, MonitoringStore};
use galley_serving::DeploymentStore;
use galley_tables::{Format, Table};
use serde::Serialize;

use crate::labels::{performance, Performance};
use crate::prediction_writer::PredictionLog;
use crate::profiling::table_error;
use crate::reference::{build_reference, ReferenceColumns, ReferenceProfile};
use crate::webhooks::{DeliverySettings, WebhookSender};
use crate::window_data::{WindowData, WindowReader};

type Result<T> = std::result::Result<T, MonitoringError>;

/// The lease whose holder runs the scheduled evaluations.
const EVALUATION_LEASE: &str = "monitoring-evaluation";

fn artifact_error(error: impl std::fmt::Display) -> MonitoringError {
    MonitoringError::Artifacts(error.to_string())
}

/// A reference dataset as uploaded or read from an artifact.
pub struct ReferenceData {
    /// Where it came from, for the record.
    pub source: String,
    pub format: Format,
    pub bytes: Bytes,
    pub columns: ReferenceColumns,
}

/// One column's reference and current profiles, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnComparison {
    pub column: String,
    pub reference: ColumnProfile,
    pub current: ColumnProfile,
}

/// Data quality of one input column in a window, against the reference.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnQuality {
    pub column: String,
    /// Share of rows without a usable value.
    pub missing_share: f64,
    /// Numeric columns: share of values outside the reference's [min, max].
    pub out_of_range_share: Option<f64>,
    /// Categorical columns: share of values in categories the reference never had.
    pub unseen_category_share: Option<f64>,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn column_quality(c: &ColumnComparison) -> ColumnQuality {
    let rows = c.current.count() + c.current.missing;
    let (out_of_range_share, unseen_category_share) = match (&c.reference.values, &c.current.values)
    {
        (ColumnValues::Numeric(reference), ColumnValues::Numeric(current)) => {
            let (low, high) = (
                reference.min().unwrap_or(f64::NEG_INFINITY),
                reference.max().unwrap_or(f64::INFINITY),
            );
            let outside: u64 = current
                .values()
                .iter()
                .zip(current.counts())
                .filter(|(v, _)| **v < low || **v > high)
                .map(|(_, n)| n)
                .sum();
            (Some(share(outside, current.count())), None)
        }
        (ColumnValues::Categorical(reference), ColumnValues::Categorical(current)) => {
            let unseen: u64 = current
                .counts()
                .iter()
                .filter(|(category, _)| !reference.counts().contains_key(*category))
                .map(|(_, n)| n)
                .sum();
            (None, Some(share(unseen, current.count())))
        }
        _ => (None, None),
    };
    ColumnQuality {
        column: c.column.clone(),
        missing_share: share(c.current.missing, rows),
        out_of_range_share,
        unseen_category_share,
    }
}

/// A window's evaluation of one deployment.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub deployment: String,
    pub model: String,
    pub version: i64,
    pub window: Window,
    pub rows: u64,
    /// `None` when the window has no logged rows.
    pub drift: Option<DatasetDrift>,
    pub prediction_drift: Option<DatasetDrift>,
    /// Per input column: missing values, values outside the reference's range, unseen categories.
    pub data_quality: Vec<ColumnQuality>,
    pub performance: Option<Performance>,
    /// Alerts this evaluation fired (a rule fires once per window).
    pub alerts: Vec<AlertEvent>,
    #[serde(skip)]
    pub comparisons: Vec<ColumnComparison>,
}

#[derive(Clone)]
pub struct MonitoringService {
    store: Arc<dyn MonitoringStore>,
    deployments: Arc<dyn DeploymentStore>,
    artifacts: ArtifactStore,
    log: Arc<PredictionLog>,
    webhooks: WebhookSender,
    retrain: Option<Arc<dyn RetrainLauncher>>,
}

impl MonitoringService {
    pub fn new(
        store: Arc<dyn MonitoringStore>,
        deployments: Arc<dyn DeploymentStore>,
        artifacts: ArtifactStore,
        log: Arc<PredictionLog>,
        delivery: DeliverySettings,
    ) -> Self {
        MonitoringService {
            webhooks: WebhookSender::new(store.clone(), delivery),
            store,
            deployments,
            artifacts,
            log,
            retrain: None,
        }
    }

    /// Lets alert rules name a retraining job, submitted through `launcher` when they fire.
    pub fn with_retrain_launcher(mut self, launcher: Arc<dyn RetrainLauncher>) -> Self {
        self.retrain = Some(launcher);
        self
    }

    /// Every `interval`, evaluates each deployment that has a reference profile over calendar
    /// windows of `interval` and of each length its alert rules name: the last complete window,
    /// and the one before it again so labels that arrived since are joined into its results.
    ///
    /// With several server replicas on one metadata store, the replica holding the
    /// `monitoring-evaluation` lease evaluates; the others wait and take over if it stops.
    pub fn start_schedule(&self, interval: Duration, leases: Arc<dyn LeaseStore>) {
        let service = self.clone();
        let holder = uuid::Uuid::new_v4().simple().to_string();
        let interval_ms = interval.as_millis() as i64;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = now_millis();
                // Held for two rounds, so one slow round does not hand the loop over.
                match leases
                    .try_lease(EVALUATION_LEASE, &holder, now, now + 2 * interval_ms)
                    .await
                {
                    Ok(true) => service.evaluate_all(interval).await,
                    Ok(false) => tracing::debug!("another replica runs the scheduled evaluations"),
                    Err(error) => tracing::warn!(%error, "cannot take the evaluation lease"),
                }
            }
        });
    }

    async fn evaluate_all(&self, interval: Duration) {
        let deployments = match self.deployments.list_deployments().await {
            Ok(deployments) => deployments,
            Err(error) => {
                tracing::warn!(%error, "scheduled evaluation: cannot list deployments");
                return;
            }
        };
        let now = now_millis();
        for deployment in deployments {
            let mut lengths = vec![interval.as_millis() as i64];
            for rule in self.store.rules(&deployment.name).await.unwrap_or_default() {
                lengths.extend(parse_window(&rule.spec.window).ok());
            }
            lengths.sort_unstable();
            lengths.dedup();
            let windows = lengths
                .into_iter()
                .flat_map(|length| scheduled_windows(now, length));
            for window in windows {
                match self
                    .evaluate(&deployment.name, window, &DriftOptions::default())
                    .await
                {
                    Ok(evaluation) => tracing::info!(
                        deployment = %deployment.name,
                        rows = evaluation.rows,
                        alerts = evaluation.alerts.len(),
                        "scheduled evaluation"
                    ),
                    // No reference profile yet: nothing to compare with.
                    Err(MonitoringError::NotFound(_)) => {}
                    Err(error) => {
                        tracing::warn!(deployment = %deployment.name, %error, "scheduled evaluation failed")
                    }
                }
            }
        }
    }

    pub async fn create_rule(&self, deployment: &str, spec: RuleSpec) -> Result<AlertRule> {
        validate_rule(&spec)?;
        self.deployment(deployment).await?;
        if let Some(job) = &spec.retrain_job {
            let launcher = self.retrain.as_ref().ok_or_else(|| {
                MonitoringError::InvalidInput(
                    "this server has no compute layer to run a retrain_job".into(),
                )
            })?;
            launcher
                .check(job)
                .await
                .map_err(|e| MonitoringError::InvalidInput(format!("retrain_job: {e}")))?;
        }
        if self.store.rules(deployment).await?.len() >= MAX_RULES_PER_DEPLOYMENT {
            return Err(MonitoringError::InvalidInput(format!(
                "a deployment has at most {MAX_RULES_PER_DEPLOYMENT} alert rules"
            )));
        }
        let rule = AlertRule {
            id: uuid::Uuid::new_v4().simple().to_string(),
            deployment: deployment.to_owned(),
            spec,
            created_at: now_millis(),
        };
        self.store.create_rule(&rule).await?;
        Ok(rule)
    }

    pub async fn rules(&self, deployment: &str) -> Result<Vec<AlertRule>> {
        self.deployment(deployment).await?;
        self.store.rules(deployment).await
    }

    pub async fn delete_rule(&self, deployment: &str, id: &str) -> Result<()> {
        self.store.delete_rule(deployment, id).await
    }

    pub async fn events(&self, deployment: &str, limit: u32) -> Result<Vec<AlertEvent>> {
        self.deployment(deployment).await?;
        self.store.events(deployment, limit).await
    }

    /// Fires the deployment's rules that this evaluation breaches: one event per rule and
    /// window (the worst breaching value), a webhook delivery where the rule has one.
    async fn fire_rules(&self, evaluation: &mut Evaluation, points: &[MetricPoint]) -> Result<()> {
        for rule in self.store.rules(&evaluation.deployment).await? {
            let worst = rule.spec.breaches(points).into_iter().max_by(|a, b| {
                let beyond = |p: &MetricPoint| match rule.spec.comparison {
                    Comparison::Above => p.value,
                    Comparison::Below => -p.value,
                };
                beyond(a).total_cmp(&beyond(b))
            });
            let Some(point) = worst else { continue };
            let event = AlertEvent {
                id: uuid::Uuid::new_v4().simple().to_string(),
                rule_id: rule.id.clone(),
                deployment: evaluation.deployment.clone(),
                metric: point.metric.clone(),
                column: point.column.clone(),
                value: point.value,
                threshold: rule.spec.threshold,
                severity: rule.spec.severity,
                window: evaluation.window,
                fired_at: now_millis(),
                delivery: if rule.spec.webhook_url.is_some() {
                    Delivery::Pending
                } else {
                    Delivery::None
                },
                attempts: 0,
                retrain_job_id: None,
            };
            if !self.store.add_event(&event).await? {
                continue;
            }
            metrics::counter!(
                "galley_monitoring_alerts_total",
                "deployment" => evaluation.deployment.clone(),
                "severity" => rule.spec.severity.as_str()
            )
            .increment(1);
            tracing::warn!(
                deployment = %evaluation.deployment,
                rule = %rule.spec.name,
                metric = %event.metric,
                column = %event.column,
                value = event.value,
                "alert fired"
            );
            let mut event = event;
            if let (Some(job), Some(launcher)) = (&rule.spec.retrain_job, &self.retrain) {
                match launcher.launch(job, &event).await {
                    Ok(job_id) => {
                        self.store.set_retrain_job(&event.id, &job_id).await?;
                        tracing::info!(rule = %rule.spec.name, job = %job_id, "retraining job submitted");
                        event.retrain_job_id = Some(job_id);
                    }
                    Err(error) => {
                        tracing::warn!(rule = %rule.spec.name, %error, "retraining job not submitted")
                    }
                }
            }
            if let Some(url) = &rule.spec.webhook_url {
                let payload = serde_json::json!({
                    "event": event,
                    "rule": rule,
                    "evaluation": &*evaluation,
                });
                self.webhooks.send(url.clone(), event.clone(), payload);
            }
            evaluation.alerts.push(event);
        }
        Ok(())
    }

    pub fn prediction_log(&self) -> &PredictionLog {
        &self.log
    }

    async fn deployment(&self, name: &str) -> Result<galley_serving::model::Deployment> {
        self.deployments
            .get_deployment(name)
            .await
            .map_err(|e| match e {
                galley_serving::ServingError::NotFound(message) => {
                    MonitoringError::NotFound(message)
                }
                other => MonitoringError::Artifacts(other.to_string()),
            })
    }

    /// Stores ground truth for requests the deployment answered; all labels or none.
    pub async fn put_labels(&self, deployment: &str, mut labels: Vec<Label>) -> Result<usize> {
        validate_labels(&labels)?;
        self.deployment(deployment).await?;
        let now = now_millis();
        for label in &mut labels {
            label.labeled_at = now;
        }
        self.store.put_labels(deployment, &labels).await?;
        Ok(labels.len())
    }

    /// Profiles `data` and stores it as the reference of `model` version `version`.
    pub async fn set_reference(
        &self,
        model: &str,
        version: i64,
        data: ReferenceData,
    ) -> Result<(ReferenceRecord, ReferenceProfile)> {
        let columns = data.columns.clone();
        let (format, bytes) = (data.format, data.bytes);
        let profile = tokio::task::spawn_blocking(move || {
            let table = Table::from_bytes(bytes, format).map_err(table_error)?;
            build_reference(&table, &columns)
        })
        .await
        .map_err(|e| MonitoringError::Artifacts(format!("profiling failed: {e}")))??;
        let document = serde_json::to_vec(&profile).map_err(artifact_error)?;
        let profile_path = format!(
            "monitoring/references/{model}/{version}/{}.json",
            uuid::Uuid::new_v4().simple()
        );
        let key =
            validate(&profile_path).map_err(|e| MonitoringError::InvalidInput(e.to_string()))?;
        self.artifacts
            .put_bytes(&key, document.into())
            .await
            .map_err(artifact_error)?;
        let record = ReferenceRecord {
            model: model.to_owned(),
            version,
            source: data.source,
            row_count: profile.rows as i64,
            profile_path,
            created_at: now_millis(),
        };
        self.store.put_reference(&record).await?;
        tracing::info!(
            model,
            version,
            rows = profile.rows,
            "reference profile stored"
        );
        Ok((record, profile))
    }

    pub async fn reference(
        &self,
        model: &str,
        version: i64,
    ) -> Result<(ReferenceRecord, ReferenceProfile)> {
        let record = self.store.reference(model, version).await?;
        let key = validate(&record.profile_path).map_err(artifact_error)?;
        let bytes = self
            .artifacts
            .get_bytes(&key)
            .await
            .map_err(artifact_error)?;
        let profile = serde_json::from_slice(&bytes).map_err(artifact_error)?;
        Ok((record, profile))
    }

    /// Evaluates the deployment's serving version over `window`, stores the results and updates
    /// the gauges.
    pub async fn evaluate(
        &self,
        deployment: &str,
        window: Window,
        options: &DriftOptions,
    ) -> Result<Evaluation> {
        if window.start >= window.end {
            return Err(MonitoringError::InvalidInput(
                "the window's start must be before its end".to_owned(),
            ));
        }
        let serving = self.deployment(deployment).await?;
        let (_, reference) = self.reference(&serving.model, serving.version).await?;
        let data = self.read_window(deployment, window, &reference).await?;
        let labels = self.labels_for(deployment, &data).await?;
        let mut evaluation = evaluate_window(
            deployment,
            &serving.model,
            serving.version,
            window,
            &reference,
            data,
            &labels,
            options,
        )?;
        let points = evaluation_points(&evaluation);
        if !points.is_empty() {
            self.store.put_results(deployment, &points).await?;
        }
        export_gauges(&evaluation);
        self.fire_rules(&mut evaluation, &points).await?;
        Ok(evaluation)
    }

    pub async fn results(
        &self,
        deployment: &str,
        metric: Option<&str>,
        range: Window,
    ) -> Result<Vec<MetricPoint>> {
        self.store.results(deployment, metric, range).await
    }

    async fn read_window(
        &self,
        deployment: &str,
        window: Window,
        reference: &ReferenceProfile,
    ) -> Result<WindowData> {
        let files = self.store.prediction_files(deployment, window).await?;
        let names = reference.features.iter().map(|f| f.name.clone()).collect();
        let mut reader = WindowReader::new(window, names);
        for file in files {
            let key = validate(&file.path).map_err(artifact_error)?;
            let bytes = self
                .artifacts
                .get_bytes(&key)
                .await
                .map_err(artifact_error)?;
            reader = tokio::task::spawn_blocking(move || -> Result<WindowReader> {
                let table = Table::from_parquet_bytes(bytes).map_err(table_error)?;
                reader.add_file(&table)?;
                Ok(reader)
            })
            .await
            .map_err(|e| {
                MonitoringError::Artifacts(format!("reading predictions failed: {e}"))
            })??;
        }
        Ok(reader.finish())
    }

    async fn labels_for(
        &self,
        deployment: &str,
        data: &WindowData,
    ) -> Result<HashMap<(String, i64), String>> {
        let mut request_ids: Vec<String> = data
            .predictions
            .iter()
            .map(|p| p.request_id.clone())
            .collect();
        request_ids.sort_unstable();
        request_ids.dedup();
        let labels = self.store.labels(deployment, &request_ids).await?;
        Ok(labels
            .into_iter()
            .map(|l| ((l.request_id, l.row), l.label))
            .collect())
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate_window(
    deployment: &str,
    model: &str,
    version: i64,
    window: Window,
    reference: &ReferenceProfile,
    data: WindowData,
    labels: &HashMap<(String, i64), String>,
    options: &DriftOptions,
) -> Result<Evaluation> {
    let mut comparisons = Vec::new();
    for (name, current) in &data.features {
        if let Some(feature) = reference.features.iter().find(|f| &f.name == name) {
            comparisons.push(ColumnComparison {
                column: name.clone(),
                reference: feature.profile.clone(),
                current: current.clone(),
            });
        }
    }
    let drift = if data.rows == 0 {
        None
    } else {
        let pairs: Vec<(&str, &ColumnProfile, &ColumnProfile)> = comparisons
            .iter()
            .map(|c| (c.column.as_str(), &c.reference, &c.current))
            .collect();
        Some(
            drift::evaluate(&pairs, options)
                .map_err(|e| MonitoringError::InvalidInput(e.to_string()))?,
        )
    };
    let prediction_drift = match (&reference.prediction, &data.prediction) {
        (Some(reference), Some(current)) if data.rows > 0 => Some(
            drift::evaluate(
                &[(reference.name.as_str(), &reference.profile, current)],
                &DriftOptions::default(),
            )
            .map_err(|e| MonitoringError::InvalidInput(e.to_string()))?,
        ),
        _ => None,
    };
    let performance = performance(reference.task, &data.predictions, labels)?;
    Ok(Evaluation {
        deployment: deployment.to_owned(),
        model: model.to_owned(),
        version,
        window,
        rows: data.rows,
        drift,
        prediction_drift,
        data_quality: comparisons.iter().map(column_quality).collect(),
        performance,
        alerts: Vec::new(),
        comparisons,
    })
}

/// The last two complete windows of `length` before `now`, aligned to multiples of `length`
/// since the epoch (hourly windows start on the hour), so every evaluation of a window is of
/// the same rows and replaces the same points.
fn scheduled_windows(now: i64, length: i64) -> [Window; 2] {
    let end = now - now.rem_euclid(length);
    [
        Window::ending_at(end - length, length),
        Window::ending_at(end, length),
    ]
}

/// The evaluation as time-series points: dataset and per-column drift, prediction drift, rows and
/// performance. Non-finite values are left out (a metric undefined in this window).
fn evaluation_points(evaluation: &Evaluation) -> Vec<MetricPoint> {
    let now = now_millis();
    let mut points = Vec::new();
    let mut add = |metric: &str, column: &str, value: f64| {
        if value.is_finite() {
            points.push(MetricPoint {
                window: evaluation.window,
                metric: metric.to_owned(),
                column: column.to_owned(),
                value,
                evaluated_at: now,
            });
        }
    };
    add("rows", "", evaluation.rows as f64);
    if let Some(drift) = &evaluation.drift {
        add("drift_share", "", drift.drift_share);
        add(
            "dataset_drift",
            "",
            f64::from(u8::from(drift.dataset_drift)),
        );
        for column in &drift.columns {
            add("drift_score", &column.column, column.score);
            add(
                "drift_detected",
                &column.column,
                f64::from(u8::from(column.drift_detected)),
            );
        }
    }
    for quality in &evaluation.data_quality {
        add("missing_share", &quality.column, quality.missing_share);
        if let Some(value) = quality.out_of_range_share {
            add("out_of_range_share", &quality.column, value);
        }
        if let Some(value) = quality.unseen_category_share {
            add("unseen_category_share", &quality.column, value);
        }
    }
    if let Some(prediction) = evaluation
        .prediction_drift
        .as_ref()
        .and_then(|d| d.columns.first())
    {
        add(
            "prediction_drift_score",
            &prediction.column,
            prediction.score,
        );
    }
    if let Some(performance) = &evaluation.performance {
        add("labeled_rows", "", performance.labeled_rows as f64);
        for (metric, value) in &performance.metrics {
            add(metric, "", *value);
        }
    }
    points
}

fn export_gauges(evaluation: &Evaluation) {
    let deployment = evaluation.deployment.clone();
    if let Some(drift) = &evaluation.drift {
        metrics::gauge!("galley_monitoring_drift_share", "deployment" => deployment.clone())
            .set(drift.drift_share);
        for column in &drift.columns {
            metrics::gauge!(
                "galley_monitoring_drift_score",
                "deployment" => deployment.clone(),
                "column" => column.column.clone(),
                "test" => column.test.to_string()
            )
            .set(column.score);
        }
    }
    if let Some(performance) = &evaluation.performance {
        for (metric, value) in &performance.metrics {
            metrics::gauge!(
                "galley_monitoring_performance",
                "deployment" => deployment.clone(),
                "metric" => metric.clone()
            )
            .set(*value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_windows_are_the_last_two_complete_calendar_windows() {
        let hour = 3_600_000;
        let now = 10 * hour + 123;
        assert_eq!(
            scheduled_windows(now, hour),
            [
                Window {
                    start: 8 * hour,
                    end: 9 * hour
                },
                Window {
                    start: 9 * hour,
                    end: 10 * hour
                },
            ]
        );
        assert_eq!(scheduled_windows(10 * hour, hour)[1].end, 10 * hour);
    }
}
