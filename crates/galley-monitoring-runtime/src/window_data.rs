//! A deployment's logged predictions in one window, read back from its Parquet files: current
//! profiles of the model's inputs and predictions, and the predictions to join labels onto.

use galley_monitoring::model::Window;
use galley_monitoring::profile::ColumnProfile;
use galley_monitoring::MonitoringError;
use galley_tables::arrow_array::cast::AsArray;
use galley_tables::arrow_array::types::Int64Type;
use galley_tables::arrow_array::Array;
use galley_tables::{ColumnChunk, Table, ValueKind};

use crate::columns::{INPUT_PREFIX, OUTPUT_PREFIX, RECEIVED_AT, REQUEST_ID, ROW};
use crate::profiling::{table_error, Accumulator};

type Result<T> = std::result::Result<T, MonitoringError>;

/// One logged row's prediction, for joining with its label.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedPrediction {
    pub request_id: String,
    pub row: i64,
    /// The first output, as text (a class) or a number.
    pub predicted: Predicted,
    /// The second output's values when it holds one score per class (probabilities).
    pub scores: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Predicted {
    Number(f64),
    Text(String),
    Missing,
}

/// What a window's files add up to.
pub struct WindowData {
    pub rows: u64,
    /// Current profiles of the inputs, named as the reference names them.
    pub features: Vec<(String, ColumnProfile)>,
    pub prediction: Option<ColumnProfile>,
    pub predictions: Vec<LoggedPrediction>,
}

/// How the logged columns of one file line up with what is being compared.
struct FileColumns {
    received_at: usize,
    request_id: usize,
    row: usize,
    /// Per reference feature, the logged input column holding it.
    features: Vec<usize>,
    prediction: Option<usize>,
    scores: Vec<usize>,
}

/// The stem of a logged column: `output.probabilities[1]` → `output.probabilities`.
fn stem(name: &str) -> &str {
    name.split_once('[').map_or(name, |(stem, _)| stem)
}

fn locate(table: &Table, feature_names: &[String]) -> Result<FileColumns> {
    let required = |name: &str| {
        table.column_index(name).ok_or_else(|| {
            MonitoringError::InvalidInput(format!(
                "a prediction log file lacks the column '{name}'"
            ))
        })
    };
    let names: Vec<&str> = table.columns().iter().map(|c| c.name.as_str()).collect();
    let inputs: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].starts_with(INPUT_PREFIX))
        .collect();
    let outputs: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].starts_with(OUTPUT_PREFIX))
        .collect();
    // Inputs named like the reference's columns (one model input per feature) match by name;
    // otherwise the flattened inputs match the reference's features by position.
    let by_name: Option<Vec<usize>> = feature_names
        .iter()
        .map(|f| table.column_index(&format!("{INPUT_PREFIX}{f}")))
        .collect();
    let features = match by_name {
        Some(found) => found,
        None if inputs.len() == feature_names.len() => inputs,
        None => {
            return Err(MonitoringError::InvalidInput(format!(
            "the logged inputs ({} columns: {}) do not line up with the reference's {} features \
                 ({}); profile a reference whose feature columns match the model's inputs",
            inputs.len(),
            inputs
                .iter()
                .map(|&i| names[i])
                .collect::<Vec<_>>()
                .join(", "),
            feature_names.len(),
            feature_names.join(", ")
        )))
        }
    };
    let prediction = outputs.first().copied();
    let scores = match prediction {
        Some(first) => {
            let first_stem = stem(names[first]);
            let rest: Vec<usize> = outputs
                .iter()
                .copied()
                .filter(|&i| stem(names[i]) != first_stem)
                .collect();
            let score_stem = rest.first().map(|&i| stem(names[i]));
            rest.into_iter()
                .filter(|&i| Some(stem(names[i])) == score_stem && names[i].contains('['))
                .collect()
        }
        None => Vec::new(),
    };
    Ok(FileColumns {
        received_at: required(RECEIVED_AT)?,
        request_id: required(REQUEST_ID)?,
        row: required(ROW)?,
        features,
        prediction,
        scores,
    })
}

/// Accumulates the rows of `window` from each file in turn.
pub struct WindowReader {
    window: Window,
    feature_names: Vec<String>,
    features: Vec<Option<Accumulator>>,
    prediction: Option<Accumulator>,
    predictions: Vec<LoggedPrediction>,
    rows: u64,
}

impl WindowReader {
    pub fn new(window: Window, feature_names: Vec<String>) -> WindowReader {
        let features = feature_names.iter().map(|_| None).collect();
        WindowReader {
            window,
            feature_names,
            features,
            prediction: None,
            predictions: Vec::new(),
            rows: 0,
        }
    }

    pub fn add_file(&mut self, table: &Table) -> Result<()> {
        let columns = locate(table, &self.feature_names)?;
        let mut projection = vec![columns.received_at, columns.request_id, columns.row];
        projection.extend(&columns.features);
        projection.extend(columns.prediction);
        projection.extend(&columns.scores);
        // Where a file column sits in the batches, which hold `projection` in its order.
        let position = |index: usize| {
            projection
                .iter()
                .position(|&c| c == index)
                .expect("every column read is in the projection")
        };
        let info = table.columns();
        for batch in table.batches(&projection).map_err(table_error)? {
            let batch = batch.map_err(table_error)?;
            let received = batch.column(position(columns.received_at));
            let Some(received) = received.as_primitive_opt::<Int64Type>() else {
                return Err(MonitoringError::InvalidInput(format!(
                    "a prediction log file's {RECEIVED_AT} column is not integer milliseconds"
                )));
            };
            let keep: Vec<bool> = received
                .iter()
                .map(|at| at.is_some_and(|at| self.window.contains(at)))
                .collect();
            let kept = keep.iter().filter(|&&k| k).count();
            if kept == 0 {
                continue;
            }
            self.rows += kept as u64;
            for (slot, &index) in self.features.iter_mut().zip(&columns.features) {
                let kind = info[index].kind;
                let chunk =
                    ColumnChunk::read(&info[index].name, batch.column(position(index)), kind)
                        .map_err(table_error)?;
                slot.get_or_insert_with(|| Accumulator::for_kind(kind))
                    .add(&chunk, Some(&keep));
            }
            let predicted = match columns.prediction {
                Some(index) => {
                    let kind = info[index].kind;
                    let chunk =
                        ColumnChunk::read(&info[index].name, batch.column(position(index)), kind)
                            .map_err(table_error)?;
                    self.prediction
                        .get_or_insert_with(|| Accumulator::for_kind(kind))
                        .add(&chunk, Some(&keep));
                    Some(chunk)
                }
                None => None,
            };
            let scores: Vec<ColumnChunk> = columns
                .scores
                .iter()
                .map(|&index| {
                    ColumnChunk::read(
                        &info[index].name,
                        batch.column(position(index)),
                        ValueKind::Float,
                    )
                    .map_err(table_error)
                })
                .collect::<Result<_>>()?;
            let request_ids = batch
                .column(position(columns.request_id))
                .as_string_opt::<i32>();
            let rows = batch
                .column(position(columns.row))
                .as_primitive_opt::<Int64Type>();
            let (Some(request_ids), Some(rows)) = (request_ids, rows) else {
                return Err(MonitoringError::InvalidInput(
                    "a prediction log file's request_id or row column has the wrong type"
                        .to_owned(),
                ));
            };
            for i in (0..batch.num_rows()).filter(|&i| keep[i]) {
                self.predictions.push(LoggedPrediction {
                    request_id: request_ids.value(i).to_owned(),
                    row: rows.value(i),
                    predicted: match &predicted {
                        Some(ColumnChunk::Numbers(v)) if v.is_valid(i) => {
                            Predicted::Number(v.value(i))
                        }
                        Some(ColumnChunk::Texts(v)) if v.is_valid(i) => {
                            Predicted::Text(v.value(i).to_owned())
                        }
                        _ => Predicted::Missing,
                    },
                    scores: scores
                        .iter()
                        .map(|chunk| match chunk {
                            ColumnChunk::Numbers(v) if v.is_valid(i) => v.value(i),
                            _ => f64::NAN,
                        })
                        .collect(),
                });
            }
        }
        Ok(())
    }

    pub fn finish(self) -> WindowData {
        let features = self
            .feature_names
            .into_iter()
            .zip(self.features)
            .filter_map(|(name, acc)| acc.map(|acc| (name, acc.finish())))
            .collect();
        WindowData {
            rows: self.rows,
            features,
            prediction: self.prediction.map(Accumulator::finish),
            predictions: self.predictions,
        }
    }
}
