//! The error type shared by every loader, model and the learner.

/// Why a model could not be loaded, or could not make a prediction.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The document could not be parsed or fails validation (bad syntax, missing or
    /// inconsistent parts).
    #[error("malformed {format} document: {reason}")]
    Malformed {
        /// The document format (`json-linear`, `pmml`, `onnx`, `envelope`, `sgd-state`).
        format: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The document is well formed but uses a feature this crate does not implement.
    #[error("unsupported {format} document: {reason}")]
    Unsupported {
        /// The document format.
        format: &'static str,
        /// The construct that is not supported.
        reason: String,
    },
    /// A model envelope names a format this crate does not know.
    #[error("unknown model format `{0}`")]
    UnknownFormat(String),
    /// A positional feature vector has the wrong length.
    #[error("model expects {expected} features, got {actual}")]
    FeatureCount {
        /// Number of features the model takes.
        expected: usize,
        /// Number of features supplied.
        actual: usize,
    },
    /// A required feature was not supplied (or was supplied as missing).
    #[error("missing feature `{0}`")]
    MissingFeature(String),
    /// A feature value has the wrong type or is outside its valid domain.
    #[error("invalid value for feature `{feature}`: {reason}")]
    InvalidFeature {
        /// The feature's name.
        feature: String,
        /// Why the value was rejected.
        reason: String,
    },
    /// A training label is not acceptable for the learner.
    #[error("invalid label {label}: {reason}")]
    InvalidLabel {
        /// The label as given.
        label: f64,
        /// Why it was rejected.
        reason: String,
    },
    /// The model evaluated the input but defines no prediction for it (for example a decision
    /// tree whose missing-value strategy is `nullPrediction`).
    #[error("no prediction: {0}")]
    NoPrediction(String),
    /// The model's runtime failed while evaluating a valid input.
    #[error("model evaluation failed: {0}")]
    Evaluation(String),
}

impl ModelError {
    pub(crate) fn malformed(format: &'static str, reason: impl Into<String>) -> Self {
        ModelError::Malformed {
            format,
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(format: &'static str, reason: impl Into<String>) -> Self {
        ModelError::Unsupported {
            format,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_feature(feature: impl Into<String>, reason: impl Into<String>) -> Self {
        ModelError::InvalidFeature {
            feature: feature.into(),
            reason: reason.into(),
        }
    }
}
