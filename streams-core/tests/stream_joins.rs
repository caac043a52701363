//! KStream-KStream windowed joins, through the testkit: the timeline of Kafka Streams' DSL guide
//! (section "KStream-KStream Join", its table of join semantics) for the inner, left and outer
//! joins; asymmetric windows; out-of-order records inside the grace period and late records
//! after it (with the `dropped-records` metric); duplicate keys on both sides (after Kafka's
//! `KStreamKStreamLeftJoinTest.testLeftJoinDuplicates`); null keys and values (KIP-962);
//! repartitioning and co-partitioning; Kafka's node and store names; restoring the join's
//! stores from their changelogs; and the inner join against a nested-loop reference
//! (proptest).
//!
//! The semantics are those of Kafka Streams 3.8+ (`KStreamKStreamJoin` in 3.8 and 3.9): left
//! and outer results for records without a partner are emitted only once stream time has
//! passed the record's window end plus the grace period.

use std::time::Duration;

use streams_core::dsl::{Consumed, JoinWindows, KStream, Produced, StreamJoined, StreamsBuilder};
use streams_core::serde::Serdes;
use streams_core::state::StoreType;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Inner,
    Left,
    Outer,
}

fn show(value: Option<&Option<String>>) -> &str {
    value.and_then(Option::as_deref).unwrap_or("null")
}

type Stream = KStream<String, Option<String>>;

/// `left <variant>-join right` into `out` as `[left,right]` strings.
fn join(variant: Variant, left: &Stream, right: &Stream, windows: JoinWindows) -> KStream<String, String> {
    match variant {
        Variant::Inner => left.join_stream(right, |l, r| format!("[{},{}]", show(Some(l)), show(Some(r))), windows),
        Variant::Left => left.left_join_stream(right, |l, r| format!("[{},{}]", show(Some(l)), show(r)), windows),
        Variant::Outer => left.outer_join_stream(right, |l, r| format!("[{},{}]", show(l), show(r)), windows),
    }
}

fn topology(variant: Variant, windows: JoinWindows) -> Result<streams_core::topology::Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let left = builder.stream(
        "left",
        Consumed::with(Serdes::string(), Serdes::nullable(Serdes::string())),
    );
    let right = builder.stream(
        "right",
        Consumed::with(Serdes::string(), Serdes::nullable(Serdes::string())),
    );
    join(variant, &left, &right, windows).to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder.build()
}

/// One input: (timestamp, left side?, key, value); `None` is a null value.
type Input<'a> = (i64, bool, &'a str, Option<&'a str>);

/// What the join emitted for one input: (key, value, timestamp).
type Out = Vec<(String, String, i64)>;

/// Pipes `inputs` one by one and returns what each one made the join emit.
fn run_on(driver: &TopologyTestDriver, inputs: &[Input<'_>]) -> Result<Vec<Out>, StreamsError> {
    let left = driver.create_input_topic("left", Serdes::string(), Serdes::nullable(Serdes::string()));
    let right = driver.create_input_topic("right", Serdes::string(), Serdes::nullable(Serdes::string()));
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    let mut emitted = Vec::new();
    for &(timestamp, is_left, key, value) in inputs {
        let topic = if is_left { &left } else { &right };
        topic.pipe_input_at(key.to_owned(), value.map(str::to_owned), timestamp)?;
        emitted.push(
            out.read_records_to_list()?
                .into_iter()
                .map(|r: TestRecord<String, String>| (r.key, r.value, r.timestamp))
                .collect(),
        );
    }
    Ok(emitted)
}

fn run(variant: Variant, windows: JoinWindows, inputs: &[Input<'_>]) -> Result<(Vec<Out>, u64), StreamsError> {
    let driver = TopologyTestDriver::new(topology(variant, windows)?)?;
    let emitted = run_on(&driver, inputs)?;
    Ok((emitted, driver.total_metrics().dropped_records))
}

fn out(records: &[(&str, &str, i64)]) -> Out {
    records
        .iter()
        .map(|(k, v, t)| ((*k).to_owned(), (*v).to_owned(), *t))
        .collect()
}

const L: bool = true;
const R: bool = false;
const S: i64 = 1_000;

/// The guide's timeline (all records of one key, in timestamp order; timestamps in seconds),
/// with a window of 15 s and a grace period of 5 s.
const GUIDE_TIMELINE: [Input<'static>; 19] = [
    (S, L, "k", None),
    (2 * S, R, "k", None),
    (3 * S, L, "k", Some("A")),
    (4 * S, R, "k", Some("a")),
    (5 * S, L, "k", Some("B")),
    (6 * S, R, "k", Some("b")),
    (7 * S, L, "k", None),
    (8 * S, R, "k", None),
    (9 * S, L, "k", Some("C")),
    (10 * S, R, "k", Some("c")),
    (11 * S, R, "k", None),
    (12 * S, L, "k", None),
    (13 * S, R, "k", None),
    (14 * S, R, "k", Some("d")),
    (15 * S, L, "k", Some("D")),
    (40 * S, L, "k", Some("E")),
    (60 * S, L, "k", Some("F")),
    (80 * S, R, "k", Some("f")),
    (100 * S, L, "k", Some("G")),
];

/// The guide's table, row by row: what every variant emits for the rows up to 15 s.
fn guide_common_rows() -> Vec<(i64, Out)> {
    vec![
        (4, out(&[("k", "[A,a]", 4 * S)])),
        (5, out(&[("k", "[B,a]", 5 * S)])),
        (6, out(&[("k", "[A,b]", 6 * S), ("k", "[B,b]", 6 * S)])),
        (9, out(&[("k", "[C,a]", 9 * S), ("k", "[C,b]", 9 * S)])),
        (
            10,
            out(&[("k", "[A,c]", 10 * S), ("k", "[B,c]", 10 * S), ("k", "[C,c]", 10 * S)]),
        ),
        (
            14,
            out(&[("k", "[A,d]", 14 * S), ("k", "[B,d]", 14 * S), ("k", "[C,d]", 14 * S)]),
        ),
        (
            15,
            out(&[
                ("k", "[D,a]", 15 * S),
                ("k", "[D,b]", 15 * S),
                ("k", "[D,c]", 15 * S),
                ("k", "[D,d]", 15 * S),
            ]),
        ),
    ]
}

/// Runs the guide's timeline plus one record at 121 s (after the table's last row) and returns
/// the non-empty rows as (timestamp in seconds, records) and the dropped-records count.
fn guide_rows(variant: Variant) -> Result<(Vec<(i64, Out)>, u64), StreamsError> {
    let windows = JoinWindows::of_time_difference_and_grace(Duration::from_secs(15), Duration::from_secs(5))?;
    let mut inputs = GUIDE_TIMELINE.to_vec();
    inputs.push((121 * S, L, "k", Some("X")));
    let (emitted, dropped) = run(variant, windows, &inputs)?;
    let rows = inputs
        .iter()
        .zip(emitted)
        .filter(|(_, records)| !records.is_empty())
        .map(|(input, records)| (input.0 / S, records))
        .collect();
    Ok((rows, dropped))
}

/// INNER JOIN column: exactly the table's rows; null values never join and are counted as
/// dropped (seven of them).
#[test]
fn guide_timeline_inner_join() -> Result<(), StreamsError> {
    let (rows, dropped) = guide_rows(Variant::Inner)?;
    assert_eq!(rows, guide_common_rows());
    assert_eq!(dropped, 7);
    Ok(())
}

/// LEFT JOIN column. The table shows `[E, null]` on the row at 60 s and `[F, null]` at 80 s,
/// where stream time *reaches* E's (F's) window end plus grace (40 + 15 + 5 = 60). Kafka
/// Streams' join processor emits them only once stream time has *passed* that point
/// (`KStreamKStreamJoin` keeps a record while `t + after + grace >= stream time`), because a
/// right record at 55 s arriving at stream time 60 s is exactly 5 s late, inside the grace
/// period, and would still join E. So `[E, null]` comes with the next record (80 s), `[F,
/// null]` with the one after (100 s), and `[G, null]` with the record at 121 s; each carries
/// its left record's timestamp.
#[test]
fn guide_timeline_left_join() -> Result<(), StreamsError> {
    let (rows, dropped) = guide_rows(Variant::Left)?;
    let mut expected = guide_common_rows();
    expected.push((80, out(&[("k", "[E,null]", 40 * S)])));
    expected.push((100, out(&[("k", "[F,null]", 60 * S)])));
    expected.push((121, out(&[("k", "[G,null]", 100 * S)])));
    assert_eq!(rows, expected);
    assert_eq!(dropped, 7);
    Ok(())
}

/// OUTER JOIN column: as the left join, and the right record f (80 s), which found no left
/// record in [65 s, 95 s], is emitted as `[null, f]` once stream time has passed 80 + 15 + 5
/// (the table shows it on the row at 100 s, where stream time reaches that point).
#[test]
fn guide_timeline_outer_join() -> Result<(), StreamsError> {
    let (rows, dropped) = guide_rows(Variant::Outer)?;
    let mut expected = guide_common_rows();
    expected.push((80, out(&[("k", "[E,null]", 40 * S)])));
    expected.push((100, out(&[("k", "[F,null]", 60 * S)])));
    expected.push((121, out(&[("k", "[null,f]", 80 * S), ("k", "[G,null]", 100 * S)])));
    assert_eq!(rows, expected);
    assert_eq!(dropped, 7);
    Ok(())
}

/// `before(0)`, `after(10)`: a left record at t joins right records in [t, t + 10], a right
/// record at t joins left records in [t - 10, t]. An unmatched right record's window closes at
/// `t + before + grace` = t, so an out-of-order one is emitted at once, and one in order once
/// stream time passes it; the scan for due records runs only when stream time has passed the
/// oldest waiting record plus the *current side's* `after` and the grace period (Kafka's check),
/// which is why `[null,e]` waits for a right record.
#[test]
fn asymmetric_windows() -> Result<(), StreamsError> {
    let windows = JoinWindows::of_time_difference_with_no_grace(ms(10))?.before(Duration::ZERO)?;
    let inputs: [Input<'_>; 9] = [
        (100, L, "k", Some("A")),
        (105, R, "k", Some("a")),
        (95, R, "k", Some("b")),
        (108, L, "k", Some("B")),
        (109, R, "k", Some("c")),
        (115, R, "k", Some("d")),
        (130, R, "k", Some("e")),
        (131, L, "k", Some("C")),
        (131, R, "k", Some("f")),
    ];
    let (emitted, dropped) = run(Variant::Outer, windows, &inputs)?;
    assert_eq!(
        emitted,
        vec![
            out(&[]),
            out(&[("k", "[A,a]", 105)]),
            // b at 95 joins left records in [85, 95]: none; its window closed at 95 < stream
            // time 105, so it is emitted at once. It is also as old as the right store's
            // retention (10 ms behind 105): not stored, counted as dropped.
            out(&[("k", "[null,b]", 95)]),
            // B at 108 joins right records in [108, 118]: none yet.
            out(&[]),
            out(&[("k", "[A,c]", 109), ("k", "[B,c]", 109)]),
            out(&[("k", "[B,d]", 115)]),
            out(&[]),
            // e's window closed at 130, but the left side's check (130 + after 10 > 131)
            // skips the scan.
            out(&[]),
            out(&[("k", "[null,e]", 130), ("k", "[C,f]", 131)]),
        ]
    );
    assert_eq!(dropped, 1);

    // The inner join of the same records: pairs only, each with the larger timestamp.
    let (emitted, _) = run(Variant::Inner, windows, &inputs)?;
    let pairs: Out = emitted.into_iter().flatten().collect();
    assert_eq!(
        pairs,
        out(&[
            ("k", "[A,a]", 105),
            ("k", "[A,c]", 109),
            ("k", "[B,c]", 109),
            ("k", "[B,d]", 115),
            ("k", "[C,f]", 131)
        ])
    );
    Ok(())
}

/// Window 10 ms, grace 5 ms: each side's window store keeps records 25 ms behind its own
/// observed stream time. A record still inside that is stored and joins both ways; a record
/// at or before it is late: it is not stored (so nothing arriving later joins it) and is
/// counted in `dropped-records`, as Kafka Streams' window stores count it, but it still joins
/// what the other side's store holds, and in a left join it is emitted at once with `null`
/// when nothing is there, as Kafka Streams does.
#[test]
fn out_of_order_within_grace_joins_and_late_records_are_dropped_and_counted() -> Result<(), StreamsError> {
    let windows = JoinWindows::of_time_difference_and_grace(ms(10), ms(5))?;
    let inputs: [Input<'_>; 9] = [
        (100, L, "k", Some("A")),
        (101, R, "k", Some("a")),
        (200, L, "k", Some("B")),
        (200, R, "k", Some("b")),
        // Out of order, inside the grace period (176 > 200 - 25): stored, and joined later.
        (176, L, "k", Some("C")),
        (180, R, "k", Some("c")),
        // Late (150 <= 175): not stored, counted; nothing to join.
        (150, L, "k", Some("D")),
        // Late too; it still finds C (176) in the left store, which holds it.
        (174, R, "k", Some("e")),
        // Late; the right store holds nothing in [150, 170] any more.
        (160, L, "k", Some("F")),
    ];
    let (emitted, dropped) = run(Variant::Inner, windows, &inputs)?;
    assert_eq!(
        emitted,
        vec![
            out(&[]),
            out(&[("k", "[A,a]", 101)]),
            out(&[]),
            out(&[("k", "[B,b]", 200)]),
            out(&[]),
            out(&[("k", "[C,c]", 180)]),
            out(&[]),
            out(&[("k", "[C,e]", 176)]),
            out(&[]),
        ]
    );
    assert_eq!(dropped, 3, "D, e and F came later than the grace period");

    let (emitted, dropped) = run(Variant::Left, windows, &inputs)?;
    assert_eq!(
        emitted,
        vec![
            out(&[]),
            out(&[("k", "[A,a]", 101)]),
            out(&[]),
            out(&[("k", "[B,b]", 200)]),
            // C's window [166, 186] has closed (186 < 200): no partner yet, emitted at once.
            out(&[("k", "[C,null]", 176)]),
            out(&[("k", "[C,c]", 180)]),
            out(&[("k", "[D,null]", 150)]),
            out(&[("k", "[C,e]", 176)]),
            out(&[("k", "[F,null]", 160)]),
        ]
    );
    assert_eq!(dropped, 3);
    Ok(())
}

/// A window of size 0 joins records with equal timestamps only, and only with a grace period:
/// without one the stores keep nothing (their retention is 0), as in Kafka Streams.
#[test]
fn zero_size_windows_need_a_grace_period() -> Result<(), StreamsError> {
    let inputs: [Input<'_>; 3] = [(5, L, "k", Some("A")), (5, R, "k", Some("a")), (6, R, "k", Some("b"))];
    let (emitted, dropped) = run(
        Variant::Inner,
        JoinWindows::of_time_difference_and_grace(Duration::ZERO, ms(1))?,
        &inputs,
    )?;
    assert_eq!(emitted.concat(), out(&[("k", "[A,a]", 5)]));
    assert_eq!(dropped, 0);
    let (emitted, dropped) = run(
        Variant::Inner,
        JoinWindows::of_time_difference_with_no_grace(Duration::ZERO)?,
        &inputs,
    )?;
    assert_eq!(emitted.concat(), out(&[]));
    assert_eq!(dropped, 3);
    Ok(())
}

/// Kafka's `KStreamKStreamLeftJoinTest.testLeftJoinDuplicates`, transcribed: equal keys and
/// timestamps on one side are all kept (the window stores retain duplicates, the outer-join
/// store keeps a list per key and timestamp), all emitted, once each.
#[test]
fn duplicates_are_all_joined_and_emitted() -> Result<(), StreamsError> {
    let windows = JoinWindows::of_time_difference_and_grace(ms(100), ms(10))?;
    let inputs: [Input<'_>; 8] = [
        (0, L, "0", Some("A0")),
        (0, L, "0", Some("A0-0")),
        (111, R, "1", Some("a0")),
        (500, R, "2", Some("dummy")),
        (1000, L, "2", Some("A2")),
        (1000, L, "2", Some("A2-0")),
        (1001, R, "2", Some("a2")),
        // Would expire the non-joined records, but A2 and A2-0 have been joined already.
        (315, R, "3", Some("a3")),
    ];
    let (emitted, dropped) = run(Variant::Left, windows, &inputs)?;
    assert_eq!(
        emitted,
        vec![
            out(&[]),
            out(&[]),
            out(&[("0", "[A0,null]", 0), ("0", "[A0-0,null]", 0)]),
            out(&[]),
            out(&[]),
            out(&[]),
            out(&[("2", "[A2,a2]", 1001), ("2", "[A2-0,a2]", 1001)]),
            out(&[]),
        ]
    );
    assert_eq!(dropped, 1, "a3 at 315 is 686 ms late for a store keeping 210 ms");

    // Duplicates on both sides: every pair, in the order the records came.
    let inputs: [Input<'_>; 4] = [
        (10, L, "k", Some("A1")),
        (10, L, "k", Some("A2")),
        (12, R, "k", Some("a1")),
        (10, R, "k", Some("a2")),
    ];
    let (emitted, _) = run(
        Variant::Inner,
        JoinWindows::of_time_difference_with_no_grace(ms(5))?,
        &inputs,
    )?;
    assert_eq!(
        emitted,
        vec![
            out(&[]),
            out(&[]),
            out(&[("k", "[A1,a1]", 12), ("k", "[A2,a1]", 12)]),
            out(&[("k", "[A1,a2]", 10), ("k", "[A2,a2]", 10)]),
        ]
    );
    let (emitted, _) = run(
        Variant::Inner,
        JoinWindows::of_time_difference_with_no_grace(ms(5))?,
        &[
            (10, R, "k", Some("a1")),
            (10, R, "k", Some("a2")),
            (10, L, "k", Some("A")),
            (10, L, "k", Some("A")),
        ],
    )?;
    assert_eq!(
        emitted.concat(),
        out(&[
            ("k", "[A,a1]", 10),
            ("k", "[A,a2]", 10),
            ("k", "[A,a1]", 10),
            ("k", "[A,a2]", 10)
        ])
    );
    Ok(())
}

/// Null keys and values (KIP-962, Kafka 3.7+): records with a null value are dropped and
/// counted in every variant; a record with a null key is dropped and counted on an inner side,
/// but on an outer side (the left stream of a left join, both streams of an outer join) it is
/// passed through at once, joined with nothing, keeping its (null) key and timestamp.
#[test]
fn null_keys_and_values() -> Result<(), StreamsError> {
    let build = |variant: Variant| -> Result<TopologyTestDriver, StreamsError> {
        let builder = StreamsBuilder::new();
        let nullable = || Serdes::nullable(Serdes::string());
        let left: KStream<Option<String>, Option<String>> =
            builder.stream("left", Consumed::with(nullable(), nullable()));
        let right: KStream<Option<String>, Option<String>> =
            builder.stream("right", Consumed::with(nullable(), nullable()));
        let windows = JoinWindows::of_time_difference_with_no_grace(ms(10))?;
        let joined = match variant {
            Variant::Inner => {
                left.join_stream(&right, |l, r| format!("[{},{}]", show(Some(l)), show(Some(r))), windows)
            }
            Variant::Left => left.left_join_stream(&right, |l, r| format!("[{},{}]", show(Some(l)), show(r)), windows),
            Variant::Outer => left.outer_join_stream(&right, |l, r| format!("[{},{}]", show(l), show(r)), windows),
        };
        joined.to("out", Produced::with(nullable(), Serdes::string()));
        TopologyTestDriver::new(builder.build()?)
    };
    for variant in [Variant::Inner, Variant::Left, Variant::Outer] {
        let driver = build(variant)?;
        let nullable = || Serdes::nullable(Serdes::string());
        let left = driver.create_input_topic("left", nullable(), nullable());
        let right = driver.create_input_topic("right", nullable(), nullable());
        let out_topic = driver.create_output_topic("out", nullable(), Serdes::string());
        left.pipe_input_at(None, Some("N".to_owned()), 5)?;
        right.pipe_input_at(None, Some("n".to_owned()), 6)?;
        left.pipe_input_at(Some("k".to_owned()), None, 7)?;
        right.pipe_input_at(Some("k".to_owned()), None, 8)?;
        left.pipe_input_at(Some("k".to_owned()), Some("A".to_owned()), 9)?;
        right.pipe_input_at(Some("k".to_owned()), Some("a".to_owned()), 10)?;
        let records: Vec<(Option<String>, String, i64)> = out_topic
            .read_records_to_list()?
            .into_iter()
            .map(|r: TestRecord<Option<String>, String>| (r.key, r.value, r.timestamp))
            .collect();
        let joined = (Some("k".to_owned()), "[A,a]".to_owned(), 10);
        let (expected, dropped) = match variant {
            Variant::Inner => (vec![joined], 4),
            Variant::Left => (vec![(None, "[N,null]".to_owned(), 5), joined], 3),
            Variant::Outer => (
                vec![
                    (None, "[N,null]".to_owned(), 5),
                    (None, "[null,n]".to_owned(), 6),
                    joined,
                ],
                2,
            ),
        };
        assert_eq!(records, expected, "{variant:?}");
        assert_eq!(driver.total_metrics().dropped_records, dropped, "{variant:?}");
    }
    Ok(())
}

#[test]
fn describe_names_nodes_and_stores_as_kafka_streams_does() -> Result<(), StreamsError> {
    let windows = JoinWindows::of_time_difference_with_no_grace(ms(10))?;
    assert_eq!(
        topology(Variant::Inner, windows)?.describe().to_string(),
        "Topologies:\n   \
         Sub-topology: 0\n    \
         Source: KSTREAM-SOURCE-0000000000 (topics: [left])\n      \
         --> KSTREAM-WINDOWED-0000000002\n    \
         Source: KSTREAM-SOURCE-0000000001 (topics: [right])\n      \
         --> KSTREAM-WINDOWED-0000000003\n    \
         Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])\n      \
         --> KSTREAM-JOINTHIS-0000000004\n      \
         <-- KSTREAM-SOURCE-0000000000\n    \
         Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-JOINOTHER-0000000005-store])\n      \
         --> KSTREAM-JOINOTHER-0000000005\n      \
         <-- KSTREAM-SOURCE-0000000001\n    \
         Processor: KSTREAM-JOINOTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store])\n      \
         --> KSTREAM-MERGE-0000000006\n      \
         <-- KSTREAM-WINDOWED-0000000003\n    \
         Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-JOINOTHER-0000000005-store])\n      \
         --> KSTREAM-MERGE-0000000006\n      \
         <-- KSTREAM-WINDOWED-0000000002\n    \
         Processor: KSTREAM-MERGE-0000000006 (stores: [])\n      \
         --> KSTREAM-SINK-0000000007\n      \
         <-- KSTREAM-JOINOTHER-0000000005, KSTREAM-JOINTHIS-0000000004\n    \
         Sink: KSTREAM-SINK-0000000007 (topic: out)\n      \
         <-- KSTREAM-MERGE-0000000006\n\n"
    );
    let left = topology(Variant::Left, windows)?.describe().to_string();
    assert!(
        left.contains(
            "Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-store, \
             KSTREAM-OUTERSHARED-0000000004-store])"
        ),
        "{left}"
    );
    assert!(
        left.contains(
            "Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store, \
             KSTREAM-OUTERSHARED-0000000004-store])"
        ),
        "{left}"
    );
    let outer = topology(Variant::Outer, windows)?.describe().to_string();
    for expected in [
        "Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-OUTERTHIS-0000000004-store])",
        "Processor: KSTREAM-OUTERTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-store, \
         KSTREAM-OUTERSHARED-0000000004-store])",
        "Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [KSTREAM-OUTERTHIS-0000000004-store, \
         KSTREAM-OUTERSHARED-0000000004-store])",
        "<-- KSTREAM-OUTEROTHER-0000000005, KSTREAM-OUTERTHIS-0000000004",
    ] {
        assert!(outer.contains(expected), "{expected}\nnot in\n{outer}");
    }

    // Named: processors after StreamJoined's name, stores after its store name.
    let builder = StreamsBuilder::new();
    let left: KStream<String, String> = builder.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    let right: KStream<String, String> = builder.stream("right", Consumed::with(Serdes::string(), Serdes::string()));
    left.outer_join_stream_with(
        &right,
        |l, r| format!("{l:?}{r:?}"),
        windows,
        StreamJoined::new().with_name("pairs").with_store_name("pairs-store"),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let named = builder.build()?.describe().to_string();
    for expected in [
        "Processor: pairs-this-windowed (stores: [pairs-store-outer-this-join-store])",
        "Processor: pairs-other-windowed (stores: [pairs-store-outer-other-join-store])",
        "Processor: pairs-outer-this-join (stores: [pairs-store-outer-other-join-store, \
         pairs-store-outer-shared-join-store])",
        "Processor: pairs-outer-other-join (stores: [pairs-store-outer-this-join-store, \
         pairs-store-outer-shared-join-store])",
        "Processor: pairs-merge (stores: [])",
        // The generated join names are drawn even when a name is given, as in Kafka Streams.
        "Sink: KSTREAM-SINK-0000000004 (topic: out)",
    ] {
        assert!(named.contains(expected), "{expected}\nnot in\n{named}");
    }
    Ok(())
}

/// A key-changing operation before the join inserts a repartition topic on that side (named
/// after the operation, or `<name>-left` / `<name>-right`), and the two sides are
/// co-partitioned: topics of different partition counts are refused.
#[test]
fn rekeyed_sides_are_repartitioned_and_sides_must_be_co_partitioned() -> Result<(), StreamsError> {
    let build = || -> Result<streams_core::topology::Topology, StreamsError> {
        let builder = StreamsBuilder::new();
        let orders: KStream<String, String> =
            builder.stream("orders", Consumed::with(Serdes::string(), Serdes::string()));
        let payments: KStream<String, String> =
            builder.stream("payments", Consumed::with(Serdes::string(), Serdes::string()));
        // Payments arrive keyed by payment id, with the order id as value.
        let by_order = payments.select_key(|_, order| order.clone());
        orders
            .join_stream_with(
                &by_order,
                |order, _payment| format!("{order} paid"),
                JoinWindows::of_time_difference_with_no_grace(ms(100))?,
                StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()),
            )
            .to("paid", Produced::with(Serdes::string(), Serdes::string()));
        builder.build()
    };
    let topology = build()?;
    let description = topology.describe().to_string();
    assert!(
        description.contains("Sink: KSTREAM-SINK-0000000003 (topic: KSTREAM-KEY-SELECT-0000000002-repartition)"),
        "{description}"
    );
    assert!(
        description.contains("Source: KSTREAM-SOURCE-0000000005 (topics: [KSTREAM-KEY-SELECT-0000000002-repartition])"),
        "{description}"
    );
    let driver = TopologyTestDriver::with_config(
        topology,
        DriverConfig::default()
            .with_partitions("orders", 4)
            .with_partitions("payments", 2),
    )?;
    let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    let payments = driver.create_input_topic("payments", Serdes::string(), Serdes::string());
    let paid = driver.create_output_topic("paid", Serdes::string(), Serdes::string());
    for (i, order) in ["o1", "o2", "o3", "o4", "o5"].iter().enumerate() {
        orders.pipe_input_at((*order).to_owned(), format!("{order}:book"), 10 * i as i64)?;
    }
    payments.pipe_input_at("p1".to_owned(), "o3".to_owned(), 50)?;
    payments.pipe_input_at("p2".to_owned(), "o1".to_owned(), 60)?;
    payments.pipe_input_at("p3".to_owned(), "o5".to_owned(), 200)?;
    let mut results = paid.read_key_values_to_list()?;
    results.sort();
    assert_eq!(
        results,
        vec![
            ("o1".to_owned(), "o1:book paid".to_owned()),
            ("o3".to_owned(), "o3:book paid".to_owned()),
        ]
    );
    // The repartition topic takes the partition count of the topic it is joined with.
    assert!(driver
        .produced_records("test-app-KSTREAM-KEY-SELECT-0000000002-repartition")
        .iter()
        .all(|r| r.partition.is_some_and(|p| (0..4).contains(&p))));

    // Without the key change the two topics are joined as they are and must match.
    let builder = StreamsBuilder::new();
    let a: KStream<String, String> = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
    let b: KStream<String, String> = builder.stream("b", Consumed::with(Serdes::string(), Serdes::string()));
    a.join_stream(
        &b,
        |x, y| format!("{x}{y}"),
        JoinWindows::of_time_difference_with_no_grace(ms(1))?,
    )
    .to("ab", Produced::with(Serdes::string(), Serdes::string()));
    let result = TopologyTestDriver::with_config(
        builder.build()?,
        DriverConfig::default().with_partitions("a", 2).with_partitions("b", 3),
    );
    let error = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("co-partitioned"), "{error}");
    Ok(())
}

/// Named repartition topics: `<name>-left-repartition` and `<name>-right-repartition`.
#[test]
fn repartition_topics_of_a_named_join() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let a: KStream<String, String> = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
    let b: KStream<String, String> = builder.stream("b", Consumed::with(Serdes::string(), Serdes::string()));
    a.map(|k, v| (v, k))
        .left_join_stream_with(
            &b.map(|k, v| (v, k)),
            |x, y| format!("{x}{y:?}"),
            JoinWindows::of_time_difference_with_no_grace(ms(1))?,
            StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()).with_name("j"),
        )
        .to("ab", Produced::with(Serdes::string(), Serdes::string()));
    let description = builder.build()?.describe().to_string();
    for expected in [
        "Sink: j-left-repartition-sink (topic: j-left-repartition)",
        "Sink: j-right-repartition-sink (topic: j-right-repartition)",
        "Source: j-left-repartition-source (topics: [j-left-repartition])",
        // Stores in the order of Java's HashSet, as Kafka Streams prints them.
        "Processor: j-outer-other-join (stores: [KSTREAM-OUTERSHARED-0000000010-store, KSTREAM-JOINTHIS-0000000010-store])",
    ] {
        assert!(description.contains(expected), "{expected}\nnot in\n{description}");
    }
    Ok(())
}

/// Store options: a supplier must be a window store that retains duplicates and matches the
/// join windows; a store type is used for all three stores; logging can be turned off.
#[test]
fn stream_joined_store_options() -> Result<(), StreamsError> {
    let windows = JoinWindows::of_time_difference_and_grace(ms(10), ms(5))?;
    let with =
        |joined: StreamJoined<String, String, String>| -> Result<streams_core::topology::Topology, StreamsError> {
            let builder = StreamsBuilder::new();
            let a: KStream<String, String> = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
            let b: KStream<String, String> = builder.stream("b", Consumed::with(Serdes::string(), Serdes::string()));
            a.left_join_stream_with(&b, |x, y| format!("{x}{y:?}"), windows, joined)
                .to("ab", Produced::with(Serdes::string(), Serdes::string()));
            builder.build()
        };
    // Wrong retention (must be 25 ms), and a store that does not retain duplicates.
    let error = with(
        StreamJoined::new()
            .with_this_store_supplier(streams_state::Stores::in_memory_window_store_with_duplicates(
                "mine", 30, 20,
            )?)
            .with_other_store_supplier(streams_state::Stores::in_memory_window_store("theirs", 25, 20)?),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        error.contains(
            "store supplier `mine` must be a window store supplier that retains duplicates, with retention 25 ms"
        ),
        "{error}"
    );
    assert!(error.contains("store supplier `theirs`"), "{error}");
    // Matching suppliers name the stores; the shared store is named after this side's.
    let topology = with(
        StreamJoined::new()
            .with_this_store_supplier(streams_state::Stores::in_memory_window_store_with_duplicates(
                "mine", 25, 20,
            )?)
            .with_other_store_supplier(streams_state::Stores::in_memory_window_store_with_duplicates(
                "theirs", 25, 20,
            )?),
    )?;
    let description = topology.describe().to_string();
    assert!(description.contains("(stores: [mine])"), "{description}");
    assert!(description.contains("mine-left-shared-join-store"), "{description}");
    // A store type puts every store of the join on that engine, whatever the default.
    let driver = TopologyTestDriver::new(with(StreamJoined::new().with_store_type(StoreType::RocksDb))?)?;
    assert!(driver.store_is_persistent("KSTREAM-JOINTHIS-0000000004-store")?);
    assert!(driver.store_is_persistent("KSTREAM-OUTEROTHER-0000000005-store")?);
    assert!(driver.store_is_persistent("KSTREAM-OUTERSHARED-0000000004-store")?);
    // Without it they follow default.dsl.store.
    let driver = TopologyTestDriver::with_config(
        with(StreamJoined::new())?,
        DriverConfig::default().with_default_store_type(StoreType::RocksDb),
    )?;
    assert!(driver.store_is_persistent("KSTREAM-JOINTHIS-0000000004-store")?);
    assert!(driver.store_is_persistent("KSTREAM-OUTERSHARED-0000000004-store")?);
    let driver = TopologyTestDriver::new(with(StreamJoined::new())?)?;
    assert!(!driver.store_is_persistent("KSTREAM-JOINTHIS-0000000004-store")?);
    // Logged by default; not with logging disabled.
    let a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    a.pipe_input_at("k".to_owned(), "x".to_owned(), 1)?;
    assert_eq!(
        driver
            .produced_records("test-app-KSTREAM-JOINTHIS-0000000004-store-changelog")
            .len(),
        1
    );
    assert_eq!(
        driver
            .produced_records("test-app-KSTREAM-OUTERSHARED-0000000004-store-changelog")
            .len(),
        1
    );
    let driver = TopologyTestDriver::new(with(StreamJoined::new().with_logging_disabled())?)?;
    let a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    a.pipe_input_at("k".to_owned(), "x".to_owned(), 1)?;
    assert!(driver.produced_topics().iter().all(|t| !t.ends_with("-changelog")));
    Ok(())
}

/// An outer join stopped halfway and restarted from its changelogs (window stores retaining
/// duplicates and the outer-join store) emits what one uninterrupted run emits: records waiting
/// for a partner at the restart are matched or emitted alone afterwards, on both engines.
#[test]
fn join_stores_restore_from_their_changelogs() -> Result<(), StreamsError> {
    let windows = JoinWindows::of_time_difference_and_grace(ms(10), ms(5))?;
    let inputs: [Input<'_>; 12] = [
        (0, L, "k", Some("A")),
        (0, L, "k", Some("A2")),
        (2, R, "k", Some("a")),
        (3, L, "j", Some("J")),
        (4, R, "i", Some("i")),
        (5, R, "i", Some("i2")),
        // restart here
        (10, R, "j", Some("j")),
        (12, L, "k", Some("B")),
        (13, L, "i", Some("I")),
        (40, L, "x", Some("X")),
        (41, R, "k", Some("b")),
        (60, L, "y", Some("Y")),
    ];
    let stores = [
        "KSTREAM-OUTERTHIS-0000000004-store",
        "KSTREAM-OUTEROTHER-0000000005-store",
        "KSTREAM-OUTERSHARED-0000000004-store",
    ];
    for store_type in [StoreType::InMemory, StoreType::RocksDb] {
        let config = || DriverConfig::default().with_default_store_type(store_type);
        let whole = TopologyTestDriver::with_config(topology(Variant::Outer, windows)?, config())?;
        let expected: Out = run_on(&whole, &inputs)?.concat();

        let first = TopologyTestDriver::with_config(topology(Variant::Outer, windows)?, config())?;
        let mut emitted = run_on(&first, &inputs[..6])?.concat();
        let mut restarted = config();
        for store in stores {
            restarted = restarted.with_restored_store(store, 0, first.changelog(store, 0));
        }
        let second = TopologyTestDriver::with_config(topology(Variant::Outer, windows)?, restarted)?;
        emitted.extend(run_on(&second, &inputs[6..])?.concat());
        assert_eq!(emitted, expected, "{store_type:?}");
        assert_eq!(
            expected,
            out(&[
                ("k", "[A,a]", 2),
                ("k", "[A2,a]", 2),
                ("j", "[J,j]", 10),
                ("k", "[B,a]", 12),
                ("i", "[I,i]", 13),
                ("i", "[I,i2]", 13),
                ("x", "[X,null]", 40),
                ("k", "[null,b]", 41),
            ]),
            "{store_type:?}"
        );
    }
    Ok(())
}

mod nested_loop {
    use proptest::prelude::*;

    use super::*;

    /// The inner join as a nested loop: each record joins every earlier record of the other
    /// side with its key whose timestamp lies in its window, oldest first (then in arrival
    /// order), at the larger timestamp. Nothing is late: the grace period covers every
    /// timestamp generated.
    fn reference(records: &[(bool, u8, i64, u8)], before: i64, after: i64) -> Out {
        let mut out = Vec::new();
        for (i, &(is_left, key, ts, value)) in records.iter().enumerate() {
            let (lo, hi) = if is_left {
                (ts - before, ts + after)
            } else {
                (ts - after, ts + before)
            };
            let (lo, hi) = (lo.max(0), hi.max(0));
            let mut partners: Vec<(i64, usize, u8)> = records[..i]
                .iter()
                .enumerate()
                .filter(|(_, &(l, k, t, _))| l != is_left && k == key && (lo..=hi).contains(&t))
                .map(|(j, &(_, _, t, v))| (t, j, v))
                .collect();
            partners.sort();
            for (t, _, v) in partners {
                let (l, r) = if is_left { (value, v) } else { (v, value) };
                out.push((format!("k{key}"), format!("[L{l},R{r}]"), ts.max(t)));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn inner_join_matches_a_nested_loop(
            records in proptest::collection::vec((any::<bool>(), 0u8..3, 0i64..200, 0u8..50), 1..60),
            before in 0i64..30,
            after in 0i64..30,
        ) {
            let windows = JoinWindows::of_time_difference_and_grace(ms(0), ms(1_000))
                .and_then(|w| w.with_after_ms(after))
                .and_then(|w| w.with_before_ms(before))
                .expect("valid windows");
            let inputs: Vec<(i64, bool, String, Option<String>)> = records
                .iter()
                .map(|&(is_left, key, ts, value)| {
                    (ts, is_left, format!("k{key}"), Some(if is_left { format!("L{value}") } else { format!("R{value}") }))
                })
                .collect();
            let borrowed: Vec<Input<'_>> = inputs
                .iter()
                .map(|(ts, l, k, v)| (*ts, *l, k.as_str(), v.as_deref()))
                .collect();
            let (emitted, dropped) = run(Variant::Inner, windows, &borrowed).expect("runs");
            prop_assert_eq!(emitted.concat(), reference(&records, before, after));
            prop_assert_eq!(dropped, 0);
        }
    }
}

/// The join's window stores get Kafka Streams' windowed changelog config (compacted and
/// deleted after the store's retention, `before + after + grace`, plus a day); the outer
/// join's shared store is a key-value store with a compacted changelog.
#[test]
fn join_changelogs_are_windowed_topics() -> Result<(), StreamsError> {
    use streams_core::topology::InternalTopicKind;
    let windows = JoinWindows::of_time_difference_and_grace(ms(10), ms(5))?;
    let topics = topology(Variant::Outer, windows)?.internal_topics("test-app", &|_| Some(1))?;
    let kinds: Vec<(String, InternalTopicKind)> = topics.into_iter().map(|t| (t.name, t.kind)).collect();
    let windowed = InternalTopicKind::WindowedChangelog { retention_ms: 25 };
    assert_eq!(
        kinds,
        vec![
            (s("test-app-KSTREAM-OUTERTHIS-0000000004-store-changelog"), windowed),
            (s("test-app-KSTREAM-OUTEROTHER-0000000005-store-changelog"), windowed),
            (
                s("test-app-KSTREAM-OUTERSHARED-0000000004-store-changelog"),
                InternalTopicKind::Changelog
            ),
        ]
    );
    assert_eq!(
        windowed.topic_config(),
        vec![("cleanup.policy", s("compact,delete")), ("retention.ms", s("86400025"))]
    );
    Ok(())
}

fn s(text: &str) -> String {
    text.to_owned()
}
