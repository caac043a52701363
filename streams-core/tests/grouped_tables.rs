//! `KTable::group_by` with `count`, `reduce` and `aggregate`, record for record as Kafka
//! Streams' `KTableRepartitionMap`, `KTableAggregate` and `KTableReduce` do it: the scenarios
//! of Kafka's `KTableAggregateTest` transcribed (expected keys, values and timestamps), rows
//! moving between groups, tombstones, groups whose last row leaves, null keys and values from
//! the selector, the repartition topic's bytes, caching, RocksDB stores, `describe()`, and a
//! property test against a recomputation from the final table.

use std::collections::BTreeMap;

use proptest::prelude::*;
use streams_core::dsl::{Consumed, Grouped, KGroupedTable, KTable, Materialized, Named, Produced, StreamsBuilder};
use streams_core::serde::{Serde, Serdes};
use streams_core::state::StoreType;
use streams_core::topology::{InternalTopic, InternalTopicKind, Topology};
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

type Out<V> = Vec<(String, V, i64)>;

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn grouped_strings() -> Grouped<String, String> {
    Grouped::with(Serdes::string(), Serdes::string())
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// Writes `table`'s changes to `out` (deletes as null).
fn to_out_i64(table: &KTable<String, i64>) {
    table
        .to_stream()
        .to("out", Produced::with(Serdes::string(), Serdes::nullable(Serdes::i64())));
}

fn to_out_string(table: &KTable<String, String>) {
    table.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::nullable(Serdes::string())),
    );
}

/// Pipes `(key, value or tombstone, timestamp)` into `input` and returns what `out` got.
fn run<V: 'static>(
    driver: &TopologyTestDriver,
    value_serde: impl Serde<Option<V>>,
    records: &[(&str, Option<&str>, i64)],
) -> Result<Out<Option<V>>, StreamsError> {
    let input = driver.create_input_topic("input", Serdes::string(), Serdes::nullable(Serdes::string()));
    let out = driver.create_output_topic("out", Serdes::string(), value_serde);
    for (key, value, timestamp) in records {
        input.pipe_input_at(s(key), value.map(s), *timestamp)?;
    }
    Ok(out
        .read_records_to_list()?
        .into_iter()
        .map(|r: TestRecord<String, Option<V>>| (r.key, r.value, r.timestamp))
        .collect())
}

fn some<V: Clone>(expected: &[(&str, V, i64)]) -> Out<Option<V>> {
    expected.iter().map(|(k, v, t)| (s(k), Some(v.clone()), *t)).collect()
}

/// Kafka's `KTableAggregateTest.testCount` and `testCountWithInternalStore`: rows grouped by
/// their value and counted.
fn count_by_value(materialized: Option<Materialized<String, i64>>) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .table("input", strings())
        .group_by_with(|_, v| (v.clone(), v.clone()), grouped_strings());
    let counts = match materialized {
        Some(materialized) => grouped.count_with(materialized),
        None => grouped.count(),
    };
    to_out_i64(&counts);
    builder.build()
}

const COLOURS: [(&str, Option<&str>, i64); 5] = [
    ("A", Some("green"), 10),
    ("B", Some("green"), 9),
    ("A", Some("blue"), 12),
    ("C", Some("yellow"), 15),
    ("D", Some("green"), 11),
];

fn colour_counts() -> Out<Option<i64>> {
    some(&[
        ("green", 1, 10),
        ("green", 2, 10),
        // A leaves green (at the larger of 12 and green's 10), then joins blue.
        ("green", 1, 12),
        ("blue", 1, 12),
        ("yellow", 1, 15),
        ("green", 2, 12),
    ])
}

#[test]
fn count_follows_kafkas_test_count() -> Result<(), StreamsError> {
    for materialized in [None, Some(Materialized::as_("count"))] {
        let driver = TopologyTestDriver::new(count_by_value(materialized)?)?;
        assert_eq!(
            run(&driver, Serdes::nullable(Serdes::i64()), &COLOURS)?,
            colour_counts()
        );
    }
    Ok(())
}

#[test]
fn count_runs_on_rocksdb_stores_with_the_same_results() -> Result<(), StreamsError> {
    let config = DriverConfig::default().with_default_store_type(StoreType::RocksDb);
    let driver = TopologyTestDriver::with_config(count_by_value(Some(Materialized::as_("count")))?, config)?;
    assert_eq!(
        run(&driver, Serdes::nullable(Serdes::i64()), &COLOURS)?,
        colour_counts()
    );
    assert!(driver.store_is_persistent("count")?);
    assert!(driver.store_is_persistent("input-STATE-STORE-0000000000")?);
    let mut counts = driver.key_value_store::<String, i64>("count")?;
    counts.sort();
    assert_eq!(counts, vec![(s("blue"), 1), (s("green"), 2), (s("yellow"), 1)]);
    Ok(())
}

/// Kafka's `MockAggregator.TOSTRING_ADDER` / `TOSTRING_REMOVER` with `MockInitializer.STRING_INIT`.
fn to_string_aggregate(grouped: &KGroupedTable<String, String>) -> KTable<String, String> {
    grouped.aggregate(
        || s("0"),
        |_, v, agg| format!("{agg}+{v}"),
        |_, v, agg| format!("{agg}-{v}"),
        Materialized::as_("topic1-Canonized").with_value_serde(Serdes::string()),
    )
}

#[test]
fn aggregate_follows_kafkas_test_agg_basic() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .table("input", strings())
        .group_by_with(|k, v| (k.clone(), v.clone()), grouped_strings());
    to_out_string(&to_string_aggregate(&grouped));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let records = [
        ("A", Some("1"), 10),
        ("B", Some("2"), 15),
        ("A", Some("3"), 20),
        ("B", Some("4"), 18),
        ("C", Some("5"), 5),
        ("D", Some("6"), 25),
        ("B", Some("7"), 15),
        ("C", Some("8"), 10),
    ];
    assert_eq!(
        run(&driver, Serdes::nullable(Serdes::string()), &records)?,
        some(&[
            ("A", s("0+1"), 10),
            ("B", s("0+2"), 15),
            // Same group: one record subtracts the old value and adds the new one.
            ("A", s("0+1-1+3"), 20),
            ("B", s("0+2-2+4"), 18),
            ("C", s("0+5"), 5),
            ("D", s("0+6"), 25),
            ("B", s("0+2-2+4-4+7"), 18),
            ("C", s("0+5-5+8"), 10),
        ])
    );
    Ok(())
}

#[test]
fn aggregate_follows_kafkas_test_agg_repartition_with_null_keys_and_values() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let nullable = || Serdes::nullable(Serdes::string());
    builder
        .table("input", strings())
        .group_by_with(
            |key, value| match key.as_str() {
                // A null key, and a null value (Kafka's test returns a null pair): left out.
                "null" => (None, Some(value.clone())),
                "NULL" => (Some(value.clone()), None),
                _ => (Some(value.clone()), Some(value.clone())),
            },
            Grouped::with(nullable(), nullable()),
        )
        .aggregate(
            || s("0"),
            |_, v: Option<String>, agg| format!("{agg}+{}", v.unwrap_or_default()),
            |_, v: Option<String>, agg| format!("{agg}-{}", v.unwrap_or_default()),
            Materialized::as_("topic1-Canonized").with_value_serde(Serdes::string()),
        )
        .to_stream()
        .to("out", Produced::with(nullable(), nullable()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic("input", Serdes::string(), nullable());
    let out = driver.create_output_topic("out", nullable(), nullable());
    for (key, value, timestamp) in [
        ("A", Some("1"), 10),
        ("A", None, 15),
        ("A", Some("1"), 12),
        ("B", Some("2"), 20),
        ("null", Some("3"), 25),
        ("B", Some("4"), 23),
        ("NULL", Some("5"), 24),
        ("B", Some("7"), 22),
    ] {
        input.pipe_input_at(s(key), value.map(s), timestamp)?;
    }
    let emitted: Vec<(Option<String>, Option<String>, i64)> = out
        .read_records_to_list()?
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let row = |k: &str, v: &str, t: i64| (Some(s(k)), Some(s(v)), t);
    assert_eq!(
        emitted,
        vec![
            row("1", "0+1", 10),
            // The tombstone subtracts.
            row("1", "0+1-1", 15),
            // The group keeps its timestamp 15 (larger than 12).
            row("1", "0+1-1+1", 15),
            row("2", "0+2", 20),
            // B moves from group 2 to group 4: the subtraction first.
            row("2", "0+2-2", 23),
            row("4", "0+4", 23),
            row("4", "0+4-4", 23),
            row("7", "0+7", 22),
        ]
    );
    // Nothing reached the repartition topic for the null key and the null value.
    assert_eq!(
        driver.produced_records("test-app-topic1-Canonized-repartition").len(),
        8
    );
    Ok(())
}

#[test]
fn aggregate_follows_kafkas_test_remove_old_before_add_new() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .table("input", strings())
        .group_by_with(|key, _| (key[..1].to_owned(), key[1..2].to_owned()), grouped_strings());
    to_out_string(&grouped.aggregate(
        String::new,
        |_, v, agg| agg + &v,
        |_, v, agg| agg.replace(&v, ""),
        Materialized::as_("someStore").with_value_serde(Serdes::string()),
    ));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let records = [
        ("11", Some("A"), 10),
        ("12", Some("B"), 8),
        ("11", None, 12),
        ("12", Some("C"), 6),
    ];
    assert_eq!(
        run(&driver, Serdes::nullable(Serdes::string()), &records)?,
        some(&[
            ("1", s("1"), 10),
            ("1", s("12"), 10),
            ("1", s("2"), 12),
            ("1", s("2"), 12)
        ])
    );
    Ok(())
}

/// `user -> "region:amount"`, summed per region with `reduce`.
fn totals_by_region(builder: &StreamsBuilder) -> KTable<String, i64> {
    builder
        .table("input", strings())
        .group_by_with(
            |_, v| {
                let (region, amount) = v.split_once(':').unwrap_or((v.as_str(), "0"));
                (region.to_owned(), amount.parse::<i64>().unwrap_or(0))
            },
            Grouped::with(Serdes::string(), Serdes::i64()),
        )
        .reduce_with(|a, b| a + b, |a, b| a - b, Materialized::as_("totals"))
}

#[test]
fn reduce_moves_rows_between_groups_and_keeps_the_subtractors_result() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    to_out_i64(&totals_by_region(&builder));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let records = [
        ("alice", Some("eu:5"), 1),
        ("bob", Some("eu:3"), 2),
        ("alice", Some("eu:7"), 3),
        ("alice", Some("us:7"), 4),
        ("bob", None, 5),
        ("carol", Some("us:1"), 0),
        ("nobody", None, 6),
    ];
    assert_eq!(
        run(&driver, Serdes::nullable(Serdes::i64()), &records)?,
        some(&[
            ("eu", 5, 1),
            ("eu", 8, 2),
            ("eu", 10, 3),
            // alice moves to us: eu loses her 7, then us gets it.
            ("eu", 3, 4),
            ("us", 7, 4),
            // bob's tombstone subtracts his 3; eu stays, at 0 (the subtractor's result).
            ("eu", 0, 5),
            // An earlier record: the group keeps its later timestamp.
            ("us", 8, 4),
        ])
    );
    let mut totals = driver.timestamped_key_value_store::<String, i64>("totals")?;
    totals.sort_by(|a, b| a.0.cmp(&b.0));
    let totals: Vec<(String, i64, i64)> = totals.into_iter().map(|(k, v)| (k, v.value, v.timestamp)).collect();
    assert_eq!(totals, vec![(s("eu"), 0, 5), (s("us"), 8, 4)]);
    Ok(())
}

#[test]
fn a_group_whose_last_row_leaves_counts_zero() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(count_by_value(Some(Materialized::as_("count")))?)?;
    let records = [("A", Some("x"), 1), ("A", Some("y"), 2), ("A", None, 3), ("A", None, 4)];
    assert_eq!(
        run(&driver, Serdes::nullable(Serdes::i64()), &records)?,
        some(&[("x", 1, 1), ("x", 0, 2), ("y", 1, 2), ("y", 0, 3)])
    );
    let mut counts = driver.key_value_store::<String, i64>("count")?;
    counts.sort();
    assert_eq!(counts, vec![(s("x"), 0), (s("y"), 0)]);
    Ok(())
}

#[test]
fn the_repartition_topic_carries_kafkas_change_layout() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .table("input", strings())
        .group_by_with(|_, v| (v[..1].to_owned(), v.clone()), grouped_strings())
        .count();
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let records = [
        ("A", Some("green"), 1),
        // Same group `g`: one record with both values.
        ("A", Some("gray"), 2),
        // Group `g` to group `b`: a subtraction, then an addition.
        ("A", Some("blue"), 3),
        ("A", None, 4),
    ];
    run::<i64>(&driver, Serdes::nullable(Serdes::i64()), &records)?;
    let topic = "test-app-KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition";
    let written: Vec<(Option<Vec<u8>>, Option<Vec<u8>>, i64)> = driver
        .produced_records(topic)
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let record = |k: &str, v: &[u8], t: i64| (Some(k.as_bytes().to_vec()), Some(v.to_vec()), t);
    assert_eq!(
        written,
        vec![
            record("g", b"green\x01", 1),
            // Zig-zag varint of the new value's length (4), new, old, flag 2.
            record("g", b"\x08graygreen\x02", 2),
            record("g", b"gray\x00", 3),
            record("b", b"blue\x01", 3),
            record("b", b"blue\x00", 4),
        ]
    );
    let internal = driver.topology().internal_topics("test-app", &|_| Some(1))?;
    assert!(internal.contains(&InternalTopic {
        name: s(topic),
        partitions: 1,
        kind: InternalTopicKind::Repartition,
    }));
    Ok(())
}

#[test]
fn with_caching_and_manual_commits_updates_to_a_group_are_merged() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::with_config(
        count_by_value(Some(Materialized::as_("count")))?,
        DriverConfig::default().with_manual_commit(),
    )?;
    let input = driver.create_input_topic("input", Serdes::string(), Serdes::nullable(Serdes::string()));
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::nullable(Serdes::i64()));
    let read = || -> Result<Vec<(String, Option<i64>, i64)>, StreamsError> {
        let mut records: Vec<_> = out
            .read_records_to_list()?
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect();
        records.sort();
        Ok(records)
    };
    input.pipe_input_at(s("A"), Some(s("green")), 1)?;
    input.pipe_input_at(s("B"), Some(s("green")), 2)?;
    input.pipe_input_at(s("A"), Some(s("blue")), 3)?;
    assert_eq!(read()?, vec![]);
    driver.commit()?;
    // The table's cache sent A once (green never left the cache) and B once.
    assert_eq!(read()?, vec![(s("blue"), Some(1), 3), (s("green"), Some(1), 2)]);
    input.pipe_input_at(s("A"), Some(s("green")), 4)?;
    input.pipe_input_at(s("B"), None, 5)?;
    driver.commit()?;
    // green got +1 (A) and -1 (B) between the commits: one update.
    assert_eq!(read()?, vec![(s("blue"), Some(0), 4), (s("green"), Some(1), 5)]);
    Ok(())
}

#[test]
fn without_caching_every_update_is_forwarded_with_manual_commits() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::with_config(
        count_by_value(Some(Materialized::as_("count")))?,
        DriverConfig::default().with_manual_commit().with_cache_max_bytes(0),
    )?;
    assert_eq!(
        run(&driver, Serdes::nullable(Serdes::i64()), &COLOURS)?,
        colour_counts()
    );
    Ok(())
}

#[test]
fn a_table_behind_a_filter_and_map_values_still_sends_old_values() -> Result<(), StreamsError> {
    // The selector needs old values: asking the filtered, mapped table for them reaches the
    // source table.
    let builder = StreamsBuilder::new();
    let counts = builder
        .table("input", strings())
        .filter(|_, v| !v.starts_with('x'))
        .map_values(|_, v| v.to_uppercase())
        .group_by_with(|_, v| (v.clone(), v.clone()), grouped_strings())
        .count();
    to_out_i64(&counts);
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let records = [
        ("A", Some("a"), 1),
        ("A", Some("b"), 2),
        ("A", Some("xa"), 3),
        ("A", Some("a"), 4),
    ];
    assert_eq!(
        run(&driver, Serdes::nullable(Serdes::i64()), &records)?,
        some(&[("A", 1, 1), ("A", 0, 2), ("B", 1, 2), ("B", 0, 3), ("A", 1, 4)])
    );
    Ok(())
}

#[test]
fn a_grouping_without_serdes_does_not_build() {
    let builder = StreamsBuilder::new();
    builder
        .table("input", strings())
        .group_by(|_, v| (v.len() as i64, v.clone()))
        .count_with(Materialized::with(Serdes::i64(), Serdes::i64()));
    match builder.build() {
        Err(StreamsError::Topology(message)) => {
            assert!(message.contains("Grouped::with"), "{message}");
            assert!(
                message.contains("KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition"),
                "{message}"
            );
        }
        Err(other) => panic!("expected a topology error, got {other}"),
        Ok(_) => panic!("expected a topology error"),
    }
}

#[test]
fn describe_prints_a_table_count_as_kafka_streams_does() -> Result<(), StreamsError> {
    // Kafka's `TopologyTest.tableZeroArgCountShouldPreserveTopologyStructure`.
    let builder = StreamsBuilder::new();
    builder
        .table("input-topic", strings())
        .group_by_with(|k, v| (k.clone(), v.clone()), grouped_strings())
        .count();
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [input-topic-STATE-STORE-0000000000])
      --> KTABLE-SELECT-0000000003
      <-- KSTREAM-SOURCE-0000000001
    Processor: KTABLE-SELECT-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KTABLE-SOURCE-0000000002
    Sink: KSTREAM-SINK-0000000005 (topic: KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition)
      <-- KTABLE-SELECT-0000000003

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000006 (topics: [KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition])
      --> KTABLE-AGGREGATE-0000000007
    Processor: KTABLE-AGGREGATE-0000000007 (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000004])
      --> none
      <-- KSTREAM-SOURCE-0000000006

";
    assert_eq!(builder.build()?.describe().to_string(), expected);
    Ok(())
}

#[test]
fn describe_prints_a_named_materialized_table_count_as_kafka_streams_does() -> Result<(), StreamsError> {
    // Kafka's `TopologyTest.tableNamedMaterializedCountShouldPreserveTopologyStructure`.
    let builder = StreamsBuilder::new();
    builder
        .table("input-topic", strings())
        .group_by_with(|k, v| (k.clone(), v.clone()), grouped_strings())
        .count_with(Materialized::as_("count-store").with_store_type(StoreType::InMemory));
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [input-topic-STATE-STORE-0000000000])
      --> KTABLE-SELECT-0000000003
      <-- KSTREAM-SOURCE-0000000001
    Processor: KTABLE-SELECT-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KTABLE-SOURCE-0000000002
    Sink: KSTREAM-SINK-0000000004 (topic: count-store-repartition)
      <-- KTABLE-SELECT-0000000003

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000005 (topics: [count-store-repartition])
      --> KTABLE-AGGREGATE-0000000006
    Processor: KTABLE-AGGREGATE-0000000006 (stores: [count-store])
      --> none
      <-- KSTREAM-SOURCE-0000000005

";
    assert_eq!(builder.build()?.describe().to_string(), expected);
    Ok(())
}

#[test]
fn describe_prints_named_groupings_and_reductions() -> Result<(), StreamsError> {
    // A named grouping names the selector and the repartition topic, shared by its
    // aggregations; a named aggregation names its processor and repartition sink and source
    // (the generated names' indexes consumed all the same).
    let builder = StreamsBuilder::new();
    let grouped = builder.table("input-topic", strings()).group_by_with(
        |_, v| (v.clone(), v.len() as i64),
        Grouped::with(Serdes::string(), Serdes::i64()).with_name("by-value"),
    );
    grouped
        .reduce_named(Named::as_("sum"), |a, b| a + b, |a, b| a - b, Materialized::new())
        .to_stream()
        .to("sums", Produced::new());
    grouped.count().to_stream().to("counts", Produced::new());
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [input-topic-STATE-STORE-0000000000])
      --> by-value
      <-- KSTREAM-SOURCE-0000000001
    Processor: by-value (stores: [])
      --> sum-sink
      <-- KTABLE-SOURCE-0000000002
    Sink: sum-sink (topic: by-value-repartition)
      <-- by-value

  Sub-topology: 1
    Source: sum-source (topics: [by-value-repartition])
      --> KTABLE-AGGREGATE-0000000011, sum
    Processor: KTABLE-AGGREGATE-0000000011 (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000008])
      --> KTABLE-TOSTREAM-0000000012
      <-- sum-source
    Processor: sum (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000003])
      --> KTABLE-TOSTREAM-0000000006
      <-- sum-source
    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- sum
    Processor: KTABLE-TOSTREAM-0000000012 (stores: [])
      --> KSTREAM-SINK-0000000013
      <-- KTABLE-AGGREGATE-0000000011
    Sink: KSTREAM-SINK-0000000007 (topic: sums)
      <-- KTABLE-TOSTREAM-0000000006
    Sink: KSTREAM-SINK-0000000013 (topic: counts)
      <-- KTABLE-TOSTREAM-0000000012

";
    let topology = builder.build()?;
    assert_eq!(topology.describe().to_string(), expected);
    let internal = topology.internal_topics("app", &|_| Some(2))?;
    let repartition: Vec<&InternalTopic> = internal
        .iter()
        .filter(|t| t.kind == InternalTopicKind::Repartition)
        .collect();
    assert_eq!(
        repartition,
        vec![&InternalTopic {
            name: s("app-by-value-repartition"),
            partitions: 2,
            kind: InternalTopicKind::Repartition,
        }]
    );
    // Both aggregations run from the shared topic.
    let driver = TopologyTestDriver::new(topology)?;
    let input = driver.create_input_topic("input-topic", Serdes::string(), Serdes::nullable(Serdes::string()));
    let sums = driver.create_output_topic("sums", Serdes::string(), Serdes::nullable(Serdes::i64()));
    let counts = driver.create_output_topic("counts", Serdes::string(), Serdes::nullable(Serdes::i64()));
    input.pipe_input_at(s("a"), Some(s("xy")), 1)?;
    input.pipe_input_at(s("b"), Some(s("xy")), 2)?;
    assert_eq!(
        sums.read_key_values_to_list()?,
        vec![(s("xy"), Some(2)), (s("xy"), Some(4))]
    );
    assert_eq!(
        counts.read_key_values_to_list()?,
        vec![(s("xy"), Some(1)), (s("xy"), Some(2))]
    );
    Ok(())
}

/// One update of the property test: a key of four and a value (`None`: a tombstone).
fn update() -> impl Strategy<Value = (u8, Option<u8>)> {
    (0u8..4, proptest::option::weighted(0.8, 0u8..12))
}

/// The group of a value: its remainder by 3, except 0, whose group key is null.
fn group_of(value: i64) -> Option<String> {
    (value != 0).then(|| format!("g{}", value % 3))
}

fn fail(e: StreamsError) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Entries whose aggregate is not empty (0 or ""), by group key.
fn non_empty(entries: Vec<(Option<String>, String)>) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .filter(|(_, v)| v != "0" && !v.is_empty())
        .map(|(k, v)| (k.unwrap_or_default(), v))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the updates, the partitions, and the caching and commits, the final count,
    /// sum (`reduce`) and list of values (`aggregate`) of each group are those recomputed from
    /// the table's final rows, in the stores and as the last record of each group on the
    /// output topics. A group whose rows all left holds 0 (an empty list) if its aggregate was
    /// ever updated, which caching may spare it: empty groups are left out on both sides.
    #[test]
    fn final_aggregates_equal_a_recomputation_from_the_final_table(
        updates in proptest::collection::vec(update(), 0..40),
        partitions in 1i32..=3,
        commit_every in proptest::option::of(1usize..6),
        cache in any::<bool>(),
    ) {
        let builder = StreamsBuilder::new();
        let nullable_key = || Serdes::nullable(Serdes::string());
        let grouped = builder
            .table::<String, i64>("input", Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_with(|_, v| (group_of(*v), *v), Grouped::with(nullable_key(), Serdes::i64()));
        grouped
            .count_with(Materialized::as_("count"))
            .to_stream()
            .to("count-out", Produced::with(nullable_key(), Serdes::nullable(Serdes::i64())));
        grouped
            .reduce_with(|a, b| a + b, |a, b| a - b, Materialized::as_("sum"))
            .to_stream()
            .to("sum-out", Produced::with(nullable_key(), Serdes::nullable(Serdes::i64())));
        grouped
            .aggregate(
                String::new,
                |_, v, list| format!("{list}[{v}]"),
                |_, v, list| list.replacen(&format!("[{v}]"), "", 1),
                Materialized::as_("list").with_value_serde(Serdes::string()),
            )
            .to_stream()
            .to("list-out", Produced::with(nullable_key(), Serdes::nullable(Serdes::string())));
        let topology = builder.build().map_err(fail)?;
        let mut config = DriverConfig::default().with_partitions("input", partitions);
        if commit_every.is_some() {
            config = config.with_manual_commit();
        }
        if !cache {
            config = config.with_cache_max_bytes(0);
        }
        let driver = TopologyTestDriver::with_config(topology, config).map_err(fail)?;
        let input = driver.create_input_topic("input", Serdes::string(), Serdes::nullable(Serdes::i64()));
        let mut table: BTreeMap<String, i64> = BTreeMap::new();
        for (i, (key, value)) in updates.iter().enumerate() {
            let key = format!("k{key}");
            let value = value.map(i64::from);
            input.pipe_input_at(key.clone(), value, i as i64).map_err(fail)?;
            match value {
                Some(v) => {
                    table.insert(key, v);
                }
                None => {
                    table.remove(&key);
                }
            }
            if commit_every.is_some_and(|n| (i + 1) % n == 0) {
                driver.commit().map_err(fail)?;
            }
        }
        driver.commit().map_err(fail)?;

        // Recompute from the final rows.
        let mut values: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for value in table.values() {
            if let Some(group) = group_of(*value) {
                values.entry(group).or_default().push(*value);
            }
        }
        let mut counts: BTreeMap<String, String> = BTreeMap::new();
        let mut sums: BTreeMap<String, String> = BTreeMap::new();
        for (group, group_values) in &mut values {
            group_values.sort_unstable();
            counts.insert(group.clone(), group_values.len().to_string());
            sums.insert(group.clone(), group_values.iter().sum::<i64>().to_string());
        }
        let numbers = |name: &str| -> Result<BTreeMap<String, String>, TestCaseError> {
            let entries = driver.key_value_store::<Option<String>, i64>(name).map_err(fail)?;
            Ok(non_empty(entries.into_iter().map(|(k, v)| (k, v.to_string())).collect()))
        };
        prop_assert_eq!(numbers("count")?, counts.clone());
        prop_assert_eq!(numbers("sum")?, sums.clone());
        // Each list holds exactly the group's final values.
        let lists = non_empty(driver.key_value_store::<Option<String>, String>("list").map_err(fail)?);
        let got: BTreeMap<String, Vec<i64>> = lists
            .iter()
            .map(|(group, list)| {
                let mut items: Vec<i64> = list
                    .split(['[', ']'])
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| s.parse().ok())
                    .collect();
                items.sort_unstable();
                (group.clone(), items)
            })
            .collect();
        prop_assert_eq!(got, values);
        // The last record of each group on the output topics is its final aggregate.
        for (topic, want) in [("count-out", &counts), ("sum-out", &sums)] {
            let out = driver.create_output_topic(topic, nullable_key(), Serdes::nullable(Serdes::i64()));
            let last: BTreeMap<Option<String>, Option<i64>> =
                out.read_key_values_to_list().map_err(fail)?.into_iter().collect();
            let last = non_empty(
                last.into_iter()
                    .map(|(k, v)| (k, v.map_or_else(|| s("null"), |v| v.to_string())))
                    .collect(),
            );
            prop_assert_eq!(&last, want);
        }
    }
}
