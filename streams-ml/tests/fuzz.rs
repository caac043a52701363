//! Malformed documents give errors, never panics: random bytes, truncated documents and
//! byte-level mutations of the shipped models, for every loader.

use std::path::PathBuf;

use proptest::prelude::*;
use streams_ml::linear::LinearModel;
use streams_ml::onnx::OnnxModel;
use streams_ml::pmml::PmmlModel;
use streams_ml::{load_model, Model, ModelEnvelope, ModelFormat, SgdLearner};

fn read(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const JSON: &[&str] = &[
    "json/linear_regression.json",
    "json/logistic_regression.json",
    "json/logistic_plain.json",
];
const PMML: &[&str] = &[
    "pmml/linear_regression.pmml",
    "pmml/logistic_regression.pmml",
    "pmml/tree_classifier.pmml",
    "pmml/tree_regressor.pmml",
    "pmml/iris_forest.pmml",
    "pmml/iris_vote.pmml",
    "pmml/forest_regressor.pmml",
    "pmml/iris_logistic.pmml",
    "pmml/iris_tree.pmml",
];
const ONNX: &[&str] = &[
    "onnx/linear_regression.onnx",
    "onnx/logistic_regression.onnx",
    "onnx/tree_regressor.onnx",
    "onnx/mlp_regressor.onnx",
    "onnx/iris_tree.onnx",
    "onnx/iris_forest.onnx",
    "onnx/iris_logistic.onnx",
    "onnx/iris_mlp.onnx",
];

/// A loaded model must also score without panicking.
fn exercise(model: &dyn Model) {
    let n = model.inputs().len();
    let _ = model.predict(&vec![0.5; n]);
    let _ = model.predict(&vec![f64::NAN; n]);
    let _ = model.predict(&[]);
}

fn load_json(bytes: &[u8]) {
    if let Ok(model) = LinearModel::from_slice("fuzz", 1, bytes) {
        exercise(&model);
    }
}

fn load_pmml(bytes: &[u8]) {
    if let Ok(model) = PmmlModel::from_slice("fuzz", 1, bytes) {
        exercise(&model);
    }
}

fn load_onnx(bytes: &[u8]) {
    if let Ok(model) = OnnxModel::from_slice("fuzz", 1, bytes) {
        exercise(&model);
    }
}

/// Overwrites, inserts or deletes a few bytes.
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, kind, value) in edits {
        if bytes.is_empty() {
            bytes.push(value);
            continue;
        }
        let at = at % bytes.len();
        match kind % 3 {
            0 => bytes[at] = value,
            1 => bytes.insert(at, value),
            _ => {
                bytes.remove(at);
            }
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
}

#[test]
fn every_truncation_of_the_json_models_is_rejected() {
    for path in JSON {
        let bytes = read(path);
        for len in 0..bytes.len() {
            // Cutting only trailing whitespace leaves a valid document.
            if bytes[len..].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            assert!(
                LinearModel::from_slice("t", 1, &bytes[..len]).is_err(),
                "{path} cut at {len}"
            );
        }
    }
}

#[test]
fn truncated_pmml_models_are_rejected_without_panicking() {
    for path in PMML {
        let bytes = read(path);
        let step = (bytes.len() / 300).max(1);
        for len in (0..bytes.len().saturating_sub(2)).step_by(step) {
            assert!(
                PmmlModel::from_slice("t", 1, &bytes[..len]).is_err(),
                "{path} cut at {len}"
            );
        }
    }
}

#[test]
fn truncated_onnx_models_are_rejected_without_panicking() {
    for path in ONNX {
        let bytes = read(path);
        let step = (bytes.len() / 200).max(1);
        for len in (0..bytes.len()).step_by(step) {
            // A protobuf cut at a field boundary can still decode; it must then fail validation
            // or load as a working model.
            load_onnx(&bytes[..len]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_json(&bytes);
        load_pmml(&bytes);
        load_onnx(&bytes);
        let _ = load_model("fuzz", &bytes);
        let _ = SgdLearner::from_bytes(&bytes);
    }

    #[test]
    fn mutated_json_models_never_panic(file in 0..JSON.len(), edits in edits()) {
        load_json(&mutate(read(JSON[file]), &edits));
    }

    #[test]
    fn mutated_pmml_models_never_panic(file in 0..PMML.len(), edits in edits()) {
        load_pmml(&mutate(read(PMML[file]), &edits));
    }

    #[test]
    fn truncated_pmml_models_never_panic(file in 0..PMML.len(), cut in any::<prop::sample::Index>()) {
        let bytes = read(PMML[file]);
        load_pmml(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn mutated_onnx_models_never_panic(file in 0..ONNX.len(), edits in edits()) {
        load_onnx(&mutate(read(ONNX[file]), &edits));
    }

    #[test]
    fn truncated_onnx_models_never_panic(file in 0..ONNX.len(), cut in any::<prop::sample::Index>()) {
        let bytes = read(ONNX[file]);
        load_onnx(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn mutated_envelopes_never_panic(file in 0..ONNX.len(), edits in edits()) {
        let envelope = ModelEnvelope::new(ModelFormat::Onnx, 3, read(ONNX[file])).to_bytes();
        let _ = load_model("fuzz", &mutate(envelope, &edits));
    }

    #[test]
    fn truncated_envelopes_never_panic(file in 0..JSON.len(), cut in any::<prop::sample::Index>()) {
        let envelope = ModelEnvelope::new(ModelFormat::JsonLinear, 3, read(JSON[file])).to_bytes();
        let cut = cut.index(envelope.len());
        prop_assert!(load_model("fuzz", &envelope[..cut]).is_err());
    }
}
