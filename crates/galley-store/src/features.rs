//! `FeatureRegistryStore` on SQL: definitions versions and materialization records, each kept
//! as a JSON document beside the columns lookups use.

use async_trait::async_trait;
use galley_features::definitions::Definitions;
use galley_features::store::{Materialization, StoredDefinitions};
use galley_features::{FeatureError, FeatureRegistryStore};

use crate::sql::{col, db_err, sql, VersionedDocuments};
use crate::SqlStore;

/// The versions of the feature definitions.
const DEFINITIONS: VersionedDocuments = VersionedDocuments("feature_definitions");

type Result<T> = std::result::Result<T, FeatureError>;

fn corrupt(what: &str, error: impl std::fmt::Display) -> FeatureError {
    FeatureError::Store(galley_core::StoreFailure::Internal(format!(
        "unreadable feature store row ({what}): {error}"
    )))
}

#[async_trait]
impl FeatureRegistryStore for SqlStore {
    async fn definitions(&self) -> Result<Option<StoredDefinitions>> {
        let Some((version, document, applied_at)) = DEFINITIONS.latest(self).await? else {
            return Ok(None);
        };
        Ok(Some(StoredDefinitions {
            definitions: serde_json::from_str(&document).map_err(|e| corrupt("definitions", e))?,
            version,
            applied_at,
        }))
    }

    async fn put_definitions(
        &self,
        definitions: &Definitions,
        expected_version: i64,
        applied_at: i64,
    ) -> Result<i64> {
        let version = expected_version + 1;
        let document = serde_json::to_string(definitions).map_err(|e| corrupt("encoding", e))?;
        if !DEFINITIONS
            .insert(self, version, document, applied_at)
            .await?
        {
            return Err(FeatureError::Conflict(
                "the feature definitions changed while these were being applied; apply again"
                    .into(),
            ));
        }
        Ok(version)
    }

    async fn record_materialization(&self, materialization: &Materialization) -> Result<()> {
        let document =
            serde_json::to_string(materialization).map_err(|e| corrupt("encoding", e))?;
        sql!(
            "INSERT INTO feature_materializations (view_name, end_ns, finished_at, document) \
             VALUES ($1, $2, $3, $4)",
            &materialization.view,
            materialization.end,
            materialization.finished_at,
            document
        )
        .query()
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn materializations(&self, view: &str, limit: u32) -> Result<Vec<Materialization>> {
        let rows = sql!(
            "SELECT document FROM feature_materializations WHERE view_name = $1 \
             ORDER BY end_ns DESC, finished_at DESC LIMIT $2",
            view,
            i64::from(limit)
        )
        .query()
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let document: String = col(row, "document")?;
                serde_json::from_str(&document).map_err(|e| corrupt("materialization", e))
            })
            .collect()
    }
}
