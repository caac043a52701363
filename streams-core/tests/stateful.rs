//! Grouping and aggregation: `group_by_key`, `group_by`, and `count`, `reduce`, `aggregate` on
//! the grouped stream, with the write cache on (the driver's default: 10 MiB, commit after every
//! record) and off (`DriverConfig::with_cache_max_bytes(0)`): exact table updates, store
//! contents, changelog records and internal topic names.

use streams_core::dsl::{Consumed, Grouped, KTable, Materialized, Produced, StreamsBuilder};
use streams_core::processor::{Headers, ValueAndTimestamp};
use streams_core::serde::Serdes;
use streams_core::state::StoreType;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_owned()
}

fn cached() -> DriverConfig {
    DriverConfig::default()
}

fn uncached() -> DriverConfig {
    DriverConfig::default().with_cache_max_bytes(0)
}

/// `in` (String -> String), grouped by key, aggregated by `aggregate`, its changes written to
/// `out`.
fn grouped_topology<V: Clone + 'static>(
    aggregate: impl FnOnce(streams_core::dsl::KGroupedStream<String, String>) -> KTable<String, V>,
    value_serde: impl streams_core::serde::Serde<Option<V>>,
) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    aggregate(grouped)
        .to_stream()
        .to("out", Produced::with(Serdes::string(), value_serde));
    builder.build()
}

/// Pipes (key, value, timestamp) records into `in`.
fn pipe_all(driver: &TopologyTestDriver, records: &[(&str, &str, i64)]) -> Result<(), StreamsError> {
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    for (k, v, ts) in records {
        input.pipe_input_at(s(k), s(v), *ts)?;
    }
    Ok(())
}

const CLICKS: [(&str, &str, i64); 4] = [("a", "x", 10), ("b", "y", 20), ("a", "z", 5), ("a", "w", 30)];

#[test]
fn count_emits_a_running_count_per_key_stamped_with_the_latest_timestamp() -> Result<(), StreamsError> {
    for config in [cached(), uncached()] {
        let topology = grouped_topology(|g| g.count_with(Materialized::as_("counts")), Serdes::i64())?;
        let driver = TopologyTestDriver::with_config(topology, config)?;
        pipe_all(&driver, &CLICKS)?;
        let output = driver.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
        assert_eq!(
            output.read_records_to_list()?,
            vec![
                TestRecord::new(s("a"), Some(1), 10),
                TestRecord::new(s("b"), Some(1), 20),
                // An earlier record does not move the row's timestamp back.
                TestRecord::new(s("a"), Some(2), 10),
                TestRecord::new(s("a"), Some(3), 30),
            ]
        );
        assert_eq!(
            driver.timestamped_key_value_store::<String, i64>("counts")?,
            vec![
                (
                    s("a"),
                    ValueAndTimestamp {
                        value: 3,
                        timestamp: 30
                    }
                ),
                (
                    s("b"),
                    ValueAndTimestamp {
                        value: 1,
                        timestamp: 20
                    }
                ),
            ]
        );
    }
    Ok(())
}

#[test]
fn count_logs_plain_values_stamped_with_the_row_timestamp_to_its_changelog() -> Result<(), StreamsError> {
    // Kafka Streams' timestamped stores log the value without its timestamp prefix, as the
    // changelog record's timestamp, so a changelog written here restores in Java and back.
    let topology = grouped_topology(|g| g.count(), Serdes::i64())?;
    assert_eq!(
        topology.store_names(),
        vec![s("KSTREAM-AGGREGATE-STATE-STORE-0000000001")]
    );
    let driver = TopologyTestDriver::with_config(topology, uncached())?;
    pipe_all(&driver, &CLICKS)?;
    let changelog: Vec<(Option<Vec<u8>>, Option<Vec<u8>>, i64, Option<i32>)> = driver
        .produced_records("test-app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog")
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp, r.partition))
        .collect();
    let entry = |key: &str, count: i64, ts: i64| {
        (
            Some(key.as_bytes().to_vec()),
            Some(count.to_be_bytes().to_vec()),
            ts,
            Some(0),
        )
    };
    assert_eq!(
        changelog,
        vec![
            entry("a", 1, 10),
            entry("b", 1, 20),
            entry("a", 2, 10),
            entry("a", 3, 30)
        ]
    );
    Ok(())
}

#[test]
fn reduce_combines_values_per_key() -> Result<(), StreamsError> {
    for config in [cached(), uncached()] {
        let topology = grouped_topology(
            |g| g.reduce_with(|agg, v| format!("{agg}+{v}"), Materialized::as_("joined")),
            Serdes::string(),
        )?;
        let driver = TopologyTestDriver::with_config(topology, config)?;
        pipe_all(&driver, &CLICKS)?;
        let output = driver.create_output_topic::<String, Option<String>>("out", Serdes::string(), Serdes::string());
        assert_eq!(
            output.read_records_to_list()?,
            vec![
                TestRecord::new(s("a"), Some(s("x")), 10),
                TestRecord::new(s("b"), Some(s("y")), 20),
                TestRecord::new(s("a"), Some(s("x+z")), 10),
                TestRecord::new(s("a"), Some(s("x+z+w")), 30),
            ]
        );
        assert_eq!(
            driver.key_value_store::<String, String>("joined")?,
            vec![(s("a"), s("x+z+w")), (s("b"), s("y"))]
        );
    }
    Ok(())
}

#[test]
fn aggregate_folds_values_from_the_initializer() -> Result<(), StreamsError> {
    for config in [cached(), uncached()] {
        let topology = grouped_topology(
            |g| {
                g.aggregate(
                    || 100i64,
                    |k, v, agg| agg + (k.len() + v.len()) as i64,
                    Materialized::as_("lengths").with_value_serde(Serdes::i64()),
                )
            },
            Serdes::i64(),
        )?;
        let driver = TopologyTestDriver::with_config(topology, config)?;
        pipe_all(&driver, &[("k", "abc", 1), ("kk", "", 2), ("k", "d", 3)])?;
        let output = driver.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
        assert_eq!(
            output.read_records_to_list()?,
            vec![
                TestRecord::new(s("k"), Some(104), 1),
                TestRecord::new(s("kk"), Some(102), 2),
                TestRecord::new(s("k"), Some(106), 3),
            ]
        );
    }
    Ok(())
}

#[test]
fn aggregation_output_carries_the_input_record_headers_without_cache() -> Result<(), StreamsError> {
    let topology = grouped_topology(|g| g.count(), Serdes::i64())?;
    let driver = TopologyTestDriver::with_config(topology, uncached())?;
    let mut input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let mut headers = Headers::new();
    headers.add("trace", "t-1");
    input.pipe_record(TestRecord::new(s("a"), s("x"), 1).with_headers(headers.clone()))?;
    let output = driver.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("a"), Some(1), 1).with_headers(headers)]
    );
    Ok(())
}

#[test]
fn group_by_repartitions_by_the_new_key_through_a_named_topic() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_with(
            |_, v| v.clone(),
            Grouped::with(Serdes::string(), Serdes::string()).with_name("by-page"),
        )
        .count_with(Materialized::as_("page-views"))
        .to_stream()
        .to("out", Produced::new());
    let topology = builder.build()?;
    assert_eq!(topology.subtopologies().len(), 2);
    let driver = TopologyTestDriver::with_config(topology, DriverConfig::default().with_partitions("in", 3))?;
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("alice"), s("home"), 1)?;
    input.pipe_input_at(s("bob"), s("home"), 2)?;
    input.pipe_input_at(s("carol"), s("cart"), 3)?;
    input.pipe_input_at(s("alice"), s("cart"), 4)?;
    let output = driver.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("home"), Some(1), 1),
            TestRecord::new(s("home"), Some(2), 2),
            TestRecord::new(s("cart"), Some(1), 3),
            TestRecord::new(s("cart"), Some(2), 4),
        ]
    );
    let repartitioned: Vec<(Option<Vec<u8>>, Option<Vec<u8>>, i64)> = driver
        .produced_records("test-app-by-page-repartition")
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        repartitioned,
        vec![
            (Some(b"home".to_vec()), Some(b"home".to_vec()), 1),
            (Some(b"home".to_vec()), Some(b"home".to_vec()), 2),
            (Some(b"cart".to_vec()), Some(b"cart".to_vec()), 3),
            (Some(b"cart".to_vec()), Some(b"cart".to_vec()), 4),
        ]
    );
    assert_eq!(
        driver.produced_topics(),
        vec![
            s("out"),
            s("test-app-by-page-repartition"),
            s("test-app-page-views-changelog")
        ]
    );
    Ok(())
}

/// `in` values split on spaces into (same key, word) records, counted per key.
fn words_per_key() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .flat_map_values(|v| v.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .group_by_key()
        .count_with(Materialized::as_("counts"))
        .to_stream()
        .to("out", Produced::new());
    builder.build()
}

#[test]
fn the_cache_coalesces_updates_of_one_key_within_a_commit() -> Result<(), StreamsError> {
    // One input record produces two records with the same key; the count moves 0 -> 1 -> 2
    // while the record is processed. With the cache only the state at the commit is forwarded.
    let with_cache = TopologyTestDriver::with_config(words_per_key()?, cached())?;
    pipe_all(&with_cache, &[("k", "to be", 7)])?;
    let output = with_cache.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("k"), Some(2), 7)]
    );
    assert_eq!(with_cache.produced_records("test-app-counts-changelog").len(), 1);

    let without_cache = TopologyTestDriver::with_config(words_per_key()?, uncached())?;
    pipe_all(&without_cache, &[("k", "to be", 7)])?;
    let output = without_cache.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("k"), Some(1), 7), TestRecord::new(s("k"), Some(2), 7)]
    );
    assert_eq!(without_cache.produced_records("test-app-counts-changelog").len(), 2);
    Ok(())
}

/// `in` values split on spaces into (word, word) records, counted per word after a repartition.
fn word_count() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .flat_map(|_, v| v.split(' ').map(|w| (w.to_owned(), w.to_owned())).collect::<Vec<_>>())
        .group_by_key_with(Grouped::with(Serdes::string(), Serdes::string()))
        .count_with(Materialized::as_("counts"))
        .to_stream()
        .to("out", Produced::new());
    builder.build()
}

#[test]
fn a_flat_map_through_a_repartition_topic_is_coalesced_until_the_commit() -> Result<(), StreamsError> {
    // As in Kafka Streams' TopologyTestDriver, every processed record (the repartitioned ones
    // included) is followed by a commit unless commits are manual: the two "hey" records read
    // from the repartition topic are committed one by one.
    let per_record = TopologyTestDriver::with_config(word_count()?, cached())?;
    pipe_all(&per_record, &[("k", "hey hey", 7)])?;
    let output = per_record.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("hey"), Some(1), 7),
            TestRecord::new(s("hey"), Some(2), 7)
        ]
    );

    let manual = TopologyTestDriver::with_config(word_count()?, cached().with_manual_commit())?;
    pipe_all(&manual, &[("k", "hey hey", 7), ("k", "hey you", 8)])?;
    let output = manual.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert!(output.is_empty());
    manual.commit()?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("hey"), Some(3), 8),
            TestRecord::new(s("you"), Some(1), 8)
        ]
    );

    let uncached_manual = TopologyTestDriver::with_config(word_count()?, uncached().with_manual_commit())?;
    pipe_all(&uncached_manual, &[("k", "hey hey", 7)])?;
    let output = uncached_manual.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("hey"), Some(1), 7),
            TestRecord::new(s("hey"), Some(2), 7)
        ]
    );
    Ok(())
}

#[test]
fn aggregations_generate_kafka_store_and_repartition_topic_names() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.clone())
        .group_by_key_with(Grouped::with(Serdes::string(), Serdes::string()))
        .reduce(|a, b| a + &b)
        .to_stream()
        .to("out", Produced::new());
    let topology = builder.build()?;
    assert_eq!(topology.store_names(), vec![s("KSTREAM-REDUCE-STATE-STORE-0000000002")]);
    let internal: Vec<String> = topology
        .internal_topics("app", &|_| Some(1))?
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        internal,
        vec![
            s("app-KSTREAM-REDUCE-STATE-STORE-0000000002-repartition"),
            s("app-KSTREAM-REDUCE-STATE-STORE-0000000002-changelog"),
        ]
    );
    Ok(())
}

#[test]
fn aggregations_drop_and_count_records_with_null_keys() -> Result<(), StreamsError> {
    // Kafka Streams' KStreamAggregate and KStreamReduce skip records whose key is null and
    // count them in the dropped-records metric.
    for config in [cached(), uncached()] {
        let builder = StreamsBuilder::new();
        let grouped = builder
            .stream::<Option<String>, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
            .group_by_key();
        grouped
            .count_with(Materialized::as_("counts"))
            .to_stream()
            .to("counts-out", Produced::new());
        grouped
            .reduce_with(|a, b| a + &b, Materialized::as_("concat"))
            .to_stream()
            .to("concat-out", Produced::new());
        let driver = TopologyTestDriver::with_config(builder.build()?, config)?;
        let input = driver.create_input_topic::<Option<String>, String>("in", Serdes::string(), Serdes::string());
        input.pipe_input_at(None, s("x"), 1)?;
        input.pipe_input_at(Some(s("k")), s("y"), 2)?;
        input.pipe_input_at(None, s("z"), 3)?;
        let counts =
            driver.create_output_topic::<Option<String>, Option<i64>>("counts-out", Serdes::string(), Serdes::i64());
        assert_eq!(
            counts.read_records_to_list()?,
            vec![TestRecord::new(Some(s("k")), Some(1), 2)]
        );
        let concat = driver.create_output_topic::<Option<String>, Option<String>>(
            "concat-out",
            Serdes::string(),
            Serdes::string(),
        );
        assert_eq!(
            concat.read_records_to_list()?,
            vec![TestRecord::new(Some(s("k")), Some(s("y")), 2)]
        );
        assert_eq!(
            driver.key_value_store::<Option<String>, i64>("counts")?,
            vec![(Some(s("k")), 1)]
        );
        let metrics = driver.total_metrics();
        assert_eq!((metrics.records_processed, metrics.dropped_records), (3, 4));
    }
    Ok(())
}

/// Two counts of `in`: `counts` on the default engine, `counts-in-memory` always in memory.
fn counts_on_two_engines() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    grouped
        .count_with(Materialized::as_("counts"))
        .to_stream()
        .to("out", Produced::new());
    grouped
        .count_with(Materialized::as_("counts-in-memory").with_store_type(StoreType::InMemory))
        .to_stream()
        .to("out-in-memory", Produced::new());
    builder.build()
}

#[test]
fn dsl_stores_take_the_default_store_type_unless_materialized_names_one() -> Result<(), StreamsError> {
    for default in [StoreType::InMemory, StoreType::RocksDb] {
        let driver =
            TopologyTestDriver::with_config(counts_on_two_engines()?, cached().with_default_store_type(default))?;
        pipe_all(&driver, &CLICKS)?;
        assert_eq!(
            driver.store_is_persistent("counts")?,
            default == StoreType::RocksDb,
            "{default:?}"
        );
        assert!(!driver.store_is_persistent("counts-in-memory")?, "{default:?}");
        let expected = vec![
            TestRecord::new(s("a"), Some(1), 10),
            TestRecord::new(s("b"), Some(1), 20),
            TestRecord::new(s("a"), Some(2), 10),
            TestRecord::new(s("a"), Some(3), 30),
        ];
        for topic in ["out", "out-in-memory"] {
            let output = driver.create_output_topic::<String, Option<i64>>(topic, Serdes::string(), Serdes::i64());
            assert_eq!(output.read_records_to_list()?, expected, "{default:?} {topic}");
        }
        assert_eq!(
            driver.timestamped_key_value_store::<String, i64>("counts")?,
            vec![
                (s("a"), ValueAndTimestamp::new(3, 30)),
                (s("b"), ValueAndTimestamp::new(1, 20))
            ],
            "{default:?}"
        );
        driver.close()?;
    }
    Ok(())
}
