//! What goes wrong, and how it is reported: topology validation errors at build time and at
//! driver creation, records that fail to deserialize (with the default handler and with
//! `LogAndContinue`), and the thread-safety of the types the runtime moves across threads.

use streams_core::dsl::{Consumed, Grouped, Named, Produced, StreamsBuilder};
use streams_core::internals::partitioner::murmur2_partition;
use streams_core::internals::{LogAndContinue, Task};
use streams_core::processor::{KeyValueStoreHandle, Processor, ProcessorContext, Record};
use streams_core::serde::Serdes;
use streams_core::state::Stores;
use streams_core::topology::{TaskConfig, Topology, TopologyDescription};
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_owned()
}

/// The error `result` holds, as text; fails the test when it is `Ok`.
fn error_text<T>(result: Result<T, StreamsError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn aggregating_after_a_key_change_without_serdes_names_the_operation() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.len() as i64)
        .group_by_key()
        .count();
    assert_eq!(
        error_text(builder.build()),
        "invalid topology: aggregation `KSTREAM-AGGREGATE-0000000003` needs repartition topic \
         `KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition` after a key-changing operation, but the key \
         serde is unknown: pass serdes (Grouped::with / Joined::with / Repartitioned::with); aggregation \
         `KSTREAM-AGGREGATE-0000000003` needs a key serde for store `KSTREAM-AGGREGATE-STATE-STORE-0000000002`: \
         use Grouped::with or Materialized::with"
    );

    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map(|k, v| (v, k.len() as i64))
        .group_by_key_with(Grouped::as_("by-value"))
        .reduce(|a, b| a + b);
    let text = error_text(builder.build());
    assert!(
        text.contains(
            "aggregation `KSTREAM-REDUCE-0000000003` needs repartition topic `by-value-repartition` after a \
             value-changing operation, but the value serde is unknown"
        ),
        "{text}"
    );
}

#[test]
fn joining_after_a_key_change_without_serdes_names_the_join() {
    let builder = StreamsBuilder::new();
    let table = builder.table::<i64, String>("t", Consumed::with(Serdes::i64(), Serdes::string()));
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.len() as i64)
        .join(&table, |a, b| format!("{a}{b}"))
        .to("out", Produced::with(Serdes::i64(), Serdes::string()));
    assert_eq!(
        error_text(builder.build()),
        "invalid topology: a stream-table join needs repartition topic `KSTREAM-KEY-SELECT-0000000004-repartition` \
         after a key-changing operation, but the key serde is unknown: pass serdes (Grouped::with / Joined::with / \
         Repartitioned::with)"
    );
}

#[test]
fn a_sink_after_a_type_change_needs_serdes() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values(|v| v.len() as i64)
        .to("out", Produced::new());
    assert_eq!(
        error_text(builder.build()),
        "invalid topology: sink `KSTREAM-SINK-0000000002` to `out` needs a value serde (the value type changed \
         upstream): use Produced::with(key_serde, value_serde)"
    );
}

/// Forwards records unchanged.
struct Identity;

impl Processor<String, String, String, String> for Identity {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        ctx.forward(record)
    }
}

#[test]
fn a_processor_naming_a_store_that_was_never_added_fails_the_build() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| Identity, &["missing"]);
    assert_eq!(
        error_text(builder.build()),
        "invalid topology: processor `KSTREAM-PROCESSOR-0000000001` uses state store `missing`, which was never \
         added (StreamsBuilder::add_state_store)"
    );
}

/// Asks, in `init`, for store `name` with values of type `V`.
struct WantsStore<V> {
    name: &'static str,
    handle: Option<KeyValueStoreHandle<String, V>>,
}

impl<V: 'static> Processor<String, String, String, String> for WantsStore<V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<(), StreamsError> {
        self.handle = Some(ctx.key_value_store::<String, V>(self.name)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        ctx.forward(record)
    }
}

fn store_topology<V: Send + 'static>(asked: &'static str) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder.add_state_store(Stores::key_value_store_builder::<String, i64>(
        Stores::in_memory_key_value_store("counts"),
        Serdes::string(),
        Serdes::i64(),
    ));
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process(
            move || WantsStore::<V> {
                name: asked,
                handle: None,
            },
            &["counts"],
        );
    builder.build()
}

#[test]
fn a_processor_reaching_for_a_store_it_is_not_connected_to_or_with_wrong_types_fails_at_init() {
    assert_eq!(
        error_text(store_topology::<i64>("other").and_then(TopologyTestDriver::new)),
        "state store `other`: processor `KSTREAM-PROCESSOR-0000000001` is not connected to it"
    );
    assert_eq!(
        error_text(store_topology::<String>("counts").and_then(TopologyTestDriver::new)),
        "state store `counts`: store holds <alloc::string::String, i64>, asked for <alloc::string::String, \
         alloc::string::String>"
    );
}

#[test]
fn a_topic_read_by_two_sources_fails_the_build() {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .to("a", Produced::new());
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .to("b", Produced::new());
    assert_eq!(
        error_text(builder.build()),
        "invalid topology: topic `in` is read by two sources, `KSTREAM-SOURCE-0000000000` and \
         `KSTREAM-SOURCE-0000000002`; read it once and share the stream"
    );
}

#[test]
fn duplicate_processor_names_fail_the_build() {
    let builder = StreamsBuilder::new();
    let stream = builder.stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()));
    stream.filter_named(Named::as_("keep"), |_, v| !v.is_empty());
    stream.filter_not_named(Named::as_("keep"), |_, v| v.is_empty());
    assert_eq!(
        error_text(builder.build()),
        "invalid topology: processor name `keep` is used twice; give each a unique Named"
    );
}

#[test]
fn an_empty_topology_fails_the_build() {
    assert_eq!(
        error_text(StreamsBuilder::new().build()),
        "invalid topology: the topology has no nodes; add a source with StreamsBuilder::stream or table"
    );
}

#[test]
fn joining_topics_with_different_partition_counts_fails_when_the_driver_starts() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let table = builder.table::<String, String>("table-in", Consumed::with(Serdes::string(), Serdes::string()));
    builder
        .stream::<String, String>("stream-in", Consumed::with(Serdes::string(), Serdes::string()))
        .join(&table, |a, b| format!("{a}{b}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build()?;
    let config = DriverConfig::default()
        .with_partitions("stream-in", 2)
        .with_partitions("table-in", 3);
    assert_eq!(
        error_text(TopologyTestDriver::with_config(topology.clone(), config)),
        "invalid topology: topics joined together must be co-partitioned (same partition count), but `stream-in` \
         has 2 and `table-in` has 3; repartition one side (KStream::repartition with \
         Repartitioned::with_number_of_partitions)"
    );
    let config = DriverConfig::default()
        .with_partitions("stream-in", 3)
        .with_partitions("table-in", 3);
    TopologyTestDriver::with_config(topology, config)?;
    Ok(())
}

fn sum_per_key() -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder
        .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key()
        .reduce(|a, b| a + b)
        .to_stream()
        .to("out", Produced::new());
    builder.build()
}

#[test]
fn a_bad_record_stops_processing_with_its_topic_partition_and_offset() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::with_config(sum_per_key()?, DriverConfig::default().with_partitions("in", 2))?;
    let mut input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    // "abc" and "21" go to partition 1 and 0 of 2 (murmur2).
    input.pipe_input_at(s("abc"), 1, 1)?;
    input.pipe_input_at(s("abc"), 2, 2)?;
    let error = input
        .pipe_raw(Some(b"abc".to_vec()), Some(vec![0, 0, 7]), 3)
        .err()
        .ok_or_else(|| StreamsError::Internal("the bad value was accepted".into()))?;
    assert!(matches!(
        &error,
        StreamsError::Deserialization {
            part: "value",
            partition: 1,
            offset: 2,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "failed to deserialize the value of the record at in-1@2: expected 8 bytes for i64, got 3"
    );
    let bad_key = vec![0xff, 0xfe];
    let (partition, offset) = match murmur2_partition(&bad_key, 2) {
        0 => (0, 0),
        _ => (1, 3),
    };
    assert_eq!(
        error_text(input.pipe_raw(Some(bad_key), Some(vec![0; 8]), 4)),
        format!(
            "failed to deserialize the key of the record at in-{partition}@{offset}: invalid UTF-8: invalid utf-8 \
             sequence of 1 bytes from index 0"
        )
    );
    Ok(())
}

#[test]
fn a_null_value_on_a_stream_of_non_optional_values_goes_to_the_handler() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(sum_per_key()?)?;
    let mut input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    let error = error_text(input.pipe_raw(Some(b"k".to_vec()), None, 1));
    assert_eq!(
        error,
        "failed to deserialize the value of the record at in-0@0: null where a i64 was expected (declare the type \
         as Option<_> to accept nulls)"
    );

    let driver = TopologyTestDriver::with_config(
        sum_per_key()?,
        DriverConfig::default().with_deserialization_handler(LogAndContinue),
    )?;
    let mut input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    input.pipe_raw(Some(b"k".to_vec()), None, 1)?;
    input.pipe_raw(None, Some(5i64.to_be_bytes().to_vec()), 2)?;
    input.pipe_input_at(s("k"), 5, 3)?;
    assert_eq!(driver.total_metrics().deserialization_errors_skipped, 2);
    let output = driver.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![TestRecord::new(s("k"), Some(5), 3)]
    );
    Ok(())
}

#[test]
fn log_and_continue_skips_and_counts_bad_records_and_processes_the_rest() -> Result<(), StreamsError> {
    let config = DriverConfig::default().with_deserialization_handler(LogAndContinue);
    let driver = TopologyTestDriver::with_config(sum_per_key()?, config)?;
    let mut input = driver.create_input_topic::<String, i64>("in", Serdes::string(), Serdes::i64());
    input.pipe_input_at(s("k"), 1, 1)?;
    input.pipe_raw(Some(b"k".to_vec()), Some(vec![1, 2, 3]), 2)?;
    input.pipe_raw(Some(vec![0xc3]), Some(vec![0; 8]), 3)?;
    input.pipe_input_at(s("k"), 10, 4)?;
    input.pipe_raw(Some(b"k".to_vec()), Some(Vec::new()), 5)?;
    input.pipe_input_at(s("j"), 7, 6)?;
    let metrics = driver.total_metrics();
    assert_eq!(metrics.deserialization_errors_skipped, 3);
    assert_eq!(metrics.records_processed, 6);
    assert_eq!(metrics.dropped_records, 0);
    let output = driver.create_output_topic::<String, Option<i64>>("out", Serdes::string(), Serdes::i64());
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            TestRecord::new(s("k"), Some(1), 1),
            TestRecord::new(s("k"), Some(11), 4),
            TestRecord::new(s("j"), Some(7), 6),
        ]
    );
    assert_eq!(
        driver.key_value_store::<String, i64>("KSTREAM-REDUCE-STATE-STORE-0000000001")?,
        vec![(s("j"), 7), (s("k"), 11)]
    );
    Ok(())
}

fn assert_send_sync<T: Send + Sync>() {}

fn assert_send<T: Send>() {}

#[test]
fn types_the_runtime_moves_across_threads_are_send_and_sync() {
    assert_send_sync::<Topology>();
    assert_send_sync::<TopologyDescription>();
    assert_send_sync::<StreamsBuilder>();
    assert_send_sync::<TaskConfig>();
    assert_send_sync::<StreamsError>();
    assert_send::<Task>();
}

#[test]
fn a_topology_can_be_shared_with_threads_that_create_its_tasks() -> Result<(), StreamsError> {
    let topology = std::sync::Arc::new(sum_per_key()?);
    let handles: Vec<_> = (0..2)
        .map(|partition| {
            let topology = std::sync::Arc::clone(&topology);
            std::thread::spawn(move || -> Result<String, StreamsError> {
                let id = streams_core::internals::TaskId {
                    subtopology: 0,
                    partition,
                };
                struct Discard;
                impl streams_core::internals::RecordCollector for Discard {
                    fn send(&self, _: streams_core::processor::ProducerRecord) -> Result<(), StreamsError> {
                        Ok(())
                    }
                    fn partitions_for(&self, _: &str) -> Option<i32> {
                        Some(2)
                    }
                    fn flush(&self) -> Result<(), StreamsError> {
                        Ok(())
                    }
                }
                let task = topology.create_task(id, &TaskConfig::new("app", std::sync::Arc::new(Discard)))?;
                Ok(task.id().to_string())
            })
        })
        .collect();
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(
            handle
                .join()
                .map_err(|_| StreamsError::Internal("task thread panicked".into()))??,
        );
    }
    assert_eq!(ids, vec![s("0_0"), s("0_1")]);
    Ok(())
}
