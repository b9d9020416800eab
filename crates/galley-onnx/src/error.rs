//! `OnnxError`: every way loading or running a model can fail, sorted by whose fault it is so a
//! caller can answer "bad request" for `InvalidInput` and "unprocessable model" for the others.

/// A failure to read, prepare or run an ONNX model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    /// The bytes are not an ONNX model, or the model is inconsistent (a node's attributes
    /// contradict each other, a tree points to a missing node, ...).
    #[error("invalid ONNX model: {0}")]
    InvalidModel(String),
    /// A valid model that uses something galley-onnx cannot run: an operator, a datatype,
    /// external weights, a shape tract cannot analyse.
    #[error("unsupported ONNX model: {0}")]
    Unsupported(String),
    /// The caller's tensors do not match the model's signature, or hold values the model
    /// refuses (an unknown category where the model forbids them).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Inference failed for a reason that is neither the model's nor the input's fault.
    #[error("inference failed: {0}")]
    Inference(String),
}
