//! TreeEnsembleClassifier (ai.onnx.ml), replacing tract-onnx's own: tract's version refuses the
//! single base value scikit-learn's binary gradient boosting exports, and lays out binary scores
//! differently from onnxruntime. This one reproduces onnxruntime's label and score rules.
//!
//! Per row, each class's score is the sum of the weights the reached leaves give it, and a class
//! counts as "scored" once any leaf gave it a weight. Then, as onnxruntime (checked against it in
//! the tree_ensemble_variants fixture):
//! - more than two classes: `base_values` (0 or one per class) are added and mark their class
//!   scored; the label is the first scored class with the highest score;
//! - two classes: the layout depends on which classes the model's leaves score and on how many
//!   base values there are (0, 1 or 2), see `finish_binary`;
//! - scores of unscored classes are written as 0, then `post_transform` is applied.

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

use super::post_transform::{logistic, probit, PostTransform};
use super::tree_ensemble::{Ensemble, Real};
use super::{as_floats, attrs, rows_and_columns, tensor_from_vec, Floats, Kernel};

#[derive(Debug, Clone)]
pub(crate) enum Labels {
    Int64(Vec<i64>),
    Strings(Vec<String>),
}

impl Labels {
    fn len(&self) -> usize {
        match self {
            Labels::Int64(v) => v.len(),
            Labels::Strings(v) => v.len(),
        }
    }

    fn datum_type(&self) -> DatumType {
        match self {
            Labels::Int64(_) => i64::datum_type(),
            Labels::Strings(_) => String::datum_type(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct TreeEnsembleClassifier {
    ensemble: Ensemble,
    labels: Labels,
    base_values: Vec<f64>,
    post_transform: PostTransform,
    /// Two classes and the leaves only ever score one of them.
    binary_case: bool,
    weights_all_positive: bool,
}

/// How onnxruntime completes a binary row whose scores were reduced to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecondClass {
    /// Not decided: the second score is left unwritten (Galley writes 0).
    Unset,
    /// Probabilities (all weights positive): [1 - s, s].
    Complement,
    /// Margins (some weight negative): [-s, s].
    Negate,
}

struct Score {
    value: f64,
    scored: bool,
}

impl TreeEnsembleClassifier {
    pub(crate) fn parse(node: &NodeProto) -> TractResult<Self> {
        let ints: Option<Vec<i64>> = node.get_attr_opt_vec("classlabels_int64s")?;
        let strings: Option<Vec<String>> = node.get_attr_opt_vec("classlabels_strings")?;
        let labels = match (ints, strings) {
            (Some(ints), None) => Labels::Int64(ints),
            (None, Some(strings)) => Labels::Strings(strings),
            _ => bail!("exactly one of classlabels_int64s and classlabels_strings must be set"),
        };
        let classes = labels.len();
        ensure!(
            classes >= 2,
            "a classifier needs at least 2 class labels, got {classes}"
        );
        let base_values =
            attrs::reals(node, "base_values", "base_values_as_tensor")?.unwrap_or_default();
        let allowed = if classes == 2 {
            base_values.len() <= 2
        } else {
            base_values.is_empty()
        };
        ensure!(
            allowed || base_values.len() == classes,
            "base_values has {} values for {classes} classes",
            base_values.len()
        );
        let post_transform = PostTransform::parse(node.get_attr_opt("post_transform")?)?;
        let ensemble = Ensemble::parse(node, "class", classes)?;
        let mut used = ensemble
            .weights
            .iter()
            .map(|w| w.output)
            .collect::<Vec<_>>();
        used.sort_unstable();
        used.dedup();
        Ok(TreeEnsembleClassifier {
            binary_case: classes == 2 && used.len() == 1,
            weights_all_positive: ensemble.weights.iter().all(|w| w.value >= 0.0),
            ensemble,
            labels,
            base_values,
            post_transform,
        })
    }

    /// Scores one row into `out` and returns the index of its label.
    fn predict<T: Real>(&self, row: &[T], out: &mut [f32]) -> usize {
        let mut scores: Vec<Score> = (0..self.labels.len())
            .map(|_| Score {
                value: 0.0,
                scored: false,
            })
            .collect();
        for tree in 0..self.ensemble.trees() {
            for w in self.ensemble.leaf(tree, row) {
                scores[w.output].value += w.value;
                scores[w.output].scored = true;
            }
        }
        if self.labels.len() > 2 {
            self.finish_multiclass(scores, out)
        } else {
            self.finish_binary(scores, out)
        }
    }

    fn finish_multiclass(&self, mut scores: Vec<Score>, out: &mut [f32]) -> usize {
        for (score, base) in scores.iter_mut().zip(&self.base_values) {
            score.value += base;
            score.scored = true;
        }
        let mut best: Option<usize> = None;
        for (k, score) in scores.iter().enumerate() {
            if score.scored && best.is_none_or(|b| score.value > scores[b].value) {
                best = Some(k);
            }
        }
        write_masked(&scores, out);
        self.post_transform.apply(out);
        best.unwrap_or(0)
    }

    fn finish_binary(&self, mut scores: Vec<Score>, out: &mut [f32]) -> usize {
        let mut second = SecondClass::Unset;
        let mut single = false;
        match self.base_values[..] {
            [base0, base1] => {
                if scores[1].scored {
                    // onnxruntime's rule (it ignores class 1's own score and base0 here).
                    scores[1].value = base1 + scores[0].value;
                    scores[0].value = -scores[1].value;
                } else {
                    scores[0].value += base0;
                    scores[1].value += base1;
                }
            }
            [base0] => {
                scores[0].value += base0;
                single = !scores[1].scored;
            }
            _ => {
                second = SecondClass::Negate;
                single = !scores[1].scored;
            }
        }

        let positive = if !single && scores[1].scored {
            scores[1].value
        } else if scores[0].scored {
            scores[0].value
        } else {
            0.0
        };
        let label = if self.binary_case {
            if self.weights_all_positive {
                second = SecondClass::Complement;
                usize::from(positive > 0.5)
            } else {
                second = SecondClass::Negate;
                usize::from(positive > 0.0)
            }
        } else {
            usize::from(positive > 0.0)
        };

        if !single {
            write_masked(&scores, out);
            self.post_transform.apply(out);
            return label;
        }
        let s = if scores[0].scored {
            scores[0].value as f32
        } else {
            0.0
        };
        let pair = match (self.post_transform, second) {
            // onnxruntime writes the first score only; the second stays undefined there.
            (PostTransform::Probit, _) => [probit(s), 0.0],
            (_, SecondClass::Unset) => [s, 0.0],
            (PostTransform::Logistic, _) => [logistic(-s), logistic(s)],
            (_, SecondClass::Complement) => [1.0 - s, s],
            (_, SecondClass::Negate) => [-s, s],
        };
        out.copy_from_slice(&pair);
        label
    }

    fn predict_all<T: Real>(
        &self,
        values: &[T],
        rows: usize,
        columns: usize,
    ) -> (Vec<usize>, Vec<f32>) {
        let classes = self.labels.len();
        let mut scores = vec![0.0f32; rows * classes];
        let mut labels = Vec::with_capacity(rows);
        for (r, out) in scores.chunks_mut(classes).enumerate() {
            let row = if columns == 0 {
                &[][..]
            } else {
                &values[r * columns..(r + 1) * columns]
            };
            labels.push(self.predict(row, out));
        }
        (labels, scores)
    }
}

fn write_masked(scores: &[Score], out: &mut [f32]) {
    for (o, s) in out.iter_mut().zip(scores) {
        *o = if s.scored { s.value as f32 } else { 0.0 };
    }
}

impl Kernel for TreeEnsembleClassifier {
    const NAME: &'static str = "TreeEnsembleClassifier";
    const OUTPUTS: usize = 2;

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        s.equals(&outputs[0].datum_type, self.labels.datum_type())?;
        s.equals(&outputs[1].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].rank, 1)?;
        s.equals(&outputs[1].rank, 2)?;
        s.equals(&outputs[1].shape[1], self.labels.len().to_dim())?;
        s.equals(&outputs[0].shape[0], &outputs[1].shape[0])?;
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
        Ok(tvec!(
            self.labels.datum_type().fact([rows.clone()]),
            f32::fact([rows, self.labels.len().to_dim()])
        ))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (rows, columns) = rows_and_columns(input.shape())?;
        self.ensemble.check_row_width(columns)?;
        let (winners, scores) = match as_floats(&input)? {
            Floats::F32(values) => self.predict_all(&values, rows, columns),
            Floats::F64(values) => self.predict_all(values, rows, columns),
        };
        let labels = match &self.labels {
            Labels::Int64(l) => tensor_from_vec(&[rows], winners.iter().map(|&w| l[w]).collect())?,
            Labels::Strings(l) => {
                tensor_from_vec(&[rows], winners.iter().map(|&w| l[w].clone()).collect())?
            }
        };
        let scores = tensor_from_vec(&[rows, self.labels.len()], scores)?;
        Ok(tvec!(labels.into_tvalue(), scores.into_tvalue()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::*;

    /// Single-leaf trees: every row reaches the same leaves, so each case is one row of scores.
    fn classifier(
        leaves: &[&[(i64, f32)]],
        labels: &[i64],
        base: &[f32],
        post: &str,
    ) -> TreeEnsembleClassifier {
        let trees = leaves.len() as i64;
        let mut attrs = vec![
            ints("nodes_treeids", &(0..trees).collect::<Vec<_>>()),
            ints("nodes_nodeids", &vec![0; leaves.len()]),
            ints("nodes_featureids", &vec![0; leaves.len()]),
            strings("nodes_modes", &vec!["LEAF"; leaves.len()]),
            floats("nodes_values", &vec![0.0; leaves.len()]),
            ints("nodes_truenodeids", &vec![0; leaves.len()]),
            ints("nodes_falsenodeids", &vec![0; leaves.len()]),
            ints(
                "class_treeids",
                &leaves
                    .iter()
                    .enumerate()
                    .flat_map(|(t, l)| l.iter().map(move |_| t as i64))
                    .collect::<Vec<_>>(),
            ),
            ints(
                "class_nodeids",
                &vec![0; leaves.iter().map(|l| l.len()).sum()],
            ),
            ints(
                "class_ids",
                &leaves
                    .iter()
                    .flat_map(|l| l.iter().map(|w| w.0))
                    .collect::<Vec<_>>(),
            ),
            floats(
                "class_weights",
                &leaves
                    .iter()
                    .flat_map(|l| l.iter().map(|w| w.1))
                    .collect::<Vec<_>>(),
            ),
            ints("classlabels_int64s", labels),
            string("post_transform", post),
        ];
        if !base.is_empty() {
            attrs.push(floats("base_values", base));
        }
        TreeEnsembleClassifier::parse(&node("TreeEnsembleClassifier", attrs)).unwrap()
    }

    fn run(c: &TreeEnsembleClassifier) -> (i64, Vec<f32>) {
        let out = c
            .eval(tvec!(tensor_from_vec(&[1, 1], vec![0.0f32])
                .unwrap()
                .into_tvalue()))
            .unwrap();
        (slice::<i64>(&out[0])[0], slice::<f32>(&out[1]))
    }

    fn close(got: (i64, Vec<f32>), want: (i64, &[f32])) {
        assert_eq!(got.0, want.0, "label of {got:?}");
        for (g, w) in got.1.iter().zip(want.1) {
            assert!((g - w).abs() < 1e-6, "{got:?} != {want:?}");
        }
    }

    // Expected values are what onnxruntime 1.32 returns for the same single-leaf models.
    #[test]
    fn binary_layouts_match_onnxruntime() {
        close(
            run(&classifier(&[&[(1, 0.7)]], &[0, 1], &[-0.3, 0.3], "NONE")),
            (0, &[0.0, 0.3]),
        );
        close(
            run(&classifier(&[&[(0, 0.7)]], &[0, 1], &[-0.3, 0.3], "NONE")),
            (0, &[0.4, 0.0]),
        );
        close(
            run(&classifier(
                &[&[(0, 0.7), (1, 0.1)]],
                &[0, 1],
                &[-0.3, 0.3],
                "NONE",
            )),
            (1, &[-1.0, 1.0]),
        );
        close(
            run(&classifier(&[&[(0, 0.7)]], &[0, 1], &[0.3], "NONE")),
            (1, &[0.0, 1.0]),
        );
        close(
            run(&classifier(&[&[(0, -0.7)]], &[0, 1], &[0.3], "NONE")),
            (0, &[0.4, -0.4]),
        );
        close(
            run(&classifier(&[&[(0, 0.7)]], &[0, 1], &[0.3], "LOGISTIC")),
            (1, &[0.268_941_4, 0.731_058_6]),
        );
        close(
            run(&classifier(&[&[(1, 0.2)]], &[0, 1], &[], "NONE")),
            (0, &[0.0, 0.2]),
        );
        close(
            run(&classifier(&[&[(0, 0.2)]], &[0, 1], &[], "NONE")),
            (0, &[0.8, 0.2]),
        );
        close(
            run(&classifier(&[&[(0, -0.2)]], &[0, 1], &[], "NONE")),
            (0, &[0.2, -0.2]),
        );
        close(
            run(&classifier(&[&[(1, 0.2)]], &[0, 1], &[], "SOFTMAX")),
            (0, &[0.450_166, 0.549_834]),
        );
        close(
            run(&classifier(
                &[&[(0, 0.7)], &[(1, 0.0)]],
                &[0, 1],
                &[0.2],
                "LOGISTIC",
            )),
            (0, &[0.710_949_5, 0.5]),
        );
    }

    #[test]
    fn multiclass_picks_the_first_best_scored_class() {
        close(
            run(&classifier(
                &[&[(1, 0.7)], &[(0, 0.7)]],
                &[4, 5, 6],
                &[],
                "NONE",
            )),
            (4, &[0.7, 0.7, 0.0]),
        );
        close(
            run(&classifier(
                &[&[(0, 0.7)]],
                &[4, 5, 6],
                &[0.2, 0.1, 0.0],
                "NONE",
            )),
            (4, &[0.9, 0.1, 0.0]),
        );
    }

    #[test]
    fn refuses_bad_labels_and_base_values() {
        let mut attrs = crate::ops::tree_ensemble::tests::small_tree("class");
        attrs.push(ints("classlabels_int64s", &[0, 1]));
        attrs.push(floats("base_values", &[0.0, 0.0, 0.0]));
        assert!(TreeEnsembleClassifier::parse(&node("T", attrs.clone())).is_err());
        attrs.pop();
        attrs.push(strings("classlabels_strings", &["a", "b"]));
        assert!(TreeEnsembleClassifier::parse(&node("T", attrs)).is_err());
    }

    #[test]
    fn string_labels() {
        let mut attrs = crate::ops::tree_ensemble::tests::small_tree("class");
        attrs.push(strings("classlabels_strings", &["no", "yes"]));
        let c = TreeEnsembleClassifier::parse(&node("T", attrs)).unwrap();
        let input = tensor_from_vec(&[2, 2], vec![0.0f32, 0.0, 0.0, 1.0]).unwrap();
        let out = c.eval(tvec!(input.into_tvalue())).unwrap();
        assert_eq!(
            slice::<String>(&out[0]),
            vec!["yes".to_string(), "yes".to_string()]
        );
        // Row 1 reaches a leaf scoring class 0 only: with no base values onnxruntime writes
        // [-s, s]; row 2 scores both classes.
        assert_eq!(slice::<f32>(&out[1]), vec![-1.0, 1.0, 2.0, 3.0]);
    }
}
