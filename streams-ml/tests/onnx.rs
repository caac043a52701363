//! ONNX specifics: the tree-ensemble regressor operator, graph validation, input errors.

use std::path::PathBuf;

use streams_ml::onnx::OnnxModel;
use streams_ml::{Model, ModelError};

fn read(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn multi_target_averaged_tree_regressor_matches_onnxruntime() -> Result<(), ModelError> {
    let path = "onnx/handmade_tree_regressor2.onnx";
    let model = OnnxModel::from_slice("r2", 1, &read(path))?;
    let expected: serde_json::Value =
        serde_json::from_slice(&read(&format!("{path}.expected.json"))).expect("expected");
    let inputs = expected["inputs"].as_array().expect("inputs");
    for (row, want) in inputs.iter().zip(expected["vectors"].as_array().expect("vectors")) {
        let x: Vec<f64> = row.as_array().expect("row").iter().filter_map(|v| v.as_f64()).collect();
        let want: Vec<f64> = want
            .as_array()
            .expect("vector")
            .iter()
            .filter_map(|v| v.as_f64())
            .collect();
        let prediction = model.predict(&x)?;
        let got = prediction.vector().unwrap_or_else(|| panic!("{prediction:?}"));
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5, "{x:?}: {got:?} vs {want:?}");
        }
    }
    Ok(())
}

#[test]
fn invalid_graphs_are_rejected_before_they_run() {
    let cases = [
        ("cycle", "reached twice"),
        ("child_out_of_range", "outside the tree"),
        ("class_out_of_range", "outside 0..3"),
        ("duplicate_node", "duplicate node id"),
        ("leaf_on_branch", "not a leaf"),
        ("gte_mode", "BRANCH_GTE"),
        ("length_mismatch", "different lengths"),
        ("negative_feature", "out-of-range"),
        ("regressor_min", "MIN"),
        ("two_inputs", "2 graph inputs"),
        ("external_data", "externally"),
        ("short_raw_data", "raw data"),
        ("undefined_output", "never defined"),
    ];
    for (name, message) in cases {
        let bytes = read(&format!("onnx/invalid/{name}.onnx"));
        match OnnxModel::from_slice(name, 1, &bytes) {
            Ok(model) => panic!("{name} loaded: {model:?}"),
            Err(ModelError::Malformed { format: "onnx", reason })
            | Err(ModelError::Unsupported { format: "onnx", reason }) => {
                assert!(reason.contains(message), "{name}: `{reason}` lacks `{message}`")
            }
            Err(other) => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn wrong_inputs_give_typed_errors() -> Result<(), ModelError> {
    let model = OnnxModel::from_slice("m", 1, &read("onnx/iris_mlp.onnx"))?;
    assert_eq!(
        model.predict(&[1.0, 2.0, 3.0]),
        Err(ModelError::FeatureCount { expected: 4, actual: 3 })
    );
    assert!(matches!(
        model.predict(&[1.0, f64::NAN, 3.0, 4.0]),
        Err(ModelError::InvalidFeature { feature, .. }) if feature == "x1"
    ));
    assert!(matches!(
        model.predict_values(&[1.0.into(), "wide".into(), 3.0.into(), 4.0.into()]),
        Err(ModelError::InvalidFeature { .. })
    ));
    assert_eq!(
        model.predict_named(&streams_ml::Features::new().with("x0", 1.0)),
        Err(ModelError::MissingFeature("x1".into()))
    );
    Ok(())
}

#[test]
fn non_onnx_bytes_are_malformed() {
    for bytes in [&b""[..], b"\x08\x01", b"<PMML/>", &[0xff; 64]] {
        assert!(matches!(
            OnnxModel::from_slice("m", 1, bytes),
            Err(ModelError::Malformed { .. } | ModelError::Unsupported { .. })
        ));
    }
}

#[test]
fn models_are_shareable_across_threads() -> Result<(), ModelError> {
    let model: std::sync::Arc<dyn Model> =
        std::sync::Arc::new(OnnxModel::from_slice("m", 1, &read("onnx/iris_forest.onnx"))?);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let model = model.clone();
            std::thread::spawn(move || model.predict(&[5.0 + f64::from(i), 3.0, 1.5, 0.2]))
        })
        .collect();
    for h in handles {
        assert!(h.join().expect("thread").is_ok());
    }
    Ok(())
}

#[test]
fn a_batch_scored_in_one_run_equals_the_rows_scored_one_by_one() -> Result<(), ModelError> {
    let models = [
        "iris_mlp",
        "mlp_regressor",
        "iris_logistic",
        "logistic_regression",
        "linear_regression",
        "iris_tree",
        "iris_forest",
        "tree_regressor",
        "handmade_tree_regressor2",
    ];
    for name in models {
        let path = format!("onnx/{name}.onnx");
        let model = OnnxModel::from_slice(name, 1, &read(&path))?;
        let expected: serde_json::Value =
            serde_json::from_slice(&read(&format!("{path}.expected.json"))).expect("expected");
        let rows: Vec<Vec<f64>> = expected["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|row| row.as_array().expect("row").iter().filter_map(|v| v.as_f64()).collect())
            .collect();
        assert!(rows.len() > 2, "{name}");
        // Twice the reference inputs, so that batches hold repeated and different rows.
        let rows = [rows.clone(), rows].concat();
        // Every test model compiles with a batch dimension: one run of the runtime per batch.
        assert!(model.batches(), "{name}");
        let batched = model.predict_batch(&rows);
        assert_eq!(batched.len(), rows.len(), "{name}");
        for (row, got) in rows.iter().zip(&batched) {
            let single = model.predict(row)?;
            let got = got.as_ref().map_err(Clone::clone)?;
            assert!(
                got.approx_eq(&single, 1e-5),
                "{name} {row:?}: batched {got:?}, single {single:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn bad_rows_in_a_batch_get_their_own_errors_and_keep_their_place() -> Result<(), ModelError> {
    let model = OnnxModel::from_slice("m", 1, &read("onnx/iris_mlp.onnx"))?;
    assert!(model.batches());
    let rows = vec![
        vec![5.1, 3.5, 1.4, 0.2],
        vec![1.0, 2.0],
        vec![6.7, 3.0, 5.2, 2.3],
        vec![5.9, f64::INFINITY, 4.2, 1.5],
        vec![5.9, 3.0, 4.2, 1.5],
    ];
    let results = model.predict_batch(&rows);
    assert_eq!(results.len(), 5);
    assert_eq!(results[1], Err(ModelError::FeatureCount { expected: 4, actual: 2 }));
    assert!(matches!(&results[3], Err(ModelError::InvalidFeature { feature, .. }) if feature == "x1"));
    for i in [0, 2, 4] {
        let single = model.predict(&rows[i])?;
        let got = results[i].as_ref().map_err(Clone::clone)?;
        assert!(got.approx_eq(&single, 1e-5), "row {i}: {got:?} vs {single:?}");
    }
    assert!(model.predict_batch(&[]).is_empty());
    Ok(())
}
