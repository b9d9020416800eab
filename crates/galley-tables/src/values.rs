//! One column of a batch seen as numbers or as text, whatever its physical Arrow type.

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, StringArray};
use arrow_schema::DataType;

use crate::{TableError, ValueKind};

/// A column's values in one batch, converted once so consumers see two shapes only.
pub enum ColumnChunk {
    Numbers(Float64Array),
    Texts(StringArray),
}

impl ColumnChunk {
    /// Numbers for integer and float columns; text for text and booleans (`true`/`false`),
    /// which are categories rather than quantities.
    pub fn read(column: &str, array: &ArrayRef, kind: ValueKind) -> Result<Self, TableError> {
        let (wanted, name) = match kind {
            ValueKind::Integer | ValueKind::Float => (DataType::Float64, "numbers"),
            ValueKind::Text | ValueKind::Boolean => (DataType::Utf8, "text"),
            ValueKind::Other => return Err(type_error(column, array, "numbers or text")),
        };
        let converted = arrow_cast::cast(array.as_ref(), &wanted)
            .map_err(|_| type_error(column, array, name))?;
        Ok(if kind.is_numeric() {
            Self::Numbers(converted.as_primitive::<Float64Type>().clone())
        } else {
            Self::Texts(converted.as_string::<i32>().clone())
        })
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Numbers(values) => values.len(),
            Self::Texts(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn type_error(column: &str, array: &ArrayRef, wanted: &'static str) -> TableError {
    TableError::ColumnType {
        column: column.to_owned(),
        data_type: array.data_type().to_string(),
        wanted,
    }
}
