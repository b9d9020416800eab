//! `DeploymentStore` on SQL: one row per deployment, settings as columns.

use async_trait::async_trait;
use galley_serving::model::*;
use galley_serving::{DeploymentStore, ServingError};
use sqlx::any::AnyRow;

use crate::sql::{change_one, col, db_err, is_unique_violation, sql, Sql};
use crate::SqlStore;

type Result<T> = std::result::Result<T, ServingError>;

const COLUMNS: &str = "name, model, selector_kind, selector_value, version, previous_version, \
     max_batch_size, max_batch_delay_ms, max_queue, min_replicas, max_replicas, canary_version, \
     canary_percent, shadow_version, shadow_percent, log_sample_rate, created_at, updated_at";

fn not_found(name: &str) -> ServingError {
    ServingError::NotFound(format!("Deployment '{name}' not found"))
}

fn corrupt(what: &str) -> ServingError {
    ServingError::Store(galley_core::StoreFailure::Internal(format!(
        "unreadable deployment row: {what}"
    )))
}

fn u32_col(row: &AnyRow, column: &str) -> Result<u32> {
    u32::try_from(col::<i64>(row, column)?).map_err(|_| corrupt(column))
}

fn share(row: &AnyRow, prefix: &str) -> Result<Option<TrafficShare>> {
    let version: Option<i64> = col(row, &format!("{prefix}_version"))?;
    let percent: Option<i64> = col(row, &format!("{prefix}_percent"))?;
    Ok(match (version, percent) {
        (Some(version), Some(percent)) => Some(TrafficShare {
            version,
            percent: u8::try_from(percent).map_err(|_| corrupt(prefix))?,
        }),
        _ => None,
    })
}

fn from_row(row: &AnyRow) -> Result<Deployment> {
    let kind: String = col(row, "selector_kind")?;
    let value: String = col(row, "selector_value")?;
    let selector = match kind.as_str() {
        "version" => VersionSelector::Version(value.parse().map_err(|_| corrupt("selector"))?),
        "alias" => VersionSelector::Alias(value),
        _ => return Err(corrupt("selector_kind")),
    };
    Ok(Deployment {
        name: col(row, "name")?,
        model: col(row, "model")?,
        selector,
        version: col(row, "version")?,
        previous_version: col(row, "previous_version")?,
        batch: BatchSettings {
            max_batch_size: u32_col(row, "max_batch_size")?,
            max_batch_delay_ms: u32_col(row, "max_batch_delay_ms")?,
            max_queue: u32_col(row, "max_queue")?,
        },
        scale: ScaleSettings {
            min_replicas: u32_col(row, "min_replicas")?,
            max_replicas: u32_col(row, "max_replicas")?,
        },
        canary: share(row, "canary")?,
        shadow: share(row, "shadow")?,
        log_sample_rate: col(row, "log_sample_rate")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

/// Binds every column but `name`, in `COLUMNS` order, after `name` was bound as `$1`.
fn bind_settings(sql: &mut Sql, d: &Deployment) {
    let (kind, value) = match &d.selector {
        VersionSelector::Version(v) => ("version", v.to_string()),
        VersionSelector::Alias(a) => ("alias", a.clone()),
    };
    sql.arg(&d.model);
    sql.arg(kind);
    sql.arg(value);
    sql.arg(d.version);
    sql.arg(d.previous_version);
    for setting in [
        d.batch.max_batch_size,
        d.batch.max_batch_delay_ms,
        d.batch.max_queue,
        d.scale.min_replicas,
        d.scale.max_replicas,
    ] {
        sql.arg(i64::from(setting));
    }
    for share in [d.canary, d.shadow] {
        sql.arg(share.map(|s| s.version));
        sql.arg(share.map(|s| i64::from(s.percent)));
    }
    sql.arg(d.log_sample_rate);
    sql.arg(d.created_at);
    sql.arg(d.updated_at);
}

#[async_trait]
impl DeploymentStore for SqlStore {
    async fn create_deployment(&self, d: &Deployment) -> Result<()> {
        let placeholders: Vec<String> = (1..=COLUMNS.split(", ").count())
            .map(|i| format!("${i}"))
            .collect();
        let mut query = sql!(
            format!(
                "INSERT INTO deployments ({COLUMNS}) VALUES ({})",
                placeholders.join(", ")
            ),
            &d.name
        );
        bind_settings(&mut query, d);
        query.query().execute(&self.writer).await.map_err(|e| {
            if is_unique_violation(&e) {
                ServingError::AlreadyExists(format!("Deployment '{}' already exists", d.name))
            } else {
                db_err(e).into()
            }
        })?;
        Ok(())
    }

    async fn get_deployment(&self, name: &str) -> Result<Deployment> {
        let row = sql!(
            format!("SELECT {COLUMNS} FROM deployments WHERE name = $1"),
            name
        )
        .query()
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| not_found(name))?;
        from_row(&row)
    }

    async fn list_deployments(&self) -> Result<Vec<Deployment>> {
        let rows = sql!(format!("SELECT {COLUMNS} FROM deployments ORDER BY name"))
            .query()
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(from_row).collect()
    }

    async fn update_deployment(&self, d: &Deployment) -> Result<()> {
        let assignments: Vec<String> = COLUMNS
            .split(", ")
            .skip(1)
            .enumerate()
            .map(|(i, column)| format!("{column} = ${}", i + 2))
            .collect();
        let mut query = sql!(
            format!(
                "UPDATE deployments SET {} WHERE name = $1",
                assignments.join(", ")
            ),
            &d.name
        );
        bind_settings(&mut query, d);
        change_one(self, query, || not_found(&d.name)).await
    }

    async fn delete_deployment(&self, name: &str) -> Result<()> {
        let statement = sql!("DELETE FROM deployments WHERE name = $1", name);
        change_one(self, statement, || not_found(name)).await
    }
}
