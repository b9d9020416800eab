//! `MonitoringStore` on SQL: the prediction-file index, labels, reference records and results.

use async_trait::async_trait;
use galley_monitoring::alerts::{AlertEvent, AlertRule, Comparison, Delivery, RuleSpec, Severity};
use galley_monitoring::model::{Label, MetricPoint, PredictionFile, ReferenceRecord, Window};
use galley_monitoring::{MonitoringError, MonitoringStore};
use sqlx::any::AnyRow;

use crate::sql::{change_one, col, db_err, is_unique_violation, sql, Sql, IN_LIST_CHUNK};
use crate::SqlStore;

type Result<T> = std::result::Result<T, MonitoringError>;

fn file_from_row(row: &AnyRow) -> Result<PredictionFile> {
    Ok(PredictionFile {
        deployment: col(row, "deployment")?,
        path: col(row, "path")?,
        row_count: col(row, "row_count")?,
        first_at: col(row, "first_at")?,
        last_at: col(row, "last_at")?,
        created_at: col(row, "created_at")?,
    })
}

fn label_from_row(row: &AnyRow) -> Result<Label> {
    Ok(Label {
        request_id: col(row, "request_id")?,
        row: col(row, "row_index")?,
        label: col(row, "label")?,
        labeled_at: col(row, "labeled_at")?,
    })
}

fn reference_from_row(row: &AnyRow) -> Result<ReferenceRecord> {
    Ok(ReferenceRecord {
        model: col(row, "model")?,
        version: col(row, "version")?,
        source: col(row, "source")?,
        row_count: col(row, "row_count")?,
        profile_path: col(row, "profile_path")?,
        created_at: col(row, "created_at")?,
    })
}

fn point_from_row(row: &AnyRow) -> Result<MetricPoint> {
    Ok(MetricPoint {
        window: Window {
            start: col(row, "window_start")?,
            end: col(row, "window_end")?,
        },
        metric: col(row, "metric")?,
        column: col(row, "column_name")?,
        value: col(row, "value")?,
        evaluated_at: col(row, "evaluated_at")?,
    })
}

fn corrupt(what: &str) -> MonitoringError {
    MonitoringError::Store(galley_core::StoreFailure::Internal(format!(
        "unreadable monitoring row: {what}"
    )))
}

/// Decodes a column holding one of an enum's stored names.
fn named<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let text: String = col(row, column)?;
    parse(&text).ok_or_else(|| corrupt(column))
}

const RULE_COLUMNS: &str = "id, deployment, name, metric, column_name, comparison, threshold, \
     window_length, severity, webhook_url, created_at, retrain_job";

fn rule_from_row(row: &AnyRow) -> Result<AlertRule> {
    Ok(AlertRule {
        id: col(row, "id")?,
        deployment: col(row, "deployment")?,
        spec: RuleSpec {
            name: col(row, "name")?,
            metric: col(row, "metric")?,
            column: col(row, "column_name")?,
            comparison: named(row, "comparison", Comparison::parse)?,
            threshold: col(row, "threshold")?,
            window: col(row, "window_length")?,
            severity: named(row, "severity", Severity::parse)?,
            webhook_url: col(row, "webhook_url")?,
            retrain_job: col::<Option<String>>(row, "retrain_job")?
                .map(|text| serde_json::from_str(&text).map_err(|_| corrupt("retrain_job")))
                .transpose()?,
        },
        created_at: col(row, "created_at")?,
    })
}

const EVENT_COLUMNS: &str = "id, rule_id, deployment, metric, column_name, value, threshold, \
     severity, window_start, window_end, fired_at, delivery, attempts, retrain_job_id";

fn event_from_row(row: &AnyRow) -> Result<AlertEvent> {
    Ok(AlertEvent {
        id: col(row, "id")?,
        rule_id: col(row, "rule_id")?,
        deployment: col(row, "deployment")?,
        metric: col(row, "metric")?,
        column: col(row, "column_name")?,
        value: col(row, "value")?,
        threshold: col(row, "threshold")?,
        severity: named(row, "severity", Severity::parse)?,
        window: Window {
            start: col(row, "window_start")?,
            end: col(row, "window_end")?,
        },
        fired_at: col(row, "fired_at")?,
        delivery: named(row, "delivery", Delivery::parse)?,
        attempts: u32::try_from(col::<i64>(row, "attempts")?).map_err(|_| corrupt("attempts"))?,
        retrain_job_id: col(row, "retrain_job_id")?,
    })
}

/// Inserts `rows` (each given as its arguments) in multi-row statements of at most
/// [`IN_LIST_CHUNK`] rows inside one transaction, so a bulk write lands whole or not at all.
async fn insert_all<T>(
    store: &SqlStore,
    head: &str,
    tail: &str,
    rows: &[T],
    bind: impl Fn(&mut Sql, &T) -> Vec<String>,
) -> Result<()> {
    let mut tx = store.writer.begin().await.map_err(db_err)?;
    for chunk in rows.chunks(IN_LIST_CHUNK) {
        let mut statement = Sql::built(store.dialect, head);
        let tuples: Vec<String> = chunk
            .iter()
            .map(|row| format!("({})", bind(&mut statement, row).join(", ")))
            .collect();
        statement.push(&tuples.join(", ")).push(tail);
        statement.execute(&mut *tx).await?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl MonitoringStore for SqlStore {
    async fn add_prediction_file(&self, file: &PredictionFile) -> Result<()> {
        sql!(
            "INSERT INTO prediction_files (deployment, path, row_count, first_at, last_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &file.deployment,
            &file.path,
            file.row_count,
            file.first_at,
            file.last_at,
            file.created_at
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn prediction_files(
        &self,
        deployment: &str,
        window: Window,
    ) -> Result<Vec<PredictionFile>> {
        let rows = sql!(
            "SELECT deployment, path, row_count, first_at, last_at, created_at FROM prediction_files \
             WHERE deployment = $1 AND last_at >= $2 AND first_at < $3 ORDER BY first_at, path",
            deployment,
            window.start,
            window.end
        )
        .query()
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(file_from_row).collect()
    }

    async fn put_labels(&self, deployment: &str, labels: &[Label]) -> Result<()> {
        insert_all(
            self,
            "INSERT INTO prediction_labels (deployment, request_id, row_index, label, labeled_at) VALUES ",
            " ON CONFLICT (deployment, request_id, row_index) \
              DO UPDATE SET label = excluded.label, labeled_at = excluded.labeled_at",
            labels,
            |statement, label| {
                vec![
                    statement.arg(deployment),
                    statement.arg(&label.request_id),
                    statement.arg(label.row),
                    statement.arg(&label.label),
                    statement.arg(label.labeled_at),
                ]
            },
        )
        .await
    }

    async fn labels(&self, deployment: &str, request_ids: &[String]) -> Result<Vec<Label>> {
        let mut labels = Vec::new();
        for chunk in request_ids.chunks(IN_LIST_CHUNK) {
            let mut query = Sql::built(
                self.dialect,
                "SELECT request_id, row_index, label, labeled_at FROM prediction_labels \
                 WHERE deployment = ",
            );
            let placeholder = query.arg(deployment);
            query.push(&placeholder).push(" AND request_id IN ");
            query.push_list(chunk);
            let rows = query
                .query()
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
            for row in &rows {
                labels.push(label_from_row(row)?);
            }
        }
        Ok(labels)
    }

    async fn put_reference(&self, r: &ReferenceRecord) -> Result<()> {
        sql!(
            "INSERT INTO reference_profiles (model, version, source, row_count, profile_path, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (model, version) DO UPDATE SET \
             source = excluded.source, row_count = excluded.row_count, \
             profile_path = excluded.profile_path, created_at = excluded.created_at",
            &r.model,
            r.version,
            &r.source,
            r.row_count,
            &r.profile_path,
            r.created_at
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn reference(&self, model: &str, version: i64) -> Result<ReferenceRecord> {
        let row = sql!(
            "SELECT model, version, source, row_count, profile_path, created_at \
             FROM reference_profiles WHERE model = $1 AND version = $2",
            model,
            version
        )
        .query()
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| {
            MonitoringError::NotFound(format!(
                "Model '{model}' version {version} has no reference profile"
            ))
        })?;
        reference_from_row(&row)
    }

    async fn put_results(&self, deployment: &str, points: &[MetricPoint]) -> Result<()> {
        insert_all(
            self,
            "INSERT INTO monitoring_results \
             (deployment, window_start, window_end, metric, column_name, value, evaluated_at) VALUES ",
            " ON CONFLICT (deployment, metric, column_name, window_start, window_end) \
              DO UPDATE SET value = excluded.value, evaluated_at = excluded.evaluated_at",
            points,
            |statement, point| {
                vec![
                    statement.arg(deployment),
                    statement.arg(point.window.start),
                    statement.arg(point.window.end),
                    statement.arg(&point.metric),
                    statement.arg(&point.column),
                    statement.arg(point.value),
                    statement.arg(point.evaluated_at),
                ]
            },
        )
        .await
    }

    async fn results(
        &self,
        deployment: &str,
        metric: Option<&str>,
        range: Window,
    ) -> Result<Vec<MetricPoint>> {
        let mut query = Sql::built(
            self.dialect,
            "SELECT window_start, window_end, metric, column_name, value, evaluated_at \
             FROM monitoring_results WHERE deployment = ",
        );
        let placeholder = query.arg(deployment);
        query.push(&placeholder).push(" AND window_end > ");
        let placeholder = query.arg(range.start);
        query.push(&placeholder).push(" AND window_end <= ");
        let placeholder = query.arg(range.end);
        query.push(&placeholder);
        if let Some(metric) = metric {
            let placeholder = query.arg(metric);
            query.push(" AND metric = ").push(&placeholder);
        }
        query.push(" ORDER BY window_start, metric, column_name");
        let rows = query
            .query()
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(point_from_row).collect()
    }

    async fn create_rule(&self, rule: &AlertRule) -> Result<()> {
        let s = &rule.spec;
        sql!(
            format!("INSERT INTO alert_rules ({RULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            &rule.id,
            &rule.deployment,
            &s.name,
            &s.metric,
            s.column.clone(),
            s.comparison.as_str(),
            s.threshold,
            &s.window,
            s.severity.as_str(),
            s.webhook_url.clone(),
            rule.created_at,
            s.retrain_job.as_ref().map(|job| job.to_string())
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn rules(&self, deployment: &str) -> Result<Vec<AlertRule>> {
        let rows = sql!(
            format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE deployment = $1 ORDER BY created_at, id"),
            deployment
        )
        .query()
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(rule_from_row).collect()
    }

    async fn delete_rule(&self, deployment: &str, id: &str) -> Result<()> {
        let statement = sql!(
            "DELETE FROM alert_rules WHERE deployment = $1 AND id = $2",
            deployment,
            id
        );
        change_one(self, statement, || {
            MonitoringError::NotFound(format!(
                "Deployment '{deployment}' has no alert rule '{id}'"
            ))
        })
        .await
    }

    async fn add_event(&self, e: &AlertEvent) -> Result<bool> {
        let inserted = sql!(
            format!(
                "INSERT INTO alert_events ({EVENT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ),
            &e.id,
            &e.rule_id,
            &e.deployment,
            &e.metric,
            &e.column,
            e.value,
            e.threshold,
            e.severity.as_str(),
            e.window.start,
            e.window.end,
            e.fired_at,
            e.delivery.as_str(),
            i64::from(e.attempts),
            e.retrain_job_id.clone()
        )
        .query()
        .execute(&self.writer)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(error) if is_unique_violation(&error) => Ok(false),
            Err(error) => Err(db_err(error).into()),
        }
    }

    async fn set_delivery(&self, event_id: &str, delivery: Delivery, attempts: u32) -> Result<()> {
        let statement = sql!(
            "UPDATE alert_events SET delivery = $1, attempts = $2 WHERE id = $3",
            delivery.as_str(),
            i64::from(attempts),
            event_id
        );
        change_one(self, statement, || {
            MonitoringError::NotFound(format!("No alert event '{event_id}'"))
        })
        .await
    }

    async fn set_retrain_job(&self, event_id: &str, job_id: &str) -> Result<()> {
        let statement = sql!(
            "UPDATE alert_events SET retrain_job_id = $1 WHERE id = $2",
            job_id,
            event_id
        );
        change_one(self, statement, || {
            MonitoringError::NotFound(format!("No alert event '{event_id}'"))
        })
        .await
    }

    async fn events(&self, deployment: &str, limit: u32) -> Result<Vec<AlertEvent>> {
        let rows = sql!(
            format!(
                "SELECT {EVENT_COLUMNS} FROM alert_events WHERE deployment = $1 \
                 ORDER BY fired_at DESC, id LIMIT $2"
            ),
            deployment,
            i64::from(limit)
        )
        .query()
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }
}
