//! Online reads (the latest row per entity, with ttl enforced and a status per value) and push
//! (fresh rows written straight to the online store).

use galley_core::time::now_millis;
use galley_features::online::{OnlineRow, WriteCounts};
use galley_features::selection::{FeatureRequest, Selection};
use galley_features::value::{EntityKey, Value};
use galley_features::{FeatureError, Result};
use serde::Serialize;

use crate::arrow_values::parse_time;
use crate::service::FeatureService;

/// Feast's per-value statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FeatureStatus {
    Present,
    NullValue,
    NotFound,
    OutsideMaxAge,
}

/// One column of an online answer: a value, a status and an event time per entity row.
#[derive(Clone, Debug, PartialEq)]
pub struct OnlineColumn {
    pub name: String,
    pub values: Vec<Value>,
    pub statuses: Vec<FeatureStatus>,
    /// `None` where no row was found (and for entity key columns).
    pub event_timestamps: Vec<Option<i64>>,
}

/// Entity key columns first (as given), then each feature in the order asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct OnlineAnswer {
    pub columns: Vec<OnlineColumn>,
}

impl FeatureService {
    /// The latest stored values of `request`'s features for each entity row. A row older than
    /// its view's ttl answers OUTSIDE_MAX_AGE with no value (Feast answers the stale value).
    pub async fn online_features(
        &self,
        request: &FeatureRequest,
        entities: Vec<(String, Vec<Value>)>,
        full_feature_names: bool,
    ) -> Result<OnlineAnswer> {
        let snapshot = self.snapshot();
        let selection = Selection::resolve(&snapshot.definitions, request, full_feature_names)?;
        let rows = entity_rows(&entities)?;
        let now_ns = now_millis().saturating_mul(1_000_000);
        let mut columns: Vec<OnlineColumn> = entities
            .iter()
            .map(|(name, values)| OnlineColumn {
                name: name.clone(),
                values: values.clone(),
                statuses: vec![FeatureStatus::Present; rows],
                event_timestamps: vec![None; rows],
            })
            .collect();
        for view in &selection.views {
            if !view.view.online {
                return Err(FeatureError::InvalidInput(format!(
                    "feature view {} is not online",
                    view.view.name
                )));
            }
            let keys = entity_keys(&view.join_keys, &entities, rows)?;
            let stored = self.inner.online.read(&view.view.name, &keys).await?;
            let fresh_after = view
                .view
                .ttl
                .as_nanos()
                .map(|ttl| now_ns.saturating_sub(ttl));
            // Where the next feature is likely to be in each stored row: features are mostly
            // asked for in schema order, which is the order rows are stored in.
            let mut hints = vec![0usize; stored.len()];
            for (field, name) in &view.features {
                let mut column = OnlineColumn {
                    name: name.to_string(),
                    values: Vec::with_capacity(rows),
                    statuses: Vec::with_capacity(rows),
                    event_timestamps: Vec::with_capacity(rows),
                };
                for (row, hint) in stored.iter().zip(&mut hints) {
                    let (value, status, at) = match row {
                        None => (Value::Null, FeatureStatus::NotFound, None),
                        Some(row) if fresh_after.is_some_and(|t| row.event_ts < t) => (
                            Value::Null,
                            FeatureStatus::OutsideMaxAge,
                            Some(row.event_ts),
                        ),
                        Some(row) => {
                            let value = stored_value(row, &field.name, hint)
                                .and_then(|v| v.clone().coerce(field.dtype))
                                .unwrap_or(Value::Null);
                            let status = if value.is_null() {
                                FeatureStatus::NullValue
                            } else {
                                FeatureStatus::Present
                            };
                            (value, status, Some(row.event_ts))
                        }
                    };
                    column.values.push(value);
                    column.statuses.push(status);
                    column.event_timestamps.push(at);
                }
                columns.push(column);
            }
        }
        Ok(OnlineAnswer { columns })
    }

    /// Writes rows given as columns (join keys, the source's timestamp column, optionally its
    /// created column, and every feature of the view) to the online store. Every value is
    /// checked against the view's schema first: a bad row writes nothing.
    pub async fn push(
        &self,
        view_name: &str,
        columns: Vec<(String, Vec<Value>)>,
    ) -> Result<WriteCounts> {
        let snapshot = self.snapshot();
        let definitions = &snapshot.definitions;
        let view = definitions
            .view(view_name)
            .ok_or_else(|| FeatureError::NotFound(format!("unknown feature view {view_name:?}")))?;
        if !view.online {
            return Err(FeatureError::InvalidInput(format!(
                "feature view {view_name} is not online"
            )));
        }
        let source = definitions
            .source(&view.source)
            .ok_or_else(|| FeatureError::NotFound(format!("unknown source {}", view.source)))?;
        let rows = entity_rows(&columns)?;
        let join_keys = definitions.join_keys(view);
        let mut expected: Vec<&str> = join_keys.iter().map(String::as_str).collect();
        expected.push(&source.timestamp_field);
        expected.extend(source.created_timestamp_column.as_deref());
        expected.extend(view.schema.iter().map(|f| f.name.as_str()));
        if let Some((extra, _)) = columns
            .iter()
            .find(|(n, _)| !expected.contains(&n.as_str()))
        {
            return Err(FeatureError::InvalidInput(format!(
                "feature view {view_name} has no column {extra:?} (expected {})",
                expected.join(", ")
            )));
        }
        let column = |name: &str| {
            columns
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, values)| values)
                .ok_or_else(|| FeatureError::InvalidInput(format!("missing column {name:?}")))
        };
        let keys = entity_keys(&join_keys, &columns, rows)?;
        let event_times = times(
            column(&source.timestamp_field)?,
            &source.timestamp_field,
            true,
        )?;
        let created_times = match &source.created_timestamp_column {
            Some(name) => match columns.iter().find(|(n, _)| n == name) {
                Some((_, values)) => times(values, name, false)?,
                None => vec![None; rows],
            },
            None => vec![None; rows],
        };
        let mut values = Vec::with_capacity(view.schema.len());
        for field in &view.schema {
            let coerced = column(&field.name)?
                .iter()
                .map(|v| {
                    v.clone().coerce(field.dtype).ok_or_else(|| {
                        FeatureError::InvalidInput(format!(
                            "feature {}: {v:?} is not a {} value",
                            field.name, field.dtype
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            values.push((field.name.clone(), coerced));
        }
        let online_rows: Vec<(EntityKey, OnlineRow)> = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| {
                let row = OnlineRow {
                    event_ts: event_times[i].unwrap_or_default(),
                    created_ts: created_times[i],
                    values: values
                        .iter()
                        .map(|(name, column)| (name.clone(), column[i].clone()))
                        .collect(),
                };
                (key, row)
            })
            .collect();
        let newest = online_rows.iter().map(|(_, r)| r.event_ts).max();
        let counts = self.inner.online.write(view_name, online_rows).await?;
        if let Some(newest) = newest {
            self.saw_event(view_name, newest);
        }
        metrics::counter!("galley_feature_pushed_rows_total", "view" => view_name.to_string())
            .increment(counts.written);
        Ok(counts)
    }

    /// Records a view's newest online event time and sets its freshness gauge at once.
    pub(crate) fn saw_event(&self, view: &str, event_ts: i64) {
        let newest = {
            let mut newest = self
                .inner
                .newest_event
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let entry = newest.entry(view.to_string()).or_insert(event_ts);
            *entry = (*entry).max(event_ts);
            *entry
        };
        crate::freshness::set_gauge(view, newest);
    }
}

/// `name`'s value in `row`, looked for first at `hint`, which is left just past it.
fn stored_value<'r>(row: &'r OnlineRow, name: &str, hint: &mut usize) -> Option<&'r Value> {
    let at = match row.values.get(*hint) {
        Some((stored, _)) if stored == name => *hint,
        _ => row.values.iter().position(|(stored, _)| stored == name)?,
    };
    *hint = at + 1;
    Some(&row.values[at].1)
}

/// The number of entity rows: every column must have it.
fn entity_rows(columns: &[(String, Vec<Value>)]) -> Result<usize> {
    let rows = columns.first().map_or(0, |(_, values)| values.len());
    if let Some((name, values)) = columns.iter().find(|(_, v)| v.len() != rows) {
        return Err(FeatureError::InvalidInput(format!(
            "column {name:?} has {} values where the others have {rows}",
            values.len()
        )));
    }
    Ok(rows)
}

fn entity_keys(
    join_keys: &[String],
    entities: &[(String, Vec<Value>)],
    rows: usize,
) -> Result<Vec<EntityKey>> {
    let columns: Vec<&Vec<Value>> = join_keys
        .iter()
        .map(|key| {
            entities
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, values)| values)
                .ok_or_else(|| FeatureError::InvalidInput(format!("missing join key {key:?}")))
        })
        .collect::<Result<_>>()?;
    (0..rows)
        .map(|row| {
            let values: Vec<Value> = columns.iter().map(|c| c[row].clone()).collect();
            EntityKey::encode(&values).map_err(|e| FeatureError::InvalidInput(e.to_string()))
        })
        .collect()
}

/// Times given as RFC 3339 text or as nanoseconds; `required` refuses nulls.
fn times(values: &[Value], column: &str, required: bool) -> Result<Vec<Option<i64>>> {
    values
        .iter()
        .map(|value| match value {
            Value::Null if !required => Ok(None),
            Value::String(text) => parse_time(text).map(Some).ok_or_else(|| {
                FeatureError::InvalidInput(format!("{column}: {text:?} is not a time"))
            }),
            Value::Timestamp(ns) | Value::Int64(ns) => Ok(Some(*ns)),
            other => Err(FeatureError::InvalidInput(format!(
                "{column}: {other:?} is not a time (RFC 3339 text or nanoseconds)"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_are_found_in_any_order_and_missing_ones_are_none() {
        let row = OnlineRow {
            event_ts: 0,
            created_ts: None,
            values: ["a", "b", "c"]
                .iter()
                .zip(1..)
                .map(|(name, v)| (name.to_string(), Value::Int64(v)))
                .collect(),
        };
        let mut hint = 0;
        let found: Vec<Option<&Value>> = ["a", "b", "c", "b", "z", "a", "c"]
            .iter()
            .map(|name| stored_value(&row, name, &mut hint))
            .collect();
        let (one, two, three) = (Value::Int64(1), Value::Int64(2), Value::Int64(3));
        assert_eq!(
            found,
            [
                Some(&one),
                Some(&two),
                Some(&three),
                Some(&two),
                None,
                Some(&one),
                Some(&three)
            ]
        );
    }
}
