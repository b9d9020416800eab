//! Loading whole runs for a page of run rows: a fixed number of queries per page, never one per run.

use std::collections::HashMap;

use galley_tracking::model::*;
use sqlx::any::AnyRow;

use super::{col, loaded_value, Result};
use crate::sql::rows_in;
use crate::SqlStore;

pub(super) const RUN_COLUMNS: &str =
    "r.run_uuid, r.experiment_id, r.run_name, r.user_id, r.status, \
     r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

pub(super) fn info_from_row(row: &AnyRow) -> Result<RunInfo> {
    let status: String = col(row, "status")?;
    let stage: String = col(row, "lifecycle_stage")?;
    Ok(RunInfo {
        run_id: col(row, "run_uuid")?,
        run_name: col(row, "run_name")?,
        experiment_id: col::<i64>(row, "experiment_id")?.to_string(),
        user_id: col(row, "user_id")?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Running),
        start_time: col(row, "start_time")?,
        end_time: col(row, "end_time")?,
        artifact_uri: col(row, "artifact_uri")?,
        lifecycle_stage: LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active),
    })
}

fn key_value(row: &AnyRow) -> Result<KeyValue> {
    Ok(KeyValue::new(
        col::<String>(row, "key")?,
        col::<String>(row, "value")?,
    ))
}

/// Turns run infos into full runs, keeping their order.
pub(super) async fn load_runs(store: &SqlStore, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
    let ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
    let mut runs: Vec<Run> = infos
        .into_iter()
        .map(|info| Run {
            info,
            metrics: Vec::new(),
            params: Vec::new(),
            tags: Vec::new(),
            dataset_inputs: Vec::new(),
            model_inputs: Vec::new(),
            model_outputs: Vec::new(),
        })
        .collect();
    if runs.is_empty() {
        return Ok(runs);
    }
    let index: HashMap<String, usize> = ids.iter().cloned().zip(0..).collect();
    let slot = |row: &AnyRow| -> Result<usize> {
        let id: String = col(row, "run_uuid")?;
        Ok(index[&id])
    };

    for row in rows_in(
        store,
        "SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_uuid IN ",
        " ORDER BY key",
        &ids,
    )
    .await?
    {
        runs[slot(&row)?].metrics.push(Metric {
            key: col(&row, "key")?,
            value: loaded_value(col(&row, "value")?, col(&row, "is_nan")?),
            timestamp: col(&row, "timestamp")?,
            step: col(&row, "step")?,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
        });
    }
    for row in rows_in(
        store,
        "SELECT run_uuid, key, value FROM params WHERE run_uuid IN ",
        " ORDER BY key",
        &ids,
    )
    .await?
    {
        runs[slot(&row)?].params.push(key_value(&row)?);
    }
    for row in rows_in(
        store,
        "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ",
        " ORDER BY key",
        &ids,
    )
    .await?
    {
        runs[slot(&row)?].tags.push(key_value(&row)?);
    }
    load_dataset_inputs(store, &ids, &mut runs, &slot).await?;
    for row in rows_in(
        store,
        "SELECT run_uuid, model_id FROM run_model_inputs WHERE run_uuid IN ",
        " ORDER BY model_id",
        &ids,
    )
    .await?
    {
        runs[slot(&row)?].model_inputs.push(col(&row, "model_id")?);
    }
    for row in rows_in(
        store,
        "SELECT run_uuid, model_id, step FROM run_model_outputs WHERE run_uuid IN ",
        " ORDER BY step, model_id",
        &ids,
    )
    .await?
    {
        runs[slot(&row)?].model_outputs.push(ModelOutput {
            model_id: col(&row, "model_id")?,
            step: col(&row, "step")?,
        });
    }
    Ok(runs)
}

async fn load_dataset_inputs(
    store: &SqlStore,
    ids: &[String],
    runs: &mut [Run],
    slot: &impl Fn(&AnyRow) -> Result<usize>,
) -> Result<()> {
    let inputs = rows_in(
        store,
        "SELECT i.run_uuid, d.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile \
         FROM run_dataset_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_uuid IN ",
        " ORDER BY d.name, d.digest",
        ids,
    )
    .await?;
    if inputs.is_empty() {
        return Ok(());
    }
    let tag_rows = rows_in(
        store,
        "SELECT run_uuid, dataset_id, key, value FROM run_dataset_input_tags WHERE run_uuid IN ",
        " ORDER BY key",
        ids,
    )
    .await?;
    let mut tags: HashMap<(String, String), Vec<KeyValue>> = HashMap::new();
    for row in &tag_rows {
        tags.entry((col(row, "run_uuid")?, col(row, "dataset_id")?))
            .or_default()
            .push(key_value(row)?);
    }
    for row in &inputs {
        let key = (
            col::<String>(row, "run_uuid")?,
            col::<String>(row, "dataset_id")?,
        );
        runs[slot(row)?].dataset_inputs.push(DatasetInput {
            tags: tags.remove(&key).unwrap_or_default(),
            dataset: Dataset {
                name: col(row, "name")?,
                digest: col(row, "digest")?,
                source_type: col(row, "source_type")?,
                source: col(row, "source")?,
                schema: col(row, "schema")?,
                profile: col(row, "profile")?,
            },
        });
    }
    Ok(())
}
