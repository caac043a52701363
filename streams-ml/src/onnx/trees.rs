//! Validation of `ai.onnx.ml` tree ensembles, and the `TreeEnsembleRegressor` operator.
//!
//! The runtime walks trees without bounds checks, so every ensemble is checked here first:
//! node ids form `0..n` in each tree, branches point inside their tree without cycles, leaves
//! refer to leaf nodes, and class / target ids are in range.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{AttributeProto, NodeProto};
use tract_onnx::tract_hir::internal::*;
use tract_onnx_opl::ml::tree::{Aggregate, Cmp, TreeEnsemble, TreeEnsembleData};

/// Largest number of nodes, leaves or outputs accepted in one ensemble.
const MAX_ITEMS: usize = 1 << 24;

fn attribute<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn ints(node: &NodeProto, name: &str) -> Result<Vec<usize>, String> {
    let a = attribute(node, name).ok_or_else(|| format!("missing attribute `{name}`"))?;
    a.ints
        .iter()
        .map(|&v| {
            usize::try_from(v)
                .ok()
                .filter(|v| *v < MAX_ITEMS)
                .ok_or_else(|| format!("`{name}` holds out-of-range value {v}"))
        })
        .collect()
}

fn floats(node: &NodeProto, name: &str) -> Result<Vec<f32>, String> {
    let a = attribute(node, name).ok_or_else(|| format!("missing attribute `{name}`"))?;
    if let Some(v) = a.floats.iter().find(|v| !v.is_finite()) {
        return Err(format!("`{name}` holds non-finite value {v}"));
    }
    Ok(a.floats.clone())
}

fn string(node: &NodeProto, name: &str) -> Option<String> {
    attribute(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

fn parse_mode(mode: &[u8]) -> Result<Option<Cmp>, String> {
    Ok(Some(match mode {
        b"BRANCH_LEQ" => Cmp::LessEqual,
        b"BRANCH_LT" => Cmp::Less,
        // The runtime's packed node format cannot represent BRANCH_GTE.
        b"BRANCH_GTE" => return Err("node mode BRANCH_GTE is not supported".into()),
        b"BRANCH_GT" => Cmp::Greater,
        b"BRANCH_EQ" => Cmp::Equal,
        b"BRANCH_NEQ" => Cmp::NotEqual,
        b"LEAF" => return Ok(None),
        other => return Err(format!("unknown node mode `{}`", String::from_utf8_lossy(other))),
    }))
}

struct Branch {
    cmp: Cmp,
    feature: usize,
    value: f32,
    true_id: usize,
    false_id: usize,
    nan_true: bool,
}

/// A branch, or a leaf's `(output, weight)` contributions.
type Node = Result<Branch, Vec<(usize, f32)>>;

/// A validated ensemble: per tree, per node id, the node.
pub(crate) struct Ensemble {
    trees: Vec<Vec<Node>>,
    n_outputs: usize,
    max_feature: usize,
}

/// Validates a `TreeEnsembleClassifier` (`classifier`) or `TreeEnsembleRegressor` node.
pub(crate) fn validate(node: &NodeProto, classifier: bool) -> Result<Ensemble, String> {
    let n_outputs = if classifier {
        let int_labels = attribute(node, "classlabels_int64s").map_or(0, |a| a.ints.len());
        let str_labels = attribute(node, "classlabels_strings").map_or(0, |a| a.strings.len());
        if (int_labels == 0) == (str_labels == 0) {
            return Err("exactly one of classlabels_int64s and classlabels_strings must be set".into());
        }
        int_labels + str_labels
    } else {
        let n = attribute(node, "n_targets").map_or(0, |a| a.i);
        usize::try_from(n)
            .ok()
            .filter(|n| (1..MAX_ITEMS).contains(n))
            .ok_or_else(|| format!("n_targets {n} out of range"))?
    };
    for unsupported in [
        "nodes_values_as_tensor",
        "nodes_hitrates_as_tensor",
        "base_values_as_tensor",
    ] {
        if attribute(node, unsupported).is_some() {
            return Err(format!("attribute `{unsupported}` is not supported"));
        }
    }
    let tree_ids = ints(node, "nodes_treeids")?;
    let n = tree_ids.len();
    if n == 0 || n >= MAX_ITEMS {
        return Err("no nodes".into());
    }
    let node_ids = ints(node, "nodes_nodeids")?;
    let features = ints(node, "nodes_featureids")?;
    let true_ids = ints(node, "nodes_truenodeids")?;
    let false_ids = ints(node, "nodes_falsenodeids")?;
    let values = floats(node, "nodes_values")?;
    let modes = &attribute(node, "nodes_modes")
        .ok_or("missing attribute `nodes_modes`")?
        .strings;
    let nan_true = attribute(node, "nodes_missing_value_tracks_true").map(|a| a.ints.clone());
    let lengths = [
        node_ids.len(),
        features.len(),
        true_ids.len(),
        false_ids.len(),
        values.len(),
        modes.len(),
    ];
    if lengths.iter().any(|l| *l != n) || nan_true.as_ref().is_some_and(|v| v.len() != n) {
        return Err("node attributes have different lengths".into());
    }
    let n_trees = tree_ids.iter().max().map_or(0, |m| m + 1);
    let mut sizes = vec![0usize; n_trees];
    for &t in &tree_ids {
        sizes[t] += 1;
    }
    if sizes.contains(&0) {
        return Err("tree ids are not contiguous".into());
    }
    let mut trees: Vec<Vec<Option<Node>>> = sizes.iter().map(|&s| (0..s).map(|_| None).collect()).collect();
    let mut max_feature = 0;
    for i in 0..n {
        let (t, id) = (tree_ids[i], node_ids[i]);
        let size = sizes[t];
        let slot = trees[t]
            .get_mut(id)
            .ok_or_else(|| format!("tree {t}: node id {id} outside 0..{size}"))?;
        if slot.is_some() {
            return Err(format!("tree {t}: duplicate node id {id}"));
        }
        *slot = Some(match parse_mode(&modes[i])? {
            None => Err(Vec::new()),
            Some(cmp) => {
                if true_ids[i] >= size || false_ids[i] >= size {
                    return Err(format!("tree {t}: node {id} has a child outside the tree"));
                }
                max_feature = max_feature.max(features[i]);
                Ok(Branch {
                    cmp,
                    feature: features[i],
                    value: values[i],
                    true_id: true_ids[i],
                    false_id: false_ids[i],
                    nan_true: nan_true.as_ref().is_some_and(|v| v[i] != 0),
                })
            }
        });
    }
    // Each tree has exactly `size` distinct ids below `size`, so every slot is filled.
    let mut trees: Vec<Vec<Node>> = trees
        .into_iter()
        .map(|nodes| nodes.into_iter().collect::<Option<Vec<_>>>())
        .collect::<Option<Vec<_>>>()
        .ok_or("node ids are not contiguous")?;
    // Every node must be reached at most once from the root: no cycles, no shared children.
    for (t, nodes) in trees.iter().enumerate() {
        let mut seen = vec![false; nodes.len()];
        let mut stack = vec![0usize];
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id], true) {
                return Err(format!("tree {t}: node {id} is reached twice (cycle or shared node)"));
            }
            if let Ok(b) = &nodes[id] {
                stack.push(b.true_id);
                stack.push(b.false_id);
            }
        }
    }
    let prefix = if classifier { "class" } else { "target" };
    let leaf_trees = ints(node, &format!("{prefix}_treeids"))?;
    let leaf_nodes = ints(node, &format!("{prefix}_nodeids"))?;
    let leaf_outputs = ints(node, &format!("{prefix}_ids"))?;
    let weights = floats(node, &format!("{prefix}_weights"))?;
    let m = leaf_trees.len();
    if m == 0
        || [leaf_nodes.len(), leaf_outputs.len(), weights.len()]
            .iter()
            .any(|l| *l != m)
    {
        return Err("leaf attributes are empty or have different lengths".into());
    }
    for i in 0..m {
        if leaf_outputs[i] >= n_outputs {
            return Err(format!("leaf output id {} outside 0..{n_outputs}", leaf_outputs[i]));
        }
        match trees.get_mut(leaf_trees[i]).and_then(|t| t.get_mut(leaf_nodes[i])) {
            Some(Err(contributions)) => contributions.push((leaf_outputs[i], weights[i])),
            _ => {
                return Err(format!(
                    "leaf weight for tree {} node {} which is not a leaf",
                    leaf_trees[i], leaf_nodes[i]
                ))
            }
        }
    }
    if let Some(base) = attribute(node, "base_values") {
        if base.floats.len() != n_outputs || base.floats.iter().any(|v| !v.is_finite()) {
            return Err("base_values must hold one finite value per output".into());
        }
    }
    Ok(Ensemble {
        trees,
        n_outputs,
        max_feature,
    })
}

impl Ensemble {
    /// The runtime's packed representation (see `TreeEnsembleData`).
    fn to_tract(&self, aggregate: Aggregate) -> TractResult<TreeEnsemble> {
        let mut roots: Vec<u32> = Vec::new();
        let mut nodes: Vec<u32> = Vec::new();
        let mut leaves: Vec<u32> = Vec::new();
        for tree in &self.trees {
            let start = (nodes.len() / 5) as u32;
            roots.push(start);
            for node in tree {
                match node {
                    Ok(b) => nodes.extend([
                        b.feature as u32,
                        b.true_id as u32 + start,
                        b.false_id as u32 + start,
                        b.value.to_bits(),
                        (0x0100u32 * u32::from(b.nan_true)) | b.cmp as u32,
                    ]),
                    Err(contributions) => {
                        let first = (leaves.len() / 2) as u32;
                        for (output, weight) in contributions {
                            leaves.extend([*output as u32, weight.to_bits()]);
                        }
                        nodes.extend([first, (leaves.len() / 2) as u32, 0, 0, 0]);
                    }
                }
            }
        }
        let n_nodes = nodes.len() / 5;
        let n_leaves = leaves.len() / 2;
        let data = TreeEnsembleData {
            trees: rctensor1(&roots),
            nodes: tensor1(&nodes).into_shape(&[n_nodes, 5])?.into_arc_tensor(),
            leaves: tensor1(&leaves).into_shape(&[n_leaves, 2])?.into_arc_tensor(),
        };
        TreeEnsemble::build(data, self.max_feature, self.n_outputs, aggregate)
    }
}

/// The ONNX `TreeEnsembleRegressor` operator: sums (or averages) the leaf values of every tree
/// per target and adds `base_values`.
#[derive(Debug, Clone)]
struct TreeEnsembleRegressor {
    ensemble: TreeEnsemble,
    base_values: Option<Arc<Tensor>>,
}

/// Builds the regressor from its node (registered with the ONNX parser).
pub(crate) fn tree_regressor(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ensemble = validate(node, false).map_err(|e| format_err!("TreeEnsembleRegressor: {e}"))?;
    let aggregate = match string(node, "aggregate_function").as_deref() {
        None | Some("SUM") => Aggregate::Sum,
        Some("AVERAGE") => Aggregate::Avg,
        Some(other) => bail!("TreeEnsembleRegressor: aggregate_function {other} is not supported"),
    };
    match string(node, "post_transform").as_deref() {
        None | Some("NONE") => {}
        Some(other) => bail!("TreeEnsembleRegressor: post_transform {other} is not supported"),
    }
    let base_values = match attribute(node, "base_values") {
        Some(a) => Some(Tensor::from_shape(&[1, a.floats.len()], &a.floats)?.into_arc_tensor()),
        None => None,
    };
    Ok((
        expand(TreeEnsembleRegressor {
            ensemble: ensemble.to_tract(aggregate)?,
            base_values,
        }),
        vec![],
    ))
}

impl Expansion for TreeEnsembleRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], self.ensemble.n_classes().to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?;
        ensure!(fact.rank() == 2, "TreeEnsembleRegressor expects a 2D input");
        if let Some(width) = fact.shape[1].as_i64() {
            self.ensemble.check_n_features(width as usize)?;
        }
        let mut scores = model.wire_node(
            format!("{prefix}.ensemble"),
            tract_onnx_opl::ml::tree_ensemble_classifier::TreeEnsembleClassifier {
                ensemble: self.ensemble.clone(),
            },
            inputs,
        )?;
        if let Some(base) = &self.base_values {
            let base = model.add_const(format!("{prefix}.base_values"), base.clone())?;
            scores = model.wire_node(
                format!("{prefix}.add_base_values"),
                tract_onnx::tract_hir::tract_core::ops::math::add(),
                &[scores[0], base],
            )?;
        }
        Ok(scores)
    }
}
