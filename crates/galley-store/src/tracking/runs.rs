//! Run rows and everything logged to a run: params, tags, metrics, inputs and outputs.

use std::collections::HashMap;

use galley_tracking::model::*;
use galley_tracking::service::RUN_NAME_TAG;
use galley_tracking::TrackingError;
use sqlx::{Any, Transaction};

use super::run_data::{info_from_row, load_runs, RUN_COLUMNS};
use super::{col, db_err, experiment_key, loaded_value, stored_value, Result};
use crate::sql::{change_one, sql, Sql};
use crate::{Dialect, SqlStore};

/// Rows per multi-row INSERT: 9 columns × 400 rows stays far below every backend's variable limit.
const ROWS_PER_INSERT: usize = 400;

fn not_found(run_id: &str) -> TrackingError {
    TrackingError::NotFound(format!("Run with id={run_id} not found"))
}

pub(super) async fn create(store: &SqlStore, run: &NewRun, artifact_uri: &str) -> Result<Run> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    sql!(
        "INSERT INTO runs (run_uuid, experiment_id, run_name, user_id, status, start_time, end_time, \
         artifact_uri, lifecycle_stage) VALUES ($1, $2, $3, $4, 'RUNNING', $5, NULL, $6, 'active')",
        &run.run_id,
        experiment_key(&run.experiment_id)?,
        &run.run_name,
        &run.user_id,
        run.start_time,
        artifact_uri
    )
    .execute(&mut *tx).await?;
    upsert_tags(&mut tx, store.dialect, &run.run_id, &run.tags).await?;
    tx.commit().await.map_err(db_err)?;
    get(store, &run.run_id).await
}

pub(super) async fn get(store: &SqlStore, run_id: &str) -> Result<Run> {
    let info = get_info(store, run_id).await?;
    let mut runs = load_runs(store, vec![info]).await?;
    runs.pop().ok_or_else(|| not_found(run_id))
}

async fn get_info(store: &SqlStore, run_id: &str) -> Result<RunInfo> {
    let row = sql!(
        format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = $1"),
        run_id
    )
    .query()
    .fetch_optional(&store.reader)
    .await
    .map_err(db_err)?
    .ok_or_else(|| not_found(run_id))?;
    info_from_row(&row)
}

pub(super) async fn update(store: &SqlStore, run_id: &str, update: &RunUpdate) -> Result<RunInfo> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    let done = sql!(
        "UPDATE runs SET status = COALESCE($1, status), end_time = COALESCE($2, end_time), \
         run_name = COALESCE($3, run_name) WHERE run_uuid = $4",
        update.status.map(|s| s.as_str().to_string()),
        update.end_time,
        update.run_name.clone(),
        run_id
    )
    .execute(&mut *tx)
    .await?;
    if done == 0 {
        return Err(not_found(run_id));
    }
    if let Some(name) = &update.run_name {
        upsert_tags(
            &mut tx,
            store.dialect,
            run_id,
            &[KeyValue::new(RUN_NAME_TAG, name.clone())],
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)?;
    get_info(store, run_id).await
}

pub(super) async fn set_lifecycle(
    store: &SqlStore,
    run_id: &str,
    stage: LifecycleStage,
    now: i64,
) -> Result<()> {
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
    let statement = sql!(
        "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_uuid = $3",
        stage.as_str(),
        deleted_time,
        run_id
    );
    change_one(store, statement, || not_found(run_id)).await
}

/// Locks in the precondition every write to a run shares: the run exists and is active.
async fn require_active(tx: &mut Transaction<'_, Any>, run_id: &str) -> Result<()> {
    let row = sql!(
        "SELECT lifecycle_stage FROM runs WHERE run_uuid = $1",
        run_id
    )
    .query()
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?
    .ok_or_else(|| not_found(run_id))?;
    let stage: String = col(&row, "lifecycle_stage")?;
    if stage != LifecycleStage::Active.as_str() {
        return Err(TrackingError::InvalidParameter(format!(
            "The run {run_id} must be in the 'active' state. Current state is {stage}."
        )));
    }
    Ok(())
}

/// Multi-row `INSERT ... VALUES (...), (...) <suffix>` in chunks.
async fn insert_rows<R>(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    head: &str,
    suffix: &str,
    rows: &[R],
    bind: impl Fn(&mut Sql, &R) -> Vec<String>,
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut query = Sql::built(dialect, head);
        query.push(" VALUES ");
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            let placeholders = bind(&mut query, row);
            query.push("(").push(&placeholders.join(", ")).push(")");
        }
        query.push(" ").push(suffix);
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Last value wins for a key repeated in one request; PostgreSQL refuses to upsert a row twice in one statement.
fn last_per_key(tags: &[KeyValue]) -> Vec<&KeyValue> {
    let mut position: HashMap<&str, usize> = HashMap::new();
    let mut unique: Vec<&KeyValue> = Vec::new();
    for tag in tags {
        match position.get(tag.key.as_str()) {
            Some(&i) => unique[i] = tag,
            None => {
                position.insert(&tag.key, unique.len());
                unique.push(tag);
            }
        }
    }
    unique
}

async fn upsert_tags(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    run_id: &str,
    tags: &[KeyValue],
) -> Result<()> {
    let tags = last_per_key(tags);
    insert_rows(
        tx,
        dialect,
        "INSERT INTO tags (run_uuid, key, value)",
        "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
        &tags,
        |q, tag| vec![q.arg(run_id), q.arg(&tag.key), q.arg(&tag.value)],
    )
    .await?;
    if let Some(name) = tags.iter().find(|t| t.key == RUN_NAME_TAG) {
        sql!(
            "UPDATE runs SET run_name = $1 WHERE run_uuid = $2",
            &name.value,
            run_id
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn log_batch(
    store: &SqlStore,
    run_id: &str,
    metrics: &[Metric],
    params: &[KeyValue],
    tags: &[KeyValue],
) -> Result<()> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    require_active(&mut tx, run_id).await?;
    if !params.is_empty() {
        log_params(&mut tx, store.dialect, run_id, params).await?;
    }
    if !tags.is_empty() {
        upsert_tags(&mut tx, store.dialect, run_id, tags).await?;
    }
    if !metrics.is_empty() {
        log_metrics(&mut tx, store.dialect, run_id, metrics).await?;
    }
    tx.commit().await.map_err(|e| db_err(e).into())
}

/// Params are immutable: insert what is new, then read back every key and fail the whole batch
/// if any stored value differs. Reading after the insert makes concurrent writers safe too.
async fn log_params(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    run_id: &str,
    params: &[KeyValue],
) -> Result<()> {
    let unique = last_per_key(params);
    insert_rows(
        tx,
        dialect,
        "INSERT INTO params (run_uuid, key, value)",
        "ON CONFLICT (run_uuid, key) DO NOTHING",
        &unique,
        |q, p| vec![q.arg(run_id), q.arg(&p.key), q.arg(&p.value)],
    )
    .await?;
    let keys: Vec<String> = unique.iter().map(|p| p.key.clone()).collect();
    let mut stored: HashMap<String, String> = HashMap::new();
    for chunk in keys.chunks(crate::sql::IN_LIST_CHUNK) {
        let mut query = Sql::built(dialect, "SELECT key, value FROM params WHERE run_uuid = ");
        let run = query.arg(run_id);
        query.push(&run).push(" AND key IN ").push_list(chunk);
        for row in query.query().fetch_all(&mut **tx).await.map_err(db_err)? {
            stored.insert(col(&row, "key")?, col(&row, "value")?);
        }
    }
    for param in unique {
        if let Some(old) = stored.get(&param.key).filter(|old| **old != param.value) {
            return Err(TrackingError::InvalidParameter(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with \
                 value='{old}' for run ID='{run_id}'. Attempted logging new value '{}'.",
                param.key, param.value
            )));
        }
    }
    Ok(())
}

/// MLflow's "latest" order: step, then timestamp, then value.
fn newer(a: &Metric, b: &Metric) -> bool {
    let a_key = (a.step, a.timestamp, stored_value(a.value).0);
    let b_key = (b.step, b.timestamp, stored_value(b.value).0);
    a_key > b_key
}

async fn log_metrics(
    tx: &mut Transaction<'_, Any>,
    dialect: Dialect,
    run_id: &str,
    metrics: &[Metric],
) -> Result<()> {
    insert_rows(
        tx,
        dialect,
        "INSERT INTO metrics (run_uuid, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest)",
        // MLflow's log_model re-logs a run's metrics with the new model's id: the same point
        // gains the link instead of being dropped as a duplicate.
        "ON CONFLICT (run_uuid, key, step, timestamp, value, is_nan) DO UPDATE SET \
         model_id = COALESCE(excluded.model_id, metrics.model_id), \
         dataset_name = COALESCE(excluded.dataset_name, metrics.dataset_name), \
         dataset_digest = COALESCE(excluded.dataset_digest, metrics.dataset_digest)",
        metrics,
        |q, m| {
            let (value, is_nan) = stored_value(m.value);
            vec![
                q.arg(run_id),
                q.arg(&m.key),
                q.arg(value),
                q.arg(is_nan),
                q.arg(m.timestamp),
                q.arg(m.step),
                q.arg(m.model_id.as_ref()),
                q.arg(m.dataset_name.as_ref()),
                q.arg(m.dataset_digest.as_ref()),
            ]
        },
    )
    .await?;
    let mut latest: HashMap<&str, &Metric> = HashMap::new();
    for metric in metrics {
        latest
            .entry(&metric.key)
            .and_modify(|current| {
                if newer(metric, current) {
                    *current = metric;
                }
            })
            .or_insert(metric);
    }
    let mut latest: Vec<&Metric> = latest.into_values().collect();
    latest.sort_by(|a, b| a.key.cmp(&b.key));
    insert_rows(
        tx,
        dialect,
        "INSERT INTO latest_metrics (run_uuid, key, value, is_nan, timestamp, step)",
        "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, \
         timestamp = excluded.timestamp, step = excluded.step \
         WHERE (excluded.step, excluded.timestamp, excluded.value) > \
               (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
        &latest,
        |q, m| {
            let (value, is_nan) = stored_value(m.value);
            vec![
                q.arg(run_id),
                q.arg(&m.key),
                q.arg(value),
                q.arg(is_nan),
                q.arg(m.timestamp),
                q.arg(m.step),
            ]
        },
    )
    .await
}

pub(super) async fn delete_tag(store: &SqlStore, run_id: &str, key: &str) -> Result<()> {
    let statement = sql!(
        "DELETE FROM tags WHERE run_uuid = $1 AND key = $2",
        run_id,
        key
    );
    change_one(store, statement, || {
        TrackingError::NotFound(format!("No tag with name: {key} in run with id {run_id}"))
    })
    .await
}

pub(super) async fn metric_history(
    store: &SqlStore,
    run_id: &str,
    key: &str,
) -> Result<Vec<Metric>> {
    get_info(store, run_id).await?;
    let rows = sql!(
        "SELECT key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest \
         FROM metrics WHERE run_uuid = $1 AND key = $2 ORDER BY step, timestamp, value",
        run_id,
        key
    )
    .query()
    .fetch_all(&store.reader)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|row| {
            Ok(Metric {
                key: col(row, "key")?,
                value: loaded_value(col(row, "value")?, col(row, "is_nan")?),
                timestamp: col(row, "timestamp")?,
                step: col(row, "step")?,
                model_id: col(row, "model_id")?,
                dataset_name: col(row, "dataset_name")?,
                dataset_digest: col(row, "dataset_digest")?,
            })
        })
        .collect()
}

pub(super) async fn log_inputs(
    store: &SqlStore,
    run_id: &str,
    datasets: &[DatasetInput],
    model_ids: &[String],
) -> Result<()> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    require_active(&mut tx, run_id).await?;
    let dialect = store.dialect;
    let experiment_id: i64 = {
        let row = sql!("SELECT experiment_id FROM runs WHERE run_uuid = $1", run_id)
            .query()
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        col(&row, "experiment_id")?
    };
    for input in datasets {
        let d = &input.dataset;
        sql!(
            "INSERT INTO datasets (dataset_id, experiment_id, name, digest, source_type, source, schema, profile) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (experiment_id, name, digest) DO NOTHING",
            galley_core::ids::new_run_id(),
            experiment_id,
            &d.name,
            &d.digest,
            &d.source_type,
            &d.source,
            d.schema.as_ref(),
            d.profile.as_ref()
        )
        .execute(&mut *tx).await?;
        let row = sql!(
            "SELECT dataset_id FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
            experiment_id,
            &d.name,
            &d.digest
        )
        .query()
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let dataset_id: String = col(&row, "dataset_id")?;
        sql!(
            "INSERT INTO run_dataset_inputs (run_uuid, dataset_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            run_id,
            &dataset_id
        )
        .execute(&mut *tx).await?;
        insert_rows(
            &mut tx,
            dialect,
            "INSERT INTO run_dataset_input_tags (run_uuid, dataset_id, key, value)",
            "ON CONFLICT (run_uuid, dataset_id, key) DO UPDATE SET value = excluded.value",
            &last_per_key(&input.tags),
            |q, t| {
                vec![
                    q.arg(run_id),
                    q.arg(&dataset_id),
                    q.arg(&t.key),
                    q.arg(&t.value),
                ]
            },
        )
        .await?;
    }
    insert_rows(
        &mut tx,
        dialect,
        "INSERT INTO run_model_inputs (run_uuid, model_id)",
        "ON CONFLICT DO NOTHING",
        model_ids,
        |q, m| vec![q.arg(run_id), q.arg(m)],
    )
    .await?;
    tx.commit().await.map_err(|e| db_err(e).into())
}

pub(super) async fn log_outputs(
    store: &SqlStore,
    run_id: &str,
    outputs: &[ModelOutput],
) -> Result<()> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    require_active(&mut tx, run_id).await?;
    let dialect = store.dialect;
    let mut unique: HashMap<&str, &ModelOutput> = HashMap::new();
    for output in outputs {
        unique.insert(&output.model_id, output);
    }
    let unique: Vec<&ModelOutput> = unique.into_values().collect();
    insert_rows(
        &mut tx,
        dialect,
        "INSERT INTO run_model_outputs (run_uuid, model_id, step)",
        "ON CONFLICT (run_uuid, model_id) DO UPDATE SET step = excluded.step",
        &unique,
        |q, o| vec![q.arg(run_id), q.arg(&o.model_id), q.arg(o.step)],
    )
    .await?;
    tx.commit().await.map_err(|e| db_err(e).into())
}
