//! Leases: which server replica runs a background loop. Replicas are stateless, so a loop that
//! must run once per deployment of Galley (scheduled evaluations, and later the job scheduler and
//! feature materialization) takes a named lease in the metadata store and renews it each round.

use async_trait::async_trait;

use crate::StoreFailure;

#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Takes or renews the lease `name` for `holder` until `until` (ms since the epoch). Succeeds
    /// when the lease is free, expired at `now`, or already `holder`'s; atomic, so two replicas
    /// racing for a free lease cannot both win.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreFailure>;
}
