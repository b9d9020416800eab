//! TreeEnsembleRegressor (ai.onnx.ml), which tract-onnx lacks: random forests, gradient boosting
//! and other tree regressors, aggregated and post-transformed as onnxruntime does.
//!
//! onnxruntime's rules this follows, all checked against it (tree_ensemble_variants fixture):
//! - one target: every tree contributes the first weight listed on the leaf it reaches (0 when
//!   the leaf has none); `base_values[0]` is added; only PROBIT is applied, other transforms are
//!   ignored;
//! - several targets: all of a leaf's weights count; a target no leaf scored is output as 0 even
//!   when it has a base value; the transform is applied across the targets of a row.

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use super::post_transform::{probit, PostTransform};
use super::tree_ensemble::{Ensemble, Real};
use super::{as_floats, attrs, rows_and_columns, tensor_from_vec, Floats, Kernel};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Debug)]
pub(crate) struct TreeEnsembleRegressor {
    ensemble: Ensemble,
    targets: usize,
    aggregate: Aggregate,
    base_values: Vec<f64>,
    post_transform: PostTransform,
}

impl TreeEnsembleRegressor {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
        ensure!(targets >= 1, "n_targets must be at least 1, got {targets}");
        let targets = targets as usize;
        let aggregate = match node
            .get_attr_opt::<&str>("aggregate_function")?
            .unwrap_or("SUM")
        {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => bail!("unknown aggregate_function {other:?}"),
        };
        let base_values =
            attrs::reals(node, "base_values", "base_values_as_tensor")?.unwrap_or_default();
        ensure!(
            base_values.is_empty() || base_values.len() == targets,
            "base_values has {} values, expected 0 or {targets}",
            base_values.len()
        );
        let post_transform = PostTransform::parse(node.get_attr_opt("post_transform")?)?;
        let ensemble = Ensemble::parse(node, "target", targets)?;
        Ok(TreeEnsembleRegressor {
            ensemble,
            targets,
            aggregate,
            base_values,
            post_transform,
        })
    }

    fn predict<T: Real>(&self, row: &[T], out: &mut [f32]) {
        if self.targets == 1 {
            out[0] = self.predict_one(row);
        } else {
            self.predict_many(row, out);
        }
    }

    fn predict_one<T: Real>(&self, row: &[T]) -> f32 {
        let trees = self.ensemble.trees();
        let leaf_values = (0..trees).map(|tree| {
            self.ensemble
                .leaf(tree, row)
                .first()
                .map_or(0.0, |w| w.value)
        });
        let score = match self.aggregate {
            Aggregate::Sum => leaf_values.sum(),
            Aggregate::Average => leaf_values.sum::<f64>() / trees as f64,
            Aggregate::Min => leaf_values.fold(f64::INFINITY, f64::min),
            Aggregate::Max => leaf_values.fold(f64::NEG_INFINITY, f64::max),
        };
        let score = (score + self.base_values.first().copied().unwrap_or(0.0)) as f32;
        if self.post_transform == PostTransform::Probit {
            probit(score)
        } else {
            score
        }
    }

    fn predict_many<T: Real>(&self, row: &[T], out: &mut [f32]) {
        let mut scores = vec![0.0f64; self.targets];
        let mut scored = vec![false; self.targets];
        for tree in 0..self.ensemble.trees() {
            for w in self.ensemble.leaf(tree, row) {
                let (s, has) = (&mut scores[w.output], &mut scored[w.output]);
                *s = match self.aggregate {
                    Aggregate::Sum | Aggregate::Average => *s + w.value,
                    Aggregate::Min if *has => s.min(w.value),
                    Aggregate::Max if *has => s.max(w.value),
                    Aggregate::Min | Aggregate::Max => w.value,
                };
                *has = true;
            }
        }
        let trees = self.ensemble.trees() as f64;
        for (j, out) in out.iter_mut().enumerate() {
            let base = self.base_values.get(j).copied().unwrap_or(0.0);
            let score = match self.aggregate {
                Aggregate::Average => scores[j] / trees + base,
                _ => scores[j] + base,
            };
            *out = if scored[j] { score as f32 } else { 0.0 };
        }
        self.post_transform.apply(out);
    }

    fn predict_all<T: Real>(&self, values: &[T], rows: usize, columns: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; rows * self.targets];
        if columns > 0 {
            for (row, out) in values.chunks(columns).zip(out.chunks_mut(self.targets)) {
                self.predict(row, out);
            }
        } else {
            out.chunks_mut(self.targets)
                .for_each(|out| self.predict::<T>(&[], out));
        }
        out
    }
}

impl Kernel for TreeEnsembleRegressor {
    const NAME: &'static str = "TreeEnsembleRegressor";

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[1], self.targets.to_dim())?;
        s.given(&inputs[0].rank, move |s, rank| {
            if rank == 2 {
                s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
            } else {
                s.equals(&outputs[0].shape[0], 1.to_dim())?;
            }
            Ok(())
        })
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = if inputs[0].rank() == 2 {
            inputs[0].shape[0].clone()
        } else {
            1.to_dim()
        };
        Ok(tvec!(f32::fact([rows, self.targets.to_dim()])))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (rows, columns) = rows_and_columns(input.shape())?;
        self.ensemble.check_row_width(columns)?;
        let out = match as_floats(&input)? {
            Floats::F32(values) => self.predict_all(&values, rows, columns),
            Floats::F64(values) => self.predict_all(values, rows, columns),
        };
        Ok(tvec!(
            tensor_from_vec(&[rows, self.targets], out)?.into_tvalue()
        ))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ops::testing::*;
    use crate::ops::tree_ensemble::tests::small_tree;

    fn regressor(extra: Vec<tract_onnx::pb::AttributeProto>) -> TreeEnsembleRegressor {
        let mut attrs = small_tree("target");
        attrs.retain(|a| extra.iter().all(|e| e.name != a.name));
        attrs.extend(extra);
        TreeEnsembleRegressor::parse(&node("TreeEnsembleRegressor", attrs)).unwrap()
    }

    fn run(r: &TreeEnsembleRegressor, rows: &[[f32; 2]]) -> Vec<f32> {
        let data = rows.iter().flatten().copied().collect::<Vec<_>>();
        slice::<f32>(&eval1(r, tensor_from_vec(&[rows.len(), 2], data).unwrap()).unwrap())
    }

    #[test]
    fn one_target_uses_the_first_weight_and_ignores_logistic() {
        let r = regressor(vec![
            int("n_targets", 1),
            ints("target_ids", &[0, 0, 0]),
            floats("base_values", &[0.5]),
            string("post_transform", "LOGISTIC"),
        ]);
        assert_eq!(run(&r, &[[0.0, 0.0], [0.0, 1.0]]), vec![1.5, 2.5]);
    }

    #[test]
    fn several_targets_sum_and_transform() {
        let r = regressor(vec![
            int("n_targets", 2),
            floats("base_values", &[0.5, -1.0]),
        ]);
        // Leaf 11 scores target 0 only: target 1 is reported as 0, not as its base value.
        assert_eq!(run(&r, &[[0.0, 0.0], [0.0, 1.0]]), vec![1.5, 0.0, 2.5, 2.0]);
        let softmax = regressor(vec![
            int("n_targets", 2),
            string("post_transform", "SOFTMAX"),
        ]);
        let out = run(&softmax, &[[0.0, 1.0]]);
        assert!((out[0] + out[1] - 1.0).abs() < 1e-6 && out[1] > out[0]);
    }

    #[test]
    fn refuses_wrong_base_values_and_narrow_rows() {
        let mut attrs = small_tree("target");
        attrs.extend([int("n_targets", 2), floats("base_values", &[1.0])]);
        assert!(TreeEnsembleRegressor::parse(&node("T", attrs)).is_err());
        let r = regressor(vec![int("n_targets", 2)]);
        let narrow = tensor_from_vec(&[1, 1], vec![0.0f32]).unwrap();
        let err = eval1(&r, narrow).unwrap_err();
        assert!(
            err.downcast_ref::<crate::ops::BadValue>().is_some(),
            "{err:#}"
        );
    }

    /// A random complete tree of the given depth over `features` features, in the attribute
    /// layout, plus a straightforward recursive evaluator to compare with.
    #[derive(Debug, Clone)]
    struct RandomTree {
        features: Vec<usize>,
        thresholds: Vec<f32>,
        modes: Vec<usize>,
        missing: Vec<bool>,
        leaves: Vec<f32>,
    }

    const MODES: [&str; 6] = [
        "BRANCH_LEQ",
        "BRANCH_LT",
        "BRANCH_GTE",
        "BRANCH_GT",
        "BRANCH_EQ",
        "BRANCH_NEQ",
    ];

    fn random_tree(depth: u32) -> impl Strategy<Value = RandomTree> {
        let internal = (1usize << depth) - 1;
        let grid = prop::sample::select(vec![-1.0f32, 0.0, 0.5, 1.0]);
        (
            prop::collection::vec(0usize..3, internal),
            prop::collection::vec(grid, internal),
            prop::collection::vec(0usize..6, internal),
            prop::collection::vec(any::<bool>(), internal),
            prop::collection::vec(-10.0f32..10.0, internal + 1),
        )
            .prop_map(
                |(features, thresholds, modes, missing, leaves)| RandomTree {
                    features,
                    thresholds,
                    modes,
                    missing,
                    leaves,
                },
            )
    }

    impl RandomTree {
        fn naive(&self, row: &[f32], at: usize) -> f32 {
            let internal = self.features.len();
            if at >= internal {
                return self.leaves[at - internal];
            }
            let (x, t) = (row[self.features[at]], self.thresholds[at]);
            let cmp = match self.modes[at] {
                0 => x <= t,
                1 => x < t,
                2 => x >= t,
                3 => x > t,
                4 => x == t,
                _ => x != t,
            };
            let next = if cmp || (self.missing[at] && x.is_nan()) {
                2 * at + 1
            } else {
                2 * at + 2
            };
            self.naive(row, next)
        }
    }

    fn ensemble_node(trees: &[RandomTree], aggregate: &str) -> NodeProto {
        let mut a: [Vec<i64>; 7] = Default::default();
        let (mut modes, mut values, mut weights) = (vec![], vec![], vec![]);
        for (t, tree) in trees.iter().enumerate() {
            let internal = tree.features.len();
            // Node ids count down so the arena order differs from the id order.
            let id = |k: usize| (1000 - k) as i64;
            for k in 0..2 * internal + 1 {
                a[0].push(t as i64);
                a[1].push(id(k));
                if k < internal {
                    a[2].push(tree.features[k] as i64);
                    modes.push(MODES[tree.modes[k]]);
                    values.push(tree.thresholds[k]);
                    a[3].push(id(2 * k + 1));
                    a[4].push(id(2 * k + 2));
                    a[5].push(tree.missing[k] as i64);
                } else {
                    a[2].push(0);
                    modes.push("LEAF");
                    values.push(0.0);
                    a[3].push(0);
                    a[4].push(0);
                    a[5].push(0);
                    a[6].push(t as i64);
                    a[6].push(id(k));
                    weights.push(tree.leaves[k - internal]);
                }
            }
        }
        let (leaf_trees, leaf_nodes): (Vec<i64>, Vec<i64>) =
            a[6].chunks(2).map(|c| (c[0], c[1])).unzip();
        node(
            "TreeEnsembleRegressor",
            vec![
                ints("nodes_treeids", &a[0]),
                ints("nodes_nodeids", &a[1]),
                ints("nodes_featureids", &a[2]),
                strings("nodes_modes", &modes),
                floats("nodes_values", &values),
                ints("nodes_truenodeids", &a[3]),
                ints("nodes_falsenodeids", &a[4]),
                ints("nodes_missing_value_tracks_true", &a[5]),
                ints("target_treeids", &leaf_trees),
                ints("target_nodeids", &leaf_nodes),
                ints("target_ids", &vec![0; weights.len()]),
                floats("target_weights", &weights),
                string("aggregate_function", aggregate),
            ],
        )
    }

    proptest! {
        #[test]
        fn matches_a_naive_evaluator(
            trees in prop::collection::vec(random_tree(3), 1..5),
            rows in prop::collection::vec(
                prop::collection::vec(prop::sample::select(
                    vec![-1.0f32, -0.5, 0.0, 0.5, 1.0, 2.0, f32::NAN]), 3),
                1..6),
            aggregate in prop::sample::select(vec!["SUM", "AVERAGE", "MIN", "MAX"]),
        ) {
            let r = TreeEnsembleRegressor::parse(&ensemble_node(&trees, aggregate)).unwrap();
            let data = rows.iter().flatten().copied().collect::<Vec<_>>();
            let out = slice::<f32>(&eval1(&r, tensor_from_vec(&[rows.len(), 3], data).unwrap()).unwrap());
            for (row, got) in rows.iter().zip(out) {
                let leaves = trees.iter().map(|t| t.naive(row, 0) as f64).collect::<Vec<_>>();
                let want = match aggregate {
                    "SUM" => leaves.iter().sum::<f64>(),
                    "AVERAGE" => leaves.iter().sum::<f64>() / leaves.len() as f64,
                    "MIN" => leaves.iter().copied().fold(f64::INFINITY, f64::min),
                    _ => leaves.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                } as f32;
                prop_assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{got} != {want}");
            }
        }
    }
}
