//! Writing batches (a training set, latest rows) as Parquet or CSV, streamed batch by batch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use galley_tables::Format;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::asof::Joined;
use crate::error::OfflineError;

/// Times are written in UTC with the `Z` RFC 3339 wants (a zoned column is the same instants;
/// arrow could only print named zones such as "UTC" with chrono-tz built in).
const NAIVE_TIMESTAMP: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Csv,
    Parquet,
}

impl OutputFormat {
    /// By extension: `.csv`, or `.parquet`/`.pq`.
    pub fn from_path(path: &Path) -> Result<Self, OfflineError> {
        Ok(match Format::from_path(path)? {
            Format::Csv => Self::Csv,
            Format::Parquet => Self::Parquet,
        })
    }
}

/// Writes the training set to `out`; answers the rows written.
pub fn write_output<W: Write + Send>(
    joined: Joined<'_>,
    format: OutputFormat,
    out: W,
) -> Result<u64, OfflineError> {
    let schema = joined.schema().clone();
    write_batches(&schema, joined, format, out)
}

/// Writes the training set to a new file at `path`, in the format its extension names.
pub fn write_output_file(joined: Joined<'_>, path: &Path) -> Result<u64, OfflineError> {
    let format = OutputFormat::from_path(path)?;
    let file = File::create(path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
    })?;
    write_output(joined, format, BufWriter::with_capacity(1 << 20, file))
}

/// Writes `batches` (all of `schema`) to `out`; an empty stream still writes the columns
/// (a CSV header, a Parquet schema).
pub fn write_batches<W: Write + Send>(
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch, OfflineError>>,
    format: OutputFormat,
    out: W,
) -> Result<u64, OfflineError> {
    let failed = |e: &dyn std::fmt::Display| OfflineError::Write(e.to_string());
    let mut rows = 0u64;
    match format {
        OutputFormat::Parquet => {
            let properties = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(properties))
                .map_err(|e| failed(&e))?;
            for batch in batches {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(|e| failed(&e))?;
            }
            let mut out = writer.into_inner().map_err(|e| failed(&e))?;
            out.flush()?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .with_timestamp_format(NAIVE_TIMESTAMP.to_string())
                .build(out);
            let mut wrote = false;
            let csv_schema = naive_times_schema(schema);
            for batch in batches {
                let batch = naive_times(&batch?, &csv_schema)?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(|e| failed(&e))?;
                wrote = true;
            }
            if !wrote {
                writer
                    .write(&RecordBatch::new_empty(csv_schema))
                    .map_err(|e| failed(&e))?;
            }
            writer.into_inner().flush()?;
        }
    }
    Ok(rows)
}

/// `schema` with every zoned timestamp column made naive (same instants, shown in UTC).
fn naive_times_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(unit, Some(_)) => f
                .as_ref()
                .clone()
                .with_data_type(DataType::Timestamp(*unit, None)),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn naive_times(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, OfflineError> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Timestamp(unit, Some(_)) => without_zone(column, *unit),
            _ => column.clone(),
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

fn without_zone(column: &ArrayRef, unit: TimeUnit) -> ArrayRef {
    match unit {
        TimeUnit::Second => Arc::new(
            column
                .as_primitive::<TimestampSecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
        TimeUnit::Millisecond => Arc::new(
            column
                .as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
        TimeUnit::Microsecond => Arc::new(
            column
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
        TimeUnit::Nanosecond => Arc::new(
            column
                .as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
    }
}
