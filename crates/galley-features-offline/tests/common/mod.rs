//! Helpers the integration tests share: tables from columns, joins collected into one batch.
#![allow(dead_code)]

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use galley_features_offline::{
    point_in_time_join, EntityFrame, FeatureColumn, JoinOptions, OfflineError, OfflineSource,
    ViewJoin,
};
use galley_tables::{Format, Table};

pub const S: i64 = 1_000_000_000;

pub fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

/// A table as a Parquet file in memory, the way an upload arrives.
pub fn table(columns: Vec<(&str, ArrayRef)>) -> Table {
    let bytes = galley_tables::parquet_bytes(&[batch(columns)]).unwrap();
    Table::from_bytes(bytes.into(), Format::Parquet).unwrap()
}

pub fn source(name: &str, columns: Vec<(&str, ArrayRef)>) -> OfflineSource {
    OfflineSource::single(name, table(columns))
}

pub fn entity(columns: Vec<(&str, ArrayRef)>) -> EntityFrame {
    EntityFrame {
        table: table(columns),
        timestamp_column: "event_timestamp".into(),
    }
}

pub fn i64s(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

pub fn i32s(values: &[Option<i32>]) -> ArrayRef {
    Arc::new(Int32Array::from(values.to_vec()))
}

pub fn f64s(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

pub fn strs(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

/// Naive times in nanoseconds.
pub fn ns(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(values.to_vec()))
}

/// Naive times in whole seconds.
pub fn secs(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(TimestampSecondArray::from(values.to_vec()))
}

pub fn view(name: &str, keys: &[&str], ttl_s: Option<i64>, features: &[(&str, &str)]) -> ViewJoin {
    ViewJoin {
        name: name.into(),
        join_keys: keys.iter().map(|k| k.to_string()).collect(),
        timestamp_column: "ts".into(),
        created_column: Some("created".into()),
        ttl_ns: ttl_s.map(|t| t * S),
        features: features
            .iter()
            .map(|(source_column, output_name)| FeatureColumn {
                source_column: source_column.to_string(),
                output_name: output_name.to_string(),
            })
            .collect(),
    }
}

pub fn options() -> JoinOptions {
    JoinOptions {
        created_cutoff: false,
        memory_budget_bytes: 1 << 26,
        spill_dir: std::env::temp_dir(),
        entity_rows_per_pass: None,
    }
}

/// The whole answer as one batch.
pub fn join(
    entity: &EntityFrame,
    views: &[(&OfflineSource, &ViewJoin)],
    options: &JoinOptions,
) -> Result<RecordBatch, OfflineError> {
    let joined = point_in_time_join(entity, views, options)?;
    let schema = joined.schema().clone();
    let batches: Vec<RecordBatch> = joined.collect::<Result<_, _>>()?;
    Ok(arrow_select::concat::concat_batches(&schema, &batches).unwrap())
}

pub fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

pub fn f64_column(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let array = column(batch, name);
    assert_eq!(array.data_type(), &DataType::Float64);
    let array = array.as_any().downcast_ref::<Float64Array>().unwrap();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i)))
        .collect()
}

pub fn i64_column(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let array = column(batch, name);
    let array = arrow_cast::cast(array, &DataType::Int64).unwrap();
    let array = array.as_any().downcast_ref::<Int64Array>().unwrap();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i)))
        .collect()
}

pub fn str_column(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = column(batch, name);
    let array = array.as_any().downcast_ref::<StringArray>().unwrap();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i).to_string()))
        .collect()
}
