//! Every way the offline engine can fail. All but `Io` are problems with the caller's tables
//! or column names (a 400 to the HTTP layer); `Io` is the machine's (spill files, output files).

use std::path::PathBuf;

use galley_tables::TableError;

#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// A file that cannot be opened or read as CSV or Parquet.
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{table} has no column {column:?}")]
    MissingColumn { table: String, column: String },
    #[error("{table}: join key {column:?} is {data_type}; join keys must be integers or strings")]
    KeyType {
        table: String,
        column: String,
        data_type: String,
    },
    #[error(
        "join key {column:?} is {entity} in the entity dataframe but {source_type} in {table}"
    )]
    KeyMismatch {
        table: String,
        column: String,
        entity: String,
        source_type: String,
    },
    #[error("{table}: column {column:?} is {data_type}, not a timestamp or date")]
    NotATime {
        table: String,
        column: String,
        data_type: String,
    },
    #[error(
        "the entity dataframe's {column:?} is empty on row {row}; every entity row needs a time"
    )]
    NullEntityTime { column: String, row: usize },
    #[error("two output columns would be named {column:?}")]
    DuplicateColumn { column: String },
    #[error("{path}: its columns differ from those of {first} ({detail})")]
    SchemaMismatch {
        path: PathBuf,
        first: PathBuf,
        detail: String,
    },
    #[error("{path}: no .parquet or .csv files")]
    EmptyFolder { path: PathBuf },
    #[error("cannot combine columns: {0}")]
    Arrow(String),
    #[error("cannot write the training set: {0}")]
    Write(String),
    /// Spill files and output files: the disk's problem, not the caller's.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<arrow_schema::ArrowError> for OfflineError {
    fn from(error: arrow_schema::ArrowError) -> Self {
        OfflineError::Arrow(error.to_string())
    }
}
