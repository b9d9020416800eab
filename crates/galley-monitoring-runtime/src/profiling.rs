//! Column profiles from tabular data, streamed: Parquet column by column on every core, CSV in
//! one pass, so memory is bounded by the profiles rather than the rows.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use galley_monitoring::profile::{
    CategoricalAccumulator, CategoricalDtype, ColumnProfile, NumericAccumulator, NumericDtype,
};
use galley_monitoring::MonitoringError;
use galley_tables::{ColumnChunk, Format, Table, TableError, ValueKind};

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

/// The names of the columns [`profile_table`] profiles for `columns`.
pub fn profiled_columns(table: &Table, columns: &[String]) -> Result<Vec<String>> {
    Ok(selected_columns(table, columns)?
        .into_iter()
        .map(|i| table.columns()[i].name.clone())
        .collect())
}

/// Indexes of the named columns, or of every profileable column when none are named.
fn selected_columns(table: &Table, columns: &[String]) -> Result<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..table.columns().len())
            .filter(|&i| table.columns()[i].kind != ValueKind::Other)
            .collect());
    }
    let mut selected = Vec::with_capacity(columns.len());
    for name in columns {
        let index = table
            .column_index(name)
            .ok_or_else(|| MonitoringError::InvalidInput(format!("no column named '{name}'")))?;
        if selected.contains(&index) {
            return Err(MonitoringError::InvalidInput(format!(
                "column '{name}' is named twice"
            )));
        }
        selected.push(index);
    }
    Ok(selected)
}

/// Profiles of the named columns of `table` (all profileable columns when `columns` is empty),
/// in table order. Dates, timestamps and nested columns are skipped: they are not features a drift
/// test applies to. Parquet is read column by column on every core, so memory holds a few column
/// profiles at a time whatever the table's width; CSV, which cannot be read by column, in one
/// pass over all of them. Either way memory does not grow with the rows.
pub fn profile_table(table: &Table, columns: &[String]) -> Result<Vec<(String, ColumnProfile)>> {
    let selected = selected_columns(table, columns)?;
    let profiles = match table.format() {
        Format::Parquet => profile_by_column(table, &selected)?,
        Format::Csv => profile_in_one_pass(table, &selected)?,
    };
    Ok(selected
        .iter()
        .map(|&i| table.columns()[i].name.clone())
        .zip(profiles)
        .collect())
}

fn profile_column(table: &Table, index: usize) -> Result<ColumnProfile> {
    let info = &table.columns()[index];
    let mut accumulator = Accumulator::for_kind(info.kind);
    for batch in table.batches(&[index]).map_err(table_error)? {
        let batch = batch.map_err(table_error)?;
        let chunk =
            ColumnChunk::read(&info.name, batch.column(0), info.kind).map_err(table_error)?;
        accumulator.add(&chunk, None);
    }
    Ok(accumulator.finish())
}

/// One column per task, as many tasks at a time as there are cores.
fn profile_by_column(table: &Table, selected: &[usize]) -> Result<Vec<ColumnProfile>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(selected.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<ColumnProfile>>>> =
        selected.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let task = next.fetch_add(1, Ordering::Relaxed);
                let Some(&index) = selected.get(task) else {
                    return;
                };
                let profile = profile_column(table, index);
                *results[task].lock().unwrap_or_else(|e| e.into_inner()) = Some(profile);
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every task ran")
        })
        .collect()
}

fn profile_in_one_pass(table: &Table, selected: &[usize]) -> Result<Vec<ColumnProfile>> {
    let mut accumulators: Vec<Accumulator> = selected
        .iter()
        .map(|&i| Accumulator::for_kind(table.columns()[i].kind))
        .collect();
    for batch in table.batches(selected).map_err(table_error)? {
        let batch = batch.map_err(table_error)?;
        for (position, &index) in selected.iter().enumerate() {
            let info = &table.columns()[index];
            let chunk = ColumnChunk::read(&info.name, batch.column(position), info.kind)
                .map_err(table_error)?;
            accumulators[position].add(&chunk, None);
        }
    }
    Ok(accumulators.into_iter().map(Accumulator::finish).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use galley_tables::arrow_array::{Float64Array, Int64Array, StringArray};
    use galley_tables::{parquet_bytes, DataType, Field, RecordBatch, Schema};

    use super::*;

    #[test]
    fn parquet_by_column_and_csv_in_one_pass_give_the_same_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from("n,x,city\n");
        let (mut ns, mut xs, mut cities) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..20_000i64 {
            let x = (i as f64 * 0.37).sin();
            let city = ["paris", "lyon", "nice"][(i % 3) as usize];
            csv.push_str(&format!("{},{x},{city}\n", i % 7));
            ns.push(i % 7);
            xs.push(x);
            cities.push(city);
        }
        std::fs::write(dir.path().join("data.csv"), csv).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("x", DataType::Float64, false),
            Field::new("city", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ns)),
                Arc::new(Float64Array::from(xs)),
                Arc::new(StringArray::from(cities)),
            ],
        )
        .unwrap();
        let parquet = dir.path().join("data.parquet");
        std::fs::write(&parquet, parquet_bytes(&[batch]).unwrap()).unwrap();

        let from_csv =
            profile_table(&Table::open(&dir.path().join("data.csv")).unwrap(), &[]).unwrap();
        let from_parquet = profile_table(&Table::open(&parquet).unwrap(), &[]).unwrap();
        assert_eq!(from_csv.len(), 3);
        for ((csv_name, csv_profile), (parquet_name, parquet_profile)) in
            from_csv.iter().zip(&from_parquet)
        {
            assert_eq!(csv_name, parquet_name);
            assert_eq!(csv_profile.count(), parquet_profile.count(), "{csv_name}");
            assert_eq!(
                csv_profile.n_unique(),
                parquet_profile.n_unique(),
                "{csv_name}"
            );
            assert_eq!(
                csv_profile.values.kind(),
                parquet_profile.values.kind(),
                "{csv_name}"
            );
        }
        let picked = profile_table(
            &Table::open(&parquet).unwrap(),
            &["city".into(), "n".into()],
        )
        .unwrap();
        assert_eq!(
            picked.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["city", "n"]
        );
        assert!(profile_table(&Table::open(&parquet).unwrap(), &["nope".into()]).is_err());
    }
}
