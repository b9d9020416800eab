//! MLflow tracking endpoints: experiments, runs, metrics, params, tags, inputs and outputs.

use axum::extract::State;
use axum::Json;
use galley_tracking::model::*;
use galley_tracking::service::{CreateRun, SearchRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::wire::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::{required, JsonBody, QueryParams};
use crate::AppState;

type Reply = ApiResult<Json<Value>>;

fn empty() -> Reply {
    Ok(Json(json!({})))
}

fn view_type(raw: Option<&str>) -> ApiResult<ViewType> {
    match raw {
        None | Some("") => Ok(ViewType::ActiveOnly),
        Some(s) => {
            ViewType::parse(s).ok_or_else(|| ApiError::invalid(format!("Invalid view type '{s}'")))
        }
    }
}

pub(super) fn max_results(raw: Option<i64>) -> ApiResult<Option<u32>> {
    raw.map(|n| {
        u32::try_from(n).map_err(|_| {
            ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results' supplied."
            ))
        })
    })
    .transpose()
}

/// MLflow sends a run id as `run_id`, `run_uuid` or both.
#[derive(Deserialize)]
pub struct RunRef {
    run_id: Option<String>,
    run_uuid: Option<String>,
}

impl RunRef {
    fn id(self) -> ApiResult<String> {
        required(
            self.run_id.or(self.run_uuid).filter(|s| !s.is_empty()),
            "run_id",
        )
    }
}

// ---- experiments ----

#[derive(Deserialize)]
pub struct CreateExperimentBody {
    name: Option<String>,
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValueDto>,
}

pub async fn create_experiment(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<CreateExperimentBody>,
) -> Reply {
    let name = required(b.name, "name")?;
    let id = s
        .tracking
        .create_experiment(&name, b.artifact_location.as_deref(), &key_values(b.tags))
        .await?;
    Ok(Json(json!({ "experiment_id": id })))
}

#[derive(Deserialize)]
pub struct ExperimentRef {
    experiment_id: Option<String>,
}

pub async fn get_experiment(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ExperimentRef>,
) -> Reply {
    let experiment = s
        .tracking
        .get_experiment(&required(q.experiment_id, "experiment_id")?)
        .await?;
    Ok(Json(
        json!({ "experiment": ExperimentDto::from(&experiment) }),
    ))
}

#[derive(Deserialize)]
pub struct ExperimentByName {
    experiment_name: Option<String>,
}

pub async fn get_experiment_by_name(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ExperimentByName>,
) -> Reply {
    let experiment = s
        .tracking
        .get_experiment_by_name(&required(q.experiment_name, "experiment_name")?)
        .await?;
    Ok(Json(
        json!({ "experiment": ExperimentDto::from(&experiment) }),
    ))
}

#[derive(Deserialize)]
pub struct SearchExperimentsBody {
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    filter: Option<String>,
    #[serde(default)]
    order_by: OneOrMany,
    #[serde(default, deserialize_with = "string_or_number")]
    view_type: Option<String>,
}

/// A list field that GET query strings carry as a single value.
#[derive(Deserialize, Default)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

async fn search_experiments(s: AppState, b: SearchExperimentsBody) -> Reply {
    let request = SearchRequest {
        filter: b.filter,
        order_by: b.order_by.into_vec(),
        view_type: view_type(b.view_type.as_deref())?,
        max_results: max_results(b.max_results)?,
        page_token: b.page_token,
    };
    let page = s.tracking.search_experiments(&request).await?;
    let experiments: Vec<ExperimentDto> = page.items.iter().map(Into::into).collect();
    let mut body = json!({ "experiments": experiments });
    if let Some(token) = next_page_token(page.next_offset) {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}

pub async fn search_experiments_post(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<SearchExperimentsBody>,
) -> Reply {
    search_experiments(s, b).await
}

pub async fn search_experiments_get(
    State(s): State<AppState>,
    QueryParams(b): QueryParams<SearchExperimentsBody>,
) -> Reply {
    search_experiments(s, b).await
}

#[derive(Deserialize)]
pub struct UpdateExperimentBody {
    experiment_id: Option<String>,
    new_name: Option<String>,
}

pub async fn update_experiment(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<UpdateExperimentBody>,
) -> Reply {
    let id = required(b.experiment_id, "experiment_id")?;
    if let Some(name) = b.new_name {
        s.tracking.rename_experiment(&id, &name).await?;
    }
    empty()
}

pub async fn delete_experiment(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<ExperimentRef>,
) -> Reply {
    s.tracking
        .delete_experiment(&required(b.experiment_id, "experiment_id")?)
        .await?;
    empty()
}

pub async fn restore_experiment(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<ExperimentRef>,
) -> Reply {
    s.tracking
        .restore_experiment(&required(b.experiment_id, "experiment_id")?)
        .await?;
    empty()
}

#[derive(Deserialize)]
pub struct ExperimentTagBody {
    experiment_id: Option<String>,
    key: Option<String>,
    #[serde(default)]
    value: String,
}

pub async fn set_experiment_tag(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<ExperimentTagBody>,
) -> Reply {
    let tag = KeyValue::new(required(b.key, "key")?, b.value);
    s.tracking
        .set_experiment_tag(&required(b.experiment_id, "experiment_id")?, &tag)
        .await?;
    empty()
}

pub async fn delete_experiment_tag(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<ExperimentTagBody>,
) -> Reply {
    s.tracking
        .delete_experiment_tag(
            &required(b.experiment_id, "experiment_id")?,
            &required(b.key, "key")?,
        )
        .await?;
    empty()
}

// ---- runs ----

#[derive(Deserialize)]
pub struct CreateRunBody {
    experiment_id: Option<String>,
    user_id: Option<String>,
    run_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValueDto>,
}

pub async fn create_run(State(s): State<AppState>, JsonBody(b): JsonBody<CreateRunBody>) -> Reply {
    let run = s
        .tracking
        .create_run(CreateRun {
            experiment_id: b.experiment_id,
            user_id: b.user_id,
            run_name: b.run_name,
            start_time: b.start_time,
            tags: key_values(b.tags),
        })
        .await?;
    Ok(Json(json!({ "run": RunDto::from(&run) })))
}

pub async fn get_run(State(s): State<AppState>, QueryParams(q): QueryParams<RunRef>) -> Reply {
    let run = s.tracking.get_run(&q.id()?).await?;
    Ok(Json(json!({ "run": RunDto::from(&run) })))
}

#[derive(Deserialize)]
pub struct UpdateRunBody {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "string_or_number")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    end_time: Option<i64>,
    run_name: Option<String>,
}

pub async fn update_run(State(s): State<AppState>, JsonBody(b): JsonBody<UpdateRunBody>) -> Reply {
    let status = b
        .status
        .map(|raw| {
            RunStatus::parse(&raw)
                .ok_or_else(|| ApiError::invalid(format!("Invalid run status '{raw}'")))
        })
        .transpose()?;
    let update = RunUpdate {
        status,
        end_time: b.end_time,
        run_name: b.run_name.filter(|n| !n.is_empty()),
    };
    let info = s.tracking.update_run(&b.run.id()?, update).await?;
    Ok(Json(json!({ "run_info": RunInfoDto::from(&info) })))
}

pub async fn delete_run(State(s): State<AppState>, JsonBody(b): JsonBody<RunRef>) -> Reply {
    s.tracking.delete_run(&b.id()?).await?;
    empty()
}

pub async fn restore_run(State(s): State<AppState>, JsonBody(b): JsonBody<RunRef>) -> Reply {
    s.tracking.restore_run(&b.id()?).await?;
    empty()
}

#[derive(Deserialize)]
pub struct LogMetricBody {
    #[serde(flatten)]
    run: RunRef,
    #[serde(flatten)]
    metric: MetricDto,
}

pub async fn log_metric(State(s): State<AppState>, JsonBody(b): JsonBody<LogMetricBody>) -> Reply {
    s.tracking
        .log_batch(&b.run.id()?, &[b.metric.into()], &[], &[])
        .await?;
    empty()
}

#[derive(Deserialize)]
pub struct KeyValueBody {
    #[serde(flatten)]
    run: RunRef,
    key: Option<String>,
    #[serde(default)]
    value: String,
}

pub async fn log_param(State(s): State<AppState>, JsonBody(b): JsonBody<KeyValueBody>) -> Reply {
    let param = KeyValue::new(required(b.key, "key")?, b.value);
    s.tracking
        .log_batch(&b.run.id()?, &[], &[param], &[])
        .await?;
    empty()
}

pub async fn set_tag(State(s): State<AppState>, JsonBody(b): JsonBody<KeyValueBody>) -> Reply {
    let tag = KeyValue::new(required(b.key, "key")?, b.value);
    s.tracking.log_batch(&b.run.id()?, &[], &[], &[tag]).await?;
    empty()
}

pub async fn delete_tag(State(s): State<AppState>, JsonBody(b): JsonBody<KeyValueBody>) -> Reply {
    s.tracking
        .delete_run_tag(&b.run.id()?, &required(b.key, "key")?)
        .await?;
    empty()
}

/// Spelled out rather than flattening `RunRef`: flatten would buffer the whole batch first.
#[derive(Deserialize)]
pub struct LogBatchBody {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default)]
    metrics: Vec<MetricDto>,
    #[serde(default)]
    params: Vec<KeyValueDto>,
    #[serde(default)]
    tags: Vec<KeyValueDto>,
}

pub async fn log_batch(State(s): State<AppState>, JsonBody(b): JsonBody<LogBatchBody>) -> Reply {
    let run = RunRef {
        run_id: b.run_id,
        run_uuid: b.run_uuid,
    };
    let metrics: Vec<Metric> = b.metrics.into_iter().map(Into::into).collect();
    s.tracking
        .log_batch(
            &run.id()?,
            &metrics,
            &key_values(b.params),
            &key_values(b.tags),
        )
        .await?;
    empty()
}

#[derive(Deserialize)]
pub struct LogInputsBody {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    datasets: Vec<DatasetInputDto>,
    #[serde(default)]
    models: Vec<ModelIdDto>,
}

pub async fn log_inputs(State(s): State<AppState>, JsonBody(b): JsonBody<LogInputsBody>) -> Reply {
    let datasets: Vec<DatasetInput> = b.datasets.into_iter().map(Into::into).collect();
    let models: Vec<String> = b.models.into_iter().map(|m| m.model_id).collect();
    s.tracking
        .log_inputs(&b.run.id()?, &datasets, &models)
        .await?;
    empty()
}

#[derive(Deserialize)]
pub struct LogOutputsBody {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    models: Vec<ModelOutputDto>,
}

pub async fn log_outputs(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<LogOutputsBody>,
) -> Reply {
    let outputs: Vec<ModelOutput> = b
        .models
        .into_iter()
        .map(|m| ModelOutput {
            model_id: m.model_id,
            step: m.step,
        })
        .collect();
    s.tracking.log_outputs(&b.run.id()?, &outputs).await?;
    empty()
}

#[derive(Deserialize)]
pub struct SearchRunsBody {
    #[serde(default)]
    experiment_ids: OneOrMany,
    filter: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: OneOrMany,
    page_token: Option<String>,
}

pub async fn search_runs(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<SearchRunsBody>,
) -> Reply {
    let request = SearchRequest {
        filter: b.filter,
        order_by: b.order_by.into_vec(),
        view_type: view_type(b.run_view_type.as_deref())?,
        max_results: max_results(b.max_results)?,
        page_token: b.page_token,
    };
    let page = s
        .tracking
        .search_runs(b.experiment_ids.into_vec(), &request)
        .await?;
    let runs: Vec<RunDto> = page.items.iter().map(Into::into).collect();
    let mut body = json!({ "runs": runs });
    if let Some(token) = next_page_token(page.next_offset) {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct MetricHistoryQuery {
    #[serde(flatten)]
    run: RunRef,
    metric_key: Option<String>,
}

pub async fn get_metric_history(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<MetricHistoryQuery>,
) -> Reply {
    let key = required(q.metric_key, "metric_key")?;
    let run_id = q.run.id()?;
    let history = s.tracking.get_metric_history(&run_id, &key).await?;
    let metrics: Vec<MetricDto> = history
        .iter()
        .map(|m| MetricDto::from_metric(m, Some(&run_id)))
        .collect();
    Ok(Json(json!({ "metrics": metrics })))
}
