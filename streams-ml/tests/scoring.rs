//! The scoring operator in the testkit: exact output records, headers, hot swap from the
//! model topic (a global store), bad documents, no-model policies, batching, shadow scoring
//! and restarts.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use streams_core::dsl::{Consumed, Named, Produced, StreamsBuilder};
use streams_core::processor::Headers;
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_ml::metrics::ScoringMetrics;
use streams_ml::{
    model_store_name, model_topic, Features, Installed, ModelEnvelope, ModelFormat, ModelRegistry, NoModelPolicy,
    PredictExt, Prediction, RegistryMetricsSnapshot, Scored, Scoring, ScoringMetricsSnapshot, LOAD_ERROR_HEADER,
    MODEL_NAME_HEADER, MODEL_VERSION_HEADER,
};
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MODELS: &str = "models";
const ORDERS: &str = "orders";
const SCORED: &str = "scored";
const ERRORS: &str = "scoring-errors";
const SHADOW: &str = "shadow";
const MODEL_ERRORS: &str = "model-errors";

/// A `json-linear` regression `coefficient * x + intercept` as a model-topic value.
fn linear(version: u64, coefficient: f64, intercept: f64) -> Vec<u8> {
    let doc = format!(
        r#"{{"model_type": "linear", "features": ["x"], "coefficients": [{coefficient}], "intercept": {intercept}}}"#
    );
    ModelEnvelope::new(ModelFormat::JsonLinear, version, doc.into_bytes()).to_bytes()
}

/// How a scored record is written out: `score@name/vN`, or `unscored`.
fn describe(scored: &Scored<f64>) -> String {
    match (&scored.prediction, &scored.model) {
        (Some(Prediction::Score(s)), Some(m)) => format!("{s}@{}/v{}", m.name, m.version),
        (Some(other), Some(m)) => format!("{other:?}@{}/v{}", m.name, m.version),
        _ => "unscored".to_owned(),
    }
}

/// Orders (`id -> x`) scored by model `m` of `registry`, fed from the model topic; the main
/// output as text to `scored`, errors and shadow comparisons as text to their topics.
fn topology(
    registry: &Arc<ModelRegistry>,
    configure: impl FnOnce(Scoring<String, f64>) -> Scoring<String, f64>,
) -> (Topology, Arc<ScoringMetrics>) {
    let scoring = configure(Scoring::new(registry, "m", |_: &String, x: &f64| vec![*x]));
    topology_of(registry, scoring)
}

/// [`topology`] with the scoring given whole.
fn topology_of(registry: &Arc<ModelRegistry>, scoring: Scoring<String, f64>) -> (Topology, Arc<ScoringMetrics>) {
    let builder = StreamsBuilder::new();
    model_topic(&builder, MODELS, registry).load_failures_to(MODEL_ERRORS);
    let metrics = scoring.metrics();
    let predictions = builder
        .stream::<String, f64>(ORDERS, Consumed::with(Serdes::string(), Serdes::f64()))
        .predict_named(Named::as_("score-orders"), scoring);
    predictions
        .scored()
        .map_values(|s| describe(&s))
        .to(SCORED, Produced::with(Serdes::string(), Serdes::string()));
    predictions
        .errors()
        .map_values(|f| format!("{}/v{}: {}", f.model.name, f.model.version, f.error))
        .to(ERRORS, Produced::with(Serdes::string(), Serdes::string()));
    predictions
        .shadow()
        .map_values(|s| {
            let candidate = match &s.candidate_prediction {
                Ok(Prediction::Score(c)) => c.to_string(),
                Ok(other) => format!("{other:?}"),
                Err(e) => e.to_string(),
            };
            let primary = s
                .prediction
                .as_ref()
                .and_then(Prediction::score)
                .map_or("none".to_owned(), |p| p.to_string());
            format!("{primary} vs {candidate}@{}/v{}", s.candidate.name, s.candidate.version)
        })
        .to(SHADOW, Produced::with(Serdes::string(), Serdes::string()));
    (builder.build().unwrap(), metrics)
}

struct Harness {
    driver: TopologyTestDriver,
}

impl Harness {
    fn new(topology: Topology, config: DriverConfig) -> Self {
        Harness {
            driver: TopologyTestDriver::with_config(topology, config).unwrap(),
        }
    }

    fn model(&self, name: &str, document: Vec<u8>, timestamp: i64) -> TestResult {
        let input = self
            .driver
            .create_input_topic::<String, Vec<u8>>(MODELS, Serdes::string(), Serdes::bytes());
        input.pipe_input_at(name.to_owned(), document, timestamp)?;
        Ok(())
    }

    fn order(&self, id: &str, x: f64, timestamp: i64) -> TestResult {
        let input = self.driver.create_input_topic(ORDERS, Serdes::string(), Serdes::f64());
        input.pipe_input_at(id.to_owned(), x, timestamp)?;
        Ok(())
    }

    fn read(&self, topic: &str) -> Vec<(String, String)> {
        let output = self
            .driver
            .create_output_topic(topic, Serdes::string(), Serdes::string());
        output.read_key_values_to_list().unwrap()
    }

    fn records(&self, topic: &str) -> Vec<TestRecord<String, String>> {
        let output = self
            .driver
            .create_output_topic(topic, Serdes::string(), Serdes::string());
        output.read_records_to_list().unwrap()
    }
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn model_headers(name: &str, version: &str) -> Headers {
    [(MODEL_NAME_HEADER, name), (MODEL_VERSION_HEADER, version)]
        .into_iter()
        .collect()
}

#[test]
fn scored_records_carry_prediction_model_and_headers() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    assert_eq!(
        registry.load("m", &linear(1, 2.0, 1.0))?,
        Installed::Serving { replaced: None }
    );
    let (topology, metrics) = topology(&registry, |s| s);
    let h = Harness::new(topology, DriverConfig::default());
    h.order("o1", 3.0, 10)?;
    h.order("o2", -0.5, 20)?;
    assert_eq!(
        h.records(SCORED),
        vec![
            TestRecord::new("o1".to_owned(), "7@m/v1".to_owned(), 10).with_headers(model_headers("m", "1")),
            TestRecord::new("o2".to_owned(), "0@m/v1".to_owned(), 20).with_headers(model_headers("m", "1")),
        ]
    );
    let m = metrics.snapshot();
    // The first single-record call is timed, then one in `LATENCY_SAMPLE_INTERVAL`.
    assert_eq!((m.predictions, m.errors, m.latency.count), (2, 0, 1));
    Ok(())
}

#[test]
fn a_new_version_swaps_in_between_two_records() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let (topology, metrics) = topology(&registry, |s| s);
    let h = Harness::new(topology, DriverConfig::default());
    h.model("m", linear(1, 2.0, 1.0), 1)?;
    h.order("a", 1.0, 10)?;
    h.order("b", 2.0, 11)?;
    h.model("m", linear(2, 10.0, 0.0), 12)?;
    h.order("c", 1.0, 13)?;
    h.order("d", 2.0, 14)?;
    assert_eq!(
        h.read(SCORED),
        kv(&[("a", "3@m/v1"), ("b", "5@m/v1"), ("c", "10@m/v2"), ("d", "20@m/v2")])
    );
    assert_eq!(registry.versions(), [("m".to_owned(), 2)].into_iter().collect());
    assert_eq!(metrics.snapshot().predictions, 4);
    Ok(())
}

#[test]
fn a_bad_document_is_reported_and_the_last_good_model_keeps_serving() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let (topology, _) = topology(&registry, |s| s);
    let h = Harness::new(topology, DriverConfig::default());
    h.model("m", linear(1, 2.0, 1.0), 1)?;
    h.order("a", 1.0, 10)?;
    let broken = ModelEnvelope::new(ModelFormat::JsonLinear, 2, b"{\"model_type\": \"linear\"".to_vec()).to_bytes();
    h.model("m", broken.clone(), 11)?;
    h.model("m", linear(1, 99.0, 0.0), 12)?; // the same version again: ignored
    h.order("b", 1.0, 13)?;
    assert_eq!(h.read(SCORED), kv(&[("a", "3@m/v1"), ("b", "3@m/v1")]));
    assert_eq!(
        registry.metrics(),
        RegistryMetricsSnapshot {
            loaded: 1,
            load_errors: 1,
            ignored: 1,
            removed: 0
        }
    );
    let failures = h.driver.produced_records(MODEL_ERRORS);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].key.as_deref(), Some(&b"m"[..]));
    assert_eq!(failures[0].value.as_deref(), Some(&broken[..]));
    let reason = std::str::from_utf8(failures[0].headers.last_value(LOAD_ERROR_HEADER).unwrap())?;
    assert!(
        reason.starts_with("malformed envelope document: ") || reason.starts_with("malformed json-linear document: "),
        "{reason}"
    );
    assert_eq!(registry.versions(), [("m".to_owned(), 1)].into_iter().collect());
    Ok(())
}

#[test]
fn a_tombstone_removes_the_model() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let (topology, metrics) = topology(&registry, |s| s.with_no_model(NoModelPolicy::Drop));
    let h = Harness::new(topology, DriverConfig::default());
    h.model("m", linear(1, 2.0, 1.0), 1)?;
    h.order("a", 1.0, 10)?;
    let input = h.driver.create_input_topic::<String, Option<Vec<u8>>>(
        MODELS,
        Serdes::string(),
        Serdes::nullable(Serdes::bytes()),
    );
    input.pipe_input_at("m".to_owned(), None, 11)?;
    h.order("b", 1.0, 12)?;
    assert_eq!(h.read(SCORED), kv(&[("a", "3@m/v1")]));
    assert_eq!(metrics.snapshot().no_model_dropped, 1);
    assert_eq!(registry.metrics().removed, 1);
    assert!(registry.versions().is_empty());
    Ok(())
}

#[test]
fn wrong_features_go_to_the_errors_output_and_are_counted() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    registry.load("m", &linear(1, 2.0, 1.0))?;
    let (topology, metrics) = topology(&registry, |s| s);
    let h = Harness::new(topology, DriverConfig::default());
    h.order("a", 1.0, 10)?;
    h.order("bad", f64::NAN, 11)?;
    h.order("c", 2.0, 12)?;
    assert_eq!(h.read(SCORED), kv(&[("a", "3@m/v1"), ("c", "5@m/v1")]));
    assert_eq!(
        h.read(ERRORS),
        kv(&[("bad", "m/v1: invalid value for feature `x`: not a finite number")])
    );
    let m = metrics.snapshot();
    assert_eq!((m.predictions, m.errors), (2, 1));
    Ok(())
}

#[test]
fn no_model_drop_counts_the_dropped_records() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let (topology, metrics) = topology(&registry, |s| s.with_no_model(NoModelPolicy::Drop));
    let h = Harness::new(topology, DriverConfig::default());
    h.order("a", 1.0, 10)?;
    h.order("b", 2.0, 11)?;
    h.model("m", linear(1, 2.0, 1.0), 12)?;
    h.order("c", 3.0, 13)?;
    assert_eq!(h.read(SCORED), kv(&[("c", "7@m/v1")]));
    assert_eq!(
        metrics.snapshot(),
        ScoringMetricsSnapshot {
            predictions: 1,
            no_model_dropped: 2,
            latency: metrics.snapshot().latency,
            ..Default::default()
        }
    );
    assert_eq!(h.driver.total_metrics().dropped_records, 2);
    Ok(())
}

#[test]
fn no_model_pass_through_emits_unscored_records_without_model_headers() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let (topology, metrics) = topology(&registry, |s| s.with_no_model(NoModelPolicy::PassThrough));
    let h = Harness::new(topology, DriverConfig::default());
    h.order("a", 1.0, 10)?;
    h.model("m", linear(1, 2.0, 1.0), 11)?;
    h.order("b", 2.0, 12)?;
    assert_eq!(
        h.records(SCORED),
        vec![
            TestRecord::new("a".to_owned(), "unscored".to_owned(), 10),
            TestRecord::new("b".to_owned(), "5@m/v1".to_owned(), 12).with_headers(model_headers("m", "1")),
        ]
    );
    let m = metrics.snapshot();
    assert_eq!((m.predictions, m.no_model_passed), (1, 1));
    Ok(())
}

#[test]
fn no_model_hold_scores_held_records_in_order_when_a_model_arrives() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let capacity = NonZeroUsize::new(3).unwrap();
    let (topology, metrics) = topology(&registry, |s| {
        s.with_no_model(NoModelPolicy::Hold { capacity })
            .with_hold_poll_interval(Duration::from_millis(50))
    });
    let h = Harness::new(topology, DriverConfig::default().with_manual_commit());
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        h.order(id, i as f64, 10 + i as i64)?;
    }
    // The buffer holds three: the oldest is released unscored.
    assert_eq!(h.read(SCORED), kv(&[("a", "unscored")]));
    h.model("m", linear(1, 2.0, 1.0), 20)?;
    // Nothing arrives on the orders: the hold poll finds the model.
    h.driver.advance_wall_clock_time(Duration::from_millis(50))?;
    assert_eq!(h.read(SCORED), kv(&[("b", "3@m/v1"), ("c", "5@m/v1"), ("d", "7@m/v1")]));
    h.order("e", 4.0, 30)?;
    assert_eq!(h.read(SCORED), kv(&[("e", "9@m/v1")]));
    let m = metrics.snapshot();
    assert_eq!((m.predictions, m.no_model_held, m.held_released_unscored), (4, 4, 1));
    Ok(())
}

#[test]
fn no_model_hold_releases_held_records_unscored_at_commit() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let capacity = NonZeroUsize::new(10).unwrap();
    let (topology, metrics) = topology(&registry, |s| s.with_no_model(NoModelPolicy::Hold { capacity }));
    let h = Harness::new(topology, DriverConfig::default().with_manual_commit());
    h.order("a", 1.0, 10)?;
    h.order("b", 2.0, 11)?;
    assert_eq!(h.read(SCORED), kv(&[]));
    h.driver.commit()?;
    assert_eq!(h.read(SCORED), kv(&[("a", "unscored"), ("b", "unscored")]));
    let m = metrics.snapshot();
    assert_eq!((m.no_model_held, m.held_released_unscored, m.predictions), (2, 2, 0));
    Ok(())
}

#[test]
fn batching_scores_full_batches_and_keeps_input_order() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    registry.load("m", &linear(1, 1.0, 100.0))?;
    let size = NonZeroUsize::new(3).unwrap();
    let (topology, metrics) = topology(&registry, |s| s.with_batching(size, Duration::from_millis(20)));
    let h = Harness::new(topology, DriverConfig::default().with_manual_commit());
    for i in 0..7 {
        h.order(&format!("o{i}"), f64::from(i), 10 + i64::from(i))?;
        // A bad record inside a batch goes to the errors output without disturbing the order.
        if i == 4 {
            h.order("bad", f64::INFINITY, 15)?;
        }
    }
    // Two full batches of three were scored; two records wait.
    assert_eq!(
        h.read(SCORED),
        kv(&[
            ("o0", "100@m/v1"),
            ("o1", "101@m/v1"),
            ("o2", "102@m/v1"),
            ("o3", "103@m/v1"),
            ("o4", "104@m/v1")
        ])
    );
    assert_eq!(
        h.read(ERRORS),
        kv(&[("bad", "m/v1: invalid value for feature `x`: not a finite number")])
    );
    // The latency budget passes: the partial batch is scored.
    h.driver.advance_wall_clock_time(Duration::from_millis(20))?;
    assert_eq!(h.read(SCORED), kv(&[("o5", "105@m/v1"), ("o6", "106@m/v1")]));
    h.order("o7", 7.0, 20)?;
    // A commit scores what waits.
    h.driver.commit()?;
    assert_eq!(h.read(SCORED), kv(&[("o7", "107@m/v1")]));
    let m = metrics.snapshot();
    assert_eq!((m.predictions, m.errors, m.batches, m.latency.count), (8, 1, 3, 4));
    Ok(())
}

#[test]
fn shadow_scoring_compares_a_candidate_without_changing_the_main_output() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let (topology, metrics) = topology(&registry, |s| s.with_shadow("m-candidate"));
    let h = Harness::new(topology, DriverConfig::default());
    h.model("m", linear(1, 2.0, 1.0), 1)?;
    h.order("a", 1.0, 10)?;
    h.model("m-candidate", linear(5, 3.0, 0.0), 11)?;
    h.order("b", 2.0, 12)?;
    assert_eq!(h.read(SCORED), kv(&[("a", "3@m/v1"), ("b", "5@m/v1")]));
    assert_eq!(
        h.records(SHADOW),
        vec![TestRecord::new("b".to_owned(), "5 vs 6@m-candidate/v5".to_owned(), 12)
            .with_headers(model_headers("m-candidate", "5"))]
    );
    let m = metrics.snapshot();
    assert_eq!((m.predictions, m.shadow_predictions, m.shadow_no_model), (2, 1, 1));
    Ok(())
}

/// A model-topic record as the topic holds it: key, value, timestamp.
fn raw(name: &str, document: Vec<u8>, timestamp: i64) -> (Option<Vec<u8>>, Option<Vec<u8>>, i64) {
    (Some(name.as_bytes().to_vec()), Some(document), timestamp)
}

#[test]
fn a_restart_restores_the_last_good_model_before_the_first_record() -> TestResult {
    let history = vec![
        raw("m", linear(1, 2.0, 1.0), 1),
        raw("m", linear(2, 3.0, 0.0), 2),
        raw("m", b"garbage".to_vec(), 3),
        raw("other", linear(7, 1.0, 1.0), 4),
    ];
    let registry = Arc::new(ModelRegistry::new());
    let (first, _) = topology(&registry, |s| s);
    let h = Harness::new(first, DriverConfig::default());
    for (key, value, timestamp) in history.clone() {
        let name = String::from_utf8(key.unwrap())?;
        h.model(&name, value.unwrap(), timestamp)?;
    }
    // The global store holds the document serving under each name; nothing is changelogged
    // (the topic is the store's changelog).
    let stored: Vec<(String, Vec<u8>)> = h.driver.key_value_store(&model_store_name(MODELS))?;
    assert_eq!(
        stored,
        vec![
            ("m".to_owned(), linear(2, 3.0, 0.0)),
            ("other".to_owned(), linear(7, 1.0, 1.0))
        ]
    );
    assert!(h.driver.produced_topics().iter().all(|t| !t.ends_with("-changelog")));
    drop(h);

    // A new instance: empty registry; the model topic already holds the history, so the
    // global store is restored from it, through the model loader, before any task starts.
    let restarted = Arc::new(ModelRegistry::new());
    let (second, metrics) = topology(&restarted, |s| s.with_no_model(NoModelPolicy::Drop));
    let h = Harness::new(
        second,
        DriverConfig::default().with_global_topic_records(MODELS, history),
    );
    assert_eq!(
        restarted.versions(),
        [("m".to_owned(), 2), ("other".to_owned(), 7)].into_iter().collect()
    );
    assert_eq!(restarted.metrics().load_errors, 1);
    h.order("a", 2.0, 10)?;
    assert_eq!(h.read(SCORED), kv(&[("a", "6@m/v2")]));
    assert_eq!(metrics.snapshot().no_model_dropped, 0);
    // Restoring reports nothing to the error topic: it was reported when first read.
    assert!(h.driver.produced_records(MODEL_ERRORS).is_empty());
    // A new version after the restart swaps in as before.
    h.model("m", linear(3, 0.0, 5.0), 11)?;
    h.order("b", 2.0, 12)?;
    assert_eq!(h.read(SCORED), kv(&[("b", "5@m/v3")]));
    Ok(())
}

#[test]
fn every_task_sees_every_model_whatever_the_partitions() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let (topology, _) = topology(&registry, |s| s.with_no_model(NoModelPolicy::Drop));
    let config = DriverConfig::default()
        .with_partitions(MODELS, 3)
        .with_partitions(ORDERS, 4);
    let h = Harness::new(topology, config);
    h.model("m", linear(1, 1.0, 0.0), 1)?;
    let ids = ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"];
    for (i, id) in ids.iter().enumerate() {
        h.order(id, i as f64, 10 + i as i64)?;
    }
    h.model("m", linear(2, 1.0, 100.0), 20)?;
    for (i, id) in ids.iter().enumerate() {
        h.order(id, i as f64, 30 + i as i64)?;
    }
    let scored = h.read(SCORED);
    let before: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| ((*id).to_owned(), format!("{i}@m/v1")))
        .collect();
    let after: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| ((*id).to_owned(), format!("{}@m/v2", i + 100)))
        .collect();
    assert_eq!(scored, [before, after].concat());
    // The orders were scored by several tasks (one per partition of the orders).
    let busy = h.driver.metrics().values().filter(|m| m.records_processed > 0).count();
    assert!(busy > 1, "{:?}", h.driver.metrics());
    Ok(())
}

#[test]
fn the_model_topic_is_a_global_store_and_the_checker_is_optional() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let builder = StreamsBuilder::new();
    let models = model_topic(&builder, MODELS, &registry);
    assert_eq!((models.topic(), models.store_name()), (MODELS, "models-models"));
    builder
        .stream::<String, f64>(ORDERS, Consumed::with(Serdes::string(), Serdes::f64()))
        .predict(Scoring::new(&registry, "m", |_: &String, x: &f64| vec![*x]))
        .scored()
        .map_values(|s| describe(&s))
        .to(SCORED, Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build()?;
    assert_eq!(topology.global_source_topics(), [MODELS]);
    assert_eq!(topology.source_topics(), [ORDERS]);
    let description = topology.describe().to_string();
    assert!(
        description.contains(
            "Sub-topology: 1 for global store (will not generate tasks)\n    \
             Source: models-model-source (topics: [models])\n      --> models-model-source-table-source\n    \
             Processor: models-model-source-table-source (stores: [models-models])\n"
        ),
        "{description}"
    );

    // With the checker, the topic is also read by a stream sub-topology.
    let (with_checker, _) = self::topology(&registry, |s| s);
    assert_eq!(with_checker.global_source_topics(), [MODELS]);
    assert!(with_checker.source_topics().contains(&MODELS.to_owned()));
    // Asking for the failures twice reads the topic twice: refused.
    let builder = StreamsBuilder::new();
    let models = model_topic(&builder, MODELS, &registry);
    models.load_failures_to(MODEL_ERRORS);
    models.load_failures_to("more-errors");
    let error = builder.build().err().ok_or("two checkers were accepted")?.to_string();
    assert!(error.contains("topic `models` is read by two sources"), "{error}");
    Ok(())
}

#[test]
fn named_features_are_matched_to_the_model_inputs() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let doc = br#"{"model_type": "linear", "features": ["b", "a"], "coefficients": [10.0, 1.0], "intercept": 0}"#;
    registry.load(
        "sum",
        &ModelEnvelope::new(ModelFormat::JsonLinear, 1, doc.to_vec()).to_bytes(),
    )?;
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, (f64, f64)>("pairs", Consumed::with(Serdes::string(), Serdes::json()))
        .predict(Scoring::new(&registry, "sum", |_: &String, (a, b): &(f64, f64)| {
            Features::new().with("a", *a).with("b", *b).with("unused", 5.0)
        }))
        .scored()
        .map_values(|s| s.prediction.and_then(|p| p.score()).unwrap_or(f64::NAN))
        .to("sums", Produced::with(Serdes::string(), Serdes::f64()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic("pairs", Serdes::string(), Serdes::json::<(f64, f64)>());
    let output = driver.create_output_topic::<String, f64>("sums", Serdes::string(), Serdes::f64());
    input.pipe_input_at("k".to_owned(), (1.0, 2.0), 1)?;
    assert_eq!(output.read_values_to_list()?, vec![21.0]);
    Ok(())
}

/// A model that records how it is called: `predict` calls and the sizes of batches.
#[derive(Debug)]
struct CallRecorder {
    inner: Arc<dyn streams_ml::Model>,
    calls: Arc<std::sync::Mutex<Vec<usize>>>,
}

impl streams_ml::Model for CallRecorder {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn version(&self) -> u64 {
        self.inner.version()
    }
    fn format(&self) -> ModelFormat {
        self.inner.format()
    }
    fn inputs(&self) -> &[streams_ml::FeatureSpec] {
        self.inner.inputs()
    }
    fn predict(&self, features: &[f64]) -> Result<Prediction, streams_ml::ModelError> {
        self.calls.lock().unwrap().push(1);
        self.inner.predict(features)
    }
    fn predict_batch(&self, rows: &[Vec<f64>]) -> Vec<Result<Prediction, streams_ml::ModelError>> {
        self.calls.lock().unwrap().push(rows.len());
        rows.iter().map(|row| self.inner.predict(row)).collect()
    }
}

#[test]
fn batching_calls_the_model_once_per_batch() -> TestResult {
    let registry = Arc::new(ModelRegistry::new());
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    registry.install(Arc::new(CallRecorder {
        inner: streams_ml::load_model("m", &linear(1, 1.0, 0.0))?,
        calls: Arc::clone(&calls),
    }));
    let size = NonZeroUsize::new(4).unwrap();
    let (topology, metrics) = topology(&registry, |s| s.with_batching(size, Duration::from_secs(1)));
    let h = Harness::new(topology, DriverConfig::default().with_manual_commit());
    for i in 0..10 {
        h.order(&format!("o{i}"), f64::from(i), i64::from(i))?;
    }
    h.driver.commit()?;
    let expected: Vec<(String, String)> = (0..10).map(|i| (format!("o{i}"), format!("{i}@m/v1"))).collect();
    assert_eq!(h.read(SCORED), expected);
    // Two full batches, then the two records left scored at the commit.
    assert_eq!(*calls.lock().unwrap(), vec![4, 4, 2]);
    assert_eq!(metrics.snapshot().batches, 3);
    Ok(())
}

#[test]
fn an_onnx_network_scores_batches_through_the_operator_as_it_scores_rows() -> TestResult {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/onnx/mlp_regressor.onnx"))?;
    let document = ModelEnvelope::new(ModelFormat::Onnx, 1, bytes).to_bytes();
    let rows: Vec<Vec<f64>> = (0..9)
        .map(|i| {
            let x = f64::from(i);
            vec![x / 3.0 - 1.0, 0.5 - x / 7.0, (x * 0.9).sin(), x / 2.0]
        })
        .collect();
    let run = |batch: Option<usize>| -> Result<Vec<f64>, Box<dyn std::error::Error>> {
        let registry = Arc::new(ModelRegistry::new());
        let builder = StreamsBuilder::new();
        model_topic(&builder, MODELS, &registry);
        let mut scoring = Scoring::new(&registry, "mlp", |_: &String, row: &Vec<f64>| row.clone());
        if let Some(n) = batch {
            scoring = scoring.with_batching(NonZeroUsize::new(n).ok_or("zero")?, Duration::from_secs(1));
        }
        builder
            .stream::<String, Vec<f64>>("rows", Consumed::with(Serdes::string(), Serdes::json()))
            .predict(scoring)
            .scored()
            .map_values(|s| s.prediction.and_then(|p| p.score()).unwrap_or(f64::NAN))
            .to("scores", Produced::with(Serdes::string(), Serdes::f64()));
        let driver = TopologyTestDriver::with_config(builder.build()?, DriverConfig::default().with_manual_commit())?;
        driver
            .create_input_topic::<String, Vec<u8>>(MODELS, Serdes::string(), Serdes::bytes())
            .pipe_input_at("mlp".to_owned(), document.clone(), 0)?;
        let input = driver.create_input_topic("rows", Serdes::string(), Serdes::json::<Vec<f64>>());
        for (i, row) in rows.iter().enumerate() {
            input.pipe_input_at(format!("r{i}"), row.clone(), i as i64)?;
        }
        driver.commit()?;
        let output = driver.create_output_topic::<String, f64>("scores", Serdes::string(), Serdes::f64());
        Ok(output.read_values_to_list()?)
    };
    let single = run(None)?;
    let batched = run(Some(4))?;
    assert_eq!(single.len(), rows.len());
    assert_eq!(batched.len(), rows.len());
    for (b, s) in batched.iter().zip(&single) {
        assert!((b - s).abs() <= 1e-5, "{batched:?} vs {single:?}");
    }
    Ok(())
}

/// Features written into the operator's vector ([`Scoring::new_numeric`]) score as the same
/// features returned: one record at a time, in batches, and held until a model arrives.
#[test]
fn written_numeric_features_score_as_returned_ones() -> TestResult {
    let batch = NonZeroUsize::new(2).unwrap();
    let hold = NoModelPolicy::Hold {
        capacity: NonZeroUsize::new(10).unwrap(),
    };
    for (batched, held) in [(false, false), (true, false), (false, true)] {
        let mut outputs = Vec::new();
        for written in [false, true] {
            let registry = Arc::new(ModelRegistry::new());
            let mut scoring = match written {
                false => Scoring::new(&registry, "m", |_: &String, x: &f64| vec![*x]),
                true => Scoring::new_numeric(&registry, "m", |_: &String, x: &f64, out: &mut Vec<f64>| out.push(*x)),
            };
            if batched {
                scoring = scoring.with_batching(batch, Duration::from_millis(20));
            }
            if held {
                scoring = scoring.with_no_model(hold);
            } else {
                registry.load("m", &linear(1, 2.0, 1.0))?;
            }
            let (topology, _) = topology_of(&registry, scoring);
            let h = Harness::new(topology, DriverConfig::default().with_manual_commit());
            for i in 0..5 {
                h.order(&format!("o{i}"), f64::from(i), 10 + i64::from(i))?;
            }
            if held {
                h.model("m", linear(2, 3.0, 0.5), 20)?;
            }
            h.order("o5", 5.0, 30)?;
            h.driver.commit()?;
            outputs.push((h.read(SCORED), h.read(ERRORS)));
        }
        assert_eq!(
            outputs[0].0.len(),
            6,
            "batched {batched}, held {held}: {:?}",
            outputs[0]
        );
        assert_eq!(outputs[0], outputs[1], "batched {batched}, held {held}");
    }
    Ok(())
}
