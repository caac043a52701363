//! The Kafka runtime against librdkafka's in-process mock cluster.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
use streams_core::kafka::embedded::EmbeddedKafka;
use streams_core::kafka::{KafkaStreams, State, StreamsConfig};
use streams_core::serde::{Serde, Serdes};
use streams_core::topology::Topology;
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
        // The mock cluster waits (session timeout - 1 s) before completing a rebalance after a
        // member leaves: keep that short.
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
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
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn decode_counts(records: Vec<streams_core::kafka::embedded::ConsumedRecord>) -> BTreeMap<String, i64> {
    records
        .into_iter()
        .map(|r| {
            (
                Serde::<String>::deserialize(&Serdes::string(), &r.key.expect("key")).expect("key"),
                Serde::<i64>::deserialize(&Serdes::i64(), &r.value.expect("value")).expect("value"),
            )
        })
        .collect()
}

fn final_counts(lines: &[String]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for line in lines {
        for word in line.split_whitespace() {
            *counts.entry(word.to_lowercase()).or_insert(0) += 1;
        }
    }
    counts
}

fn produce_lines(kafka: &EmbeddedKafka, lines: &[String], first_ts: i64) {
    let records: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (None, Some(l.clone().into_bytes()), first_ts + i as i64))
        .collect();
    kafka.produce("lines", records).expect("produce");
}

#[test]
fn state_is_rebuilt_from_the_changelog_when_the_state_directory_is_lost() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    kafka.create_topic("lines", 4).expect("topic");
    kafka.create_topic("word-counts", 4).expect("topic");
    let all = lines();
    let (first, second) = all.split_at(120);
    produce_lines(&kafka, first, 0);
    let first_updates = first.iter().map(|l| l.split_whitespace().count()).sum::<usize>();
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut streams = KafkaStreams::new(word_count(), config(&kafka, "restore", dir.path())).expect("streams");
        streams.start_with(&kafka.topic_creator()).expect("start");
        kafka
            .consume("word-counts", first_updates, Duration::from_secs(60))
            .expect("consume");
        assert!(streams.close(Duration::from_secs(30)));
        // The state directory goes away with `dir` here.
    }
    produce_lines(&kafka, second, 1_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut streams = KafkaStreams::new(word_count(), config(&kafka, "restore", dir.path())).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");
    let total = all.iter().map(|l| l.split_whitespace().count()).sum::<usize>();
    let records = kafka
        .consume("word-counts", total, Duration::from_secs(60))
        .expect("consume");
    // Every change the first instance logged (one per word, with the cache off) is read back.
    wait_for("the restore count", Duration::from_secs(10), || {
        restored(&streams, "counts") == Some(first_updates as u64)
    });
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(
        records.len(),
        total,
        "one output per word occurrence, none lost or repeated"
    );
    assert_eq!(decode_counts(records), final_counts(&all));
}

/// Changelog records restored into `store`, over all tasks (as of their last commits).
fn restored(streams: &KafkaStreams, store: &str) -> Option<u64> {
    streams.metrics().stores.get(store).map(|m| m.records_restored)
}

#[test]
fn a_clean_restart_keeps_rocksdb_stores_and_restores_nothing_past_their_checkpoints() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    kafka.create_topic("lines", 4).expect("topic");
    kafka.create_topic("word-counts", 4).expect("topic");
    let all = lines();
    let (first, second) = all.split_at(120);
    produce_lines(&kafka, first, 0);
    let first_updates = first.iter().map(|l| l.split_whitespace().count()).sum::<usize>();
    let dir = tempfile::tempdir().expect("tempdir");
    {
        // `default.dsl.store` is RocksDB unless configured.
        let mut streams = KafkaStreams::new(word_count(), config(&kafka, "checkpoint", dir.path())).expect("streams");
        streams.start_with(&kafka.topic_creator()).expect("start");
        kafka
            .consume("word-counts", first_updates, Duration::from_secs(60))
            .expect("consume");
        assert!(streams.close(Duration::from_secs(30)));
    }
    // The counting tasks (sub-topology 1) hold the store on disk and checkpointed its
    // changelog partition at the end of what they wrote.
    for partition in 0..4 {
        let task = dir.path().join("checkpoint").join(format!("1_{partition}"));
        assert!(task.join("rocksdb").join("counts").is_dir(), "{}", task.display());
        let checkpoint = std::fs::read_to_string(task.join(".checkpoint")).expect("checkpoint");
        assert!(
            checkpoint.starts_with(&format!("checkpoint-counts-changelog {partition} ")),
            "{checkpoint}"
        );
    }
    produce_lines(&kafka, second, 1_000);
    let mut streams = KafkaStreams::new(word_count(), config(&kafka, "checkpoint", dir.path())).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");
    let total = all.iter().map(|l| l.split_whitespace().count()).sum::<usize>();
    let records = kafka
        .consume("word-counts", total, Duration::from_secs(60))
        .expect("consume");
    wait_for("the counting tasks to commit", Duration::from_secs(10), || {
        streams.metrics().stores.get("counts").is_some_and(|m| m.flushes > 0)
    });
    assert_eq!(restored(&streams, "counts"), Some(0));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(records.len(), total, "one output per word occurrence");
    // The counts continue from the kept stores: nothing was rebuilt, nothing lost.
    assert_eq!(decode_counts(records), final_counts(&all));
}

fn numbers() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("numbers", Consumed::with(Serdes::string(), Serdes::i64()))
        .map_values(|n| n * 10)
        .to("tens", Produced::with(Serdes::string(), Serdes::i64()));
    builder.build().expect("topology")
}

fn poison_input(kafka: &EmbeddedKafka) {
    kafka.create_topic("numbers", 1).expect("topic");
    kafka.create_topic("tens", 1).expect("topic");
    let good = |n: i64| Some(n.to_be_bytes().to_vec());
    kafka
        .produce(
            "numbers",
            vec![
                (Some(b"a".to_vec()), good(1), 1),
                (Some(b"b".to_vec()), Some(b"bad".to_vec()), 2),
                (Some(b"c".to_vec()), good(3), 3),
            ],
        )
        .expect("produce");
}

#[test]
fn a_poison_pill_stops_the_application_with_the_default_handler() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    poison_input(&kafka);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut streams = KafkaStreams::new(numbers(), config(&kafka, "poison-fail", dir.path())).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");
    wait_for("the error state", Duration::from_secs(60), || {
        streams.state() == State::Error
    });
    assert_eq!(
        streams.error().as_deref(),
        Some("failed to deserialize the value of the record at numbers-0@1: expected 8 bytes for i64, got 3")
    );
    streams.close(Duration::from_secs(10));
    assert_eq!(streams.state(), State::Error);
}

#[test]
fn a_poison_pill_is_skipped_and_counted_with_log_and_continue() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    poison_input(&kafka);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(&kafka, "poison-continue", dir.path());
    config
        .set(
            "default.deserialization.exception.handler",
            "LogAndContinueExceptionHandler",
        )
        .expect("handler");
    let mut streams = KafkaStreams::new(numbers(), config).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");
    let records = kafka.consume("tens", 2, Duration::from_secs(60)).expect("consume");
    let values: Vec<(Vec<u8>, i64)> = records
        .into_iter()
        .map(|r| {
            let v = Serde::<i64>::deserialize(&Serdes::i64(), &r.value.expect("value")).expect("value");
            (r.key.expect("key"), v)
        })
        .collect();
    assert_eq!(values, vec![(b"a".to_vec(), 10), (b"c".to_vec(), 30)]);
    wait_for("the skip to be counted", Duration::from_secs(30), || {
        streams.metrics().deserialization_errors_skipped == 1
    });
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.state(), State::NotRunning);
}

#[test]
fn joined_inputs_with_different_partition_counts_fail_at_start() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    kafka.create_topic("clicks", 4).expect("topic");
    kafka.create_topic("regions", 2).expect("topic");
    kafka.create_topic("out", 4).expect("topic");
    let builder = StreamsBuilder::new();
    let regions = builder.table::<String, String>("regions", Consumed::with(Serdes::string(), Serdes::string()));
    builder
        .stream::<String, i64>("clicks", Consumed::with(Serdes::string(), Serdes::i64()))
        .join(&regions, |clicks, region| format!("{region}:{clicks}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut streams =
        KafkaStreams::new(builder.build().expect("topology"), config(&kafka, "copart", dir.path())).expect("streams");
    let err = streams.start_with(&kafka.topic_creator()).expect_err("must fail");
    assert_eq!(
        err.to_string(),
        "invalid topology: topics joined together must be co-partitioned (same partition count), but `clicks` \
         has 4 and `regions` has 2; repartition one side (KStream::repartition with \
         Repartitioned::with_number_of_partitions)"
    );
    assert_eq!(streams.state(), State::Created);
}

#[test]
fn two_instances_split_the_partitions_and_one_takes_over_when_the_other_stops() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    kafka.create_topic("lines", 4).expect("topic");
    kafka.create_topic("word-counts", 4).expect("topic");
    let all = lines();
    let (first, second) = all.split_at(100);
    let dir_a = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    let mut a = KafkaStreams::new(word_count(), config(&kafka, "pair", dir_a.path())).expect("streams");
    let mut b = KafkaStreams::new(word_count(), config(&kafka, "pair", dir_b.path())).expect("streams");
    a.start_with(&kafka.topic_creator()).expect("start a");
    b.start_with(&kafka.topic_creator()).expect("start b");
    wait_for("both instances to own tasks", Duration::from_secs(90), || {
        let (ta, tb) = (a.tasks(), b.tasks());
        a.state() == State::Running
            && b.state() == State::Running
            && !ta.is_empty()
            && !tb.is_empty()
            && ta.keys().all(|id| !tb.contains_key(id))
            && ta.len() + tb.len() == 8
    });
    produce_lines(&kafka, first, 0);
    let first_updates = first.iter().map(|l| l.split_whitespace().count()).sum::<usize>();
    kafka
        .consume("word-counts", first_updates, Duration::from_secs(60))
        .expect("consume");
    // Let both commit what they processed before b leaves.
    std::thread::sleep(Duration::from_millis(500));
    assert!(b.close(Duration::from_secs(30)));
    wait_for("a to own every task", Duration::from_secs(90), || {
        a.state() == State::Running && a.tasks().len() == 8
    });
    produce_lines(&kafka, second, 1_000);
    let total = all.iter().map(|l| l.split_whitespace().count()).sum::<usize>();
    let records = kafka
        .consume("word-counts", total, Duration::from_secs(90))
        .expect("consume");
    assert!(a.close(Duration::from_secs(30)));
    assert_eq!(
        records.len(),
        total,
        "one output per word occurrence, none lost or repeated"
    );
    assert_eq!(decode_counts(records), final_counts(&all));
}

#[test]
fn headers_reach_the_output_and_records_without_headers_stay_without() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Header, Headers as _, OwnedHeaders};
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    use rdkafka::{ClientConfig, Message};

    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    kafka.create_topic("in", 1).expect("topic");
    kafka.create_topic("out", 1).expect("topic");
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .create()
        .expect("producer");
    let with = OwnedHeaders::new()
        .insert(Header {
            key: "trace",
            value: Some("abc"),
        })
        .insert(Header::<&str> {
            key: "empty",
            value: None,
        });
    producer
        .send(BaseRecord::to("in").key("a").payload("1").headers(with))
        .map_err(|(e, _)| e)
        .expect("send");
    producer
        .send(BaseRecord::<str, str>::to("in").key("b").payload("2"))
        .map_err(|(e, _)| e)
        .expect("send");
    producer.flush(Duration::from_secs(10)).expect("flush");

    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values(|v| format!("{v}!"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut streams = KafkaStreams::new(
        builder.build().expect("topology"),
        config(&kafka, "headers", dir.path()),
    )
    .expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");

    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", "headers-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("reader");
    reader.subscribe(&["out"]).expect("subscribe");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 && Instant::now() < deadline {
        if let Some(message) = reader.poll(Duration::from_millis(100)) {
            let message = message.expect("message");
            let headers: Vec<(String, Option<Vec<u8>>)> = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default();
            seen.push((message.payload().map(<[u8]>::to_vec), headers));
        }
    }
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(
        seen,
        vec![
            (
                Some(b"1!".to_vec()),
                vec![("trace".to_owned(), Some(b"abc".to_vec())), ("empty".to_owned(), None)]
            ),
            (Some(b"2!".to_vec()), vec![]),
        ]
    );
}

/// Clicks joined with a versioned table of regions, buffered for a grace period; the table's
/// latest updates go to `region-updates`.
fn versioned_join() -> Topology {
    let builder = StreamsBuilder::new();
    let regions = builder.table_with(
        "regions",
        Consumed::<String, String>::with(Serdes::string(), Serdes::string()),
        Materialized::as_versioned("regions", Duration::from_millis(100)),
    );
    builder
        .stream(
            "clicks",
            Consumed::<String, String>::with(Serdes::string(), Serdes::string()),
        )
        .join_with(
            &regions,
            |click: &String, region: &String| format!("{click}@{region}"),
            streams_core::dsl::Joined::as_("clicks-join").with_grace_period(Duration::from_millis(100)),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    regions.to_stream().to(
        "region-updates",
        Produced::with(Serdes::string(), Serdes::nullable(Serdes::string())),
    );
    builder.build().expect("topology")
}

fn text_records(records: &[(&str, &str, i64)]) -> Vec<(Option<Vec<u8>>, Option<Vec<u8>>, i64)> {
    records
        .iter()
        .map(|&(k, v, ts)| (Some(k.as_bytes().to_vec()), Some(v.as_bytes().to_vec()), ts))
        .collect()
}

fn text_output(records: Vec<streams_core::kafka::embedded::ConsumedRecord>) -> Vec<(String, String, i64)> {
    records
        .into_iter()
        .map(|r| {
            let text = |b: Option<Vec<u8>>| String::from_utf8(b.unwrap_or_default()).expect("utf-8");
            (text(r.key), text(r.value), r.timestamp)
        })
        .collect()
}

/// A versioned table and a join buffer on the Kafka runtime (RocksDB stores, changelogs): each
/// click joins the region valid at its timestamp, also after an out-of-order update; after the
/// state directory is lost, the history restored from the versioned changelog still answers.
/// The restarted task has new records on one input only: it must not wait for the other
/// (whose committed offset is at its end) before processing.
#[test]
fn a_versioned_stream_table_join_restores_its_history_on_kafka() {
    let kafka = EmbeddedKafka::start(1).expect("mock cluster");
    for topic in ["regions", "clicks", "out", "region-updates"] {
        kafka.create_topic(topic, 1).expect("topic");
    }
    let topics = versioned_join()
        .internal_topics("versioned", &|_| Some(1))
        .expect("internal topics");
    assert_eq!(
        topics
            .iter()
            .map(|t| (t.name.as_str(), t.kind.topic_config()))
            .collect::<Vec<_>>(),
        vec![
            (
                "versioned-regions-changelog",
                vec![
                    ("cleanup.policy", "compact".to_owned()),
                    ("min.compaction.lag.ms", "86400100".to_owned())
                ]
            ),
            (
                "versioned-clicks-join-Buffer-changelog",
                vec![("cleanup.policy", "compact".to_owned())]
            ),
        ]
    );
    kafka
        .produce(
            "regions",
            text_records(&[
                ("alice", "eu", 10),
                ("alice", "us", 30),
                ("alice", "apac", 20),
                ("bob", "eu", 40),
            ]),
        )
        .expect("produce");
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut streams =
            KafkaStreams::new(versioned_join(), config(&kafka, "versioned", dir.path())).expect("streams");
        streams.start_with(&kafka.topic_creator()).expect("start");
        // The out-of-order update is not forwarded: three updates, then every region was read.
        let updates = kafka
            .consume("region-updates", 3, Duration::from_secs(60))
            .expect("consume");
        assert_eq!(
            text_output(updates),
            vec![
                ("alice".into(), "eu".into(), 10),
                ("alice".into(), "us".into(), 30),
                ("bob".into(), "eu".into(), 40)
            ]
        );
        kafka
            .produce(
                "clicks",
                text_records(&[
                    ("alice", "c1", 25),
                    ("alice", "c2", 15),
                    ("alice", "c3", 35),
                    ("bob", "flush", 1_000),
                ]),
            )
            .expect("produce");
        let joined = kafka.consume("out", 3, Duration::from_secs(60)).expect("consume");
        assert_eq!(
            text_output(joined),
            vec![
                ("alice".into(), "c2@eu".into(), 15),
                ("alice".into(), "c1@apac".into(), 25),
                ("alice".into(), "c3@us".into(), 35)
            ]
        );
        assert!(streams.close(Duration::from_secs(30)));
    }
    // A new instance without the state directory: the table's history comes back from its
    // changelog, the waiting flush click from the buffer's; a click later than the grace
    // period joins at once, as of its timestamp.
    kafka
        .produce("clicks", text_records(&[("alice", "c4", 27)]))
        .expect("produce");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut streams = KafkaStreams::new(versioned_join(), config(&kafka, "versioned", dir.path())).expect("streams");
    streams.start_with(&kafka.topic_creator()).expect("start");
    let joined = kafka.consume("out", 4, Duration::from_secs(60)).expect("consume");
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(
        text_output(joined).last(),
        Some(&("alice".into(), "c4@apac".into(), 27))
    );
}
