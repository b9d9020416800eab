//! A model's signature (input and output names, datatypes and shapes) read from the ONNX
//! protobuf alone, without building a runnable plan, so a registry can record it cheaply.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{GraphProto, ModelProto, ValueInfoProto};
use tract_onnx::prelude::Framework;

use crate::ops::zipmap::ZipMap;
use crate::{DType, OnnxError};

/// One input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    /// One entry per axis: the size, or None where the model leaves it free (the batch axis).
    pub shape: Vec<Option<i64>>,
}

/// What a model takes and returns, in the graph's order.
///
/// An output produced by ZipMap (a sequence of maps in ONNX) is described as what galley-onnx
/// returns for it: an FP32 tensor [N, number of class labels].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

impl Signature {
    /// Reads the signature of a serialized ONNX model.
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Signature, OnnxError> {
        Signature::from_proto(&decode(bytes)?)
    }

    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|s| s.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|s| s.name == name)
    }

    pub(crate) fn from_proto(model: &ModelProto) -> Result<Signature, OnnxError> {
        let graph = graph(model)?;
        // Before IR version 4, initializers were also listed as graph inputs; they are weights.
        let initializers: HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .map(|i| declared_spec(i, "input"))
            .collect::<Result<Vec<_>, _>>()?;
        if inputs.is_empty() {
            return Err(OnnxError::Unsupported("the model takes no inputs".into()));
        }
        let outputs = graph
            .output
            .iter()
            .map(|o| output_spec(graph, o))
            .collect::<Result<Vec<_>, _>>()?;
        if outputs.is_empty() {
            return Err(OnnxError::InvalidModel(
                "the model declares no outputs".into(),
            ));
        }
        for (role, specs) in [("input", &inputs), ("output", &outputs)] {
            let mut names = HashSet::new();
            for spec in specs {
                if spec.name.is_empty() {
                    return Err(OnnxError::InvalidModel(format!(
                        "a graph {role} has no name"
                    )));
                }
                if !names.insert(spec.name.as_str()) {
                    return Err(OnnxError::InvalidModel(format!(
                        "graph {role} '{}' is listed twice",
                        spec.name
                    )));
                }
            }
        }
        Ok(Signature { inputs, outputs })
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<ModelProto, OnnxError> {
    // A parser without operators is enough to decode the protobuf.
    tract_onnx::Onnx::default()
        .proto_model_for_read(&mut &*bytes)
        .map_err(|e| OnnxError::InvalidModel(format!("not an ONNX model: {e:#}")))
}

pub(crate) fn graph(model: &ModelProto) -> Result<&GraphProto, OnnxError> {
    model
        .graph
        .as_ref()
        .ok_or_else(|| OnnxError::InvalidModel("the model has no graph".into()))
}

fn declared_spec(value: &ValueInfoProto, role: &str) -> Result<TensorSpec, OnnxError> {
    let name = &value.name;
    let Some(TypeValue::TensorType(tensor)) = value.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(OnnxError::Unsupported(format!(
            "{role} '{name}' is not a tensor (sequences and maps are not supported)"
        )));
    };
    let dtype = elem_dtype(tensor.elem_type).ok_or_else(|| {
        let onnx_name =
            DataType::try_from(tensor.elem_type).map_or("unknown".into(), |d| format!("{d:?}"));
        OnnxError::Unsupported(format!("{role} '{name}' has element type {onnx_name}"))
    })?;
    let shape = tensor
        .shape
        .as_ref()
        .ok_or_else(|| OnnxError::Unsupported(format!("{role} '{name}' declares no shape")))?;
    let shape = shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(Dim::DimValue(v)) if v >= 0 => Some(v),
            _ => None,
        })
        .collect();
    Ok(TensorSpec {
        name: name.clone(),
        dtype,
        shape,
    })
}

fn output_spec(graph: &GraphProto, output: &ValueInfoProto) -> Result<TensorSpec, OnnxError> {
    let zipmap = graph
        .node
        .iter()
        .find(|n| n.op_type == "ZipMap" && n.output.contains(&output.name));
    match zipmap {
        Some(node) => {
            let labels = ZipMap::labels(node)
                .map_err(|e| OnnxError::InvalidModel(format!("ZipMap '{}': {e:#}", node.name)))?;
            Ok(TensorSpec {
                name: output.name.clone(),
                dtype: DType::Fp32,
                shape: vec![None, Some(labels as i64)],
            })
        }
        None => declared_spec(output, "output"),
    }
}

fn elem_dtype(elem_type: i32) -> Option<DType> {
    Some(match DataType::try_from(elem_type).ok()? {
        DataType::Bool => DType::Bool,
        DataType::Uint8 => DType::Uint8,
        DataType::Uint16 => DType::Uint16,
        DataType::Uint32 => DType::Uint32,
        DataType::Uint64 => DType::Uint64,
        DataType::Int8 => DType::Int8,
        DataType::Int16 => DType::Int16,
        DataType::Int32 => DType::Int32,
        DataType::Int64 => DType::Int64,
        DataType::Float => DType::Fp32,
        DataType::Double => DType::Fp64,
        DataType::String => DType::Bytes,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_invalid_model() {
        assert!(matches!(
            Signature::from_onnx_bytes(b"definitely not protobuf \xff\xff"),
            Err(OnnxError::InvalidModel(_))
        ));
        // Valid protobuf, but no graph.
        assert!(matches!(
            Signature::from_onnx_bytes(&[]),
            Err(OnnxError::InvalidModel(_))
        ));
    }

    #[test]
    fn serializes_dtypes_as_v2_strings() {
        let signature = Signature {
            inputs: vec![TensorSpec {
                name: "x".into(),
                dtype: DType::Fp32,
                shape: vec![None, Some(4)],
            }],
            outputs: vec![TensorSpec {
                name: "y".into(),
                dtype: DType::Int64,
                shape: vec![None],
            }],
        };
        let json = serde_json::to_string(&signature).unwrap();
        assert_eq!(
            json,
            r#"{"inputs":[{"name":"x","dtype":"FP32","shape":[null,4]}],"outputs":[{"name":"y","dtype":"INT64","shape":[null]}]}"#
        );
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), signature);
    }
}
