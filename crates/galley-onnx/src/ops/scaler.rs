//! Scaler (ai.onnx.ml), which tract-onnx lacks: `(x - offset) * scale` per column, as
//! scikit-learn's StandardScaler, MinMaxScaler and friends export. Output is always f32.

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use super::{as_floats, bad_value, tensor_from_vec, Floats, Kernel};

#[derive(Debug)]
pub(crate) struct Scaler {
    /// Either one value for every column or one per column (the last axis).
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Scaler {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let offset: Vec<f32> = node
            .get_attr_opt_vec("offset")?
            .unwrap_or_else(|| vec![0.0]);
        let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_else(|| vec![1.0]);
        ensure!(
            !offset.is_empty() && !scale.is_empty(),
            "offset and scale must not be empty"
        );
        Ok(Scaler { offset, scale })
    }

    fn pick(values: &[f32], column: usize) -> f32 {
        if values.len() == 1 {
            values[0]
        } else {
            values[column]
        }
    }
}

impl Kernel for Scaler {
    const NAME: &'static str = "Scaler";

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].shape, &inputs[0].shape)
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let columns = input.shape().last().copied().unwrap_or(1);
        for (name, values) in [("offset", &self.offset), ("scale", &self.scale)] {
            if values.len() != 1 && values.len() != columns {
                return bad_value(format!(
                    "Scaler has {} {name} values but rows have {columns} columns",
                    values.len()
                ));
            }
        }
        let column = |i: usize| if columns == 0 { 0 } else { i % columns };
        // onnxruntime computes in the input's precision: f64 stays f64 until the output.
        let out: Vec<f32> = match as_floats(&input)? {
            Floats::F32(x) => x
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    let c = column(i);
                    (x - Self::pick(&self.offset, c)) * Self::pick(&self.scale, c)
                })
                .collect(),
            Floats::F64(x) => x
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    let c = column(i);
                    ((x - f64::from(Self::pick(&self.offset, c)))
                        * f64::from(Self::pick(&self.scale, c))) as f32
                })
                .collect(),
        };
        Ok(tvec!(tensor_from_vec(input.shape(), out)?.into_tvalue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;

    #[test]
    fn scales_per_column_or_uniformly() {
        let per_column = Scaler::parse(&node(
            "Scaler",
            vec![floats("offset", &[1.0, 2.0]), floats("scale", &[2.0, 0.5])],
        ))
        .unwrap();
        let x = tensor_from_vec(&[2, 2], vec![1.0f32, 2.0, 3.0, 6.0]).unwrap();
        assert_eq!(
            slice::<f32>(&eval1(&per_column, x).unwrap()),
            vec![0.0, 0.0, 4.0, 2.0]
        );

        let uniform = Scaler::parse(&node(
            "Scaler",
            vec![floats("offset", &[1.0]), floats("scale", &[3.0])],
        ))
        .unwrap();
        let x = tensor_from_vec(&[1, 3], vec![1i64, 2, 3]).unwrap();
        let y = eval1(&uniform, x).unwrap();
        assert_eq!(y.datum_type(), f32::datum_type());
        assert_eq!(slice::<f32>(&y), vec![0.0, 3.0, 6.0]);

        let x = tensor_from_vec(&[1, 2], vec![0.5f64, f64::NAN]).unwrap();
        let y = slice::<f32>(&eval1(&uniform, x).unwrap());
        assert_eq!(y[0], -1.5);
        assert!(y[1].is_nan());
    }

    #[test]
    fn wrong_column_count_is_a_bad_value() {
        let s = Scaler::parse(&node(
            "Scaler",
            vec![floats("offset", &[1.0, 2.0]), floats("scale", &[1.0])],
        ))
        .unwrap();
        let err = eval1(&s, tensor_from_vec(&[1, 3], vec![0.0f32; 3]).unwrap()).unwrap_err();
        assert!(err.downcast_ref::<crate::ops::BadValue>().is_some());
    }

    #[test]
    fn refuses_empty_attributes() {
        assert!(Scaler::parse(&node("Scaler", vec![floats("offset", &[])])).is_err());
    }
}
