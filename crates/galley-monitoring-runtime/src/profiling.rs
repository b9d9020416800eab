//! Column profiles from tabular data: one streaming pass over a CSV or Parquet table, column by
//! column, so memory is bounded by one column's profile rather than the table.

use galley_monitoring::profile::{
    CategoricalAccumulator, CategoricalDtype, ColumnProfile, NumericAccumulator, NumericDtype,
};
use galley_monitoring::MonitoringError;
use galley_tables::{ColumnChunk, Table, TableError, ValueKind};

type Result<T> = std::result::Result<T, MonitoringError>;

pub fn table_error(error: TableError) -> MonitoringError {
    MonitoringError::InvalidInput(error.to_string())
}

/// Feeds one column's chunks into the accumulator its kind calls for.
pub enum Accumulator {
    Numeric(NumericAccumulator),
    Categorical(CategoricalAccumulator),
}

impl Accumulator {
    /// Numbers are profiled as numbers; text and booleans as categories, each with the dtype
    /// pandas would give the column (Evidently's typing depends on it).
    pub fn for_kind(kind: ValueKind) -> Accumulator {
        match kind {
            ValueKind::Integer => {
                Accumulator::Numeric(NumericAccumulator::with_dtype(NumericDtype::Int))
            }
            ValueKind::Float => {
                Accumulator::Numeric(NumericAccumulator::with_dtype(NumericDtype::Float))
            }
            ValueKind::Boolean => {
                Accumulator::Categorical(CategoricalAccumulator::with_dtype(CategoricalDtype::Bool))
            }
            ValueKind::Text | ValueKind::Other => Accumulator::Categorical(
                CategoricalAccumulator::with_dtype(CategoricalDtype::String),
            ),
        }
    }

    /// Adds the chunk's values whose `keep` flag is set (all of them when `keep` is `None`).
    pub fn add(&mut self, chunk: &ColumnChunk, keep: Option<&[bool]>) {
        let kept = |i: usize| keep.is_none_or(|k| k[i]);
        match (self, chunk) {
            (Accumulator::Numeric(acc), ColumnChunk::Numbers(values)) => {
                for (i, value) in values.iter().enumerate() {
                    if kept(i) {
                        match value {
                            Some(v) => acc.push(v),
                            None => acc.push_missing(),
                        }
                    }
                }
            }
            (Accumulator::Categorical(acc), ColumnChunk::Texts(values)) => {
                for (i, value) in values.iter().enumerate() {
                    if kept(i) {
                        match value {
                            Some(v) => acc.push(v),
                            None => acc.push_missing(),
                        }
                    }
                }
            }
            // A column read with another kind than it was created for: impossible by
            // construction (chunks are read with the column's kind).
            _ => {}
        }
    }

    pub fn finish(self) -> ColumnProfile {
        match self {
            Accumulator::Numeric(acc) => acc.finish(),
            Accumulator::Categorical(acc) => acc.finish(),
        }
    }
}

/// Profiles of the named columns of `table` (all profileable columns when `columns` is empty),
/// in table order, in one streaming pass: memory is bounded by the profiles, not the rows. Dates,
/// timestamps and nested columns are skipped: they are not features a drift test applies to.
pub fn profile_table(table: &Table, columns: &[String]) -> Result<Vec<(String, ColumnProfile)>> {
    let selected: Vec<usize> = if columns.is_empty() {
        (0..table.columns().len())
            .filter(|&i| table.columns()[i].kind != ValueKind::Other)
            .collect()
    } else {
        columns
            .iter()
            .map(|name| {
                table.column_index(name).ok_or_else(|| {
                    MonitoringError::InvalidInput(format!("no column named '{name}'"))
                })
            })
            .collect::<Result<_>>()?
    };
    let mut sorted = selected.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let mut accumulators: Vec<Accumulator> = sorted
        .iter()
        .map(|&i| Accumulator::for_kind(table.columns()[i].kind))
        .collect();
    // Batches hold the projected columns in table order, i.e. in `sorted` order.
    for batch in table.batches(&sorted).map_err(table_error)? {
        let batch = batch.map_err(table_error)?;
        for (position, &index) in sorted.iter().enumerate() {
            let info = &table.columns()[index];
            let chunk = ColumnChunk::read(&info.name, batch.column(position), info.kind)
                .map_err(table_error)?;
            accumulators[position].add(&chunk, None);
        }
    }
    let mut profiles: Vec<Option<ColumnProfile>> =
        accumulators.into_iter().map(|a| Some(a.finish())).collect();
    selected
        .iter()
        .map(|index| {
            let position = sorted
                .binary_search(index)
                .expect("selected columns are in sorted");
            let name = table.columns()[*index].name.clone();
            let profile = profiles[position].take().ok_or_else(|| {
                MonitoringError::InvalidInput(format!("column '{name}' is named twice"))
            })?;
            Ok((name, profile))
        })
        .collect()
}
