//! The tracking domain's data: experiments, runs and what is logged to them. Wire formats live in galley-http.

use crate::search::ast::{Comparison, OrderBy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(LifecycleStage::Active),
            "deleted" => Some(LifecycleStage::Deleted),
            _ => None,
        }
    }
}

/// Which lifecycle stages a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE_ONLY" | "1" => Some(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Some(ViewType::DeletedOnly),
            "ALL" | "3" => Some(ViewType::All),
            _ => None,
        }
    }

    pub fn stages(self) -> &'static [LifecycleStage] {
        match self {
            ViewType::ActiveOnly => &[LifecycleStage::Active],
            ViewType::DeletedOnly => &[LifecycleStage::Deleted],
            ViewType::All => &[LifecycleStage::Active, LifecycleStage::Deleted],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RUNNING" | "1" => Some(RunStatus::Running),
            "SCHEDULED" | "2" => Some(RunStatus::Scheduled),
            "FINISHED" | "3" => Some(RunStatus::Finished),
            "FAILED" | "4" => Some(RunStatus::Failed),
            "KILLED" | "5" => Some(RunStatus::Killed),
            _ => None,
        }
    }
}

/// A key/value pair: experiment, run, dataset-input and logged-model tags, and params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub model_id: Option<String>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: LifecycleStage,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInput {
    pub tags: Vec<KeyValue>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    pub model_id: String,
    pub step: i64,
}

/// A run with the latest value of each metric (the history is read separately).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub info: RunInfo,
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    pub dataset_inputs: Vec<DatasetInput>,
    pub model_inputs: Vec<String>,
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelStatus {
    Pending,
    Ready,
    UploadFailed,
}

impl LoggedModelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "LOGGED_MODEL_PENDING" | "1" => Some(LoggedModelStatus::Pending),
            "LOGGED_MODEL_READY" | "2" => Some(LoggedModelStatus::Ready),
            "LOGGED_MODEL_UPLOAD_FAILED" | "3" => Some(LoggedModelStatus::UploadFailed),
            _ => None,
        }
    }
}

/// An MLflow 3 logged model: a model artifact that belongs to an experiment and optionally a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub artifact_uri: String,
    pub status: LoggedModelStatus,
    pub status_message: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub tags: Vec<KeyValue>,
    pub params: Vec<KeyValue>,
    pub metrics: Vec<ModelMetric>,
}

/// A metric logged against a logged model, and the run it was logged in.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMetric {
    pub run_id: String,
    pub metric: Metric,
}

/// One page of a search, and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_offset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSearch {
    pub view_type: ViewType,
    pub filter: Vec<Comparison>,
    pub order_by: Vec<OrderBy>,
    pub max_results: u32,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunSearch {
    pub experiment_ids: Vec<String>,
    pub view_type: ViewType,
    pub filter: Vec<Comparison>,
    pub order_by: Vec<OrderBy>,
    pub max_results: u32,
    pub offset: u64,
}

/// One entry of MLflow's structured `order_by` for logged models, as a client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelOrderRequest {
    /// An attribute (`creation_timestamp`, `name`, ...) or `metrics.<key>`.
    pub field_name: String,
    pub ascending: bool,
    /// For a metric: only values logged against this dataset.
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

/// What logged models are sorted by.
#[derive(Debug, Clone, PartialEq)]
pub enum LoggedModelOrderKey {
    /// `creation_timestamp`, `last_updated_timestamp`, `name` or `model_id`.
    Attribute(String),
    /// The model's latest value of a metric (latest timestamp, then step), optionally only values
    /// logged against one dataset; models without one sort last.
    Metric {
        key: String,
        dataset_name: Option<String>,
        dataset_digest: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelOrder {
    pub key: LoggedModelOrderKey,
    pub ascending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelSearch {
    pub experiment_ids: Vec<String>,
    pub filter: Vec<Comparison>,
    pub order_by: Vec<LoggedModelOrder>,
    pub max_results: u32,
    pub offset: u64,
}

/// Everything a new run starts with; the service has filled every default by the time the store sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub run_id: String,
    pub experiment_id: String,
    pub user_id: String,
    pub run_name: String,
    pub start_time: i64,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewLoggedModel {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    pub creation_timestamp_ms: i64,
}

/// Changes to a run's info; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}
