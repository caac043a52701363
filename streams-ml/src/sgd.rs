//! Online linear and logistic regression trained by stochastic gradient descent.
//!
//! [`SgdLearner`] is pure state: it learns from `(features, label)` examples one at a time,
//! snapshots itself as a `json-linear` [`LinearDocument`] for publishing, and serialises its
//! full state with [`SgdLearner::to_bytes`] / [`SgdLearner::from_bytes`] for storage.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::linear::{sigmoid, LinearDocument, LinearKind, LinearModel, Standardization};
use crate::model::{check_count, FeatureValue, Features};
use crate::ModelError;

const STATE_FORMAT: &str = "sgd-state";
const STATE_VERSION: u32 = 1;

/// How the step size changes as examples are seen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LearningRate {
    /// The same step size for every example.
    Constant {
        /// The step size.
        eta: f64,
    },
    /// `eta0 / (t + 1)^power_t` for the `t`-th example (counting from 0).
    InverseScaling {
        /// The initial step size.
        eta0: f64,
        /// The decay exponent.
        power_t: f64,
    },
}

impl LearningRate {
    fn at(&self, t: u64) -> f64 {
        match *self {
            LearningRate::Constant { eta } => eta,
            LearningRate::InverseScaling { eta0, power_t } => eta0 / ((t as f64) + 1.0).powf(power_t),
        }
    }

    fn is_valid(&self) -> bool {
        match *self {
            LearningRate::Constant { eta } => eta.is_finite() && eta > 0.0,
            LearningRate::InverseScaling { eta0, power_t } => {
                eta0.is_finite() && eta0 > 0.0 && power_t.is_finite() && power_t >= 0.0
            }
        }
    }
}

/// Settings of an [`SgdLearner`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Linear regression (squared loss) or logistic regression (log loss).
    pub kind: LinearKind,
    /// The step-size schedule.
    pub learning_rate: LearningRate,
    /// L2 penalty on the coefficients (not the intercept); 0 disables it.
    pub l2: f64,
    /// Standardise inputs with running means and standard deviations; the snapshot then
    /// carries the matching `standardization`.
    pub standardize: bool,
    /// Class labels of a logistic learner, negative (label 0) first.
    pub classes: [String; 2],
}

impl SgdConfig {
    /// Defaults for `kind`: inverse-scaling rate `0.1 / (t+1)^0.25`, `l2 = 1e-4`,
    /// standardised inputs, classes `"0"` and `"1"`.
    pub fn new(kind: LinearKind) -> Self {
        SgdConfig {
            kind,
            learning_rate: LearningRate::InverseScaling {
                eta0: 0.1,
                power_t: 0.25,
            },
            l2: 1e-4,
            standardize: true,
            classes: ["0".to_string(), "1".to_string()],
        }
    }

    fn validate(&self) -> Result<(), ModelError> {
        let bad = |reason: &str| Err(ModelError::malformed(STATE_FORMAT, reason));
        if !self.learning_rate.is_valid() {
            return bad("learning rate must be positive and finite");
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad("l2 must be a non-negative number");
        }
        if self.classes[0] == self.classes[1] {
            return bad("classes must be distinct");
        }
        Ok(())
    }
}

/// Running mean and variance of one feature (Welford's algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
struct RunningStat {
    mean: f64,
    m2: f64,
}

/// Trains linear or logistic regression online by SGD.
///
/// ```
/// use streams_ml::linear::LinearKind;
/// use streams_ml::{Model, SgdConfig, SgdLearner};
///
/// let mut learner = SgdLearner::new(vec!["x".into()], SgdConfig::new(LinearKind::Logistic))?;
/// for i in 0..2000 {
///     let x = (i % 20) as f64 - 9.5;
///     learner.learn(&[x], if x > 0.0 { 1.0 } else { 0.0 })?;
/// }
/// let model = learner.snapshot("clicks", 1)?;
/// assert_eq!(model.predict(&[5.0])?.label(), Some("1"));
/// assert_eq!(model.predict(&[-5.0])?.label(), Some("0"));
///
/// // Its whole state round-trips through bytes.
/// let restored = SgdLearner::from_bytes(&learner.to_bytes())?;
/// assert_eq!(restored, learner);
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SgdLearner {
    config: SgdConfig,
    features: Vec<String>,
    coefficients: Vec<f64>,
    intercept: f64,
    examples_seen: u64,
    stats: Vec<RunningStat>,
}

/// The serialised form of a learner.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SgdState {
    state_version: u32,
    config: SgdConfig,
    features: Vec<String>,
    coefficients: Vec<f64>,
    intercept: f64,
    examples_seen: u64,
    #[serde(default)]
    stats: Vec<RunningStat>,
}

impl SgdLearner {
    /// A fresh learner (all weights zero) for the named features.
    pub fn new(features: Vec<String>, config: SgdConfig) -> Result<Self, ModelError> {
        config.validate()?;
        if features.is_empty() {
            return Err(ModelError::malformed(STATE_FORMAT, "no features"));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = features.iter().find(|f| !seen.insert(f.as_str())) {
            return Err(ModelError::malformed(
                STATE_FORMAT,
                format!("duplicate feature name `{dup}`"),
            ));
        }
        let n = features.len();
        Ok(SgdLearner {
            config,
            features,
            coefficients: vec![0.0; n],
            intercept: 0.0,
            examples_seen: 0,
            stats: vec![RunningStat::default(); n],
        })
    }

    /// The learner's settings.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// The feature names, in the order [`SgdLearner::learn`] expects.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// The current coefficients (on the standardised scale when standardising).
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    /// The current intercept.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// How many examples have been learned.
    pub fn examples_seen(&self) -> u64 {
        self.examples_seen
    }

    fn scale(stat: &RunningStat, n: u64) -> f64 {
        if n < 2 {
            return 1.0;
        }
        let sd = (stat.m2 / n as f64).sqrt();
        if sd.is_finite() && sd > 0.0 {
            sd
        } else {
            1.0
        }
    }

    fn transformed(&self, features: &[f64], n: u64) -> Vec<f64> {
        if !self.config.standardize {
            return features.to_vec();
        }
        features
            .iter()
            .zip(&self.stats)
            .map(|(x, s)| (x - s.mean) / Self::scale(s, n))
            .collect()
    }

    fn output(&self, z: f64) -> f64 {
        match self.config.kind {
            LinearKind::Linear => z,
            LinearKind::Logistic => sigmoid(z),
        }
    }

    fn check_features(&self, features: &[f64]) -> Result<(), ModelError> {
        check_count(self.features.len(), features)?;
        if let Some(i) = features.iter().position(|x| !x.is_finite()) {
            return Err(ModelError::invalid_feature(&self.features[i], "not a finite number"));
        }
        Ok(())
    }

    /// The current model's output for a feature vector: the regression value, or the
    /// probability of the positive class.
    pub fn predict(&self, features: &[f64]) -> Result<f64, ModelError> {
        self.check_features(features)?;
        let x = self.transformed(features, self.examples_seen);
        let z = self.coefficients.iter().zip(&x).map(|(c, x)| c * x).sum::<f64>() + self.intercept;
        Ok(self.output(z))
    }

    /// Learns one example and returns its loss before the update (squared error / 2, or log
    /// loss). A logistic label must be 0 or 1. The learner is left unchanged when an error is
    /// returned, including when the update would make a weight non-finite.
    pub fn learn(&mut self, features: &[f64], label: f64) -> Result<f64, ModelError> {
        self.check_features(features)?;
        if !label.is_finite() {
            return Err(ModelError::InvalidLabel {
                label,
                reason: "not a finite number".into(),
            });
        }
        if self.config.kind == LinearKind::Logistic && label != 0.0 && label != 1.0 {
            return Err(ModelError::InvalidLabel {
                label,
                reason: "a logistic label must be 0 or 1".into(),
            });
        }
        let t = self.examples_seen;
        let mut stats = self.stats.clone();
        if self.config.standardize {
            let n = (t + 1) as f64;
            for (s, x) in stats.iter_mut().zip(features) {
                let delta = x - s.mean;
                s.mean += delta / n;
                s.m2 += delta * (x - s.mean);
            }
        }
        let x: Vec<f64> = if self.config.standardize {
            features
                .iter()
                .zip(&stats)
                .map(|(x, s)| (x - s.mean) / Self::scale(s, t + 1))
                .collect()
        } else {
            features.to_vec()
        };
        let z = self.coefficients.iter().zip(&x).map(|(c, x)| c * x).sum::<f64>() + self.intercept;
        let y = self.output(z);
        let loss = match self.config.kind {
            LinearKind::Linear => 0.5 * (y - label) * (y - label),
            LinearKind::Logistic => {
                let eps = 1e-15;
                let p = y.clamp(eps, 1.0 - eps);
                -(label * p.ln() + (1.0 - label) * (1.0 - p).ln())
            }
        };
        let gradient = y - label;
        let eta = self.config.learning_rate.at(t);
        let coefficients: Vec<f64> = self
            .coefficients
            .iter()
            .zip(&x)
            .map(|(w, x)| w - eta * (gradient * x + self.config.l2 * w))
            .collect();
        let intercept = self.intercept - eta * gradient;
        if !intercept.is_finite() || coefficients.iter().any(|w| !w.is_finite()) {
            return Err(ModelError::Evaluation(
                "update diverged (non-finite weights); lower the learning rate".into(),
            ));
        }
        self.coefficients = coefficients;
        self.intercept = intercept;
        self.stats = stats;
        self.examples_seen = t + 1;
        Ok(loss)
    }

    /// Learns one example given as named features (all of [`SgdLearner::features`] must be
    /// present and numeric).
    pub fn learn_named(&mut self, features: &Features, label: f64) -> Result<f64, ModelError> {
        let mut x = Vec::with_capacity(self.features.len());
        for name in &self.features {
            match features.get(name) {
                Some(FeatureValue::Number(v)) => x.push(*v),
                Some(FeatureValue::Category(c)) => {
                    return Err(ModelError::invalid_feature(
                        name,
                        format!("expected a number, got category `{c}`"),
                    ))
                }
                Some(FeatureValue::Missing) | None => return Err(ModelError::MissingFeature(name.clone())),
            }
        }
        self.learn(&x, label)
    }

    /// The current weights as a `json-linear` document; `metadata` records `examples_seen`.
    pub fn to_document(&self) -> LinearDocument {
        let n = self.examples_seen;
        let standardization = self.config.standardize.then(|| Standardization {
            mean: self.stats.iter().map(|s| s.mean).collect(),
            scale: self.stats.iter().map(|s| Self::scale(s, n)).collect(),
        });
        let classes = (self.config.kind == LinearKind::Logistic).then(|| self.config.classes.to_vec());
        let mut metadata = BTreeMap::new();
        metadata.insert("examples_seen".to_string(), n.to_string());
        LinearDocument {
            format_version: crate::linear::LINEAR_FORMAT_VERSION,
            model_type: self.config.kind,
            features: self.features.clone(),
            coefficients: self.coefficients.clone(),
            intercept: self.intercept,
            standardization,
            classes,
            metadata,
        }
    }

    /// The current weights as a model with the given name and version.
    pub fn snapshot(&self, name: impl Into<String>, version: u64) -> Result<LinearModel, ModelError> {
        LinearModel::from_document(name, version, self.to_document())
    }

    /// Serialises the learner's whole state (settings, weights, counters) as JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let state = SgdState {
            state_version: STATE_VERSION,
            config: self.config.clone(),
            features: self.features.clone(),
            coefficients: self.coefficients.clone(),
            intercept: self.intercept,
            examples_seen: self.examples_seen,
            stats: self.stats.clone(),
        };
        // Plain data with string keys always serialises.
        serde_json::to_vec(&state).unwrap_or_default()
    }

    /// Restores a learner written by [`SgdLearner::to_bytes`], validating it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let state: SgdState =
            serde_json::from_slice(bytes).map_err(|e| ModelError::malformed(STATE_FORMAT, e.to_string()))?;
        if state.state_version != STATE_VERSION {
            return Err(ModelError::unsupported(
                STATE_FORMAT,
                format!("state_version {}", state.state_version),
            ));
        }
        let mut learner = SgdLearner::new(state.features, state.config)?;
        let n = learner.features.len();
        let bad = |reason: &str| Err(ModelError::malformed(STATE_FORMAT, reason));
        if state.coefficients.len() != n {
            return bad("coefficient count does not match the features");
        }
        if state.stats.len() != n {
            return bad("statistics count does not match the features");
        }
        if !state.intercept.is_finite()
            || state.coefficients.iter().any(|c| !c.is_finite())
            || state
                .stats
                .iter()
                .any(|s| !(s.mean.is_finite() && s.m2.is_finite() && s.m2 >= 0.0))
        {
            return bad("non-finite weights or statistics");
        }
        learner.coefficients = state.coefficients;
        learner.intercept = state.intercept;
        learner.examples_seen = state.examples_seen;
        learner.stats = state.stats;
        Ok(learner)
    }
}
