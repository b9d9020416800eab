//! Normalizer (ai.onnx.ml), replacing tract-onnx's own: tract's MAX divides by the largest
//! absolute value and clamps norms at 1e-12, while onnxruntime divides by the largest value
//! (negative rows included) and leaves all-zero-norm rows unchanged. This follows onnxruntime,
//! in f32 as it computes.

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use super::{rows_and_columns, tensor_from_vec, Kernel};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Norm {
    Max,
    L1,
    L2,
}

#[derive(Debug)]
pub(crate) struct Normalizer {
    norm: Norm,
}

impl Normalizer {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let norm = match node.get_attr_opt::<&str>("norm")?.unwrap_or("MAX") {
            "MAX" => Norm::Max,
            "L1" => Norm::L1,
            "L2" => Norm::L2,
            other => bail!("unknown norm {other:?}"),
        };
        Ok(Normalizer { norm })
    }

    fn normalize_row(&self, row: &[f32], squares: &[f32], out: &mut [f32]) {
        let divisor = match self.norm {
            Norm::Max => row.iter().copied().fold(f32::MIN, f32::max),
            Norm::L1 => row.iter().map(|x| x.abs()).sum(),
            Norm::L2 => squares.iter().sum(),
        };
        if divisor == 0.0 {
            out.copy_from_slice(row);
            return;
        }
        for (i, (o, &x)) in out.iter_mut().zip(row).enumerate() {
            *o = match self.norm {
                Norm::Max | Norm::L1 => x / divisor,
                Norm::L2 => {
                    let v = (squares[i] / divisor).sqrt();
                    if x < 0.0 {
                        -v
                    } else {
                        v
                    }
                }
            };
        }
    }
}

impl Kernel for Normalizer {
    const NAME: &'static str = "Normalizer";

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
        let (_, columns) = rows_and_columns(input.shape())?;
        let values = input.cast_to::<f32>()?;
        let values = values.try_as_plain_ram()?.as_slice::<f32>()?;
        // onnxruntime squares in the input's precision before rounding to f32.
        let squares: Vec<f32> = if input.datum_type() == f64::datum_type() {
            let doubles = input.try_as_plain_ram()?.as_slice::<f64>()?;
            doubles.iter().map(|x| (x * x) as f32).collect()
        } else {
            values.iter().map(|x| x * x).collect()
        };
        let mut out = vec![0.0f32; values.len()];
        if columns > 0 {
            for ((row, sq), o) in values
                .chunks(columns)
                .zip(squares.chunks(columns))
                .zip(out.chunks_mut(columns))
            {
                self.normalize_row(row, sq, o);
            }
        }
        Ok(tvec!(tensor_from_vec(input.shape(), out)?.into_tvalue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;

    fn run(norm: &str, rows: usize, data: Vec<f32>) -> Vec<f32> {
        let n = Normalizer::parse(&node("Normalizer", vec![string("norm", norm)])).unwrap();
        let columns = data.len() / rows;
        slice::<f32>(&eval1(&n, tensor_from_vec(&[rows, columns], data).unwrap()).unwrap())
    }

    #[test]
    fn max_divides_by_the_largest_signed_value() {
        assert_eq!(
            run("MAX", 2, vec![1.0, -4.0, 2.0, -1.0, -2.0, -4.0]),
            vec![0.5, -2.0, 1.0, 1.0, 2.0, 4.0]
        );
        assert_eq!(run("MAX", 1, vec![0.0, -1.0]), vec![0.0, -1.0]);
    }

    #[test]
    fn l1_and_l2_leave_zero_rows_alone() {
        assert_eq!(
            run("L1", 2, vec![1.0, -3.0, 0.0, 0.0]),
            vec![0.25, -0.75, 0.0, 0.0]
        );
        assert_eq!(
            run("L2", 2, vec![3.0, -4.0, 0.0, 0.0]),
            vec![0.6, -0.8, 0.0, 0.0]
        );
    }

    #[test]
    fn integer_and_double_inputs() {
        let n = Normalizer::parse(&node("Normalizer", vec![string("norm", "L1")])).unwrap();
        let y = eval1(&n, tensor_from_vec(&[1, 2], vec![1i64, 3]).unwrap()).unwrap();
        assert_eq!(slice::<f32>(&y), vec![0.25, 0.75]);
        let n = Normalizer::parse(&node("Normalizer", vec![string("norm", "L2")])).unwrap();
        let y = eval1(&n, tensor_from_vec(&[2], vec![3.0f64, 4.0]).unwrap()).unwrap();
        assert_eq!(slice::<f32>(&y), vec![0.6, 0.8]);
    }

    #[test]
    fn refuses_unknown_norms_and_high_ranks() {
        assert!(Normalizer::parse(&node("Normalizer", vec![string("norm", "L3")])).is_err());
        let n = Normalizer::parse(&node("Normalizer", vec![])).unwrap();
        assert!(eval1(&n, tensor_from_vec(&[1, 1, 1], vec![1.0f32]).unwrap()).is_err());
    }
}
