//! What monitoring persists: where logged predictions are, ground-truth labels, reference
//! profiles of model versions, and evaluation results over time windows.

use serde::{Deserialize, Serialize};

/// One Parquet file of logged predictions in the artifact store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictionFile {
    pub deployment: String,
    /// The artifact-store key.
    pub path: String,
    pub row_count: i64,
    /// Arrival time (ms) of the earliest and latest request in the file.
    pub first_at: i64,
    pub last_at: i64,
    pub created_at: i64,
}

/// The ground truth for one row of an answered request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub request_id: String,
    /// The row within the request (0 for single-row requests).
    pub row: i64,
    /// The true value as text: a class name or number, or a number for regressors.
    pub label: String,
    pub labeled_at: i64,
}

/// A model version's reference profile, stored as a document in the artifact store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceRecord {
    pub model: String,
    pub version: i64,
    /// Where the reference data came from (an artifact path or an upload's name).
    pub source: String,
    pub row_count: i64,
    pub profile_path: String,
    pub created_at: i64,
}

/// A half-open time range `[start, end)` in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    pub fn contains(&self, at: i64) -> bool {
        self.start <= at && at < self.end
    }

    /// The window of `length_ms` that ends at `end`.
    pub fn ending_at(end: i64, length_ms: i64) -> Window {
        Window {
            start: end.saturating_sub(length_ms),
            end,
        }
    }
}

/// One evaluated number: a metric of a column (or of the dataset, `column` empty) in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub window: Window,
    pub metric: String,
    pub column: String,
    pub value: f64,
    pub evaluated_at: i64,
}
