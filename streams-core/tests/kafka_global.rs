//! Global stores on the Kafka runtime (librdkafka's in-process mock cluster): the global store
//! is restored before the stream threads process anything, follows its topic while running,
//! and, for a persistent store, checkpoints its offsets under `<state.dir>/<app>/global/`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use streams_core::dsl::{Consumed, Materialized, Produced, StreamsBuilder};
use streams_core::internals::partitioner::murmur2_partition;
use streams_core::kafka::embedded::EmbeddedKafka;
use streams_core::kafka::{KafkaStreams, StreamsConfig};
use streams_core::serde::{Serde, Serdes};
use streams_core::topology::Topology;

fn topology() -> Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.global_table_with::<String, String>(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_supplier(streams_state::Stores::persistent_key_value_store("regions")),
    );
    builder
        .stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()))
        .left_join_global(
            &regions,
            |_, customer| customer.clone(),
            |customer, region| format!("{customer}/{}", region.map_or("none", String::as_str)),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder.build().expect("topology")
}

fn config(kafka: &EmbeddedKafka, dir: &std::path::Path) -> StreamsConfig {
    StreamsConfig::from_pairs([
        ("application.id", "global-app"),
        ("bootstrap.servers", &kafka.bootstrap_servers()),
        ("commit.interval.ms", "100"),
        ("cache.max.bytes.buffering", "0"),
        ("state.dir", &dir.display().to_string()),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
    ])
    .expect("config")
}

fn kv(key: &str, value: &str, timestamp: i64) -> (Option<Vec<u8>>, Option<Vec<u8>>, i64) {
    (
        Some(key.as_bytes().to_vec()),
        Some(value.as_bytes().to_vec()),
        timestamp,
    )
}

/// The output so far, by order id.
fn output(kafka: &EmbeddedKafka, expected: usize) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = kafka.consume("out", expected, Duration::from_secs(5)).expect("consume");
        if records.len() >= expected || Instant::now() > deadline {
            return records
                .into_iter()
                .map(|r| {
                    let text = |bytes: Option<Vec<u8>>| {
                        Serde::<String>::deserialize(&Serdes::string(), &bytes.expect("bytes")).expect("utf-8")
                    };
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
fn a_global_table_is_restored_before_processing_followed_while_running_and_checkpointed() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    for topic in ["regions", "orders", "out"] {
        kafka.create_topic(topic, 2).expect("topic");
    }
    let regions = [("alice", "eu"), ("bob", "us"), ("carol", "apac"), ("alice", "us")];
    kafka
        .produce(
            "regions",
            regions.iter().enumerate().map(|(i, (k, v))| kv(k, v, i as i64 + 1)),
        )
        .expect("produce");
    kafka
        .produce(
            "orders",
            [kv("o1", "alice", 10), kv("o2", "bob", 11), kv("o3", "dave", 12)],
        )
        .expect("produce");
    let dir = tempfile::tempdir().expect("tempdir");

    let mut streams = KafkaStreams::new(topology(), config(&kafka, dir.path())).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");
    // Restored before the stream threads started: every order sees the whole table.
    assert_eq!(
        output(&kafka, 3),
        BTreeMap::from([
            (s("o1"), s("alice/us")),
            (s("o2"), s("bob/us")),
            (s("o3"), s("dave/none"))
        ])
    );
    // Followed while running.
    kafka.produce("regions", [kv("dave", "eu", 20)]).expect("produce");
    std::thread::sleep(Duration::from_secs(2));
    kafka.produce("orders", [kv("o4", "dave", 21)]).expect("produce");
    assert_eq!(output(&kafka, 4).get("o4"), Some(&s("dave/eu")));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.error(), None);

    // The persistent store's checkpoint: the offset after the last record of each partition.
    let mut per_partition = [0i64; 2];
    for key in ["alice", "bob", "carol", "alice", "dave"] {
        per_partition[murmur2_partition(key.as_bytes(), 2) as usize] += 1;
    }
    let checkpoint = std::fs::read_to_string(dir.path().join("global-app/global/.checkpoint")).expect("checkpoint");
    assert_eq!(
        checkpoint,
        format!("regions 0 {}\nregions 1 {}\n", per_partition[0], per_partition[1])
    );

    // A restart reopens the store and resumes from the checkpoint.
    let mut streams = KafkaStreams::new(topology(), config(&kafka, dir.path())).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("restart");
    kafka.produce("orders", [kv("o5", "carol", 30)]).expect("produce");
    assert_eq!(output(&kafka, 5).get("o5"), Some(&s("carol/apac")));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.error(), None);
}
