//! The Processor API through `KStream::process`: a processor with a state store, record
//! metadata (topic, partition, offset), headers, forwarding to a named child, and punctuation in
//! stream time and wall-clock time with the exact times it fires (Kafka Streams' semantics).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use streams_core::dsl::{Consumed, Named, Produced, StreamsBuilder};
use streams_core::processor::{
    Headers, KeyValueStoreHandle, Processor, ProcessorContext, PunctuationType, Record, Schedule,
    TimestampedKeyValueStoreHandle, ValueAndTimestamp,
};
use streams_core::serde::Serdes;
use streams_core::state::Stores;
use streams_core::topology::Topology;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_owned()
}

fn not_initialized() -> StreamsError {
    StreamsError::Internal("processor used before init".into())
}

/// Counts records per key in store `seen`, tags each record with where it came from and its
/// count, and reports each punctuation as a record keyed by the kind of time.
struct Tracker {
    schedules: bool,
    seen: Option<KeyValueStoreHandle<String, i64>>,
}

impl Processor<String, String, String, String> for Tracker {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<(), StreamsError> {
        self.seen = Some(ctx.key_value_store::<String, i64>("seen")?);
        if self.schedules {
            ctx.schedule(Duration::from_millis(10), PunctuationType::StreamTime)?;
            ctx.schedule(Duration::from_millis(100), PunctuationType::WallClockTime)?;
        }
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let seen = self.seen.as_ref().ok_or_else(not_initialized)?;
        let count = ctx.kv(seen).get(&record.key)?.unwrap_or(0) + 1;
        ctx.kv(seen).put(&record.key, &count)?;
        let meta = ctx
            .record_metadata()
            .cloned()
            .ok_or_else(|| StreamsError::Internal("no record metadata while processing".into()))?;
        let value = format!("{}@{}-{}-{}", record.value, meta.topic, meta.partition, meta.offset);
        let mut headers = record.headers.clone();
        headers.remove("drop-me").add("count", count.to_string());
        ctx.forward(record.with_value(value).with_headers(headers))
    }

    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let seen = self.seen.as_ref().ok_or_else(not_initialized)?;
        let keys = ctx.kv(seen).approximate_num_entries()?;
        let (kind, clock) = match schedule.kind {
            PunctuationType::StreamTime => ("stream-time", ctx.stream_time()),
            PunctuationType::WallClockTime => ("wall-clock", ctx.current_system_time_ms()),
        };
        let value = format!(
            "at {timestamp} clock {clock} keys {keys} metadata {}",
            ctx.record_metadata().is_some()
        );
        ctx.forward(Record::new(kind.to_owned(), value, timestamp))
    }
}

fn tracker_topology(schedules: bool) -> Result<Topology, StreamsError> {
    let builder = StreamsBuilder::new();
    builder.add_state_store(Stores::key_value_store_builder::<String, i64>(
        Stores::in_memory_key_value_store("seen"),
        Serdes::string(),
        Serdes::i64(),
    ));
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process(move || Tracker { schedules, seen: None }, &["seen"])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder.build()
}

fn record(key: &str, value: &str, ts: i64, count: i64) -> TestRecord<String, String> {
    let mut headers = Headers::new();
    headers.add("keep", "k").add("count", count.to_string());
    TestRecord::new(s(key), s(value), ts).with_headers(headers)
}

fn punctuation(kind: &str, at: i64, keys: u64) -> TestRecord<String, String> {
    TestRecord::new(s(kind), format!("at {at} clock {at} keys {keys} metadata false"), at)
}

#[test]
fn a_processor_uses_its_store_metadata_and_headers_and_punctuates_in_both_times() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::new(tracker_topology(true)?)?;
    let mut input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    let mut pipe = |key: &str, value: &str, ts: i64| {
        let mut headers = Headers::new();
        headers.add("keep", "k").add("drop-me", "x");
        input.pipe_record(TestRecord::new(s(key), s(value), ts).with_headers(headers))
    };

    // Stream-time schedules are aligned to 0: the first record makes one due at once.
    pipe("k1", "a", 3)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![record("k1", "a@in-0-0", 3, 1), punctuation("stream-time", 3, 1)]
    );
    // Next due at 10.
    pipe("k2", "b", 9)?;
    pipe("k1", "c", 10)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            record("k2", "b@in-0-1", 9, 1),
            record("k1", "c@in-0-2", 10, 2),
            punctuation("stream-time", 10, 2),
        ]
    );
    // A late record does not move stream time; a jump fires once and skips what it missed.
    pipe("k1", "d", 5)?;
    pipe("k3", "e", 47)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            record("k1", "d@in-0-3", 5, 3),
            record("k3", "e@in-0-4", 47, 1),
            punctuation("stream-time", 47, 3),
        ]
    );
    pipe("k3", "f", 49)?;
    pipe("k3", "g", 50)?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![
            record("k3", "f@in-0-5", 49, 2),
            record("k3", "g@in-0-6", 50, 3),
            punctuation("stream-time", 50, 3),
        ]
    );

    // Wall-clock schedules fire once the interval has elapsed from when they were made (0).
    driver.advance_wall_clock_time(Duration::from_millis(99))?;
    assert!(output.is_empty());
    driver.advance_wall_clock_time(Duration::from_millis(1))?;
    assert_eq!(output.read_records_to_list()?, vec![punctuation("wall-clock", 100, 3)]);
    // Missed intervals collapse into one punctuation; the next is at the following multiple.
    driver.advance_wall_clock_time(Duration::from_millis(250))?;
    assert_eq!(output.read_records_to_list()?, vec![punctuation("wall-clock", 350, 3)]);
    driver.advance_wall_clock_time(Duration::from_millis(49))?;
    assert!(output.is_empty());
    driver.advance_wall_clock_time(Duration::from_millis(1))?;
    assert_eq!(output.read_records_to_list()?, vec![punctuation("wall-clock", 400, 3)]);

    assert_eq!(
        driver.key_value_store::<String, i64>("seen")?,
        vec![(s("k1"), 3), (s("k2"), 1), (s("k3"), 3)]
    );
    assert_eq!(driver.total_metrics().punctuations, 7);
    // A plain (not timestamped) store logs the value as is, at the record's timestamp.
    let changelog: Vec<(Option<Vec<u8>>, Option<Vec<u8>>, i64)> = driver
        .produced_records("test-app-seen-changelog")
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .take(2)
        .collect();
    assert_eq!(
        changelog,
        vec![
            (Some(b"k1".to_vec()), Some(1i64.to_be_bytes().to_vec()), 3),
            (Some(b"k2".to_vec()), Some(1i64.to_be_bytes().to_vec()), 9),
        ]
    );
    Ok(())
}

#[test]
fn record_metadata_names_the_partition_and_offset_of_each_record() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::with_config(
        tracker_topology(false)?,
        DriverConfig::default().with_partitions("in", 2),
    )?;
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    // murmur2 & 0x7fffffff: "21" -> 1173551340, "abc" -> 479470107, "foobar" -> 1357151166.
    for (key, ts) in [("21", 1), ("abc", 2), ("foobar", 3), ("abc", 4)] {
        input.pipe_input_at(s(key), s("v"), ts)?;
    }
    let values: Vec<String> = output.read_values_to_list()?;
    assert_eq!(values, vec!["v@in-0-0", "v@in-1-0", "v@in-0-1", "v@in-1-1"]);
    Ok(())
}

/// Sends each record to the child named after its key, and punctuates every millisecond of
/// stream time until it cancels its schedule from within the second punctuation.
struct Router {
    schedule: Option<Schedule>,
    punctuations: Arc<Mutex<Vec<i64>>>,
}

impl Processor<String, String, String, String> for Router {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<(), StreamsError> {
        assert_eq!(ctx.child_names().collect::<Vec<_>>(), vec!["to-left", "to-right"]);
        assert_eq!(ctx.processor_name(), "router");
        assert_eq!(ctx.application_id(), "router-app");
        self.schedule = Some(ctx.schedule(Duration::from_millis(1), PunctuationType::StreamTime)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let child = format!("to-{}", record.key);
        ctx.forward_to(&child, record)
    }

    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let mut seen = self.punctuations.lock().unwrap_or_else(|e| e.into_inner());
        seen.push(timestamp);
        if seen.len() == 2 {
            ctx.cancel(schedule);
        }
        Ok(())
    }
}

#[test]
fn forward_to_reaches_one_named_child_and_a_cancelled_schedule_stops() -> Result<(), StreamsError> {
    let punctuations: Arc<Mutex<Vec<i64>>> = Arc::default();
    let shared = Arc::clone(&punctuations);
    let builder = StreamsBuilder::new();
    let routed = builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process_named(
            Named::as_("router"),
            move || Router {
                schedule: None,
                punctuations: Arc::clone(&shared),
            },
            &[],
        );
    routed.to(
        "left",
        Produced::with(Serdes::string(), Serdes::string()).with_name("to-left"),
    );
    routed.to(
        "right",
        Produced::with(Serdes::string(), Serdes::string()).with_name("to-right"),
    );
    let driver = TopologyTestDriver::with_config(
        builder.build()?,
        DriverConfig::default().with_application_id("router-app"),
    )?;
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("left"), s("1"), 1)?;
    input.pipe_input_at(s("right"), s("2"), 2)?;
    input.pipe_input_at(s("left"), s("3"), 3)?;
    input.pipe_input_at(s("up"), s("4"), 4).map_or(Ok(()), |()| {
        Err(StreamsError::Internal(
            "forwarding to an unknown child succeeded".into(),
        ))
    })?;
    let left = driver.create_output_topic::<String, String>("left", Serdes::string(), Serdes::string());
    let right = driver.create_output_topic::<String, String>("right", Serdes::string(), Serdes::string());
    assert_eq!(
        left.read_records_to_list()?,
        vec![
            TestRecord::new(s("left"), s("1"), 1),
            TestRecord::new(s("left"), s("3"), 3)
        ]
    );
    assert_eq!(
        right.read_records_to_list()?,
        vec![TestRecord::new(s("right"), s("2"), 2)]
    );
    assert_eq!(*punctuations.lock().unwrap_or_else(|e| e.into_inner()), vec![1, 2]);
    Ok(())
}

/// Keeps the latest value per key with the timestamp of the record that wrote it, and emits
/// the previous one.
struct Latest {
    store: Option<TimestampedKeyValueStoreHandle<String, String>>,
}

impl Processor<String, String, String, String> for Latest {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<(), StreamsError> {
        self.store = Some(ctx.timestamped_key_value_store::<String, String>("latest")?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let store = self.store.as_ref().ok_or_else(not_initialized)?;
        let previous = ctx.timestamped_kv(store).get(&record.key)?;
        ctx.timestamped_kv(store)
            .put(&record.key, &record.value, record.timestamp)?;
        let value = match previous {
            Some(ValueAndTimestamp { value, timestamp }) => format!("{value}@{timestamp}"),
            None => "-".to_owned(),
        };
        ctx.forward(record.with_value(value))
    }
}

#[test]
fn a_timestamped_store_keeps_the_writing_record_timestamp_and_logs_like_kafka() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder.add_state_store(
        Stores::timestamped_key_value_store_builder::<String, String>(
            Stores::in_memory_key_value_store("latest"),
            Serdes::string(),
            Serdes::string(),
        )
        .with_caching_enabled(),
    );
    builder
        .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| Latest { store: None }, &["latest"])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let input = driver.create_input_topic::<String, String>("in", Serdes::string(), Serdes::string());
    input.pipe_input_at(s("k"), s("a"), 5)?;
    input.pipe_input_at(s("k"), s("b"), 7)?;
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    assert_eq!(output.read_values_to_list()?, vec![s("-"), s("a@5")]);
    assert_eq!(
        driver.timestamped_key_value_store::<String, String>("latest")?,
        vec![(
            s("k"),
            ValueAndTimestamp {
                value: s("b"),
                timestamp: 7
            }
        )]
    );
    let changelog: Vec<(Option<Vec<u8>>, i64)> = driver
        .produced_records("test-app-latest-changelog")
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect();
    assert_eq!(changelog, vec![(Some(b"a".to_vec()), 5), (Some(b"b".to_vec()), 7)]);
    Ok(())
}

#[test]
fn wall_clock_schedules_start_from_the_driver_initial_time() -> Result<(), StreamsError> {
    let config = DriverConfig {
        initial_wall_clock_ms: 1_000,
        ..DriverConfig::default()
    };
    let driver = TopologyTestDriver::with_config(tracker_topology(true)?, config)?;
    let output = driver.create_output_topic::<String, String>("out", Serdes::string(), Serdes::string());
    driver.advance_wall_clock_time(Duration::from_millis(99))?;
    assert!(output.is_empty());
    driver.advance_wall_clock_time(Duration::from_millis(1))?;
    assert_eq!(
        output.read_records_to_list()?,
        vec![punctuation("wall-clock", 1_100, 0)]
    );
    // No record yet, so no stream time and no stream-time punctuation.
    assert_eq!(driver.total_metrics().punctuations, 1);
    Ok(())
}
