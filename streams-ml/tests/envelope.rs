//! The model-topic envelope and `load_model`.

use std::path::PathBuf;

use serde_json::{json, Value};
use streams_ml::{load_document, load_model, ModelEnvelope, ModelError, ModelFormat};

fn read(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn as_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("envelope is JSON")
}

#[test]
fn every_format_round_trips_through_an_envelope() -> Result<(), ModelError> {
    let cases = [
        (
            ModelFormat::JsonLinear,
            "json/logistic_regression.json",
            vec![0.1, 1.0, -1.0, 5.0],
        ),
        (ModelFormat::Pmml, "pmml/iris_forest.pmml", vec![6.0, 3.0, 4.8, 1.8]),
        (ModelFormat::Onnx, "onnx/iris_mlp.onnx", vec![6.0, 3.0, 4.8, 1.8]),
    ];
    for (format, path, input) in cases {
        let bytes = read(path);
        let envelope = ModelEnvelope::new(format, 42, bytes.clone()).with_metadata("source", path);
        let encoded = envelope.to_bytes();
        let decoded = ModelEnvelope::from_bytes(&encoded)?;
        assert_eq!(decoded.format, format);
        assert_eq!(decoded.version, 42);
        assert_eq!(decoded.metadata.get("source").map(String::as_str), Some(path));
        if format != ModelFormat::JsonLinear {
            assert_eq!(decoded.payload, bytes);
        }
        let from_topic = load_model("m", &encoded)?;
        let from_file = load_document(format, "m", 42, &bytes)?;
        assert_eq!(
            (from_topic.name(), from_topic.version(), from_topic.format()),
            ("m", 42, format)
        );
        assert_eq!(from_topic.predict(&input)?, from_file.predict(&input)?);
    }
    Ok(())
}

#[test]
fn json_linear_documents_are_inlined_and_others_base64_encoded() {
    let linear = ModelEnvelope::new(ModelFormat::JsonLinear, 1, read("json/linear_regression.json")).to_bytes();
    let linear = as_json(&linear);
    assert!(linear["document"].is_object());
    assert!(linear.get("payload").is_none());
    assert_eq!(linear["format"], "json-linear");
    assert_eq!(linear["envelope_version"], 1);

    let pmml = as_json(&ModelEnvelope::new(ModelFormat::Pmml, 1, read("pmml/iris_tree.pmml")).to_bytes());
    assert!(pmml["payload"].is_string());
    assert!(pmml.get("document").is_none());
    assert_eq!(pmml["format"], "pmml");

    // A json-linear payload that is not a JSON object travels as base64 (and fails to load).
    let odd = ModelEnvelope::new(ModelFormat::JsonLinear, 1, b"not json".to_vec()).to_bytes();
    assert!(as_json(&odd)["payload"].is_string());
    assert!(matches!(
        load_model("m", &odd),
        Err(ModelError::Malformed {
            format: "json-linear",
            ..
        })
    ));
}

#[test]
fn handwritten_envelopes_load() -> Result<(), ModelError> {
    let inline = json!({
        "format": "json-linear", "version": 5,
        "document": {"model_type": "linear", "features": ["a"], "coefficients": [2.0], "intercept": 1.0}
    });
    let model = load_model("doubler", inline.to_string().as_bytes())?;
    assert_eq!(model.version(), 5);
    assert_eq!(model.predict(&[3.0])?.score(), Some(7.0));
    Ok(())
}

fn error_for(envelope: Value) -> ModelError {
    match load_model("m", envelope.to_string().as_bytes()) {
        Ok(model) => panic!("{envelope} loaded as {model:?}"),
        Err(e) => e,
    }
}

#[test]
fn bad_envelopes_give_typed_errors() {
    let doc = json!({"model_type": "linear", "features": ["a"], "coefficients": [2.0], "intercept": 1.0});
    assert_eq!(
        error_for(json!({"format": "xgboost-json", "version": 1, "payload": ""})),
        ModelError::UnknownFormat("xgboost-json".into())
    );
    assert!(matches!(
        error_for(json!({"format": "pmml", "version": 1, "payload": "%%% not base64"})),
        ModelError::Malformed { format: "envelope", .. }
    ));
    assert!(matches!(
        error_for(json!({"format": "json-linear", "version": 1})),
        ModelError::Malformed { format: "envelope", .. }
    ));
    assert!(matches!(
        error_for(json!({"format": "json-linear", "version": 1, "document": doc, "payload": ""})),
        ModelError::Malformed { format: "envelope", .. }
    ));
    assert!(matches!(
        error_for(json!({"format": "pmml", "version": 1, "document": doc})),
        ModelError::Malformed { format: "envelope", .. }
    ));
    assert!(matches!(
        error_for(json!({"format": "json-linear", "version": -1, "document": doc})),
        ModelError::Malformed { format: "envelope", .. }
    ));
    assert!(matches!(
        error_for(json!({"format": "json-linear", "version": 1, "document": doc, "colour": "red"})),
        ModelError::Malformed { format: "envelope", .. }
    ));
    assert!(matches!(
        error_for(json!({"envelope_version": 2, "format": "json-linear", "version": 1, "document": doc})),
        ModelError::Unsupported { format: "envelope", .. }
    ));
    assert!(matches!(
        error_for(json!({"format": "onnx", "version": 1, "payload": "aGVsbG8="})),
        ModelError::Malformed { format: "onnx", .. }
    ));
    assert!(load_model("m", b"").is_err());
    assert!(load_model("m", b"[]").is_err());
}

#[test]
fn format_names_parse_and_print() {
    for format in ModelFormat::ALL {
        assert_eq!(format.as_str().parse::<ModelFormat>(), Ok(format));
        assert_eq!(format.to_string(), format.as_str());
    }
    assert_eq!(
        "PMML".parse::<ModelFormat>(),
        Err(ModelError::UnknownFormat("PMML".into()))
    );
}
