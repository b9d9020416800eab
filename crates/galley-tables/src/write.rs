//! Writing record batches as one Parquet file in memory, ready for the artifact store.

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::TableError;

/// Encodes `batches` (all of `batches[0]`'s schema) as a Snappy-compressed Parquet file, floating
/// point columns without a dictionary.
/// An empty slice is an error: a file needs a schema.
pub fn parquet_bytes(batches: &[RecordBatch]) -> Result<Vec<u8>, TableError> {
    let first = batches
        .first()
        .ok_or_else(|| TableError::Write("no record batches to write".to_owned()))?;
    let mut properties = WriterProperties::builder().set_compression(Compression::SNAPPY);
    // Measured values (features, scores, latencies) rarely repeat: a dictionary costs a hash per
    // value and then mostly falls back to plain encoding, which Snappy compresses as well.
    for field in first.schema().fields() {
        if field.data_type().is_floating() {
            properties = properties
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    let properties = properties.build();
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
