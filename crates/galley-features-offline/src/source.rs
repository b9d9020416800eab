//! A source as one logical table: a CSV or Parquet file, or a folder of them (a partitioned
//! dataset, subfolders included) read in file-name order, all with the same columns.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use galley_tables::{Format, Table};

use crate::error::OfflineError;
use crate::keys::BatchKeys;
use crate::times::{nanos, NULL_TIME};

/// One row of a key-and-time scan.
#[derive(Clone, Copy)]
pub(crate) struct ScannedRow {
    /// Its index in the batch its keys came with.
    pub(crate) in_batch: usize,
    /// Its position in the source, counted across files.
    pub(crate) position: u64,
    /// Event and created times in nanoseconds; `NULL_TIME` where null (or no created column).
    pub(crate) ts: i64,
    pub(crate) created: i64,
}

/// One or more tables read one after the other; row positions count across all of them.
pub struct OfflineSource {
    name: String,
    tables: Vec<Table>,
    schema: SchemaRef,
}

impl OfflineSource {
    /// Opens a `.csv`/`.parquet` file, or every such file under a folder, sorted by their
    /// paths relative to it. Names starting with `.` or `_` (`_SUCCESS`, `.crc` files, Spark's
    /// `_temporary`) are skipped, as Spark and pyarrow skip them.
    pub fn open(path: &Path) -> Result<Self, OfflineError> {
        let name = path.display().to_string();
        if !path.is_dir() {
            return Ok(Self::single(name, Table::open(path)?));
        }
        let mut files = Vec::new();
        list(path, &mut files)?;
        files.sort();
        let Some(first_path) = files.first().cloned() else {
            return Err(OfflineError::EmptyFolder {
                path: path.to_path_buf(),
            });
        };
        let first = Table::open(&first_path)?;
        let schema = first.schema().clone();
        let mut tables = vec![first];
        for file in &files[1..] {
            let table = Table::open(file)?;
            if let Some(detail) = difference(&schema, table.schema()) {
                return Err(OfflineError::SchemaMismatch {
                    path: file.clone(),
                    first: first_path,
                    detail,
                });
            }
            tables.push(table);
        }
        Ok(Self {
            name,
            tables,
            schema,
        })
    }

    /// A table already open (an uploaded file), under the name errors will call it by.
    pub fn single(name: impl Into<String>, table: Table) -> Self {
        let schema = table.schema().clone();
        Self {
            name: name.into(),
            tables: vec![table],
            schema,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// How many files the source reads.
    pub fn files(&self) -> usize {
        self.tables.len()
    }

    /// The index of `column`, or the error naming it and this source.
    pub(crate) fn column(&self, column: &str) -> Result<usize, OfflineError> {
        self.schema
            .index_of(column)
            .map_err(|_| OfflineError::MissingColumn {
                table: self.name.clone(),
                column: column.to_string(),
            })
    }

    /// Streams `columns` (by index, in the order asked for) from every file in turn.
    pub(crate) fn batches(&self, columns: &[usize]) -> Result<SourceBatches, OfflineError> {
        let streams = self
            .tables
            .iter()
            .map(|table| table.batches(columns))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(
            streams
                .into_iter()
                .flatten()
                .map(|batch| batch.map_err(OfflineError::from)),
        ))
    }
}

/// Owns its readers, so it outlives the borrow of the source it came from.
impl OfflineSource {
    /// Streams the join keys and times of every row, the first pass of both a join and
    /// latest-per-entity, handing each row with its batch's keys to `visit`.
    pub(crate) fn scan_keys_and_times(
        &self,
        join_keys: &[String],
        timestamp_column: &str,
        created_column: Option<&str>,
        mut visit: impl FnMut(&BatchKeys, ScannedRow) -> Result<(), OfflineError>,
    ) -> Result<(), OfflineError> {
        let mut wanted: Vec<usize> = join_keys
            .iter()
            .map(|k| self.column(k))
            .collect::<Result<_, _>>()?;
        let key_count = wanted.len();
        wanted.push(self.column(timestamp_column)?);
        if let Some(created) = created_column {
            wanted.push(self.column(created)?);
        }
        let (mut ts, mut created) = (Vec::new(), Vec::new());
        let mut position = 0u64;
        for batch in self.batches(&wanted)? {
            let batch = batch?;
            let batch_keys = BatchKeys::new(&batch.columns()[..key_count])?;
            nanos(batch.column(key_count).as_ref(), &mut ts);
            match created_column {
                Some(_) => nanos(batch.column(key_count + 1).as_ref(), &mut created),
                None => {
                    created.clear();
                    created.resize(batch.num_rows(), NULL_TIME);
                }
            }
            for (in_batch, (&ts, &created)) in ts.iter().zip(&created).enumerate() {
                let row = ScannedRow {
                    in_batch,
                    position: position + in_batch as u64,
                    ts,
                    created,
                };
                visit(&batch_keys, row)?;
            }
            position += batch.num_rows() as u64;
        }
        Ok(())
    }
}

pub(crate) type SourceBatches = Box<dyn Iterator<Item = Result<RecordBatch, OfflineError>> + Send>;

fn list(folder: &Path, files: &mut Vec<PathBuf>) -> Result<(), OfflineError> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.') || n.starts_with('_'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            list(&path, files)?;
        } else if Format::from_path(&path).is_ok() {
            files.push(path);
        }
    }
    Ok(())
}

/// What differs between two files' columns (names and types; nullability may differ, since
/// writers mark a column nullable or not by whether that file happened to hold a null).
fn difference(first: &SchemaRef, other: &SchemaRef) -> Option<String> {
    let names = |s: &SchemaRef| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect()
    };
    let (a, b) = (names(first), names(other));
    (a != b).then(|| format!("[{}] instead of [{}]", b.join(", "), a.join(", ")))
}
