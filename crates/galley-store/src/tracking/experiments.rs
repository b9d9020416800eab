//! Experiment rows and their tags.

use galley_tracking::model::*;
use galley_tracking::TrackingError;
use sqlx::any::AnyRow;

use super::{col, db_err, experiment_key, is_unique_violation, Result};
use crate::sql::{change_one, sql, Sql};
use crate::SqlStore;

const COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

fn already_exists(name: &str) -> TrackingError {
    TrackingError::AlreadyExists(format!("Experiment(name={name}) already exists."))
}

fn not_found(experiment_id: &str) -> TrackingError {
    TrackingError::NotFound(format!("No Experiment with id={experiment_id} exists"))
}

pub(super) async fn create(
    store: &SqlStore,
    name: &str,
    artifact_location: Option<&str>,
    default_artifact_root: &str,
    tags: &[KeyValue],
    now: i64,
) -> Result<String> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    let inserted = sql!(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
         VALUES ($1, $2, 'active', $3, $3) RETURNING experiment_id",
        name,
        artifact_location.unwrap_or(""),
        now
    )
    .query()
    .fetch_one(&mut *tx)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Err(already_exists(name)),
        Err(e) => return Err(db_err(e).into()),
    };
    let id: i64 = col(&row, "experiment_id")?;
    if artifact_location.is_none() {
        let location = format!("{}/{id}", default_artifact_root.trim_end_matches('/'));
        sql!(
            "UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2",
            location,
            id
        )
        .execute(&mut *tx)
        .await?;
    }
    for tag in tags {
        upsert_tag(id, tag).execute(&mut *tx).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(id.to_string())
}

fn upsert_tag(experiment_id: i64, tag: &KeyValue) -> Sql {
    sql!(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        experiment_id,
        &tag.key,
        &tag.value
    )
}

pub(super) fn from_row(row: &AnyRow) -> Result<Experiment> {
    let stage: String = col(row, "lifecycle_stage")?;
    Ok(Experiment {
        experiment_id: col::<i64>(row, "experiment_id")?.to_string(),
        name: col(row, "name")?,
        artifact_location: col(row, "artifact_location")?,
        lifecycle_stage: LifecycleStage::parse(&stage).unwrap_or(LifecycleStage::Active),
        creation_time: col(row, "creation_time")?,
        last_update_time: col(row, "last_update_time")?,
        tags: Vec::new(),
    })
}

/// Fills in the tags of a page of experiments with one query.
pub(super) async fn attach_tags(store: &SqlStore, experiments: &mut [Experiment]) -> Result<()> {
    if experiments.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = experiments
        .iter()
        .filter_map(|e| e.experiment_id.parse().ok())
        .collect();
    let mut query = Sql::built(
        store.dialect,
        "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ",
    );
    query.push_list(&ids).push(" ORDER BY key");
    let rows = query
        .query()
        .fetch_all(&store.reader)
        .await
        .map_err(db_err)?;
    for row in rows {
        let id = col::<i64>(&row, "experiment_id")?.to_string();
        if let Some(experiment) = experiments.iter_mut().find(|e| e.experiment_id == id) {
            experiment.tags.push(KeyValue::new(
                col::<String>(&row, "key")?,
                col::<String>(&row, "value")?,
            ));
        }
    }
    Ok(())
}

async fn fetch_one(store: &SqlStore, query: Sql) -> Result<Option<Experiment>> {
    let row = query
        .query()
        .fetch_optional(&store.reader)
        .await
        .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let mut experiments = [from_row(&row)?];
    attach_tags(store, &mut experiments).await?;
    let [experiment] = experiments;
    Ok(Some(experiment))
}

pub(super) async fn get(store: &SqlStore, experiment_id: &str) -> Result<Experiment> {
    let id = experiment_key(experiment_id)?;
    let query = sql!(
        format!("SELECT {COLUMNS} FROM experiments WHERE experiment_id = $1"),
        id
    );
    fetch_one(store, query)
        .await?
        .ok_or_else(|| not_found(experiment_id))
}

pub(super) async fn get_by_name(store: &SqlStore, name: &str) -> Result<Experiment> {
    let query = sql!(
        format!("SELECT {COLUMNS} FROM experiments WHERE name = $1"),
        name
    );
    fetch_one(store, query).await?.ok_or_else(|| {
        TrackingError::NotFound(format!("Could not find experiment with name '{name}'"))
    })
}

/// Runs `query` (which must affect the experiment's row) and reports a missing experiment.
async fn update_existing(store: &SqlStore, experiment_id: &str, query: Sql) -> Result<()> {
    let result = query.query().execute(&store.writer).await;
    match result {
        Ok(done) if done.rows_affected() == 0 => Err(not_found(experiment_id)),
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(TrackingError::AlreadyExists(
            "An experiment with that name already exists.".into(),
        )),
        Err(e) => Err(db_err(e).into()),
    }
}

pub(super) async fn rename(
    store: &SqlStore,
    experiment_id: &str,
    new_name: &str,
    now: i64,
) -> Result<()> {
    let id = experiment_key(experiment_id)?;
    let query = sql!(
        "UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3",
        new_name,
        now,
        id
    );
    update_existing(store, experiment_id, query)
        .await
        .map_err(|e| match e {
            TrackingError::AlreadyExists(_) => already_exists(new_name),
            other => other,
        })
}

pub(super) async fn set_lifecycle(
    store: &SqlStore,
    experiment_id: &str,
    stage: LifecycleStage,
    now: i64,
) -> Result<()> {
    let id = experiment_key(experiment_id)?;
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    let done = sql!(
        "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3",
        stage.as_str(),
        now,
        id
    )
    .execute(&mut *tx).await?;
    if done == 0 {
        return Err(not_found(experiment_id));
    }
    let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
    sql!(
        "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3",
        stage.as_str(),
        deleted_time,
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await.map_err(|e| db_err(e).into())
}

pub(super) async fn set_tag(store: &SqlStore, experiment_id: &str, tag: &KeyValue) -> Result<()> {
    let id = experiment_key(experiment_id)?;
    upsert_tag(id, tag).execute(&store.writer).await?;
    Ok(())
}

pub(super) async fn delete_tag(store: &SqlStore, experiment_id: &str, key: &str) -> Result<()> {
    let id = experiment_key(experiment_id)?;
    let statement = sql!(
        "DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2",
        id,
        key
    );
    change_one(store, statement, || {
        TrackingError::NotFound(format!(
            "No tag with name: {key} in experiment with id {experiment_id}"
        ))
    })
    .await
}
