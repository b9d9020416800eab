//! The online store port: the latest row per entity and feature view, and the rule that decides
//! which of two rows for the same entity is kept. galley-online implements it (embedded and
//! Redis) and its conformance suite holds every backend to this contract.

use async_trait::async_trait;

use crate::value::{EntityKey, Value};

/// One entity's row of one feature view, as stored online: every feature of the view in the
/// view's schema order, with the row's event time and (optionally) when it was created.
/// Timestamps are nanoseconds since the Unix epoch, UTC.
#[derive(Clone, Debug, PartialEq)]
pub struct OnlineRow {
    pub event_ts: i64,
    pub created_ts: Option<i64>,
    /// `(feature name, value)` pairs.
    pub values: Vec<(String, Value)>,
}

impl OnlineRow {
    /// Whether this row replaces `stored`: a later event time wins; at the same event time the
    /// later created time wins (a correction), a row without a created time counting as the
    /// earliest; a row equal on both wins too, so the last write of identical times is kept.
    pub fn supersedes(&self, stored: &OnlineRow) -> bool {
        (self.event_ts, self.created_ts) >= (stored.event_ts, stored.created_ts)
    }
}

/// What a write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Rows stored (new entities, or rows that superseded the stored one).
    pub written: u64,
    /// Rows ignored because the stored row supersedes them.
    pub stale: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OnlineStoreError {
    /// May succeed on retry: the store is unreachable or busy.
    #[error("online store unavailable: {0}")]
    Unavailable(String),
    #[error("online store error: {0}")]
    Internal(String),
}

/// Where materialized and pushed rows live for low-latency reads.
///
/// Contract: `write` is atomic per row (a reader sees a whole old row or a whole new one) and
/// keeps a row only if it [supersedes](OnlineRow::supersedes) the stored one, also when
/// several writers race; a row in one `rows` batch that repeats an entity is compared with the
/// one before it in the same batch. A write that returned `Ok` survives a restart of the
/// store (for the embedded store, a crash of the process).
#[async_trait]
pub trait OnlineStore: Send + Sync + 'static {
    async fn write(
        &self,
        view: &str,
        rows: Vec<(EntityKey, OnlineRow)>,
    ) -> Result<WriteCounts, OnlineStoreError>;

    /// The stored row for each key, in the order asked for; `None` where there is none.
    async fn read(
        &self,
        view: &str,
        keys: &[EntityKey],
    ) -> Result<Vec<Option<OnlineRow>>, OnlineStoreError>;

    /// Removes every row of `view` (the view was deleted or stopped being online).
    async fn delete_view(&self, view: &str) -> Result<(), OnlineStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(event_ts: i64, created_ts: Option<i64>) -> OnlineRow {
        OnlineRow {
            event_ts,
            created_ts,
            values: Vec::new(),
        }
    }

    #[test]
    fn later_event_wins_then_later_created_then_the_last_write() {
        assert!(row(2, None).supersedes(&row(1, Some(9))));
        assert!(!row(1, Some(9)).supersedes(&row(2, None)));
        assert!(row(1, Some(3)).supersedes(&row(1, Some(2))));
        assert!(!row(1, Some(2)).supersedes(&row(1, Some(3))));
        assert!(row(1, Some(0)).supersedes(&row(1, None)));
        assert!(!row(1, None).supersedes(&row(1, Some(0))));
        assert!(row(1, None).supersedes(&row(1, None)));
    }
}
