//! Every shipped model must reproduce the reference predictions of the library that exported
//! it (see `testdata/generate.py`).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use streams_ml::{load_document, FeatureValue, Model, ModelFormat, Prediction};

fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(testdata(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn expected(path: &str) -> Value {
    serde_json::from_slice(&read(&format!("{path}.expected.json"))).expect("expected.json")
}

fn load(format: ModelFormat, path: &str) -> Arc<dyn Model> {
    load_document(format, path, 1, &read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// Input rows: arrays of numbers, or objects keyed by input name (PMML).
fn predict_row(model: &dyn Model, row: &Value) -> Prediction {
    let result = match row {
        Value::Array(_) => model.predict(&numbers(row)),
        Value::Object(map) => {
            let values: Vec<FeatureValue> = model
                .inputs()
                .iter()
                .map(|spec| match map.get(&spec.name) {
                    Some(Value::Number(n)) => FeatureValue::Number(n.as_f64().expect("f64")),
                    Some(Value::String(s)) => FeatureValue::Category(s.clone()),
                    _ => FeatureValue::Missing,
                })
                .collect();
            model.predict_values(&values)
        }
        other => panic!("bad input row {other}"),
    };
    result.unwrap_or_else(|e| panic!("{}: {e} for {row}", model.name()))
}

/// Checks a model against its reference outputs; `tolerance` is `None` for an exact label
/// comparison only.
fn check(format: ModelFormat, path: &str, tolerance: Option<f64>) -> usize {
    let model = load(format, path);
    let expected = expected(path);
    let inputs = expected["inputs"].as_array().expect("inputs");
    assert!(!inputs.is_empty());
    for (i, row) in inputs.iter().enumerate() {
        let prediction = predict_row(model.as_ref(), row);
        if let Some(scores) = expected.get("scores") {
            let want = scores[i].as_f64().expect("score");
            let got = prediction
                .score()
                .unwrap_or_else(|| panic!("{path}: not a score: {prediction:?}"));
            let tol = tolerance.unwrap_or(0.0);
            assert!(
                (got - want).abs() <= tol,
                "{path} row {i}: score {got} vs reference {want} (tolerance {tol})"
            );
        } else {
            let want = expected["labels"][i].as_str().expect("label");
            assert_eq!(prediction.label(), Some(want), "{path} row {i}: {prediction:?}");
            if let (Some(probabilities), Some(tol)) = (expected.get("probabilities"), tolerance) {
                let classes = expected["classes"].as_array().expect("classes");
                for (class, p) in classes.iter().zip(numbers(&probabilities[i])) {
                    let class = class.as_str().expect("class");
                    let got = prediction
                        .probability(class)
                        .unwrap_or_else(|| panic!("{path} row {i}: no probability for {class}"));
                    assert!(
                        (got - p).abs() <= tol,
                        "{path} row {i}: P({class}) = {got} vs reference {p}"
                    );
                }
            }
        }
    }
    inputs.len()
}

const LINEAR_TOLERANCE: f64 = 1e-9;
const ONNX_TOLERANCE: f64 = 1e-5;

#[test]
fn json_linear_regression_matches_scikit_learn() {
    check(
        ModelFormat::JsonLinear,
        "json/linear_regression.json",
        Some(LINEAR_TOLERANCE),
    );
}

#[test]
fn json_logistic_regression_matches_scikit_learn() {
    check(
        ModelFormat::JsonLinear,
        "json/logistic_regression.json",
        Some(LINEAR_TOLERANCE),
    );
    check(
        ModelFormat::JsonLinear,
        "json/logistic_plain.json",
        Some(LINEAR_TOLERANCE),
    );
}

#[test]
fn pmml_regression_models_match_scikit_learn() {
    check(ModelFormat::Pmml, "pmml/linear_regression.pmml", Some(LINEAR_TOLERANCE));
    check(
        ModelFormat::Pmml,
        "pmml/logistic_regression.pmml",
        Some(LINEAR_TOLERANCE),
    );
    check(ModelFormat::Pmml, "pmml/iris_logistic.pmml", Some(LINEAR_TOLERANCE));
}

#[test]
fn pmml_tree_models_match_scikit_learn() {
    // Exact classes; tree scores and probabilities are leaf constants, so they match closely.
    check(ModelFormat::Pmml, "pmml/tree_classifier.pmml", Some(1e-12));
    check(ModelFormat::Pmml, "pmml/iris_tree.pmml", Some(1e-12));
    check(ModelFormat::Pmml, "pmml/tree_regressor.pmml", Some(1e-12));
}

#[test]
fn pmml_ensembles_match_scikit_learn() {
    check(ModelFormat::Pmml, "pmml/iris_forest.pmml", Some(1e-12));
    check(ModelFormat::Pmml, "pmml/forest_regressor.pmml", Some(1e-9));
    check(ModelFormat::Pmml, "pmml/iris_vote.pmml", None);
}

#[test]
fn onnx_linear_models_match_onnxruntime() {
    check(ModelFormat::Onnx, "onnx/linear_regression.onnx", Some(ONNX_TOLERANCE));
    check(ModelFormat::Onnx, "onnx/logistic_regression.onnx", Some(ONNX_TOLERANCE));
    check(ModelFormat::Onnx, "onnx/iris_logistic.onnx", Some(ONNX_TOLERANCE));
}

#[test]
fn onnx_tree_models_match_onnxruntime() {
    check(ModelFormat::Onnx, "onnx/iris_tree.onnx", Some(ONNX_TOLERANCE));
    check(ModelFormat::Onnx, "onnx/iris_forest.onnx", Some(ONNX_TOLERANCE));
    check(ModelFormat::Onnx, "onnx/tree_regressor.onnx", Some(ONNX_TOLERANCE));
}

#[test]
fn onnx_dense_networks_match_onnxruntime() {
    check(ModelFormat::Onnx, "onnx/mlp_regressor.onnx", Some(ONNX_TOLERANCE));
    check(ModelFormat::Onnx, "onnx/iris_mlp.onnx", Some(ONNX_TOLERANCE));
}

#[test]
fn schemas_describe_the_inputs() {
    let pmml = load(ModelFormat::Pmml, "pmml/linear_regression.pmml");
    let names: Vec<&str> = pmml.inputs().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fld1", "fld2", "fld3", "fld4", "fld5"]);
    assert_eq!(
        pmml.inputs()[4].kind,
        streams_ml::FeatureKind::Categorical {
            values: vec!["a".into(), "b".into(), "c".into()]
        }
    );
    let onnx = load(ModelFormat::Onnx, "onnx/linear_regression.onnx");
    let names: Vec<&str> = onnx.inputs().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fld1", "fld2", "fld3", "fld4"]);
    let iris = load(ModelFormat::Onnx, "onnx/iris_tree.onnx");
    let names: Vec<&str> = iris.inputs().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["x0", "x1", "x2", "x3"]);
}

#[test]
fn onnx_classifiers_report_their_class_labels() {
    let cases = [
        ("onnx/logistic_regression.onnx", vec!["0", "1"]),
        ("onnx/iris_tree.onnx", vec!["setosa", "versicolor", "virginica"]),
        ("onnx/iris_mlp.onnx", vec!["setosa", "versicolor", "virginica"]),
    ];
    for (path, classes) in cases {
        let model = streams_ml::onnx::OnnxModel::from_slice(path, 1, &read(path)).expect(path);
        assert_eq!(model.classes(), classes.as_slice(), "{path}");
    }
}
