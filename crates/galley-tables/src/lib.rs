//! Tabular files: CSV and Parquet read as Arrow record batches in bounded chunks, columns seen as
//! numbers or text, and Parquet written. Knows nothing of what the columns mean.

mod error;
mod read;
mod values;
mod write;

/// The Arrow arrays and builders, for callers that build batches to write.
pub use arrow_array;
pub use arrow_array::{ArrayRef, RecordBatch};
pub use arrow_schema::{DataType, Field, Schema, SchemaRef};
pub use error::TableError;
pub use read::{Batches, ColumnInfo, Format, Table, ValueKind, BATCH_ROWS};
pub use values::ColumnChunk;
pub use write::parquet_bytes;
