//! Reading ONNX-ML attributes that tract's helpers do not cover: the `*_as_tensor` and `*_tensor`
//! forms (ai.onnx.ml opsets 3 and 4) next to the plain lists they replace.

use tract_onnx::data_resolver::FopenDataResolver;
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;

/// A tensor attribute's values. External data is refused (no model directory is given), so an
/// attribute can never make the loader read a file.
pub(crate) fn tensor_attr(node: &NodeProto, name: &str) -> TractResult<Option<Tensor>> {
    let proto: Option<&TensorProto> = node.get_attr_opt(name)?;
    proto
        .map(|proto| {
            tract_onnx::tensor::load_tensor(&FopenDataResolver, proto, None)
                .with_context(|| format!("reading tensor attribute {name}"))
        })
        .transpose()
}

/// A list of reals given either as `name` (floats) or as `tensor_name` (a float or double
/// tensor), widened to f64 (exactly: every f32 is an f64).
pub(crate) fn reals(
    node: &NodeProto,
    name: &str,
    tensor_name: &str,
) -> TractResult<Option<Vec<f64>>> {
    let listed: Option<Vec<f32>> = node.get_attr_opt_vec(name)?;
    let tensor = tensor_attr(node, tensor_name)?;
    match (listed, tensor) {
        (Some(_), Some(_)) => bail!("{} sets both {name} and {tensor_name}", node.op_type),
        (Some(values), None) => Ok(Some(values.into_iter().map(f64::from).collect())),
        (None, Some(tensor)) => {
            ensure!(
                tensor.datum_type().is_float(),
                "{tensor_name} must be a float or double tensor, got {:?}",
                tensor.datum_type()
            );
            let values = tensor.cast_to::<f64>()?;
            Ok(Some(values.try_as_plain_ram()?.as_slice::<f64>()?.to_vec()))
        }
        (None, None) => Ok(None),
    }
}

/// A list of non-negative integers (ids, indices) as usize.
pub(crate) fn indices(node: &NodeProto, name: &str) -> TractResult<Vec<usize>> {
    let values: Option<Vec<i64>> = node.get_attr_opt_vec(name)?;
    values
        .unwrap_or_default()
        .into_iter()
        .map(|v| usize::try_from(v).map_err(|_| format_err!("{name} holds a negative value: {v}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;
    use tract_onnx::pb::tensor_proto::DataType;

    #[test]
    fn reals_read_either_form() {
        let listed = node("X", vec![floats("v", &[0.5, 2.0])]);
        assert_eq!(
            reals(&listed, "v", "v_as_tensor").unwrap(),
            Some(vec![0.5, 2.0])
        );

        let proto = TensorProto {
            dims: vec![2],
            data_type: DataType::Double as i32,
            double_data: vec![0.1, 0.2],
            ..Default::default()
        };
        let as_tensor = node("X", vec![tensor("v_as_tensor", proto)]);
        assert_eq!(
            reals(&as_tensor, "v", "v_as_tensor").unwrap(),
            Some(vec![0.1, 0.2])
        );

        assert_eq!(reals(&node("X", vec![]), "v", "v_as_tensor").unwrap(), None);
    }

    #[test]
    fn reals_refuse_both_forms_and_integer_tensors() {
        let ints_tensor = TensorProto {
            dims: vec![1],
            data_type: DataType::Int64 as i32,
            int64_data: vec![3],
            ..Default::default()
        };
        let both = node(
            "X",
            vec![
                floats("v", &[1.0]),
                tensor("v_as_tensor", ints_tensor.clone()),
            ],
        );
        assert!(reals(&both, "v", "v_as_tensor").is_err());
        let ints = node("X", vec![tensor("v_as_tensor", ints_tensor)]);
        assert!(reals(&ints, "v", "v_as_tensor").is_err());
    }

    #[test]
    fn external_tensor_attributes_are_refused() {
        let proto = TensorProto {
            dims: vec![1],
            data_type: DataType::Float as i32,
            data_location: Some(tract_onnx::pb::tensor_proto::DataLocation::External as i32),
            external_data: vec![tract_onnx::pb::StringStringEntryProto {
                key: "location".into(),
                value: "/etc/passwd".into(),
            }],
            ..Default::default()
        };
        assert!(tensor_attr(&node("X", vec![tensor("t", proto)]), "t").is_err());
    }

    #[test]
    fn indices_refuse_negative_values() {
        assert_eq!(
            indices(&node("X", vec![ints("i", &[0, 3])]), "i").unwrap(),
            vec![0, 3]
        );
        assert!(indices(&node("X", vec![ints("i", &[-1])]), "i").is_err());
        assert!(indices(&node("X", vec![]), "i").unwrap().is_empty());
    }
}
