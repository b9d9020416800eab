//! `ComputeStore` on SQL: configuration versions, jobs as JSON documents with indexed columns,
//! and their events. State changes are compare-and-set on (state, attempt).

use async_trait::async_trait;
use galley_compute::config::ComputeConfig;
use galley_compute::job::{Job, JobEvent, JobState};
use galley_compute::store::{JobFilter, StoredConfig};
use galley_compute::{ComputeError, ComputeStore};
use sqlx::any::AnyRow;

use crate::sql::{col, db_err, fetch_page, is_unique_violation, sql, Sql, VersionedDocuments};
use crate::SqlStore;

/// The versions of the queues configuration.
const CONFIGS: VersionedDocuments = VersionedDocuments("compute_configs");

type Result<T> = std::result::Result<T, ComputeError>;

fn corrupt(what: &str, error: impl std::fmt::Display) -> ComputeError {
    ComputeError::Store(galley_core::StoreFailure::Internal(format!(
        "unreadable compute row ({what}): {error}"
    )))
}

fn job_from_row(row: &AnyRow) -> Result<Job> {
    let document: String = col(row, "document")?;
    serde_json::from_str(&document).map_err(|e| corrupt("job", e))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| corrupt("encoding", e))
}

async fn append_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    events: &[JobEvent],
) -> Result<()> {
    for event in events {
        sql!(
            "INSERT INTO job_events (job_id, seq, at, kind, message) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM job_events WHERE job_id = $5",
            &event.job_id,
            event.at,
            &event.kind,
            &event.message,
            &event.job_id
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl ComputeStore for SqlStore {
    async fn config(&self) -> Result<Option<StoredConfig>> {
        let Some((version, document, applied_at)) = CONFIGS.latest(self).await? else {
            return Ok(None);
        };
        Ok(Some(StoredConfig {
            config: serde_json::from_str(&document).map_err(|e| corrupt("config", e))?,
            version,
            applied_at,
        }))
    }

    async fn put_config(
        &self,
        config: &ComputeConfig,
        expected_version: i64,
        applied_at: i64,
    ) -> Result<i64> {
        let version = expected_version + 1;
        if !CONFIGS
            .insert(self, version, to_json(config)?, applied_at)
            .await?
        {
            return Err(ComputeError::Conflict(
                "the queues configuration changed while this one was being applied; apply again"
                    .into(),
            ));
        }
        Ok(version)
    }

    async fn insert_job(&self, job: &Job, event: &JobEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let inserted = sql!(
            "INSERT INTO jobs (id, team, queue, state, attempt, submitted_at, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &job.id,
            &job.team,
            &job.queue,
            job.state.as_str(),
            i64::from(job.attempt),
            job.submitted_at,
            to_json(job)?
        )
        .query()
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(ComputeError::Conflict(format!(
                    "job {} already exists",
                    job.id
                )))
            }
            Err(e) => return Err(db_err(e).into()),
        }
        append_events(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn job(&self, id: &str) -> Result<Job> {
        let row = sql!("SELECT document FROM jobs WHERE id = $1", id)
            .query()
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .ok_or_else(|| ComputeError::NotFound(format!("job '{id}' does not exist")))?;
        job_from_row(&row)
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<(Vec<Job>, Option<String>)> {
        let offset = galley_core::page::decode(filter.page_token.as_deref())
            .map_err(|e| ComputeError::InvalidInput(e.to_string()))?;
        let mut query = Sql::built(self.dialect, "");
        let mut conditions = vec!["1 = 1".to_string()];
        if let Some(team) = &filter.team {
            conditions.push(format!("team = {}", query.arg(team)));
        }
        if let Some(queue) = &filter.queue {
            conditions.push(format!("queue = {}", query.arg(queue)));
        }
        if !filter.states.is_empty() {
            let states: Vec<String> = filter
                .states
                .iter()
                .map(|s| query.arg(s.as_str()))
                .collect();
            conditions.push(format!("state IN ({})", states.join(", ")));
        }
        let (jobs, next) = fetch_page(
            self,
            query,
            "SELECT document FROM jobs",
            &conditions,
            &["submitted_at DESC".into(), "id DESC".into()],
            (filter.max_results.max(1), offset),
            job_from_row,
        )
        .await?;
        Ok((jobs, next.map(galley_core::page::encode)))
    }

    async fn active_jobs(&self) -> Result<Vec<Job>> {
        let rows = sql!(
            "SELECT document FROM jobs WHERE state IN ($1, $2, $3) ORDER BY submitted_at, id",
            JobState::Pending.as_str(),
            JobState::Admitted.as_str(),
            JobState::Running.as_str()
        )
        .query()
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn update_job(
        &self,
        job: &Job,
        (state, attempt): (JobState, u32),
        events: &[JobEvent],
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let changed = sql!(
            "UPDATE jobs SET state = $1, attempt = $2, queue = $3, document = $4 \
             WHERE id = $5 AND state = $6 AND attempt = $7",
            job.state.as_str(),
            i64::from(job.attempt),
            &job.queue,
            to_json(job)?,
            &job.id,
            state.as_str(),
            i64::from(attempt)
        )
        .execute(&mut *tx)
        .await?;
        if changed == 0 {
            return Ok(false);
        }
        append_events(&mut tx, events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn job_events(&self, id: &str) -> Result<Vec<JobEvent>> {
        let rows = sql!(
            "SELECT job_id, at, kind, message FROM job_events WHERE job_id = $1 ORDER BY seq",
            id
        )
        .query()
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                Ok(JobEvent {
                    job_id: col(row, "job_id")?,
                    at: col(row, "at")?,
                    kind: col(row, "kind")?,
                    message: col(row, "message")?,
                })
            })
            .collect()
    }
}
