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
//! On streams:
//!
//! * [`model_topic`] reads a model topic (key = model name) into a shared [`ModelRegistry`]
//!   as a global store: every instance holds every model, restored at start before the first
//!   record is scored; a new version swaps in between two records; a document that fails to
//!   load is logged and counted, the last good model keeps serving, and
//!   [`ModelTopic::load_failures_to`] sends it to an error topic;
//! * [`PredictExt::predict`] scores each record of a `KStream` with the model serving
//!   ([`Scoring`]: features function, policy while no model is loaded, micro-batching through
//!   [`Model::predict_batch`], which ONNX models run as one batch, shadow scoring, metrics);
//! * [`LearnExt::learn`] trains linear or logistic regression by SGD on labelled records and
//!   publishes new versions to the model topic.
//!
//! ```
//! use std::sync::Arc;
//! use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
//! use streams_core::serde::Serdes;
//! use streams_ml::{model_topic, ModelEnvelope, ModelFormat, ModelRegistry, PredictExt, Scoring};
//! use testkit::TopologyTestDriver;
//!
//! let builder = StreamsBuilder::new();
//! let registry = Arc::new(ModelRegistry::new());
//! model_topic(&builder, "models", &registry).load_failures_to("model-errors");
//! builder
//!     .stream::<String, f64>("amounts", Consumed::with(Serdes::string(), Serdes::f64()))
//!     .predict(Scoring::new(&registry, "double", |_: &String, x: &f64| vec![*x]))
//!     .scored()
//!     .map_values(|s| s.prediction.and_then(|p| p.score()).unwrap_or(f64::NAN))
//!     .to("scores", Produced::with(Serdes::string(), Serdes::f64()));
//!
//! let driver = TopologyTestDriver::new(builder.build()?)?;
//! let models = driver.create_input_topic("models", Serdes::string(), Serdes::bytes());
//! let amounts = driver.create_input_topic("amounts", Serdes::string(), Serdes::f64());
//! let scores = driver.create_output_topic::<String, f64>("scores", Serdes::string(), Serdes::f64());
//! let doc = |c: f64| format!(r#"{{"model_type": "linear", "features": ["x"], "coefficients": [{c}], "intercept": 0}}"#);
//! let version = |v, c| ModelEnvelope::new(ModelFormat::JsonLinear, v, doc(c).into_bytes()).to_bytes();
//!
//! models.pipe_input_at("double".to_owned(), version(1, 2.0), 0)?;
//! amounts.pipe_input_at("a".to_owned(), 21.0, 1)?;
//! models.pipe_input_at("double".to_owned(), b"broken".to_vec(), 2)?; // v1 keeps serving
//! amounts.pipe_input_at("b".to_owned(), 5.0, 3)?;
//! models.pipe_input_at("double".to_owned(), version(2, 3.0), 4)?; // swaps in
//! amounts.pipe_input_at("c".to_owned(), 5.0, 5)?;
//! assert_eq!(scores.read_values_to_list()?, vec![42.0, 10.0, 15.0]);
//! assert_eq!(driver.produced_records("model-errors").len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
    ShadowScore, LATENCY_SAMPLE_INTERVAL, MODEL_NAME_HEADER, MODEL_VERSION_HEADER,
};
pub use registry::{Installed, ModelRegistry};
pub use sgd::{LearningRate, SgdConfig, SgdLearner};
pub use topic::{model_store_name, model_topic, ModelTopic, ModelTopicProcessor, LOAD_ERROR_HEADER};
