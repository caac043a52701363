//! The json-linear document: validation, defaults, and input errors.

use serde_json::{json, Value};
use streams_ml::linear::{LinearDocument, LinearModel};
use streams_ml::{FeatureValue, Features, Model, ModelError, Prediction};

fn base() -> Value {
    json!({
        "format_version": 1,
        "model_type": "logistic",
        "features": ["a", "b"],
        "coefficients": [1.5, -2.0],
        "intercept": 0.25,
        "standardization": {"mean": [1.0, 2.0], "scale": [2.0, 0.5]},
        "classes": ["no", "yes"]
    })
}

fn load(doc: &Value) -> Result<LinearModel, ModelError> {
    LinearModel::from_slice("m", 1, doc.to_string().as_bytes())
}

fn with(path: &[&str], value: Value) -> Value {
    let mut doc = base();
    let mut target = &mut doc;
    for key in &path[..path.len() - 1] {
        target = &mut target[*key];
    }
    target[path[path.len() - 1]] = value;
    doc
}

fn without(key: &str) -> Value {
    let mut doc = base();
    doc.as_object_mut().expect("object").remove(key);
    doc
}

#[test]
fn logistic_predictions_follow_the_documented_formula() -> Result<(), ModelError> {
    let model = load(&base())?;
    let (a, b) = (3.0, 1.0);
    let z: f64 = 0.25 + 1.5 * ((a - 1.0) / 2.0) - 2.0 * ((b - 2.0) / 0.5);
    let p = 1.0 / (1.0 + (-z).exp());
    let prediction = model.predict(&[a, b])?;
    assert_eq!(prediction.label(), Some("yes"));
    assert!((prediction.probability("yes").unwrap_or(0.0) - p).abs() < 1e-15);
    assert!((prediction.probability("no").unwrap_or(0.0) - (1.0 - p)).abs() < 1e-15);
    assert_eq!(model.decision_function(&[a, b])?, z);
    // Extreme inputs saturate without overflowing.
    let far = model.predict(&[1e308, -1e308])?;
    assert_eq!(far.probability("yes"), Some(1.0));
    Ok(())
}

#[test]
fn defaults_apply_when_optional_parts_are_absent() -> Result<(), ModelError> {
    let mut doc = without("standardization");
    doc.as_object_mut().expect("object").remove("classes");
    doc.as_object_mut().expect("object").remove("format_version");
    let model = load(&doc)?;
    let p = model.predict(&[0.0, 1.0])?; // z = 0.25 - 2 < 0
    assert_eq!(p.label(), Some("0"));
    assert!(p.probability("1").is_some());

    let linear = load(&json!({"model_type": "linear", "features": ["x"], "coefficients": [2.0], "intercept": -1.0}))?;
    assert_eq!(linear.predict(&[3.0])?, Prediction::Score(5.0));
    Ok(())
}

#[test]
fn documents_round_trip() -> Result<(), ModelError> {
    let doc = LinearDocument::from_slice(base().to_string().as_bytes())?;
    let again = LinearDocument::from_slice(&doc.to_vec())?;
    assert_eq!(doc, again);
    Ok(())
}

#[test]
fn invalid_documents_are_rejected() {
    let malformed = |doc: Value, why: &str| match load(&doc) {
        Err(ModelError::Malformed {
            format: "json-linear",
            reason,
        }) => {
            assert!(reason.contains(why), "`{reason}` should mention `{why}`")
        }
        other => panic!("{doc}: {other:?}"),
    };
    malformed(with(&["features"], json!([])), "no features");
    malformed(with(&["features"], json!(["a", "a"])), "duplicate");
    malformed(with(&["coefficients"], json!([1.0])), "1 coefficients for 2 features");
    malformed(with(&["coefficients"], json!([1.0, "2"])), "invalid type");
    malformed(with(&["standardization", "scale"], json!([1.0, 0.0])), "scale 1");
    malformed(with(&["standardization", "scale"], json!([1.0, -1.0])), "scale 1");
    malformed(
        with(&["standardization", "mean"], json!([1.0])),
        "standardization has 1 means",
    );
    malformed(with(&["classes"], json!(["x", "x"])), "two distinct");
    malformed(with(&["classes"], json!(["x"])), "two distinct");
    malformed(with(&["model_type"], json!("poisson")), "unknown variant");
    malformed(with(&["standardisation"], json!({})), "unknown field");
    malformed(without("intercept"), "intercept");
    malformed(
        with(&["model_type"], json!("linear")),
        "classes given for a linear model",
    );
    assert!(matches!(
        load(&with(&["format_version"], json!(2))),
        Err(ModelError::Unsupported {
            format: "json-linear",
            ..
        })
    ));
    let huge = br#"{"model_type": "linear", "features": ["x"], "coefficients": [1e999], "intercept": 0}"#;
    for bytes in [&b""[..], b"{", b"null", b"[1, 2]", b"\xff\xfe", huge] {
        assert!(matches!(
            LinearModel::from_slice("m", 1, bytes),
            Err(ModelError::Malformed { .. })
        ));
    }
}

#[test]
fn wrong_inputs_give_typed_errors() -> Result<(), ModelError> {
    let model = load(&base())?;
    assert_eq!(
        model.predict(&[1.0]),
        Err(ModelError::FeatureCount { expected: 2, actual: 1 })
    );
    assert!(matches!(
        model.predict(&[1.0, f64::INFINITY]),
        Err(ModelError::InvalidFeature { feature, .. }) if feature == "b"
    ));
    assert_eq!(
        model.predict_named(&Features::new().with("a", 1.0)),
        Err(ModelError::MissingFeature("b".into()))
    );
    assert!(matches!(
        model.predict_values(&[FeatureValue::Number(1.0), FeatureValue::Category("x".into())]),
        Err(ModelError::InvalidFeature { feature, .. }) if feature == "b"
    ));
    // Extra named features are ignored.
    let named = Features::new().with("a", 1.0).with("b", 2.0).with("c", "unused");
    assert_eq!(model.predict_named(&named)?, model.predict(&[1.0, 2.0])?);
    Ok(())
}
