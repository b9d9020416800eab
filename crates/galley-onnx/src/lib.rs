//! ONNX models in-process through tract: load a model, read its signature, run it on tensors.
//! Knows nothing about HTTP, the registry or databases, and its API exposes no tract type.
//!
//! ```no_run
//! use galley_onnx::{OnnxModel, Tensor};
//! # fn main() -> Result<(), galley_onnx::OnnxError> {
//! let bytes = std::fs::read("model.onnx").unwrap();
//! let model = OnnxModel::load(&bytes)?;
//! let rows = Tensor::new(vec![2, 4], vec![5.1f32, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3])?;
//! for (name, tensor) in model.run(vec![("float_input".into(), rows)])? {
//!     println!("{name}: {:?} {:?}", tensor.shape, tensor.data);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//! - `tensor`: [`Tensor`], [`DType`] (the Open Inference Protocol V2 datatypes) and [`TensorData`].
//! - `signature`: [`Signature`] and [`TensorSpec`], read from the protobuf without building a plan.
//! - `model`: [`OnnxModel`], the optimized plan and input validation.
//! - `error`: [`OnnxError`].
//! - `ops`: the ONNX-ML (`ai.onnx.ml`) operators Galley adds to tract-onnx's parser.
//!
//! # Batch dimension
//! Every free dimension of an input becomes a tract symbol before the plan is optimized, so one
//! plan serves any size. The unnamed first axis of every input shares the symbol `N` (the batch:
//! all inputs must have the same number of rows); dimensions the model names (`batch`, `seq`)
//! keep their names, and dimensions sharing a name must agree.
//!
//! # ONNX-ML operators
//! tract-onnx 0.23 implements LinearClassifier, LinearRegressor, Normalizer, CategoryMapper,
//! TreeEnsembleClassifier and ArrayFeatureExtractor (plus Cast and the other standard operators).
//! Galley adds Scaler, Imputer, OneHotEncoder, LabelEncoder, TreeEnsembleRegressor and ZipMap,
//! and replaces two of tract's where they disagree with onnxruntime: TreeEnsembleClassifier
//! (binary models, base values) and Normalizer (MAX norm, zero rows). Galley's operators follow
//! onnxruntime's behaviour, quirks included, because onnxruntime is what models are validated
//! with; the fixtures compare every model with onnxruntime's outputs.
//!
//! # ZipMap
//! ONNX's ZipMap turns class probabilities into a sequence of {label: probability} maps; tract
//! has no sequence or map values. Galley's ZipMap passes the FP32 [N, C] probability tensor
//! through unchanged, so an output such as skl2onnx's `output_probability` is an FP32 [N, C]
//! tensor whose column j is the probability of the j-th class label (the order of the ZipMap's
//! `classlabels_*` attribute, which is also the order of the model's label output values).
//!
//! # Not supported
//! Sequence and map inputs or outputs (other than ZipMap's), FP16/BF16 inputs and outputs,
//! external weight files, inputs without a declared shape, and ai.onnx.ml operators outside the
//! list above (SVMClassifier, SVMRegressor, Binarizer, FeatureVectorizer, DictVectorizer,
//! CastMap, the opset-5 TreeEnsemble): these fail at load with `OnnxError::Unsupported`, which
//! names the missing operators.

mod error;
mod model;
#[cfg(feature = "onnxruntime")]
pub mod onnxruntime;
mod ops;
mod signature;
mod tensor;

pub use error::OnnxError;
pub use model::OnnxModel;
#[cfg(feature = "onnxruntime")]
pub use model::ENGINE_VARIABLE;
pub use signature::{Signature, TensorSpec};
pub use tensor::{DType, Tensor, TensorData};
