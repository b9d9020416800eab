//! Opening a CSV or Parquet file, its columns and their kinds, and streaming its rows as batches.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_csv::reader::Format as CsvFormat;
use arrow_schema::{DataType, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use regex::Regex;

use crate::TableError;

/// Rows per batch: large enough to amortise per-batch work, small enough that memory stays flat.
pub const BATCH_ROWS: usize = 8192;

/// The cells pandas reads as missing by default; matching them keeps our statistics equal to
/// those computed on `pd.read_csv` of the same file.
const CSV_NULLS: &str = r"^(|#N/A|#N/A N/A|#NA|-1\.#IND|-1\.#QNAN|-NaN|-nan|1\.#IND|1\.#QNAN|<NA>|N/A|NA|NULL|NaN|None|n/a|nan|null)$";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Self, TableError> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match extension.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "parquet" | "pq" => Ok(Self::Parquet),
            _ => Err(TableError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Parquet => "Parquet",
        }
    }
}

/// How a column's values can be read, from its physical type. Integers and floats stay apart
/// because statistics that follow pandas treat an integer column differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integer,
    /// Floats and decimals.
    Float,
    Text,
    Boolean,
    /// Dates, timestamps, nested and binary types.
    Other,
}

impl ValueKind {
    fn of(data_type: &DataType) -> Self {
        match data_type {
            t if t.is_integer() => Self::Integer,
            t if t.is_numeric() => Self::Float,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::Text,
            DataType::Dictionary(_, value) => Self::of(value),
            DataType::Boolean => Self::Boolean,
            // An all-empty CSV column: nothing but missing values (pandas reads it as float).
            DataType::Null => Self::Float,
            _ => Self::Other,
        }
    }

    /// Read as numbers rather than text.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Float)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    pub kind: ValueKind,
    pub data_type: String,
}

enum Source {
    File(PathBuf),
    Memory(Bytes),
}

/// A table whose schema is known; rows are read only when [`Table::batches`] is iterated.
pub struct Table {
    source: Source,
    format: Format,
    schema: SchemaRef,
    columns: Vec<ColumnInfo>,
}

pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch, TableError>> + Send>;

impl Table {
    /// Opens a `.csv` (header row; types inferred from every row) or `.parquet` file.
    pub fn open(path: &Path) -> Result<Self, TableError> {
        Self::open_as(path, Format::from_path(path)?)
    }

    /// Opens a file of `format`, whatever its name (an upload spooled to a scratch file).
    pub fn open_as(path: &Path, format: Format) -> Result<Self, TableError> {
        let schema = match format {
            Format::Csv => infer_csv_schema(open_file(path)?, path)?,
            Format::Parquet => {
                let file = open_file(path)?;
                ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|e| malformed(path, format, e))?
                    .schema()
                    .clone()
            }
        };
        Ok(Self::with_schema(
            Source::File(path.to_path_buf()),
            format,
            schema,
        ))
    }

    /// A Parquet file already in memory (one fetched from the artifact store).
    pub fn from_parquet_bytes(bytes: Bytes) -> Result<Self, TableError> {
        Self::from_bytes(bytes, Format::Parquet)
    }

    /// A file of `format` already in memory (an upload, or a file from the artifact store).
    pub fn from_bytes(bytes: Bytes, format: Format) -> Result<Self, TableError> {
        let memory = Path::new("<memory>");
        let schema = match format {
            Format::Csv => infer_csv_schema(Cursor::new(bytes.clone()), memory)?,
            Format::Parquet => ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
                .map_err(|e| malformed(memory, format, e))?
                .schema()
                .clone(),
        };
        Ok(Self::with_schema(Source::Memory(bytes), format, schema))
    }

    fn with_schema(source: Source, format: Format, schema: SchemaRef) -> Self {
        let columns = schema
            .fields()
            .iter()
            .map(|field| ColumnInfo {
                name: field.name().clone(),
                kind: ValueKind::of(field.data_type()),
                data_type: field.data_type().to_string(),
            })
            .collect();
        Self {
            source,
            format,
            schema,
            columns,
        }
    }

    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Streams the rows of the given columns (by index) in batches of at most [`BATCH_ROWS`]
    /// rows, each batch holding them in the order asked for; only those columns are decoded.
    pub fn batches(&self, columns: &[usize]) -> Result<Batches, TableError> {
        if let Some(&index) = columns.iter().find(|&&i| i >= self.columns.len()) {
            return Err(TableError::NoColumn(index));
        }
        // Readers decode in file order; each batch is then put in the caller's order.
        let mut read = columns.to_vec();
        read.sort_unstable();
        read.dedup();
        let order: Vec<usize> = columns
            .iter()
            .map(|c| read.binary_search(c).unwrap_or_default())
            .collect();
        let memory = Path::new("<memory>");
        let batches = match (&self.source, self.format) {
            (Source::File(path), Format::Csv) => self.csv_batches(open_file(path)?, path, &read)?,
            (Source::File(path), Format::Parquet) => {
                parquet_batches(open_file(path)?, &read, path)?
            }
            (Source::Memory(bytes), Format::Csv) => {
                self.csv_batches(Cursor::new(bytes.clone()), memory, &read)?
            }
            (Source::Memory(bytes), Format::Parquet) => {
                parquet_batches(bytes.clone(), &read, memory)?
            }
        };
        let shown = match &self.source {
            Source::File(path) => path.clone(),
            Source::Memory(_) => memory.to_path_buf(),
        };
        let format = self.format;
        Ok(Box::new(batches.map(move |batch| {
            batch.and_then(|b| b.project(&order).map_err(|e| malformed(&shown, format, e)))
        })))
    }

    fn csv_batches<R: Read + Send + 'static>(
        &self,
        reader: R,
        path: &Path,
        columns: &[usize],
    ) -> Result<Batches, TableError> {
        let reader = arrow_csv::ReaderBuilder::new(self.schema.clone())
            .with_header(true)
            .with_null_regex(csv_null_regex())
            .with_batch_size(BATCH_ROWS)
            .with_projection(columns.to_vec())
            .build(BufReader::new(reader))
            .map_err(|e| malformed(path, Format::Csv, e))?;
        let path = path.to_path_buf();
        Ok(Box::new(reader.map(move |batch| {
            batch.map_err(|e| malformed(&path, Format::Csv, e))
        })))
    }
}

fn parquet_batches<R>(reader: R, columns: &[usize], path: &Path) -> Result<Batches, TableError>
where
    R: parquet::file::reader::ChunkReader + 'static,
{
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader)
        .map_err(|e| malformed(path, Format::Parquet, e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| malformed(path, Format::Parquet, e))?;
    let path = path.to_path_buf();
    Ok(Box::new(reader.map(move |batch| {
        batch.map_err(|e| malformed(&path, Format::Parquet, e))
    })))
}

fn infer_csv_schema(reader: impl Read, path: &Path) -> Result<SchemaRef, TableError> {
    let format = CsvFormat::default()
        .with_header(true)
        .with_null_regex(csv_null_regex());
    // Every row: a column that looks integral for a million rows and then holds "1.5" must
    // still be read as a float rather than fail half way through.
    let (schema, _) = format
        .infer_schema(BufReader::new(reader), None)
        .map_err(|e| malformed(path, Format::Csv, e))?;
    Ok(Arc::new(schema))
}

fn csv_null_regex() -> Regex {
    Regex::new(CSV_NULLS).expect("the CSV null pattern is a valid regex")
}

fn open_file(path: &Path) -> Result<File, TableError> {
    File::open(path).map_err(|source| TableError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn malformed(path: &Path, format: Format, error: impl std::fmt::Display) -> TableError {
    TableError::Malformed {
        path: path.to_path_buf(),
        format: format.name(),
        message: error.to_string(),
    }
}
