//! Word count end to end through the test driver.

use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn word_count() -> streams_core::topology::Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream::<(), String>("lines", Consumed::with(Serdes::unit(), Serdes::string()))
        .flat_map_values(|line| line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
        .group_by_with(
            |_, word| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count_with(Materialized::as_("counts"))
        .to_stream()
        .to("word-counts", Produced::new());
    builder.build().expect("valid topology")
}

#[test]
fn counts_words_across_a_repartition_topic() {
    let driver = TopologyTestDriver::with_config(word_count(), DriverConfig::default().with_partitions("lines", 2))
        .expect("driver");
    let mut lines = driver.create_input_topic("lines", Serdes::unit(), Serdes::string());
    let counts = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    lines
        .pipe_record(TestRecord::new((), "Hello world".to_string(), 10))
        .expect("pipe");
    lines
        .pipe_record(TestRecord::new((), "hello again".to_string(), 20))
        .expect("pipe");
    assert_eq!(
        counts.read_records_to_list().expect("read"),
        // "world" lands on repartition partition 0 and "hello" on 1 (murmur2), and tasks run
        // in task-id order, so the first line's counts come out world-first.
        vec![
            TestRecord::new("world".to_string(), 1, 10),
            TestRecord::new("hello".to_string(), 1, 10),
            TestRecord::new("hello".to_string(), 2, 20),
            TestRecord::new("again".to_string(), 1, 20),
        ]
    );
    assert_eq!(
        driver
            .store_get::<String, i64>("counts", &"hello".to_string())
            .expect("get"),
        Some(2)
    );
    assert_eq!(
        driver.produced_topics(),
        vec![
            "test-app-counts-changelog",
            "test-app-counts-repartition",
            "word-counts"
        ]
    );
}
