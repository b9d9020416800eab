//! The tree structure TreeEnsembleRegressor and TreeEnsembleClassifier share: parsing the
//! `nodes_*` and leaf attributes into an arena, checking it cannot loop or index out of bounds,
//! and walking one row down one tree the way onnxruntime does.

use std::collections::HashMap;
use std::ops::Range;

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::attrs;
use super::bad_value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
}

impl Mode {
    fn parse(value: &str) -> TractResult<Option<Mode>> {
        Ok(Some(match value {
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            "LEAF" => return Ok(None),
            other => bail!("unknown node mode {other:?}"),
        }))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) feature: usize,
    pub(crate) mode: Mode,
    /// Kept in both precisions: onnxruntime compares f32 inputs against f32 thresholds (a
    /// double threshold is rounded first) and f64 inputs against f64 ones.
    pub(crate) threshold_f32: f32,
    pub(crate) threshold_f64: f64,
    pub(crate) missing_goes_true: bool,
    pub(crate) when_true: usize,
    pub(crate) when_false: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Branch(Branch),
    /// Indices into `Ensemble::weights`, in the order the attributes list them.
    Leaf(Range<usize>),
}

/// One leaf contribution: which target (regressor) or class (classifier) and how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Weight {
    pub(crate) output: usize,
    pub(crate) value: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Ensemble {
    pub(crate) nodes: Vec<Node>,
    pub(crate) weights: Vec<Weight>,
    pub(crate) roots: Vec<usize>,
    /// One more than the largest feature index a reachable branch reads.
    pub(crate) features: usize,
}

impl Ensemble {
    /// Parses the `nodes_*` attributes and the leaves' `{leaf}_treeids`, `{leaf}_nodeids`,
    /// `{leaf}_ids`, `{leaf}_weights` (leaf is "target" or "class"), for `outputs` targets or
    /// classes.
    ///
    /// As in onnxruntime, a tree's root is the first node listed with its tree id, and weights
    /// attached to a branch node are ignored. Unlike onnxruntime, a loop in a tree or a tree whose
    /// nodes are not listed together is refused here rather than misbehaving later.
    pub(crate) fn parse(node: &NodeProto, leaf: &str, outputs: usize) -> TractResult<Ensemble> {
        let tree_ids = attrs::indices(node, "nodes_treeids")?;
        let node_ids = attrs::indices(node, "nodes_nodeids")?;
        let feature_ids = attrs::indices(node, "nodes_featureids")?;
        let true_ids = attrs::indices(node, "nodes_truenodeids")?;
        let false_ids = attrs::indices(node, "nodes_falsenodeids")?;
        let modes: Vec<String> = node.get_attr_opt_vec("nodes_modes")?.unwrap_or_default();
        let values =
            attrs::reals(node, "nodes_values", "nodes_values_as_tensor")?.unwrap_or_default();
        let missing = attrs::indices(node, "nodes_missing_value_tracks_true")?;
        let n = tree_ids.len();
        ensure!(n > 0, "the ensemble has no nodes");
        for (name, len) in [
            ("nodes_nodeids", node_ids.len()),
            ("nodes_featureids", feature_ids.len()),
            ("nodes_truenodeids", true_ids.len()),
            ("nodes_falsenodeids", false_ids.len()),
            ("nodes_modes", modes.len()),
            ("nodes_values", values.len()),
        ] {
            ensure!(len == n, "{name} has {len} entries, nodes_treeids has {n}");
        }
        ensure!(
            missing.is_empty() || missing.len() == n,
            "nodes_missing_value_tracks_true has {} entries, nodes_treeids has {n}",
            missing.len()
        );

        let mut index = HashMap::with_capacity(n);
        let mut roots = vec![];
        let mut seen_trees = HashMap::new();
        for i in 0..n {
            let key = (tree_ids[i], node_ids[i]);
            ensure!(
                index.insert(key, i).is_none(),
                "node {} of tree {} is listed twice",
                key.1,
                key.0
            );
            if i == 0 || tree_ids[i - 1] != tree_ids[i] {
                ensure!(
                    seen_trees.insert(tree_ids[i], i).is_none(),
                    "the nodes of tree {} are not listed together",
                    tree_ids[i]
                );
                roots.push(i);
            }
        }

        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let Some(mode) = Mode::parse(&modes[i])? else {
                nodes.push(Node::Leaf(0..0));
                continue;
            };
            let child = |id: usize| {
                index
                    .get(&(tree_ids[i], id))
                    .copied()
                    .filter(|&c| c != i)
                    .with_context(|| {
                        format!(
                            "node {} of tree {} points to missing node {id}",
                            node_ids[i], tree_ids[i]
                        )
                    })
            };
            nodes.push(Node::Branch(Branch {
                feature: feature_ids[i],
                mode,
                threshold_f32: values[i] as f32,
                threshold_f64: values[i],
                missing_goes_true: missing.get(i).is_some_and(|&m| m == 1),
                when_true: child(true_ids[i])?,
                when_false: child(false_ids[i])?,
            }));
        }

        let weights = Self::parse_weights(node, leaf, outputs, &index, &mut nodes)?;
        let features = check_acyclic(&nodes, &roots)?;
        Ok(Ensemble {
            nodes,
            weights,
            roots,
            features,
        })
    }

    fn parse_weights(
        node: &NodeProto,
        leaf: &str,
        outputs: usize,
        index: &HashMap<(usize, usize), usize>,
        nodes: &mut [Node],
    ) -> TractResult<Vec<Weight>> {
        let name = |suffix: &str| format!("{leaf}_{suffix}");
        let tree_ids = attrs::indices(node, &name("treeids"))?;
        let node_ids = attrs::indices(node, &name("nodeids"))?;
        let ids = attrs::indices(node, &name("ids"))?;
        let values =
            attrs::reals(node, &name("weights"), &name("weights_as_tensor"))?.unwrap_or_default();
        let n = tree_ids.len();
        for (attr, len) in [
            ("nodeids", node_ids.len()),
            ("ids", ids.len()),
            ("weights", values.len()),
        ] {
            ensure!(
                len == n,
                "{} has {len} entries, {} has {n}",
                name(attr),
                name("treeids")
            );
        }
        let mut per_node: Vec<Vec<Weight>> = vec![vec![]; nodes.len()];
        for i in 0..n {
            let at = *index.get(&(tree_ids[i], node_ids[i])).with_context(|| {
                format!(
                    "a weight points to missing node {} of tree {}",
                    node_ids[i], tree_ids[i]
                )
            })?;
            ensure!(
                ids[i] < outputs,
                "{} {} is out of range: there are {outputs}",
                name("ids"),
                ids[i]
            );
            per_node[at].push(Weight {
                output: ids[i],
                value: values[i],
            });
        }
        let mut weights = Vec::with_capacity(n);
        for (node, leaf_weights) in nodes.iter_mut().zip(per_node) {
            if let Node::Leaf(range) = node {
                let start = weights.len();
                weights.extend(leaf_weights);
                *range = start..weights.len();
            }
        }
        Ok(weights)
    }

    pub(crate) fn trees(&self) -> usize {
        self.roots.len()
    }

    /// The weights of the leaf `row` reaches in tree `tree`. The row must hold at least
    /// `self.features` values (`check_row_width`).
    pub(crate) fn leaf<T: Real>(&self, tree: usize, row: &[T]) -> &[Weight] {
        let mut at = self.roots[tree];
        loop {
            match &self.nodes[at] {
                Node::Leaf(range) => return &self.weights[range.clone()],
                Node::Branch(b) => {
                    let x = row[b.feature];
                    let t = T::threshold(b);
                    let goes_true = match b.mode {
                        Mode::Leq => x <= t,
                        Mode::Lt => x < t,
                        Mode::Gte => x >= t,
                        Mode::Gt => x > t,
                        Mode::Eq => x == t,
                        Mode::Neq => x != t,
                    } || (b.missing_goes_true && x.is_nan());
                    at = if goes_true { b.when_true } else { b.when_false };
                }
            }
        }
    }

    pub(crate) fn check_row_width(&self, columns: usize) -> TractResult<()> {
        if columns < self.features {
            return bad_value(format!(
                "the trees read feature {} but rows have {columns} values",
                self.features - 1
            ));
        }
        Ok(())
    }
}

/// Checks every tree reachable from a root ends in leaves (no node revisited on a path, which
/// would make `leaf` spin forever) and returns the number of features the branches read.
fn check_acyclic(nodes: &[Node], roots: &[usize]) -> TractResult<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; nodes.len()];
    let mut features = 0;
    for &root in roots {
        if state[root] == State::Done {
            continue;
        }
        // (node, children already pushed)
        let mut stack = vec![(root, false)];
        while let Some((at, expanded)) = stack.pop() {
            if expanded {
                state[at] = State::Done;
                continue;
            }
            match state[at] {
                State::Done => continue,
                State::OnPath => bail!("the trees contain a loop"),
                State::New => {}
            }
            state[at] = State::OnPath;
            stack.push((at, true));
            if let Node::Branch(b) = &nodes[at] {
                features = features.max(b.feature + 1);
                for child in [b.when_true, b.when_false] {
                    match state[child] {
                        State::OnPath => bail!("the trees contain a loop"),
                        State::New => stack.push((child, false)),
                        State::Done => {}
                    }
                }
            }
        }
    }
    Ok(features)
}

/// The two input precisions trees are walked in.
pub(crate) trait Real: Copy + PartialOrd {
    fn threshold(branch: &Branch) -> Self;
    fn is_nan(self) -> bool;
}

impl Real for f32 {
    fn threshold(branch: &Branch) -> f32 {
        branch.threshold_f32
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Real for f64 {
    fn threshold(branch: &Branch) -> f64 {
        branch.threshold_f64
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ops::testing::*;

    /// One tree: node 10 tests x[1] <= 0.5 (missing goes true) and leads to leaf 11 (weight 1 on
    /// output 0) or leaf 12 (weights 2 and 3 on outputs 0 and 1).
    pub(crate) fn small_tree(leaf: &str) -> Vec<tract_onnx::pb::AttributeProto> {
        vec![
            ints("nodes_treeids", &[0, 0, 0]),
            ints("nodes_nodeids", &[10, 11, 12]),
            ints("nodes_featureids", &[1, 0, 0]),
            strings("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF"]),
            floats("nodes_values", &[0.5, 0.0, 0.0]),
            ints("nodes_truenodeids", &[11, 0, 0]),
            ints("nodes_falsenodeids", &[12, 0, 0]),
            ints("nodes_missing_value_tracks_true", &[1, 0, 0]),
            ints(&format!("{leaf}_treeids"), &[0, 0, 0]),
            ints(&format!("{leaf}_nodeids"), &[11, 12, 12]),
            ints(&format!("{leaf}_ids"), &[0, 0, 1]),
            floats(&format!("{leaf}_weights"), &[1.0, 2.0, 3.0]),
        ]
    }

    fn with(
        mut attrs: Vec<tract_onnx::pb::AttributeProto>,
        replace: tract_onnx::pb::AttributeProto,
    ) -> NodeProto {
        attrs.retain(|a| a.name != replace.name);
        attrs.push(replace);
        node("TreeEnsembleRegressor", attrs)
    }

    #[test]
    fn walks_rows_to_leaves() {
        let e = Ensemble::parse(&node("T", small_tree("target")), "target", 2).unwrap();
        assert_eq!(e.trees(), 1);
        assert_eq!(e.features, 2);
        let outputs = |row: [f32; 2]| e.leaf(0, &row).iter().map(|w| w.value).collect::<Vec<_>>();
        assert_eq!(outputs([9.0, 0.5]), vec![1.0]);
        assert_eq!(outputs([9.0, 0.6]), vec![2.0, 3.0]);
        assert_eq!(outputs([9.0, f32::NAN]), vec![1.0]);
        assert!(e.check_row_width(1).is_err());
        assert!(e.check_row_width(2).is_ok());
    }

    #[test]
    fn nan_without_missing_tracking_goes_false() {
        let attrs = with(
            small_tree("target"),
            ints("nodes_missing_value_tracks_true", &[0, 0, 0]),
        );
        let e = Ensemble::parse(&attrs, "target", 2).unwrap();
        assert_eq!(e.leaf(0, &[0.0f64, f64::NAN]).len(), 2);
    }

    #[test]
    fn refuses_broken_trees() {
        let base = small_tree("target");
        let cases = [
            with(base.clone(), ints("nodes_truenodeids", &[99, 0, 0])),
            with(base.clone(), ints("nodes_truenodeids", &[10, 0, 0])),
            with(base.clone(), ints("nodes_nodeids", &[10, 11, 11])),
            with(base.clone(), ints("target_ids", &[0, 0, 2])),
            with(base.clone(), ints("target_nodeids", &[11, 12, 13])),
            with(base.clone(), floats("nodes_values", &[0.5])),
            with(
                base.clone(),
                strings("nodes_modes", &["BRANCH_XX", "LEAF", "LEAF"]),
            ),
            with(base.clone(), ints("nodes_featureids", &[-1, 0, 0])),
            with(base.clone(), ints("nodes_treeids", &[0, 1, 0])),
        ];
        for case in cases {
            assert!(Ensemble::parse(&case, "target", 2).is_err(), "{case:?}");
        }
    }

    #[test]
    fn refuses_loops() {
        // 10 -> 11 -> 10: both are branches.
        let looped = node(
            "T",
            vec![
                ints("nodes_treeids", &[0, 0, 0]),
                ints("nodes_nodeids", &[10, 11, 12]),
                ints("nodes_featureids", &[0, 0, 0]),
                strings("nodes_modes", &["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"]),
                floats("nodes_values", &[0.5, 0.5, 0.0]),
                ints("nodes_truenodeids", &[11, 10, 0]),
                ints("nodes_falsenodeids", &[12, 12, 0]),
                ints("target_treeids", &[0]),
                ints("target_nodeids", &[12]),
                ints("target_ids", &[0]),
                floats("target_weights", &[1.0]),
            ],
        );
        let err = Ensemble::parse(&looped, "target", 1).unwrap_err();
        assert!(format!("{err:#}").contains("loop"), "{err:#}");
    }

    #[test]
    fn weights_on_branches_are_ignored() {
        let attrs = with(small_tree("target"), ints("target_nodeids", &[10, 12, 12]));
        let e = Ensemble::parse(&attrs, "target", 2).unwrap();
        assert!(e.leaf(0, &[0.0f32, 0.0]).is_empty());
    }
}
