//! ZipMap (ai.onnx.ml), which tract-onnx lacks: in ONNX it turns a [N, C] probability tensor into
//! a sequence of N {class label: probability} maps. tract has no sequence or map values, so Galley
//! passes the [N, C] tensor through unchanged; column j is the probability of the j-th label in
//! the node's `classlabels_*` attribute (the same order onnxruntime's maps iterate in).

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::identity::Identity;
use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone)]
pub(crate) struct ZipMap {
    labels: usize,
}

impl ZipMap {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let ints: Option<Vec<i64>> = node.get_attr_opt_vec("classlabels_int64s")?;
        let strings: Option<Vec<String>> = node.get_attr_opt_vec("classlabels_strings")?;
        let labels = match (ints, strings) {
            (Some(ints), None) => ints.len(),
            (None, Some(strings)) => strings.len(),
            _ => bail!("exactly one of classlabels_int64s and classlabels_strings must be set"),
        };
        Ok(ZipMap { labels })
    }

    /// The number of class labels, i.e. of columns in the probability tensor.
    pub(crate) fn labels(node: &NodeProto) -> TractResult<usize> {
        Ok(Self::parse(node)?.labels)
    }
}

impl Expansion for ZipMap {
    fn name(&self) -> StaticName {
        "ZipMap".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&inputs[0].shape[1], self.labels.to_dim())?;
        s.equals(&outputs[0].shape, &inputs[0].shape)
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, Identity, inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;

    #[test]
    fn counts_labels_of_either_kind() {
        let ints = node("ZipMap", vec![ints("classlabels_int64s", &[0, 1, 2])]);
        assert_eq!(ZipMap::labels(&ints).unwrap(), 3);
        let strings = node("ZipMap", vec![strings("classlabels_strings", &["a", "b"])]);
        assert_eq!(ZipMap::labels(&strings).unwrap(), 2);
        assert!(ZipMap::parse(&node("ZipMap", vec![])).is_err());
    }
}
