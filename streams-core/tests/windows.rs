//! Windowed aggregations and suppression through the testkit: exact windowed keys, values,
//! timestamps, dropped-record counts, changelog layouts and generated names. Several scenarios
//! are transcribed from Kafka Streams' own tests (named where they are).

use std::time::Duration;

use streams_core::dsl::{
    BufferConfig, Consumed, KGroupedStream, KTable, Materialized, Produced, SessionWindows, SlidingWindows,
    StreamsBuilder, Suppressed, TimeWindows, Window, Windowed,
};
use streams_core::serde::{Serde, Serdes, SessionWindowedSerde, TimeWindowedSerde};
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn wk(key: &str, start: i64, end: i64) -> Windowed<String> {
    Windowed::new(s(key), Window::new(start, end))
}

/// `in` (String -> String) grouped by key, aggregated by `aggregate`, its changes written to
/// `out` with the table's serdes.
fn windowed_topology<V: Clone + 'static>(
    aggregate: impl FnOnce(KGroupedStream<String, String>) -> KTable<Windowed<String>, V>,
) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    aggregate(grouped).to_stream().to("out", Produced::new());
    builder.build()
}

fn start(topology: Topology) -> Result<TopologyTestDriver, StreamsError> {
    // Windowed stores have no cache: with or without the task's cache budget every update
    // flows downstream at once.
    TopologyTestDriver::with_config(topology, DriverConfig::default())
}

fn pipe(driver: &TopologyTestDriver, records: &[(&str, &str, i64)]) -> Result<(), StreamsError> {
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    for (k, v, ts) in records {
        input.pipe_input_at(s(k), s(v), *ts)?;
    }
    Ok(())
}

fn time_output<V: 'static>(
    driver: &TopologyTestDriver,
    size: u64,
    values: impl Serde<Option<V>>,
) -> Result<Vec<TestRecord<Windowed<String>, Option<V>>>, StreamsError> {
    driver
        .create_output_topic::<Windowed<String>, Option<V>>(
            "out",
            TimeWindowedSerde::new(Serdes::string(), ms(size)),
            values,
        )
        .read_records_to_list()
}

fn session_output<V: 'static>(
    driver: &TopologyTestDriver,
    values: impl Serde<Option<V>>,
) -> Result<Vec<TestRecord<Windowed<String>, Option<V>>>, StreamsError> {
    driver
        .create_output_topic::<Windowed<String>, Option<V>>("out", SessionWindowedSerde::new(Serdes::string()), values)
        .read_records_to_list()
}

fn rec<V>(key: Windowed<String>, value: Option<V>, ts: i64) -> TestRecord<Windowed<String>, Option<V>> {
    TestRecord::new(key, value, ts)
}

#[test]
fn tumbling_count_with_out_of_order_records_in_grace_and_late_records_dropped() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)).expect("valid windows"))
            .count()
    })?;
    let driver = start(topology)?;
    pipe(
        &driver,
        &[
            ("a", "x", 1),
            ("a", "x", 5),
            ("b", "x", 8),
            ("a", "x", 12),
            // Stream time 12, grace 5: window [0, 10) closes at 15; this one is in grace.
            ("a", "x", 3),
            ("a", "x", 17),
            // Stream time 17: [0, 10) is closed, the record is dropped.
            ("a", "x", 4),
            ("b", "x", 25),
        ],
    )?;
    assert_eq!(
        time_output(&driver, 10, Serdes::i64())?,
        vec![
            rec(wk("a", 0, 10), Some(1), 1),
            rec(wk("a", 0, 10), Some(2), 5),
            rec(wk("b", 0, 10), Some(1), 8),
            rec(wk("a", 10, 20), Some(1), 12),
            // The output timestamp is the largest record timestamp in the window.
            rec(wk("a", 0, 10), Some(3), 5),
            rec(wk("a", 10, 20), Some(2), 17),
            rec(wk("b", 20, 30), Some(1), 25),
        ]
    );
    assert_eq!(driver.total_metrics().dropped_records, 1);
    assert_eq!(driver.total_metrics().records_processed, 8);
    Ok(())
}

#[test]
fn hopping_windows_count_a_record_in_every_window_it_falls_into() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(
            TimeWindows::of_size_with_no_grace(ms(10))
                .and_then(|w| w.advance_by(ms(5)))
                .expect("valid windows"),
        )
        .count()
    })?;
    let driver = start(topology)?;
    pipe(
        &driver,
        &[("a", "x", 12), ("a", "x", 14), ("a", "x", 16), ("a", "x", 9)],
    )?;
    assert_eq!(
        time_output(&driver, 10, Serdes::i64())?,
        vec![
            rec(wk("a", 5, 15), Some(1), 12),
            rec(wk("a", 10, 20), Some(1), 12),
            rec(wk("a", 5, 15), Some(2), 14),
            rec(wk("a", 10, 20), Some(2), 14),
            rec(wk("a", 10, 20), Some(3), 16),
            rec(wk("a", 15, 25), Some(1), 16),
        ]
    );
    // The record at 9 belongs to [0, 10) and [5, 15), both closed at stream time 16: it is
    // counted once per closed window, as Kafka Streams counts it.
    assert_eq!(driver.total_metrics().dropped_records, 2);
    Ok(())
}

#[test]
fn windowed_reduce_and_aggregate_keep_one_aggregate_per_window() -> Result<(), StreamsError> {
    let windows = TimeWindows::of_size_with_no_grace(ms(10)).expect("valid windows");
    let topology = windowed_topology(|g| g.windowed_by(windows).reduce(|a, b| format!("{a}{b}")))?;
    let driver = start(topology)?;
    pipe(&driver, &[("a", "x", 1), ("a", "y", 2), ("a", "z", 11)])?;
    assert_eq!(
        time_output(&driver, 10, Serdes::string())?,
        vec![
            rec(wk("a", 0, 10), Some(s("x")), 1),
            rec(wk("a", 0, 10), Some(s("xy")), 2),
            rec(wk("a", 10, 20), Some(s("z")), 11),
        ]
    );
    let topology = windowed_topology(|g| {
        g.windowed_by(windows).aggregate(
            || s("0"),
            |_, v, agg| format!("{agg}+{v}"),
            Materialized::with(Serdes::string(), Serdes::string()),
        )
    })?;
    let driver = start(topology)?;
    pipe(&driver, &[("a", "1", 1), ("a", "2", 2)])?;
    assert_eq!(
        time_output(&driver, 10, Serdes::string())?,
        vec![
            rec(wk("a", 0, 10), Some(s("0+1")), 1),
            rec(wk("a", 0, 10), Some(s("0+1+2")), 2)
        ]
    );
    Ok(())
}

/// The windowed output topic and the changelog use Kafka's byte layouts: a Java consumer with
/// `TimeWindowedDeserializer` reads `key ++ start`, and the changelog key is `key ++ start ++
/// seqnum` with the plain value at the row's timestamp.
#[test]
fn windowed_output_and_changelog_use_kafkas_layouts() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).expect("valid windows"))
            .count()
    })?;
    let driver = start(topology)?;
    pipe(&driver, &[("a", "x", 12)])?;
    let out = driver.produced_records("out");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].key, Some(vec![b'a', 0, 0, 0, 0, 0, 0, 0, 10]));
    assert_eq!(out[0].value, Some(1i64.to_be_bytes().to_vec()));
    let changelog = driver.produced_records("test-app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog");
    assert_eq!(changelog.len(), 1);
    assert_eq!(changelog[0].key, Some(vec![b'a', 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0]));
    assert_eq!(changelog[0].value, Some(1i64.to_be_bytes().to_vec()));
    assert_eq!(changelog[0].timestamp, 12);
    Ok(())
}

#[test]
fn windowed_aggregations_are_named_as_kafka_streams_names_them() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).expect("valid windows"))
            .count()
            .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
    })?;
    assert_eq!(
        topology.describe().to_string(),
        "Topologies:\n   Sub-topology: 0\n    Source: KSTREAM-SOURCE-0000000000 (topics: [in])\n      --> KSTREAM-AGGREGATE-0000000002\n    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n      --> KTABLE-SUPPRESS-0000000003\n      <-- KSTREAM-SOURCE-0000000000\n    Processor: KTABLE-SUPPRESS-0000000003 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000004])\n      --> KTABLE-TOSTREAM-0000000005\n      <-- KSTREAM-AGGREGATE-0000000002\n    Processor: KTABLE-TOSTREAM-0000000005 (stores: [])\n      --> KSTREAM-SINK-0000000006\n      <-- KTABLE-SUPPRESS-0000000003\n    Sink: KSTREAM-SINK-0000000006 (topic: out)\n      <-- KTABLE-TOSTREAM-0000000005\n\n"
    );
    let topology = windowed_topology(|g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)).expect("valid windows"))
            .reduce(|a, b| a + &b)
    })?;
    assert!(topology
        .describe()
        .to_string()
        .contains("Processor: KSTREAM-REDUCE-0000000002 (stores: [KSTREAM-REDUCE-STATE-STORE-0000000001])"));
    Ok(())
}

/// Kafka's `KStreamSlidingWindowAggregateTest.testAggregateSmallInput`: time difference 10,
/// grace 50, string concatenation from "0".
#[test]
fn sliding_windows_create_left_and_right_windows_per_record() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(50)).expect("valid windows"))
            .aggregate(
                || s("0"),
                |_, v, agg| format!("{agg}+{v}"),
                Materialized::with(Serdes::string(), Serdes::string()),
            )
    })?;
    let driver = start(topology)?;
    pipe(
        &driver,
        &[
            ("A", "1", 10),
            ("A", "2", 15),
            ("A", "3", 20),
            ("A", "4", 22),
            ("A", "5", 30),
        ],
    )?;
    let v = |text: &str| Some(s(text));
    assert_eq!(
        time_output(&driver, 10, Serdes::string())?,
        vec![
            rec(wk("A", 0, 10), v("0+1"), 10),
            rec(wk("A", 11, 21), v("0+2"), 15),
            rec(wk("A", 5, 15), v("0+1+2"), 15),
            rec(wk("A", 11, 21), v("0+2+3"), 20),
            rec(wk("A", 16, 26), v("0+3"), 20),
            rec(wk("A", 10, 20), v("0+1+2+3"), 20),
            rec(wk("A", 16, 26), v("0+3+4"), 22),
            rec(wk("A", 21, 31), v("0+4"), 22),
            rec(wk("A", 12, 22), v("0+2+3+4"), 22),
            rec(wk("A", 21, 31), v("0+4+5"), 30),
            rec(wk("A", 23, 33), v("0+5"), 30),
            rec(wk("A", 20, 30), v("0+3+4+5"), 30),
        ]
    );
    Ok(())
}

/// An out-of-order record inside grace updates the window it falls in and gets a right window
/// holding the later record; a record whose windows are all closed is dropped.
#[test]
fn sliding_windows_handle_out_of_order_and_late_records() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(20)).expect("valid windows"))
            .aggregate(
                || s("0"),
                |_, v, agg| format!("{agg}+{v}"),
                Materialized::with(Serdes::string(), Serdes::string()),
            )
    })?;
    let driver = start(topology)?;
    pipe(
        &driver,
        &[("A", "1", 30), ("A", "2", 25), ("A", "4", 40), ("A", "5", 9)],
    )?;
    let v = |text: &str| Some(s(text));
    assert_eq!(
        time_output(&driver, 10, Serdes::string())?,
        vec![
            rec(wk("A", 20, 30), v("0+1"), 30),
            rec(wk("A", 20, 30), v("0+1+2"), 30),
            rec(wk("A", 15, 25), v("0+2"), 25),
            // The right window of the record at 25 holds only the later record (at 30).
            rec(wk("A", 26, 36), v("0+1"), 30),
            rec(wk("A", 31, 41), v("0+4"), 40),
            rec(wk("A", 30, 40), v("0+1+4"), 40),
        ]
    );
    // At stream time 40 with grace 20, the record at 9 (9 + 1 + 10 <= 20) is too late.
    assert_eq!(driver.total_metrics().dropped_records, 1);
    Ok(())
}

/// Sessions merge when a record bridges them; the merged sessions are deleted downstream.
#[test]
fn session_windows_merge_and_tombstone_the_merged_sessions() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20)).expect("valid windows"))
            .count()
    })?;
    let driver = start(topology)?;
    pipe(
        &driver,
        &[
            ("a", "x", 0),
            ("a", "x", 20),
            // Within the gap of both sessions: merges them into [0, 20].
            ("a", "x", 10),
            // Inside the session: the session is replaced by itself, grown by one.
            ("a", "x", 15),
            ("b", "x", 50),
            // Would extend [0, 20] to [0, 25], but 25 + grace 20 < stream time 50: dropped.
            ("a", "x", 25),
            ("a", "x", 40),
        ],
    )?;
    assert_eq!(
        session_output(&driver, Serdes::i64())?,
        vec![
            rec(wk("a", 0, 0), Some(1), 0),
            rec(wk("a", 20, 20), Some(1), 20),
            rec(wk("a", 0, 0), None, 0),
            rec(wk("a", 20, 20), None, 20),
            rec(wk("a", 0, 20), Some(3), 20),
            rec(wk("a", 0, 20), None, 20),
            rec(wk("a", 0, 20), Some(4), 20),
            rec(wk("b", 50, 50), Some(1), 50),
            rec(wk("a", 40, 40), Some(1), 40),
        ]
    );
    assert_eq!(driver.total_metrics().dropped_records, 1);
    let changelog = driver.produced_records("test-app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog");
    // key ++ end ++ start, the first put of session [0, 0].
    assert_eq!(
        changelog[0].key,
        Some(vec![b'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(changelog[0].value, Some(1i64.to_be_bytes().to_vec()));
    Ok(())
}

/// Kafka's `SuppressScenarioTest.shouldSupportFinalResultsForTimeWindows`.
#[test]
fn suppression_emits_one_final_result_per_time_window() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(ms(2), ms(1))?)
        .count_with(Materialized::as_("counts").with_caching_disabled());
    counts
        .to_stream()
        .map(|k, v| (k.to_string(), v))
        .to("output-raw", Produced::with(Serdes::string(), Serdes::i64()));
    counts
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .map(|k, v| (k.to_string(), v))
        .to("output-suppressed", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = start(builder.build()?)?;
    let raw = driver.create_output_topic::<String, Option<i64>>("output-raw", Serdes::string(), Serdes::i64());
    let suppressed =
        driver.create_output_topic::<String, Option<i64>>("output-suppressed", Serdes::string(), Serdes::i64());
    pipe(
        &driver,
        &[
            ("k1", "v1", 0),
            ("k1", "v1", 1),
            ("k1", "v1", 2),
            ("k1", "v1", 1),
            ("k1", "v1", 0),
        ],
    )?;
    // Nothing is final before the window closes.
    assert_eq!(suppressed.read_records_to_list()?, vec![]);
    pipe(&driver, &[("k1", "v1", 5), ("k1", "v1", 0)])?;
    let r = |k: &str, v: i64, ts: i64| TestRecord::new(s(k), Some(v), ts);
    assert_eq!(
        raw.read_records_to_list()?,
        vec![
            r("[k1@0/2]", 1, 0),
            r("[k1@0/2]", 2, 1),
            r("[k1@2/4]", 1, 2),
            r("[k1@0/2]", 3, 1),
            r("[k1@0/2]", 4, 1),
            r("[k1@4/6]", 1, 5),
        ]
    );
    assert_eq!(
        suppressed.read_records_to_list()?,
        vec![r("[k1@0/2]", 4, 1), r("[k1@2/4]", 1, 2)]
    );
    // The last record came after its window closed.
    assert_eq!(driver.total_metrics().dropped_records, 1);
    Ok(())
}

/// Kafka's `SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows`.
#[test]
fn suppression_emits_one_final_result_per_session() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(0))?)
        .count_with(Materialized::as_("counts").with_caching_disabled());
    counts.to_stream().map(|k, v| (k.to_string(), v)).to(
        "output-raw",
        Produced::with(Serdes::string(), Serdes::nullable(Serdes::i64())),
    );
    counts
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .map(|k, v| (k.to_string(), v))
        .to(
            "output-suppressed",
            Produced::with(Serdes::string(), Serdes::nullable(Serdes::i64())),
        );
    let driver = start(builder.build()?)?;
    pipe(
        &driver,
        &[
            ("k1", "v1", 0),
            ("k1", "v1", 5),
            ("k1", "v1", 1),
            ("k2", "v1", 11),
            ("k1", "v1", 5),
            ("k1", "v1", 30),
        ],
    )?;
    let raw = driver.create_output_topic::<String, Option<i64>>("output-raw", Serdes::string(), Serdes::i64());
    let suppressed =
        driver.create_output_topic::<String, Option<i64>>("output-suppressed", Serdes::string(), Serdes::i64());
    let r = |k: &str, v: Option<i64>, ts: i64| TestRecord::new(s(k), v, ts);
    assert_eq!(
        raw.read_records_to_list()?,
        vec![
            r("[k1@0/0]", Some(1), 0),
            r("[k1@0/0]", None, 0),
            r("[k1@0/5]", Some(2), 5),
            r("[k1@0/5]", None, 5),
            r("[k1@0/5]", Some(3), 5),
            r("[k2@11/11]", Some(1), 11),
            r("[k1@30/30]", Some(1), 30),
        ]
    );
    assert_eq!(
        suppressed.read_records_to_list()?,
        vec![r("[k1@0/5]", Some(3), 5), r("[k2@11/11]", Some(1), 11)]
    );
    assert_eq!(driver.total_metrics().dropped_records, 1);
    Ok(())
}

#[test]
fn a_full_suppression_buffer_fails_the_task() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).expect("valid windows"))
            .count()
            .suppress(Suppressed::until_window_closes(BufferConfig::max_records(1)))
    })?;
    let driver = start(topology)?;
    pipe(&driver, &[("a", "x", 1), ("a", "x", 2)])?;
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let error = input
        .pipe_input_at(s("b"), s("x"), 3)
        .expect_err("a second window overflows a one-record buffer");
    let message = error.to_string();
    assert!(
        message.contains("KTABLE-SUPPRESS-0000000003") && message.contains("currently [2/1] records"),
        "{message}"
    );
    Ok(())
}

#[test]
fn suppress_without_windows_upstream_and_short_retention_fail_the_build() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)).expect("valid windows"))
        .count_with(Materialized::as_("counts").with_retention(ms(12)));
    let error = builder.build().expect_err("retention shorter than size + grace");
    assert!(
        error
            .to_string()
            .contains("the retention period of window store `counts` (12 ms) must be no smaller than its window size plus the grace period (15 ms)"),
        "{error}"
    );
}

#[test]
fn window_stores_restore_from_their_changelog() -> Result<(), StreamsError> {
    let topology = || {
        windowed_topology(|g| {
            g.windowed_by(TimeWindows::of_size_with_no_grace(ms(10)).expect("valid windows"))
                .count_with(Materialized::as_("counts"))
        })
    };
    let first = start(topology()?)?;
    pipe(&first, &[("a", "x", 1), ("a", "x", 2), ("b", "x", 3)])?;
    let changelog: Vec<streams_state::ChangelogRecord> = first
        .produced_records("test-app-counts-changelog")
        .into_iter()
        .map(|r| streams_state::ChangelogRecord {
            key: r.key.unwrap_or_default(),
            value: r.value,
            timestamp: r.timestamp,
        })
        .collect();
    let second = start(topology()?)?;
    second.restore_store("counts", 0, &changelog)?;
    // The restored counts continue where the first instance stopped.
    pipe(&second, &[("a", "x", 4)])?;
    assert_eq!(
        time_output(&second, 10, Serdes::i64())?,
        vec![rec(wk("a", 0, 10), Some(3), 4)]
    );
    Ok(())
}

mod brute_force {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A tumbling count's last update per window equals a recount of the records that were
        /// in grace when they came; the others are the dropped records.
        #[test]
        fn tumbling_count_matches_a_recount_of_the_in_grace_records(
            records in proptest::collection::vec((0u8..3, 0i64..120), 1..60),
            size in 1u64..20,
            grace in 0u64..15,
        ) {
            let topology = windowed_topology(|g| {
                g.windowed_by(TimeWindows::of_size_and_grace(ms(size), ms(grace)).expect("valid windows")).count()
            }).expect("topology builds");
            let driver = start(topology).expect("driver starts");
            let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
            let (size, grace) = (size as i64, grace as i64);
            let mut observed = i64::MIN;
            let mut expected: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
            let mut dropped = 0u64;
            for (key, ts) in &records {
                let key = format!("k{key}");
                input.pipe_input_at(key.clone(), s("v"), *ts).expect("record processed");
                observed = observed.max(*ts);
                let start = ts / size * size;
                if start + size > observed - grace {
                    let entry = expected.entry((key, start)).or_insert((0, *ts));
                    entry.0 += 1;
                    entry.1 = entry.1.max(*ts);
                } else {
                    dropped += 1;
                }
            }
            let mut last: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
            for record in time_output(&driver, size as u64, Serdes::i64()).expect("output reads") {
                prop_assert_eq!(record.key.window.end, record.key.window.start + size);
                let count = record.value.expect("counts are never deleted");
                last.insert((record.key.key, record.key.window.start), (count, record.timestamp));
            }
            prop_assert_eq!(last, expected);
            prop_assert_eq!(driver.total_metrics().dropped_records, dropped);
        }
    }
}
