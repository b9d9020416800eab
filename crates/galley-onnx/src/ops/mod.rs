//! Galley's ONNX-ML operators for tract: the parser they are registered into, the adapter that
//! turns a plain kernel into tract's inference and typed operators, and what the kernels share.

pub(crate) mod attrs;
pub(crate) mod imputer;
pub(crate) mod label_encoder;
pub(crate) mod normalizer;
pub(crate) mod one_hot_encoder;
pub(crate) mod post_transform;
pub(crate) mod scaler;
pub(crate) mod tree_ensemble;
pub(crate) mod tree_ensemble_classifier;
pub(crate) mod tree_ensemble_regressor;
pub(crate) mod zipmap;

use std::fmt;
use std::sync::Arc;

use tract_onnx::model::OnnxOpRegister;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

/// tract-onnx's parser with Galley's operators added.
pub(crate) fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    register(&mut onnx.op_register);
    onnx
}

/// Adds Galley's operators to tract-onnx's. tract keys its register by op type alone (not
/// domain), so an entry here replaces tract's operator of the same name. That is deliberate for
/// TreeEnsembleClassifier and Normalizer, whose tract versions disagree with onnxruntime (see
/// their modules).
fn register(reg: &mut OnnxOpRegister) {
    reg.insert("Imputer", |_, node| wrap(imputer::Imputer::parse(node)?));
    reg.insert("LabelEncoder", |_, node| {
        wrap(label_encoder::LabelEncoder::parse(node)?)
    });
    reg.insert("Normalizer", |_, node| {
        wrap(normalizer::Normalizer::parse(node)?)
    });
    reg.insert("OneHotEncoder", |_, node| {
        wrap(one_hot_encoder::OneHotEncoder::parse(node)?)
    });
    reg.insert("Scaler", |_, node| wrap(scaler::Scaler::parse(node)?));
    reg.insert("TreeEnsembleClassifier", |_, node| {
        wrap(tree_ensemble_classifier::TreeEnsembleClassifier::parse(
            node,
        )?)
    });
    reg.insert("TreeEnsembleRegressor", |_, node| {
        wrap(tree_ensemble_regressor::TreeEnsembleRegressor::parse(node)?)
    });
    reg.insert("ZipMap", |_, node| {
        Ok((expand(zipmap::ZipMap::parse(node)?), vec![]))
    });
}

type Built = (Box<dyn InferenceOp>, Vec<String>);

fn wrap<K: Kernel>(kernel: K) -> TractResult<Built> {
    Ok((expand(Expand(Arc::new(kernel))), vec![]))
}

/// A failure caused by the values fed to the model (an unseen category where the model forbids
/// them, a row narrower than the features a tree reads), not by the model or the runtime.
/// `OnnxModel::run` finds it in tract's error chain and reports `OnnxError::InvalidInput`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadValue(pub String);

pub(crate) fn bad_value<T>(message: impl Into<String>) -> TractResult<T> {
    Err(BadValue(message.into()).into())
}

/// What a Galley operator implements: shape and type rules for tract's analysis, output facts
/// for the typed model, and evaluation on whole tensors. Kernels never see tract's graph.
pub(crate) trait Kernel: fmt::Debug + Send + Sync + 'static {
    const NAME: &'static str;
    const INPUTS: usize = 1;
    const OUTPUTS: usize = 1;

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult;

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>>;

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>>;
}

/// The inference-model face of a kernel: it checks arity, runs the kernel's rules, and wires
/// itself as one `Typed` node when tract translates the model.
struct Expand<K>(Arc<K>);

impl<K> Clone for Expand<K> {
    fn clone(&self) -> Self {
        Expand(self.0.clone())
    }
}

impl<K: fmt::Debug> fmt::Debug for Expand<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<K: Kernel> Expansion for Expand<K> {
    fn name(&self) -> StaticName {
        K::NAME.into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(K::OUTPUTS)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, K::INPUTS)?;
        check_output_arity(outputs, K::OUTPUTS)?;
        self.0.rules(s, inputs, outputs)
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, Typed(self.0.clone()), inputs)
    }
}

/// The typed-model face of a kernel.
struct Typed<K>(Arc<K>);

impl<K> Clone for Typed<K> {
    fn clone(&self) -> Self {
        Typed(self.0.clone())
    }
}

impl<K: fmt::Debug> fmt::Debug for Typed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// Equality only lets tract merge identical nodes; two kernels parsed from different nodes are
// kept apart even when equal, which costs nothing for these one-off operators.
impl<K> PartialEq for Typed<K> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<K> Eq for Typed<K> {}

impl<K: Kernel> Op for Typed<K> {
    fn name(&self) -> StaticName {
        K::NAME.into()
    }

    op_as_typed_op!();
}

impl<K: Kernel> EvalOp for Typed<K> {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.0.eval(inputs)
    }
}

impl<K: Kernel> TypedOp for Typed<K> {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.0.output_facts(inputs)
    }

    as_op!();
}

/// The number of columns of a [N, C] (or [C], read as one row) input, and its row count.
pub(crate) fn rows_and_columns(shape: &[usize]) -> TractResult<(usize, usize)> {
    match *shape {
        [c] => Ok((1, c)),
        [n, c] => Ok((n, c)),
        _ => bad_value(format!(
            "expected a tensor of rank 1 or 2, got shape {shape:?}"
        )),
    }
}

/// Reads the input as f32 or f64 values, the two precisions the kernels compute in: doubles stay
/// doubles, every other numeric type becomes f32 as onnxruntime does.
pub(crate) enum Floats<'a> {
    F32(std::borrow::Cow<'a, [f32]>),
    F64(&'a [f64]),
}

pub(crate) fn as_floats(input: &Tensor) -> TractResult<Floats<'_>> {
    if input.datum_type() == f64::datum_type() {
        return Ok(Floats::F64(input.try_as_plain_ram()?.as_slice::<f64>()?));
    }
    if input.datum_type() == f32::datum_type() {
        return Ok(Floats::F32(std::borrow::Cow::Borrowed(
            input.try_as_plain_ram()?.as_slice::<f32>()?,
        )));
    }
    ensure!(
        input.datum_type().is_number(),
        "expected a numeric tensor, got {:?}",
        input.datum_type()
    );
    let cast = input.cast_to::<f32>()?;
    Ok(Floats::F32(std::borrow::Cow::Owned(
        cast.try_as_plain_ram()?.as_slice::<f32>()?.to_vec(),
    )))
}

pub(crate) fn tensor_from_vec<T: Datum>(shape: &[usize], data: Vec<T>) -> TractResult<Tensor> {
    Ok(tract_ndarray::ArrayD::from_shape_vec(shape, data)?.into_tensor())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for NodeProtos and tensors in the kernels' unit tests.
    use tract_onnx::pb::attribute_proto::AttributeType;
    use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};

    use super::*;

    pub(crate) fn node(op_type: &str, attributes: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: op_type.into(),
            name: format!("test_{op_type}"),
            domain: "ai.onnx.ml".into(),
            attribute: attributes,
            ..Default::default()
        }
    }

    fn attr(name: &str, kind: AttributeType) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: kind as i32,
            ..Default::default()
        }
    }

    pub(crate) fn floats(name: &str, values: &[f32]) -> AttributeProto {
        AttributeProto {
            floats: values.to_vec(),
            ..attr(name, AttributeType::Floats)
        }
    }

    pub(crate) fn float(name: &str, value: f32) -> AttributeProto {
        AttributeProto {
            f: value,
            ..attr(name, AttributeType::Float)
        }
    }

    pub(crate) fn ints(name: &str, values: &[i64]) -> AttributeProto {
        AttributeProto {
            ints: values.to_vec(),
            ..attr(name, AttributeType::Ints)
        }
    }

    pub(crate) fn int(name: &str, value: i64) -> AttributeProto {
        AttributeProto {
            i: value,
            ..attr(name, AttributeType::Int)
        }
    }

    pub(crate) fn strings(name: &str, values: &[&str]) -> AttributeProto {
        AttributeProto {
            strings: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..attr(name, AttributeType::Strings)
        }
    }

    pub(crate) fn string(name: &str, value: &str) -> AttributeProto {
        AttributeProto {
            s: value.as_bytes().to_vec(),
            ..attr(name, AttributeType::String)
        }
    }

    pub(crate) fn tensor(name: &str, value: TensorProto) -> AttributeProto {
        AttributeProto {
            t: Some(value),
            ..attr(name, AttributeType::Tensor)
        }
    }

    pub(crate) fn eval1<K: Kernel>(kernel: &K, input: Tensor) -> TractResult<Tensor> {
        let mut outputs = kernel.eval(tvec!(input.into_tvalue()))?;
        Ok(outputs.remove(0).into_tensor())
    }

    pub(crate) fn slice<T: Datum>(tensor: &Tensor) -> Vec<T> {
        tensor
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<T>()
            .unwrap()
            .to_vec()
    }
}
