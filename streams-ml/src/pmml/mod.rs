//! PMML 4.x models: `RegressionModel`, `TreeModel` and `MiningModel` (segment ensembles).
//!
//! Supported (enough for what sklearn2pmml writes for linear models, trees and forests, and for
//! the regression layout of R's `pmml` package):
//!
//! * `DataDictionary` fields that are continuous (`double`, `float`, `integer`) or categorical /
//!   ordinal; `float` fields are evaluated in single precision, as PMML requires.
//! * `MiningSchema` with active and target fields, `missingValueReplacement` and
//!   `invalidValueTreatment` (`returnInvalid`, `asIs`, `asMissing`).
//! * `RegressionModel` for regression and classification with `NumericPredictor` (with
//!   exponents), `CategoricalPredictor`, `PredictorTerm`, and the normalisations `none`,
//!   `softmax`, `simplemax`, `logit`, `exp`, `cloglog`, `loglog` and `cauchit`; `Targets`
//!   rescaling for regression.
//! * `TreeModel` for regression and classification with `True`, `False`, `SimplePredicate`,
//!   `SimpleSetPredicate` and `CompoundPredicate` (`and`, `or`, `xor`, `surrogate`),
//!   `ScoreDistribution`, the missing-value strategies `none`, `lastPrediction`,
//!   `nullPrediction` and `defaultChild`, and both `noTrueChildStrategy` values.
//! * `MiningModel` with `majorityVote`, `weightedMajorityVote`, `average`, `weightedAverage`,
//!   `sum`, `weightedSum`, `median`, `max` (regression) and `selectFirst` segmentations, nested
//!   to any depth.
//!
//! `Output` elements are not evaluated: a prediction always carries the predicted value and, for
//! classification, the probability of every category of the target field. Anything else
//! (other model types, derived fields, `modelChain`, ...) is rejected at load time with
//! [`ModelError::Unsupported`].

mod xml;

use std::collections::HashMap;

use roxmltree::Node;

use crate::model::{ClassPrediction, FeatureSpec, FeatureValue, Model, ModelFormat, Prediction};
use crate::ModelError;
use xml::{
    array_tokens, attr, child, children_named, elements, malformed, name, num_attr, parse_number, req_attr,
    req_num_attr, unsupported,
};

/// Deepest element nesting accepted (trees, compound predicates, nested ensembles).
const MAX_DEPTH: usize = 512;

/// Largest document accepted, in bytes.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

const MODEL_ELEMENTS: &[&str] = &[
    "AnomalyDetectionModel",
    "AssociationModel",
    "BayesianNetworkModel",
    "BaselineModel",
    "ClusteringModel",
    "GaussianProcessModel",
    "GeneralRegressionModel",
    "MiningModel",
    "NaiveBayesModel",
    "NearestNeighborModel",
    "NeuralNetwork",
    "RegressionModel",
    "RuleSetModel",
    "Scorecard",
    "SequenceModel",
    "SupportVectorMachineModel",
    "TextModel",
    "TimeSeriesModel",
    "TreeModel",
];

// ---------------------------------------------------------------------------------------------
// Schema and input values

#[derive(Debug, Clone, Copy, PartialEq)]
enum DataType {
    Double,
    Float,
    Integer,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum InvalidTreatment {
    ReturnInvalid,
    AsIs,
    AsMissing,
}

/// An active input field of the model.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    numeric: bool,
    data_type: DataType,
    values: Vec<Constant>,
    invalid: InvalidTreatment,
    replacement: Option<Value>,
}

/// An input value after conversion to the field's type.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Num(f64),
    Str(String),
    Missing,
}

/// A constant from the document, with its numeric reading when it has one.
#[derive(Debug, Clone)]
struct Constant {
    text: String,
    num: Option<f64>,
}

impl Constant {
    fn new(text: &str, field: &Field) -> Result<Self, ModelError> {
        if field.numeric {
            let num = parse_number(text, &format!("value for field `{}`", field.name))?;
            Ok(Constant {
                text: text.to_string(),
                num: Some(field.cast(num)),
            })
        } else {
            Ok(Constant {
                text: text.to_string(),
                num: text.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            })
        }
    }

    fn matches(&self, value: &Value) -> bool {
        match value {
            Value::Str(s) => *s == self.text,
            Value::Num(x) => self.num == Some(*x),
            Value::Missing => false,
        }
    }
}

impl Field {
    fn cast(&self, x: f64) -> f64 {
        match self.data_type {
            DataType::Float => f64::from(x as f32),
            _ => x,
        }
    }

    fn prepare(&self, value: &FeatureValue) -> Result<Value, ModelError> {
        let value = match value {
            FeatureValue::Missing => Value::Missing,
            FeatureValue::Number(x) if x.is_nan() => Value::Missing,
            FeatureValue::Number(x) if self.numeric => {
                if x.is_infinite() {
                    return self.invalid(Value::Num(*x), "not a finite number");
                }
                if self.data_type == DataType::Integer && x.fract() != 0.0 {
                    return self.invalid(Value::Num(*x), "not an integer");
                }
                Value::Num(self.cast(*x))
            }
            FeatureValue::Number(x) => Value::Num(*x),
            FeatureValue::Category(s) if self.numeric => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Value::Num(self.cast(x)),
                _ => return self.invalid(Value::Str(s.clone()), "expected a number"),
            },
            FeatureValue::Category(s) => Value::Str(s.clone()),
        };
        match value {
            Value::Missing => Ok(self.replacement.clone().unwrap_or(Value::Missing)),
            v if !self.numeric && !self.values.is_empty() && !self.values.iter().any(|c| c.matches(&v)) => {
                self.invalid(v, "not one of the field's categories")
            }
            v => Ok(v),
        }
    }

    fn invalid(&self, value: Value, reason: &str) -> Result<Value, ModelError> {
        match self.invalid {
            InvalidTreatment::ReturnInvalid => Err(ModelError::invalid_feature(&self.name, reason)),
            InvalidTreatment::AsIs => match value {
                Value::Num(x) if !x.is_finite() => Err(ModelError::invalid_feature(&self.name, reason)),
                v => Ok(v),
            },
            InvalidTreatment::AsMissing => Ok(self.replacement.clone().unwrap_or(Value::Missing)),
        }
    }
}

/// Field lookup while parsing.
struct Schema {
    fields: Vec<Field>,
    index: HashMap<String, usize>,
}

impl Schema {
    fn field(&self, field_name: &str) -> Result<usize, ModelError> {
        self.index
            .get(field_name)
            .copied()
            .ok_or_else(|| malformed(format!("field `{field_name}` is not an active field of the model")))
    }

    fn constant(&self, field: usize, text: &str) -> Result<Constant, ModelError> {
        Constant::new(text, &self.fields[field])
    }
}

// ---------------------------------------------------------------------------------------------
// Predicates

#[derive(Debug, Clone, Copy, PartialEq)]
enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn from_bool(b: bool) -> Self {
        if b {
            Truth::True
        } else {
            Truth::False
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SimpleOp {
    Equal,
    NotEqual,
    LessThan,
    LessOrEqual,
    GreaterThan,
    GreaterOrEqual,
    IsMissing,
    IsNotMissing,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BoolOp {
    And,
    Or,
    Xor,
    Surrogate,
}

#[derive(Debug, Clone)]
enum Predicate {
    True,
    False,
    Simple {
        field: usize,
        op: SimpleOp,
        value: Option<Constant>,
    },
    Set {
        field: usize,
        is_in: bool,
        values: Vec<Constant>,
    },
    Compound {
        op: BoolOp,
        parts: Vec<Predicate>,
    },
}

const PREDICATES: &[&str] = &[
    "True",
    "False",
    "SimplePredicate",
    "SimpleSetPredicate",
    "CompoundPredicate",
];

fn is_predicate(node: Node<'_, '_>) -> bool {
    PREDICATES.contains(&name(node))
}

fn parse_predicate(node: Node<'_, '_>, schema: &Schema, depth: usize) -> Result<Predicate, ModelError> {
    if depth > MAX_DEPTH {
        return Err(unsupported("predicates nested too deeply"));
    }
    match name(node) {
        "True" => Ok(Predicate::True),
        "False" => Ok(Predicate::False),
        "SimplePredicate" => {
            let field = schema.field(req_attr(node, "field")?)?;
            let op = match req_attr(node, "operator")? {
                "equal" => SimpleOp::Equal,
                "notEqual" => SimpleOp::NotEqual,
                "lessThan" => SimpleOp::LessThan,
                "lessOrEqual" => SimpleOp::LessOrEqual,
                "greaterThan" => SimpleOp::GreaterThan,
                "greaterOrEqual" => SimpleOp::GreaterOrEqual,
                "isMissing" => SimpleOp::IsMissing,
                "isNotMissing" => SimpleOp::IsNotMissing,
                other => return Err(malformed(format!("unknown SimplePredicate operator `{other}`"))),
            };
            let value = match op {
                SimpleOp::IsMissing | SimpleOp::IsNotMissing => None,
                _ => {
                    let constant = schema.constant(field, req_attr(node, "value")?)?;
                    let ordering = !matches!(op, SimpleOp::Equal | SimpleOp::NotEqual);
                    if ordering && constant.num.is_none() {
                        return Err(unsupported(format!(
                            "ordering comparison with non-numeric value `{}`",
                            constant.text
                        )));
                    }
                    Some(constant)
                }
            };
            Ok(Predicate::Simple { field, op, value })
        }
        "SimpleSetPredicate" => {
            let field = schema.field(req_attr(node, "field")?)?;
            let is_in = match req_attr(node, "booleanOperator")? {
                "isIn" => true,
                "isNotIn" => false,
                other => return Err(malformed(format!("unknown SimpleSetPredicate operator `{other}`"))),
            };
            let array = child(node, "Array").ok_or_else(|| malformed("SimpleSetPredicate without <Array>"))?;
            let text: String = array.children().filter_map(|c| c.text()).collect();
            let values = array_tokens(&text)?
                .iter()
                .map(|t| schema.constant(field, t))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(n) = num_attr(array, "n")? {
                if n != values.len() as f64 {
                    return Err(malformed(format!("<Array n=\"{n}\"> holds {} values", values.len())));
                }
            }
            Ok(Predicate::Set { field, is_in, values })
        }
        "CompoundPredicate" => {
            let op = match req_attr(node, "booleanOperator")? {
                "and" => BoolOp::And,
                "or" => BoolOp::Or,
                "xor" => BoolOp::Xor,
                "surrogate" => BoolOp::Surrogate,
                other => return Err(malformed(format!("unknown CompoundPredicate operator `{other}`"))),
            };
            let parts = elements(node)
                .filter(|c| is_predicate(*c))
                .map(|c| parse_predicate(c, schema, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            if parts.len() < 2 {
                return Err(malformed("CompoundPredicate with fewer than two predicates"));
            }
            Ok(Predicate::Compound { op, parts })
        }
        other => Err(malformed(format!("<{other}> is not a predicate"))),
    }
}

/// The predicate child of an element (required).
fn predicate_of(node: Node<'_, '_>, schema: &Schema, depth: usize) -> Result<Predicate, ModelError> {
    let p = elements(node)
        .find(|c| is_predicate(*c))
        .ok_or_else(|| malformed(format!("<{}> has no predicate", name(node))))?;
    parse_predicate(p, schema, depth)
}

impl Predicate {
    fn eval(&self, input: &[Value]) -> Truth {
        match self {
            Predicate::True => Truth::True,
            Predicate::False => Truth::False,
            Predicate::Simple { field, op, value } => {
                let input = &input[*field];
                match op {
                    SimpleOp::IsMissing => return Truth::from_bool(*input == Value::Missing),
                    SimpleOp::IsNotMissing => return Truth::from_bool(*input != Value::Missing),
                    _ => {}
                }
                let Some(constant) = value else {
                    return Truth::Unknown;
                };
                if *input == Value::Missing {
                    return Truth::Unknown;
                }
                match op {
                    SimpleOp::Equal => Truth::from_bool(constant.matches(input)),
                    SimpleOp::NotEqual => Truth::from_bool(!constant.matches(input)),
                    _ => {
                        let (Value::Num(x), Some(c)) = (input, constant.num) else {
                            return Truth::Unknown;
                        };
                        Truth::from_bool(match op {
                            SimpleOp::LessThan => *x < c,
                            SimpleOp::LessOrEqual => *x <= c,
                            SimpleOp::GreaterThan => *x > c,
                            _ => *x >= c,
                        })
                    }
                }
            }
            Predicate::Set { field, is_in, values } => {
                let input = &input[*field];
                if *input == Value::Missing {
                    return Truth::Unknown;
                }
                Truth::from_bool(values.iter().any(|c| c.matches(input)) == *is_in)
            }
            Predicate::Compound { op, parts } => match op {
                BoolOp::And => {
                    let mut result = Truth::True;
                    for p in parts {
                        match p.eval(input) {
                            Truth::False => return Truth::False,
                            Truth::Unknown => result = Truth::Unknown,
                            Truth::True => {}
                        }
                    }
                    result
                }
                BoolOp::Or => {
                    let mut result = Truth::False;
                    for p in parts {
                        match p.eval(input) {
                            Truth::True => return Truth::True,
                            Truth::Unknown => result = Truth::Unknown,
                            Truth::False => {}
                        }
                    }
                    result
                }
                BoolOp::Xor => {
                    let mut result = false;
                    for p in parts {
                        match p.eval(input) {
                            Truth::Unknown => return Truth::Unknown,
                            Truth::True => result = !result,
                            Truth::False => {}
                        }
                    }
                    Truth::from_bool(result)
                }
                BoolOp::Surrogate => parts
                    .iter()
                    .map(|p| p.eval(input))
                    .find(|t| *t != Truth::Unknown)
                    .unwrap_or(Truth::Unknown),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Models

#[derive(Debug, Clone, Copy, PartialEq)]
enum Function {
    Regression,
    Classification,
}

/// The result of one (sub)model.
#[derive(Debug, Clone)]
enum Outcome {
    Score(f64),
    Class {
        label: String,
        probabilities: Vec<(String, f64)>,
    },
}

#[derive(Debug, Clone)]
enum ModelDef {
    Regression(RegressionDef),
    Tree(TreeDef),
    Mining(MiningDef),
}

impl ModelDef {
    fn eval(&self, input: &[Value], classes: &[String]) -> Result<Option<Outcome>, ModelError> {
        match self {
            ModelDef::Regression(m) => m.eval(input, classes),
            ModelDef::Tree(m) => Ok(m.eval(input, classes)),
            ModelDef::Mining(m) => m.eval(input, classes),
        }
    }
}

fn parse_function(node: Node<'_, '_>) -> Result<Function, ModelError> {
    match req_attr(node, "functionName")? {
        "regression" => Ok(Function::Regression),
        "classification" => Ok(Function::Classification),
        other => Err(unsupported(format!("functionName `{other}`"))),
    }
}

/// Checks the parts of a (nested) model element that this crate does not evaluate.
fn check_model_common(node: Node<'_, '_>, schema: &Schema) -> Result<(), ModelError> {
    if attr(node, "isScorable") == Some("false") {
        return Err(unsupported(format!("<{}> is marked as not scorable", name(node))));
    }
    let mining =
        child(node, "MiningSchema").ok_or_else(|| malformed(format!("<{}> has no <MiningSchema>", name(node))))?;
    for field in children_named(mining, "MiningField") {
        let field_name = req_attr(field, "name")?;
        let usage = attr(field, "usageType").unwrap_or("active");
        if usage == "active" {
            schema.field(field_name)?;
        }
    }
    if let Some(local) = child(node, "LocalTransformations") {
        if elements(local).next().is_some() {
            return Err(unsupported("derived fields (LocalTransformations)"));
        }
    }
    Ok(())
}

fn parse_model(node: Node<'_, '_>, schema: &Schema, depth: usize) -> Result<ModelDef, ModelError> {
    if depth > MAX_DEPTH {
        return Err(unsupported("models nested too deeply"));
    }
    check_model_common(node, schema)?;
    match name(node) {
        "RegressionModel" => Ok(ModelDef::Regression(RegressionDef::parse(node, schema)?)),
        "TreeModel" => Ok(ModelDef::Tree(TreeDef::parse(node, schema, depth)?)),
        "MiningModel" => Ok(ModelDef::Mining(MiningDef::parse(node, schema, depth)?)),
        other => Err(unsupported(format!("model type <{other}>"))),
    }
}

/// Orders probabilities by the target's categories, then any other labels as they came.
fn order_probabilities(mut probabilities: Vec<(String, f64)>, classes: &[String]) -> Vec<(String, f64)> {
    if classes.is_empty() {
        return probabilities;
    }
    let mut ordered = Vec::with_capacity(probabilities.len().max(classes.len()));
    for class in classes {
        match probabilities.iter().position(|(c, _)| c == class) {
            Some(i) => ordered.push(probabilities.remove(i)),
            None => ordered.push((class.clone(), 0.0)),
        }
    }
    ordered.extend(probabilities);
    ordered
}

/// The first label with the highest probability, in the given order.
fn argmax(probabilities: &[(String, f64)]) -> Option<String> {
    let mut best: Option<&(String, f64)> = None;
    for entry in probabilities {
        if best.is_none_or(|b| entry.1 > b.1) {
            best = Some(entry);
        }
    }
    best.map(|(c, _)| c.clone())
}

// ----- RegressionModel

#[derive(Debug, Clone, Copy, PartialEq)]
enum Normalization {
    None,
    Softmax,
    Simplemax,
    Logit,
    Exp,
    Cloglog,
    Loglog,
    Cauchit,
}

impl Normalization {
    fn parse(text: &str) -> Result<Self, ModelError> {
        Ok(match text {
            "none" => Normalization::None,
            "softmax" => Normalization::Softmax,
            "simplemax" => Normalization::Simplemax,
            "logit" => Normalization::Logit,
            "exp" => Normalization::Exp,
            "cloglog" => Normalization::Cloglog,
            "loglog" => Normalization::Loglog,
            "cauchit" => Normalization::Cauchit,
            other => return Err(unsupported(format!("normalizationMethod `{other}`"))),
        })
    }

    /// The inverse link applied to a single value.
    fn link(self, y: f64) -> f64 {
        match self {
            Normalization::None | Normalization::Simplemax => y,
            Normalization::Softmax | Normalization::Logit => crate::linear::sigmoid(y),
            Normalization::Exp => y.exp(),
            Normalization::Cloglog => 1.0 - (-(y.exp())).exp(),
            Normalization::Loglog => (-((-y).exp())).exp(),
            Normalization::Cauchit => 0.5 + y.atan() / std::f64::consts::PI,
        }
    }
}

#[derive(Debug, Clone)]
struct RegressionTable {
    intercept: f64,
    category: Option<String>,
    numeric: Vec<(usize, f64, f64)>,
    categorical: Vec<(usize, Constant, f64)>,
    terms: Vec<(Vec<usize>, f64)>,
}

#[derive(Debug, Clone, Default)]
struct TargetRescale {
    factor: f64,
    constant: f64,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Debug, Clone)]
struct RegressionDef {
    function: Function,
    normalization: Normalization,
    tables: Vec<RegressionTable>,
    field_names: Vec<String>,
    rescale: Option<TargetRescale>,
}

fn parse_targets(node: Node<'_, '_>) -> Result<Option<TargetRescale>, ModelError> {
    let Some(targets) = child(node, "Targets") else {
        return Ok(None);
    };
    let mut result = None;
    for target in children_named(targets, "Target") {
        if result.is_some() {
            return Err(unsupported("more than one <Target>"));
        }
        if elements(target).next().is_some() {
            return Err(unsupported("<TargetValue> in <Targets>"));
        }
        if attr(target, "castInteger").is_some() {
            return Err(unsupported("<Target castInteger>"));
        }
        result = Some(TargetRescale {
            factor: num_attr(target, "rescaleFactor")?.unwrap_or(1.0),
            constant: num_attr(target, "rescaleConstant")?.unwrap_or(0.0),
            min: num_attr(target, "min")?,
            max: num_attr(target, "max")?,
        });
    }
    Ok(result)
}

impl TargetRescale {
    fn apply(&self, y: f64) -> f64 {
        let mut y = y;
        if let Some(min) = self.min {
            y = y.max(min);
        }
        if let Some(max) = self.max {
            y = y.min(max);
        }
        y * self.factor + self.constant
    }
}

impl RegressionDef {
    fn parse(node: Node<'_, '_>, schema: &Schema) -> Result<Self, ModelError> {
        let function = parse_function(node)?;
        let normalization = Normalization::parse(attr(node, "normalizationMethod").unwrap_or("none"))?;
        let mut tables = Vec::new();
        for table in children_named(node, "RegressionTable") {
            let mut t = RegressionTable {
                intercept: req_num_attr(table, "intercept")?,
                category: attr(table, "targetCategory").map(str::to_string),
                numeric: Vec::new(),
                categorical: Vec::new(),
                terms: Vec::new(),
            };
            for p in elements(table) {
                match name(p) {
                    "NumericPredictor" => {
                        let field = schema.field(req_attr(p, "name")?)?;
                        let exponent = num_attr(p, "exponent")?.unwrap_or(1.0);
                        t.numeric.push((field, exponent, req_num_attr(p, "coefficient")?));
                    }
                    "CategoricalPredictor" => {
                        let field = schema.field(req_attr(p, "name")?)?;
                        let value = schema.constant(field, req_attr(p, "value")?)?;
                        t.categorical.push((field, value, req_num_attr(p, "coefficient")?));
                    }
                    "PredictorTerm" => {
                        let fields = children_named(p, "FieldRef")
                            .map(|f| schema.field(req_attr(f, "field")?))
                            .collect::<Result<Vec<_>, _>>()?;
                        if fields.is_empty() {
                            return Err(malformed("PredictorTerm without FieldRef"));
                        }
                        t.terms.push((fields, req_num_attr(p, "coefficient")?));
                    }
                    other => return Err(unsupported(format!("<{other}> in <RegressionTable>"))),
                }
            }
            tables.push(t);
        }
        if tables.is_empty() {
            return Err(malformed("RegressionModel without <RegressionTable>"));
        }
        match function {
            Function::Regression => {
                if tables.len() != 1 {
                    return Err(malformed("regression RegressionModel needs exactly one table"));
                }
                if matches!(normalization, Normalization::Simplemax) {
                    return Err(unsupported("simplemax for regression"));
                }
            }
            Function::Classification => {
                if tables.len() < 2 {
                    return Err(malformed("classification RegressionModel needs two or more tables"));
                }
                if tables.iter().any(|t| t.category.is_none()) {
                    return Err(malformed("RegressionTable without targetCategory"));
                }
                let binomial = tables.len() == 2
                    && !matches!(
                        normalization,
                        Normalization::Softmax | Normalization::Simplemax | Normalization::Exp
                    );
                let multinomial = matches!(
                    normalization,
                    Normalization::None | Normalization::Softmax | Normalization::Simplemax
                );
                if !binomial && !multinomial {
                    return Err(unsupported(format!(
                        "normalization {normalization:?} with {} categories",
                        tables.len()
                    )));
                }
            }
        }
        Ok(RegressionDef {
            function,
            normalization,
            tables,
            field_names: schema.fields.iter().map(|f| f.name.clone()).collect(),
            rescale: if function == Function::Regression {
                parse_targets(node)?
            } else {
                None
            },
        })
    }

    fn number(&self, input: &[Value], field: usize) -> Result<f64, ModelError> {
        match &input[field] {
            Value::Num(x) => Ok(*x),
            Value::Missing => Err(ModelError::MissingFeature(self.field_names[field].clone())),
            Value::Str(s) => Err(ModelError::invalid_feature(
                &self.field_names[field],
                format!("expected a number, got `{s}`"),
            )),
        }
    }

    fn table_value(&self, t: &RegressionTable, input: &[Value]) -> Result<f64, ModelError> {
        let mut y = t.intercept;
        for (field, exponent, coefficient) in &t.numeric {
            let x = self.number(input, *field)?;
            y += coefficient * if *exponent == 1.0 { x } else { x.powf(*exponent) };
        }
        for (field, value, coefficient) in &t.categorical {
            if input[*field] == Value::Missing {
                return Err(ModelError::MissingFeature(self.field_names[*field].clone()));
            }
            if value.matches(&input[*field]) {
                y += coefficient;
            }
        }
        for (fields, coefficient) in &t.terms {
            let mut product = *coefficient;
            for field in fields {
                product *= self.number(input, *field)?;
            }
            y += product;
        }
        Ok(y)
    }

    fn eval(&self, input: &[Value], classes: &[String]) -> Result<Option<Outcome>, ModelError> {
        let values = self
            .tables
            .iter()
            .map(|t| self.table_value(t, input))
            .collect::<Result<Vec<_>, _>>()?;
        if self.function == Function::Regression {
            let mut y = self.normalization.link(values[0]);
            if let Some(rescale) = &self.rescale {
                y = rescale.apply(y);
            }
            return Ok(Some(Outcome::Score(y)));
        }
        let n = values.len();
        let mut p = values;
        let binomial = n == 2
            && !matches!(
                self.normalization,
                Normalization::Softmax | Normalization::Simplemax | Normalization::Exp
            );
        if binomial {
            p[0] = match self.normalization {
                Normalization::None => p[0].clamp(0.0, 1.0),
                m => m.link(p[0]),
            };
            p[1] = 1.0 - p[0];
        } else {
            match self.normalization {
                Normalization::Softmax => {
                    let max = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    p.iter_mut().for_each(|v| *v = (*v - max).exp());
                    let sum: f64 = p.iter().sum();
                    p.iter_mut().for_each(|v| *v /= sum);
                }
                Normalization::Simplemax => {
                    let sum: f64 = p.iter().sum();
                    p.iter_mut().for_each(|v| *v /= sum);
                }
                _ => {
                    let sum: f64 = p[..n - 1].iter().sum();
                    p[n - 1] = 1.0 - sum;
                }
            }
        }
        if p.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Evaluation("non-finite class probability".into()));
        }
        let probabilities: Vec<(String, f64)> = self
            .tables
            .iter()
            .zip(p)
            .map(|(t, p)| (t.category.clone().unwrap_or_default(), p))
            .collect();
        let label = argmax(&probabilities).unwrap_or_default();
        Ok(Some(Outcome::Class {
            label,
            probabilities: order_probabilities(probabilities, classes),
        }))
    }
}

// ----- TreeModel

#[derive(Debug, Clone, Copy, PartialEq)]
enum MissingStrategy {
    None,
    LastPrediction,
    NullPrediction,
    DefaultChild,
}

#[derive(Debug, Clone)]
struct TreeNode {
    predicate: Predicate,
    score: Option<String>,
    score_num: Option<f64>,
    distribution: Vec<(String, f64, Option<f64>)>,
    children: Vec<usize>,
    default_child: Option<usize>,
}

#[derive(Debug, Clone)]
struct TreeDef {
    function: Function,
    nodes: Vec<TreeNode>,
    missing: MissingStrategy,
    return_last: bool,
}

impl TreeDef {
    fn parse(node: Node<'_, '_>, schema: &Schema, depth: usize) -> Result<Self, ModelError> {
        let function = parse_function(node)?;
        let missing = match attr(node, "missingValueStrategy").unwrap_or("none") {
            "none" => MissingStrategy::None,
            "lastPrediction" => MissingStrategy::LastPrediction,
            "nullPrediction" => MissingStrategy::NullPrediction,
            "defaultChild" => MissingStrategy::DefaultChild,
            other => return Err(unsupported(format!("missingValueStrategy `{other}`"))),
        };
        let return_last = match attr(node, "noTrueChildStrategy").unwrap_or("returnNullPrediction") {
            "returnNullPrediction" => false,
            "returnLastPrediction" => true,
            other => return Err(malformed(format!("unknown noTrueChildStrategy `{other}`"))),
        };
        match attr(node, "splitCharacteristic") {
            None | Some("binarySplit") | Some("multiSplit") => {}
            Some(other) => return Err(malformed(format!("unknown splitCharacteristic `{other}`"))),
        }
        let root = child(node, "Node").ok_or_else(|| malformed("TreeModel without <Node>"))?;
        let mut tree = TreeDef {
            function,
            nodes: Vec::new(),
            missing,
            return_last,
        };
        tree.parse_node(root, schema, depth + 1)?;
        Ok(tree)
    }

    fn parse_node(&mut self, node: Node<'_, '_>, schema: &Schema, depth: usize) -> Result<usize, ModelError> {
        if depth > MAX_DEPTH {
            return Err(unsupported("tree nested too deeply"));
        }
        let predicate = predicate_of(node, schema, depth)?;
        let score = attr(node, "score").map(str::to_string);
        let score_num = match (&score, self.function) {
            (Some(s), Function::Regression) => Some(parse_number(s, "<Node> score")?),
            _ => None,
        };
        let mut distribution = Vec::new();
        for d in children_named(node, "ScoreDistribution") {
            let count = req_num_attr(d, "recordCount")?;
            let probability = num_attr(d, "probability")?;
            if count < 0.0 || probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                return Err(malformed(
                    "negative count or probability outside [0, 1] in <ScoreDistribution>",
                ));
            }
            distribution.push((req_attr(d, "value")?.to_string(), count, probability));
        }
        let index = self.nodes.len();
        self.nodes.push(TreeNode {
            predicate,
            score,
            score_num,
            distribution,
            children: Vec::new(),
            default_child: None,
        });
        let mut children = Vec::new();
        let mut ids = Vec::new();
        for c in children_named(node, "Node") {
            let i = self.parse_node(c, schema, depth + 1)?;
            children.push(i);
            ids.push(attr(c, "id"));
        }
        let default_child = match attr(node, "defaultChild") {
            Some(id) => Some(
                ids.iter()
                    .position(|c| *c == Some(id))
                    .map(|p| children[p])
                    .ok_or_else(|| malformed(format!("defaultChild `{id}` is not a child node")))?,
            ),
            None => None,
        };
        if self.missing == MissingStrategy::DefaultChild && default_child.is_none() && !children.is_empty() {
            return Err(malformed(
                "missingValueStrategy defaultChild, but a node has no defaultChild",
            ));
        }
        let entry = &mut self.nodes[index];
        entry.children = children;
        entry.default_child = default_child;
        Ok(index)
    }

    /// The node that decides the prediction, or `None` for a null prediction.
    fn decide(&self, input: &[Value]) -> Option<usize> {
        let root = self.nodes.first()?;
        if root.predicate.eval(input) != Truth::True {
            return None;
        }
        let mut current = 0;
        loop {
            let node = &self.nodes[current];
            let mut next = None;
            for &c in &node.children {
                match self.nodes[c].predicate.eval(input) {
                    Truth::True => {
                        next = Some(c);
                        break;
                    }
                    Truth::False => {}
                    Truth::Unknown => match self.missing {
                        MissingStrategy::None => {}
                        MissingStrategy::LastPrediction => return Some(current),
                        MissingStrategy::NullPrediction => return None,
                        MissingStrategy::DefaultChild => {
                            next = node.default_child;
                            break;
                        }
                    },
                }
            }
            match next {
                Some(c) => current = c,
                None if node.children.is_empty() || self.return_last => return Some(current),
                None => return None,
            }
        }
    }

    fn eval(&self, input: &[Value], classes: &[String]) -> Option<Outcome> {
        let node = &self.nodes[self.decide(input)?];
        match self.function {
            Function::Regression => node.score_num.map(Outcome::Score),
            Function::Classification => {
                let total: f64 = node.distribution.iter().map(|d| d.1).sum();
                let probabilities: Vec<(String, f64)> = if node.distribution.iter().all(|d| d.2.is_some()) {
                    node.distribution
                        .iter()
                        .map(|(c, _, p)| (c.clone(), p.unwrap_or(0.0)))
                        .collect()
                } else if total > 0.0 {
                    node.distribution
                        .iter()
                        .map(|(c, n, _)| (c.clone(), n / total))
                        .collect()
                } else {
                    Vec::new()
                };
                let label = node.score.clone().or_else(|| argmax(&probabilities))?;
                Some(Outcome::Class {
                    label,
                    probabilities: order_probabilities(probabilities, classes),
                })
            }
        }
    }
}

// ----- MiningModel

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    MajorityVote,
    WeightedMajorityVote,
    Average,
    WeightedAverage,
    Sum,
    WeightedSum,
    Median,
    Max,
    SelectFirst,
}

#[derive(Debug, Clone)]
struct Segment {
    predicate: Predicate,
    weight: f64,
    model: ModelDef,
}

#[derive(Debug, Clone)]
struct MiningDef {
    function: Function,
    method: Method,
    skip_missing: bool,
    segments: Vec<Segment>,
}

impl MiningDef {
    fn parse(node: Node<'_, '_>, schema: &Schema, depth: usize) -> Result<Self, ModelError> {
        let function = parse_function(node)?;
        let segmentation =
            child(node, "Segmentation").ok_or_else(|| malformed("MiningModel without <Segmentation>"))?;
        let method = match req_attr(segmentation, "multipleModelMethod")? {
            "majorityVote" => Method::MajorityVote,
            "weightedMajorityVote" => Method::WeightedMajorityVote,
            "average" => Method::Average,
            "weightedAverage" => Method::WeightedAverage,
            "sum" => Method::Sum,
            "weightedSum" => Method::WeightedSum,
            "median" => Method::Median,
            "max" => Method::Max,
            "selectFirst" => Method::SelectFirst,
            other => return Err(unsupported(format!("multipleModelMethod `{other}`"))),
        };
        let allowed = match function {
            Function::Regression => !matches!(method, Method::MajorityVote | Method::WeightedMajorityVote),
            Function::Classification => matches!(
                method,
                Method::MajorityVote
                    | Method::WeightedMajorityVote
                    | Method::Average
                    | Method::WeightedAverage
                    | Method::SelectFirst
            ),
        };
        if !allowed {
            return Err(unsupported(format!("multipleModelMethod {method:?} for {function:?}")));
        }
        let skip_missing = match attr(segmentation, "missingPredictionTreatment").unwrap_or("returnMissing") {
            "returnMissing" => false,
            "skipSegment" => true,
            other => return Err(unsupported(format!("missingPredictionTreatment `{other}`"))),
        };
        let mut segments = Vec::new();
        for segment in children_named(segmentation, "Segment") {
            let model = elements(segment)
                .find(|c| MODEL_ELEMENTS.contains(&name(*c)))
                .ok_or_else(|| malformed("<Segment> without a model"))?;
            let model = parse_model(model, schema, depth + 1)?;
            let nested_function = match &model {
                ModelDef::Regression(m) => m.function,
                ModelDef::Tree(m) => m.function,
                ModelDef::Mining(m) => m.function,
            };
            if nested_function != function {
                return Err(unsupported("segment model with a different functionName"));
            }
            let weight = num_attr(segment, "weight")?.unwrap_or(1.0);
            if weight < 0.0 {
                return Err(malformed("negative segment weight"));
            }
            segments.push(Segment {
                predicate: predicate_of(segment, schema, depth + 1)?,
                weight,
                model,
            });
        }
        if segments.is_empty() {
            return Err(malformed("<Segmentation> without segments"));
        }
        Ok(MiningDef {
            function,
            method,
            skip_missing,
            segments,
        })
    }

    fn eval(&self, input: &[Value], classes: &[String]) -> Result<Option<Outcome>, ModelError> {
        let mut results = Vec::new();
        for segment in &self.segments {
            if segment.predicate.eval(input) != Truth::True {
                continue;
            }
            match segment.model.eval(input, classes)? {
                Some(outcome) if self.method == Method::SelectFirst => return Ok(Some(outcome)),
                Some(outcome) => results.push((segment.weight, outcome)),
                None if self.skip_missing => {}
                None => return Ok(None),
            }
        }
        if results.is_empty() {
            return Ok(None);
        }
        match self.function {
            Function::Regression => {
                let mut scores = Vec::with_capacity(results.len());
                for (weight, outcome) in &results {
                    match outcome {
                        Outcome::Score(s) => scores.push((*weight, *s)),
                        Outcome::Class { .. } => {
                            return Err(ModelError::Evaluation("class outcome in a regression ensemble".into()))
                        }
                    }
                }
                let n = scores.len() as f64;
                let total_weight: f64 = scores.iter().map(|s| s.0).sum();
                let y = match self.method {
                    Method::Average => scores.iter().map(|s| s.1).sum::<f64>() / n,
                    Method::WeightedAverage if total_weight > 0.0 => {
                        scores.iter().map(|s| s.0 * s.1).sum::<f64>() / total_weight
                    }
                    Method::WeightedAverage => return Ok(None),
                    Method::Sum => scores.iter().map(|s| s.1).sum(),
                    Method::WeightedSum => scores.iter().map(|s| s.0 * s.1).sum(),
                    Method::Max => scores.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max),
                    _ => {
                        let mut v: Vec<f64> = scores.iter().map(|s| s.1).collect();
                        v.sort_by(f64::total_cmp);
                        let m = v.len() / 2;
                        if v.len() % 2 == 1 {
                            v[m]
                        } else {
                            (v[m - 1] + v[m]) / 2.0
                        }
                    }
                };
                Ok(Some(Outcome::Score(y)))
            }
            Function::Classification => {
                let mut totals: Vec<(String, f64)> = Vec::new();
                let mut add = |label: &str, amount: f64| match totals.iter_mut().find(|(c, _)| c == label) {
                    Some(entry) => entry.1 += amount,
                    None => totals.push((label.to_string(), amount)),
                };
                let mut weight_sum = 0.0;
                for (weight, outcome) in &results {
                    let Outcome::Class { label, probabilities } = outcome else {
                        return Err(ModelError::Evaluation(
                            "score outcome in a classification ensemble".into(),
                        ));
                    };
                    let w = match self.method {
                        Method::WeightedMajorityVote | Method::WeightedAverage => *weight,
                        _ => 1.0,
                    };
                    weight_sum += w;
                    match self.method {
                        Method::MajorityVote | Method::WeightedMajorityVote => add(label, w),
                        _ => {
                            if probabilities.is_empty() {
                                return Err(ModelError::Evaluation(
                                    "averaging a segment without probabilities".into(),
                                ));
                            }
                            for (c, p) in probabilities {
                                add(c, w * p);
                            }
                        }
                    }
                }
                if weight_sum <= 0.0 {
                    return Ok(None);
                }
                let probabilities: Vec<(String, f64)> =
                    order_probabilities(totals.into_iter().map(|(c, v)| (c, v / weight_sum)).collect(), classes);
                let Some(label) = argmax(&probabilities) else {
                    return Ok(None);
                };
                Ok(Some(Outcome::Class { label, probabilities }))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The public model

/// A PMML document loaded for scoring.
///
/// ```
/// use streams_ml::pmml::PmmlModel;
/// use streams_ml::{Features, Model};
///
/// let doc = r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
///   <DataDictionary>
///     <DataField name="x" optype="continuous" dataType="double"/>
///     <DataField name="colour" optype="categorical" dataType="string">
///       <Value value="red"/><Value value="blue"/>
///     </DataField>
///     <DataField name="y" optype="continuous" dataType="double"/>
///   </DataDictionary>
///   <RegressionModel functionName="regression">
///     <MiningSchema>
///       <MiningField name="x"/><MiningField name="colour"/>
///       <MiningField name="y" usageType="target"/>
///     </MiningSchema>
///     <RegressionTable intercept="1.0">
///       <NumericPredictor name="x" coefficient="2.0"/>
///       <CategoricalPredictor name="colour" value="red" coefficient="10.0"/>
///     </RegressionTable>
///   </RegressionModel>
/// </PMML>"#;
/// let model = PmmlModel::from_slice("demo", 1, doc.as_bytes())?;
/// let p = model.predict_named(&Features::new().with("x", 3.0).with("colour", "red"))?;
/// assert_eq!(p.score(), Some(17.0));
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PmmlModel {
    name: String,
    version: u64,
    inputs: Vec<FeatureSpec>,
    fields: Vec<Field>,
    classes: Vec<String>,
    model: ModelDef,
}

impl PmmlModel {
    /// Parses and validates a PMML 4.x document.
    pub fn from_slice(model_name: impl Into<String>, version: u64, bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(malformed("document too large"));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
        // DTDs are rejected by the parser's defaults.
        let doc = roxmltree::Document::parse(text).map_err(|e| malformed(format!("XML: {e}")))?;
        let root = doc.root_element();
        if name(root) != "PMML" {
            return Err(malformed(format!("root element is <{}>, not <PMML>", name(root))));
        }
        let version_attr = req_attr(root, "version")?;
        if !version_attr.starts_with("4.") {
            return Err(unsupported(format!("PMML version {version_attr}")));
        }
        let (fields, classes, model) = parse_document(root)?;
        let inputs = fields
            .iter()
            .map(|f| {
                if f.numeric {
                    FeatureSpec::numeric(&f.name)
                } else {
                    FeatureSpec::categorical(&f.name, f.values.iter().map(|c| c.text.clone()).collect())
                }
            })
            .collect();
        Ok(PmmlModel {
            name: model_name.into(),
            version,
            inputs,
            fields,
            classes,
            model,
        })
    }

    /// The target's categories (empty for regression models or undeclared categories).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
}

struct DataField {
    numeric: bool,
    data_type: DataType,
    values: Vec<String>,
}

fn parse_document(root: Node<'_, '_>) -> Result<(Vec<Field>, Vec<String>, ModelDef), ModelError> {
    let dictionary = child(root, "DataDictionary").ok_or_else(|| malformed("no <DataDictionary>"))?;
    let mut data_fields: HashMap<&str, DataField> = HashMap::new();
    for f in children_named(dictionary, "DataField") {
        let field_name = req_attr(f, "name")?;
        let data_type = match req_attr(f, "dataType")? {
            "double" => DataType::Double,
            "float" => DataType::Float,
            "integer" => DataType::Integer,
            _ => DataType::Other,
        };
        let numeric = match req_attr(f, "optype")? {
            "continuous" => true,
            "categorical" | "ordinal" => false,
            other => return Err(malformed(format!("unknown optype `{other}` of field `{field_name}`"))),
        };
        if numeric && data_type == DataType::Other {
            return Err(unsupported(format!(
                "continuous field `{field_name}` of a non-numeric dataType"
            )));
        }
        let values = children_named(f, "Value")
            .filter(|v| attr(*v, "property").unwrap_or("valid") == "valid")
            .map(|v| req_attr(v, "value").map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?;
        if data_fields
            .insert(
                field_name,
                DataField {
                    numeric,
                    data_type,
                    values,
                },
            )
            .is_some()
        {
            return Err(malformed(format!("duplicate DataField `{field_name}`")));
        }
    }
    if let Some(transformations) = child(root, "TransformationDictionary") {
        if elements(transformations).next().is_some() {
            return Err(unsupported("derived fields (TransformationDictionary)"));
        }
    }
    let model_node = elements(root)
        .find(|c| MODEL_ELEMENTS.contains(&name(*c)))
        .ok_or_else(|| malformed("no model element"))?;
    let mining = child(model_node, "MiningSchema")
        .ok_or_else(|| malformed(format!("<{}> has no <MiningSchema>", name(model_node))))?;
    let mut fields: Vec<Field> = Vec::new();
    let mut index = HashMap::new();
    let mut target = None;
    for m in children_named(mining, "MiningField") {
        let field_name = req_attr(m, "name")?;
        let data = data_fields
            .get(field_name)
            .ok_or_else(|| malformed(format!("MiningField `{field_name}` is not in the DataDictionary")))?;
        match attr(m, "usageType").unwrap_or("active") {
            "active" => {}
            "target" | "predicted" => {
                target = Some(field_name);
                continue;
            }
            _ => continue,
        }
        for (key, default) in [("outliers", "asIs"), ("lowValue", ""), ("highValue", "")] {
            if let Some(v) = attr(m, key) {
                if v != default {
                    return Err(unsupported(format!("MiningField attribute {key}=\"{v}\"")));
                }
            }
        }
        let invalid = match attr(m, "invalidValueTreatment").unwrap_or("returnInvalid") {
            "returnInvalid" => InvalidTreatment::ReturnInvalid,
            "asIs" => InvalidTreatment::AsIs,
            "asMissing" => InvalidTreatment::AsMissing,
            other => return Err(unsupported(format!("invalidValueTreatment `{other}`"))),
        };
        let mut field = Field {
            name: field_name.to_string(),
            numeric: data.numeric,
            data_type: data.data_type,
            values: Vec::new(),
            invalid,
            replacement: None,
        };
        field.values = data
            .values
            .iter()
            .map(|v| Constant::new(v, &field))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(r) = attr(m, "missingValueReplacement") {
            field.replacement = Some(if field.numeric {
                Value::Num(field.cast(parse_number(r, "missingValueReplacement")?))
            } else {
                Value::Str(r.to_string())
            });
        }
        if index.insert(field_name.to_string(), fields.len()).is_some() {
            return Err(malformed(format!("duplicate MiningField `{field_name}`")));
        }
        fields.push(field);
    }
    let classes = target
        .and_then(|t| data_fields.get(t))
        .filter(|d| !d.numeric)
        .map(|d| d.values.clone())
        .unwrap_or_default();
    let schema = Schema { fields, index };
    let model = parse_model(model_node, &schema, 0)?;
    Ok((schema.fields, classes, model))
}

impl Model for PmmlModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn format(&self) -> ModelFormat {
        ModelFormat::Pmml
    }

    fn inputs(&self) -> &[FeatureSpec] {
        &self.inputs
    }

    fn predict(&self, features: &[f64]) -> Result<Prediction, ModelError> {
        let values: Vec<FeatureValue> = features.iter().map(|x| FeatureValue::Number(*x)).collect();
        self.predict_values(&values)
    }

    fn predict_values(&self, values: &[FeatureValue]) -> Result<Prediction, ModelError> {
        if values.len() != self.fields.len() {
            return Err(ModelError::FeatureCount {
                expected: self.fields.len(),
                actual: values.len(),
            });
        }
        let input = self
            .fields
            .iter()
            .zip(values)
            .map(|(f, v)| f.prepare(v))
            .collect::<Result<Vec<_>, _>>()?;
        match self.model.eval(&input, &self.classes)? {
            Some(Outcome::Score(s)) => Ok(Prediction::Score(s)),
            Some(Outcome::Class { label, probabilities }) => {
                Ok(Prediction::Class(ClassPrediction { label, probabilities }))
            }
            None => {
                if let Some(missing) = self.fields.iter().zip(&input).find(|(_, v)| **v == Value::Missing) {
                    Err(ModelError::NoPrediction(format!(
                        "the model gives no prediction when `{}` is missing",
                        missing.0.name
                    )))
                } else {
                    Err(ModelError::NoPrediction(
                        "the model gives no prediction for this input".into(),
                    ))
                }
            }
        }
    }
}
