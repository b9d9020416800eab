//! Drift between two files on disk, with no server: `galley monitor drift`.

use std::path::Path;

use galley_monitoring::drift::{self, DatasetDrift, DriftOptions};
use galley_monitoring::profile::ColumnProfile;
use galley_monitoring::MonitoringError;
use galley_tables::Table;

use crate::profiling::{profile_table, profiled_columns, table_error};
use crate::service::ColumnComparison;

type Result<T> = std::result::Result<T, MonitoringError>;

pub struct OfflineDrift {
    pub drift: DatasetDrift,
    pub comparisons: Vec<ColumnComparison>,
}

/// Compares `columns` (every column of the reference when empty) of two CSV or Parquet files.
/// Both files must have them: a column missing from the current data is a schema mismatch.
pub fn drift_between_files(
    reference: &Path,
    current: &Path,
    columns: &[String],
    options: &DriftOptions,
) -> Result<OfflineDrift> {
    let reference_table = Table::open(reference).map_err(table_error)?;
    let current_table = Table::open(current).map_err(table_error)?;
    let names = profiled_columns(&reference_table, columns)?;
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| current_table.column_index(n).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(MonitoringError::InvalidInput(format!(
            "the current data lacks the reference's column(s): {}",
            missing.join(", ")
        )));
    }
    // The two files are read and profiled at the same time, one thread each.
    let (reference_profiles, current_profiles) = std::thread::scope(|scope| {
        let reference = scope.spawn(|| profile_table(&reference_table, &names));
        let current = profile_table(&current_table, &names);
        let reference = reference
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (reference, current)
    });
    let (reference_profiles, current_profiles) = (reference_profiles?, current_profiles?);
    let comparisons: Vec<ColumnComparison> = reference_profiles
        .into_iter()
        .zip(current_profiles)
        .map(|((column, reference), (_, current))| ColumnComparison {
            column,
            reference,
            current,
        })
        .collect();
    let pairs: Vec<(&str, &ColumnProfile, &ColumnProfile)> = comparisons
        .iter()
        .map(|c| (c.column.as_str(), &c.reference, &c.current))
        .collect();
    let drift = drift::evaluate(&pairs, options)
        .map_err(|e| MonitoringError::InvalidInput(e.to_string()))?;
    Ok(OfflineDrift { drift, comparisons })
}
