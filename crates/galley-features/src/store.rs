//! The port the feature registry persists through; galley-store implements it and its
//! conformance suite holds every backend to the same behaviour.
//!
//! Contract: each method is atomic. Definitions are versioned as a whole and replaced by
//! compare-and-set on the version, so two concurrent applies cannot both win.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::definitions::Definitions;
use crate::error::Result;
use crate::stats::FeatureStatistics;

/// The applied definitions and their version; versions count up from 1 with each apply.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDefinitions {
    pub definitions: Definitions,
    pub version: i64,
    pub applied_at: i64,
}

/// One finished materialization of one feature view. Times in nanoseconds since the epoch
/// except `finished_at` (milliseconds, like every other record's wall-clock time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Materialization {
    pub view: String,
    /// The window read: `start <= event time < end`; no start reads from the beginning.
    pub start: Option<i64>,
    pub end: i64,
    /// Entities written to the online store.
    pub rows: u64,
    /// The newest event time among the rows written, if any.
    pub newest_event: Option<i64>,
    pub finished_at: i64,
    /// Statistics of the rows written, one per feature.
    pub statistics: Vec<FeatureStatistics>,
}

#[async_trait]
pub trait FeatureRegistryStore: Send + Sync + 'static {
    /// The last applied definitions; `None` before the first apply.
    async fn definitions(&self) -> Result<Option<StoredDefinitions>>;
    /// Stores `definitions` as version `expected_version + 1`; `FeatureError::Conflict` when
    /// another apply got there first.
    async fn put_definitions(
        &self,
        definitions: &Definitions,
        expected_version: i64,
        applied_at: i64,
    ) -> Result<i64>;
    async fn record_materialization(&self, materialization: &Materialization) -> Result<()>;
    /// A view's materializations, newest first (by end, then by finish time).
    async fn materializations(&self, view: &str, limit: u32) -> Result<Vec<Materialization>>;
}
