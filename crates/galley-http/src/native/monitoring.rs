//! `/api/v1/...` monitoring: ground-truth labels, reference profiles of model versions, window
//! evaluations (drift and performance), their time series, drift reports, and alert rules with
//! the events they fired.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use galley_core::time::now_millis;
use galley_inference::files::ModelFiles;
use galley_monitoring::alerts::{Comparison, RuleSpec, Severity};
use galley_monitoring::drift::DriftOptions;
use galley_monitoring::model::{Label, Window};
use galley_monitoring::profile::{ColumnProfile, ColumnValues};
use galley_monitoring::validation::parse_window;
use galley_monitoring_runtime::reference::{ReferenceColumns, ReferenceProfile, Task};
use galley_monitoring_runtime::ReferenceData;
use galley_tables::Format;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

/// One label: `row` defaults to 0; `label` may be a string, number or boolean.
#[derive(Deserialize)]
pub struct LabelBody {
    request_id: String,
    #[serde(default)]
    row: i64,
    label: Value,
}

/// A single label, or many under `labels`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum LabelsBody {
    Many { labels: Vec<LabelBody> },
    One(LabelBody),
}

fn label_text(value: Value) -> ApiResult<String> {
    match value {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(ApiError::invalid(format!(
            "a label must be a string, number or boolean, got {other}"
        ))),
    }
}

pub async fn put_labels(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    JsonBody(body): JsonBody<LabelsBody>,
) -> Reply {
    let given = match body {
        LabelsBody::Many { labels } => labels,
        LabelsBody::One(label) => vec![label],
    };
    let labels = given
        .into_iter()
        .map(|l| {
            Ok(Label {
                request_id: l.request_id,
                row: l.row,
                label: label_text(l.label)?,
                labeled_at: 0,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let stored = s.monitoring.put_labels(&deployment, labels).await?;
    Ok(Json(json!({ "stored": stored })))
}

#[derive(Deserialize)]
pub struct ReferenceQuery {
    /// `csv` or `parquet` for an uploaded body.
    format: Option<String>,
    /// Read the data from this run's artifacts at `path` instead of the body.
    run_id: Option<String>,
    path: Option<String>,
    target: Option<String>,
    prediction: Option<String>,
    task: Option<String>,
}

fn parse_format(raw: &str) -> ApiResult<Format> {
    match raw.to_ascii_lowercase().as_str() {
        "csv" => Ok(Format::Csv),
        "parquet" => Ok(Format::Parquet),
        other => Err(ApiError::invalid(format!(
            "format must be csv or parquet, got '{other}'"
        ))),
    }
}

fn parse_task(raw: &str) -> ApiResult<Task> {
    match raw {
        "classification" => Ok(Task::Classification),
        "regression" => Ok(Task::Regression),
        other => Err(ApiError::invalid(format!(
            "task must be classification or regression, got '{other}'"
        ))),
    }
}

/// What a reference knows of a column: counts, and the moments of numeric columns.
fn column_summary(profile: &ColumnProfile) -> Value {
    let mut summary = json!({
        "type": profile.values.kind(),
        "count": profile.count(),
        "missing": profile.missing,
        "unique": profile.n_unique(),
    });
    if let ColumnValues::Numeric(numbers) = &profile.values {
        summary["min"] = json!(numbers.min());
        summary["max"] = json!(numbers.max());
        summary["mean"] = json!(numbers.mean());
        summary["std"] = json!(numbers.std());
    }
    summary
}

fn reference_json(
    record: &galley_monitoring::model::ReferenceRecord,
    profile: &ReferenceProfile,
) -> Value {
    let column =
        |name: &str, p: &ColumnProfile| json!({ "name": name, "summary": column_summary(p) });
    json!({
        "reference": {
            "model": record.model,
            "version": record.version,
            "source": record.source,
            "rows": record.row_count,
            "created_at": record.created_at,
            "task": profile.task,
            "features": profile.features.iter().map(|f| column(&f.name, &f.profile)).collect::<Vec<_>>(),
            "target": profile.target.as_ref().map(|t| column(&t.name, &t.profile)),
            "prediction": profile.prediction.as_ref().map(|p| column(&p.name, &p.profile)),
        }
    })
}

/// `PUT /models/{name}/versions/{version}/reference`: the body is a CSV or Parquet file
/// (`?format=`), or `?run_id=&path=` names a file among a run's artifacts.
pub async fn put_reference(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    QueryParams(query): QueryParams<ReferenceQuery>,
    body: Bytes,
) -> Reply {
    let model_version = s.registry.get_model_version(&name, &version).await?;
    let (source, bytes, format) = match (&query.run_id, &query.path) {
        (Some(run_id), Some(path)) => {
            let run = s.tracking.get_run(run_id).await?;
            let files = ModelFiles::at(&run.info.artifact_uri, &s.artifacts).ok_or_else(|| {
                ApiError::invalid(format!(
                    "run {run_id}'s artifacts at '{}' are not readable by this server",
                    run.info.artifact_uri
                ))
            })?;
            let bytes = files.read(path).await?;
            let format = match &query.format {
                Some(raw) => parse_format(raw)?,
                None => Format::from_path(std::path::Path::new(path))
                    .map_err(|e| ApiError::invalid(e.to_string()))?,
            };
            (format!("runs:/{run_id}/{path}"), Bytes::from(bytes), format)
        }
        (None, None) => {
            if body.is_empty() {
                return Err(ApiError::invalid(
                    "send the reference data as the body (with ?format=csv|parquet), or name a run artifact with ?run_id=&path=",
                ));
            }
            let format = parse_format(query.format.as_deref().unwrap_or("csv"))?;
            ("upload".to_owned(), body, format)
        }
        _ => {
            return Err(ApiError::invalid(
                "run_id and path go together: the run whose artifact holds the data, and its path",
            ))
        }
    };
    let columns = ReferenceColumns {
        target: query.target,
        prediction: query.prediction,
        task: query.task.as_deref().map(parse_task).transpose()?,
    };
    let data = ReferenceData {
        source,
        format,
        bytes,
        columns,
    };
    let (record, profile) = s
        .monitoring
        .set_reference(&name, model_version.version, data)
        .await?;
    Ok(Json(reference_json(&record, &profile)))
}

pub async fn get_reference(
    State(s): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Reply {
    let model_version = s.registry.get_model_version(&name, &version).await?;
    let (record, profile) = s.monitoring.reference(&name, model_version.version).await?;
    Ok(Json(reference_json(&record, &profile)))
}

/// The window of an evaluation: a length ending now (`window=24h`), or `start`/`end` in ms;
/// the last hour when neither is given.
#[derive(Deserialize)]
pub struct WindowBody {
    window: Option<String>,
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    start: Option<i64>,
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    end: Option<i64>,
    format: Option<String>,
}

impl WindowBody {
    fn window(&self) -> ApiResult<Window> {
        match (&self.window, self.start, self.end) {
            (Some(length), None, end) => {
                let length = parse_window(length)?;
                Ok(Window::ending_at(end.unwrap_or_else(now_millis), length))
            }
            (None, Some(start), Some(end)) => Ok(Window { start, end }),
            (None, None, None) => Ok(Window::ending_at(now_millis(), parse_window("1h")?)),
            _ => Err(ApiError::invalid(
                "give either window (e.g. 24h, optionally with end) or both start and end (ms)",
            )),
        }
    }
}

pub async fn evaluate(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    JsonBody(body): JsonBody<WindowBody>,
) -> Reply {
    let evaluation = s
        .monitoring
        .evaluate(&deployment, body.window()?, &DriftOptions::default())
        .await?;
    Ok(Json(json!({ "evaluation": evaluation })))
}

/// `GET .../monitoring/report?window=24h[&format=html]`: evaluates the window and answers the
/// drift report as JSON, or as a self-contained HTML page.
pub async fn report(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    QueryParams(query): QueryParams<WindowBody>,
) -> ApiResult<Response> {
    let evaluation = s
        .monitoring
        .evaluate(&deployment, query.window()?, &DriftOptions::default())
        .await?;
    match query.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(json!({ "evaluation": evaluation })).into_response()),
        "html" => {
            let html = galley_monitoring_runtime::html::evaluation_report(&evaluation);
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
        }
        other => Err(ApiError::invalid(format!(
            "format must be json or html, got '{other}'"
        ))),
    }
}

#[derive(Deserialize)]
pub struct ResultsQuery {
    metric: Option<String>,
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    start: Option<i64>,
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    end: Option<i64>,
}

pub async fn results(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    QueryParams(query): QueryParams<ResultsQuery>,
) -> Reply {
    let range = Window {
        start: query.start.unwrap_or(0),
        end: query.end.unwrap_or(i64::MAX),
    };
    let points = s
        .monitoring
        .results(&deployment, query.metric.as_deref(), range)
        .await?;
    Ok(Json(json!({ "points": points })))
}

pub async fn prediction_log(State(s): State<AppState>) -> Reply {
    let counts = s.monitoring.prediction_log().counts();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Json(json!({
        "rows_written": load(&counts.rows_written),
        "files_written": load(&counts.files_written),
        "records_dropped": load(&counts.records_dropped),
    })))
}

/// An alert rule as sent: `comparison` defaults to `above`, `window` to `1h`, `severity` to
/// `warning`, `name` to the metric.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    name: Option<String>,
    metric: String,
    column: Option<String>,
    comparison: Option<Comparison>,
    threshold: f64,
    window: Option<String>,
    severity: Option<Severity>,
    webhook_url: Option<String>,
    /// A job spec (as `POST /api/v1/jobs` takes) submitted when the rule fires.
    retrain_job: Option<Value>,
}

pub async fn create_rule(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Reply {
    let spec = RuleSpec {
        name: body.name.unwrap_or_else(|| body.metric.clone()),
        metric: body.metric,
        column: body.column,
        comparison: body.comparison.unwrap_or(Comparison::Above),
        threshold: body.threshold,
        window: body.window.unwrap_or_else(|| "1h".to_owned()),
        severity: body.severity.unwrap_or(Severity::Warning),
        webhook_url: body.webhook_url,
        retrain_job: body.retrain_job,
    };
    let rule = s.monitoring.create_rule(&deployment, spec).await?;
    Ok(Json(json!({ "rule": rule })))
}

pub async fn rules(State(s): State<AppState>, Path(deployment): Path<String>) -> Reply {
    let rules = s.monitoring.rules(&deployment).await?;
    Ok(Json(json!({ "rules": rules })))
}

pub async fn delete_rule(
    State(s): State<AppState>,
    Path((deployment, id)): Path<(String, String)>,
) -> Reply {
    s.monitoring.delete_rule(&deployment, &id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(default, deserialize_with = "crate::mlflow::wire::lenient_i64")]
    limit: Option<i64>,
}

pub async fn events(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    QueryParams(query): QueryParams<EventsQuery>,
) -> Reply {
    let limit = match query.limit {
        None => 100,
        Some(n @ 1..=1000) => n as u32,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and 1000, got {n}"
            )))
        }
    };
    let events = s.monitoring.events(&deployment, limit).await?;
    Ok(Json(json!({ "events": events })))
}
