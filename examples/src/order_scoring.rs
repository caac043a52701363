//! Order scoring: orders are scored by a logistic model served from a model topic, while a
//! model learned on the stream from labelled orders replaces it live.
//!
//! The topology:
//!
//! 1. the model topic [`MODELS_TOPIC`] (model name -> [`ModelEnvelope`]), read as a global
//!    store, feeds the model registry ([`streams_ml::model_topic`]): every instance serves
//!    every model, restored at start before the first order; documents that fail to load go
//!    to [`MODEL_ERRORS_TOPIC`]. Version 1 of [`MODEL`] is the logistic model
//!    `P(review) = 1 / (1 + exp(-(10 * orderunits + 2)))` ([`initial_model`]);
//! 2. orders ([`ORDERS_TOPIC`]: order id -> `orderunits`) are scored by the model serving at
//!    that moment, holding orders while no model is loaded; each scored order goes to
//!    [`SCORES_TOPIC`] as JSON with the decision, probability, model name and version;
//! 3. the decisions are counted ([`DECISIONS_TOPIC`]: `approve` / `review` -> count);
//! 4. labelled orders ([`LABELLED_TOPIC`]: model name -> `[orderunits, label]`) train a
//!    logistic regression by SGD, kept in the store [`LEARNER_STORE`]; every
//!    [`PUBLISH_EVERY`] examples it publishes the next version (from 2 on) to the model topic,
//!    which swaps it in between two orders.
//!
//! ```
//! use examples::order_scoring;
//!
//! let run = order_scoring::run_demo()?;
//! // The first orders were scored by version 1, the last ones by the learned version 2.
//! assert_eq!(run.scores.first().map(|s| s.version), Some(1));
//! assert_eq!(run.scores.last().map(|s| s.version), Some(2));
//! # Ok::<(), streams_core::StreamsError>(())
//! ```

use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use streams_core::dsl::{Consumed, Grouped, Materialized, Named, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use streams_ml::linear::LinearKind;
use streams_ml::{
    model_topic, LabelledExample, LearnExt, ModelEnvelope, ModelFormat, ModelRegistry, NoModelPolicy, OnlineLearning,
    PredictExt, Scoring, SgdConfig,
};
use testkit::{DriverConfig, TopologyTestDriver};

/// `application.id` of the demo run.
pub const APPLICATION_ID: &str = "order-scoring";
/// Orders: order id -> `orderunits` (8-byte big-endian double).
pub const ORDERS_TOPIC: &str = "orders";
/// Labelled orders: model name -> JSON `[orderunits, label]` (label 1 = needs review).
pub const LABELLED_TOPIC: &str = "labelled-orders";
/// The model topic: model name -> model envelope.
pub const MODELS_TOPIC: &str = "order-models";
/// Scored orders: order id -> JSON [`OrderScore`].
pub const SCORES_TOPIC: &str = "order-scores";
/// Decision counts: `approve` / `review` -> number of orders.
pub const DECISIONS_TOPIC: &str = "order-decisions";
/// Documents the model topic failed to load, for inspection.
pub const MODEL_ERRORS_TOPIC: &str = "order-model-errors";
/// The store of the decision counts.
pub const DECISIONS_STORE: &str = "order-decisions-store";
/// The store of the learner's state.
pub const LEARNER_STORE: &str = "order-learners";
/// The model's name (the key on the model topic and of the labelled orders).
pub const MODEL: &str = "order-risk";
/// The learner publishes a version after this many examples.
pub const PUBLISH_EVERY: u64 = 100;
/// The class labels: negative (approve) first.
pub const CLASSES: [&str; 2] = ["approve", "review"];

/// A scored order, as written to [`SCORES_TOPIC`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderScore {
    /// The order's units.
    pub orderunits: f64,
    /// `approve` or `review`.
    pub decision: String,
    /// The probability of `review`.
    pub probability: f64,
    /// The model's name.
    pub model: String,
    /// The model's version.
    pub version: u64,
}

/// Version 1: the logistic model `1 / (1 + exp(-(10 x + 2)))`, as a model-topic value.
pub fn initial_model() -> Vec<u8> {
    let doc = format!(
        r#"{{"model_type": "logistic", "features": ["orderunits"], "coefficients": [10.0], "intercept": 2.0,
            "classes": ["{}", "{}"]}}"#,
        CLASSES[0], CLASSES[1]
    );
    ModelEnvelope::new(ModelFormat::JsonLinear, 1, doc.into_bytes())
        .with_metadata("source", "hand-written")
        .to_bytes()
}

/// The learner's settings: logistic regression with the same classes as version 1.
pub fn learner_config() -> SgdConfig {
    SgdConfig {
        classes: [CLASSES[0].to_owned(), CLASSES[1].to_owned()],
        ..SgdConfig::new(LinearKind::Logistic)
    }
}

/// Builds the topology around `registry` (one per application instance).
pub fn topology_with(registry: &Arc<ModelRegistry>) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    model_topic(&builder, MODELS_TOPIC, registry).load_failures_to(MODEL_ERRORS_TOPIC);

    let capacity = NonZeroUsize::new(10_000).ok_or_else(|| StreamsError::Internal("zero capacity".into()))?;
    let scoring = Scoring::new(registry, MODEL, |_: &String, units: &f64| vec![*units])
        .with_no_model(NoModelPolicy::Hold { capacity });
    let scores = builder
        .stream::<String, f64>(ORDERS_TOPIC, Consumed::with(Serdes::string(), Serdes::f64()))
        .predict_named(Named::as_("score-orders"), scoring)
        .scored()
        .flat_map_values(|s| {
            let (prediction, model) = (s.prediction?, s.model?);
            Some(OrderScore {
                orderunits: s.value,
                decision: prediction.label()?.to_owned(),
                probability: prediction.probability(CLASSES[1])?,
                model: model.name.to_string(),
                version: model.version,
            })
        });
    scores.to(SCORES_TOPIC, Produced::with(Serdes::string(), Serdes::json()));
    scores
        .group_by_with(
            |_, score| score.decision.clone(),
            Grouped::with(Serdes::string(), Serdes::json()),
        )
        .count_with(Materialized::as_(DECISIONS_STORE))
        .to_stream()
        .to(DECISIONS_TOPIC, Produced::with(Serdes::string(), Serdes::i64()));

    let every = NonZeroU64::new(PUBLISH_EVERY).ok_or_else(|| StreamsError::Internal("zero interval".into()))?;
    let learning = OnlineLearning::new(
        LEARNER_STORE,
        vec!["orderunits".into()],
        learner_config(),
        |&(units, label): &(f64, f64)| LabelledExample::new(vec![units], label),
    )
    .publish_every_records(every)
    .first_version(2);
    builder.add_state_store(learning.store_builder());
    builder
        .stream::<String, (f64, f64)>(LABELLED_TOPIC, Consumed::with(Serdes::string(), Serdes::json()))
        .learn_named(Named::as_("learn-order-risk"), learning)
        .to(MODELS_TOPIC, Produced::with(Serdes::string(), Serdes::bytes()));
    builder.build()
}

/// Builds the topology with a fresh model registry.
pub fn topology() -> Result<Topology, StreamsError> {
    topology_with(&Arc::new(ModelRegistry::new()))
}

/// The order units of the demo's orders (sent twice: before and after the retraining).
pub const DEMO_ORDERS: [f64; 4] = [-0.8, -0.6, 0.4, 1.0];

/// The labelled orders the learner sees: `orderunits` spread over `[-1, 1]`, labelled
/// `review` when version 1 says so (`10 x + 2 > 0`).
pub fn labelled_orders() -> Vec<(f64, f64)> {
    (0..PUBLISH_EVERY as usize)
        .map(|i| {
            let x = ((i * 37) % 101) as f64 / 50.0 - 1.0;
            (x, if 10.0 * x + 2.0 > 0.0 { 1.0 } else { 0.0 })
        })
        .collect()
}

/// One input record of the demo, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum DemoInput {
    /// A model document on [`MODELS_TOPIC`].
    Model(Vec<u8>),
    /// An order on [`ORDERS_TOPIC`].
    Order(String, f64),
    /// A labelled order on [`LABELLED_TOPIC`].
    Labelled(f64, f64),
}

/// The demo's input with timestamps: version 1, four orders, the labelled orders, then the
/// four orders again (ids `o5`..`o8`).
pub fn demo_input() -> Vec<(DemoInput, i64)> {
    let mut input = vec![(DemoInput::Model(initial_model()), 1)];
    let orders = |from: usize, ts: i64| {
        DEMO_ORDERS
            .iter()
            .enumerate()
            .map(move |(i, &u)| (DemoInput::Order(format!("o{}", from + i), u), ts + i as i64))
    };
    input.extend(orders(1, 10));
    input.extend(
        labelled_orders()
            .into_iter()
            .enumerate()
            .map(|(i, (x, y))| (DemoInput::Labelled(x, y), 100 + i as i64)),
    );
    input.extend(orders(5, 1_000));
    input
}

/// What the demo produced.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRun {
    /// Every scored order, in order.
    pub scores: Vec<OrderScore>,
    /// Model versions the learner published (as read from the model topic).
    pub published: Vec<u64>,
    /// The decision counts, from [`DECISIONS_STORE`].
    pub decisions: Vec<(String, i64)>,
}

/// Runs the demo in the testkit. The testkit does not route a user topic back into the
/// topology, so what the learner writes to the model topic is piped into it right away, as
/// the broker would deliver it.
pub fn run_demo() -> Result<OrderRun, StreamsError> {
    let driver =
        TopologyTestDriver::with_config(topology()?, DriverConfig::default().with_application_id(APPLICATION_ID))?;
    let models = driver.create_input_topic::<String, Vec<u8>>(MODELS_TOPIC, Serdes::string(), Serdes::bytes());
    let orders = driver.create_input_topic(ORDERS_TOPIC, Serdes::string(), Serdes::f64());
    let labelled = driver.create_input_topic(LABELLED_TOPIC, Serdes::string(), Serdes::json::<(f64, f64)>());
    let published = driver.create_output_topic::<String, Vec<u8>>(MODELS_TOPIC, Serdes::string(), Serdes::bytes());
    let scores = driver.create_output_topic::<String, OrderScore>(SCORES_TOPIC, Serdes::string(), Serdes::json());
    let mut versions = Vec::new();
    for (input, timestamp) in demo_input() {
        match input {
            DemoInput::Model(doc) => models.pipe_input_at(MODEL.to_owned(), doc, timestamp)?,
            DemoInput::Order(id, units) => orders.pipe_input_at(id, units, timestamp)?,
            DemoInput::Labelled(x, y) => labelled.pipe_input_at(MODEL.to_owned(), (x, y), timestamp)?,
        }
        for record in published.read_records_to_list()? {
            let envelope =
                ModelEnvelope::from_bytes(&record.value).map_err(|e| StreamsError::Internal(e.to_string()))?;
            versions.push(envelope.version);
            models.pipe_input_at(record.key, record.value, record.timestamp)?;
        }
    }
    Ok(OrderRun {
        scores: scores.read_values_to_list()?,
        published: versions,
        decisions: driver.key_value_store(DECISIONS_STORE)?,
    })
}

/// How the runner runs order-scoring on Kafka: the decision counts are its output.
pub fn kafka_app() -> crate::runner::KafkaApp {
    crate::runner::KafkaApp {
        application_id: APPLICATION_ID,
        topology,
        input_topics: &[MODELS_TOPIC, ORDERS_TOPIC, LABELLED_TOPIC],
        output_topic: DECISIONS_TOPIC,
        demo_input: || {
            demo_input()
                .into_iter()
                .map(|(input, ts)| match input {
                    DemoInput::Model(doc) => (MODELS_TOPIC, Some(MODEL.as_bytes().to_vec()), Some(doc), ts),
                    DemoInput::Order(id, units) => (
                        ORDERS_TOPIC,
                        Some(id.into_bytes()),
                        Some(units.to_be_bytes().to_vec()),
                        ts,
                    ),
                    DemoInput::Labelled(x, y) => (
                        LABELLED_TOPIC,
                        Some(MODEL.as_bytes().to_vec()),
                        Some(format!("[{x:?},{y:?}]").into_bytes()),
                        ts,
                    ),
                })
                .collect()
        },
        expected_totals: || Ok(run_demo()?.decisions),
        expected_updates: || Ok(run_demo()?.scores.len()),
    }
}
