//! Translating parsed searches into one SQL query per page: filters become EXISTS probes on indexed
//! tables, order_by keys become LEFT JOINs on the latest-value tables, and ties break deterministically.

use galley_tracking::model::*;
use galley_tracking::search::ast::{Comparison, EntityKind, OrderBy};
use galley_tracking::TrackingError;

use super::experiments;
use super::run_data::{info_from_row, load_runs, RUN_COLUMNS};
use super::{experiment_key, Result};
use crate::filter::{direction, predicate};
use crate::sql::{fetch_page, page_end, SelectQuery, Sql};
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

/// Which runs one query of a search covers. A search ordered first by a metric runs as three
/// queries, one after another, in the order the metric sorts them: runs with a number (walking
/// `latest_metrics_by_key`, so a page costs its own size rather than the experiment's), then runs
/// where it is NaN, then runs without it. Any other search is one query over every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Whole,
    MetricNumbers,
    MetricNaN,
    MetricMissing,
}

/// One query of a search, its arguments bound in order.
fn run_query(dialect: Dialect, search: &RunSearch, segment: Segment) -> Result<SelectQuery> {
    let mut sql = Sql::built(dialect, "");
    let mut from = "runs r".to_string();
    let mut joins = String::new();
    let mut order = Vec::new();
    let mut segment_conditions = Vec::new();
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
            EntityKind::Metric if i == 0 && segment != Segment::Whole => {
                let key = sql.arg(key);
                if segment == Segment::MetricMissing {
                    segment_conditions.push(format!(
                        "NOT EXISTS (SELECT 1 FROM latest_metrics o0 WHERE o0.run_uuid = r.run_uuid \
                         AND o0.key = {key})"
                    ));
                    continue;
                }
                // SQLite's planner would start from the runs again; CROSS JOIN keeps the walk
                // over the index first.
                let join = match dialect {
                    Dialect::Sqlite => "CROSS JOIN",
                    Dialect::Postgres => "JOIN",
                };
                from = format!("latest_metrics o0 {join} runs r ON r.run_uuid = o0.run_uuid");
                let nan = i64::from(segment == Segment::MetricNaN);
                segment_conditions.push(format!("o0.key = {key} AND o0.is_nan = {nan}"));
                order.push(format!("o0.value {dir}"));
            }
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
    let mut conditions = segment_conditions;
    conditions.push({
        let ids: Vec<String> = experiment_ids.iter().map(|id| sql.arg(*id)).collect();
        format!("r.experiment_id IN ({})", ids.join(", "))
    });
    conditions.push(stage_condition(
        &mut sql,
        "r.lifecycle_stage",
        search.view_type,
    ));
    for comparison in &search.filter {
        conditions.push(run_condition(&mut sql, dialect, comparison)?);
    }
    Ok(SelectQuery {
        sql,
        select: format!("SELECT {RUN_COLUMNS} FROM {from}{joins}"),
        conditions,
        order,
    })
}

pub(super) async fn runs(store: &SqlStore, search: &RunSearch) -> Result<Page<Run>> {
    if search.experiment_ids.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_offset: None,
        });
    }
    let by_metric = search
        .order_by
        .first()
        .is_some_and(|o| o.kind == EntityKind::Metric);
    let (infos, next_offset) = if by_metric {
        segmented_page(store, search).await?
    } else {
        run_query(store.dialect, search, Segment::Whole)?
            .page(store, (search.max_results, search.offset), info_from_row)
            .await?
    };
    Ok(Page {
        items: load_runs(store, infos).await?,
        next_offset,
    })
}

/// A page of a search ordered first by a metric: the segments in turn until the page (and the
/// probe row past it) is full, skipping the offset across them.
async fn segmented_page(
    store: &SqlStore,
    search: &RunSearch,
) -> Result<(Vec<RunInfo>, Option<u64>)> {
    let mut wanted = u64::from(search.max_results) + 1;
    let mut skip = search.offset;
    let mut infos = Vec::new();
    for segment in [
        Segment::MetricNumbers,
        Segment::MetricNaN,
        Segment::MetricMissing,
    ] {
        let rows = run_query(store.dialect, search, segment)?
            .fetch(store, wanted, skip, info_from_row)
            .await?;
        skip = match (rows.is_empty(), skip) {
            // Rows past the offset came back: this segment held the whole offset.
            (false, _) | (true, 0) => 0,
            (true, _) => {
                let held = run_query(store.dialect, search, segment)?
                    .count(store)
                    .await?;
                skip.saturating_sub(held)
            }
        };
        wanted -= rows.len() as u64;
        infos.extend(rows);
        if wanted == 0 {
            break;
        }
    }
    let next_offset = page_end(&mut infos, search.max_results, search.offset);
    Ok((infos, next_offset))
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
