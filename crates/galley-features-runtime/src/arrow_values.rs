//! Between Arrow columns and feature values: which Arrow types a declared dtype accepts, one
//! cell as a `Value`, and timestamps in and out (nanoseconds since the epoch, UTC).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use galley_features::value::{Dtype, Value};
pub use galley_features_offline::{is_time, time_at};

/// Whether a source column of `data_type` can feed a feature declared as `dtype`: the same
/// kind of value, never a lossy narrowing (a float column is not an int64 feature).
pub fn accepts(dtype: Dtype, data_type: &DataType) -> bool {
    use DataType as T;
    // An all-empty CSV column has no type of its own.
    if matches!(data_type, T::Null) {
        return true;
    }
    match dtype {
        Dtype::Int32 => matches!(
            data_type,
            T::Int8 | T::Int16 | T::Int32 | T::UInt8 | T::UInt16
        ),
        Dtype::Int64 => {
            matches!(
                data_type,
                T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::UInt8 | T::UInt16 | T::UInt32
            )
        }
        Dtype::Float32 => matches!(data_type, T::Float16 | T::Float32),
        Dtype::Float64 => data_type.is_floating() || data_type.is_integer(),
        Dtype::String => matches!(data_type, T::Utf8 | T::LargeUtf8 | T::Utf8View),
        Dtype::Bool => matches!(data_type, T::Boolean),
        Dtype::Bytes => matches!(data_type, T::Binary | T::LargeBinary | T::BinaryView),
        Dtype::UnixTimestamp => is_time(data_type),
    }
}

/// The cell at `row` as `dtype` (checked with [`accepts`] beforehand); null cells and NaN-free
/// conversions only.
pub fn value_at(array: &ArrayRef, row: usize, dtype: Dtype) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    let value = match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Value::Int64(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Int64(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Int64(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Int64(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Int64(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::Int64(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::Int64(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::Float32 => Value::Float32(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => Value::Float64(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Value::String(array.as_string_view().value(row).to_string()),
        DataType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Bytes(array.as_binary::<i64>().value(row).to_vec()),
        data_type if is_time(data_type) => match time_at(array, row) {
            Some(ns) => Value::Timestamp(ns),
            None => Value::Null,
        },
        _ => Value::Null,
    };
    value.coerce(dtype).unwrap_or(Value::Null)
}

/// Reads a time as users write it: RFC 3339 (`2024-05-01T12:00:00Z`, with an offset), or a
/// naive date-time or date taken as UTC.
pub fn parse_time(text: &str) -> Option<i64> {
    arrow_cast::parse::string_to_timestamp_nanos(text.trim()).ok()
}

/// RFC 3339 in UTC with as many fraction digits as needed, as Feast's JSON shows times.
pub fn format_time(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, StringArray, TimestampMillisecondArray};
    use std::sync::Arc;

    #[test]
    fn cells_become_values_of_the_declared_type() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(4), None]));
        assert_eq!(value_at(&ints, 0, Dtype::Int64), Value::Int64(4));
        assert_eq!(value_at(&ints, 0, Dtype::Float64), Value::Float64(4.0));
        assert_eq!(value_at(&ints, 1, Dtype::Int64), Value::Null);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        assert_eq!(value_at(&text, 0, Dtype::String), Value::String("a".into()));
        let times: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![1_500]).with_timezone("+02:00"));
        assert_eq!(time_at(&times, 0), Some(1_500_000_000));
        assert_eq!(
            value_at(&times, 0, Dtype::UnixTimestamp),
            Value::Timestamp(1_500_000_000)
        );
    }

    #[test]
    fn declared_types_accept_only_lossless_columns() {
        assert!(accepts(Dtype::Int64, &DataType::Int32));
        assert!(!accepts(Dtype::Int64, &DataType::Float64));
        assert!(!accepts(Dtype::Int32, &DataType::Int64));
        assert!(accepts(Dtype::Float64, &DataType::Int64));
        assert!(!accepts(Dtype::String, &DataType::Int64));
        assert!(accepts(Dtype::UnixTimestamp, &DataType::Date32));
    }

    #[test]
    fn times_round_trip_through_text() {
        let ns = parse_time("2024-05-01T12:00:00.5Z").unwrap();
        assert_eq!(format_time(ns), "2024-05-01T12:00:00.500Z");
        assert_eq!(
            parse_time("2024-05-01 12:00:00"),
            parse_time("2024-05-01T12:00:00+00:00")
        );
        assert_eq!(
            parse_time("2024-05-01T14:00:00+02:00"),
            parse_time("2024-05-01T12:00:00Z")
        );
        assert!(parse_time("yesterday").is_none());
    }
}
