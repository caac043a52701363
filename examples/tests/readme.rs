//! The snippets of the root README.md, run as written there.

use streams_core::dsl::{Consumed, Grouped, Materialized, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use testkit::TopologyTestDriver;

#[test]
fn the_readme_topology_and_test_run() -> Result<(), Box<dyn std::error::Error>> {
    // "A topology in a few lines"
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
        .to("word-counts", Produced::with(Serdes::string(), Serdes::i64()));
    let topology = builder.build()?;
    assert!(topology.describe().to_string().starts_with("Topologies:\n"));

    // "A test in a few lines"
    let driver = TopologyTestDriver::new(topology)?;
    let lines = driver.create_input_topic("lines", Serdes::unit(), Serdes::string());
    let counts = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    lines.pipe_input_at((), "Hello hello".to_string(), 1_000)?;
    assert_eq!(
        counts.read_key_values_to_list()?,
        vec![("hello".to_string(), 1), ("hello".to_string(), 2)] // a commit after every record, as in Kafka's driver
    );
    assert_eq!(
        driver.store_get::<String, i64>("counts", &"hello".to_string())?,
        Some(2)
    );
    Ok(())
}
