//! ONNX models, evaluated by the pure-Rust `tract` runtime.
//!
//! A model takes one input tensor of shape `[batch, n]` (float or double) and either
//!
//! * returns a label tensor and a probability tensor `[batch, classes]` (the layout of
//!   scikit-learn classifiers converted by skl2onnx, with or without a `ZipMap`, which is
//!   removed at load time): the prediction is a [`Prediction::Class`]; or
//! * returns a numeric tensor: the prediction is a [`Prediction::Score`] when it holds a single
//!   value and a [`Prediction::Vector`] otherwise.
//!
//! Feature names come from the model's metadata property `feature_names` (comma-separated)
//! when present, and are `x0`, `x1`, ... otherwise. Class labels come from the `ZipMap` or
//! the classifier operator's `classlabels_*` attribute, or from the label table a network looks
//! its label up in, and are `0`, `1`, ... otherwise.
//!
//! The document is checked before the runtime sees it: a single graph input, tensors without
//! external data and of consistent sizes, nodes in topological order, and fully validated
//! tree ensembles.

mod trees;

use std::collections::HashSet;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::{
    tvec, DatumType, Framework, InferenceFact, InferenceModelExt, IntoTensor, TDim, Tensor, TractResult,
    TypedRunnableModel,
};
use tract_onnx::tract_core::model::IntoRunnable;

use crate::model::{check_count, ClassPrediction, FeatureSpec, Model, ModelFormat, Prediction};
use crate::ModelError;

const FORMAT: &str = "onnx";

/// Largest document accepted, in bytes.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;
/// Largest tensor accepted, in elements.
const MAX_TENSOR_ELEMENTS: u64 = 1 << 26;
/// Largest input width accepted.
const MAX_FEATURES: i64 = 1 << 20;

// ONNX TensorProto data types.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const STRING: i32 = 8;
const DOUBLE: i32 = 11;

fn malformed(reason: impl Into<String>) -> ModelError {
    ModelError::malformed(FORMAT, reason)
}

fn unsupported(reason: impl Into<String>) -> ModelError {
    ModelError::unsupported(FORMAT, reason)
}

/// Runs runtime code, turning its errors and panics into messages.
fn guarded<T>(f: impl FnOnce() -> TractResult<T>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("the ONNX runtime panicked".to_string()),
    }
}

#[derive(Debug, Clone)]
enum Output {
    Classes {
        label: usize,
        probabilities: usize,
        classes: Vec<String>,
        /// When set, the label output holds indices into these names.
        label_names: Option<Vec<String>>,
    },
    Values {
        output: usize,
    },
}

/// An ONNX model ready to score.
///
/// Two plans are compiled at load: one for a single row (`[1, n]`), used by
/// [`Model::predict`], and, when the graph allows it, one for any number of rows (`[N, n]`),
/// used by [`Model::predict_batch`] to score a whole batch in one run of the runtime
/// ([`OnnxModel::batches`] tells which).
///
/// ```
/// use streams_ml::onnx::OnnxModel;
/// use streams_ml::Model;
///
/// let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/onnx/iris_tree.onnx"))
///     .expect("test model");
/// let model = OnnxModel::from_slice("iris", 1, &bytes)?;
/// let p = model.predict(&[5.1, 3.5, 1.4, 0.2])?;
/// assert_eq!(p.label(), Some("setosa"));
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
pub struct OnnxModel {
    name: String,
    version: u64,
    inputs: Vec<FeatureSpec>,
    input_type: DatumType,
    plan: Arc<TypedRunnableModel>,
    /// The plan with a symbolic batch dimension, when the graph compiles with one.
    batch_plan: Option<Arc<TypedRunnableModel>>,
    output: Output,
}

impl fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxModel")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("inputs", &self.inputs.len())
            .field("output", &self.output)
            .field("batches", &self.batch_plan.is_some())
            .finish()
    }
}

/// What [`prepare`] learns about the graph.
struct Prepared {
    width: usize,
    input_type: DatumType,
    feature_names: Vec<String>,
    output: Output,
    classes_known: bool,
}

fn string_attr(node: &pb::NodeProto, name: &str) -> Option<Vec<String>> {
    let a = node.attribute.iter().find(|a| a.name == name)?;
    if !a.strings.is_empty() {
        Some(
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        )
    } else if !a.ints.is_empty() {
        Some(a.ints.iter().map(i64::to_string).collect())
    } else {
        None
    }
}

fn class_labels(node: &pb::NodeProto) -> Option<Vec<String>> {
    string_attr(node, "classlabels_strings")
        .or_else(|| string_attr(node, "classlabels_int64s"))
        .or_else(|| string_attr(node, "classlabels_ints"))
}

/// Checks a tensor's size, and that its data is inline and of the declared size.
fn check_tensor(t: &pb::TensorProto) -> Result<(), ModelError> {
    if !t.external_data.is_empty() || t.data_location == Some(1) {
        return Err(unsupported(format!("tensor `{}` stores its data externally", t.name)));
    }
    if t.segment.is_some() {
        return Err(unsupported(format!("segmented tensor `{}`", t.name)));
    }
    let mut n: u64 = 1;
    for &d in &t.dims {
        let d = u64::try_from(d).map_err(|_| malformed(format!("tensor `{}` has a negative dimension", t.name)))?;
        n = n
            .checked_mul(d)
            .filter(|n| *n <= MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| unsupported(format!("tensor `{}` is too large", t.name)))?;
    }
    let element_size: Option<u64> = match t.data_type {
        2 | 3 | 9 => Some(1),        // uint8, int8, bool
        4 | 5 | 10 | 16 => Some(2),  // uint16, int16, float16, bfloat16
        1 | 6 | 12 => Some(4),       // float, int32, uint32
        7 | 11 | 13 | 14 => Some(8), // int64, double, uint64, complex64
        15 => Some(16),              // complex128
        8 => None,                   // string
        other => return Err(unsupported(format!("tensor `{}` of data type {other}", t.name))),
    };
    let held = if !t.raw_data.is_empty() {
        match element_size {
            Some(size) if t.raw_data.len() as u64 == n * size => return Ok(()),
            _ => {
                return Err(malformed(format!(
                    "tensor `{}` holds {} bytes of raw data for {n} elements",
                    t.name,
                    t.raw_data.len()
                )))
            }
        }
    } else {
        t.float_data.len()
            + t.int32_data.len()
            + t.string_data.len()
            + t.int64_data.len()
            + t.double_data.len()
            + t.uint64_data.len()
    } as u64;
    // complex values take two numbers each
    let expected = if matches!(t.data_type, 14 | 15) { 2 * n } else { n };
    if held != expected {
        return Err(malformed(format!(
            "tensor `{}` holds {held} values for {n} elements",
            t.name
        )));
    }
    Ok(())
}

fn check_graph_tensors(graph: &pb::GraphProto, depth: usize) -> Result<(), ModelError> {
    if depth > 32 {
        return Err(unsupported("subgraphs nested too deeply"));
    }
    if !graph.sparse_initializer.is_empty() {
        return Err(unsupported("sparse initializers"));
    }
    for t in &graph.initializer {
        check_tensor(t)?;
    }
    for node in &graph.node {
        for a in &node.attribute {
            if a.sparse_tensor.is_some() || !a.sparse_tensors.is_empty() {
                return Err(unsupported("sparse tensor attributes"));
            }
            if let Some(t) = &a.t {
                check_tensor(t)?;
            }
            for t in &a.tensors {
                check_tensor(t)?;
            }
            if let Some(g) = &a.g {
                check_graph_tensors(g, depth + 1)?;
            }
            for g in &a.graphs {
                check_graph_tensors(g, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn tensor_type(info: &pb::ValueInfoProto) -> Option<&pb::type_proto::Tensor> {
    match info.r#type.as_ref()?.value.as_ref()? {
        pb::type_proto::Value::TensorType(t) => Some(t),
    }
}

/// The labels held by an initializer (strings or int64s), when it has inline data.
fn initializer_labels(t: &pb::TensorProto) -> Option<Vec<String>> {
    match t.data_type {
        STRING => Some(
            t.string_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        INT64 if !t.int64_data.is_empty() => Some(t.int64_data.iter().map(i64::to_string).collect()),
        INT64 => Some(
            t.raw_data
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    i64::from_le_bytes(b).to_string()
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Validates the graph, removes `ZipMap` nodes and works out the input and output layout.
fn prepare(proto: &mut pb::ModelProto, known_ops: &HashSet<String>) -> Result<Prepared, ModelError> {
    let feature_names_prop = proto
        .metadata_props
        .iter()
        .find(|p| p.key == "feature_names")
        .map(|p| p.value.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>());
    let graph = proto.graph.as_mut().ok_or_else(|| malformed("no graph"))?;
    check_graph_tensors(graph, 0)?;

    // Strip ZipMap nodes: expose the probability tensor they wrap.
    let mut zipmap_classes = None;
    while let Some(i) = graph.node.iter().position(|n| n.op_type == "ZipMap") {
        let node = graph.node.remove(i);
        let (Some(input), Some(output)) = (node.input.first(), node.output.first()) else {
            return Err(malformed("ZipMap without input or output"));
        };
        if graph.node.iter().any(|n| n.input.contains(output)) {
            return Err(unsupported("a ZipMap output consumed by another node"));
        }
        for out in graph.output.iter_mut().filter(|o| o.name == *output) {
            out.name = input.clone();
            out.r#type = Some(pb::TypeProto {
                denotation: String::new(),
                value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                    elem_type: FLOAT,
                    shape: None,
                })),
            });
        }
        zipmap_classes = class_labels(&node);
    }
    for node in &graph.node {
        if !known_ops.contains(&node.op_type) {
            return Err(unsupported(format!("operator `{}`", node.op_type)));
        }
    }

    // The runtime's classifiers cannot emit string labels: give them indices instead when the
    // label goes straight to a graph output, and map the indices back after each run.
    let mut indexed_labels = None;
    for node in graph.node.iter_mut() {
        if !matches!(node.op_type.as_str(), "TreeEnsembleClassifier" | "LinearClassifier") {
            continue;
        }
        let Some(label_output) = node.output.first() else {
            continue;
        };
        let Some(graph_output) = graph.output.iter_mut().find(|o| o.name == *label_output) else {
            continue;
        };
        let Some(attribute) = node.attribute.iter_mut().find(|a| a.name == "classlabels_strings") else {
            continue;
        };
        let labels: Vec<String> = attribute
            .strings
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        attribute.name = if node.op_type == "LinearClassifier" {
            "classlabels_ints".to_string()
        } else {
            "classlabels_int64s".to_string()
        };
        attribute.r#type = pb::attribute_proto::AttributeType::Ints as i32;
        attribute.strings.clear();
        attribute.ints = (0..labels.len() as i64).collect();
        if let Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(t)),
            ..
        }) = graph_output.r#type.as_mut()
        {
            t.elem_type = INT64;
        }
        if indexed_labels.replace(labels).is_some() {
            return Err(unsupported("more than one classifier with string labels"));
        }
    }

    // One real input of shape [batch, width].
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let real_inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .collect();
    let [input] = real_inputs.as_slice() else {
        return Err(unsupported(format!(
            "{} graph inputs (exactly one is supported)",
            real_inputs.len()
        )));
    };
    let input_tensor =
        tensor_type(input).ok_or_else(|| malformed(format!("input `{}` has no tensor type", input.name)))?;
    let input_type = match input_tensor.elem_type {
        FLOAT => DatumType::F32,
        DOUBLE => DatumType::F64,
        other => {
            return Err(unsupported(format!(
                "input of element type {other} (float or double expected)"
            )))
        }
    };
    let dims = input_tensor
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    let width = match dims {
        [_, d] => match d.value {
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(w)) if (1..=MAX_FEATURES).contains(&w) => {
                w as usize
            }
            _ => return Err(unsupported("input width is not a fixed positive number")),
        },
        _ => return Err(unsupported("input is not of shape [batch, features]")),
    };

    // Nodes in topological order, each value defined once, outputs defined.
    let mut defined: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    defined.extend(initializers.iter().copied());
    for node in &graph.node {
        for name in node.input.iter().filter(|n| !n.is_empty()) {
            if !defined.contains(name.as_str()) {
                return Err(malformed(format!(
                    "node `{}` ({}) reads `{name}` before it is defined",
                    node.name, node.op_type
                )));
            }
        }
        for name in node.output.iter().filter(|n| !n.is_empty()) {
            if !defined.insert(name.as_str()) {
                return Err(malformed(format!("value `{name}` is defined twice")));
            }
        }
        match node.op_type.as_str() {
            "TreeEnsembleClassifier" => trees::validate(node, true).map(|_| ()),
            "TreeEnsembleRegressor" => trees::validate(node, false).map(|_| ()),
            _ => Ok(()),
        }
        .map_err(|e| malformed(format!("{}: {e}", node.op_type)))?;
    }
    if graph.output.is_empty() {
        return Err(malformed("no graph outputs"));
    }
    for out in &graph.output {
        if !defined.contains(out.name.as_str()) {
            return Err(malformed(format!("graph output `{}` is never defined", out.name)));
        }
    }

    let elem = |i: usize| graph.output.get(i).and_then(tensor_type).map(|t| t.elem_type);
    let classifier = graph.output.len() == 2
        && matches!(elem(0), Some(INT64 | STRING | INT32))
        && matches!(elem(1), Some(FLOAT | DOUBLE));
    let label_names = indexed_labels.clone();
    let (output, classes_known) = if classifier {
        let classes = indexed_labels
            .or(zipmap_classes)
            .or_else(|| graph.node.iter().find_map(class_labels))
            .or_else(|| {
                let table = graph
                    .node
                    .iter()
                    .find(|n| n.op_type == "ArrayFeatureExtractor")
                    .and_then(|n| n.input.first())?;
                graph
                    .initializer
                    .iter()
                    .find(|t| t.name == *table)
                    .and_then(initializer_labels)
            });
        let known = classes.is_some();
        (
            Output::Classes {
                label: 0,
                probabilities: 1,
                classes: classes.unwrap_or_default(),
                label_names,
            },
            known,
        )
    } else {
        (Output::Values { output: 0 }, true)
    };
    let feature_names = match feature_names_prop {
        Some(names) if names.len() == width => names,
        Some(names) => {
            return Err(malformed(format!(
                "metadata feature_names lists {} names for {width} inputs",
                names.len()
            )))
        }
        None => (0..width).map(|i| format!("x{i}")).collect(),
    };
    Ok(Prepared {
        width,
        input_type,
        feature_names,
        output,
        classes_known,
    })
}

/// Reads a tensor as strings (labels).
fn labels_of(t: &Tensor) -> TractResult<Vec<String>> {
    Ok(match t.datum_type() {
        DatumType::String => t.to_plain_array_view::<String>()?.iter().cloned().collect(),
        DatumType::I64 => t.to_plain_array_view::<i64>()?.iter().map(i64::to_string).collect(),
        DatumType::I32 => t.to_plain_array_view::<i32>()?.iter().map(i32::to_string).collect(),
        _ => t
            .cast_to::<f64>()?
            .to_plain_array_view::<f64>()?
            .iter()
            .map(f64::to_string)
            .collect(),
    })
}

fn numbers_of(t: &Tensor) -> TractResult<Vec<f64>> {
    Ok(t.cast_to::<f64>()?
        .to_plain_array_view::<f64>()?
        .iter()
        .copied()
        .collect())
}

impl OnnxModel {
    /// Parses, validates and compiles an ONNX model.
    pub fn from_slice(name: impl Into<String>, version: u64, bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(malformed("document too large"));
        }
        let mut framework = tract_onnx::onnx();
        framework
            .op_register
            .insert("TreeEnsembleRegressor", trees::tree_regressor);
        let mut proto = guarded(|| framework.proto_model_for_read(&mut &bytes[..])).map_err(malformed)?;
        let known_ops: HashSet<String> = framework.op_register.0.keys().cloned().collect();
        let prepared = prepare(&mut proto, &known_ops)?;
        let width = prepared.width;
        let input_type = prepared.input_type;
        let plan = guarded(|| {
            let model = framework.model_for_proto_model(&proto)?;
            let fact = InferenceFact::dt_shape(input_type, [1usize, width]);
            model.with_input_fact(0, fact)?.into_optimized()?.into_runnable()
        })
        .map_err(malformed)?;
        let batch_plan = guarded(|| {
            let model = framework.model_for_proto_model(&proto)?;
            let rows: TDim = model.symbols.sym("N").into();
            let fact = InferenceFact::dt_shape(input_type, [rows, TDim::from(width)]);
            model.with_input_fact(0, fact)?.into_optimized()?.into_runnable()
        });
        let mut model = OnnxModel {
            name: name.into(),
            version,
            inputs: prepared.feature_names.into_iter().map(FeatureSpec::numeric).collect(),
            input_type,
            plan,
            batch_plan: None,
            output: prepared.output,
        };
        // A trial run checks the output layout and fills in unknown class labels.
        let zeros = vec![0.0; width];
        let outputs = model
            .run(&model.plan, &[&zeros[..]])
            .map_err(|e| malformed(format!("trial run: {e}")))?;
        match &mut model.output {
            Output::Classes {
                label,
                probabilities,
                classes,
                ..
            } => {
                let labels = outputs.get(*label).map(labels_of).transpose();
                let probs = outputs.get(*probabilities).map(numbers_of).transpose();
                let (Ok(Some(labels)), Ok(Some(probs))) = (labels, probs) else {
                    return Err(malformed("trial run: unreadable label or probability output"));
                };
                if labels.len() != 1 || probs.is_empty() {
                    return Err(malformed("trial run: expected one label and a probability row"));
                }
                if !prepared.classes_known {
                    *classes = (0..probs.len()).map(|i| i.to_string()).collect();
                } else if classes.len() != probs.len() {
                    return Err(malformed(format!(
                        "{} class labels for {} probabilities",
                        classes.len(),
                        probs.len()
                    )));
                }
            }
            Output::Values { output } => match outputs.get(*output).map(numbers_of) {
                Some(Ok(values)) if !values.is_empty() => {}
                _ => return Err(malformed("trial run: unreadable numeric output")),
            },
        }
        // The batch plan serves only when a trial batch gives one prediction per row, each
        // that of the single-row plan.
        match batch_plan {
            Ok(batch_plan) => {
                let single = model.decode(&outputs, 1);
                let batched = model
                    .run(&batch_plan, &[&zeros[..], &zeros[..]])
                    .map_err(ModelError::Evaluation)
                    .and_then(|outputs| model.decode(&outputs, 2));
                match (single, batched) {
                    (Ok(single), Ok(batched))
                        if batched.len() == 2 && batched.iter().all(|p| p.approx_eq(&single[0], 1e-5)) =>
                    {
                        model.batch_plan = Some(batch_plan);
                    }
                    (_, batched) => tracing::debug!(model = %model.name, ?batched,
                        "the ONNX model does not score batches; batches are scored row by row"),
                }
            }
            Err(error) => tracing::debug!(model = %model.name, %error,
                "the ONNX model does not compile with a batch dimension; batches are scored row by row"),
        }
        Ok(model)
    }

    /// Whether [`Model::predict_batch`] scores a batch in one run of the runtime (else row by
    /// row).
    pub fn batches(&self) -> bool {
        self.batch_plan.is_some()
    }

    /// The class labels of a classifier, in probability order (empty for other models).
    pub fn classes(&self) -> &[String] {
        match &self.output {
            Output::Classes { classes, .. } => classes,
            Output::Values { .. } => &[],
        }
    }

    /// Runs `plan` on `rows` (each as wide as the input) as one `[rows, width]` tensor.
    fn run(&self, plan: &Arc<TypedRunnableModel>, rows: &[&[f64]]) -> Result<Vec<Tensor>, String> {
        let width = self.inputs.len();
        let shape = [rows.len(), width];
        guarded(|| {
            let input = match self.input_type {
                DatumType::F64 => {
                    let f: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
                    Tensor::from_shape(&shape, &f)?
                }
                _ => {
                    let f: Vec<f32> = rows.iter().flat_map(|r| r.iter().map(|x| *x as f32)).collect();
                    Tensor::from_shape(&shape, &f)?
                }
            };
            let outputs = plan.run(tvec!(input.into_tensor().into()))?;
            Ok(outputs.into_iter().map(|v| v.into_tensor()).collect())
        })
    }

    /// Checks one row: its width, and that every value is a finite number.
    fn check_row(&self, features: &[f64]) -> Result<(), ModelError> {
        check_count(self.inputs.len(), features)?;
        if let Some(i) = features.iter().position(|x| !x.is_finite()) {
            return Err(ModelError::invalid_feature(&self.inputs[i].name, "not a finite number"));
        }
        Ok(())
    }

    /// The predictions of the `rows` rows of a run's outputs, in row order.
    fn decode(&self, outputs: &[Tensor], rows: usize) -> Result<Vec<Prediction>, ModelError> {
        let evaluation = |e: tract_onnx::prelude::TractError| ModelError::Evaluation(format!("{e:#}"));
        let missing = || ModelError::Evaluation("the model returned too few outputs".into());
        match &self.output {
            Output::Classes {
                label,
                probabilities,
                classes,
                label_names,
            } => {
                let mut labels = labels_of(outputs.get(*label).ok_or_else(missing)?).map_err(evaluation)?;
                if let Some(names) = label_names {
                    for l in labels.iter_mut() {
                        let name = l.parse::<usize>().ok().and_then(|i| names.get(i));
                        *l = name
                            .ok_or_else(|| ModelError::Evaluation(format!("label index {l} out of range")))?
                            .clone();
                    }
                }
                let probs = numbers_of(outputs.get(*probabilities).ok_or_else(missing)?).map_err(evaluation)?;
                if labels.len() != rows {
                    return Err(ModelError::Evaluation(format!(
                        "{} labels for {rows} rows",
                        labels.len()
                    )));
                }
                if probs.len() != rows * classes.len() {
                    return Err(ModelError::Evaluation(format!(
                        "{} probabilities for {rows} rows of {} classes",
                        probs.len(),
                        classes.len()
                    )));
                }
                Ok(labels
                    .into_iter()
                    .zip(probs.chunks_exact(classes.len().max(1)))
                    .map(|(label, row)| {
                        Prediction::Class(ClassPrediction {
                            label,
                            probabilities: classes.iter().cloned().zip(row.iter().copied()).collect(),
                        })
                    })
                    .collect())
            }
            Output::Values { output } => {
                let values = numbers_of(outputs.get(*output).ok_or_else(missing)?).map_err(evaluation)?;
                if rows == 0 || values.is_empty() || !values.len().is_multiple_of(rows) {
                    return Err(ModelError::Evaluation(format!(
                        "{} output values for {rows} rows",
                        values.len()
                    )));
                }
                Ok(values
                    .chunks_exact(values.len() / rows)
                    .map(|row| match row {
                        [single] => Prediction::Score(*single),
                        _ => Prediction::Vector(row.to_vec()),
                    })
                    .collect())
            }
        }
    }
}

impl Model for OnnxModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn format(&self) -> ModelFormat {
        ModelFormat::Onnx
    }

    fn inputs(&self) -> &[FeatureSpec] {
        &self.inputs
    }

    fn predict(&self, features: &[f64]) -> Result<Prediction, ModelError> {
        self.check_row(features)?;
        let outputs = self.run(&self.plan, &[features]).map_err(ModelError::Evaluation)?;
        self.decode(&outputs, 1)?
            .pop()
            .ok_or_else(|| ModelError::Evaluation("no prediction".into()))
    }

    /// Scores the valid rows in one run of the batch plan (rows with a wrong width or a
    /// value that is not finite get their error, as from [`Model::predict`]); row by row when
    /// the model has no batch plan or the run fails.
    fn predict_batch(&self, rows: &[Vec<f64>]) -> Vec<Result<Prediction, ModelError>> {
        let Some(batch_plan) = &self.batch_plan else {
            return rows.iter().map(|row| self.predict(row)).collect();
        };
        let mut results: Vec<Option<Result<Prediction, ModelError>>> =
            rows.iter().map(|row| self.check_row(row).err().map(Err)).collect();
        let valid: Vec<&[f64]> = rows
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_none())
            .map(|(row, _)| row.as_slice())
            .collect();
        if valid.len() > 1 {
            let batched = self
                .run(batch_plan, &valid)
                .map_err(ModelError::Evaluation)
                .and_then(|outputs| self.decode(&outputs, valid.len()));
            if let Ok(predictions) = batched {
                let mut predictions = predictions.into_iter();
                for slot in results.iter_mut().filter(|r| r.is_none()) {
                    *slot = predictions.next().map(Ok);
                }
            }
        }
        rows.iter()
            .zip(results)
            .map(|(row, result)| result.unwrap_or_else(|| self.predict(row)))
            .collect()
    }
}
