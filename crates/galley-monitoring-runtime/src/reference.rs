//! Reference profiles: a model version's training data profiled once (features, and optionally
//! the target and the model's predictions on it) and stored as one JSON document.

use galley_monitoring::profile::{ColumnProfile, ColumnValues};
use galley_monitoring::MonitoringError;
use galley_tables::Table;
use serde::{Deserialize, Serialize};

use crate::profiling::profile_table;

type Result<T> = std::result::Result<T, MonitoringError>;

/// Above this many distinct integer values a numeric target is a quantity, not a class.
const MAX_CLASSES: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Classification,
    Regression,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedProfile {
    pub name: String,
    pub profile: ColumnProfile,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceProfile {
    pub rows: u64,
    /// The model's inputs, in the order the model takes them.
    pub features: Vec<NamedProfile>,
    pub target: Option<NamedProfile>,
    /// The model's predictions on the reference data, for prediction drift.
    pub prediction: Option<NamedProfile>,
    /// From the target (or given): decides which performance metrics apply.
    pub task: Option<Task>,
}

/// Which reference columns are not features.
#[derive(Debug, Clone, Default)]
pub struct ReferenceColumns {
    pub target: Option<String>,
    pub prediction: Option<String>,
    pub task: Option<Task>,
}

/// Profiles every column of `table`; `columns` says which are the target and the prediction.
pub fn build_reference(table: &Table, columns: &ReferenceColumns) -> Result<ReferenceProfile> {
    let mut profiles = profile_table(table, &[])?;
    let mut take = |name: &Option<String>| -> Result<Option<NamedProfile>> {
        let Some(name) = name else { return Ok(None) };
        let position = profiles
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| {
                MonitoringError::InvalidInput(format!("the reference data has no column '{name}'"))
            })?;
        let (name, profile) = profiles.remove(position);
        Ok(Some(NamedProfile { name, profile }))
    };
    let target = take(&columns.target)?;
    let prediction = take(&columns.prediction)?;
    if profiles.is_empty() {
        return Err(MonitoringError::InvalidInput(
            "the reference data has no feature columns".to_owned(),
        ));
    }
    let rows = profiles[0].1.count() + profiles[0].1.missing;
    let task = columns
        .task
        .or_else(|| target.as_ref().map(|t| task_of(&t.profile)));
    Ok(ReferenceProfile {
        rows,
        features: profiles
            .into_iter()
            .map(|(name, profile)| NamedProfile { name, profile })
            .collect(),
        target,
        prediction,
        task,
    })
}

/// Text targets are classes; numeric targets are classes when they hold few distinct integers.
fn task_of(target: &ColumnProfile) -> Task {
    match &target.values {
        ColumnValues::Categorical(_) => Task::Classification,
        ColumnValues::Numeric(numbers) => {
            let integral = numbers.is_exact()
                && numbers.values().len() <= MAX_CLASSES
                && numbers.values().iter().all(|v| v.fract() == 0.0);
            if integral {
                Task::Classification
            } else {
                Task::Regression
            }
        }
    }
}
