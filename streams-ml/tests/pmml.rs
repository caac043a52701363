//! PMML semantics on small handwritten documents: predicates, missing values, normalisations,
//! ensembles, and the errors for unsupported or malformed documents.

use streams_ml::pmml::PmmlModel;
use streams_ml::{FeatureValue, Features, Model, ModelError, Prediction};

fn pmml(dictionary: &str, model: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<PMML xmlns="http://www.dmg.org/PMML-4_3" version="4.3">
  <Header copyright="test"/>
  <DataDictionary>{dictionary}</DataDictionary>
  {model}
</PMML>"#
    )
}

fn load(doc: &str) -> PmmlModel {
    PmmlModel::from_slice("t", 1, doc.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{doc}"))
}

fn load_err(doc: &str) -> ModelError {
    match PmmlModel::from_slice("t", 1, doc.as_bytes()) {
        Ok(m) => panic!("loaded {m:?}"),
        Err(e) => e,
    }
}

/// A logistic regression laid out like R's `pmml` package writes a binomial `glm`: fields
/// fld1..fld5, fld4 and fld5 categorical, the second table empty.
const R_GLM: &str = r#"
<DataField name="y" optype="categorical" dataType="string"><Value value="0"/><Value value="1"/></DataField>
<DataField name="fld1" optype="continuous" dataType="double"/>
<DataField name="fld2" optype="continuous" dataType="double"/>
<DataField name="fld3" optype="continuous" dataType="double"/>
<DataField name="fld4" optype="categorical" dataType="string"><Value value="x"/><Value value="y"/></DataField>
<DataField name="fld5" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>
"#;

const R_GLM_MODEL: &str = r#"
<RegressionModel modelName="General_Regression_Model" functionName="classification" algorithmName="glm"
                 normalizationMethod="logit" targetFieldName="y">
  <MiningSchema>
    <MiningField name="y" usageType="predicted" invalidValueTreatment="returnInvalid"/>
    <MiningField name="fld1" usageType="active" invalidValueTreatment="returnInvalid"/>
    <MiningField name="fld2" usageType="active" invalidValueTreatment="returnInvalid"/>
    <MiningField name="fld3" usageType="active" invalidValueTreatment="returnInvalid"/>
    <MiningField name="fld4" usageType="active" invalidValueTreatment="returnInvalid"/>
    <MiningField name="fld5" usageType="active" invalidValueTreatment="returnInvalid"/>
  </MiningSchema>
  <Output>
    <OutputField name="Predicted_y" feature="predictedValue"/>
    <OutputField name="Probability_1" optype="continuous" dataType="double" feature="probability" value="1"/>
  </Output>
  <RegressionTable intercept="-0.75" targetCategory="1">
    <NumericPredictor name="fld1" exponent="1" coefficient="0.5"/>
    <NumericPredictor name="fld2" exponent="2" coefficient="-0.25"/>
    <PredictorTerm coefficient="0.125"><FieldRef field="fld1"/><FieldRef field="fld3"/></PredictorTerm>
    <CategoricalPredictor name="fld4" value="x" coefficient="0"/>
    <CategoricalPredictor name="fld4" value="y" coefficient="1.5"/>
    <CategoricalPredictor name="fld5" value="a" coefficient="0"/>
    <CategoricalPredictor name="fld5" value="b" coefficient="-2"/>
    <CategoricalPredictor name="fld5" value="c" coefficient="0.75"/>
  </RegressionTable>
  <RegressionTable intercept="0.0" targetCategory="0"/>
</RegressionModel>"#;

#[test]
fn r_style_logistic_regression_with_numeric_and_categorical_predictors() -> Result<(), ModelError> {
    let model = load(&pmml(R_GLM, R_GLM_MODEL));
    let names: Vec<&str> = model.inputs().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fld1", "fld2", "fld3", "fld4", "fld5"]);
    assert_eq!(model.classes(), ["0", "1"]);
    let rows = [
        (1.0, 2.0, 4.0, "y", "c"),
        (-2.0, 0.5, 1.0, "x", "b"),
        (0.0, 0.0, 0.0, "x", "a"),
    ];
    for (f1, f2, f3, f4, f5) in rows {
        let z: f64 = -0.75 + 0.5 * f1 - 0.25 * f2 * f2
            + 0.125 * f1 * f3
            + if f4 == "y" { 1.5 } else { 0.0 }
            + match f5 {
                "b" => -2.0,
                "c" => 0.75,
                _ => 0.0,
            };
        let p1 = 1.0 / (1.0 + (-z).exp());
        let features = Features::new()
            .with("fld1", f1)
            .with("fld2", f2)
            .with("fld3", f3)
            .with("fld4", f4)
            .with("fld5", f5);
        let prediction = model.predict_named(&features)?;
        assert!((prediction.probability("1").unwrap_or(-1.0) - p1).abs() < 1e-15);
        assert!((prediction.probability("0").unwrap_or(-1.0) - (1.0 - p1)).abs() < 1e-15);
        assert_eq!(prediction.label(), Some(if p1 > 0.5 { "1" } else { "0" }));
    }
    Ok(())
}

#[test]
fn wrong_inputs_give_typed_errors() {
    let model = load(&pmml(R_GLM, R_GLM_MODEL));
    let base = Features::new()
        .with("fld1", 1.0)
        .with("fld2", 1.0)
        .with("fld3", 1.0)
        .with("fld4", "x")
        .with("fld5", "a");
    assert!(model.predict_named(&base).is_ok());
    assert_eq!(
        model.predict_named(&base.clone().with("fld1", FeatureValue::Missing)),
        Err(ModelError::MissingFeature("fld1".into()))
    );
    assert!(matches!(
        model.predict_named(&base.clone().with("fld5", "purple")),
        Err(ModelError::InvalidFeature { feature, .. }) if feature == "fld5"
    ));
    assert!(matches!(
        model.predict_named(&base.clone().with("fld2", "lots")),
        Err(ModelError::InvalidFeature { feature, .. }) if feature == "fld2"
    ));
    assert_eq!(
        model.predict(&[1.0, 2.0]),
        Err(ModelError::FeatureCount { expected: 5, actual: 2 })
    );
    // Numeric strings are accepted for numeric fields.
    assert_eq!(
        model.predict_named(&base.clone().with("fld1", "1.0")),
        model.predict_named(&base)
    );
}

const XY: &str = r#"
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="red"/><Value value="green"/><Value value="blue"/></DataField>
<DataField name="t" optype="continuous" dataType="double"/>"#;

fn tree(attributes: &str, nodes: &str) -> String {
    pmml(
        XY,
        &format!(
            r#"<TreeModel functionName="regression" {attributes}>
  <MiningSchema><MiningField name="x"/><MiningField name="c"/><MiningField name="t" usageType="target"/></MiningSchema>
  {nodes}
</TreeModel>"#
        ),
    )
}

const TREE: &str = r#"
<Node score="0" id="root" defaultChild="right">
  <True/>
  <Node score="1" id="left">
    <SimplePredicate field="x" operator="lessThan" value="0"/>
    <Node score="10"><SimpleSetPredicate field="c" booleanOperator="isIn"><Array n="2" type="string">red "green"</Array></SimpleSetPredicate></Node>
    <Node score="11"><SimplePredicate field="c" operator="equal" value="blue"/></Node>
  </Node>
  <Node score="2" id="right" defaultChild="deep">
    <SimplePredicate field="x" operator="greaterOrEqual" value="0"/>
    <Node score="20" id="deep">
      <CompoundPredicate booleanOperator="and">
        <SimplePredicate field="x" operator="lessOrEqual" value="5"/>
        <SimplePredicate field="c" operator="notEqual" value="red"/>
      </CompoundPredicate>
    </Node>
    <Node score="21" id="other">
      <CompoundPredicate booleanOperator="surrogate">
        <SimplePredicate field="c" operator="equal" value="red"/>
        <True/>
      </CompoundPredicate>
    </Node>
  </Node>
</Node>"#;

fn score(model: &PmmlModel, x: FeatureValue, c: FeatureValue) -> Result<f64, ModelError> {
    let p = model.predict_values(&[x, c])?;
    p.score().ok_or_else(|| ModelError::Evaluation(format!("{p:?}")))
}

#[test]
fn tree_predicates_route_values() -> Result<(), ModelError> {
    let model = load(&tree("", TREE));
    let n = FeatureValue::Number;
    let c = |s: &str| FeatureValue::Category(s.to_string());
    assert_eq!(score(&model, n(-1.0), c("red"))?, 10.0);
    assert_eq!(score(&model, n(-1.0), c("green"))?, 10.0);
    assert_eq!(score(&model, n(-1.0), c("blue"))?, 11.0);
    assert_eq!(score(&model, n(3.0), c("blue"))?, 20.0);
    assert_eq!(score(&model, n(3.0), c("red"))?, 21.0);
    // The surrogate's first predicate is known (false), so no child matches and the default
    // noTrueChildStrategy gives no prediction.
    assert!(matches!(
        score(&model, n(9.0), c("green")),
        Err(ModelError::NoPrediction(_))
    ));
    Ok(())
}

#[test]
fn tree_missing_value_strategies() -> Result<(), ModelError> {
    let missing = FeatureValue::Missing;
    let blue = FeatureValue::Category("blue".into());
    let red = FeatureValue::Category("red".into());

    // none: unknown predicates are false; `x` missing matches no child of the root.
    let none = load(&tree("", TREE));
    assert!(matches!(
        score(&none, missing.clone(), blue.clone()),
        Err(ModelError::NoPrediction(_))
    ));
    let none_last = load(&tree(r#"noTrueChildStrategy="returnLastPrediction""#, TREE));
    assert_eq!(score(&none_last, missing.clone(), blue.clone())?, 0.0);
    // `c` missing: the surrogate falls through to <True/>.
    assert_eq!(score(&none, FeatureValue::Number(3.0), missing.clone())?, 21.0);

    let last = load(&tree(r#"missingValueStrategy="lastPrediction""#, TREE));
    assert_eq!(score(&last, missing.clone(), blue.clone())?, 0.0);
    assert_eq!(score(&last, FeatureValue::Number(-1.0), missing.clone())?, 1.0);

    let null = load(&tree(r#"missingValueStrategy="nullPrediction""#, TREE));
    assert!(matches!(
        score(&null, missing.clone(), red.clone()),
        Err(ModelError::NoPrediction(_))
    ));

    let default = load(&tree(
        r#"missingValueStrategy="defaultChild""#,
        &TREE
            .replace(
                r#"<Node score="1" id="left">"#,
                r#"<Node score="1" id="left" defaultChild="l1">"#,
            )
            .replace(r#"<Node score="10">"#, r#"<Node score="10" id="l1">"#),
    ));
    // x missing: root's default child is `right`; there `deep` is unknown (x <= 5 and
    // blue != red), so its default child `deep` is taken.
    assert_eq!(score(&default, missing.clone(), blue.clone())?, 20.0);
    // With red, `deep` is false (unknown and false) and `other` is true.
    assert_eq!(score(&default, missing.clone(), red)?, 21.0);

    // NaN counts as missing.
    assert_eq!(score(&last, FeatureValue::Number(f64::NAN), blue)?, 0.0);
    Ok(())
}

#[test]
fn missing_value_replacement_and_invalid_value_treatment() -> Result<(), ModelError> {
    let doc = |treatment: &str| {
        pmml(
            XY,
            &format!(
                r#"<RegressionModel functionName="regression">
  <MiningSchema>
    <MiningField name="x" missingValueReplacement="4"/>
    <MiningField name="c" invalidValueTreatment="{treatment}" missingValueReplacement="green"/>
    <MiningField name="t" usageType="target"/>
  </MiningSchema>
  <RegressionTable intercept="1">
    <NumericPredictor name="x" coefficient="2"/>
    <CategoricalPredictor name="c" value="green" coefficient="100"/>
  </RegressionTable>
</RegressionModel>"#
            ),
        )
    };
    let as_missing = load(&doc("asMissing"));
    let missing = FeatureValue::Missing;
    let purple = FeatureValue::Category("purple".into());
    assert_eq!(score(&as_missing, missing.clone(), missing.clone())?, 109.0);
    assert_eq!(score(&as_missing, FeatureValue::Number(1.0), purple.clone())?, 103.0);
    let as_is = load(&doc("asIs"));
    assert_eq!(score(&as_is, FeatureValue::Number(1.0), purple.clone())?, 3.0);
    let strict = load(&doc("returnInvalid"));
    assert!(matches!(
        score(&strict, FeatureValue::Number(1.0), purple),
        Err(ModelError::InvalidFeature { .. })
    ));
    Ok(())
}

#[test]
fn float_fields_compare_in_single_precision() -> Result<(), ModelError> {
    let doc = pmml(
        r#"<DataField name="x" optype="continuous" dataType="float"/><DataField name="t" optype="continuous" dataType="double"/>"#,
        r#"<TreeModel functionName="regression" noTrueChildStrategy="returnLastPrediction">
  <MiningSchema><MiningField name="x"/><MiningField name="t" usageType="target"/></MiningSchema>
  <Node score="0"><True/><Node score="1"><SimplePredicate field="x" operator="lessOrEqual" value="0.1"/></Node></Node>
</TreeModel>"#,
    );
    let model = load(&doc);
    // 0.1000000001 rounds to the same float as 0.1.
    assert_eq!(model.predict(&[0.1000000001])?.score(), Some(1.0));
    assert_eq!(model.predict(&[0.1000001])?.score(), Some(0.0));
    Ok(())
}

#[test]
fn regression_normalisations() -> Result<(), ModelError> {
    let doc = |method: &str| {
        pmml(
            XY,
            &format!(
                r#"<RegressionModel functionName="regression" normalizationMethod="{method}">
  <MiningSchema><MiningField name="x"/><MiningField name="t" usageType="target"/></MiningSchema>
  <Targets><Target field="t" rescaleFactor="2" rescaleConstant="1"/></Targets>
  <RegressionTable intercept="0.5"><NumericPredictor name="x" coefficient="1"/></RegressionTable>
</RegressionModel>"#
            ),
        )
    };
    let y: f64 = 0.25 + 0.5;
    let cases: [(&str, f64); 6] = [
        ("none", y),
        ("logit", 1.0 / (1.0 + (-y).exp())),
        ("exp", y.exp()),
        ("cloglog", 1.0 - (-(y.exp())).exp()),
        ("loglog", (-((-y).exp())).exp()),
        ("cauchit", 0.5 + y.atan() / std::f64::consts::PI),
    ];
    for (method, expected) in cases {
        let model = load(&doc(method));
        let got = model.predict(&[0.25])?.score().unwrap_or(f64::NAN);
        assert!((got - (expected * 2.0 + 1.0)).abs() < 1e-15, "{method}: {got}");
    }
    Ok(())
}

fn three_class(method: &str, tables: &str) -> String {
    pmml(
        r#"<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="k" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/><Value value="c"/></DataField>"#,
        &format!(
            r#"<RegressionModel functionName="classification" normalizationMethod="{method}">
  <MiningSchema><MiningField name="x"/><MiningField name="k" usageType="target"/></MiningSchema>
  {tables}
</RegressionModel>"#
        ),
    )
}

#[test]
fn multinomial_normalisations() -> Result<(), ModelError> {
    let tables = r#"<RegressionTable intercept="0.1" targetCategory="c"><NumericPredictor name="x" coefficient="1"/></RegressionTable>
  <RegressionTable intercept="0.2" targetCategory="a"><NumericPredictor name="x" coefficient="-1"/></RegressionTable>
  <RegressionTable intercept="0.3" targetCategory="b"/>"#;
    let x = 0.5;
    let y = [0.1 + x, 0.2 - x, 0.3];
    let softmax = load(&three_class("softmax", tables)).predict(&[x])?;
    let sum: f64 = y.iter().map(|v| v.exp()).sum();
    let Prediction::Class(class) = &softmax else {
        panic!("{softmax:?}")
    };
    // Reported in the target field's category order.
    let order: Vec<&str> = class.probabilities.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(order, ["a", "b", "c"]);
    assert!((softmax.probability("c").unwrap_or(0.0) - y[0].exp() / sum).abs() < 1e-15);
    assert!((softmax.probability("a").unwrap_or(0.0) - y[1].exp() / sum).abs() < 1e-15);
    assert_eq!(softmax.label(), Some("c"));

    let simplemax = load(&three_class("simplemax", tables)).predict(&[x])?;
    assert!((simplemax.probability("b").unwrap_or(0.0) - 0.3 / (y[0] + y[1] + y[2])).abs() < 1e-15);

    let none = load(&three_class("none", tables)).predict(&[x])?;
    assert!((none.probability("b").unwrap_or(0.0) - (1.0 - y[0] - y[1])).abs() < 1e-15);
    Ok(())
}

#[test]
fn ensembles_vote_and_average() -> Result<(), ModelError> {
    let leaf = |label: &str, pa: f64| {
        format!(
            r#"<TreeModel functionName="classification"><MiningSchema><MiningField name="x"/></MiningSchema>
<Node score="{label}"><True/><ScoreDistribution value="a" recordCount="{pa}"/><ScoreDistribution value="b" recordCount="{}"/></Node></TreeModel>"#,
            1.0 - pa
        )
    };
    let ensemble = |method: &str| {
        pmml(
            r#"<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="k" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>"#,
            &format!(
                r#"<MiningModel functionName="classification">
  <MiningSchema><MiningField name="x"/><MiningField name="k" usageType="target"/></MiningSchema>
  <Segmentation multipleModelMethod="{method}">
    <Segment weight="1"><True/>{}</Segment>
    <Segment weight="1"><True/>{}</Segment>
    <Segment weight="3"><SimplePredicate field="x" operator="greaterThan" value="0"/>{}</Segment>
  </Segmentation>
</MiningModel>"#,
                leaf("a", 0.9),
                leaf("a", 0.6),
                leaf("b", 0.1)
            ),
        )
    };
    let vote = load(&ensemble("majorityVote"));
    assert_eq!(vote.predict(&[1.0])?.label(), Some("a"));
    assert!((vote.predict(&[1.0])?.probability("a").unwrap_or(0.0) - 2.0 / 3.0).abs() < 1e-15);
    let weighted = load(&ensemble("weightedMajorityVote"));
    assert_eq!(weighted.predict(&[1.0])?.label(), Some("b"));
    assert_eq!(weighted.predict(&[-1.0])?.label(), Some("a"));
    let average = load(&ensemble("average"));
    let p = average.predict(&[1.0])?;
    assert!((p.probability("a").unwrap_or(0.0) - (0.9 + 0.6 + 0.1) / 3.0).abs() < 1e-15);
    assert_eq!(p.label(), Some("a"));
    let weighted_average = load(&ensemble("weightedAverage"));
    let p = weighted_average.predict(&[1.0])?;
    assert!((p.probability("a").unwrap_or(0.0) - (0.9 + 0.6 + 0.3) / 5.0).abs() < 1e-15);
    assert_eq!(p.label(), Some("b"));
    let first = load(&ensemble("selectFirst"));
    assert!((first.predict(&[1.0])?.probability("a").unwrap_or(0.0) - 0.9).abs() < 1e-15);
    Ok(())
}

#[test]
fn unsupported_documents_are_named() {
    let unsupported = |doc: &str, what: &str| match load_err(doc) {
        ModelError::Unsupported { format: "pmml", reason } => {
            assert!(reason.contains(what), "{reason} should mention {what}")
        }
        other => panic!("{other:?}"),
    };
    unsupported(
        &pmml(
            XY,
            r#"<NeuralNetwork functionName="regression" activationFunction="tanh"><MiningSchema/></NeuralNetwork>"#,
        ),
        "NeuralNetwork",
    );
    unsupported(
        &pmml(XY, R_GLM_MODEL).replace(r#"version="4.3""#, r#"version="3.2""#),
        "3.2",
    );
    unsupported(
        &pmml(
            XY,
            "<TransformationDictionary><DerivedField name=\"z\"/></TransformationDictionary>",
        ),
        "TransformationDictionary",
    );
    unsupported(
        &pmml(
            XY,
            r#"<MiningModel functionName="regression"><MiningSchema><MiningField name="x"/></MiningSchema>
<Segmentation multipleModelMethod="modelChain"/></MiningModel>"#,
        ),
        "modelChain",
    );
    unsupported(
        &tree(r#"missingValueStrategy="aggregateNodes""#, TREE),
        "aggregateNodes",
    );
    unsupported(
        &pmml(
            XY,
            r#"<RegressionModel functionName="clustering"><MiningSchema/></RegressionModel>"#,
        ),
        "clustering",
    );
}

#[test]
fn malformed_documents_are_rejected() {
    let malformed = |doc: &str| match load_err(doc) {
        ModelError::Malformed { format: "pmml", .. } => {}
        other => panic!("{other:?} for {doc}"),
    };
    malformed("");
    malformed("not xml at all");
    malformed("<html><body/></html>");
    malformed(&pmml(R_GLM, R_GLM_MODEL).replace(
        "name=\"fld3\" usageType=\"active\"",
        "name=\"fld9\" usageType=\"active\"",
    ));
    malformed(&pmml(R_GLM, R_GLM_MODEL).replace(r#"coefficient="0.5""#, r#"coefficient="half""#));
    malformed(&pmml(R_GLM, R_GLM_MODEL).replace(r#"intercept="-0.75""#, r#"intercept="NaN""#));
    malformed(
        &pmml(R_GLM, R_GLM_MODEL).replace(r#"<NumericPredictor name="fld1""#, r#"<NumericPredictor name="ghost""#),
    );
    malformed(&tree("", &TREE.replace("<True/>", "")));
    malformed(&tree("", &TREE.replace(r#"n="2""#, r#"n="3""#)));
    malformed(&tree(
        "",
        &TREE.replace(r#"defaultChild="right""#, r#"defaultChild="nowhere""#),
    ));
    malformed(&pmml(XY, ""));
    // Entities and DTDs are refused.
    malformed(&format!(
        "<!DOCTYPE PMML [<!ENTITY e \"x\">]>{}",
        pmml(R_GLM, R_GLM_MODEL).replace(r#"<?xml version="1.0"?>"#, "")
    ));
}

#[test]
fn deeply_nested_trees_are_refused_without_overflowing_the_stack() {
    let depth = 5000;
    let mut nodes = String::new();
    for _ in 0..depth {
        nodes.push_str(r#"<Node score="1"><SimplePredicate field="x" operator="lessThan" value="1"/>"#);
    }
    nodes.push_str(&"</Node>".repeat(depth));
    let doc = tree(
        "",
        &nodes.replacen(
            "<SimplePredicate field=\"x\" operator=\"lessThan\" value=\"1\"/>",
            "<True/>",
            1,
        ),
    );
    assert!(PmmlModel::from_slice("deep", 1, doc.as_bytes()).is_err());
}
