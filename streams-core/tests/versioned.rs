//! Versioned tables and the stream-table join against them (Kafka Streams' KIP-889, KIP-914 and
//! KIP-923), through the testkit: out-of-order table updates kept in the history and not
//! forwarded, updates older than the history retention dropped and counted, each stream record
//! joining the table as of its own timestamp, the grace-period buffer (records joined in
//! timestamp order once the stream time passes them by the grace period, late records joined
//! at once), the build-time checks, and the buffer and the table restored from their
//! changelogs, on both store engines.

use std::time::Duration;

use streams_core::dsl::{Consumed, Joined, Materialized, Produced, StreamsBuilder};
use streams_core::processor::VersionedValue;
use streams_core::serde::Serdes;
use streams_core::state::StoreType;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

const HISTORY_MS: u64 = 100;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn s(text: &str) -> String {
    text.to_owned()
}

/// How the table `regions` is materialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Plain,
    Versioned,
}

fn regions(table: Table) -> Materialized<String, String> {
    match table {
        Table::Plain => Materialized::as_("regions").with_caching_disabled(),
        Table::Versioned => Materialized::as_versioned("regions", ms(HISTORY_MS)),
    }
}

/// `clicks` joined with the table `regions` (left join when `left`), as `click@region`, with
/// an optional grace period; the table's own changes go to `table-out`.
fn join_topology(table: Table, left: bool, grace: Option<u64>) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let regions = builder.table_with(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        regions(table),
    );
    let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    let mut joined = Joined::as_("clicks-join");
    if let Some(grace) = grace {
        joined = joined.with_grace_period(ms(grace));
    }
    let out = if left {
        clicks.left_join_with(
            &regions,
            |click: &String, region: Option<&String>| format!("{click}@{}", region.map_or("none", String::as_str)),
            joined,
        )
    } else {
        clicks.join_with(
            &regions,
            |click: &String, region: &String| format!("{click}@{region}"),
            joined,
        )
    };
    out.to("out", Produced::with(Serdes::string(), Serdes::string()));
    regions.to_stream().to(
        "table-out",
        Produced::with(Serdes::string(), Serdes::nullable(Serdes::string())),
    );
    builder.build()
}

/// One input: a table update (`None`: tombstone) or a click.
#[derive(Debug, Clone, Copy)]
enum In<'a> {
    Row(&'a str, Option<&'a str>, i64),
    Click(&'a str, &'a str, i64),
}

type Out = Vec<(String, String, i64)>;

/// Pipes `inputs` and returns the join's output and the table's forwarded changes.
fn run(
    driver: &TopologyTestDriver,
    inputs: &[In<'_>],
) -> Result<(Out, Vec<(String, Option<String>, i64)>), StreamsError> {
    let rows = driver.create_input_topic::<String, Option<String>>("regions", Serdes::string(), Serdes::string());
    let clicks = driver.create_input_topic::<String, String>("clicks", Serdes::string(), Serdes::string());
    for input in inputs {
        match *input {
            In::Row(k, v, ts) => rows.pipe_input_at(s(k), v.map(s), ts)?,
            In::Click(k, v, ts) => clicks.pipe_input_at(s(k), s(v), ts)?,
        }
    }
    let out = driver
        .create_output_topic::<String, String>("out", Serdes::string(), Serdes::string())
        .read_records_to_list()?
        .into_iter()
        .map(|r: TestRecord<String, String>| (r.key, r.value, r.timestamp))
        .collect();
    let table = driver
        .create_output_topic::<String, Option<String>>("table-out", Serdes::string(), Serdes::string())
        .read_records_to_list()?
        .into_iter()
        .map(|r: TestRecord<String, Option<String>>| (r.key, r.value, r.timestamp))
        .collect();
    Ok((out, table))
}

fn out(records: &[(&str, &str, i64)]) -> Out {
    records.iter().map(|&(k, v, ts)| (s(k), s(v), ts)).collect()
}

fn config(store_type: StoreType) -> DriverConfig {
    DriverConfig::default().with_default_store_type(store_type)
}

const ENGINES: [StoreType; 2] = [StoreType::InMemory, StoreType::RocksDb];

/// A versioned table forwards the updates that become a row's latest value; an out-of-order
/// update goes into the history only, and one older than the history retention is dropped
/// and counted.
#[test]
fn a_versioned_table_forwards_only_latest_updates() -> Result<(), StreamsError> {
    for store_type in ENGINES {
        let driver =
            TopologyTestDriver::with_config(join_topology(Table::Versioned, false, None)?, config(store_type))?;
        let (_, table) = run(
            &driver,
            &[
                In::Row("alice", Some("eu"), 10),
                In::Row("alice", Some("us"), 30),
                // Out of order: history only.
                In::Row("alice", Some("apac"), 20),
                In::Row("bob", Some("eu"), 200),
                // Older than 200 - 100: dropped.
                In::Row("alice", Some("latam"), 99),
                In::Row("alice", None, 150),
                // A tombstone for a row that has none forwards nothing.
                In::Row("carol", None, 201),
            ],
        )?;
        assert_eq!(
            table,
            vec![
                (s("alice"), Some(s("eu")), 10),
                (s("alice"), Some(s("us")), 30),
                (s("bob"), Some(s("eu")), 200),
                (s("alice"), None, 150),
            ],
            "{store_type:?}"
        );
        assert_eq!(driver.total_metrics().dropped_records, 1, "{store_type:?}");
        // The store's latest rows, as interactive queries see them.
        assert_eq!(
            driver.key_value_store::<String, String>("regions")?,
            vec![(s("bob"), s("eu"))],
            "{store_type:?}"
        );
        // And its history.
        let version = |value: &str, timestamp, valid_to| {
            Some(VersionedValue {
                value: s(value),
                timestamp,
                valid_to,
            })
        };
        let alice = |as_of| driver.versioned_store_get::<String, String>("regions", &s("alice"), as_of);
        assert_eq!(alice(110)?, version("us", 30, Some(150)), "{store_type:?}");
        assert_eq!(alice(150)?, None, "{store_type:?}: deleted at 150");
        assert_eq!(alice(99)?, None, "{store_type:?}: older than the history retention");
        assert_eq!(
            driver.versioned_store_get::<String, String>("regions", &s("bob"), 500)?,
            version("eu", 200, None)
        );
    }
    Ok(())
}

/// Each click joins the row valid at its own timestamp, also when the table update came out of
/// order; against a plain table it joins whatever row is current.
#[test]
fn stream_records_join_the_versioned_table_as_of_their_timestamp() -> Result<(), StreamsError> {
    let inputs = [
        In::Row("alice", Some("eu"), 10),
        In::Row("alice", Some("us"), 30),
        In::Row("alice", Some("apac"), 20),
        In::Click("alice", "c1", 25),
        In::Click("alice", "c2", 15),
        In::Click("alice", "c3", 5),
        In::Click("alice", "c4", 35),
        In::Row("alice", None, 40),
        In::Click("alice", "c5", 45),
        In::Click("alice", "c6", 38),
    ];
    for store_type in ENGINES {
        for left in [false, true] {
            let driver =
                TopologyTestDriver::with_config(join_topology(Table::Versioned, left, None)?, config(store_type))?;
            let (joined, _) = run(&driver, &inputs)?;
            let expected = if left {
                out(&[
                    ("alice", "c1@apac", 25),
                    ("alice", "c2@eu", 15),
                    ("alice", "c3@none", 5),
                    ("alice", "c4@us", 35),
                    ("alice", "c5@none", 45),
                    ("alice", "c6@us", 38),
                ])
            } else {
                out(&[
                    ("alice", "c1@apac", 25),
                    ("alice", "c2@eu", 15),
                    ("alice", "c4@us", 35),
                    ("alice", "c6@us", 38),
                ])
            };
            assert_eq!(joined, expected, "{store_type:?} left={left}");
        }
    }
    let plain = TopologyTestDriver::new(join_topology(Table::Plain, false, None)?)?;
    let (joined, _) = run(&plain, &inputs)?;
    assert_eq!(
        joined,
        out(&[
            ("alice", "c1@apac", 25),
            ("alice", "c2@apac", 15),
            ("alice", "c3@apac", 5),
            ("alice", "c4@apac", 35)
        ]),
        "a plain table holds the last update it read"
    );
    Ok(())
}

/// With a grace period, clicks wait until the stream time passes them by the grace period, so
/// a table update arriving after a click (but not later than the grace period) is still
/// seen; waiting clicks leave in timestamp order; a click later than the grace period joins
/// at once.
#[test]
fn a_grace_period_buffers_stream_records_until_the_table_caught_up() -> Result<(), StreamsError> {
    let inputs = [
        // Stream time 20: nothing is due before 10.
        In::Click("alice", "c1", 20),
        // The row for c1 arrives after it.
        In::Row("alice", Some("eu"), 15),
        In::Click("bob", "b1", 28),
        In::Click("bob", "b2", 24),
        In::Row("bob", Some("us"), 22),
        // Stream time 31: c1 (20) is due.
        In::Click("alice", "c2", 31),
        // Stream time 40: b2 (24) and b1 (28), in timestamp order; c2 (31) still waits.
        In::Click("carol", "x1", 40),
        // Later than the grace period (40 - 10 > 5): joined at once.
        In::Click("alice", "late", 5),
        // Stream time 60: c2 (31) and x1 (40).
        In::Click("alice", "c3", 60),
    ];
    for store_type in ENGINES {
        for left in [false, true] {
            let driver =
                TopologyTestDriver::with_config(join_topology(Table::Versioned, left, Some(10))?, config(store_type))?;
            let (joined, _) = run(&driver, &inputs)?;
            let mut expected = vec![("alice", "c1@eu", 20), ("bob", "b2@us", 24), ("bob", "b1@us", 28)];
            if left {
                expected.push(("alice", "late@none", 5));
            }
            expected.push(("alice", "c2@eu", 31));
            if left {
                expected.push(("carol", "x1@none", 40));
            }
            assert_eq!(joined, out(&expected), "{store_type:?} left={left}");
        }
    }
    // Without the grace period, c1, b1 and b2 find no row yet.
    let driver = TopologyTestDriver::new(join_topology(Table::Versioned, true, None)?)?;
    let (joined, _) = run(&driver, &inputs)?;
    assert_eq!(
        joined,
        out(&[
            ("alice", "c1@none", 20),
            ("bob", "b1@none", 28),
            ("bob", "b2@none", 24),
            ("alice", "c2@eu", 31),
            ("carol", "x1@none", 40),
            ("alice", "late@none", 5),
            ("alice", "c3@eu", 60),
        ])
    );
    Ok(())
}

/// The buffer is a logged store named after the join: a join restarted from the changelogs of
/// its buffer and its table emits what one uninterrupted run emits.
#[test]
fn the_buffer_and_the_versioned_table_restore_from_their_changelogs() -> Result<(), StreamsError> {
    let inputs = [
        In::Click("alice", "c1", 20),
        In::Row("alice", Some("eu"), 15),
        In::Row("alice", Some("us"), 25),
        In::Click("alice", "c2", 27),
        // restart here
        In::Row("alice", Some("apac"), 18),
        In::Click("alice", "c3", 40),
        In::Click("alice", "c4", 60),
    ];
    let stores = ["regions", "clicks-join-Buffer"];
    for store_type in ENGINES {
        let whole =
            TopologyTestDriver::with_config(join_topology(Table::Versioned, false, Some(10))?, config(store_type))?;
        let (expected, _) = run(&whole, &inputs)?;
        assert_eq!(
            expected,
            out(&[("alice", "c1@apac", 20), ("alice", "c2@us", 27), ("alice", "c3@us", 40)]),
            "{store_type:?}"
        );

        let first =
            TopologyTestDriver::with_config(join_topology(Table::Versioned, false, Some(10))?, config(store_type))?;
        let (mut emitted, _) = run(&first, &inputs[..4])?;
        assert!(emitted.is_empty(), "{store_type:?}: both clicks wait in the buffer");
        let mut restarted = config(store_type);
        for store in stores {
            restarted = restarted.with_restored_store(store, 0, first.changelog(store, 0));
        }
        let second = TopologyTestDriver::with_config(join_topology(Table::Versioned, false, Some(10))?, restarted)?;
        emitted.extend(run(&second, &inputs[4..])?.0);
        assert_eq!(emitted, expected, "{store_type:?}");
    }
    Ok(())
}

/// The versioned table's changelog carries each update at its own timestamp, values without a
/// timestamp prefix, as Kafka Streams' versioned stores log them.
#[test]
fn the_versioned_changelog_has_one_record_per_applied_update() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(join_topology(Table::Versioned, false, None)?)?;
    run(
        &driver,
        &[
            In::Row("alice", Some("eu"), 10),
            In::Row("alice", Some("us"), 300),
            In::Row("alice", Some("late"), 100),
            In::Row("alice", Some("apac"), 250),
        ],
    )?;
    let changelog: Vec<(Option<Vec<u8>>, Option<Vec<u8>>, i64)> = driver
        .produced_records("test-app-regions-changelog")
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let rec = |k: &str, v: &str, ts| (Some(k.as_bytes().to_vec()), Some(v.as_bytes().to_vec()), ts);
    assert_eq!(
        changelog,
        vec![
            rec("alice", "eu", 10),
            rec("alice", "us", 300),
            rec("alice", "apac", 250)
        ]
    );
    Ok(())
}

/// A grace period needs a versioned table whose history covers it.
#[test]
fn a_grace_period_needs_a_versioned_table_with_enough_history() {
    let message = |result: Result<Topology, StreamsError>| match result {
        Ok(_) => String::from("built"),
        Err(e) => e.to_string(),
    };
    let plain = message(join_topology(Table::Plain, false, Some(10)));
    assert!(
        plain.contains("the table must be versioned to use a grace period in a stream-table join"),
        "{plain}"
    );
    let short = message(join_topology(Table::Versioned, false, Some(HISTORY_MS + 1)));
    assert!(
        short.contains("the table's history retention (100 ms) must be at least the join's grace period (101 ms)"),
        "{short}"
    );
    assert_eq!(
        message(join_topology(Table::Versioned, false, Some(HISTORY_MS))),
        "built"
    );
}

/// After a restart the buffer's stream time continues from the newest record it holds: a
/// record later than the grace period relative to it joins at once.
#[test]
fn a_restored_buffer_keeps_its_stream_time() -> Result<(), StreamsError> {
    for store_type in ENGINES {
        let first =
            TopologyTestDriver::with_config(join_topology(Table::Versioned, false, Some(10))?, config(store_type))?;
        let (emitted, _) = run(
            &first,
            &[
                In::Row("alice", Some("eu"), 10),
                In::Row("alice", Some("us"), 30),
                In::Row("alice", Some("apac"), 20),
                In::Click("bob", "flush", 100),
            ],
        )?;
        assert!(emitted.is_empty());
        let mut restarted = config(store_type);
        for store in ["regions", "clicks-join-Buffer"] {
            restarted = restarted.with_restored_store(store, 0, first.changelog(store, 0));
        }
        let second = TopologyTestDriver::with_config(join_topology(Table::Versioned, false, Some(10))?, restarted)?;
        let (emitted, _) = run(&second, &[In::Click("alice", "late", 25)])?;
        assert_eq!(emitted, out(&[("alice", "late@apac", 25)]), "{store_type:?}");
    }
    Ok(())
}
