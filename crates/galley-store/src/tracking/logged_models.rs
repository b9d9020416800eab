//! MLflow 3 logged models with their tags, params and the metrics logged against them.

use std::collections::HashMap;

use galley_tracking::model::*;
use galley_tracking::search::ast::{Comparison, EntityKind};
use galley_tracking::TrackingError;
use sqlx::any::AnyRow;

use super::{col as column, db_err, experiment_key, loaded_value, Result};
use crate::filter::{direction, predicate};
use crate::sql::{change_one, fetch_page, sql, Sql, IN_LIST_CHUNK};
use crate::SqlStore;

const COLUMNS: &str =
    "model_id, experiment_id, name, artifact_uri, status, status_message, model_type, \
     source_run_id, creation_timestamp_ms, last_updated_timestamp_ms";

fn not_found(model_id: &str) -> TrackingError {
    TrackingError::NotFound(format!("Logged model with ID '{model_id}' not found."))
}

fn from_row(row: &AnyRow) -> Result<LoggedModel> {
    let status: String = column(row, "status")?;
    Ok(LoggedModel {
        model_id: column(row, "model_id")?,
        experiment_id: column::<i64>(row, "experiment_id")?.to_string(),
        name: column(row, "name")?,
        artifact_uri: column(row, "artifact_uri")?,
        status: LoggedModelStatus::parse(&status).unwrap_or(LoggedModelStatus::Pending),
        status_message: column(row, "status_message")?,
        model_type: column(row, "model_type")?,
        source_run_id: column(row, "source_run_id")?,
        creation_timestamp_ms: column(row, "creation_timestamp_ms")?,
        last_updated_timestamp_ms: column(row, "last_updated_timestamp_ms")?,
        tags: Vec::new(),
        params: Vec::new(),
        metrics: Vec::new(),
    })
}

/// Fills tags, params and metrics for a page of models with three queries per chunk.
async fn attach_details(store: &SqlStore, models: &mut [LoggedModel]) -> Result<()> {
    let ids: Vec<String> = models.iter().map(|m| m.model_id.clone()).collect();
    let index: HashMap<String, usize> = ids.iter().cloned().zip(0..).collect();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        for (table, is_tags) in [("logged_model_tags", true), ("logged_model_params", false)] {
            let mut query = Sql::built(
                store.dialect,
                format!("SELECT model_id, key, value FROM {table} WHERE model_id IN "),
            );
            query.push_list(chunk).push(" ORDER BY key");
            for row in query
                .query()
                .fetch_all(&store.reader)
                .await
                .map_err(db_err)?
            {
                let model = &mut models[index[&column::<String>(&row, "model_id")?]];
                let pair = KeyValue::new(
                    column::<String>(&row, "key")?,
                    column::<String>(&row, "value")?,
                );
                if is_tags {
                    model.tags.push(pair);
                } else {
                    model.params.push(pair);
                }
            }
        }
        let mut query = Sql::built(
            store.dialect,
            "SELECT run_uuid, model_id, key, value, is_nan, timestamp, step, dataset_name, dataset_digest \
             FROM metrics WHERE model_id IN ",
        );
        query
            .push_list(chunk)
            .push(" ORDER BY key, step, timestamp");
        for row in query
            .query()
            .fetch_all(&store.reader)
            .await
            .map_err(db_err)?
        {
            let model_id: String = column(&row, "model_id")?;
            models[index[&model_id]].metrics.push(ModelMetric {
                run_id: column(&row, "run_uuid")?,
                metric: Metric {
                    key: column(&row, "key")?,
                    value: loaded_value(column(&row, "value")?, column(&row, "is_nan")?),
                    timestamp: column(&row, "timestamp")?,
                    step: column(&row, "step")?,
                    model_id: Some(model_id),
                    dataset_name: column(&row, "dataset_name")?,
                    dataset_digest: column(&row, "dataset_digest")?,
                },
            });
        }
    }
    Ok(())
}

async fn upsert_pairs(
    executor: &mut sqlx::AnyConnection,
    table: &str,
    model_id: &str,
    pairs: &[KeyValue],
) -> Result<()> {
    for pair in pairs {
        sql!(
            format!(
                "INSERT INTO {table} (model_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
            ),
            model_id,
            &pair.key,
            &pair.value
        )
        .execute(&mut *executor)
        .await?;
    }
    Ok(())
}

pub(super) async fn create(
    store: &SqlStore,
    model: &NewLoggedModel,
    artifact_uri: &str,
) -> Result<LoggedModel> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    sql!(
        format!("INSERT INTO logged_models ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $8)"),
        &model.model_id,
        experiment_key(&model.experiment_id)?,
        &model.name,
        artifact_uri,
        LoggedModelStatus::Pending.as_str(),
        model.model_type.as_ref(),
        model.source_run_id.as_ref(),
        model.creation_timestamp_ms
    )
    .execute(&mut *tx).await?;
    upsert_pairs(&mut tx, "logged_model_tags", &model.model_id, &model.tags).await?;
    upsert_pairs(
        &mut tx,
        "logged_model_params",
        &model.model_id,
        &model.params,
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    get(store, &model.model_id).await
}

pub(super) async fn get(store: &SqlStore, model_id: &str) -> Result<LoggedModel> {
    let row = sql!(
        format!("SELECT {COLUMNS} FROM logged_models WHERE model_id = $1"),
        model_id
    )
    .query()
    .fetch_optional(&store.reader)
    .await
    .map_err(db_err)?
    .ok_or_else(|| not_found(model_id))?;
    let mut models = [from_row(&row)?];
    attach_details(store, &mut models).await?;
    let [model] = models;
    Ok(model)
}

async fn require_exists(conn: &mut sqlx::AnyConnection, model_id: &str) -> Result<()> {
    sql!(
        "SELECT model_id FROM logged_models WHERE model_id = $1",
        model_id
    )
    .query()
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .map(|_| ())
    .ok_or_else(|| not_found(model_id))
}

pub(super) async fn set_status(
    store: &SqlStore,
    model_id: &str,
    status: LoggedModelStatus,
    now: i64,
) -> Result<LoggedModel> {
    let statement = sql!(
        "UPDATE logged_models SET status = $1, last_updated_timestamp_ms = $2 WHERE model_id = $3",
        status.as_str(),
        now,
        model_id
    );
    change_one(store, statement, || not_found(model_id)).await?;
    get(store, model_id).await
}

pub(super) async fn delete(store: &SqlStore, model_id: &str) -> Result<()> {
    let statement = sql!("DELETE FROM logged_models WHERE model_id = $1", model_id);
    change_one(store, statement, || not_found(model_id)).await
}

/// Upserts tags or params of an existing model, all or nothing.
async fn upsert_existing(
    store: &SqlStore,
    table: &str,
    model_id: &str,
    pairs: &[KeyValue],
) -> Result<()> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    require_exists(&mut tx, model_id).await?;
    upsert_pairs(&mut tx, table, model_id, pairs).await?;
    tx.commit().await.map_err(|e| db_err(e).into())
}

pub(super) async fn set_tags(store: &SqlStore, model_id: &str, tags: &[KeyValue]) -> Result<()> {
    upsert_existing(store, "logged_model_tags", model_id, tags).await
}

pub(super) async fn log_params(
    store: &SqlStore,
    model_id: &str,
    params: &[KeyValue],
) -> Result<()> {
    upsert_existing(store, "logged_model_params", model_id, params).await
}

pub(super) async fn delete_tag(store: &SqlStore, model_id: &str, key: &str) -> Result<()> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    require_exists(&mut tx, model_id).await?;
    let done = sql!(
        "DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2",
        model_id,
        key
    )
    .execute(&mut *tx)
    .await?;
    if done == 0 {
        return Err(TrackingError::NotFound(format!(
            "No tag with key '{key}' on logged model '{model_id}'"
        )));
    }
    tx.commit().await.map_err(|e| db_err(e).into())
}

fn attribute_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "name" => "lm.name",
        "model_id" => "lm.model_id",
        "model_type" => "lm.model_type",
        "status" => "lm.status",
        "source_run_id" => "lm.source_run_id",
        "creation_timestamp" => "lm.creation_timestamp_ms",
        "last_updated_timestamp" => "lm.last_updated_timestamp_ms",
        other => {
            return Err(TrackingError::InvalidParameter(format!(
                "Invalid logged model attribute '{other}'"
            )))
        }
    })
}

/// ORDER BY terms for one sort key. A metric sorts by the model's latest value of it (latest
/// timestamp, then step, then run, as MLflow picks it), NaN and absent values last.
fn order_terms(sql: &mut Sql, order: &LoggedModelOrder) -> Result<Vec<String>> {
    let way = direction(order.ascending);
    match &order.key {
        LoggedModelOrderKey::Attribute(name) => {
            Ok(vec![format!("{} {way}", attribute_column(name)?)])
        }
        LoggedModelOrderKey::Metric {
            key,
            dataset_name,
            dataset_digest,
        } => {
            // Built once per use: SQLite's positional placeholders bind in text order.
            let mut latest = || {
                let mut filters = format!("x.key = {}", sql.arg(key));
                if let Some(name) = dataset_name {
                    filters.push_str(&format!(" AND x.dataset_name = {}", sql.arg(name)));
                }
                if let Some(digest) = dataset_digest {
                    filters.push_str(&format!(" AND x.dataset_digest = {}", sql.arg(digest)));
                }
                format!(
                    "(SELECT CASE WHEN x.is_nan = 1 THEN NULL ELSE x.value END FROM metrics x \
                     WHERE x.model_id = lm.model_id AND {filters} \
                     ORDER BY x.timestamp DESC, x.step DESC, x.run_uuid ASC LIMIT 1)"
                )
            };
            Ok(vec![
                format!("CASE WHEN {} IS NULL THEN 1 ELSE 0 END ASC", latest()),
                format!("{} {way}", latest()),
            ])
        }
    }
}

fn condition(sql: &mut Sql, dialect: crate::Dialect, c: &Comparison) -> Result<String> {
    let (table, value_column) = match c.kind {
        EntityKind::Attribute => return Ok(predicate(sql, dialect, attribute_column(&c.key)?, c)?),
        EntityKind::Metric => ("metrics", "x.value"),
        EntityKind::Param => ("logged_model_params", "x.value"),
        EntityKind::Tag => ("logged_model_tags", "x.value"),
        EntityKind::Dataset => {
            return Err(TrackingError::InvalidParameter(
                "Logged models cannot be filtered by dataset fields".into(),
            ))
        }
    };
    let key = sql.arg(&c.key);
    let test = predicate(sql, dialect, value_column, c)?;
    let finite = if c.kind == EntityKind::Metric {
        " AND x.is_nan = 0"
    } else {
        ""
    };
    Ok(format!(
        "EXISTS (SELECT 1 FROM {table} x WHERE x.model_id = lm.model_id AND x.key = {key}{finite} AND {test})"
    ))
}

pub(super) async fn search(
    store: &SqlStore,
    search: &LoggedModelSearch,
) -> Result<Page<LoggedModel>> {
    if search.experiment_ids.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_offset: None,
        });
    }
    let ids: Vec<i64> = search
        .experiment_ids
        .iter()
        .map(|id| experiment_key(id))
        .collect::<Result<_>>()?;
    let mut sql = Sql::built(store.dialect, "");
    let placeholders: Vec<String> = ids.iter().map(|id| sql.arg(*id)).collect();
    let mut conditions = vec![format!("lm.experiment_id IN ({})", placeholders.join(", "))];
    for comparison in &search.filter {
        conditions.push(condition(&mut sql, store.dialect, comparison)?);
    }
    let mut order = Vec::new();
    for o in &search.order_by {
        order.extend(order_terms(&mut sql, o)?);
    }
    order.push("lm.creation_timestamp_ms DESC".into());
    order.push("lm.model_id ASC".into());
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("lm.{c}")).collect();
    let select = format!("SELECT {} FROM logged_models lm", columns.join(", "));
    let (mut items, next_offset) = fetch_page(
        store,
        sql,
        &select,
        &conditions,
        &order,
        (search.max_results, search.offset),
        from_row,
    )
    .await?;
    attach_details(store, &mut items).await?;
    Ok(Page { items, next_offset })
}
