//! Tables and stream-table joins: table sources with upserts and tombstones, KTable filter,
//! filter_not, map_values and to_stream, and KStream-KTable join / left_join with exact
//! output records.

use streams_core::dsl::{Consumed, Joined, KStream, KTable, Materialized, Produced, StreamsBuilder};
use streams_core::processor::{Headers, ValueAndTimestamp};
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

mod common;
use common::GUIDE_TIMELINE;

fn s(text: &str) -> String {
    text.to_owned()
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// The table of `t` (String -> String, materialized as `rows`) through `op`, its changes
/// written to `out`.
fn table_topology(op: impl FnOnce(KTable<String, String>) -> KTable<String, String>) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let table = builder.table_with(
        "t",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("rows"),
    );
    op(table).to_stream().to("out", Produced::new());
    builder.build()
}

type Out = Vec<TestRecord<String, Option<String>>>;

/// Pipes `(key, value, timestamp)` records (a `None` value is a tombstone) into `t` and returns
/// what `out` received.
fn run_table(driver: &TopologyTestDriver, records: &[(&str, Option<&str>, i64)]) -> Result<Out, StreamsError> {
    let input = driver.create_input_topic::<String, Option<String>>("t", Serdes::string(), Serdes::string());
    for (k, v, ts) in records {
        input.pipe_input_at(s(k), v.map(s), *ts)?;
    }
    driver
        .create_output_topic::<String, Option<String>>("out", Serdes::string(), Serdes::string())
        .read_records_to_list()
}

#[test]
fn a_table_upserts_rows_and_a_tombstone_deletes_one() -> Result<(), StreamsError> {
    for config in [DriverConfig::default(), DriverConfig::default().with_cache_max_bytes(0)] {
        let driver = TopologyTestDriver::with_config(table_topology(|t| t)?, config)?;
        let out = run_table(
            &driver,
            &[
                ("a", Some("1"), 10),
                ("b", Some("2"), 11),
                ("a", Some("3"), 12),
                ("a", None, 13),
                // A tombstone for a key the table does not hold changes nothing.
                ("zzz", None, 14),
            ],
        )?;
        assert_eq!(
            out,
            vec![
                TestRecord::new(s("a"), some("1"), 10),
                TestRecord::new(s("b"), some("2"), 11),
                TestRecord::new(s("a"), some("3"), 12),
                TestRecord::new(s("a"), None, 13),
            ]
        );
        assert_eq!(driver.store_get::<String, String>("rows", &s("a"))?, None);
        assert_eq!(
            driver.timestamped_key_value_store::<String, String>("rows")?,
            vec![(
                s("b"),
                ValueAndTimestamp {
                    value: s("2"),
                    timestamp: 11
                }
            )]
        );
        let changelog: Vec<(Option<Vec<u8>>, Option<Vec<u8>>, i64)> = driver
            .produced_records("test-app-rows-changelog")
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect();
        assert_eq!(
            changelog,
            vec![
                (Some(b"a".to_vec()), Some(b"1".to_vec()), 10),
                (Some(b"b".to_vec()), Some(b"2".to_vec()), 11),
                (Some(b"a".to_vec()), Some(b"3".to_vec()), 12),
                (Some(b"a".to_vec()), None, 13),
            ]
        );
    }
    Ok(())
}

#[test]
fn a_table_forwards_updates_that_repeat_the_value() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(table_topology(|t| t)?)?;
    let out = run_table(
        &driver,
        &[
            ("a", Some("1"), 10),
            // Same value, later: still an update downstream (Kafka Streams 2.8+).
            ("a", Some("1"), 20),
            // Same value, earlier: out of order, logged, and forwarded.
            ("a", Some("1"), 5),
        ],
    )?;
    assert_eq!(
        out,
        vec![
            TestRecord::new(s("a"), some("1"), 10),
            TestRecord::new(s("a"), some("1"), 20),
            TestRecord::new(s("a"), some("1"), 5),
        ]
    );
    Ok(())
}

#[test]
fn ktable_filter_turns_updates_that_fail_into_tombstones() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(table_topology(|t| t.filter(|_, v| v.starts_with('y')))?)?;
    let out = run_table(
        &driver,
        &[
            ("a", Some("yes"), 1),
            ("a", Some("no"), 2),
            ("b", Some("nope"), 3),
            ("c", Some("yay"), 4),
            ("c", None, 5),
        ],
    )?;
    assert_eq!(
        out,
        vec![
            TestRecord::new(s("a"), some("yes"), 1),
            TestRecord::new(s("a"), None, 2),
            TestRecord::new(s("b"), None, 3),
            TestRecord::new(s("c"), some("yay"), 4),
            TestRecord::new(s("c"), None, 5),
        ]
    );
    Ok(())
}

#[test]
fn ktable_filter_not_turns_updates_that_match_into_tombstones() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(table_topology(|t| t.filter_not(|k, _| k == "hidden"))?)?;
    let out = run_table(&driver, &[("hidden", Some("x"), 1), ("shown", Some("y"), 2)])?;
    assert_eq!(
        out,
        vec![
            TestRecord::new(s("hidden"), None, 1),
            TestRecord::new(s("shown"), some("y"), 2),
        ]
    );
    Ok(())
}

#[test]
fn ktable_map_values_maps_rows_and_passes_deletes_through() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .table::<String, String>("t", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values(|k, v| (k.len() * 100 + v.len()) as i64)
        .to_stream()
        .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic::<String, Option<String>>("t", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("ab"), some("xyz"), 1)?;
    input.pipe_input_at(s("ab"), None, 2)?;
    let output = driver.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("ab"), Some(203), 1),
            TestRecord::new(s("ab"), None, 2)
        ]
    );
    let raw: Vec<Option<Vec<u8>>> = driver.produced_records("out").into_iter().map(|r| r.value).collect();
    assert_eq!(raw, vec![Some(203i64.to_be_bytes().to_vec()), None]);
    Ok(())
}

#[test]
fn a_table_without_a_name_gets_kafkas_generated_store_name() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let table = builder.table::<String, String>("users", Consumed::with(Serdes::string(), Serdes::string()));
    assert_eq!(table.queryable_store_name(), Some("users-STATE-STORE-0000000000"));
    table.to_stream().to("out", Produced::new());
    let description = builder.build()?.describe().to_string();
    assert!(description.contains("Source: KSTREAM-SOURCE-0000000001 (topics: [users])"));
    assert!(description.contains("Processor: KTABLE-SOURCE-0000000002 (stores: [users-STATE-STORE-0000000000])"));
    Ok(())
}

/// Clicks (user -> page) joined with users (user -> name) by `join`, written to `out`.
fn join_topology(
    join: impl FnOnce(KStream<String, String>, &KTable<String, String>) -> KStream<String, String>,
) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let users = builder.table::<String, String>("users", Consumed::with(Serdes::string(), Serdes::string()));
    let clicks = builder.stream::<String, String>("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    join(clicks, &users).to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder.build()
}

enum Input {
    User(&'static str, Option<&'static str>, i64),
    Click(&'static str, &'static str, i64),
}

fn run_join(topology: Topology, inputs: &[Input]) -> Result<Vec<TestRecord<String, String>>, StreamsError> {
    let driver = TopologyTestDriver::new(topology)?;
    let users = driver.create_input_topic::<String, Option<String>>("users", Serdes::string(), Serdes::string());
    let mut clicks = driver.create_input_topic::<String, String>("clicks", Serdes::string(), Serdes::string());
    for input in inputs {
        match input {
            Input::User(k, v, ts) => users.pipe_input_at(s(k), v.map(s), *ts)?,
            Input::Click(k, v, ts) => {
                let mut headers = Headers::new();
                headers.add("click", *v);
                clicks.pipe_record(TestRecord::new(s(k), s(v), *ts).with_headers(headers))?
            }
        }
    }
    driver
        .create_output_topic::<String, String>("out", Serdes::string(), Serdes::string())
        .read_records_to_list()
}

const JOIN_SCRIPT: [Input; 7] = [
    // No user row yet.
    Input::Click("alice", "home", 5),
    // Table updates alone produce nothing.
    Input::User("alice", Some("Alice"), 10),
    Input::User("bob", Some("Bob"), 11),
    // The result takes the click's timestamp, even when it is older than the row.
    Input::Click("alice", "cart", 8),
    Input::Click("bob", "home", 30),
    // The row is deleted: alice stops matching.
    Input::User("alice", None, 40),
    Input::Click("alice", "pay", 50),
];

fn click(key: &str, value: &str, ts: i64, page: &str) -> TestRecord<String, String> {
    let mut headers = Headers::new();
    headers.add("click", page);
    TestRecord::new(s(key), s(value), ts).with_headers(headers)
}

#[test]
fn join_emits_only_for_stream_records_with_a_table_row() -> Result<(), StreamsError> {
    let out = run_join(
        join_topology(|clicks, users| clicks.join(users, |page, name| format!("{name} on {page}")))?,
        &JOIN_SCRIPT,
    )?;
    assert_eq!(
        out,
        vec![
            click("alice", "Alice on cart", 8, "cart"),
            click("bob", "Bob on home", 30, "home"),
        ]
    );
    Ok(())
}

#[test]
fn left_join_emits_for_every_stream_record_with_none_when_there_is_no_row() -> Result<(), StreamsError> {
    let out = run_join(
        join_topology(|clicks, users| {
            clicks.left_join(users, |page, name| {
                format!("{} on {page}", name.map_or("nobody", String::as_str))
            })
        })?,
        &JOIN_SCRIPT,
    )?;
    assert_eq!(
        out,
        vec![
            click("alice", "nobody on home", 5, "home"),
            click("alice", "Alice on cart", 8, "cart"),
            click("bob", "Bob on home", 30, "home"),
            click("alice", "nobody on pay", 50, "pay"),
        ]
    );
    Ok(())
}

#[test]
fn a_rekeyed_stream_is_repartitioned_before_the_join_with_the_table_partition_count() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let users = builder.table::<String, String>("users", Consumed::with(Serdes::string(), Serdes::string()));
    builder
        .stream::<String, String>("visits", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, user| user.clone())
        .join_with(
            &users,
            |visit, name| format!("{name}:{visit}"),
            Joined::with(Serdes::string(), Serdes::string(), Serdes::string()).with_name("by-user"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build()?;
    let config = DriverConfig::default().with_partitions("users", 2);
    let internal: Vec<(String, i32)> = topology
        .internal_topics("test-app", &|t| Some(if t == "users" { 2 } else { 1 }))?
        .into_iter()
        .map(|t| (t.name, t.partitions))
        .collect();
    assert_eq!(
        internal,
        vec![
            (s("test-app-by-user-repartition"), 2),
            (s("test-app-users-STATE-STORE-0000000000-changelog"), 2),
        ]
    );
    let driver = TopologyTestDriver::with_config(topology, config)?;
    let users = driver.create_input_topic::<String, Option<String>>("users", Serdes::string(), Serdes::string());
    let visits = driver.create_input_topic::<String, String>("visits", Serdes::string(), Serdes::string());
    users.pipe_input_at(s("u1"), some("Ann"), 1)?;
    users.pipe_input_at(s("u2"), some("Ben"), 2)?;
    visits.pipe_input_at(s("v1"), s("u2"), 3)?;
    visits.pipe_input_at(s("v2"), s("u1"), 4)?;
    visits.pipe_input_at(s("v3"), s("u3"), 5)?;
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("u2"), s("Ben:u2"), 3),
            TestRecord::new(s("u1"), s("Ann:u1"), 4),
        ]
    );
    Ok(())
}

/// Users (user -> name) and clicks (user -> page), keys nullable, joined by `join`.
fn nullable_key_join(
    join: impl FnOnce(KStream<Option<String>, String>, &KTable<Option<String>, String>) -> KStream<Option<String>, String>,
) -> Result<TopologyTestDriver, StreamsError> {
    let builder = StreamsBuilder::new();
    let users = builder.table::<Option<String>, String>("users", Consumed::with(Serdes::string(), Serdes::string()));
    let clicks = builder.stream::<Option<String>, String>("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    join(clicks, &users).to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let users =
        driver.create_input_topic::<Option<String>, Option<String>>("users", Serdes::string(), Serdes::string());
    let clicks = driver.create_input_topic::<Option<String>, String>("clicks", Serdes::string(), Serdes::string());
    users.pipe_input_at(None, some("Ghost"), 1)?;
    users.pipe_input_at(Some(s("a")), some("Ann"), 2)?;
    users.pipe_input_at(None, None, 3)?;
    clicks.pipe_input_at(None, s("home"), 4)?;
    clicks.pipe_input_at(Some(s("a")), s("cart"), 5)?;
    Ok(driver)
}

#[test]
fn null_keys_are_dropped_by_tables_and_joins_and_left_joined_with_nothing() -> Result<(), StreamsError> {
    // Kafka Streams' KTableSource and KStreamKTableJoin drop records with null keys (counted
    // as dropped records); a left join passes them to the joiner without a row (KIP-962).
    let inner = nullable_key_join(|clicks, users| clicks.join(users, |page, name| format!("{name} on {page}")))?;
    let output = inner.create_output_topic::<Option<String>, String>("out", Serdes::string(), Serdes::string());
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(Some(s("a")), s("Ann on cart"), 5)]
    );
    assert_eq!(inner.total_metrics().dropped_records, 3);
    assert_eq!(
        inner.key_value_store::<Option<String>, String>("users-STATE-STORE-0000000000")?,
        vec![(Some(s("a")), s("Ann"))]
    );

    let left = nullable_key_join(|clicks, users| {
        clicks.left_join(users, |page, name| {
            format!("{} on {page}", name.map_or("nobody", String::as_str))
        })
    })?;
    let output = left.create_output_topic::<Option<String>, String>("out", Serdes::string(), Serdes::string());
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(None, s("nobody on home"), 4),
            TestRecord::new(Some(s("a")), s("Ann on cart"), 5),
        ]
    );
    assert_eq!(left.total_metrics().dropped_records, 2);
    Ok(())
}

#[test]
fn a_join_reads_a_filtered_and_mapped_table_through_its_operators() -> Result<(), StreamsError> {
    // Kafka's KTableFilter and KTableMapValues value getters: a row failing the filter is no
    // row, a mapped row is read mapped.
    let out = run_join(
        join_topology(|clicks, users| {
            let vip = users
                .filter(|_, name| name.starts_with('A'))
                .map_values(|_, name| name.to_uppercase());
            clicks.left_join(&vip, |page, name| {
                format!("{} on {page}", name.map_or("nobody", String::as_str))
            })
        })?,
        &JOIN_SCRIPT,
    )?;
    assert_eq!(
        out,
        vec![
            click("alice", "nobody on home", 5, "home"),
            click("alice", "ALICE on cart", 8, "cart"),
            click("bob", "nobody on home", 30, "home"),
            click("alice", "nobody on pay", 50, "pay"),
        ]
    );
    Ok(())
}

#[test]
fn a_task_takes_buffered_records_of_its_inputs_in_timestamp_order() -> Result<(), StreamsError> {
    use std::sync::{Arc, Mutex};
    use streams_core::internals::{RecordCollector, TaskId};
    use streams_core::processor::{ProducerRecord, RawRecord};
    use streams_core::topology::TaskConfig;

    #[derive(Default)]
    struct Collected(Mutex<Vec<ProducerRecord>>);

    impl RecordCollector for Collected {
        fn send(&self, record: ProducerRecord) -> Result<(), StreamsError> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(record);
            Ok(())
        }
        fn partitions_for(&self, _topic: &str) -> Option<i32> {
            Some(1)
        }
        fn flush(&self) -> Result<(), StreamsError> {
            Ok(())
        }
    }

    let topology = join_topology(|clicks, users| {
        clicks.left_join(users, |page, name| {
            format!("{}:{page}", name.map_or("-", String::as_str))
        })
    })?;
    let collected = Arc::new(Collected::default());
    let config = TaskConfig::new("app", Arc::clone(&collected) as Arc<dyn RecordCollector>);
    let mut task = topology.create_task(
        TaskId {
            subtopology: 0,
            partition: 0,
        },
        &config,
    )?;
    let raw = |key: &str, value: &str, timestamp: i64, offset: i64| RawRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        timestamp,
        offset,
        headers: Headers::new(),
    };
    // Buffered before processing: the user row (t=5) comes after the first click (t=3) and
    // before the second (t=7), whatever order the inputs were filled in.
    task.add_records("users", [raw("u", "Una", 5, 0)])?;
    task.add_records("clicks", [raw("u", "a", 3, 0), raw("u", "b", 7, 1)])?;
    assert_eq!(task.buffered(), 3);
    assert_eq!(task.process_all()?, 3);
    assert_eq!(task.stream_time(), 7);
    let values: Vec<Option<Vec<u8>>> = collected
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|r| &*r.topic == "out")
        .map(|r| r.value.clone())
        .collect();
    assert_eq!(values, vec![Some(b"-:a".to_vec()), Some(b"Una:b".to_vec())]);
    Ok(())
}

/// The timeline of Kafka Streams' DSL guide, section "KStream-KTable Join" (its table of join
/// semantics): one key, records in timestamp order, stream and table records alternating;
/// null stream values are dropped (and counted), table tombstones delete the row. The same
/// results against a versioned table (everything arrives in order).
#[test]
fn stream_table_joins_follow_the_dsl_guide_timeline() -> Result<(), StreamsError> {
    for versioned in [false, true] {
        for left in [false, true] {
            let builder = StreamsBuilder::new();
            let materialized = if versioned {
                Materialized::as_versioned("right", std::time::Duration::from_secs(60))
            } else {
                Materialized::as_("right")
            };
            let table = builder.table_with(
                "right",
                Consumed::with(Serdes::string(), Serdes::string()),
                materialized,
            );
            let stream = builder.stream::<String, Option<String>>(
                "left",
                Consumed::with(Serdes::string(), Serdes::nullable(Serdes::string())),
            );
            let show = |v: Option<&String>| v.map_or_else(|| s("null"), Clone::clone);
            let joined = if left {
                stream.left_join(&table, move |l: &Option<String>, r: Option<&String>| {
                    format!("[{}, {}]", show(l.as_ref()), show(r))
                })
            } else {
                stream.join(&table, move |l: &Option<String>, r: &String| {
                    format!("[{}, {}]", show(l.as_ref()), show(Some(r)))
                })
            };
            joined.to("out", Produced::with(Serdes::string(), Serdes::string()));
            let driver = TopologyTestDriver::new(builder.build()?)?;
            let stream_in = driver.create_input_topic::<String, Option<String>>(
                "left",
                Serdes::string(),
                Serdes::nullable(Serdes::string()),
            );
            let table_in =
                driver.create_input_topic::<String, Option<String>>("right", Serdes::string(), Serdes::string());
            let out = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
            let mut emitted = Vec::new();
            for (ts, is_stream, value) in GUIDE_TIMELINE {
                let value = value.map(s);
                if is_stream {
                    stream_in.pipe_input_at(s("k"), value, ts)?;
                } else {
                    table_in.pipe_input_at(s("k"), value, ts)?;
                }
                for record in out.read_records_to_list()? {
                    emitted.push((record.timestamp, record.value));
                }
            }
            let expected: Vec<(i64, String)> = if left {
                vec![
                    (3, s("[A, null]")),
                    (5, s("[B, a]")),
                    (9, s("[C, null]")),
                    (15, s("[D, d]")),
                ]
            } else {
                vec![(5, s("[B, a]")), (15, s("[D, d]"))]
            };
            assert_eq!(emitted, expected, "versioned={versioned} left={left}");
            // The three null stream values are dropped and counted.
            assert_eq!(
                driver.total_metrics().dropped_records,
                3,
                "versioned={versioned} left={left}"
            );
        }
    }
    Ok(())
}
