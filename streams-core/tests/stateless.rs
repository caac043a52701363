//! Stateless `KStream` operators through the test driver: exact output records (keys, values,
//! timestamps, headers) for filter, map, flat_map, select_key, peek, for_each, merge, split, to
//! (partitioning) and repartition, plus null keys and values modelled as `Option`.

use std::sync::{Arc, Mutex};

use streams_core::dsl::{Branched, Consumed, Named, Produced, Repartitioned, StreamsBuilder};
use streams_core::processor::Headers;
use streams_core::serde::Serdes;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_owned()
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

/// `in` (String -> i64) through `op` to `out` (String -> i64).
fn string_i64_pipeline(
    op: impl FnOnce(streams_core::dsl::KStream<String, i64>) -> streams_core::dsl::KStream<String, i64>,
) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    let stream = builder.stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()));
    op(stream).to("out", Produced::new());
    builder.build()
}

#[test]
fn filter_keeps_matching_records_unchanged() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(string_i64_pipeline(|s| s.filter(|_, v| v % 2 == 0))?)?;
    let mut input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic::<String, i64>("out", Serdes::string(), Serdes::i64());
    input.pipe_record(TestRecord::new(s("a"), 1, 10))?;
    input.pipe_record(TestRecord::new(s("b"), 2, 20).with_headers(headers(&[("h", "x")])))?;
    input.pipe_record(TestRecord::new(s("c"), 3, 30))?;
    input.pipe_record(TestRecord::new(s("a"), 4, 15))?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("b"), 2, 20).with_headers(headers(&[("h", "x")])),
            TestRecord::new(s("a"), 4, 15),
        ]
    );
    Ok(())
}

#[test]
fn filter_not_drops_matching_records() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(string_i64_pipeline(|s| s.filter_not(|k, _| k == "drop"))?)?;
    let mut input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic::<String, i64>("out", Serdes::string(), Serdes::i64());
    input.pipe_record(TestRecord::new(s("keep"), 1, 5))?;
    input.pipe_record(TestRecord::new(s("drop"), 2, 6))?;
    input.pipe_record(TestRecord::new(s("keep"), 3, 7))?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("keep"), 1, 5), TestRecord::new(s("keep"), 3, 7)]
    );
    Ok(())
}

#[test]
fn map_replaces_key_and_value_keeping_timestamp_and_headers() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map(|k, v| (v.len() as i64, format!("{k}:{v}")))
        .to("out", Produced::with(Serdes::i64(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let mut input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<i64, String>("out", Serdes::i64(), Serdes::string());
    input.pipe_record(TestRecord::new(s("k1"), s("abc"), 100).with_headers(headers(&[("trace", "t1")])))?;
    input.pipe_record(TestRecord::new(s("k2"), s(""), 50))?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(3, s("k1:abc"), 100).with_headers(headers(&[("trace", "t1")])),
            TestRecord::new(0, s("k2:"), 50),
        ]
    );
    Ok(())
}

#[test]
fn map_values_replaces_the_value_only() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values(|v| v.to_uppercase())
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let mut input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    input.pipe_record(TestRecord::new(s("k"), s("hello"), 7).with_headers(headers(&[("a", "1"), ("a", "2")])))?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("k"), s("HELLO"), 7).with_headers(headers(&[("a", "1"), ("a", "2")]))]
    );
    Ok(())
}

#[test]
fn map_values_with_key_sees_the_key() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .map_values_with_key(|k, v| format!("{k}={v}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("x"), 1, 3)?;
    input.pipe_input_at(s("y"), -2, 2)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("x"), s("x=1"), 3),
            TestRecord::new(s("y"), s("y=-2"), 2)
        ]
    );
    Ok(())
}

#[test]
fn flat_map_emits_every_pair_with_the_input_timestamp_and_headers() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .flat_map(|k, v| {
            v.split(',')
                .map(|part| (format!("{k}-{part}"), part.len() as i64))
                .collect::<Vec<_>>()
        })
        .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let mut input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, i64>("out", Serdes::string(), Serdes::i64());
    input.pipe_record(TestRecord::new(s("k"), s("a,bb,ccc"), 42).with_headers(headers(&[("h", "v")])))?;
    input.pipe_record(TestRecord::new(s("e"), s(""), 43))?;
    let h = headers(&[("h", "v")]);
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("k-a"), 1, 42).with_headers(h.clone()),
            TestRecord::new(s("k-bb"), 2, 42).with_headers(h.clone()),
            TestRecord::new(s("k-ccc"), 3, 42).with_headers(h),
            TestRecord::new(s("e-"), 0, 43),
        ]
    );
    Ok(())
}

#[test]
fn flat_map_values_keeps_the_key_and_may_emit_nothing() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .flat_map_values(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("k"), s("to be"), 1)?;
    input.pipe_input_at(s("j"), s("   "), 2)?;
    input.pipe_input_at(s("i"), s("x"), 3)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("k"), s("to"), 1),
            TestRecord::new(s("k"), s("be"), 1),
            TestRecord::new(s("i"), s("x"), 3),
        ]
    );
    Ok(())
}

#[test]
fn select_key_replaces_the_key_and_keeps_the_value() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|k, v| format!("{v}/{k}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let mut input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    input.pipe_record(TestRecord::new(s("user1"), s("page"), 9).with_headers(headers(&[("x", "y")])))?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("page/user1"), s("page"), 9).with_headers(headers(&[("x", "y")]))]
    );
    Ok(())
}

#[test]
fn peek_sees_each_record_and_forwards_it_unchanged() -> Result<(), StreamsError> {
    let seen: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let driver = TopologyTestDriver::new(string_i64_pipeline(move |s| {
        s.peek(move |k, v| log.lock().unwrap_or_else(|e| e.into_inner()).push((k.clone(), *v)))
    })?)?;
    let input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic::<String, i64>("out", Serdes::string(), Serdes::i64());
    input.pipe_input_at(s("a"), 1, 11)?;
    input.pipe_input_at(s("b"), 2, 12)?;
    assert_eq!(
        *seen.lock().unwrap_or_else(|e| e.into_inner()),
        vec![(s("a"), 1), (s("b"), 2)]
    );
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("a"), 1, 11), TestRecord::new(s("b"), 2, 12)]
    );
    Ok(())
}

#[test]
fn for_each_is_terminal_and_sees_each_record() -> Result<(), StreamsError> {
    let seen: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .for_each(move |k, v| log.lock().unwrap_or_else(|e| e.into_inner()).push((k.clone(), *v)));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    input.pipe_input_at(s("a"), 10, 1)?;
    input.pipe_input_at(s("a"), 20, 2)?;
    assert_eq!(
        *seen.lock().unwrap_or_else(|e| e.into_inner()),
        vec![(s("a"), 10), (s("a"), 20)]
    );
    assert!(driver.produced_topics().is_empty());
    Ok(())
}

#[test]
fn merge_forwards_records_of_both_streams_in_arrival_order() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let left = builder.stream::<String, i64>("left", Consumed::with(Serdes::string(), Serdes::i64()));
    let right = builder.stream::<String, i64>("right", Consumed::with(Serdes::string(), Serdes::i64()));
    left.merge(&right).to("out", Produced::new());
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let l = driver.create_input_topic::<String, i64>("left", Serdes::string(), Serdes::i64());
    let r = driver.create_input_topic::<String, i64>("right", Serdes::string(), Serdes::i64());
    let output = driver.create_output_topic::<String, i64>("out", Serdes::string(), Serdes::i64());
    l.pipe_input_at(s("l"), 1, 100)?;
    r.pipe_input_at(s("r"), 2, 50)?;
    l.pipe_input_at(s("l"), 3, 10)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("l"), 1, 100),
            TestRecord::new(s("r"), 2, 50),
            TestRecord::new(s("l"), 3, 10),
        ]
    );
    Ok(())
}

#[test]
fn split_routes_each_record_to_the_first_matching_branch_or_the_default() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let mut branches = builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .split_named(Named::as_("route-"))
        .branch(|_, v| *v < 0, Branched::as_("negative"))
        .branch(|_, v| *v > 1_000_000, Branched::as_("huge"))
        .branch(|_, v| v % 2 == 0, Branched::unnamed())
        .default_branch(Branched::unnamed());
    assert_eq!(
        branches.names().collect::<Vec<_>>(),
        vec!["route-0", "route-3", "route-huge", "route-negative"]
    );
    for name in ["route-0", "route-3", "route-huge", "route-negative"] {
        let branch = branches
            .remove(name)
            .ok_or_else(|| StreamsError::Internal(format!("no branch {name}")))?;
        branch.to(&format!("out-{name}"), Produced::new());
    }
    let topology = builder.build()?;
    let description = topology.describe().to_string();
    for node in [
        "Processor: route- (stores: [])",
        "Processor: route-negative (stores: [])",
        "Processor: route-huge (stores: [])",
        "Processor: route-3 (stores: [])",
        "Processor: route-0 (stores: [])",
    ] {
        assert!(description.contains(node), "{node} missing from\n{description}");
    }
    let driver = TopologyTestDriver::new(topology)?;
    let input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    let read = |name: &str| -> Result<Vec<TestRecord<String, i64>>, StreamsError> {
        driver
            .create_output_topic::<String, i64>(&format!("out-{name}"), Serdes::string(), Serdes::i64())
            .read_records_to_list()
    };
    input.pipe_input_at(s("a"), -2, 1)?;
    input.pipe_input_at(s("b"), 4, 2)?;
    input.pipe_input_at(s("c"), 5, 3)?;
    input.pipe_input_at(s("d"), -7, 4)?;
    input.pipe_input_at(s("e"), 0, 5)?;
    assert_eq!(
        read("route-negative")?,
        vec![TestRecord::new(s("a"), -2, 1), TestRecord::new(s("d"), -7, 4)]
    );
    assert_eq!(read("route-huge")?, vec![]);
    assert_eq!(
        read("route-3")?,
        vec![TestRecord::new(s("b"), 4, 2), TestRecord::new(s("e"), 0, 5)]
    );
    assert_eq!(read("route-0")?, vec![TestRecord::new(s("c"), 5, 3)]);
    Ok(())
}

#[test]
fn split_without_names_numbers_branches_from_one_and_drops_unmatched() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .split()
        .branch(|_, v| *v == 1, Branched::unnamed())
        .branch(|_, v| *v == 2, Branched::unnamed())
        .no_default_branch();
    assert_eq!(branches.names().collect::<Vec<_>>(), vec!["1", "2"]);
    for name in ["1", "2"] {
        if let Some(branch) = branches.get(name) {
            branch.to(&format!("out-{name}"), Produced::new());
        }
    }
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    input.pipe_input_at(s("x"), 2, 1)?;
    input.pipe_input_at(s("y"), 3, 2)?;
    input.pipe_input_at(s("z"), 1, 3)?;
    let one = driver.create_output_topic::<String, i64>("out-1", Serdes::string(), Serdes::i64());
    let two = driver.create_output_topic::<String, i64>("out-2", Serdes::string(), Serdes::i64());
    assert_eq!(one.read_records_to_list()?, vec![TestRecord::new(s("z"), 1, 3)]);
    assert_eq!(two.read_records_to_list()?, vec![TestRecord::new(s("x"), 2, 1)]);
    assert_eq!(driver.total_metrics().records_processed, 3);
    Ok(())
}

/// Keys of Kafka's published murmur2 vectors and the partition each takes among 4:
/// `(murmur2(key) & 0x7fffffff) % 4`.
const KEYS_AND_PARTITIONS_OF_4: [(&str, i32); 4] = [
    // murmur2("21") = -973932308; & 0x7fffffff = 1173551340
    ("21", 0),
    // murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") = -58897971 -> 2088585677
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 1),
    // murmur2("foobar") = -790332482 -> 1357151166
    ("foobar", 2),
    // murmur2("abc") = 479470107
    ("abc", 3),
];

#[test]
fn to_partitions_by_murmur2_of_the_serialized_key() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .to("out", Produced::new());
    let driver = TopologyTestDriver::with_config(builder.build()?, DriverConfig::default().with_partitions("out", 4))?;
    let input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    for (i, (key, _)) in KEYS_AND_PARTITIONS_OF_4.iter().enumerate() {
        input.pipe_input_at(s(key), i as i64, i as i64)?;
    }
    let produced: Vec<(Option<Vec<u8>>, Option<i32>)> = driver
        .produced_records("out")
        .into_iter()
        .map(|r| (r.key, r.partition))
        .collect();
    let expected: Vec<(Option<Vec<u8>>, Option<i32>)> = KEYS_AND_PARTITIONS_OF_4
        .iter()
        .map(|(k, p)| (Some(k.as_bytes().to_vec()), Some(*p)))
        .collect();
    assert_eq!(produced, expected);
    Ok(())
}

#[test]
fn to_with_a_custom_partitioner_uses_it_and_falls_back_to_murmur2_on_none() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::i64()).with_partitioner(
                |topic: &str, _key: &String, value: &i64, partitions: i32| {
                    assert_eq!(topic, "out");
                    (*value >= 0).then(|| (*value % i64::from(partitions)) as i32)
                },
            ),
        );
    let driver = TopologyTestDriver::with_config(builder.build()?, DriverConfig::default().with_partitions("out", 4))?;
    let input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    input.pipe_input_at(s("21"), 7, 1)?;
    input.pipe_input_at(s("21"), 9, 2)?;
    // Negative values: the partitioner declines, murmur2 of the key decides.
    input.pipe_input_at(s("foobar"), -1, 3)?;
    input.pipe_input_at(s("abc"), -1, 4)?;
    let partitions: Vec<Option<i32>> = driver
        .produced_records("out")
        .into_iter()
        .map(|r| r.partition)
        .collect();
    assert_eq!(partitions, vec![Some(3), Some(1), Some(2), Some(3)]);
    Ok(())
}

#[test]
fn repartition_sends_records_through_a_named_internal_topic_partitioned_by_key() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.clone())
        .repartition_with(
            Repartitioned::with(Serdes::string(), Serdes::string())
                .with_name("by-value")
                .with_number_of_partitions(4),
        )
        .map_values(|v| v.len() as i64)
        .to("out", Produced::with(Serdes::string(), Serdes::i64()));
    let topology = builder.build()?;
    assert_eq!(topology.subtopologies().len(), 2);
    let driver = TopologyTestDriver::new(topology)?;
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, i64>("out", Serdes::string(), Serdes::i64());
    for (i, (key, _)) in KEYS_AND_PARTITIONS_OF_4.iter().enumerate() {
        input.pipe_input_at(format!("k{i}"), s(key), 10 * i as i64)?;
    }
    let repartitioned: Vec<(Option<Vec<u8>>, Option<i32>, i64)> = driver
        .produced_records("test-app-by-value-repartition")
        .into_iter()
        .map(|r| (r.key, r.partition, r.timestamp))
        .collect();
    let expected: Vec<(Option<Vec<u8>>, Option<i32>, i64)> = KEYS_AND_PARTITIONS_OF_4
        .iter()
        .enumerate()
        .map(|(i, (k, p))| (Some(k.as_bytes().to_vec()), Some(*p), 10 * i as i64))
        .collect();
    assert_eq!(repartitioned, expected);
    assert_eq!(
        output.read_records_to_list()?,
        KEYS_AND_PARTITIONS_OF_4
            .iter()
            .enumerate()
            .map(|(i, (k, _))| TestRecord::new(s(k), k.len() as i64, 10 * i as i64))
            .collect::<Vec<_>>()
    );
    // One task per partition of the repartition topic, each processing its own key.
    let per_task: Vec<(String, u64)> = driver
        .metrics()
        .into_iter()
        .map(|(id, m)| (id.to_string(), m.records_processed))
        .collect();
    assert_eq!(
        per_task,
        vec![
            (s("0_0"), 4),
            (s("1_0"), 1),
            (s("1_1"), 1),
            (s("1_2"), 1),
            (s("1_3"), 1)
        ]
    );
    Ok(())
}

#[test]
fn option_keys_and_values_carry_nulls_from_the_wire() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<Option<String>, Option<String>>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values_with_key(|k, v| match (k, v) {
            (Some(k), Some(v)) => Some(format!("{k}:{v}")),
            (None, Some(v)) => Some(format!("nokey:{v}")),
            (_, None) => None,
        })
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::with_config(builder.build()?, DriverConfig::default().with_partitions("out", 3))?;
    let mut input =
        driver.create_input_topic::<Option<String>, Option<String>>("in", Serdes::string(), Serdes::string());
    let output =
        driver.create_output_topic::<Option<String>, Option<String>>("out", Serdes::string(), Serdes::string());
    input.pipe_input_at(None, Some(s("v1")), 1)?;
    input.pipe_input_at(Some(s("k")), None, 2)?;
    input.pipe_raw(None, None, 3)?;
    input.pipe_input_at(Some(s("k")), Some(s("v2")), 4)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(None, Some(s("nokey:v1")), 1),
            TestRecord::new(Some(s("k")), None, 2),
            TestRecord::new(None, None, 3),
            TestRecord::new(Some(s("k")), Some(s("k:v2")), 4),
        ]
    );
    let raw: Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> = driver
        .produced_records("out")
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect();
    assert_eq!(
        raw,
        vec![
            (None, Some(b"nokey:v1".to_vec())),
            (Some(b"k".to_vec()), None),
            (None, None),
            (Some(b"k".to_vec()), Some(b"k:v2".to_vec())),
        ]
    );
    Ok(())
}
