//! `LeaseStore` on SQL: one upsert that only takes a lease that is free, expired or already ours.

use async_trait::async_trait;
use galley_core::{LeaseStore, StoreFailure};

use crate::sql::sql;
use crate::SqlStore;

#[async_trait]
impl LeaseStore for SqlStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreFailure> {
        let changed = sql!(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
            name,
            holder,
            until,
            now
        )
        .execute(&self.writer)
        .await?;
        Ok(changed == 1)
    }
}
