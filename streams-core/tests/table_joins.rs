//! KTable-KTable joins: the timeline of Kafka Streams' DSL guide (section "KTable-KTable
//! Equi-Join", its table of join semantics), record for record, for the inner, left and outer
//! joins: both tables keyed the same, updates and tombstones alternating between the sides.
//! Results carry the larger of the two rows' timestamps; a tombstone is written as null.

use streams_core::dsl::{Consumed, KTable, Produced, StreamsBuilder};
use streams_core::serde::Serdes;
use streams_core::StreamsError;
use testkit::{TestRecord, TopologyTestDriver};

mod common;
use common::GUIDE_TIMELINE;

#[derive(Clone, Copy)]
enum Variant {
    Inner,
    Left,
    Outer,
}

fn show(value: Option<&String>) -> &str {
    value.map_or("null", String::as_str)
}

fn driver(variant: Variant) -> Result<TopologyTestDriver, StreamsError> {
    let builder = StreamsBuilder::new();
    let left: KTable<String, String> = builder.table("left", Consumed::with(Serdes::string(), Serdes::string()));
    let right: KTable<String, String> = builder.table("right", Consumed::with(Serdes::string(), Serdes::string()));
    let joined = match variant {
        Variant::Inner => left.join(&right, |l, r| format!("[{l},{r}]")),
        Variant::Left => left.left_join(&right, |l, r| format!("[{l},{}]", show(r))),
        Variant::Outer => left.outer_join(&right, |l, r| format!("[{},{}]", show(l), show(r))),
    };
    joined.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::nullable(Serdes::string())),
    );
    TopologyTestDriver::new(builder.build()?)
}

/// Pipes the timeline and returns, per input timestamp, what the join emitted.
fn run(variant: Variant) -> Result<Vec<(i64, Vec<(Option<String>, i64)>)>, StreamsError> {
    let driver = driver(variant)?;
    let mut left = driver.create_input_topic("left", Serdes::string(), Serdes::nullable(Serdes::string()));
    let mut right = driver.create_input_topic("right", Serdes::string(), Serdes::nullable(Serdes::string()));
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::nullable(Serdes::string()));
    let mut emitted = Vec::new();
    for (timestamp, is_left, value) in GUIDE_TIMELINE {
        let topic = if is_left { &mut left } else { &mut right };
        topic.pipe_record(TestRecord::new("k".to_owned(), value.map(str::to_owned), timestamp))?;
        let records: Vec<(Option<String>, i64)> = out
            .read_records_to_list()?
            .into_iter()
            .map(|r: TestRecord<String, Option<String>>| (r.value, r.timestamp))
            .collect();
        if !records.is_empty() {
            emitted.push((timestamp, records));
        }
    }
    Ok(emitted)
}

fn row(value: &str, timestamp: i64) -> Vec<(Option<String>, i64)> {
    vec![(Some(value.to_owned()), timestamp)]
}

fn tombstone(timestamp: i64) -> Vec<(Option<String>, i64)> {
    vec![(None, timestamp)]
}

#[test]
fn inner_join_follows_the_guide() -> Result<(), StreamsError> {
    assert_eq!(
        run(Variant::Inner)?,
        vec![
            (4, row("[A,a]", 4)),
            (5, row("[B,a]", 5)),
            (6, row("[B,b]", 6)),
            (7, tombstone(7)),
            (10, row("[C,c]", 10)),
            (11, tombstone(11)),
            (15, row("[D,d]", 15)),
        ]
    );
    Ok(())
}

#[test]
fn left_join_follows_the_guide() -> Result<(), StreamsError> {
    assert_eq!(
        run(Variant::Left)?,
        vec![
            (3, row("[A,null]", 3)),
            (4, row("[A,a]", 4)),
            (5, row("[B,a]", 5)),
            (6, row("[B,b]", 6)),
            (7, tombstone(7)),
            (9, row("[C,null]", 9)),
            (10, row("[C,c]", 10)),
            (11, row("[C,null]", 11)),
            (12, tombstone(12)),
            (15, row("[D,d]", 15)),
        ]
    );
    Ok(())
}

#[test]
fn outer_join_follows_the_guide() -> Result<(), StreamsError> {
    assert_eq!(
        run(Variant::Outer)?,
        vec![
            (3, row("[A,null]", 3)),
            (4, row("[A,a]", 4)),
            (5, row("[B,a]", 5)),
            (6, row("[B,b]", 6)),
            (7, row("[null,b]", 7)),
            (8, tombstone(8)),
            (9, row("[C,null]", 9)),
            (10, row("[C,c]", 10)),
            (11, row("[C,null]", 11)),
            (12, tombstone(12)),
            (14, row("[null,d]", 14)),
            (15, row("[D,d]", 15)),
        ]
    );
    Ok(())
}

#[test]
fn table_joins_are_named_as_kafka_streams_names_them() -> Result<(), StreamsError> {
    let description = driver(Variant::Left)?.topology().describe().to_string();
    assert_eq!(
        description,
        "Topologies:\n   \
         Sub-topology: 0\n    \
         Source: KSTREAM-SOURCE-0000000001 (topics: [left])\n      \
         --> KTABLE-SOURCE-0000000002\n    \
         Source: KSTREAM-SOURCE-0000000004 (topics: [right])\n      \
         --> KTABLE-SOURCE-0000000005\n    \
         Processor: KTABLE-SOURCE-0000000002 (stores: [left-STATE-STORE-0000000000])\n      \
         --> KTABLE-JOINTHIS-0000000007\n      \
         <-- KSTREAM-SOURCE-0000000001\n    \
         Processor: KTABLE-SOURCE-0000000005 (stores: [right-STATE-STORE-0000000003])\n      \
         --> KTABLE-JOINOTHER-0000000008\n      \
         <-- KSTREAM-SOURCE-0000000004\n    \
         Processor: KTABLE-JOINOTHER-0000000008 (stores: [left-STATE-STORE-0000000000])\n      \
         --> KTABLE-MERGE-0000000006\n      \
         <-- KTABLE-SOURCE-0000000005\n    \
         Processor: KTABLE-JOINTHIS-0000000007 (stores: [right-STATE-STORE-0000000003])\n      \
         --> KTABLE-MERGE-0000000006\n      \
         <-- KTABLE-SOURCE-0000000002\n    \
         Processor: KTABLE-MERGE-0000000006 (stores: [])\n      \
         --> KTABLE-TOSTREAM-0000000009\n      \
         <-- KTABLE-JOINOTHER-0000000008, KTABLE-JOINTHIS-0000000007\n    \
         Processor: KTABLE-TOSTREAM-0000000009 (stores: [])\n      \
         --> KSTREAM-SINK-0000000010\n      \
         <-- KTABLE-MERGE-0000000006\n    \
         Sink: KSTREAM-SINK-0000000010 (topic: out)\n      \
         <-- KTABLE-TOSTREAM-0000000009\n\n"
    );
    Ok(())
}
