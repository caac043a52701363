//! Machine-learning models for the streams framework.
//!
//! A [`Model`] is named, versioned and immutable: it takes a feature vector (positional, or
//! named through [`Features`]) and returns a [`Prediction`] — a score, a class with
//! probabilities, or a vector. Models are loaded from bytes, validated on load, and shared as
//! `Arc<dyn Model>`:
//!
//! * [`linear`]: JSON linear and logistic regression (`json-linear`), the format
//!   [`SgdLearner`] writes;
//! * [`pmml`]: PMML 4.x `RegressionModel`, `TreeModel` and `MiningModel` ensembles;
//! * [`onnx`]: ONNX graphs (dense networks, scikit-learn's linear and tree converters) run by
//!   a pure-Rust runtime.
//!
//! On a model topic each record carries a [`ModelEnvelope`] (format, version, document);
//! [`load_model`] turns a record into a model. Malformed documents give a [`ModelError`],
//! never a panic.
//!
//! ```
//! use streams_ml::{load_model, Features, ModelEnvelope, ModelFormat};
//!
//! let doc = br#"{"model_type": "logistic", "features": ["amount", "hour"],
//!                "coefficients": [0.002, -0.1], "intercept": -1.0,
//!                "classes": ["ok", "fraud"]}"#;
//! let record = ModelEnvelope::new(ModelFormat::JsonLinear, 1, doc.to_vec()).to_bytes();
//! let model = load_model("fraud", &record)?;
//!
//! let p = model.predict_named(&Features::new().with("amount", 2500.0).with("hour", 3.0))?;
//! assert_eq!(p.label(), Some("fraud"));
//! assert!(p.probability("fraud").unwrap() > 0.9);
//! # Ok::<(), streams_ml::ModelError>(())
//! ```

mod envelope;
mod error;
mod learn;
pub mod linear;
pub mod metrics;
mod model;
pub mod onnx;
pub mod pmml;
mod predict;
mod registry;
mod sgd;
mod topic;

pub use envelope::{load_document, load_model, ModelEnvelope};
pub use error::ModelError;
pub use learn::{LabelledExample, LearnExt, LearningMetrics, LearningMetricsSnapshot, OnlineLearning};
pub use metrics::{RegistryMetricsSnapshot, ScoringMetrics, ScoringMetricsSnapshot};
pub use model::{ClassPrediction, FeatureKind, FeatureSpec, FeatureValue, Features, Model, ModelFormat, Prediction};
pub use predict::{
    FeatureVector, ModelRef, NoModelPolicy, PredictExt, Predictions, Scored, Scoring, ScoringFailure, ScoringOutput,
    ShadowScore, MODEL_NAME_HEADER, MODEL_VERSION_HEADER,
};
pub use registry::{Installed, ModelRegistry};
pub use sgd::{LearningRate, SgdConfig, SgdLearner};
pub use topic::{model_store_name, model_topic, ModelTopicProcessor, LOAD_ERROR_HEADER};
