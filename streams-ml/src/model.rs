//! The [`Model`] trait and the values that flow in and out of it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// The document formats a model can be loaded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelFormat {
    /// The JSON linear / logistic regression document ([`crate::linear::LinearDocument`]),
    /// also written by [`crate::SgdLearner`].
    JsonLinear,
    /// PMML 4.x (RegressionModel, TreeModel, MiningModel).
    Pmml,
    /// ONNX, evaluated by a pure-Rust runtime.
    Onnx,
}

impl ModelFormat {
    /// Every supported format.
    pub const ALL: [ModelFormat; 3] = [ModelFormat::JsonLinear, ModelFormat::Pmml, ModelFormat::Onnx];

    /// The format's name as written in a model envelope: `json-linear`, `pmml` or `onnx`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::JsonLinear => "json-linear",
            ModelFormat::Pmml => "pmml",
            ModelFormat::Onnx => "onnx",
        }
    }
}

impl fmt::Display for ModelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelFormat {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ModelError::UnknownFormat(s.to_string()))
    }
}

/// The kind of value a model input takes.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureKind {
    /// A number.
    Numeric,
    /// One of a set of categories. `values` lists the valid categories when the model
    /// declares them, and is empty when any category is accepted.
    Categorical {
        /// The declared categories, in the model's order.
        values: Vec<String>,
    },
}

/// One input of a model: its name and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    /// The feature's name (used by [`Model::predict_named`]).
    pub name: String,
    /// What kind of value it takes.
    pub kind: FeatureKind,
}

impl FeatureSpec {
    /// A numeric feature.
    pub fn numeric(name: impl Into<String>) -> Self {
        FeatureSpec {
            name: name.into(),
            kind: FeatureKind::Numeric,
        }
    }

    /// A categorical feature with the given valid categories (empty: any).
    pub fn categorical(name: impl Into<String>, values: Vec<String>) -> Self {
        FeatureSpec {
            name: name.into(),
            kind: FeatureKind::Categorical { values },
        }
    }
}

/// A single input value.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue {
    /// A number. `NaN` is treated as missing by models that handle missing values.
    Number(f64),
    /// A category.
    Category(String),
    /// No value.
    Missing,
}

impl From<f64> for FeatureValue {
    fn from(v: f64) -> Self {
        FeatureValue::Number(v)
    }
}

impl From<f32> for FeatureValue {
    fn from(v: f32) -> Self {
        FeatureValue::Number(f64::from(v))
    }
}

impl From<i64> for FeatureValue {
    fn from(v: i64) -> Self {
        FeatureValue::Number(v as f64)
    }
}

impl From<i32> for FeatureValue {
    fn from(v: i32) -> Self {
        FeatureValue::Number(f64::from(v))
    }
}

impl From<&str> for FeatureValue {
    fn from(v: &str) -> Self {
        FeatureValue::Category(v.to_string())
    }
}

impl From<String> for FeatureValue {
    fn from(v: String) -> Self {
        FeatureValue::Category(v)
    }
}

impl<T: Into<FeatureValue>> From<Option<T>> for FeatureValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(FeatureValue::Missing, Into::into)
    }
}

/// Named input values, for [`Model::predict_named`]. Names the model does not use are ignored.
///
/// ```
/// use streams_ml::Features;
///
/// let features = Features::new().with("age", 42.0).with("colour", "red");
/// assert_eq!(features.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    values: BTreeMap<String, FeatureValue>,
}

impl Features {
    /// No features.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a feature, builder style.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<FeatureValue>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds (or replaces) a feature.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<FeatureValue>) {
        self.values.insert(name.into(), value.into());
    }

    /// The value of a feature, if present.
    pub fn get(&self, name: &str) -> Option<&FeatureValue> {
        self.values.get(name)
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no features.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Iterates over `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FeatureValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Orders the values as `inputs` lists them; absent names become [`FeatureValue::Missing`].
    pub fn to_values(&self, inputs: &[FeatureSpec]) -> Vec<FeatureValue> {
        inputs
            .iter()
            .map(|spec| self.values.get(&spec.name).cloned().unwrap_or(FeatureValue::Missing))
            .collect()
    }
}

impl<K: Into<String>, V: Into<FeatureValue>> FromIterator<(K, V)> for Features {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut features = Features::new();
        for (k, v) in iter {
            features.insert(k, v);
        }
        features
    }
}

/// A classification result: the predicted class and the probability of every class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPrediction {
    /// The predicted class.
    pub label: String,
    /// `(class, probability)` for each class the model knows, in the model's class order.
    /// Empty when the model gives no probabilities.
    pub probabilities: Vec<(String, f64)>,
}

/// What a model returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// A regression score.
    Score(f64),
    /// A class, with probabilities.
    Class(ClassPrediction),
    /// A vector of outputs (for example the last layer of a network).
    Vector(Vec<f64>),
}

impl Prediction {
    /// The score of a [`Prediction::Score`].
    pub fn score(&self) -> Option<f64> {
        match self {
            Prediction::Score(s) => Some(*s),
            _ => None,
        }
    }

    /// The label of a [`Prediction::Class`].
    pub fn label(&self) -> Option<&str> {
        match self {
            Prediction::Class(c) => Some(&c.label),
            _ => None,
        }
    }

    /// The probability of `class` in a [`Prediction::Class`].
    pub fn probability(&self, class: &str) -> Option<f64> {
        match self {
            Prediction::Class(c) => c.probabilities.iter().find(|(name, _)| name == class).map(|(_, p)| *p),
            _ => None,
        }
    }

    /// The values of a [`Prediction::Vector`].
    pub fn vector(&self) -> Option<&[f64]> {
        match self {
            Prediction::Vector(v) => Some(v),
            _ => None,
        }
    }

    /// Whether `other` is the same prediction up to `tolerance` on every number: the same
    /// kind, the same label and classes in the same order, and scores, probabilities and
    /// vector values each within `tolerance` (absolute).
    ///
    /// ```
    /// use streams_ml::Prediction;
    ///
    /// assert!(Prediction::Score(1.0).approx_eq(&Prediction::Score(1.000_001), 1e-5));
    /// assert!(!Prediction::Score(1.0).approx_eq(&Prediction::Vector(vec![1.0]), 1e-5));
    /// ```
    pub fn approx_eq(&self, other: &Prediction, tolerance: f64) -> bool {
        let near = |x: &f64, y: &f64| (x - y).abs() <= tolerance;
        match (self, other) {
            (Prediction::Score(x), Prediction::Score(y)) => near(x, y),
            (Prediction::Vector(x), Prediction::Vector(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| near(x, y))
            }
            (Prediction::Class(x), Prediction::Class(y)) => {
                x.label == y.label
                    && x.probabilities.len() == y.probabilities.len()
                    && x.probabilities
                        .iter()
                        .zip(&y.probabilities)
                        .all(|((c, p), (d, q))| c == d && near(p, q))
            }
            _ => false,
        }
    }
}

/// A loaded, immutable model: named, versioned, and able to score feature vectors.
///
/// Implementations are cheap to share between threads (`Arc<dyn Model>`).
///
/// ```
/// use streams_ml::{load_document, Features, Model, ModelFormat};
///
/// let doc = br#"{"model_type": "linear", "features": ["x", "y"],
///                "coefficients": [2.0, -1.0], "intercept": 0.5}"#;
/// let model = load_document(ModelFormat::JsonLinear, "price", 3, doc)?;
/// assert_eq!((model.name(), model.version()), ("price", 3));
/// assert_eq!(model.predict(&[1.0, 1.0])?.score(), Some(1.5));
/// let named = Features::new().with("x", 2.0).with("y", 0.0);
/// assert_eq!(model.predict_named(&named)?.score(), Some(4.5));
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
pub trait Model: Send + Sync + fmt::Debug {
    /// The model's name (the key it is published under).
    fn name(&self) -> &str;

    /// The model's version; a newer model of the same name has a higher version.
    fn version(&self) -> u64;

    /// The format the model was loaded from.
    fn format(&self) -> ModelFormat;

    /// The inputs, in the order [`Model::predict`] expects them.
    fn inputs(&self) -> &[FeatureSpec];

    /// Scores a numeric feature vector ordered as [`Model::inputs`].
    fn predict(&self, features: &[f64]) -> Result<Prediction, ModelError>;

    /// Scores a vector of possibly categorical or missing values ordered as [`Model::inputs`].
    ///
    /// The default implementation accepts numbers only and delegates to [`Model::predict`].
    fn predict_values(&self, values: &[FeatureValue]) -> Result<Prediction, ModelError> {
        let inputs = self.inputs();
        if values.len() != inputs.len() {
            return Err(ModelError::FeatureCount {
                expected: inputs.len(),
                actual: values.len(),
            });
        }
        let mut numbers = Vec::with_capacity(values.len());
        for (spec, value) in inputs.iter().zip(values) {
            match value {
                FeatureValue::Number(x) => numbers.push(*x),
                FeatureValue::Missing => return Err(ModelError::MissingFeature(spec.name.clone())),
                FeatureValue::Category(c) => {
                    return Err(ModelError::invalid_feature(
                        &spec.name,
                        format!("expected a number, got category `{c}`"),
                    ))
                }
            }
        }
        self.predict(&numbers)
    }

    /// Scores named features; names not among [`Model::inputs`] are ignored and absent ones are
    /// passed as [`FeatureValue::Missing`].
    fn predict_named(&self, features: &Features) -> Result<Prediction, ModelError> {
        self.predict_values(&features.to_values(self.inputs()))
    }

    /// Scores several numeric feature vectors, one result per row in order (a row that
    /// cannot be scored gets its own error). The default scores row by row; a model that
    /// evaluates faster in batches overrides it, as the ONNX model does with one run of the
    /// runtime over all the rows. The scoring operator calls it with micro-batching
    /// ([`Scoring::with_batching`](crate::Scoring::with_batching)).
    fn predict_batch(&self, rows: &[Vec<f64>]) -> Vec<Result<Prediction, ModelError>> {
        rows.iter().map(|row| self.predict(row)).collect()
    }
}

/// Checks a positional feature vector's length.
pub(crate) fn check_count(expected: usize, features: &[f64]) -> Result<(), ModelError> {
    if features.len() == expected {
        Ok(())
    } else {
        Err(ModelError::FeatureCount {
            expected,
            actual: features.len(),
        })
    }
}
