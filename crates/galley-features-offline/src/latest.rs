//! The latest row per entity in a time window, for materialization: one pass over keys and
//! times finds each entity's winning row, a second streams the winners out in chunks.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, TimestampNanosecondArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::OfflineError;
use crate::keys::{key_kinds, KeyInterner};
use crate::source::{OfflineSource, SourceBatches};
use crate::times::{is_time, nanos, NULL_TIME};

/// Rows per batch of the answer: small enough for one online write each.
pub const LATEST_CHUNK_ROWS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestSpec {
    pub join_keys: Vec<String>,
    pub timestamp_column: String,
    pub created_column: Option<String>,
    /// `start_ns <= event time < end_ns`; an absent bound is open.
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
    pub features: Vec<String>,
}

impl LatestSpec {
    /// The answer's columns: join keys, the timestamp, the created timestamp, the features,
    /// each once.
    fn columns(&self) -> Vec<&String> {
        let mut columns: Vec<&String> = Vec::new();
        let all = self
            .join_keys
            .iter()
            .chain(std::iter::once(&self.timestamp_column))
            .chain(&self.created_column)
            .chain(&self.features);
        for column in all {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        columns
    }
}

/// For each entity (distinct join key values, none null) with a row in the window, its row
/// with the largest event time, then created time (a null created time is the earliest), then
/// position in the source. Batches hold the spec's columns under their names, the event and
/// created times as `Timestamp(ns, "UTC")`, at most [`LATEST_CHUNK_ROWS`] rows each, in source
/// order. Memory follows the number of distinct entities.
pub fn latest_per_entity(
    source: &OfflineSource,
    spec: &LatestSpec,
) -> Result<LatestRows, OfflineError> {
    let source_schema = source.schema();
    key_kinds(&source_schema, source.name(), &spec.join_keys)?;
    for column in std::iter::once(&spec.timestamp_column).chain(&spec.created_column) {
        let data_type = source_schema.field(source.column(column)?).data_type();
        if !is_time(data_type) {
            return Err(OfflineError::NotATime {
                table: source.name().to_string(),
                column: column.clone(),
                data_type: data_type.to_string(),
            });
        }
    }
    let columns = spec.columns();
    let output: Vec<usize> = columns
        .iter()
        .map(|c| source.column(c))
        .collect::<Result<_, _>>()?;
    let is_time_column: Vec<bool> = columns
        .iter()
        .map(|&c| c == &spec.timestamp_column || spec.created_column.as_ref() == Some(c))
        .collect();
    let utc = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let fields: Vec<Field> = output
        .iter()
        .zip(&is_time_column)
        .map(|(&i, &time)| {
            let field = source_schema.field(i);
            if time {
                Field::new(field.name(), utc.clone(), true)
            } else {
                field.clone()
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));

    let start = spec.start_ns.unwrap_or(i64::MIN);
    let end = spec.end_ns.unwrap_or(i64::MAX);
    let mut keys = KeyInterner::new();
    // Per key id: its best (event time, created time, row) so far.
    let mut best: Vec<(i64, i64, u64)> = Vec::new();
    let mut buf = Vec::new();
    source.scan_keys_and_times(
        &spec.join_keys,
        &spec.timestamp_column,
        spec.created_column.as_deref(),
        |batch_keys, row| {
            // A null time is NULL_TIME, below any start, and must not pass an open one.
            let outside = row.ts < start || (spec.end_ns.is_some() && row.ts >= end);
            if row.ts == NULL_TIME || outside || !batch_keys.encode(row.in_batch, &mut buf) {
                return Ok(());
            }
            let id = keys.intern(&buf) as usize;
            let candidate = (row.ts, row.created, row.position);
            if id == best.len() {
                best.push(candidate);
            } else if candidate > best[id] {
                best[id] = candidate;
            }
            Ok(())
        },
    )?;
    drop(keys);
    let mut rows: Vec<u64> = best.into_iter().map(|(_, _, row)| row).collect();
    rows.sort_unstable();

    Ok(LatestRows {
        schema,
        batches: source.batches(&output)?,
        is_time_column,
        rows,
        next: 0,
        row_offset: 0,
        pending: Vec::new(),
        pending_rows: 0,
    })
}

/// The winners, read back from a second pass over the source.
pub struct LatestRows {
    schema: SchemaRef,
    batches: SourceBatches,
    is_time_column: Vec<bool>,
    /// Winning row positions, ascending.
    rows: Vec<u64>,
    next: usize,
    row_offset: u64,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl LatestRows {
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// How many entities the answer holds (one row each).
    pub fn num_rows(&self) -> usize {
        self.rows.len()
    }

    /// The winners of the next source batch that has any, `None` at the end.
    fn read(&mut self) -> Option<Result<RecordBatch, OfflineError>> {
        while self.next < self.rows.len() {
            let batch = match self.batches.next()? {
                Ok(batch) => batch,
                Err(e) => return Some(Err(e)),
            };
            let offset = self.row_offset;
            let end = offset + batch.num_rows() as u64;
            self.row_offset = end;
            let first = self.next;
            while self.next < self.rows.len() && self.rows[self.next] < end {
                self.next += 1;
            }
            if self.next == first {
                continue;
            }
            let indices = UInt32Array::from_iter_values(
                self.rows[first..self.next]
                    .iter()
                    .map(|r| (r - offset) as u32),
            );
            return Some(self.winners(&batch, &indices));
        }
        None
    }

    fn winners(
        &self,
        batch: &RecordBatch,
        indices: &UInt32Array,
    ) -> Result<RecordBatch, OfflineError> {
        let mut times = Vec::new();
        let columns = batch
            .columns()
            .iter()
            .zip(&self.is_time_column)
            .map(|(column, &time)| {
                let taken = arrow_select::take::take(column, indices, None)?;
                if !time {
                    return Ok(taken);
                }
                nanos(taken.as_ref(), &mut times);
                let array: TimestampNanosecondArray = times
                    .iter()
                    .map(|&t| (t != NULL_TIME).then_some(t))
                    .collect();
                Ok(Arc::new(array.with_timezone("UTC")) as ArrayRef)
            })
            .collect::<Result<Vec<_>, OfflineError>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    /// Up to a chunk's rows of what is pending.
    fn emit(&mut self) -> Result<RecordBatch, OfflineError> {
        let all = arrow_select::concat::concat_batches(&self.schema, &self.pending)?;
        self.pending.clear();
        if all.num_rows() <= LATEST_CHUNK_ROWS {
            self.pending_rows = 0;
            return Ok(all);
        }
        let rest = all.slice(LATEST_CHUNK_ROWS, all.num_rows() - LATEST_CHUNK_ROWS);
        self.pending_rows = rest.num_rows();
        self.pending.push(rest);
        Ok(all.slice(0, LATEST_CHUNK_ROWS))
    }
}

impl Iterator for LatestRows {
    type Item = Result<RecordBatch, OfflineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pending_rows < LATEST_CHUNK_ROWS {
            match self.read() {
                Some(Ok(batch)) => {
                    self.pending_rows += batch.num_rows();
                    self.pending.push(batch);
                }
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        (self.pending_rows > 0).then(|| self.emit())
    }
}
