//! Imputer (ai.onnx.ml), which tract-onnx lacks: replaces a sentinel (NaN by default for
//! scikit-learn's SimpleImputer) with a per-column or uniform value. Floats use
//! `imputed_value_floats`/`replaced_value_float`, integers the `_int64` pair; the output keeps the
//! input's type and shape.

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use super::{bad_value, tensor_from_vec, Kernel};

#[derive(Debug)]
pub(crate) struct Imputer {
    floats: Vec<f32>,
    replaced_float: f32,
    ints: Vec<i64>,
    replaced_int: i64,
}

impl Imputer {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let floats: Vec<f32> = node
            .get_attr_opt_vec("imputed_value_floats")?
            .unwrap_or_default();
        let ints: Vec<i64> = node
            .get_attr_opt_vec("imputed_value_int64s")?
            .unwrap_or_default();
        ensure!(
            floats.is_empty() != ints.is_empty(),
            "exactly one of imputed_value_floats and imputed_value_int64s must be set"
        );
        Ok(Imputer {
            floats,
            replaced_float: node.get_attr_opt("replaced_value_float")?.unwrap_or(0.0),
            ints,
            replaced_int: node.get_attr_opt("replaced_value_int64")?.unwrap_or(0),
        })
    }

    fn impute<T: Datum + Copy>(
        input: &Tensor,
        imputed: &[T],
        is_replaced: impl Fn(T) -> bool,
    ) -> TractResult<Tensor> {
        let columns = input.shape().last().copied().unwrap_or(1);
        if imputed.len() != 1 && imputed.len() != columns {
            return bad_value(format!(
                "Imputer has {} values but rows have {columns} columns",
                imputed.len()
            ));
        }
        let values = input.try_as_plain_ram()?.as_slice::<T>()?;
        let out = values
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if is_replaced(x) {
                    imputed[if imputed.len() == 1 { 0 } else { i % columns }]
                } else {
                    x
                }
            })
            .collect();
        tensor_from_vec(input.shape(), out)
    }

    fn float_test<T: Copy + Into<f64>>(&self) -> impl Fn(T) -> bool + '_ {
        move |x: T| {
            let x: f64 = x.into();
            if self.replaced_float.is_nan() {
                x.is_nan()
            } else {
                x == f64::from(self.replaced_float)
            }
        }
    }

    fn need<'a, T>(values: &'a [T], kind: &str) -> TractResult<&'a [T]> {
        ensure!(
            !values.is_empty(),
            "Imputer has no imputed_value_{kind} for this input type"
        );
        Ok(values)
    }
}

impl Kernel for Imputer {
    const NAME: &'static str = "Imputer";

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[0].shape, &inputs[0].shape)
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let dt = input.datum_type();
        let out = if dt == f32::datum_type() {
            Self::impute(
                &input,
                Self::need(&self.floats, "floats")?,
                self.float_test::<f32>(),
            )?
        } else if dt == f64::datum_type() {
            let imputed: Vec<f64> = Self::need(&self.floats, "floats")?
                .iter()
                .map(|&v| v.into())
                .collect();
            Self::impute(&input, &imputed, self.float_test::<f64>())?
        } else if dt == i64::datum_type() {
            Self::impute(&input, Self::need(&self.ints, "int64s")?, |x: i64| {
                x == self.replaced_int
            })?
        } else if dt == i32::datum_type() {
            let imputed = Self::need(&self.ints, "int64s")?
                .iter()
                .map(|&v| i32::try_from(v).context("imputed value does not fit int32"))
                .collect::<TractResult<Vec<i32>>>()?;
            Self::impute(&input, &imputed, |x: i32| i64::from(x) == self.replaced_int)?
        } else {
            bail!("Imputer does not support {dt:?} inputs");
        };
        Ok(tvec!(out.into_tvalue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;

    #[test]
    fn replaces_nan_per_column() {
        let imputer = Imputer::parse(&node(
            "Imputer",
            vec![
                floats("imputed_value_floats", &[1.0, 2.0]),
                float("replaced_value_float", f32::NAN),
            ],
        ))
        .unwrap();
        let x = tensor_from_vec(&[2, 2], vec![f32::NAN, 5.0, 6.0, f32::NAN]).unwrap();
        assert_eq!(
            slice::<f32>(&eval1(&imputer, x).unwrap()),
            vec![1.0, 5.0, 6.0, 2.0]
        );
        let x = tensor_from_vec(&[1, 2], vec![f64::NAN, 0.0]).unwrap();
        let y = eval1(&imputer, x).unwrap();
        assert_eq!(y.datum_type(), f64::datum_type());
        assert_eq!(slice::<f64>(&y), vec![1.0, 0.0]);
    }

    #[test]
    fn replaces_a_sentinel_value() {
        let imputer = Imputer::parse(&node(
            "Imputer",
            vec![
                ints("imputed_value_int64s", &[7]),
                int("replaced_value_int64", -1),
            ],
        ))
        .unwrap();
        let x = tensor_from_vec(&[3], vec![-1i64, 0, -1]).unwrap();
        assert_eq!(slice::<i64>(&eval1(&imputer, x).unwrap()), vec![7, 0, 7]);
        // Floats need imputed_value_floats.
        assert!(eval1(&imputer, tensor_from_vec(&[1], vec![0.0f32]).unwrap()).is_err());
        // The default replaced float is 0.
        let zero = Imputer::parse(&node(
            "Imputer",
            vec![floats("imputed_value_floats", &[9.0])],
        ))
        .unwrap();
        let x = tensor_from_vec(&[2], vec![0.0f32, f32::NAN]).unwrap();
        let y = slice::<f32>(&eval1(&zero, x).unwrap());
        assert_eq!(y[0], 9.0);
        assert!(y[1].is_nan());
    }

    #[test]
    fn refuses_ambiguous_attributes_and_wrong_widths() {
        assert!(Imputer::parse(&node("Imputer", vec![])).is_err());
        let both = vec![
            floats("imputed_value_floats", &[1.0]),
            ints("imputed_value_int64s", &[1]),
        ];
        assert!(Imputer::parse(&node("Imputer", both)).is_err());
        let imputer = Imputer::parse(&node(
            "Imputer",
            vec![floats("imputed_value_floats", &[1.0, 2.0])],
        ))
        .unwrap();
        let err = eval1(&imputer, tensor_from_vec(&[1, 3], vec![0.0f32; 3]).unwrap()).unwrap_err();
        assert!(err.downcast_ref::<crate::ops::BadValue>().is_some());
    }
}
