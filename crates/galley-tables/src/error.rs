//! The one error type of tabular I/O.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: unsupported file type; expected .csv or .parquet")]
    UnsupportedFormat { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable {format} file: {message}")]
    Malformed {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("column `{column}` has type {data_type}, which cannot be read as {wanted}")]
    ColumnType {
        column: String,
        data_type: String,
        wanted: &'static str,
    },
    #[error("cannot write Parquet: {0}")]
    Write(String),
    #[error("the table has no column number {0}")]
    NoColumn(usize),
}
