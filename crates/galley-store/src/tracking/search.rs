//! Translating parsed searches into one SQL query per page: filters become EXISTS probes on indexed
//! tables, order_by keys become LEFT JOINs on the latest-value tables, and ties break deterministically.

use galley_tracking::model::*;
use galley_tracking::search::ast::{Comparison, EntityKind, OrderBy};
use galley_tracking::TrackingError;

use super::experiments;
use super::run_data::{info_from_row, load_runs, RUN_COLUMNS};
use super::{experiment_key, Result};
use crate::filter::{direction, predicate};
use crate::sql::{fetch_page, Sql};
use crate::{Dialect, SqlStore};

fn invalid(message: String) -> TrackingError {
    TrackingError::InvalidParameter(message)
}

fn run_attribute_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "run_id" | "run_uuid" => "r.run_uuid",
        "run_name" => "r.run_name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "artifact_uri" => "r.artifact_uri",
        "lifecycle_stage" => "r.lifecycle_stage",
        "start_time" => "r.start_time",
        "end_time" => "r.end_time",
        "experiment_id" => "r.experiment_id",
        other => return Err(invalid(format!("Invalid attribute key '{other}' for runs"))),
    })
}

fn run_condition(sql: &mut Sql, dialect: Dialect, c: &Comparison) -> Result<String> {
    Ok(match c.kind {
        EntityKind::Metric => {
            let key = sql.arg(&c.key);
            let test = predicate(sql, dialect, "m.value", c)?;
            format!(
                "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = {key} \
                 AND m.is_nan = 0 AND {test})"
            )
        }
        EntityKind::Param | EntityKind::Tag => {
            let table = if c.kind == EntityKind::Param {
                "params"
            } else {
                "tags"
            };
            let key = sql.arg(&c.key);
            let test = predicate(sql, dialect, "p.value", c)?;
            format!(
                "EXISTS (SELECT 1 FROM {table} p WHERE p.run_uuid = r.run_uuid AND p.key = {key} AND {test})"
            )
        }
        EntityKind::Attribute => predicate(sql, dialect, run_attribute_column(&c.key)?, c)?,
        EntityKind::Dataset => match c.key.as_str() {
            "name" | "digest" => {
                let test = predicate(sql, dialect, &format!("d.{}", c.key), c)?;
                format!(
                    "EXISTS (SELECT 1 FROM run_dataset_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id \
                     WHERE i.run_uuid = r.run_uuid AND {test})"
                )
            }
            "context" => {
                let test = predicate(sql, dialect, "t.value", c)?;
                format!(
                    "EXISTS (SELECT 1 FROM run_dataset_input_tags t WHERE t.run_uuid = r.run_uuid \
                     AND t.key = 'mlflow.data.context' AND {test})"
                )
            }
            other => return Err(invalid(format!("Invalid dataset key '{other}'"))),
        },
    })
}

/// Appends the stages a view type admits, as `<column> IN (...)`.
pub(super) fn stage_condition(sql: &mut Sql, column: &str, view_type: ViewType) -> String {
    let stages: Vec<String> = view_type
        .stages()
        .iter()
        .map(|s| sql.arg(s.as_str()))
        .collect();
    format!("{column} IN ({})", stages.join(", "))
}

pub(super) async fn runs(store: &SqlStore, search: &RunSearch) -> Result<Page<Run>> {
    if search.experiment_ids.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_offset: None,
        });
    }
    let mut sql = Sql::built(store.dialect, "");
    let mut joins = String::new();
    let mut order = Vec::new();
    for (
        i,
        OrderBy {
            kind,
            key,
            ascending,
        },
    ) in search.order_by.iter().enumerate()
    {
        let dir = direction(*ascending);
        match kind {
            EntityKind::Metric => {
                let key = sql.arg(key);
                joins.push_str(&format!(
                    " LEFT JOIN latest_metrics o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = {key}"
                ));
                order.push(format!(
                    "(o{i}.value IS NULL), o{i}.is_nan, o{i}.value {dir}"
                ));
            }
            EntityKind::Param | EntityKind::Tag => {
                let table = if *kind == EntityKind::Param {
                    "params"
                } else {
                    "tags"
                };
                let key = sql.arg(key);
                joins.push_str(&format!(
                    " LEFT JOIN {table} o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = {key}"
                ));
                order.push(format!("(o{i}.value IS NULL), o{i}.value {dir}"));
            }
            EntityKind::Attribute => {
                let column = run_attribute_column(key)?;
                order.push(format!("({column} IS NULL), {column} {dir}"));
            }
            EntityKind::Dataset => {
                return Err(invalid(format!("Cannot order runs by dataset key '{key}'")))
            }
        }
    }
    order.push("r.start_time DESC".into());
    order.push("r.run_uuid ASC".into());

    let experiment_ids: Vec<i64> = search
        .experiment_ids
        .iter()
        .map(|id| experiment_key(id))
        .collect::<Result<_>>()?;
    let mut conditions = vec![{
        let ids: Vec<String> = experiment_ids.iter().map(|id| sql.arg(*id)).collect();
        format!("r.experiment_id IN ({})", ids.join(", "))
    }];
    conditions.push(stage_condition(
        &mut sql,
        "r.lifecycle_stage",
        search.view_type,
    ));
    for comparison in &search.filter {
        conditions.push(run_condition(&mut sql, store.dialect, comparison)?);
    }
    let select = format!("SELECT {RUN_COLUMNS} FROM runs r{joins}");
    let (infos, next_offset) = fetch_page(
        store,
        sql,
        &select,
        &conditions,
        &order,
        (search.max_results, search.offset),
        info_from_row,
    )
    .await?;
    Ok(Page {
        items: load_runs(store, infos).await?,
        next_offset,
    })
}

fn experiment_attribute_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "name" => "e.name",
        "experiment_id" => "e.experiment_id",
        "creation_time" => "e.creation_time",
        "last_update_time" => "e.last_update_time",
        other => {
            return Err(invalid(format!(
                "Invalid attribute key '{other}' for experiments"
            )))
        }
    })
}

pub(super) async fn experiments(
    store: &SqlStore,
    search: &ExperimentSearch,
) -> Result<Page<Experiment>> {
    let mut sql = Sql::built(store.dialect, "");
    let mut conditions = vec![stage_condition(
        &mut sql,
        "e.lifecycle_stage",
        search.view_type,
    )];
    for c in &search.filter {
        conditions.push(match c.kind {
            EntityKind::Attribute => predicate(&mut sql, store.dialect, experiment_attribute_column(&c.key)?, c)?,
            EntityKind::Tag => {
                let key = sql.arg(&c.key);
                let test = predicate(&mut sql, store.dialect, "t.value", c)?;
                format!(
                    "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id \
                     AND t.key = {key} AND {test})"
                )
            }
            _ => return Err(invalid(format!("Invalid filter key '{}' for experiments", c.key))),
        });
    }
    let mut order = Vec::new();
    if search.order_by.is_empty() {
        order.push("e.creation_time DESC".to_string());
    }
    for o in &search.order_by {
        if o.kind != EntityKind::Attribute {
            return Err(invalid(format!("Cannot order experiments by '{}'", o.key)));
        }
        order.push(format!(
            "{} {}",
            experiment_attribute_column(&o.key)?,
            direction(o.ascending)
        ));
    }
    order.push("e.experiment_id ASC".into());
    let select = "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, \
                  e.creation_time, e.last_update_time FROM experiments e";
    let (mut items, next_offset) = fetch_page(
        store,
        sql,
        select,
        &conditions,
        &order,
        (search.max_results, search.offset),
        experiments::from_row,
    )
    .await?;
    experiments::attach_tags(store, &mut items).await?;
    Ok(Page { items, next_offset })
}
