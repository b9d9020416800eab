//! Writing record batches as one Parquet file in memory, ready for the artifact store.

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::TableError;

/// Encodes `batches` (all of `batches[0]`'s schema) as a Snappy-compressed Parquet file.
/// An empty slice is an error: a file needs a schema.
pub fn parquet_bytes(batches: &[RecordBatch]) -> Result<Vec<u8>, TableError> {
    let first = batches
        .first()
        .ok_or_else(|| TableError::Write("no record batches to write".to_owned()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, first.schema(), Some(properties))
        .map_err(|e| TableError::Write(e.to_string()))?;
    for batch in batches {
        writer
            .write(batch)
            .map_err(|e| TableError::Write(e.to_string()))?;
    }
    writer
        .close()
        .map_err(|e| TableError::Write(e.to_string()))?;
    Ok(buffer)
}
