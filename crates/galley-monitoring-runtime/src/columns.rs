//! Answered requests as rows: one row per request row, metadata columns first, then one column per
//! input and output element (`input.X[0]`, `output.label`, ...), buffered in Arrow builders.

use std::sync::Arc;

use galley_inference::PredictionRecord;
use galley_onnx::{Tensor, TensorData};
use galley_tables::{ArrayRef, DataType, Field, RecordBatch, Schema};

use galley_tables::arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};

pub const REQUEST_ID: &str = "request_id";
pub const ROW: &str = "row";
pub const RECEIVED_AT: &str = "received_at_ms";
pub const VERSION: &str = "version";
pub const LATENCY: &str = "latency_seconds";
pub const INPUT_PREFIX: &str = "input.";
pub const OUTPUT_PREFIX: &str = "output.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Bool,
}

impl Kind {
    fn of(data: &TensorData) -> Kind {
        match data {
            TensorData::Bytes(_) => Kind::Text,
            TensorData::Bool(_) => Kind::Bool,
            _ => Kind::Number,
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Kind::Number => DataType::Float64,
            Kind::Text => DataType::Utf8,
            Kind::Bool => DataType::Boolean,
        }
    }
}

/// One logged tensor: its column-name stem, element type and elements per request row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TensorColumns {
    stem: String,
    kind: Kind,
    per_row: usize,
}

impl TensorColumns {
    fn names(&self) -> Vec<String> {
        if self.per_row == 1 {
            vec![self.stem.clone()]
        } else {
            (0..self.per_row)
                .map(|j| format!("{}[{j}]", self.stem))
                .collect()
        }
    }
}

/// The columns a record produces. Records with the same layout share a Parquet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    tensors: Vec<TensorColumns>,
}

/// A request's row count: the leading dimension of its first input.
fn rows_of(record: &PredictionRecord) -> usize {
    record
        .inputs
        .first()
        .map_or(0, |(_, tensor)| tensor.shape.first().copied().unwrap_or(1))
}

/// The tensors of a record with one entry per request row (leading dimension = rows), in order,
/// with their stems as (prefix, name). Others (a model-level output) are not logged. An iterator,
/// not a list: every logged request walks it twice, and nothing here should allocate.
fn row_aligned(
    record: &PredictionRecord,
    rows: usize,
) -> impl Iterator<Item = (&'static str, &str, &Tensor)> {
    let inputs = record
        .inputs
        .iter()
        .map(|(n, t)| (INPUT_PREFIX, n.as_str(), t));
    let outputs = record
        .outputs
        .iter()
        .map(|(n, t)| (OUTPUT_PREFIX, n.as_str(), t));
    inputs
        .chain(outputs)
        .filter(move |(_, _, t)| t.shape.first() == Some(&rows) && t.data.len() % rows == 0)
}

/// Whether `stem` is `prefix` then `name`, without building it.
fn is_stem(stem: &str, prefix: &str, name: &str) -> bool {
    stem.strip_prefix(prefix) == Some(name)
}

impl Layout {
    /// `None` for a record with no rows (an empty batch) — nothing to log.
    pub fn of(record: &PredictionRecord) -> Option<Layout> {
        let rows = rows_of(record);
        if rows == 0 {
            return None;
        }
        let tensors = row_aligned(record, rows)
            .map(|(prefix, name, tensor)| TensorColumns {
                stem: format!("{prefix}{name}"),
                kind: Kind::of(&tensor.data),
                per_row: tensor.data.len() / rows,
            })
            .collect();
        Some(Layout { tensors })
    }

    /// Whether `record` has this layout: `Layout::of(record) == Some(self)`, checked without
    /// building one, since nearly every record of a deployment has its buffer's layout.
    pub fn describes(&self, record: &PredictionRecord) -> bool {
        let rows = rows_of(record);
        if rows == 0 {
            return false;
        }
        let mut aligned = row_aligned(record, rows);
        let matching = self.tensors.iter().all(|columns| {
            aligned.next().is_some_and(|(prefix, name, tensor)| {
                is_stem(&columns.stem, prefix, name)
                    && Kind::of(&tensor.data) == columns.kind
                    && tensor.data.len() / rows == columns.per_row
            })
        });
        matching && aligned.next().is_none()
    }

    fn schema(&self) -> Schema {
        let mut fields = vec![
            Field::new(REQUEST_ID, DataType::Utf8, false),
            Field::new(ROW, DataType::Int64, false),
            Field::new(RECEIVED_AT, DataType::Int64, false),
            Field::new(VERSION, DataType::Int64, false),
            Field::new(LATENCY, DataType::Float64, false),
        ];
        for tensor in &self.tensors {
            for name in tensor.names() {
                fields.push(Field::new(name, tensor.kind.data_type(), true));
            }
        }
        Schema::new(fields)
    }
}

enum Builder {
    Number(Float64Builder),
    Text(StringBuilder),
    Bool(BooleanBuilder),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Number => Builder::Number(Float64Builder::new()),
            Kind::Text => Builder::Text(StringBuilder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Number(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// Element `index` of a tensor's data as a number, for numeric tensors.
fn number_at(data: &TensorData, index: usize) -> Option<f64> {
    Some(match data {
        TensorData::Uint8(v) => f64::from(v[index]),
        TensorData::Uint16(v) => f64::from(v[index]),
        TensorData::Uint32(v) => f64::from(v[index]),
        TensorData::Uint64(v) => v[index] as f64,
        TensorData::Int8(v) => f64::from(v[index]),
        TensorData::Int16(v) => f64::from(v[index]),
        TensorData::Int32(v) => f64::from(v[index]),
        TensorData::Int64(v) => v[index] as f64,
        TensorData::Fp32(v) => f64::from(v[index]),
        TensorData::Fp64(v) => v[index],
        TensorData::Bool(_) | TensorData::Bytes(_) => return None,
    })
}

/// Rows of one layout, accumulating until they are written as one file.
pub struct RowBuffer {
    layout: Layout,
    request_ids: StringBuilder,
    rows: Int64Builder,
    received: Int64Builder,
    versions: Int64Builder,
    latencies: Float64Builder,
    values: Vec<Builder>,
    row_count: usize,
    pub first_at: i64,
    pub last_at: i64,
}

impl RowBuffer {
    pub fn new(layout: Layout) -> RowBuffer {
        let values = layout
            .tensors
            .iter()
            .flat_map(|t| (0..t.per_row).map(|_| Builder::new(t.kind)))
            .collect();
        RowBuffer {
            layout,
            request_ids: StringBuilder::new(),
            rows: Int64Builder::new(),
            received: Int64Builder::new(),
            versions: Int64Builder::new(),
            latencies: Float64Builder::new(),
            values,
            row_count: 0,
            first_at: i64::MAX,
            last_at: i64::MIN,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn row_count(&self) -> usize {
        self.row_count
    }

    /// Appends `record`'s rows if it has this buffer's layout; false (and nothing appended) if
    /// not.
    pub fn push(&mut self, record: &PredictionRecord) -> bool {
        if !self.layout.describes(record) {
            return false;
        }
        let rows = rows_of(record);
        for row in 0..rows {
            self.request_ids.append_value(&record.request_id);
            self.rows.append_value(row as i64);
            self.received.append_value(record.received_at);
            self.versions.append_value(record.version);
            self.latencies.append_value(record.latency_seconds);
            let mut builders = self.values.iter_mut();
            // `describes` held: the record's row-aligned tensors are the layout's, in order.
            for (columns, (_, _, tensor)) in
                self.layout.tensors.iter().zip(row_aligned(record, rows))
            {
                let data = &tensor.data;
                for index in row * columns.per_row..(row + 1) * columns.per_row {
                    match builders.next() {
                        Some(Builder::Number(b)) => b.append_option(number_at(data, index)),
                        Some(Builder::Text(b)) => {
                            b.append_option(data.as_strings().map(|v| v[index].as_str()))
                        }
                        Some(Builder::Bool(b)) => b.append_option(data.as_bool().map(|v| v[index])),
                        None => {}
                    }
                }
            }
        }
        self.row_count += rows;
        self.first_at = self.first_at.min(record.received_at);
        self.last_at = self.last_at.max(record.received_at);
        true
    }

    pub fn finish(mut self) -> RecordBatch {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.request_ids.finish()),
            Arc::new(self.rows.finish()),
            Arc::new(self.received.finish()),
            Arc::new(self.versions.finish()),
            Arc::new(self.latencies.finish()),
        ];
        columns.extend(self.values.iter_mut().map(Builder::finish));
        RecordBatch::try_new(Arc::new(self.layout.schema()), columns)
            .expect("builders follow the layout's schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use galley_tables::{ColumnChunk, Table};

    fn record(request_id: &str, rows: usize) -> PredictionRecord {
        let features: Vec<f32> = (0..rows * 2).map(|i| i as f32).collect();
        let labels: Vec<i64> = (0..rows as i64).collect();
        let probabilities: Vec<f32> = (0..rows * 2).map(|i| i as f32 / 10.0).collect();
        PredictionRecord {
            deployment: "d".into(),
            model: "m".into(),
            version: 3,
            request_id: request_id.into(),
            received_at: 1_000,
            latency_seconds: 0.5,
            inputs: vec![("X".into(), Tensor::new(vec![rows, 2], features).unwrap())],
            outputs: Arc::new(vec![
                ("label".into(), Tensor::new(vec![rows], labels).unwrap()),
                (
                    "probabilities".into(),
                    Tensor::new(vec![rows, 2], probabilities).unwrap(),
                ),
                // Not one value per row: left out.
                (
                    "total".into(),
                    Tensor::new(vec![5], vec![1.0f32; 5]).unwrap(),
                ),
            ]),
        }
    }

    #[test]
    fn records_become_rows_with_one_column_per_element() {
        let layout = Layout::of(&record("a", 2)).unwrap();
        let mut buffer = RowBuffer::new(layout.clone());
        assert!(buffer.push(&record("a", 2)));
        assert!(buffer.push(&record("b", 2)));
        let mut wider = record("c", 1);
        wider.inputs[0].1 = Tensor::new(vec![1, 3], vec![0.0f32; 3]).unwrap();
        assert!(!buffer.push(&wider), "another layout is refused");
        assert_eq!(buffer.row_count(), 4);
        let batch = buffer.finish();
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            names,
            [
                "request_id",
                "row",
                "received_at_ms",
                "version",
                "latency_seconds",
                "input.X[0]",
                "input.X[1]",
                "output.label",
                "output.probabilities[0]",
                "output.probabilities[1]",
            ]
        );
        let bytes = galley_tables::parquet_bytes(&[batch]).unwrap();
        let table = Table::from_parquet_bytes(bytes.into()).unwrap();
        let index = table.column_index("input.X[1]").unwrap();
        let mut values = Vec::new();
        for batch in table.batches(&[index]).unwrap() {
            let batch = batch.unwrap();
            let ColumnChunk::Numbers(numbers) =
                ColumnChunk::read("input.X[1]", batch.column(0), table.columns()[index].kind)
                    .unwrap()
            else {
                panic!("numbers")
            };
            values.extend(numbers.iter().flatten());
        }
        assert_eq!(values, [1.0, 3.0, 1.0, 3.0]);
    }

    #[test]
    fn layouts_differ_when_columns_do() {
        assert_eq!(Layout::of(&record("a", 1)), Layout::of(&record("b", 2)));
        let mut wider = record("a", 1);
        wider.inputs[0].1 = Tensor::new(vec![1, 3], vec![0.0f32; 3]).unwrap();
        assert_ne!(Layout::of(&record("a", 1)), Layout::of(&wider));
        assert_eq!(Layout::of(&record("a", 0)), None);
        let layout = Layout::of(&record("a", 1)).unwrap();
        assert!(layout.describes(&record("b", 2)));
        assert!(!layout.describes(&wider));
        assert!(!layout.describes(&record("a", 0)));
    }
}
