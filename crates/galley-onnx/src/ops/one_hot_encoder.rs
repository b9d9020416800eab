//! OneHotEncoder (ai.onnx.ml), which tract-onnx lacks (tract has the standard OneHot, a
//! different operator): each element becomes a row of `C` floats with a 1 at its category's
//! position, so the output shape is the input's plus a last axis of size C.
//!
//! An unknown category gives a row of zeros when `zeros` is 1 (the default, and scikit-learn's
//! `handle_unknown="ignore"`); with `zeros` 0 it is an input error.

use std::collections::HashMap;

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use super::{bad_value, tensor_from_vec, Kernel};

#[derive(Debug)]
pub(crate) enum Categories {
    Int64(HashMap<i64, usize>),
    Strings(HashMap<String, usize>),
}

#[derive(Debug)]
pub(crate) struct OneHotEncoder {
    categories: Categories,
    count: usize,
    unknown_is_zeros: bool,
}

fn positions<K: std::hash::Hash + Eq>(keys: impl IntoIterator<Item = K>) -> HashMap<K, usize> {
    let mut map = HashMap::new();
    for (i, k) in keys.into_iter().enumerate() {
        map.entry(k).or_insert(i);
    }
    map
}

impl OneHotEncoder {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let ints: Option<Vec<i64>> = node.get_attr_opt_vec("cats_int64s")?;
        let strings: Option<Vec<String>> = node.get_attr_opt_vec("cats_strings")?;
        let (categories, count) = match (ints, strings) {
            (Some(ints), None) => (
                Categories::Int64(positions(ints.iter().copied())),
                ints.len(),
            ),
            (None, Some(strings)) => {
                let count = strings.len();
                (Categories::Strings(positions(strings)), count)
            }
            _ => bail!("exactly one of cats_int64s and cats_strings must be set"),
        };
        ensure!(count > 0, "OneHotEncoder has no categories");
        let zeros: i64 = node.get_attr_opt("zeros")?.unwrap_or(1);
        Ok(OneHotEncoder {
            categories,
            count,
            unknown_is_zeros: zeros != 0,
        })
    }

    fn encode<K: std::fmt::Debug>(
        &self,
        keys: impl Iterator<Item = K>,
        position: impl Fn(&K) -> Option<usize>,
        out: &mut [f32],
    ) -> TractResult<()> {
        for (key, row) in keys.zip(out.chunks_mut(self.count)) {
            match position(&key) {
                Some(p) => row[p] = 1.0,
                None if self.unknown_is_zeros => {}
                None => return bad_value(format!("OneHotEncoder: unknown category {key:?}")),
            }
        }
        Ok(())
    }
}

impl Kernel for OneHotEncoder {
    const NAME: &'static str = "OneHotEncoder";

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].rank, inputs[0].rank.bex() + 1)?;
        s.given(&inputs[0].rank, move |s, rank| {
            let rank = rank as usize;
            for axis in 0..rank {
                s.equals(&outputs[0].shape[axis], &inputs[0].shape[axis])?;
            }
            s.equals(&outputs[0].shape[rank], self.count.to_dim())
        })
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        shape.push(self.count.to_dim());
        Ok(tvec!(f32::fact(shape)))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let mut shape = input.shape().to_vec();
        shape.push(self.count);
        let mut out = vec![0.0f32; input.len() * self.count];
        let dt = input.datum_type();
        match &self.categories {
            Categories::Strings(map) => {
                ensure!(
                    dt == DatumType::String,
                    "OneHotEncoder with cats_strings needs strings, got {dt:?}"
                );
                let values = input.try_as_plain_ram()?.as_slice::<String>()?;
                self.encode(values.iter(), |k| map.get(*k).copied(), &mut out)?;
            }
            Categories::Int64(map) if dt.is_float() => {
                // onnxruntime truncates floats to int64; NaN is no category.
                let values = input.cast_to::<f64>()?;
                let values = values.try_as_plain_ram()?.as_slice::<f64>()?;
                self.encode(
                    values.iter().copied(),
                    |&k| {
                        if k.is_nan() {
                            None
                        } else {
                            map.get(&(k as i64)).copied()
                        }
                    },
                    &mut out,
                )?;
            }
            Categories::Int64(map) if dt.is_integer() => {
                let values = input.cast_to::<i64>()?;
                let values = values.try_as_plain_ram()?.as_slice::<i64>()?;
                self.encode(values.iter().copied(), |k| map.get(k).copied(), &mut out)?;
            }
            Categories::Int64(_) => {
                bail!("OneHotEncoder with cats_int64s needs numbers, got {dt:?}")
            }
        }
        Ok(tvec!(tensor_from_vec(&shape, out)?.into_tvalue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;

    #[test]
    fn strings_become_rows() {
        let e = OneHotEncoder::parse(&node(
            "OneHotEncoder",
            vec![strings("cats_strings", &["a", "b", "c"])],
        ))
        .unwrap();
        let x = tensor_from_vec(&[2, 1], vec!["c".to_string(), "z".to_string()]).unwrap();
        let y = eval1(&e, x).unwrap();
        assert_eq!(y.shape(), &[2, 1, 3]);
        assert_eq!(slice::<f32>(&y), vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn numbers_use_int64_categories() {
        let e = OneHotEncoder::parse(&node("OneHotEncoder", vec![ints("cats_int64s", &[3, 7])]))
            .unwrap();
        let y = eval1(
            &e,
            tensor_from_vec(&[3], vec![7.9f32, 3.0, f32::NAN]).unwrap(),
        )
        .unwrap();
        assert_eq!(slice::<f32>(&y), vec![0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
        let y = eval1(&e, tensor_from_vec(&[1], vec![3i32]).unwrap()).unwrap();
        assert_eq!(slice::<f32>(&y), vec![1.0, 0.0]);
        assert!(eval1(&e, tensor_from_vec(&[1], vec!["3".to_string()]).unwrap()).is_err());
    }

    #[test]
    fn unknown_categories_can_be_errors() {
        let e = OneHotEncoder::parse(&node(
            "OneHotEncoder",
            vec![strings("cats_strings", &["a"]), int("zeros", 0)],
        ))
        .unwrap();
        let err = eval1(&e, tensor_from_vec(&[1], vec!["b".to_string()]).unwrap()).unwrap_err();
        assert!(err.downcast_ref::<crate::ops::BadValue>().is_some());
        assert!(format!("{err}").contains("\"b\""), "{err}");
    }

    #[test]
    fn refuses_missing_or_double_categories() {
        assert!(OneHotEncoder::parse(&node("OneHotEncoder", vec![])).is_err());
        let both = vec![strings("cats_strings", &["a"]), ints("cats_int64s", &[1])];
        assert!(OneHotEncoder::parse(&node("OneHotEncoder", both)).is_err());
        assert!(
            OneHotEncoder::parse(&node("OneHotEncoder", vec![ints("cats_int64s", &[])])).is_err()
        );
    }
}
