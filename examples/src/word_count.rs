//! Word count: lines of text in, a running count per word out.
//!
//! The topology, in Kafka Streams' vocabulary:
//!
//! 1. read lines from [`INPUT_TOPIC`] (keys are ignored: `()`, null on the wire);
//! 2. `flat_map_values`: split each line into lowercase words ([`words`]);
//! 3. `group_by` the word: the key changes, so the words go through the repartition topic
//!    `<application.id>-counts-store-repartition` and each word is counted in one task;
//! 4. `count` into the table materialized as [`COUNTS_STORE`] (changelog
//!    `<application.id>-counts-store-changelog`);
//! 5. `to_stream` and write each update of the table to [`OUTPUT_TOPIC`] (word -> count, 8-byte
//!    big-endian as Kafka's `LongSerde`).
//!
//! ```
//! use examples::word_count;
//!
//! let topology = word_count::topology()?;
//! assert_eq!(topology.subtopologies().len(), 2); // split by the repartition topic
//! assert_eq!(topology.store_names(), vec![word_count::COUNTS_STORE.to_string()]);
//! # Ok::<(), streams_core::StreamsError>(())
//! ```

use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

use crate::DemoRun;

/// `application.id` of the demo run: the prefix of its internal topics.
pub const APPLICATION_ID: &str = "streams-wordcount";
/// The topic of text lines (as in Kafka's `WordCountDemo`).
pub const INPUT_TOPIC: &str = "streams-plaintext-input";
/// The topic of count updates, word -> count.
pub const OUTPUT_TOPIC: &str = "streams-wordcount-output";
/// The store holding the count of each word.
pub const COUNTS_STORE: &str = "counts-store";

/// The lines of the demo run (the input of Kafka Streams' quickstart), with their timestamps
/// in milliseconds.
pub const DEMO_LINES: [(i64, &str); 3] = [
    (1_000, "all streams lead to kafka"),
    (2_000, "hello kafka streams"),
    (3_000, "join kafka summit"),
];

/// The words of `line`, lowercased: maximal runs of letters and digits; anything else
/// separates words.
///
/// ```
/// assert_eq!(examples::word_count::words("Hello, hello-World!"), vec!["hello", "hello", "world"]);
/// ```
pub fn words(line: &str) -> Vec<String> {
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Builds the word-count topology.
pub fn topology() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>(INPUT_TOPIC, Consumed::with(Serdes::unit(), Serdes::string()))
        .flat_map_values(|line| words(&line))
        .group_by_with(
            |_, word| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count_with(Materialized::as_(COUNTS_STORE))
        .to_stream()
        .to(OUTPUT_TOPIC, Produced::with(Serdes::string(), Serdes::i64()));
    builder.build()
}

/// Runs the topology on [`DEMO_LINES`] through the testkit driver (one partition per topic,
/// a commit after every line, as Kafka's `TopologyTestDriver` does).
pub fn run_demo() -> Result<DemoRun, StreamsError> {
    let driver =
        TopologyTestDriver::with_config(topology()?, DriverConfig::default().with_application_id(APPLICATION_ID))?;
    let mut lines = driver.create_input_topic(INPUT_TOPIC, Serdes::unit(), Serdes::string());
    let counts = driver.create_output_topic(OUTPUT_TOPIC, Serdes::string(), Serdes::i64());
    lines.pipe_record_list(
        DEMO_LINES
            .iter()
            .map(|&(timestamp, line)| TestRecord::new((), line.to_owned(), timestamp)),
    )?;
    Ok(DemoRun {
        updates: counts.read_records_to_list()?,
        totals: driver.key_value_store(COUNTS_STORE)?,
    })
}

/// How the runner runs word count on Kafka.
pub fn kafka_app() -> crate::runner::KafkaApp {
    crate::runner::KafkaApp {
        application_id: APPLICATION_ID,
        topology,
        input_topics: &[INPUT_TOPIC],
        output_topic: OUTPUT_TOPIC,
        demo_input: || {
            DEMO_LINES
                .iter()
                .map(|&(timestamp, line)| (INPUT_TOPIC, None, Some(line.as_bytes().to_vec()), timestamp))
                .collect()
        },
        expected_totals: || Ok(run_demo()?.totals),
        expected_updates: || Ok(run_demo()?.updates.len()),
    }
}
