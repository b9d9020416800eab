//! `OnnxModel`: loading an ONNX model into an optimized tract plan with symbolic free dimensions,
//! and running it on caller tensors after checking them against the signature.

use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tract_onnx::pb::tensor_proto::DataLocation;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{GraphProto, ModelProto};
use tract_onnx::prelude::*;

use crate::ops::{self, BadValue};
use crate::signature::{decode, graph};
use crate::{DType, OnnxError, Signature, Tensor};

/// A loaded model, ready to run. Cloning is cheap (the plan is shared), and `run` takes `&self`,
/// so one model can serve many threads at once: each run gets its own scratch state.
#[derive(Clone)]
pub struct OnnxModel {
    inner: Arc<Inner>,
}

struct Inner {
    signature: Signature,
    /// Per input, per axis: the fixed size or the symbol standing for it.
    axes: Vec<Vec<Axis>>,
    engine: Engine,
}

/// What runs the model: tract (always there), or ONNX Runtime (the `onnxruntime` feature).
enum Engine {
    Tract(Arc<TypedSimplePlan>),
    #[cfg(feature = "onnxruntime")]
    OnnxRuntime(crate::onnxruntime::OrtSession),
}

/// Set to `onnxruntime` to run every model on ONNX Runtime (a GPU build of it, say) instead of
/// only the models tract cannot run.
#[cfg(feature = "onnxruntime")]
pub const ENGINE_VARIABLE: &str = "GALLEY_ONNX_ENGINE";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Axis {
    Fixed(usize),
    Free(String),
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Axis::Fixed(n) => write!(f, "{n}"),
            Axis::Free(name) => f.write_str(name),
        }
    }
}

impl fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxModel")
            .field("signature", &self.inner.signature)
            .finish_non_exhaustive()
    }
}

/// The symbol shared by every input's first axis when the model leaves it unnamed: the batch.
const BATCH: &str = "N";

impl OnnxModel {
    /// Parses `bytes`, registers Galley's ONNX-ML operators, gives every free dimension a
    /// symbol (the unnamed first axis of every input shares the batch symbol `N`; named ONNX
    /// dimensions keep their names) and builds tract's optimized plan.
    pub fn load(bytes: &[u8]) -> Result<OnnxModel, OnnxError> {
        #[cfg(feature = "onnxruntime")]
        if std::env::var(ENGINE_VARIABLE).is_ok_and(|v| v == "onnxruntime") {
            return Self::load_onnxruntime(bytes);
        }
        let tract = Self::load_tract(bytes);
        #[cfg(feature = "onnxruntime")]
        if let Err(OnnxError::Unsupported(reason)) = &tract {
            if crate::onnxruntime::available() {
                return Self::load_onnxruntime(bytes).map_err(|e| {
                    OnnxError::Unsupported(format!("tract: {reason}; ONNX Runtime: {e}"))
                });
            }
        }
        tract
    }

    fn load_tract(bytes: &[u8]) -> Result<OnnxModel, OnnxError> {
        catch_unwind(AssertUnwindSafe(|| Self::load_unguarded(bytes))).unwrap_or_else(|panic| {
            Err(OnnxError::Unsupported(format!(
                "tract failed on this model: {}",
                panic_message(&panic)
            )))
        })
    }

    #[cfg(feature = "onnxruntime")]
    fn load_onnxruntime(bytes: &[u8]) -> Result<OnnxModel, OnnxError> {
        let proto = decode(bytes)?;
        let signature = Signature::from_proto(&proto)?;
        let axes = input_axes(&proto, &signature)?;
        let session = crate::onnxruntime::OrtSession::load(bytes)?;
        Ok(OnnxModel {
            inner: Arc::new(Inner {
                signature,
                axes,
                engine: Engine::OnnxRuntime(session),
            }),
        })
    }

    /// `tract` or `onnxruntime`: which engine runs this model.
    pub fn engine(&self) -> &'static str {
        match &self.inner.engine {
            Engine::Tract(_) => "tract",
            #[cfg(feature = "onnxruntime")]
            Engine::OnnxRuntime(_) => "onnxruntime",
        }
    }

    fn load_unguarded(bytes: &[u8]) -> Result<OnnxModel, OnnxError> {
        let proto = decode(bytes)?;
        let signature = Signature::from_proto(&proto)?;
        refuse_external_data(graph(&proto)?)?;
        let onnx = ops::onnx();
        refuse_unknown_operators(&onnx, graph(&proto)?)?;

        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| OnnxError::InvalidModel(format!("{e:#}")))?;
        let axes = input_axes(&proto, &signature)?;
        if model.inputs.len() != signature.inputs.len() {
            return Err(OnnxError::Unsupported(format!(
                "tract sees {} inputs, the graph declares {}",
                model.inputs.len(),
                signature.inputs.len()
            )));
        }
        for (ix, (spec, axes)) in signature.inputs.iter().zip(&axes).enumerate() {
            let shape: TVec<TDim> = axes
                .iter()
                .map(|axis| match axis {
                    Axis::Fixed(n) => n.to_dim(),
                    Axis::Free(name) => TDim::from(model.symbols.sym(name)),
                })
                .collect();
            model
                .set_input_fact(ix, InferenceFact::dt_shape(spec.dtype.datum_type(), shape))
                .map_err(|e| OnnxError::Unsupported(format!("input '{}': {e:#}", spec.name)))?;
        }
        let plan = model
            .into_optimized()
            .and_then(|typed| typed.into_runnable())
            .map_err(|e| OnnxError::Unsupported(format!("{e:#}")))?;
        for (ix, spec) in signature.outputs.iter().enumerate() {
            let fact = plan
                .model()
                .output_fact(ix)
                .map_err(|e| OnnxError::Unsupported(format!("{e:#}")))?;
            if DType::from_datum_type(fact.datum_type).is_none()
                && fact.datum_type != DatumType::TDim
            {
                return Err(OnnxError::Unsupported(format!(
                    "output '{}' is computed as {:?}, which has no V2 datatype",
                    spec.name, fact.datum_type
                )));
            }
        }
        Ok(OnnxModel {
            inner: Arc::new(Inner {
                signature,
                axes,
                engine: Engine::Tract(plan),
            }),
        })
    }

    pub fn signature(&self) -> &Signature {
        &self.inner.signature
    }

    /// Runs the model. `inputs` must name every input of the signature once, with its datatype,
    /// rank and fixed dimensions; dimensions sharing a symbol (the batch) must agree. Outputs
    /// come back in the signature's order, with its datatypes.
    pub fn run(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>, OnnxError> {
        let ordered = self.check_inputs(inputs)?;
        // One engine without the `onnxruntime` feature, two with it.
        #[cfg_attr(
            not(feature = "onnxruntime"),
            allow(clippy::infallible_destructuring_match)
        )]
        let plan = match &self.inner.engine {
            Engine::Tract(plan) => plan,
            #[cfg(feature = "onnxruntime")]
            Engine::OnnxRuntime(session) => {
                let signature = &self.inner.signature;
                return session.run(&signature.inputs, ordered, &signature.outputs);
            }
        };
        let values = ordered
            .into_iter()
            .map(|t| t.into_tract().map(IntoTValue::into_tvalue))
            .collect::<Result<TVec<_>, _>>()?;
        let outputs = catch_unwind(AssertUnwindSafe(|| plan.run(values)))
            .map_err(|panic| {
                OnnxError::Inference(format!("tract failed: {}", panic_message(&panic)))
            })?
            .map_err(run_error)?;
        self.inner
            .signature
            .outputs
            .iter()
            .zip(outputs)
            .map(|(spec, value)| {
                let value = value
                    .cast_to_dt(spec.dtype.datum_type())
                    .map_err(|e| OnnxError::Inference(format!("output '{}': {e:#}", spec.name)))?;
                Ok((spec.name.clone(), Tensor::from_tract(&value)?))
            })
            .collect()
    }

    /// Puts the inputs in the signature's order after checking names, datatypes and shapes.
    fn check_inputs(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<Tensor>, OnnxError> {
        let specs = &self.inner.signature.inputs;
        let mut slots: Vec<Option<Tensor>> = vec![None; specs.len()];
        for (name, tensor) in inputs {
            let Some(ix) = specs.iter().position(|s| s.name == name) else {
                let known = specs
                    .iter()
                    .map(|s| format!("'{}'", s.name))
                    .collect::<Vec<_>>();
                return Err(OnnxError::InvalidInput(format!(
                    "unknown input '{name}'; the model's inputs are {}",
                    known.join(", ")
                )));
            };
            if slots[ix].is_some() {
                return Err(OnnxError::InvalidInput(format!(
                    "input '{name}' is given twice"
                )));
            }
            tensor
                .check()
                .map_err(|e| OnnxError::InvalidInput(format!("input '{name}': {e}")))?;
            slots[ix] = Some(tensor);
        }

        let mut bound: HashMap<&str, (usize, &str)> = HashMap::new();
        let mut ordered = Vec::with_capacity(specs.len());
        for ((spec, axes), slot) in specs.iter().zip(&self.inner.axes).zip(slots) {
            let expected = || {
                let dims = axes.iter().map(ToString::to_string).collect::<Vec<_>>();
                format!("[{}]", dims.join(", "))
            };
            let name = &spec.name;
            let Some(tensor) = slot else {
                return Err(OnnxError::InvalidInput(format!(
                    "missing input '{name}' ({} {})",
                    spec.dtype,
                    expected()
                )));
            };
            if tensor.dtype != spec.dtype {
                return Err(OnnxError::InvalidInput(format!(
                    "input '{name}' must be {}, got {}",
                    spec.dtype, tensor.dtype
                )));
            }
            if tensor.shape.len() != axes.len() {
                return Err(OnnxError::InvalidInput(format!(
                    "input '{name}' must have shape {}, got {:?} (rank {} instead of {})",
                    expected(),
                    tensor.shape,
                    tensor.shape.len(),
                    axes.len()
                )));
            }
            for (axis, (&size, declared)) in tensor.shape.iter().zip(axes).enumerate() {
                match declared {
                    Axis::Fixed(n) if *n != size => {
                        return Err(OnnxError::InvalidInput(format!(
                            "input '{name}' must have shape {}, got {:?} (dimension {axis} must be {n})",
                            expected(),
                            tensor.shape
                        )))
                    }
                    Axis::Fixed(_) => {}
                    Axis::Free(symbol) => match bound.get(symbol.as_str()) {
                        Some(&(value, other)) if value != size => {
                            return Err(OnnxError::InvalidInput(format!(
                                "input '{name}' has {size} for dimension {symbol} but input '{other}' has {value}"
                            )))
                        }
                        Some(_) => {}
                        None => {
                            bound.insert(symbol, (size, name));
                        }
                    },
                }
            }
            ordered.push(tensor);
        }
        Ok(ordered)
    }
}

fn run_error(error: TractError) -> OnnxError {
    match error
        .chain()
        .find_map(|cause| cause.downcast_ref::<BadValue>())
    {
        Some(bad) => OnnxError::InvalidInput(bad.0.clone()),
        None => OnnxError::Inference(format!("{error:#}")),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// The axes of every signature input, from the graph's declared shapes.
fn input_axes(proto: &ModelProto, signature: &Signature) -> Result<Vec<Vec<Axis>>, OnnxError> {
    let graph = graph(proto)?;
    signature
        .inputs
        .iter()
        .enumerate()
        .map(|(ix, spec)| {
            let declared = graph
                .input
                .iter()
                .find(|i| i.name == spec.name)
                .and_then(|i| i.r#type.as_ref()?.value.as_ref())
                .and_then(|TypeValue::TensorType(t)| t.shape.as_ref())
                .ok_or_else(|| {
                    OnnxError::Unsupported(format!("input '{}' declares no shape", spec.name))
                })?;
            Ok(declared
                .dim
                .iter()
                .enumerate()
                .map(|(axis, dim)| match &dim.value {
                    Some(Dim::DimValue(v)) if *v >= 0 => Axis::Fixed(*v as usize),
                    Some(Dim::DimParam(p)) if is_symbol_name(p) => Axis::Free(p.clone()),
                    _ if axis == 0 => Axis::Free(BATCH.into()),
                    // Unnamed and not the batch: a dimension of its own.
                    _ => Axis::Free(format!("d{ix}_{axis}")),
                })
                .collect())
        })
        .collect()
}

/// Whether an ONNX dim_param can name a tract symbol: a plain identifier, and not one of the
/// `unk__N` placeholders ONNX shape inference makes up.
fn is_symbol_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("unk__")
}

fn refuse_external_data(graph: &GraphProto) -> Result<(), OnnxError> {
    let external = DataLocation::External as i32;
    if let Some(t) = graph
        .initializer
        .iter()
        .find(|t| t.data_location == Some(external))
    {
        return Err(OnnxError::Unsupported(format!(
            "initializer '{}' is stored outside the model file (external data); embed the weights",
            t.name
        )));
    }
    Ok(())
}

/// Names every operator tract (with Galley's additions) cannot build, before tract turns them
/// into placeholders that fail later with a less helpful message.
fn refuse_unknown_operators(onnx: &tract_onnx::Onnx, graph: &GraphProto) -> Result<(), OnnxError> {
    fn walk(onnx: &tract_onnx::Onnx, graph: &GraphProto, missing: &mut Vec<String>) {
        for node in &graph.node {
            if !onnx.op_register.0.contains_key(&node.op_type) {
                let domain = if node.domain.is_empty() {
                    "ai.onnx"
                } else {
                    node.domain.as_str()
                };
                let name = format!("{domain}:{}", node.op_type);
                if !missing.contains(&name) {
                    missing.push(name);
                }
            }
            for attr in &node.attribute {
                for sub in attr.g.iter().chain(&attr.graphs) {
                    walk(onnx, sub, missing);
                }
            }
        }
    }
    let mut missing = vec![];
    walk(onnx, graph, &mut missing);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(OnnxError::Unsupported(format!(
            "operators not supported: {}",
            missing.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_names() {
        assert!(is_symbol_name("batch"));
        assert!(is_symbol_name("s0"));
        assert!(!is_symbol_name("unk__12"));
        assert!(!is_symbol_name("batch*2"));
        assert!(!is_symbol_name(""));
        assert!(!is_symbol_name("0a"));
    }

    #[test]
    fn models_are_shareable() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<OnnxModel>();
    }
}
