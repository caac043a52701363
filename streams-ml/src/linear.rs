//! JSON linear and logistic regression: the `json-linear` document format and its model.
//!
//! A document looks like this (`standardization`, `classes`, `format_version` and `metadata`
//! are optional):
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "model_type": "logistic",
//!   "features": ["fld1", "fld2"],
//!   "coefficients": [1.25, -0.5],
//!   "intercept": 0.1,
//!   "standardization": {"mean": [3.0, 0.0], "scale": [2.0, 1.0]},
//!   "classes": ["no", "yes"],
//!   "metadata": {"examples_seen": "10000"}
//! }
//! ```
//!
//! The linear predictor is `z = intercept + Σ coefficients[i] · (x[i] − mean[i]) / scale[i]`
//! (without standardisation, `mean = 0` and `scale = 1`). A `linear` model predicts
//! [`Prediction::Score`]`(z)`. A `logistic` model predicts a [`Prediction::Class`] with
//! `P(classes[1]) = 1 / (1 + e^−z)`, choosing `classes[1]` when `z > 0`; `classes`
//! defaults to `["0", "1"]`.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::{check_count, ClassPrediction, FeatureSpec, Model, ModelFormat, Prediction};
use crate::ModelError;

const FORMAT: &str = "json-linear";

/// The only `format_version` this crate reads and writes.
pub const LINEAR_FORMAT_VERSION: u32 = 1;

/// Whether a linear document is a regression or a binary logistic classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinearKind {
    /// Linear regression: the prediction is the linear predictor.
    Linear,
    /// Binary logistic regression.
    Logistic,
}

/// Per-feature standardisation applied before the coefficients: `(x − mean) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standardization {
    /// Per-feature means.
    pub mean: Vec<f64>,
    /// Per-feature scales (standard deviations); each must be positive.
    pub scale: Vec<f64>,
}

fn default_format_version() -> u32 {
    LINEAR_FORMAT_VERSION
}

/// The `json-linear` document. Build one directly, or parse one with
/// [`LinearDocument::from_slice`], which also validates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearDocument {
    /// Document format version; only [`LINEAR_FORMAT_VERSION`] is accepted.
    #[serde(default = "default_format_version")]
    pub format_version: u32,
    /// Linear or logistic.
    pub model_type: LinearKind,
    /// Feature names, one per coefficient.
    pub features: Vec<String>,
    /// One coefficient per feature.
    pub coefficients: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
    /// Optional standardisation of the inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardization: Option<Standardization>,
    /// The two class labels of a logistic model, negative first. Defaults to `["0", "1"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// Free-form annotations (ignored by the model).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl LinearDocument {
    /// Parses and validates a document.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ModelError> {
        let doc: LinearDocument =
            serde_json::from_slice(bytes).map_err(|e| ModelError::malformed(FORMAT, e.to_string()))?;
        doc.validate()?;
        Ok(doc)
    }

    /// Serialises the document as JSON.
    pub fn to_vec(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Checks the document's consistency: known version, one finite coefficient per distinct
    /// feature name, matching standardisation with positive scales, two distinct classes.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |reason: String| Err(ModelError::malformed(FORMAT, reason));
        if self.format_version != LINEAR_FORMAT_VERSION {
            return Err(ModelError::unsupported(
                FORMAT,
                format!("format_version {}", self.format_version),
            ));
        }
        let n = self.features.len();
        if n == 0 {
            return bad("no features".into());
        }
        let mut seen = HashSet::new();
        for name in &self.features {
            if !seen.insert(name.as_str()) {
                return bad(format!("duplicate feature name `{name}`"));
            }
        }
        if self.coefficients.len() != n {
            return bad(format!("{} coefficients for {n} features", self.coefficients.len()));
        }
        if let Some(i) = self.coefficients.iter().position(|c| !c.is_finite()) {
            return bad(format!("coefficient {i} is not finite"));
        }
        if !self.intercept.is_finite() {
            return bad("intercept is not finite".into());
        }
        if let Some(std) = &self.standardization {
            if std.mean.len() != n || std.scale.len() != n {
                return bad(format!(
                    "standardization has {} means and {} scales for {n} features",
                    std.mean.len(),
                    std.scale.len()
                ));
            }
            if let Some(i) = std.mean.iter().position(|m| !m.is_finite()) {
                return bad(format!("standardization mean {i} is not finite"));
            }
            if let Some(i) = std.scale.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
                return bad(format!("standardization scale {i} is not a positive number"));
            }
        }
        if let Some(classes) = &self.classes {
            if self.model_type != LinearKind::Logistic {
                return bad("classes given for a linear model".into());
            }
            if classes.len() != 2 || classes[0] == classes[1] {
                return bad("classes must be two distinct labels".into());
            }
        }
        Ok(())
    }

    /// The linear predictor for a feature vector of the right length.
    fn linear_predictor(&self, x: &[f64]) -> f64 {
        let mut z = 0.0;
        match &self.standardization {
            Some(std) => {
                let terms = self.coefficients.iter().zip(x).zip(&std.mean).zip(&std.scale);
                for (((c, x), mean), scale) in terms {
                    z += c * ((x - mean) / scale);
                }
            }
            None => {
                for (c, x) in self.coefficients.iter().zip(x) {
                    z += c * x;
                }
            }
        }
        z + self.intercept
    }
}

/// The logistic function, computed without overflow for large `|z|`.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// A linear or logistic regression model loaded from a [`LinearDocument`].
///
/// ```
/// use streams_ml::linear::LinearModel;
/// use streams_ml::Model;
///
/// let doc = br#"{"model_type": "logistic", "features": ["x"], "coefficients": [1.0],
///                "intercept": 0.0, "classes": ["ham", "spam"]}"#;
/// let model = LinearModel::from_slice("spam", 1, doc)?;
/// let p = model.predict(&[2.0])?;
/// assert_eq!(p.label(), Some("spam"));
/// assert!((p.probability("spam").unwrap() - 0.8807970779778823).abs() < 1e-15);
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LinearModel {
    name: String,
    version: u64,
    doc: LinearDocument,
    inputs: Vec<FeatureSpec>,
    classes: [String; 2],
}

impl LinearModel {
    /// Parses, validates and wraps a `json-linear` document.
    pub fn from_slice(name: impl Into<String>, version: u64, bytes: &[u8]) -> Result<Self, ModelError> {
        Self::from_document(name, version, LinearDocument::from_slice(bytes)?)
    }

    /// Validates and wraps a document.
    pub fn from_document(name: impl Into<String>, version: u64, doc: LinearDocument) -> Result<Self, ModelError> {
        doc.validate()?;
        let inputs = doc.features.iter().map(FeatureSpec::numeric).collect();
        let classes = match &doc.classes {
            Some(c) if c.len() == 2 => [c[0].clone(), c[1].clone()],
            _ => ["0".to_string(), "1".to_string()],
        };
        Ok(LinearModel {
            name: name.into(),
            version,
            doc,
            inputs,
            classes,
        })
    }

    /// The underlying document.
    pub fn document(&self) -> &LinearDocument {
        &self.doc
    }

    /// The linear predictor `z` for a feature vector (the log-odds of a logistic model).
    pub fn decision_function(&self, features: &[f64]) -> Result<f64, ModelError> {
        check_count(self.inputs.len(), features)?;
        if let Some(i) = features.iter().position(|x| !x.is_finite()) {
            return Err(ModelError::invalid_feature(
                &self.doc.features[i],
                "not a finite number",
            ));
        }
        Ok(self.doc.linear_predictor(features))
    }
}

impl Model for LinearModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn format(&self) -> ModelFormat {
        ModelFormat::JsonLinear
    }

    fn inputs(&self) -> &[FeatureSpec] {
        &self.inputs
    }

    fn predict(&self, features: &[f64]) -> Result<Prediction, ModelError> {
        let z = self.decision_function(features)?;
        Ok(match self.doc.model_type {
            LinearKind::Linear => Prediction::Score(z),
            LinearKind::Logistic => {
                let p = sigmoid(z);
                let [neg, pos] = &self.classes;
                Prediction::Class(ClassPrediction {
                    label: if z > 0.0 { pos.clone() } else { neg.clone() },
                    probabilities: vec![(neg.clone(), 1.0 - p), (pos.clone(), p)],
                })
            }
        })
    }
}
