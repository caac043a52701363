//! Windowed aggregations and suppression through the testkit: exact windowed keys, values,
//! timestamps, dropped-record counts, changelog layouts and generated names. Several scenarios
//! are transcribed from Kafka Streams' own tests (named where they are).

use std::time::Duration;

use streams_core::dsl::{
    BufferConfig, Consumed, KGroupedStream, KTable, Materialized, Produced, SessionWindows, SlidingWindows,
    StreamsBuilder, Suppressed, TimeWindows, Window, Windowed,
};
use streams_core::serde::{Serde, Serdes, SessionWindowedSerde, TimeWindowedSerde};
use streams_core::state::StoreType;
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

/// The driver's defaults: a 10 MiB cache and a commit after every record, so the cache of a
/// windowed store forwards what each record changed.
fn start(topology: Topology) -> Result<TopologyTestDriver, StreamsError> {
    TopologyTestDriver::with_config(topology, DriverConfig::default())
}

/// No cache: every update of a windowed store is forwarded as it is made.
fn uncached() -> DriverConfig {
    DriverConfig::default().with_cache_max_bytes(0)
}

/// A 10 MiB cache, committed only when the test says so.
fn cached_manual_commit() -> DriverConfig {
    DriverConfig::default().with_manual_commit()
}

/// Pipes `records`, committing after every `every` of them and after the last.
fn pipe_committing(
    driver: &TopologyTestDriver,
    records: &[(&str, &str, i64)],
    every: usize,
) -> Result<(), StreamsError> {
    for chunk in records.chunks(every) {
        pipe(driver, chunk)?;
        driver.commit()?;
    }
    Ok(())
}

/// The changelog of `store` as (key, value, timestamp).
fn changelog(driver: &TopologyTestDriver, store: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>, i64)> {
    driver
        .produced_records(&format!("test-app-{store}-changelog"))
        .into_iter()
        .map(|r| (r.key.unwrap_or_default(), r.value, r.timestamp))
        .collect()
}

/// A window store key: `key ++ start ++ seqnum 0`.
fn window_key(key: &str, start: i64) -> Vec<u8> {
    streams_state::window::window_store_key(key.as_bytes(), start, 0)
}

/// A session store key: `key ++ end ++ start`.
fn session_key(key: &str, start: i64, end: i64) -> Vec<u8> {
    streams_state::window::session_store_key(key.as_bytes(), start, end)
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
/// Without a cache every removal and put is forwarded.
#[test]
fn session_windows_merge_and_tombstone_the_merged_sessions() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20)).expect("valid windows"))
            .count()
    })?;
    let driver = TopologyTestDriver::with_config(topology, uncached())?;
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
    let changelog = first.changelog("counts", 0);
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

// ---------------------------------------------------------------------------------------------
// The write cache of windowed stores (Kafka Streams' CachingWindowStore / CachingSessionStore)

const TUMBLING_RECORDS: [(&str, &str, i64); 8] = [
    ("a", "x", 1),
    ("a", "x", 5),
    ("b", "x", 8),
    ("a", "x", 12),
    ("a", "x", 3),
    ("a", "x", 17),
    // Stream time 17, grace 5: [0, 10) is closed, the record is dropped.
    ("a", "x", 4),
    ("b", "x", 25),
];

fn tumbling_count() -> Result<Topology, StreamsError> {
    windowed_topology(|g| {
        g.windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5)).expect("valid windows"))
            .count()
    })
}

/// With a cache and a commit every three records, each commit forwards the latest count of
/// every window updated since the last one, in the order the windows were last updated, with
/// the largest record timestamp of the window; the changelog gets the same coalesced updates.
#[test]
fn a_cached_tumbling_count_emits_the_latest_count_per_window_at_each_commit() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::with_config(tumbling_count()?, cached_manual_commit())?;
    pipe(&driver, &TUMBLING_RECORDS[..3])?;
    // Nothing leaves before the commit.
    assert_eq!(time_output(&driver, 10, Serdes::i64())?, vec![]);
    driver.commit()?;
    assert_eq!(
        time_output(&driver, 10, Serdes::i64())?,
        vec![rec(wk("a", 0, 10), Some(2), 5), rec(wk("b", 0, 10), Some(1), 8)]
    );
    pipe_committing(&driver, &TUMBLING_RECORDS[3..], 3)?;
    assert_eq!(
        time_output(&driver, 10, Serdes::i64())?,
        vec![
            // [0, 10) was last updated by the record at 3, after [10, 20) by the one at 12.
            rec(wk("a", 0, 10), Some(3), 5),
            rec(wk("a", 10, 20), Some(2), 17),
            rec(wk("b", 20, 30), Some(1), 25),
        ]
    );
    assert_eq!(driver.total_metrics().dropped_records, 1);
    // The changelog carries the coalesced updates, each at its row's timestamp (the largest
    // record timestamp of the window).
    let count = |n: i64| Some(n.to_be_bytes().to_vec());
    assert_eq!(
        changelog(&driver, "KSTREAM-AGGREGATE-STATE-STORE-0000000001"),
        vec![
            (window_key("a", 0), count(2), 5),
            (window_key("b", 0), count(1), 8),
            (window_key("a", 0), count(3), 5),
            (window_key("a", 10), count(2), 17),
            (window_key("b", 20), count(1), 25),
        ]
    );
    Ok(())
}

/// Without a cache the commits change nothing: one update per record and window.
#[test]
fn an_uncached_tumbling_count_emits_every_update_whatever_the_commits() -> Result<(), StreamsError> {
    let expected = vec![
        rec(wk("a", 0, 10), Some(1), 1),
        rec(wk("a", 0, 10), Some(2), 5),
        rec(wk("b", 0, 10), Some(1), 8),
        rec(wk("a", 10, 20), Some(1), 12),
        rec(wk("a", 0, 10), Some(3), 5),
        rec(wk("a", 10, 20), Some(2), 17),
        rec(wk("b", 20, 30), Some(1), 25),
    ];
    for commit_every in [1, 3, 8] {
        let driver = TopologyTestDriver::with_config(tumbling_count()?, uncached().with_manual_commit())?;
        pipe_committing(&driver, &TUMBLING_RECORDS, commit_every)?;
        assert_eq!(
            time_output(&driver, 10, Serdes::i64())?,
            expected,
            "commit every {commit_every}"
        );
        assert_eq!(driver.total_metrics().dropped_records, 1);
    }
    // With the driver's defaults (cache on, commit after each record) the output is the same.
    let driver = start(tumbling_count()?)?;
    pipe(&driver, &TUMBLING_RECORDS)?;
    assert_eq!(time_output(&driver, 10, Serdes::i64())?, expected);
    Ok(())
}

/// A record of hopping windows updates several cached windows; one commit forwards each once.
#[test]
fn a_cached_hopping_count_forwards_each_window_once_per_commit() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(
            TimeWindows::of_size_with_no_grace(ms(10))
                .and_then(|w| w.advance_by(ms(5)))
                .expect("valid windows"),
        )
        .count()
    })?;
    let driver = TopologyTestDriver::with_config(topology, cached_manual_commit())?;
    pipe_committing(&driver, &[("a", "x", 12), ("a", "x", 14), ("a", "x", 16)], 3)?;
    assert_eq!(
        time_output(&driver, 10, Serdes::i64())?,
        vec![
            rec(wk("a", 5, 15), Some(2), 14),
            rec(wk("a", 10, 20), Some(3), 16),
            rec(wk("a", 15, 25), Some(1), 16),
        ]
    );
    Ok(())
}

/// Kafka's `testAggregateSmallInput` once more, committed once at the end: the sliding-window
/// algorithm reads its earlier windows through the cache (backward range scans) and the
/// commit forwards the final aggregate of each window, in the order of their last update.
#[test]
fn cached_sliding_windows_read_their_windows_through_the_cache() -> Result<(), StreamsError> {
    let topology = windowed_topology(|g| {
        g.windowed_by(SlidingWindows::of_time_difference_and_grace(ms(10), ms(50)).expect("valid windows"))
            .aggregate(
                || s("0"),
                |_, v, agg| format!("{agg}+{v}"),
                Materialized::with(Serdes::string(), Serdes::string()),
            )
    })?;
    let driver = TopologyTestDriver::with_config(topology, cached_manual_commit())?;
    let records = [
        ("A", "1", 10),
        ("A", "2", 15),
        ("A", "3", 20),
        ("A", "4", 22),
        ("A", "5", 30),
    ];
    pipe_committing(&driver, &records, records.len())?;
    let v = |text: &str| Some(s(text));
    assert_eq!(
        time_output(&driver, 10, Serdes::string())?,
        vec![
            rec(wk("A", 0, 10), v("0+1"), 10),
            rec(wk("A", 5, 15), v("0+1+2"), 15),
            rec(wk("A", 11, 21), v("0+2+3"), 20),
            rec(wk("A", 10, 20), v("0+1+2+3"), 20),
            rec(wk("A", 16, 26), v("0+3+4"), 22),
            rec(wk("A", 12, 22), v("0+2+3+4"), 22),
            rec(wk("A", 21, 31), v("0+4+5"), 30),
            rec(wk("A", 23, 33), v("0+5"), 30),
            rec(wk("A", 20, 30), v("0+3+4+5"), 30),
        ]
    );
    Ok(())
}

fn session_count() -> Result<Topology, StreamsError> {
    windowed_topology(|g| {
        g.windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20)).expect("valid windows"))
            .count()
    })
}

/// Session merges through the cache: sessions written down before the merge are deleted
/// downstream (timestamped with their end), a session created and merged between two commits
/// never leaves the cache, and a session removed and put back by one record leaves as one
/// update.
#[test]
fn cached_session_merges_tombstone_the_merged_sessions_once() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::with_config(session_count()?, cached_manual_commit())?;
    pipe_committing(&driver, &[("a", "x", 0), ("a", "x", 20)], 2)?;
    pipe_committing(
        &driver,
        &[
            // Merges [0, 0] and [20, 20] into [0, 20].
            ("a", "x", 10),
            // Inside [0, 20]: removed and put back, grown by one.
            ("a", "x", 15),
            // [30, 30], merged into [30, 36] before the commit.
            ("b", "x", 30),
            ("b", "x", 36),
        ],
        4,
    )?;
    assert_eq!(
        session_output(&driver, Serdes::i64())?,
        vec![
            rec(wk("a", 0, 0), Some(1), 0),
            rec(wk("a", 20, 20), Some(1), 20),
            rec(wk("a", 0, 0), None, 0),
            rec(wk("a", 20, 20), None, 20),
            rec(wk("a", 0, 20), Some(4), 20),
            rec(wk("b", 30, 36), Some(2), 36),
        ]
    );
    // A session store's changelog records carry the timestamp of the record that last wrote
    // the session (the merge at 10 deleted [0, 0] and [20, 20]).
    let count = |n: i64| Some(n.to_be_bytes().to_vec());
    assert_eq!(
        changelog(&driver, "KSTREAM-AGGREGATE-STATE-STORE-0000000001"),
        vec![
            (session_key("a", 0, 0), count(1), 0),
            (session_key("a", 20, 20), count(1), 20),
            (session_key("a", 0, 0), None, 10),
            (session_key("a", 20, 20), None, 10),
            (session_key("a", 0, 20), count(4), 15),
            (session_key("b", 30, 36), count(2), 36),
        ]
    );
    Ok(())
}

/// The merge scenario of `session_windows_merge_and_tombstone_the_merged_sessions` with the
/// driver's defaults (cache on, a commit after each record): the same updates, except that the
/// session the record at 15 removes and puts back leaves as one update, not as a delete and a
/// put.
#[test]
fn cached_session_merges_committed_after_each_record() -> Result<(), StreamsError> {
    let driver = start(session_count()?)?;
    pipe(
        &driver,
        &[
            ("a", "x", 0),
            ("a", "x", 20),
            ("a", "x", 10),
            ("a", "x", 15),
            ("b", "x", 50),
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
            rec(wk("a", 0, 20), Some(4), 20),
            rec(wk("b", 50, 50), Some(1), 50),
            rec(wk("a", 40, 40), Some(1), 40),
        ]
    );
    assert_eq!(driver.total_metrics().dropped_records, 1);
    Ok(())
}

/// `SuppressScenarioTest.shouldSupportFinalResultsForTimeWindows` over a cached count (the DSL
/// default), committed after five records and then after two: the suppression sees the
/// coalesced updates and still emits exactly one final result per window, once it closes.
#[test]
fn suppression_over_a_cached_time_window_count() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(ms(2), ms(1))?)
        .count_with(Materialized::as_("counts"));
    counts
        .to_stream()
        .map(|k, v| (k.to_string(), v))
        .to("output-raw", Produced::with(Serdes::string(), Serdes::i64()));
    counts
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .map(|k, v| (k.to_string(), v))
        .to("output-suppressed", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = TopologyTestDriver::with_config(builder.build()?, cached_manual_commit())?;
    let raw = driver.create_output_topic::<String, Option<i64>>("output-raw", Serdes::string(), Serdes::i64());
    let suppressed =
        driver.create_output_topic::<String, Option<i64>>("output-suppressed", Serdes::string(), Serdes::i64());
    let r = |k: &str, v: i64, ts: i64| TestRecord::new(s(k), Some(v), ts);
    pipe_committing(
        &driver,
        &[
            ("k1", "v1", 0),
            ("k1", "v1", 1),
            ("k1", "v1", 2),
            ("k1", "v1", 1),
            ("k1", "v1", 0),
        ],
        5,
    )?;
    assert_eq!(
        raw.read_records_to_list()?,
        vec![r("[k1@2/4]", 1, 2), r("[k1@0/2]", 4, 1)]
    );
    // Stream time 2 minus grace 1 has not reached the end of [0, 2).
    assert_eq!(suppressed.read_records_to_list()?, vec![]);
    pipe_committing(&driver, &[("k1", "v1", 5), ("k1", "v1", 0)], 2)?;
    assert_eq!(raw.read_records_to_list()?, vec![r("[k1@4/6]", 1, 5)]);
    assert_eq!(
        suppressed.read_records_to_list()?,
        vec![r("[k1@0/2]", 4, 1), r("[k1@2/4]", 1, 2)]
    );
    assert_eq!(driver.total_metrics().dropped_records, 1);
    Ok(())
}

/// `SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows` with the count cached
/// (commit after each record): the session re-put by the record at 1 leaves as one update, the
/// suppressed results are Kafka's.
#[test]
fn suppression_over_a_cached_session_count() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(5), ms(0))?)
        .count_with(Materialized::as_("counts"));
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

fn changelog_records(driver: &TopologyTestDriver, store: &str) -> Vec<streams_state::ChangelogRecord> {
    changelog(driver, store)
        .into_iter()
        .map(|(key, value, timestamp)| streams_state::ChangelogRecord { key, value, timestamp })
        .collect()
}

/// A window store restored from the changelog a cached run wrote (coalesced updates only)
/// continues where that run stopped, as a run over all the records would.
#[test]
fn window_and_session_stores_restore_from_a_cached_runs_changelog() -> Result<(), StreamsError> {
    let topology = || {
        windowed_topology(|g| {
            g.windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(20)).expect("valid windows"))
                .count_with(Materialized::as_("counts"))
        })
    };
    let first = TopologyTestDriver::with_config(topology()?, cached_manual_commit())?;
    pipe_committing(
        &first,
        &[("a", "x", 1), ("a", "x", 2), ("b", "x", 3), ("a", "x", 11)],
        2,
    )?;
    let restored = changelog_records(&first, "counts");
    // Two commits: a's [0, 10) once, b's [0, 10) and a's [10, 20) once each.
    assert_eq!(restored.len(), 3);
    let second = TopologyTestDriver::with_config(
        topology()?,
        cached_manual_commit().with_restored_store("counts", 0, restored),
    )?;
    pipe_committing(&second, &[("a", "x", 4), ("b", "x", 15), ("a", "x", 12)], 3)?;
    let whole = TopologyTestDriver::with_config(topology()?, uncached())?;
    pipe(
        &whole,
        &[
            ("a", "x", 1),
            ("a", "x", 2),
            ("b", "x", 3),
            ("a", "x", 11),
            ("a", "x", 4),
            ("b", "x", 15),
            ("a", "x", 12),
        ],
    )?;
    let expected = vec![
        rec(wk("a", 0, 10), Some(3), 4),
        rec(wk("b", 10, 20), Some(1), 15),
        rec(wk("a", 10, 20), Some(2), 12),
    ];
    assert_eq!(time_output(&second, 10, Serdes::i64())?, expected);
    // The last update of each window of the uncached run over every record is the same.
    let last: Vec<_> = time_output(&whole, 10, Serdes::i64())?.split_off(4);
    assert_eq!(last, expected);

    let sessions = || {
        windowed_topology(|g| {
            g.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(10)).expect("valid windows"))
                .count_with(Materialized::as_("sessions"))
        })
    };
    let first = TopologyTestDriver::with_config(sessions()?, cached_manual_commit())?;
    pipe_committing(&first, &[("a", "x", 0), ("a", "x", 5)], 2)?;
    let restored = changelog_records(&first, "sessions");
    // [0, 0] was merged into [0, 5] before the commit: only [0, 5] was logged.
    assert_eq!(
        restored,
        vec![streams_state::ChangelogRecord {
            key: session_key("a", 0, 5),
            value: Some(2i64.to_be_bytes().to_vec()),
            timestamp: 5
        }]
    );
    let second = TopologyTestDriver::with_config(
        sessions()?,
        cached_manual_commit().with_restored_store("sessions", 0, restored),
    )?;
    pipe_committing(&second, &[("a", "x", 12)], 1)?;
    assert_eq!(
        session_output(&second, Serdes::i64())?,
        vec![rec(wk("a", 0, 5), None, 5), rec(wk("a", 0, 12), Some(3), 12)]
    );
    Ok(())
}

/// Windowed stores follow `default.dsl.store` unless `Materialized::with_store_type` names an
/// engine, as key-value stores do; on RocksDB the cached scenario gives the same records.
#[test]
fn windowed_stores_follow_the_default_store_type_and_run_cached_on_rocksdb() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    grouped
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5))?)
        .count_with(Materialized::as_("counts"))
        .to_stream()
        .to("out", Produced::new());
    grouped
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(5))?)
        .count_with(Materialized::as_("counts-in-memory").with_store_type(StoreType::InMemory))
        .to_stream()
        .to("out-in-memory", Produced::new());
    grouped
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20))?)
        .count_with(Materialized::as_("sessions"))
        .to_stream()
        .to("out-sessions", Produced::new());
    let topology = builder.build()?;
    for default in [StoreType::InMemory, StoreType::RocksDb] {
        let driver = TopologyTestDriver::with_config(
            topology.clone(),
            cached_manual_commit().with_default_store_type(default),
        )?;
        let rocksdb = default == StoreType::RocksDb;
        assert_eq!(driver.store_is_persistent("counts")?, rocksdb, "{default:?}");
        assert_eq!(driver.store_is_persistent("sessions")?, rocksdb, "{default:?}");
        assert!(!driver.store_is_persistent("counts-in-memory")?, "{default:?}");
        pipe_committing(&driver, &TUMBLING_RECORDS, 3)?;
        let expected = vec![
            rec(wk("a", 0, 10), Some(2), 5),
            rec(wk("b", 0, 10), Some(1), 8),
            rec(wk("a", 0, 10), Some(3), 5),
            rec(wk("a", 10, 20), Some(2), 17),
            rec(wk("b", 20, 30), Some(1), 25),
        ];
        for topic in ["out", "out-in-memory"] {
            let output = driver.create_output_topic::<Windowed<String>, Option<i64>>(
                topic,
                TimeWindowedSerde::new(Serdes::string(), ms(10)),
                Serdes::i64(),
            );
            assert_eq!(output.read_records_to_list()?, expected, "{default:?} {topic}");
        }
        let sessions = driver.create_output_topic::<Windowed<String>, Option<i64>>(
            "out-sessions",
            SessionWindowedSerde::new(Serdes::string()),
            Serdes::i64(),
        );
        assert_eq!(
            sessions.read_records_to_list()?,
            vec![
                // a@1, a@5, b@8, committed: a's [1, 5] and b's [8, 8].
                rec(wk("a", 1, 5), Some(2), 5),
                rec(wk("b", 8, 8), Some(1), 8),
                // a@12 merges [1, 5] into [1, 12]; a@3 and a@17 grow it to [1, 17].
                rec(wk("a", 1, 5), None, 5),
                rec(wk("a", 1, 17), Some(5), 17),
                // a@4 joins [1, 17]; b@25 starts a session of its own.
                rec(wk("a", 1, 17), Some(6), 17),
                rec(wk("b", 25, 25), Some(1), 25),
            ],
            "{default:?}"
        );
    }
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
