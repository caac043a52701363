//! Property tests over the test driver: `count`, `reduce` and `aggregate` against a fold of the
//! input, tables against a map of the latest values, stream-table joins against a replay of
//! the table, changelogs that restore the stores they were written from, and murmur2 against
//! a direct port of Kafka's `Utils.murmur2`.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use streams_core::dsl::{Consumed, Materialized, Produced, StreamsBuilder};
use streams_core::internals::partitioner::{murmur2_hash, murmur2_partition};
use streams_core::processor::ValueAndTimestamp;
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use streams_state::ChangelogRecord;
use testkit::strategies::{ordered_records, small_key_set, unordered_records};
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn ok<T>(result: Result<T, StreamsError>) -> Result<T, TestCaseError> {
    result.map_err(|e| TestCaseError::fail(e.to_string()))
}

const APP: &str = "props";

/// `in` (String -> i64) over 2 partitions, grouped by key: counted into `count`, summed into
/// `sum`, and folded into the list of its values in `list`, each written to `<store>-out`.
fn aggregations() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key();
    grouped
        .count_with(Materialized::as_("count"))
        .to_stream()
        .to("count-out", Produced::new());
    grouped
        .reduce_with(|a, b| a + b, Materialized::as_("sum"))
        .to_stream()
        .to("sum-out", Produced::new());
    grouped
        .aggregate(
            String::new,
            |_, v, list| format!("{list}[{v}]"),
            Materialized::as_("list").with_value_serde(Serdes::string()),
        )
        .to_stream()
        .to("list-out", Produced::new());
    builder.build()
}

fn config(cache: bool) -> DriverConfig {
    let config = DriverConfig::default()
        .with_application_id(APP)
        .with_partitions("in", 2);
    if cache {
        config
    } else {
        config.with_cache_max_bytes(0)
    }
}

/// The fold of one key's records so far.
#[derive(Debug, Clone, Default)]
struct Fold {
    count: i64,
    sum: i64,
    list: String,
    timestamp: i64,
}

/// Every entry of a timestamped store, over all tasks, ordered by key.
fn store<V: 'static>(
    driver: &TopologyTestDriver,
    name: &str,
) -> Result<Vec<(String, ValueAndTimestamp<V>)>, TestCaseError> {
    let mut entries = ok(driver.timestamped_key_value_store::<String, V>(name))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// The records of `store`'s changelog, per partition, as a restore reads them.
fn changelog(driver: &TopologyTestDriver, store: &str) -> Result<BTreeMap<i32, Vec<ChangelogRecord>>, TestCaseError> {
    let mut per_partition: BTreeMap<i32, Vec<ChangelogRecord>> = BTreeMap::new();
    for record in driver.produced_records(&format!("{APP}-{store}-changelog")) {
        let (Some(partition), Some(key)) = (record.partition, record.key) else {
            return Err(TestCaseError::fail("changelog record without partition or key"));
        };
        per_partition.entry(partition).or_default().push(ChangelogRecord {
            key,
            value: record.value,
            timestamp: record.timestamp,
        });
    }
    Ok(per_partition)
}

/// A fresh driver of `topology` whose stores `stores` are restored from `from`'s changelogs.
fn restored(
    topology: Topology,
    config: DriverConfig,
    from: &TopologyTestDriver,
    stores: &[&str],
) -> Result<TopologyTestDriver, TestCaseError> {
    let driver = ok(TopologyTestDriver::with_config(topology, config))?;
    for name in stores {
        for (partition, records) in changelog(from, name)? {
            ok(driver.restore_store(name, partition, &records))?;
        }
    }
    Ok(driver)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn aggregations_equal_a_fold_of_the_input(
        records in unordered_records(small_key_set(5), -50i64..50, 40, 100),
        cache in any::<bool>(),
    ) {
        let driver = ok(TopologyTestDriver::with_config(ok(aggregations())?, config(cache)))?;
        let mut input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
        let mut folds: BTreeMap<String, Fold> = BTreeMap::new();
        let mut expected: HashMap<&str, Vec<TestRecord<String, Option<String>>>> = HashMap::new();
        for record in &records {
            ok(input.pipe_record(record.clone()))?;
            let fold = folds.entry(record.key.clone()).or_insert_with(|| Fold {
                timestamp: record.timestamp,
                ..Fold::default()
            });
            fold.count += 1;
            fold.sum += record.value;
            fold.list.push_str(&format!("[{}]", record.value));
            fold.timestamp = fold.timestamp.max(record.timestamp);
            for (store, value) in [
                ("count", fold.count.to_string()),
                ("sum", fold.sum.to_string()),
                ("list", fold.list.clone()),
            ] {
                expected
                    .entry(store)
                    .or_default()
                    .push(TestRecord::new(record.key.clone(), Some(value), fold.timestamp));
            }
        }

        // Every record updates its key once per aggregation (the driver commits after each
        // record), carrying the fold so far and the latest timestamp of the key.
        let read = |topic: &str, render: &dyn Fn(&[u8]) -> String| -> Result<Vec<TestRecord<String, Option<String>>>, TestCaseError> {
            Ok(driver
                .produced_records(topic)
                .into_iter()
                .map(|r| TestRecord::new(
                    String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
                    r.value.as_deref().map(render),
                    r.timestamp,
                ))
                .collect())
        };
        let long = |b: &[u8]| b.try_into().map_or_else(|_| "?".to_owned(), |a: [u8; 8]| i64::from_be_bytes(a).to_string());
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        prop_assert_eq!(read("count-out", &long)?, expected.remove("count").unwrap_or_default());
        prop_assert_eq!(read("sum-out", &long)?, expected.remove("sum").unwrap_or_default());
        prop_assert_eq!(read("list-out", &text)?, expected.remove("list").unwrap_or_default());

        let as_store = |value: fn(&Fold) -> String| -> Vec<(String, ValueAndTimestamp<String>)> {
            folds
                .iter()
                .map(|(k, f)| (k.clone(), ValueAndTimestamp { value: value(f), timestamp: f.timestamp }))
                .collect()
        };
        let render_long = |entries: Vec<(String, ValueAndTimestamp<i64>)>| -> Vec<(String, ValueAndTimestamp<String>)> {
            entries
                .into_iter()
                .map(|(k, v)| (k, ValueAndTimestamp { value: v.value.to_string(), timestamp: v.timestamp }))
                .collect()
        };
        prop_assert_eq!(render_long(store::<i64>(&driver, "count")?), as_store(|f| f.count.to_string()));
        prop_assert_eq!(render_long(store::<i64>(&driver, "sum")?), as_store(|f| f.sum.to_string()));
        prop_assert_eq!(store::<String>(&driver, "list")?, as_store(|f| f.list.clone()));

        // The changelogs restore the same stores in a fresh driver, which then carries on.
        let fresh = restored(ok(aggregations())?, config(cache), &driver, &["count", "sum", "list"])?;
        prop_assert_eq!(store::<i64>(&fresh, "count")?, store::<i64>(&driver, "count")?);
        prop_assert_eq!(store::<i64>(&fresh, "sum")?, store::<i64>(&driver, "sum")?);
        prop_assert_eq!(store::<String>(&fresh, "list")?, store::<String>(&driver, "list")?);
        if let Some(last) = records.last() {
            let next = TestRecord::new(last.key.clone(), 1, last.timestamp + 1);
            ok(input.pipe_record(next.clone()))?;
            let mut again = fresh.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
            ok(again.pipe_record(next))?;
            prop_assert_eq!(store::<String>(&fresh, "list")?, store::<String>(&driver, "list")?);
            prop_assert_eq!(store::<i64>(&fresh, "count")?, store::<i64>(&driver, "count")?);
        }
    }

    #[test]
    fn a_table_holds_the_latest_value_per_key_and_its_changelog_restores_it(
        records in ordered_records(small_key_set(4), proptest::option::weighted(0.7, 0u8..4), 40, 3),
        cache in any::<bool>(),
    ) {
        let topology = || -> Result<Topology, StreamsError> {
            let builder = StreamsBuilder::new();
            builder
                .table_with::<String, String>("t", Consumed::with(Serdes::string(), Serdes::string()), Materialized::as_("rows"))
                .to_stream()
                .to("out", Produced::new());
            builder.build()
        };
        let config = || config(cache).with_partitions("t", 3);
        let driver = ok(TopologyTestDriver::with_config(ok(topology())?, config()))?;
        let mut input = driver.create_input_topic::<String, Option<String>>("t", Serdes::string(), Serdes::string());
        let mut latest: BTreeMap<String, ValueAndTimestamp<String>> = BTreeMap::new();
        let mut changes = Vec::new();
        for record in &records {
            let value = record.value.map(|v| format!("v{v}"));
            ok(input.pipe_record(TestRecord::new(record.key.clone(), value.clone(), record.timestamp)))?;
            let old = latest.get(&record.key).map(|row| row.value.clone());
            // Kafka's KTableSource forwards every update, the same value again included; deleting
            // a row that does not exist forwards nothing here.
            if old.is_some() || value.is_some() {
                changes.push(TestRecord::new(record.key.clone(), value.clone(), record.timestamp));
            }
            match value {
                Some(value) => {
                    latest.insert(record.key.clone(), ValueAndTimestamp { value, timestamp: record.timestamp });
                }
                None => {
                    latest.remove(&record.key);
                }
            }
        }
        let output = driver.create_output_topic::<String, Option<String>>("out", Serdes::string(), Serdes::string());
        prop_assert_eq!(ok(output.read_records_to_list())?, changes);
        let expected: Vec<(String, ValueAndTimestamp<String>)> = latest.into_iter().collect();
        prop_assert_eq!(store::<String>(&driver, "rows")?, expected.clone());
        let fresh = restored(ok(topology())?, config(), &driver, &["rows"])?;
        prop_assert_eq!(store::<String>(&fresh, "rows")?, expected);
    }

    #[test]
    fn a_stream_table_left_join_sees_the_table_as_it_was_when_each_record_arrived(
        script in proptest::collection::vec((any::<bool>(), small_key_set(3), proptest::option::weighted(0.8, 0u8..5)), 0..40),
    ) {
        let builder = StreamsBuilder::new();
        let table = builder.table::<String, String>("table", Consumed::with(Serdes::string(), Serdes::string()));
        builder
            .stream::<String, String>("stream", Consumed::with(Serdes::string(), Serdes::string()))
            .left_join(&table, |v, row| format!("{v}+{}", row.map_or("none", String::as_str)))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        let config = DriverConfig::default().with_partitions("table", 2).with_partitions("stream", 2);
        let driver = ok(TopologyTestDriver::with_config(ok(builder.build())?, config))?;
        let table_in = driver.create_input_topic::<String, Option<String>>("table", Serdes::string(), Serdes::string());
        let stream_in = driver.create_input_topic::<String, String>("stream", Serdes::string(), Serdes::string());
        let mut rows: HashMap<String, String> = HashMap::new();
        let mut expected = Vec::new();
        for (ts, (to_table, key, value)) in script.into_iter().enumerate() {
            let ts = ts as i64;
            if to_table {
                let value = value.map(|v| format!("row{v}"));
                ok(table_in.pipe_input_at(key.clone(), value.clone(), ts))?;
                match value {
                    Some(v) => rows.insert(key, v),
                    None => rows.remove(&key),
                };
            } else {
                let value = format!("s{}", value.unwrap_or(9));
                ok(stream_in.pipe_input_at(key.clone(), value.clone(), ts))?;
                let row = rows.get(&key).map_or("none", String::as_str);
                expected.push(TestRecord::new(key, format!("{value}+{row}"), ts));
            }
        }
        let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
        prop_assert_eq!(ok(output.read_records_to_list())?, expected);
    }
}

/// Kafka's `Utils.murmur2`, ported line by line: seed `0x9747b28c`, little-endian 4-byte
/// blocks, the tail folded in, then the final mix.
fn kafka_murmur2(data: &[u8]) -> i32 {
    const M: i32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as i32;
    let mut h: i32 = 0x9747_b28c_u32 as i32 ^ length;
    let blocks = data.chunks_exact(4);
    let tail = blocks.remainder();
    for block in blocks {
        let mut k = i32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= ((k as u32) >> R) as i32;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    if tail.len() >= 3 {
        h ^= i32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= i32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= i32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(M);
    h ^= ((h as u32) >> 15) as i32;
    h
}

proptest! {
    #[test]
    fn murmur2_equals_kafkas_algorithm_on_any_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..64),
        partitions in 1i32..1000,
    ) {
        prop_assert_eq!(murmur2_hash(&data), kafka_murmur2(&data));
        let partition = murmur2_partition(&data, partitions);
        prop_assert_eq!(partition, (kafka_murmur2(&data) & 0x7fff_ffff) % partitions);
        prop_assert!((0..partitions).contains(&partition));
    }
}

#[test]
fn the_reference_murmur2_reproduces_kafkas_vectors() {
    assert_eq!(kafka_murmur2(b"21"), -973932308);
    assert_eq!(kafka_murmur2(b"foobar"), -790332482);
    assert_eq!(kafka_murmur2(b"abc"), 479470107);
    assert_eq!(kafka_murmur2(b"a-little-bit-long-string"), -985981536);
}
