//! The word-count example through the test driver, with the exact records it writes.

use std::collections::BTreeMap;

use examples::word_count::{self, words, APPLICATION_ID, COUNTS_STORE, INPUT_TOPIC, OUTPUT_TOPIC};
use examples::DemoRun;
use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use streams_core::topology::{InternalTopic, InternalTopicKind};
use testkit::{DriverConfig, TestInputTopic, TestOutputTopic, TestRecord, TopologyTestDriver};

fn record(word: &str, count: i64, timestamp: i64) -> TestRecord<String, i64> {
    TestRecord::new(word.to_owned(), count, timestamp)
}

fn topics(driver: &TopologyTestDriver) -> (TestInputTopic<(), String>, TestOutputTopic<String, i64>) {
    (
        driver.create_input_topic(INPUT_TOPIC, Serdes::unit(), Serdes::string()),
        driver.create_output_topic(OUTPUT_TOPIC, Serdes::string(), Serdes::i64()),
    )
}

fn pipe_quickstart_lines(lines: &mut TestInputTopic<(), String>) {
    for (timestamp, line) in word_count::DEMO_LINES {
        lines
            .pipe_record(TestRecord::new((), line.to_owned(), timestamp))
            .expect("pipe");
    }
}

/// Every count update of the quickstart lines, in order.
fn quickstart_updates() -> Vec<TestRecord<String, i64>> {
    vec![
        record("all", 1, 1_000),
        record("streams", 1, 1_000),
        record("lead", 1, 1_000),
        record("to", 1, 1_000),
        record("kafka", 1, 1_000),
        record("hello", 1, 2_000),
        record("kafka", 2, 2_000),
        record("streams", 2, 2_000),
        record("join", 1, 3_000),
        record("kafka", 3, 3_000),
        record("summit", 1, 3_000),
    ]
}

/// The final counts of the quickstart lines, in key order.
fn quickstart_totals() -> Vec<(String, i64)> {
    [
        ("all", 1),
        ("hello", 1),
        ("join", 1),
        ("kafka", 3),
        ("lead", 1),
        ("streams", 2),
        ("summit", 1),
        ("to", 1),
    ]
    .into_iter()
    .map(|(w, n)| (w.to_owned(), n))
    .collect()
}

#[test]
fn words_are_lowercase_runs_of_letters_and_digits() {
    assert_eq!(
        words("All streams lead to Kafka"),
        ["all", "streams", "lead", "to", "kafka"]
    );
    assert_eq!(words("  Hello,   hello-WORLD!  "), ["hello", "hello", "world"]);
    assert_eq!(words("route 66 and Ünïcode"), ["route", "66", "and", "ünïcode"]);
    assert!(words(" ... --- ").is_empty());
    assert!(words("").is_empty());
}

#[test]
fn every_line_updates_the_counts_of_its_words() {
    let driver = TopologyTestDriver::new(word_count::topology().expect("topology")).expect("driver");
    let (mut lines, counts) = topics(&driver);
    pipe_quickstart_lines(&mut lines);
    // The driver commits after every line, so each update of a line comes out, in the order
    // the words were first updated within the line (Kafka Streams' quickstart output).
    assert_eq!(counts.read_records_to_list().expect("read"), quickstart_updates());
    assert_eq!(
        driver.key_value_store::<String, i64>(COUNTS_STORE).expect("store"),
        quickstart_totals()
    );
}

#[test]
fn the_demo_run_counts_the_quickstart_lines() {
    assert_eq!(
        word_count::run_demo().expect("demo"),
        DemoRun {
            updates: quickstart_updates(),
            totals: quickstart_totals(),
        }
    );
}

#[test]
fn without_a_commit_per_line_the_cache_sends_one_update_per_word() {
    let driver = TopologyTestDriver::with_config(
        word_count::topology().expect("topology"),
        DriverConfig::default().with_manual_commit(),
    )
    .expect("driver");
    let (mut lines, counts) = topics(&driver);
    pipe_quickstart_lines(&mut lines);
    assert!(counts.is_empty(), "the cache holds every update until the commit");
    driver.commit().expect("commit");
    // One record per word with its latest count, in the order the words were last updated.
    assert_eq!(
        counts.read_records_to_list().expect("read"),
        vec![
            record("all", 1, 1_000),
            record("lead", 1, 1_000),
            record("to", 1, 1_000),
            record("hello", 1, 2_000),
            record("streams", 2, 2_000),
            record("join", 1, 3_000),
            record("kafka", 3, 3_000),
            record("summit", 1, 3_000),
        ]
    );
}

#[test]
fn words_are_counted_in_the_task_of_their_repartition_partition() {
    // Two partitions for the input topic: the repartition topic gets two as well, so the words
    // are counted by two tasks of sub-topology 1.
    let driver = TopologyTestDriver::with_config(
        word_count::topology().expect("topology"),
        DriverConfig::default().with_partitions(INPUT_TOPIC, 2),
    )
    .expect("driver");
    let (mut lines, counts) = topics(&driver);
    pipe_quickstart_lines(&mut lines);
    // Across tasks only the order per word is defined (as in Kafka).
    let mut per_word: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for r in counts.read_records_to_list().expect("read") {
        per_word.entry(r.key).or_default().push((r.value, r.timestamp));
    }
    assert_eq!(per_word["kafka"], [(1, 1_000), (2, 2_000), (3, 3_000)]);
    assert_eq!(per_word["streams"], [(1, 1_000), (2, 2_000)]);
    assert_eq!(per_word.len(), 8);
    assert!(per_word
        .values()
        .all(|updates| updates.last().map(|u| u.0) == Some(updates.len() as i64)));
    let mut totals = driver.key_value_store::<String, i64>(COUNTS_STORE).expect("store");
    totals.sort();
    assert_eq!(totals, quickstart_totals());
    let metrics = driver.metrics();
    let counted: Vec<u64> = metrics
        .iter()
        .filter(|(id, _)| id.subtopology == 1)
        .map(|(_, m)| m.records_processed)
        .collect();
    assert_eq!(counted.len(), 2);
    assert!(
        counted.iter().all(|&n| n > 0),
        "both count tasks got words: {counted:?}"
    );
    assert_eq!(counted.iter().sum::<u64>(), 11);
}

#[test]
fn internal_topics_are_named_after_the_store() {
    let topology = word_count::topology().expect("topology");
    let internal = topology
        .internal_topics(APPLICATION_ID, &|_| Some(4))
        .expect("internal topics");
    assert_eq!(
        internal,
        vec![
            InternalTopic {
                name: "streams-wordcount-counts-store-repartition".into(),
                partitions: 4,
                kind: InternalTopicKind::Repartition,
            },
            InternalTopic {
                name: "streams-wordcount-counts-store-changelog".into(),
                partitions: 4,
                kind: InternalTopicKind::Changelog,
            },
        ]
    );
}

#[test]
fn the_changelog_holds_each_count_with_its_timestamp() {
    let driver = TopologyTestDriver::with_config(
        word_count::topology().expect("topology"),
        DriverConfig::default().with_application_id(APPLICATION_ID),
    )
    .expect("driver");
    let (mut lines, _counts) = topics(&driver);
    pipe_quickstart_lines(&mut lines);
    let changelog = driver.produced_records("streams-wordcount-counts-store-changelog");
    assert_eq!(changelog.len(), 11);
    let last = changelog.last().expect("a changelog record");
    assert_eq!(last.key.as_deref(), Some(&b"summit"[..]));
    assert_eq!(last.timestamp, 3_000);
    // As Kafka Streams logs a timestamped store: the plain value, the row's timestamp as the
    // record's timestamp (restore puts the two back together).
    assert_eq!(last.value, Some(1i64.to_be_bytes().to_vec()));
}

#[test]
fn the_description_names_nodes_as_kafka_streams_does() {
    let description = word_count::topology().expect("topology").describe().to_string();
    for line in [
        "Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])",
        "Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])",
        "Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])",
        "Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])",
        "Processor: KTABLE-TOSTREAM-0000000007 (stores: [])",
        "Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)",
        "(topic: counts-store-repartition)",
        "(topics: [counts-store-repartition])",
    ] {
        assert!(description.contains(line), "`{line}` missing from:\n{description}");
    }
}

/// Kafka Streams names the sink and source of a repartition topic after the topic when its
/// name comes from the user (a store name, `Grouped`, `Joined` or `Repartitioned` name):
/// `<topic>-sink` and `<topic>-source` (and `<topic>-filter`, a node this library does not
/// create). Only when the name is itself generated (`KSTREAM-...-<10 digits>`) are the
/// generated `KSTREAM-SINK-` / `KSTREAM-SOURCE-` names kept. Kafka's quickstart
/// prints `Sink: counts-store-repartition-sink (topic: counts-store-repartition)`.
#[test]
fn the_nodes_of_a_named_repartition_topic_are_named_after_it() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_with(
            |_, word| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count_with(Materialized::as_("counts-store"))
        .to_stream()
        .to("counts", Produced::new());
    let description = builder.build().expect("topology").describe().to_string();
    assert!(
        description.contains("Sink: counts-store-repartition-sink (topic: counts-store-repartition)"),
        "{description}"
    );
    assert!(
        description.contains("Source: counts-store-repartition-source (topics: [counts-store-repartition])"),
        "{description}"
    );
    assert!(
        description.contains("Processor: KSTREAM-AGGREGATE-0000000002 (stores: [counts-store])"),
        "{description}"
    );
}
