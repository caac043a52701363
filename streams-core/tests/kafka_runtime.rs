//! The Kafka runtime against librdkafka's in-process mock cluster.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
use streams_core::kafka::{KafkaStreams, State, StreamsConfig};
use streams_core::serde::{Serde, Serdes};
use streams_core::topology::Topology;
use testkit::kafka::EmbeddedKafka;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn word_count() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>("lines", Consumed::with(Serdes::unit(), Serdes::string()))
        .flat_map_values(|line| line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
        .group_by_with(|_, w| w.clone(), Grouped::with(Serdes::string(), Serdes::string()))
        .count_with(Materialized::as_("counts"))
        .to_stream()
        .to("word-counts", Produced::new());
    builder.build().expect("topology")
}

fn lines() -> Vec<String> {
    (0..200)
        .map(|i| format!("w{} w{} common w{}", i % 7, i % 13, (i * 31) % 17))
        .collect()
}

fn config(kafka: &EmbeddedKafka, app: &str, dir: &std::path::Path) -> StreamsConfig {
    StreamsConfig::from_pairs([
        ("application.id", app),
        ("bootstrap.servers", &kafka.bootstrap_servers()),
        ("commit.interval.ms", "100"),
        ("cache.max.bytes.buffering", "0"),
        ("state.dir", &dir.display().to_string()),
    ])
    .expect("config")
}

/// Every update per key, in order, as the testkit computes it.
fn expected_updates() -> BTreeMap<String, Vec<i64>> {
    let driver = TopologyTestDriver::with_config(
        word_count(),
        DriverConfig::default()
            .with_partitions("lines", 4)
            .with_cache_max_bytes(0),
    )
    .expect("driver");
    let mut input = driver.create_input_topic("lines", Serdes::unit(), Serdes::string());
    for (i, line) in lines().into_iter().enumerate() {
        input.pipe_record(TestRecord::new((), line, i as i64)).expect("pipe");
    }
    let output = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    let mut per_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (k, v) in output.read_key_values_to_list().expect("read") {
        per_key.entry(k).or_default().push(v);
    }
    per_key
}

#[test]
fn word_count_on_kafka_matches_the_testkit() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    kafka.create_topic("lines", 4).expect("topic");
    kafka.create_topic("word-counts", 4).expect("topic");
    let input: Vec<_> = lines()
        .into_iter()
        .enumerate()
        .map(|(i, l)| (None, Some(l.into_bytes()), i as i64))
        .collect();
    kafka.produce("lines", input).expect("produce");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut streams = KafkaStreams::new(word_count(), config(&kafka, "wc", dir.path())).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");
    let expected = expected_updates();
    let total: usize = expected.values().map(Vec::len).sum();
    let records = kafka
        .consume("word-counts", total, Duration::from_secs(60))
        .expect("consume");
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.state(), State::NotRunning);
    let mut actual: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in records {
        let key = Serde::<String>::deserialize(&Serdes::string(), &r.key.expect("key")).expect("key");
        let value = Serde::<i64>::deserialize(&Serdes::i64(), &r.value.expect("value")).expect("value");
        actual.entry(key).or_default().push(value);
    }
    assert_eq!(actual, expected);
    let _ = Instant::now();
}
