//! Scoring on the Kafka runtime (librdkafka's in-process mock cluster): the model topic is a
//! global store, so a model published before the application starts scores its first record,
//! a version published while it runs swaps in, a broken document is reported once on the
//! error topic while the last good model keeps serving, and a restart with an empty registry
//! serves the last good model as soon as it has started.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
use streams_core::kafka::embedded::EmbeddedKafka;
use streams_core::kafka::{KafkaStreams, StreamsConfig};
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_ml::{model_topic, ModelEnvelope, ModelFormat, ModelRegistry, NoModelPolicy, PredictExt, Scoring};

const MODELS: &str = "models";
const ORDERS: &str = "orders";
const SCORED: &str = "scored";
const MODEL_ERRORS: &str = "model-errors";

/// A `json-linear` regression `coefficient * x + intercept` as a model-topic value.
fn linear(version: u64, coefficient: f64, intercept: f64) -> Vec<u8> {
    let doc = format!(
        r#"{{"model_type": "linear", "features": ["x"], "coefficients": [{coefficient}], "intercept": {intercept}}}"#
    );
    ModelEnvelope::new(ModelFormat::JsonLinear, version, doc.into_bytes()).to_bytes()
}

/// Orders (`id -> x`) scored by model `m`, written as `score@m/vN`; records that arrive while
/// no model is loaded are dropped, so every output shows the model that scored it.
fn topology(registry: &Arc<ModelRegistry>) -> Topology {
    let builder = StreamsBuilder::new();
    model_topic(&builder, MODELS, registry).load_failures_to(MODEL_ERRORS);
    builder
        .stream::<String, f64>(ORDERS, Consumed::with(Serdes::string(), Serdes::f64()))
        .predict(Scoring::new(registry, "m", |_: &String, x: &f64| vec![*x]).with_no_model(NoModelPolicy::Drop))
        .scored()
        .map_values(|s| match (s.prediction.and_then(|p| p.score()), s.model) {
            (Some(score), Some(m)) => format!("{score}@{}/v{}", m.name, m.version),
            _ => "unscored".to_owned(),
        })
        .to(SCORED, Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

fn config(kafka: &EmbeddedKafka, dir: &std::path::Path) -> StreamsConfig {
    StreamsConfig::from_pairs([
        ("application.id", "ml-scoring"),
        ("bootstrap.servers", &kafka.bootstrap_servers()),
        ("commit.interval.ms", "100"),
        ("cache.max.bytes.buffering", "0"),
        ("state.dir", &dir.display().to_string()),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
    ])
    .unwrap()
}

fn record(key: &str, value: Vec<u8>, timestamp: i64) -> (Option<Vec<u8>>, Option<Vec<u8>>, i64) {
    (Some(key.as_bytes().to_vec()), Some(value), timestamp)
}

fn order(id: &str, x: f64, timestamp: i64) -> (Option<Vec<u8>>, Option<Vec<u8>>, i64) {
    record(id, x.to_be_bytes().to_vec(), timestamp)
}

/// Every record of `topic` as (key, value) text, once at least `expected` arrived (30 s at
/// most).
fn read(kafka: &EmbeddedKafka, topic: &str, expected: usize) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = kafka.consume(topic, expected, Duration::from_secs(5)).unwrap();
        if records.len() >= expected || Instant::now() > deadline {
            return records
                .into_iter()
                .map(|r| {
                    let text = |b: Option<Vec<u8>>| String::from_utf8_lossy(&b.unwrap_or_default()).into_owned();
                    (text(r.key), text(r.value))
                })
                .collect();
        }
    }
}

fn s(text: &str) -> String {
    text.to_owned()
}

#[test]
fn a_model_published_before_start_scores_the_first_record_and_survives_a_restart() {
    let kafka = EmbeddedKafka::start(1).unwrap();
    for (topic, partitions) in [(MODELS, 2), (ORDERS, 2), (SCORED, 2), (MODEL_ERRORS, 1)] {
        kafka.create_topic(topic, partitions).unwrap();
    }
    let broken = ModelEnvelope::new(ModelFormat::JsonLinear, 2, b"{\"model_type\":".to_vec()).to_bytes();
    // Before the application starts: version 1, then a broken version 2.
    kafka
        .produce(
            MODELS,
            [record("m", linear(1, 2.0, 1.0), 1), record("m", broken.clone(), 2)],
        )
        .unwrap();
    kafka
        .produce(
            ORDERS,
            [order("o1", 1.0, 10), order("o2", 2.0, 11), order("o3", 3.0, 12)],
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let registry = Arc::new(ModelRegistry::new());
    let mut streams = KafkaStreams::new(topology(&registry), config(&kafka, dir.path())).unwrap();
    streams.start_with(&kafka.topic_creator()).unwrap();
    // The global store was restored before the stream threads started: version 1 serves (the
    // broken version 2 failed to load) and scores every order, the first one included.
    assert_eq!(registry.versions(), BTreeMap::from([(s("m"), 1)]));
    assert_eq!(registry.metrics().load_errors, 1);
    assert_eq!(
        read(&kafka, SCORED, 3),
        BTreeMap::from([(s("o1"), s("3@m/v1")), (s("o2"), s("5@m/v1")), (s("o3"), s("7@m/v1"))])
    );
    // The broken document is reported once, by the stream task owning its partition.
    let errors = kafka.consume(MODEL_ERRORS, 2, Duration::from_secs(10)).unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].key.as_deref(), errors[0].value.as_deref()),
        (Some(&b"m"[..]), Some(&broken[..]))
    );

    // A version published while running swaps in.
    kafka.produce(MODELS, [record("m", linear(3, 10.0, 0.0), 20)]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while registry.versions().get("m") != Some(&3) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    kafka.produce(ORDERS, [order("o4", 4.0, 21)]).unwrap();
    assert_eq!(read(&kafka, SCORED, 4).get("o4"), Some(&s("40@m/v3")));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.error(), None);

    // A restart with an empty registry: the last good model serves once start returns.
    let restarted = Arc::new(ModelRegistry::new());
    let mut streams = KafkaStreams::new(topology(&restarted), config(&kafka, dir.path())).unwrap();
    streams.start_with(&kafka.topic_creator()).unwrap();
    assert_eq!(restarted.versions(), BTreeMap::from([(s("m"), 3)]));
    kafka.produce(ORDERS, [order("o5", 5.0, 30)]).unwrap();
    assert_eq!(read(&kafka, SCORED, 5).get("o5"), Some(&s("50@m/v3")));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.error(), None);
    // The checker had committed its offsets: the broken document was not reported again.
    assert_eq!(kafka.consume(MODEL_ERRORS, 2, Duration::from_secs(3)).unwrap().len(), 1);
}
