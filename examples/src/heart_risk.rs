//! Heart risk: a model trained offline on patient records scores new patients, and the app
//! measures how its predictions did against the actual outcomes.
//!
//! The data ([`PATIENTS_CSV`], `examples/data/heart.csv`) is a table of patients (age, sex,
//! resting blood pressure) with a risk target. `examples/data/heart_risk.py` writes it and
//! trains a logistic regression on the training rows (`id % 4 != 0`) into
//! `examples/data/heart_model.json` ([`MODEL_JSON`]). The app:
//!
//! 1. serves the model from the model topic [`MODELS_TOPIC`], read as a global store
//!    ([`streams_ml::model_topic`]): a model published before the app starts is loaded
//!    before the first patient is scored;
//! 2. reads the test rows' actual outcomes as a table ([`OUTCOMES_TOPIC`]: patient id ->
//!    target), kept apart from the scoring;
//! 3. scores the test patients ([`PATIENTS_TOPIC`]: patient id -> [`Patient`], without the
//!    label) and writes each prediction to [`PREDICTIONS_TOPIC`];
//! 4. joins each prediction with the patient's outcome into a cell of the confusion matrix
//!    (`true-positive`, `false-positive`, `true-negative`, `false-negative`, or `unlabelled`)
//!    and counts them ([`CONFUSION_TOPIC`], store [`CONFUSION_STORE`]).
//!
//! ```
//! use examples::heart_risk;
//!
//! let run = heart_risk::run_demo()?;
//! assert_eq!(run.confusion.total(), 50); // the 50 test rows
//! assert!(run.confusion.accuracy() > 0.8);
//! # Ok::<(), streams_core::StreamsError>(())
//! ```

use std::num::NonZeroUsize;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use streams_core::dsl::{Consumed, Grouped, Joined, Materialized, Named, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use streams_ml::{
    model_topic, Features, ModelEnvelope, ModelFormat, ModelRegistry, NoModelPolicy, PredictExt, Scoring,
};
use testkit::{DriverConfig, TopologyTestDriver};

/// `application.id` of the demo run.
pub const APPLICATION_ID: &str = "heart-risk";
/// The model topic.
pub const MODELS_TOPIC: &str = "heart-models";
/// Test patients: id -> JSON [`Patient`] (no label).
pub const PATIENTS_TOPIC: &str = "patients";
/// Actual outcomes: id -> target (8-byte big-endian long: 1 = at risk).
pub const OUTCOMES_TOPIC: &str = "patient-outcomes";
/// Predictions: id -> the predicted class (`at-risk` / `low-risk`).
pub const PREDICTIONS_TOPIC: &str = "heart-predictions";
/// Confusion-matrix counts: cell -> count.
pub const CONFUSION_TOPIC: &str = "heart-confusion";
/// The store of the confusion-matrix counts.
pub const CONFUSION_STORE: &str = "heart-confusion-store";
/// The store of the outcomes table.
pub const OUTCOMES_STORE: &str = "patient-outcomes-store";
/// The model's name.
pub const MODEL: &str = "heart-risk";
/// The positive class of the model.
pub const AT_RISK: &str = "at-risk";
/// The patient table (`id,age,sex,trestbps,target`).
pub const PATIENTS_CSV: &str = include_str!("../data/heart.csv");
/// The model trained offline on the training rows (`json-linear`).
pub const MODEL_JSON: &str = include_str!("../data/heart_model.json");

/// A patient's measurements, as streamed for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    /// Age in years.
    pub age: f64,
    /// 1 = male, 0 = female.
    pub sex: f64,
    /// Resting blood pressure, mm Hg.
    pub trestbps: f64,
}

/// A row of the patient table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Patient id.
    pub id: u32,
    /// Measurements.
    pub patient: Patient,
    /// 1 = at risk.
    pub target: i64,
}

impl Row {
    /// Whether the row is a test row (the model was not trained on it).
    pub fn is_test(&self) -> bool {
        self.id.is_multiple_of(4)
    }
}

/// Parses [`PATIENTS_CSV`].
pub fn rows() -> Result<Vec<Row>, StreamsError> {
    let bad = |line: &str| StreamsError::Internal(format!("bad patient row `{line}`"));
    PATIENTS_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let [id, age, sex, trestbps, target] = f.as_slice() else {
                return Err(bad(line));
            };
            let num = |s: &str| s.trim().parse::<f64>().map_err(|_| bad(line));
            Ok(Row {
                id: id.trim().parse().map_err(|_| bad(line))?,
                patient: Patient {
                    age: num(age)?,
                    sex: num(sex)?,
                    trestbps: num(trestbps)?,
                },
                target: target.trim().parse().map_err(|_| bad(line))?,
            })
        })
        .collect()
}

/// The deployed model as a model-topic value (version 1).
pub fn model_record() -> Vec<u8> {
    ModelEnvelope::new(ModelFormat::JsonLinear, 1, MODEL_JSON.as_bytes().to_vec())
        .with_metadata("trained_by", "examples/data/heart_risk.py")
        .to_bytes()
}

/// The confusion-matrix cell of a prediction given the actual outcome.
pub fn cell(predicted: &str, actual: Option<i64>) -> &'static str {
    match (predicted == AT_RISK, actual) {
        (true, Some(1)) => "true-positive",
        (true, Some(_)) => "false-positive",
        (false, Some(1)) => "false-negative",
        (false, Some(_)) => "true-negative",
        (_, None) => "unlabelled",
    }
}

/// Builds the topology around `registry`.
pub fn topology_with(registry: &Arc<ModelRegistry>) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    model_topic(&builder, MODELS_TOPIC, registry);
    let outcomes = builder.table_with::<String, i64>(
        OUTCOMES_TOPIC,
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_(OUTCOMES_STORE),
    );
    let capacity = NonZeroUsize::new(10_000).ok_or_else(|| StreamsError::Internal("zero capacity".into()))?;
    let scoring = Scoring::new(registry, MODEL, |_: &String, p: &Patient| {
        Features::new()
            .with("age", p.age)
            .with("sex", p.sex)
            .with("trestbps", p.trestbps)
    })
    .with_no_model(NoModelPolicy::Hold { capacity });
    let predictions = builder
        .stream::<String, Patient>(PATIENTS_TOPIC, Consumed::with(Serdes::string(), Serdes::json()))
        .predict_named(Named::as_("score-patients"), scoring)
        .scored()
        .flat_map_values(|s| s.prediction.and_then(|p| p.label().map(str::to_owned)));
    predictions.to(PREDICTIONS_TOPIC, Produced::with(Serdes::string(), Serdes::string()));
    predictions
        .left_join_with(
            &outcomes,
            |predicted, actual| cell(predicted, actual.copied()).to_owned(),
            Joined::with(Serdes::string(), Serdes::string(), Serdes::i64()),
        )
        .group_by_with(
            |_, cell| cell.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count_with(Materialized::as_(CONFUSION_STORE))
        .to_stream()
        .to(CONFUSION_TOPIC, Produced::with(Serdes::string(), Serdes::i64()));
    builder.build()
}

/// Builds the topology with a fresh model registry.
pub fn topology() -> Result<Topology, StreamsError> {
    topology_with(&Arc::new(ModelRegistry::new()))
}

/// Confusion-matrix counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Predicted at risk, at risk.
    pub true_positive: i64,
    /// Predicted at risk, not at risk.
    pub false_positive: i64,
    /// Predicted low risk, low risk.
    pub true_negative: i64,
    /// Predicted low risk, at risk.
    pub false_negative: i64,
}

impl Confusion {
    /// From `(cell, count)` pairs.
    pub fn from_counts(counts: &[(String, i64)]) -> Self {
        let get = |name: &str| counts.iter().find(|(c, _)| c == name).map_or(0, |(_, n)| *n);
        Confusion {
            true_positive: get("true-positive"),
            false_positive: get("false-positive"),
            true_negative: get("true-negative"),
            false_negative: get("false-negative"),
        }
    }

    /// Number of labelled predictions.
    pub fn total(&self) -> i64 {
        self.true_positive + self.false_positive + self.true_negative + self.false_negative
    }

    /// The share of correct predictions (0 without predictions).
    pub fn accuracy(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            n => (self.true_positive + self.true_negative) as f64 / n as f64,
        }
    }
}

/// What the demo produced.
#[derive(Debug, Clone, PartialEq)]
pub struct HeartRun {
    /// Every prediction: patient id -> predicted class, in order.
    pub predictions: Vec<(String, String)>,
    /// The confusion-matrix counts from [`CONFUSION_STORE`].
    pub counts: Vec<(String, i64)>,
    /// The same as a matrix.
    pub confusion: Confusion,
}

/// The demo's input: the model, the test rows' outcomes, then the test patients.
pub fn demo_input() -> Result<Vec<crate::runner::InputRecord>, StreamsError> {
    let test: Vec<Row> = rows()?.into_iter().filter(Row::is_test).collect();
    let mut input = vec![(MODELS_TOPIC, Some(MODEL.as_bytes().to_vec()), Some(model_record()), 1)];
    for (i, row) in test.iter().enumerate() {
        let id = row.id.to_string().into_bytes();
        input.push((
            OUTCOMES_TOPIC,
            Some(id),
            Some(row.target.to_be_bytes().to_vec()),
            10 + i as i64,
        ));
    }
    for (i, row) in test.iter().enumerate() {
        let id = row.id.to_string().into_bytes();
        let patient = serde_json::to_vec(&row.patient).map_err(|e| StreamsError::Internal(e.to_string()))?;
        input.push((PATIENTS_TOPIC, Some(id), Some(patient), 1_000 + i as i64));
    }
    Ok(input)
}

/// Runs the demo in the testkit.
pub fn run_demo() -> Result<HeartRun, StreamsError> {
    let driver =
        TopologyTestDriver::with_config(topology()?, DriverConfig::default().with_application_id(APPLICATION_ID))?;
    for (topic, key, value, timestamp) in demo_input()? {
        let input = driver.create_input_topic::<Vec<u8>, Vec<u8>>(topic, Serdes::bytes(), Serdes::bytes());
        input.pipe_input_at(key.unwrap_or_default(), value.unwrap_or_default(), timestamp)?;
    }
    let predictions = driver.create_output_topic(PREDICTIONS_TOPIC, Serdes::string(), Serdes::string());
    let counts: Vec<(String, i64)> = driver.key_value_store(CONFUSION_STORE)?;
    Ok(HeartRun {
        predictions: predictions.read_key_values_to_list()?,
        confusion: Confusion::from_counts(&counts),
        counts,
    })
}

/// How the runner runs heart-risk on Kafka: the confusion-matrix counts are its output.
pub fn kafka_app() -> crate::runner::KafkaApp {
    crate::runner::KafkaApp {
        application_id: APPLICATION_ID,
        topology,
        input_topics: &[MODELS_TOPIC, OUTCOMES_TOPIC, PATIENTS_TOPIC],
        output_topic: CONFUSION_TOPIC,
        demo_input: || demo_input().unwrap_or_default(),
        expected_totals: || Ok(run_demo()?.counts),
        expected_updates: || Ok(run_demo()?.predictions.len()),
    }
}
