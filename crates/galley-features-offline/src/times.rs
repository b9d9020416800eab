//! Event times as nanoseconds since the epoch, UTC, from any Arrow timestamp or date column (a
//! timezone changes how an instant is shown, not which instant it is; naive times are UTC).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Date64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};

/// Stands for a null time in the columns of [`nanos`]: below every real time, so it sorts
/// first, never falls in a window and counts as the earliest created time.
pub(crate) const NULL_TIME: i64 = i64::MIN;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// Whether a column can hold event times.
pub fn is_time(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
    )
}

/// The time at `row` in nanoseconds; `None` for a null or a column that holds no times.
pub fn time_at(array: &ArrayRef, row: usize) -> Option<i64> {
    if row >= array.len() || array.is_null(row) {
        return None;
    }
    let value = |factor: i64, raw: i64| clamp(raw.saturating_mul(factor));
    Some(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => value(
            1_000_000_000,
            array.as_primitive::<TimestampSecondType>().value(row),
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => value(
            1_000_000,
            array.as_primitive::<TimestampMillisecondType>().value(row),
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => value(
            1_000,
            array.as_primitive::<TimestampMicrosecondType>().value(row),
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => value(
            1,
            array.as_primitive::<TimestampNanosecondType>().value(row),
        ),
        DataType::Date32 => value(
            NANOS_PER_DAY,
            i64::from(array.as_primitive::<Date32Type>().value(row)),
        ),
        DataType::Date64 => value(1_000_000, array.as_primitive::<Date64Type>().value(row)),
        _ => return None,
    })
}

/// Every row's time of a column [`is_time`] accepts, [`NULL_TIME`] for nulls. Times beyond
/// what nanoseconds can hold (after 2262) saturate rather than wrap around.
pub(crate) fn nanos(array: &dyn Array, out: &mut Vec<i64>) {
    out.clear();
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            scaled::<TimestampSecondType>(array, 1_000_000_000, out)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            scaled::<TimestampMillisecondType>(array, 1_000_000, out)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            scaled::<TimestampMicrosecondType>(array, 1_000, out)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            scaled::<TimestampNanosecondType>(array, 1, out)
        }
        DataType::Date32 => scaled::<Date32Type>(array, NANOS_PER_DAY, out),
        DataType::Date64 => scaled::<Date64Type>(array, 1_000_000, out),
        _ => out.resize(array.len(), NULL_TIME),
    }
}

fn scaled<T>(array: &dyn Array, factor: i64, out: &mut Vec<i64>)
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    let array = array.as_primitive::<T>();
    if factor == 1 {
        out.extend(array.values().iter().map(|&v| clamp(v.into())));
    } else {
        out.extend(
            array
                .values()
                .iter()
                .map(|&v| clamp(v.into().saturating_mul(factor))),
        );
    }
    if let Some(nulls) = array.nulls().filter(|n| n.null_count() > 0) {
        for (slot, valid) in out.iter_mut().zip(nulls.iter()) {
            if !valid {
                *slot = NULL_TIME;
            }
        }
    }
}

/// Keeps real times off the null marker.
fn clamp(nanos: i64) -> i64 {
    nanos.max(NULL_TIME + 1)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Date32Array, TimestampMillisecondArray, TimestampSecondArray};

    use super::*;

    #[test]
    fn units_and_dates_become_nanoseconds() {
        let seconds: ArrayRef =
            Arc::new(TimestampSecondArray::from(vec![Some(2), None]).with_timezone("+02:00"));
        let mut out = Vec::new();
        nanos(&seconds, &mut out);
        assert_eq!(out, vec![2_000_000_000, NULL_TIME]);
        assert_eq!(time_at(&seconds, 0), Some(2_000_000_000));
        assert_eq!(time_at(&seconds, 1), None);

        let millis: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![-1]));
        nanos(&millis, &mut out);
        assert_eq!(out, vec![-1_000_000]);

        let days: ArrayRef = Arc::new(Date32Array::from(vec![1]));
        nanos(&days, &mut out);
        assert_eq!(out, vec![NANOS_PER_DAY]);
    }

    #[test]
    fn far_times_saturate() {
        let far: ArrayRef = Arc::new(TimestampSecondArray::from(vec![i64::MAX, i64::MIN]));
        let mut out = Vec::new();
        nanos(&far, &mut out);
        assert_eq!(out, vec![i64::MAX, NULL_TIME + 1]);
    }
}
