//! ONNX Runtime as a second engine (the `onnxruntime` feature): loaded at run time from the shared
//! library `ORT_DYLIB_PATH` names (the one in the `onnxruntime` wheel works), for models tract
//! cannot run and for GPU builds of the library. Tensors cross as Galley's own `Tensor`.

use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::value::{DynValue, DynValueTypeMarker, Tensor as OrtTensor, TensorElementType, ValueType};

use crate::{OnnxError, Tensor, TensorData, TensorSpec};

/// Set to the library's path to enable the engine.
pub const LIBRARY_VARIABLE: &str = "ORT_DYLIB_PATH";

/// The process-wide ONNX Runtime environment, created once from the library, or why not.
fn environment() -> Result<&'static ort::environment::Environment, String> {
    static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            let path = std::env::var(LIBRARY_VARIABLE)
                .map_err(|_| format!("{LIBRARY_VARIABLE} is not set"))?;
            ort::init_from(&path)
                .map_err(|e| format!("cannot load ONNX Runtime from {path}: {e}"))?
                .with_name("galley")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Whether ONNX Runtime can be used in this process.
pub fn available() -> bool {
    environment().is_ok()
}

/// One model in an ONNX Runtime session. ONNX Runtime parallelises inside a run, so one run at a
/// time per model is enough.
pub struct OrtSession(Mutex<Session>);

impl OrtSession {
    pub fn load(bytes: &[u8]) -> Result<OrtSession, OnnxError> {
        let environment = environment().map_err(OnnxError::Unsupported)?;
        let session = Session::builder(environment)
            .and_then(|mut builder| builder.commit_from_memory(bytes))
            .map_err(|e| {
                OnnxError::Unsupported(format!("ONNX Runtime cannot load the model: {e}"))
            })?;
        Ok(OrtSession(Mutex::new(session)))
    }

    /// Runs `inputs` (in the signature's order, already checked) and answers the signature's
    /// outputs in order.
    pub fn run(
        &self,
        input_specs: &[TensorSpec],
        inputs: Vec<Tensor>,
        output_specs: &[TensorSpec],
    ) -> Result<Vec<(String, Tensor)>, OnnxError> {
        let values = input_specs
            .iter()
            .zip(inputs)
            .map(|(spec, tensor)| Ok((spec.name.clone(), to_ort(tensor)?)))
            .collect::<Result<Vec<(String, DynValue)>, OnnxError>>()?;
        let mut session = self
            .0
            .lock()
            .map_err(|_| OnnxError::Inference("an earlier run panicked".to_owned()))?;
        let outputs = session
            .run(values)
            .map_err(|e| OnnxError::Inference(format!("ONNX Runtime: {e}")))?;
        output_specs
            .iter()
            .map(|spec| {
                let value = outputs.get(spec.name.as_str()).ok_or_else(|| {
                    OnnxError::Inference(format!("ONNX Runtime gave no output '{}'", spec.name))
                })?;
                Ok((spec.name.clone(), from_ort(&spec.name, value)?))
            })
            .collect()
    }
}

fn to_ort(tensor: Tensor) -> Result<DynValue, OnnxError> {
    let shape: Vec<i64> = tensor.shape.iter().map(|&d| d as i64).collect();
    macro_rules! value {
        ($data:expr) => {
            OrtTensor::from_array((shape, $data))
                .map(|t| t.into_dyn())
                .map_err(|e| OnnxError::InvalidInput(format!("ONNX Runtime input: {e}")))
        };
    }
    match tensor.data {
        TensorData::Bool(v) => value!(v),
        TensorData::Uint8(v) => value!(v),
        TensorData::Uint16(v) => value!(v),
        TensorData::Uint32(v) => value!(v),
        TensorData::Uint64(v) => value!(v),
        TensorData::Int8(v) => value!(v),
        TensorData::Int16(v) => value!(v),
        TensorData::Int32(v) => value!(v),
        TensorData::Int64(v) => value!(v),
        TensorData::Fp32(v) => value!(v),
        TensorData::Fp64(v) => value!(v),
        TensorData::Bytes(_) => Err(OnnxError::Unsupported(
            "string inputs are not passed to ONNX Runtime".to_owned(),
        )),
    }
}

/// ZipMap's sequence of per-row class → probability maps, as the [N, classes] FP32 tensor the
/// signature (and tract) give: columns in class order.
fn zipmap_rows(name: &str, value: &DynValue) -> Result<Tensor, OnnxError> {
    let failed = |e: ort::Error| OnnxError::Inference(format!("output '{name}': {e}"));
    let maps = value
        .try_extract_sequence::<DynValueTypeMarker>()
        .map_err(failed)?;
    let mut data = Vec::new();
    let mut classes = 0;
    for map in &maps {
        let mut row: Vec<(String, f32)> = match map.try_extract_key_values::<i64, f32>() {
            Ok(pairs) => {
                let mut pairs = pairs;
                pairs.sort_by_key(|(class, _)| *class);
                pairs.into_iter().map(|(c, p)| (c.to_string(), p)).collect()
            }
            Err(_) => {
                let mut pairs = map
                    .try_extract_key_values::<String, f32>()
                    .map_err(failed)?;
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                pairs
            }
        };
        classes = row.len();
        data.extend(row.drain(..).map(|(_, p)| p));
    }
    Tensor::new(vec![maps.len(), classes], data)
}

fn from_ort(name: &str, value: &DynValue) -> Result<Tensor, OnnxError> {
    let unsupported = |what: String| OnnxError::Unsupported(format!("output '{name}': {what}"));
    let ty = match value.dtype() {
        ValueType::Tensor { ty, .. } => *ty,
        ValueType::Sequence(inner) if matches!(**inner, ValueType::Map { .. }) => {
            return zipmap_rows(name, value)
        }
        other => return Err(unsupported(format!("{other:?} is not a tensor"))),
    };
    macro_rules! tensor {
        ($t:ty) => {{
            let (shape, data) = value
                .try_extract_tensor::<$t>()
                .map_err(|e| OnnxError::Inference(format!("output '{name}': {e}")))?;
            let shape: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            Tensor::new(shape, data.to_vec())
        }};
    }
    match ty {
        TensorElementType::Bool => tensor!(bool),
        TensorElementType::Uint8 => tensor!(u8),
        TensorElementType::Uint16 => tensor!(u16),
        TensorElementType::Uint32 => tensor!(u32),
        TensorElementType::Uint64 => tensor!(u64),
        TensorElementType::Int8 => tensor!(i8),
        TensorElementType::Int16 => tensor!(i16),
        TensorElementType::Int32 => tensor!(i32),
        TensorElementType::Int64 => tensor!(i64),
        TensorElementType::Float32 => tensor!(f32),
        TensorElementType::Float64 => tensor!(f64),
        other => Err(unsupported(format!("{other:?} has no V2 datatype"))),
    }
}
