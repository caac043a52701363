//! Global stores: `StreamsBuilder::global_table` and `add_global_store` in the testkit. A
//! global store holds every partition of its topic, is filled at once by its global processor
//! when a record is piped into the topic, is read-only for stream processors, and is printed
//! by `describe()` as Kafka Streams prints global stores.

use std::sync::{Arc, Mutex};

use streams_core::dsl::{Consumed, Materialized, Produced, StreamsBuilder};
use streams_core::internals::partitioner::murmur2_partition;
use streams_core::processor::{
    KeyValueStoreHandle, Processor, ProcessorContext, Record, TimestampedKeyValueStoreHandle,
};
use streams_core::serde::Serdes;
use streams_core::state::Stores;
use streams_core::StreamsError;
use testkit::{DriverConfig, TestRecord, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_owned()
}

fn not_initialized() -> StreamsError {
    StreamsError::Internal("processor used before init".into())
}

/// Looks each order's region up in the global store `regions` and forwards `order@region`
/// (`order@?` when the region is unknown).
struct Enrich(Option<TimestampedKeyValueStoreHandle<String, String>>);

impl Processor<String, String, String, String> for Enrich {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<(), StreamsError> {
        self.0 = Some(ctx.timestamped_key_value_store("regions")?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let handle = self.0.as_ref().ok_or_else(not_initialized)?;
        let region = ctx.timestamped_kv(handle).get(&record.key)?.map_or(s("?"), |v| v.value);
        let value = format!("{}@{region}", record.value);
        ctx.forward(record.with_value(value))
    }
}

fn enrich_topology() -> StreamsBuilder {
    let builder = StreamsBuilder::new();
    let orders = builder.stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()));
    builder.global_table_with::<String, String>(
        "regions-topic",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions"),
    );
    orders
        .process(|| Enrich(None), &[])
        .to("enriched", Produced::with(Serdes::string(), Serdes::string()));
    builder
}

#[test]
fn describe_prints_global_stores_as_kafka_streams() -> Result<(), StreamsError> {
    let description = enrich_topology().build()?.describe().to_string();
    assert_eq!(
        description,
        "Topologies:\n   \
         Sub-topology: 0\n    \
         Source: KSTREAM-SOURCE-0000000000 (topics: [orders])\n      \
         --> KSTREAM-PROCESSOR-0000000003\n    \
         Processor: KSTREAM-PROCESSOR-0000000003 (stores: [])\n      \
         --> KSTREAM-SINK-0000000004\n      \
         <-- KSTREAM-SOURCE-0000000000\n    \
         Sink: KSTREAM-SINK-0000000004 (topic: enriched)\n      \
         <-- KSTREAM-PROCESSOR-0000000003\n\n  \
         Sub-topology: 1 for global store (will not generate tasks)\n    \
         Source: KSTREAM-SOURCE-0000000001 (topics: [regions-topic])\n      \
         --> KTABLE-SOURCE-0000000002\n    \
         Processor: KTABLE-SOURCE-0000000002 (stores: [regions])\n      \
         --> none\n      \
         <-- KSTREAM-SOURCE-0000000001\n"
    );
    Ok(())
}

#[test]
fn a_global_table_alone_gets_kafka_streams_generated_names() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    let table = builder.global_table::<String, String>("t", Consumed::with(Serdes::string(), Serdes::string()));
    assert_eq!(table.queryable_store_name(), "t-STATE-STORE-0000000000");
    let topology = builder.build()?;
    assert_eq!(
        topology.describe().to_string(),
        "Topologies:\n   \
         Sub-topology: 0 for global store (will not generate tasks)\n    \
         Source: KSTREAM-SOURCE-0000000001 (topics: [t])\n      \
         --> KTABLE-SOURCE-0000000002\n    \
         Processor: KTABLE-SOURCE-0000000002 (stores: [t-STATE-STORE-0000000000])\n      \
         --> none\n      \
         <-- KSTREAM-SOURCE-0000000001\n"
    );
    assert!(topology.has_global_stores());
    assert_eq!(topology.global_source_topics(), vec![s("t")]);
    assert!(topology.source_topics().is_empty());
    // No tasks, no changelog: the topic is the store's changelog.
    assert_eq!(topology.task_counts(&|_| Some(3))?, vec![0]);
    assert!(topology.internal_topics("app", &|_| Some(3))?.is_empty());
    Ok(())
}

#[test]
fn piping_into_a_global_topic_updates_the_store_at_once_over_every_partition() -> Result<(), StreamsError> {
    let driver = TopologyTestDriver::with_config(
        enrich_topology().build()?,
        DriverConfig::default()
            .with_partitions("regions-topic", 3)
            .with_partitions("orders", 2),
    )?;
    let mut regions = driver.create_input_topic("regions-topic", Serdes::string(), Serdes::string());
    let mut orders = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    let enriched = driver.create_output_topic("enriched", Serdes::string(), Serdes::string());

    regions.pipe_record(TestRecord::new(s("alice"), s("eu"), 10))?;
    regions.pipe_record(TestRecord::new(s("bob"), s("us"), 11))?;
    regions.pipe_record(TestRecord::new(s("carol"), s("apac"), 12))?;
    // Keys of three partitions, all in the one global store, with their timestamps.
    let rows = driver.timestamped_key_value_store::<String, String>("regions")?;
    let rows: Vec<(String, String, i64)> = rows.into_iter().map(|(k, v)| (k, v.value, v.timestamp)).collect();
    assert_eq!(
        rows,
        vec![
            (s("alice"), s("eu"), 10),
            (s("bob"), s("us"), 11),
            (s("carol"), s("apac"), 12)
        ]
    );

    orders.pipe_record(TestRecord::new(s("alice"), s("o1"), 20))?;
    orders.pipe_record(TestRecord::new(s("dave"), s("o2"), 21))?;
    regions.pipe_record(TestRecord::new(s("alice"), s("us"), 22))?;
    orders.pipe_record(TestRecord::new(s("alice"), s("o3"), 23))?;
    // A tombstone deletes the row.
    regions.pipe_raw(Some(b"bob".to_vec()), None, 24)?;
    orders.pipe_record(TestRecord::new(s("bob"), s("o4"), 25))?;
    assert_eq!(
        enriched.read_key_values_to_list()?,
        vec![
            (s("alice"), s("o1@eu")),
            (s("dave"), s("o2@?")),
            (s("alice"), s("o3@us")),
            (s("bob"), s("o4@?")),
        ]
    );
    assert_eq!(
        driver.key_value_store::<String, String>("regions")?,
        vec![(s("alice"), s("us")), (s("carol"), s("apac"))]
    );
    assert_eq!(
        driver.store_get::<String, String>("regions", &s("carol"))?,
        Some(s("apac"))
    );
    // The global store is read in the global task only, not once per stream task.
    assert_eq!(driver.total_metrics().records_processed, 4);
    Ok(())
}

/// Tries to write the global store `regions` from a stream processor.
struct Writer(Option<TimestampedKeyValueStoreHandle<String, String>>);

impl Processor<String, String, String, String> for Writer {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<(), StreamsError> {
        self.0 = Some(ctx.timestamped_key_value_store("regions")?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<(), StreamsError> {
        let handle = self.0.as_ref().ok_or_else(not_initialized)?;
        ctx.timestamped_kv(handle)
            .put(&record.key, &record.value, record.timestamp)?;
        Ok(())
    }
}

#[test]
fn stream_processors_cannot_write_a_global_store() -> Result<(), StreamsError> {
    let builder = StreamsBuilder::new();
    builder.global_table_with::<String, String>(
        "regions-topic",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions"),
    );
    builder
        .stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| Writer(None), &[])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let mut orders = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    let err = orders
        .pipe_record(TestRecord::new(s("alice"), s("eu"), 1))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("state store `regions` is read-only here: only its global processor writes it")
    );
    assert!(driver.key_value_store::<String, String>("regions")?.is_empty());
    Ok(())
}

type Registry = Arc<Mutex<Vec<(String, i32, i64)>>>;

/// A custom global processor: parses `name=weight` records into the store `models` (weight by
/// name, a null value deletes) and keeps an in-memory registry of every record it saw, with
/// its partition and offset.
struct ModelLoader {
    registry: Registry,
    store: Option<KeyValueStoreHandle<String, i64>>,
}

impl Processor<String, Option<String>, (), ()> for ModelLoader {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, (), ()>) -> Result<(), StreamsError> {
        self.store = Some(ctx.key_value_store("models")?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, Option<String>>,
        ctx: &mut ProcessorContext<'_, (), ()>,
    ) -> Result<(), StreamsError> {
        let store = self.store.as_ref().ok_or_else(not_initialized)?;
        let meta = ctx
            .record_metadata()
            .cloned()
            .ok_or_else(|| StreamsError::Internal("no metadata".into()))?;
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((record.key.clone(), meta.partition, meta.offset));
        match record.value.as_deref().and_then(|v| v.split_once('=')) {
            Some((_, weight)) => {
                let weight = weight.parse::<i64>().map_err(|e| StreamsError::Processor {
                    processor: "ModelLoader".into(),
                    reason: e.to_string(),
                })?;
                ctx.kv(store).put(&record.key, &weight)?;
            }
            None => {
                ctx.kv(store).delete(&record.key)?;
            }
        }
        Ok(())
    }
}

/// Scores each input with the weight of the model it names.
struct Score(Option<KeyValueStoreHandle<String, i64>>);

impl Processor<String, i64, String, i64> for Score {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<(), StreamsError> {
        self.0 = Some(ctx.key_value_store("models")?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, i64>,
        ctx: &mut ProcessorContext<'_, String, i64>,
    ) -> Result<(), StreamsError> {
        let store = self.0.as_ref().ok_or_else(not_initialized)?;
        let Some(weight) = ctx.kv(store).get(&record.key)? else {
            ctx.record_dropped();
            return Ok(());
        };
        let value = record.value * weight;
        ctx.forward(record.with_value(value))
    }
}

fn model_topology(registry: &Registry) -> StreamsBuilder {
    let builder = StreamsBuilder::new();
    let store = Stores::key_value_store_builder::<String, i64>(
        Stores::in_memory_key_value_store("models"),
        Serdes::string(),
        Serdes::i64(),
    )
    .with_logging_disabled();
    let registry = Arc::clone(registry);
    builder.add_global_store(
        store,
        "model-updates",
        Consumed::with(Serdes::string(), Serdes::nullable(Serdes::string())),
        move || ModelLoader {
            registry: Arc::clone(&registry),
            store: None,
        },
    );
    builder
        .stream::<String, i64>("inputs", Consumed::with(Serdes::string(), Serdes::i64()))
        .process(|| Score(None), &[])
        .to("scores", Produced::with(Serdes::string(), Serdes::i64()));
    builder
}

#[test]
fn a_custom_global_processor_sees_every_record_and_stream_tasks_read_its_store() -> Result<(), StreamsError> {
    let registry = Registry::default();
    let driver = TopologyTestDriver::with_config(
        model_topology(&registry).build()?,
        DriverConfig::default().with_partitions("model-updates", 2),
    )?;
    let mut updates = driver.create_input_topic("model-updates", Serdes::string(), Serdes::nullable(Serdes::string()));
    let mut inputs = driver.create_input_topic("inputs", Serdes::string(), Serdes::i64());
    let scores = driver.create_output_topic("scores", Serdes::string(), Serdes::i64());

    updates.pipe_record(TestRecord::new(s("m1"), Some(s("m1=3")), 1))?;
    inputs.pipe_record(TestRecord::new(s("m1"), 5, 2))?;
    inputs.pipe_record(TestRecord::new(s("m2"), 5, 3))?;
    updates.pipe_record(TestRecord::new(s("m2"), Some(s("m2=-2")), 4))?;
    updates.pipe_record(TestRecord::new(s("m1"), Some(s("m1=10")), 5))?;
    inputs.pipe_record(TestRecord::new(s("m1"), 5, 6))?;
    inputs.pipe_record(TestRecord::new(s("m2"), 5, 7))?;
    updates.pipe_record(TestRecord::new(s("m2"), None, 8))?;
    inputs.pipe_record(TestRecord::new(s("m2"), 5, 9))?;

    assert_eq!(
        scores.read_key_values_to_list()?,
        vec![(s("m1"), 15), (s("m1"), 50), (s("m2"), -10)]
    );
    assert_eq!(driver.key_value_store::<String, i64>("models")?, vec![(s("m1"), 10)]);
    assert_eq!(driver.total_metrics().dropped_records, 2);
    // Every record reached the global processor with the partition murmur2 gives its key and
    // its offset within that partition.
    let partition = |key: &str| murmur2_partition(key.as_bytes(), 2);
    let mut next_offset = [0i64; 2];
    let mut expected = Vec::new();
    for key in ["m1", "m2", "m1", "m2"] {
        let p = partition(key);
        expected.push((s(key), p, next_offset[p as usize]));
        next_offset[p as usize] += 1;
    }
    assert_eq!(*registry.lock().unwrap_or_else(|e| e.into_inner()), expected);
    Ok(())
}

#[test]
fn a_global_store_with_logging_enabled_is_refused() {
    let builder = StreamsBuilder::new();
    let store = Stores::key_value_store_builder::<String, i64>(
        Stores::in_memory_key_value_store("models"),
        Serdes::string(),
        Serdes::i64(),
    );
    let registry = Registry::default();
    builder.add_global_store(
        store,
        "model-updates",
        Consumed::with(Serdes::string(), Serdes::nullable(Serdes::string())),
        move || ModelLoader {
            registry: Arc::clone(&registry),
            store: None,
        },
    );
    let err = builder.build().err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "invalid topology: global store `models` must have logging disabled (its topic `model-updates` is its \
             changelog); call with_logging_disabled() on its StoreBuilder"
        )
    );
}

#[test]
fn a_topic_can_feed_a_global_store_and_a_stream_but_not_two_of_either() -> Result<(), StreamsError> {
    // One global table and one stream on the same topic: each record updates the global
    // store first, then reaches the stream task, at the same offset.
    let builder = StreamsBuilder::new();
    let table = builder.global_table_with::<String, String>(
        "settings",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("settings-store"),
    );
    builder
        .stream::<String, String>("settings", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values(|v| v.to_uppercase())
        .to("audit", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build()?;
    assert_eq!(topology.global_source_topics(), ["settings"]);
    assert_eq!(topology.source_topics(), ["settings"]);
    let driver = TopologyTestDriver::with_config(
        topology,
        DriverConfig::default().with_global_topic_records("settings", [(Some(b"a".to_vec()), Some(b"0".to_vec()), 1)]),
    )?;
    let mut input = driver.create_input_topic("settings", Serdes::string(), Serdes::string());
    let audit = driver.create_output_topic("audit", Serdes::string(), Serdes::string());
    input.pipe_record(TestRecord::new(s("a"), s("x"), 2))?;
    input.pipe_record(TestRecord::new(s("b"), s("y"), 3))?;
    assert_eq!(
        driver.key_value_store::<String, String>(table.queryable_store_name())?,
        vec![(s("a"), s("x")), (s("b"), s("y"))]
    );
    // The record already on the topic at start went to the global store only.
    assert_eq!(
        audit.read_key_values_to_list()?,
        vec![(s("a"), s("X")), (s("b"), s("Y"))]
    );

    // Two streams on one topic, or two global stores, are refused as before.
    let builder = StreamsBuilder::new();
    for _ in 0..2 {
        builder
            .stream::<String, String>("settings", Consumed::with(Serdes::string(), Serdes::string()))
            .to("audit", Produced::with(Serdes::string(), Serdes::string()));
    }
    let error = builder.build().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("topic `settings` is read by two sources"), "{error}");
    let builder = StreamsBuilder::new();
    builder.global_table::<String, String>("settings", Consumed::with(Serdes::string(), Serdes::string()));
    builder.global_table::<String, String>("settings", Consumed::with(Serdes::string(), Serdes::string()));
    let error = builder.build().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("topic `settings` is read by two sources"), "{error}");
    Ok(())
}

#[test]
fn records_on_a_global_topic_at_start_restore_the_store_before_the_tasks_start() -> Result<(), StreamsError> {
    // The custom global processor of `model_topology` sees every record of the topic before
    // the stream tasks score anything; later records follow at the next offsets.
    let registry = Registry::default();
    let records = [("m1", "m1=3", 1), ("m2", "m2=5", 2), ("m1", "m1=4", 3)]
        .map(|(k, v, ts)| (Some(k.as_bytes().to_vec()), Some(v.as_bytes().to_vec()), ts));
    let driver = TopologyTestDriver::with_config(
        model_topology(&registry).build()?,
        DriverConfig::default().with_global_topic_records("model-updates", records),
    )?;
    assert_eq!(
        driver.key_value_store::<String, i64>("models")?,
        vec![(s("m1"), 4), (s("m2"), 5)]
    );
    let mut inputs = driver.create_input_topic("inputs", Serdes::string(), Serdes::i64());
    let mut updates = driver.create_input_topic("model-updates", Serdes::string(), Serdes::nullable(Serdes::string()));
    let scores = driver.create_output_topic("scores", Serdes::string(), Serdes::i64());
    inputs.pipe_record(TestRecord::new(s("m1"), 2, 10))?;
    updates.pipe_record(TestRecord::new(s("m2"), Some(s("m2=6")), 11))?;
    inputs.pipe_record(TestRecord::new(s("m2"), 2, 12))?;
    assert_eq!(scores.read_key_values_to_list()?, vec![(s("m1"), 8), (s("m2"), 12)]);
    let offsets: Vec<(String, i64)> = registry
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, _, offset)| (k.clone(), *offset))
        .collect();
    assert_eq!(offsets, vec![(s("m1"), 0), (s("m2"), 1), (s("m1"), 2), (s("m2"), 3)]);
    // Records for a topic no global store reads are refused.
    let refused = TopologyTestDriver::with_config(
        model_topology(&registry).build()?,
        DriverConfig::default().with_global_topic_records("inputs", [(None, None, 1)]),
    );
    assert!(refused.is_err());
    Ok(())
}

#[test]
fn a_global_store_is_not_connected_to_stream_processors_by_name() {
    let builder = StreamsBuilder::new();
    builder.global_table_with::<String, String>(
        "regions-topic",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions"),
    );
    builder
        .stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| Enrich(None), &["regions"])
        .to("enriched", Produced::with(Serdes::string(), Serdes::string()));
    let err = builder.build().err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "invalid topology: global store `regions` can be used by processor `KSTREAM-PROCESSOR-0000000003` \
             without being connected; do not pass it"
        )
    );
}

/// Orders keyed by order id with the customer id as value, joined with the global table of
/// customers' regions on the customer id; orders have 4 partitions and the table 1: no
/// co-partitioning needed.
fn order_join(left: bool) -> Result<TopologyTestDriver, StreamsError> {
    let builder = StreamsBuilder::new();
    let orders = builder.stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()));
    let regions = builder.global_table::<String, String>("regions", Consumed::with(Serdes::string(), Serdes::string()));
    let joined = if left {
        orders.left_join_global(
            &regions,
            |_, customer| customer.clone(),
            |customer, region| format!("{customer}/{}", region.map_or("none", String::as_str)),
        )
    } else {
        orders.join_global(
            &regions,
            |_, customer| customer.clone(),
            |customer, region| format!("{customer}/{region}"),
        )
    };
    joined.to("out", Produced::with(Serdes::string(), Serdes::string()));
    TopologyTestDriver::with_config(
        builder.build()?,
        DriverConfig::default()
            .with_partitions("orders", 4)
            .with_partitions("regions", 1),
    )
}

/// One timeline for both joins: table updates, an update and a delete of a row, and orders
/// before, between and after them.
fn run_order_join(driver: &TopologyTestDriver) -> Result<Vec<TestRecord<String, String>>, StreamsError> {
    let mut orders = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    let mut regions = driver.create_input_topic("regions", Serdes::string(), Serdes::string());
    orders.pipe_record(TestRecord::new(s("o1"), s("alice"), 1))?;
    regions.pipe_record(TestRecord::new(s("alice"), s("eu"), 2))?;
    orders.pipe_record(TestRecord::new(s("o2"), s("alice"), 3))?;
    orders.pipe_record(TestRecord::new(s("o3"), s("bob"), 4))?;
    regions.pipe_record(TestRecord::new(s("alice"), s("us"), 5))?;
    orders.pipe_record(TestRecord::new(s("o4"), s("alice"), 6))?;
    regions.pipe_raw(Some(b"alice".to_vec()), None, 7)?;
    orders.pipe_record(TestRecord::new(s("o5"), s("alice"), 8))?;
    driver
        .create_output_topic("out", Serdes::string(), Serdes::string())
        .read_records_to_list()
}

#[test]
fn a_stream_global_table_inner_join_emits_only_matches() -> Result<(), StreamsError> {
    let driver = order_join(false)?;
    assert_eq!(
        run_order_join(&driver)?,
        vec![
            TestRecord::new(s("o2"), s("alice/eu"), 3),
            TestRecord::new(s("o4"), s("alice/us"), 6),
        ]
    );
    let description = driver.topology().describe().to_string();
    assert!(
        description.contains("    Processor: KSTREAM-JOIN-0000000004 (stores: [])\n"),
        "{description}"
    );
    Ok(())
}

#[test]
fn a_stream_global_table_left_join_emits_every_record() -> Result<(), StreamsError> {
    let driver = order_join(true)?;
    assert_eq!(
        run_order_join(&driver)?,
        vec![
            TestRecord::new(s("o1"), s("alice/none"), 1),
            TestRecord::new(s("o2"), s("alice/eu"), 3),
            TestRecord::new(s("o3"), s("bob/none"), 4),
            TestRecord::new(s("o4"), s("alice/us"), 6),
            TestRecord::new(s("o5"), s("alice/none"), 8),
        ]
    );
    let description = driver.topology().describe().to_string();
    assert!(
        description.contains("    Processor: KSTREAM-LEFTJOIN-0000000004 (stores: [])\n"),
        "{description}"
    );
    Ok(())
}

/// Orders whose customer may be unknown (`None`, written as a null key of the lookup).
fn nullable_lookup_join(left: bool) -> Result<Vec<(String, String)>, StreamsError> {
    let builder = StreamsBuilder::new();
    let orders = builder.stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()));
    let regions = builder.global_table::<Option<String>, String>(
        "regions",
        Consumed::with(Serdes::nullable(Serdes::string()), Serdes::string()),
    );
    let customer = |_: &String, c: &String| (!c.is_empty()).then(|| c.clone());
    let joined = if left {
        orders.left_join_global_named(
            &regions,
            customer,
            |c, region| format!("{c}/{}", region.map_or("none", String::as_str)),
            streams_core::dsl::Named::as_("enrich"),
        )
    } else {
        orders.join_global_named(
            &regions,
            customer,
            |c, region| format!("{c}/{region}"),
            streams_core::dsl::Named::as_("enrich"),
        )
    };
    joined.to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build()?)?;
    let mut orders = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    let mut regions = driver.create_input_topic("regions", Serdes::nullable(Serdes::string()), Serdes::string());
    regions.pipe_record(TestRecord::new(Some(s("alice")), s("eu"), 1))?;
    orders.pipe_record(TestRecord::new(s("o1"), s(""), 2))?;
    orders.pipe_record(TestRecord::new(s("o2"), s("alice"), 3))?;
    let out = driver
        .create_output_topic("out", Serdes::string(), Serdes::string())
        .read_key_values_to_list()?;
    let dropped = driver.total_metrics().dropped_records;
    assert_eq!(dropped, u64::from(!left));
    assert!(driver
        .topology()
        .describe()
        .to_string()
        .contains("Processor: enrich (stores: [])"));
    Ok(out)
}

#[test]
fn a_null_lookup_key_is_dropped_by_the_inner_join_and_joined_with_none_by_the_left_join() -> Result<(), StreamsError> {
    assert_eq!(nullable_lookup_join(false)?, vec![(s("o2"), s("alice/eu"))]);
    assert_eq!(
        nullable_lookup_join(true)?,
        vec![(s("o1"), s("/none")), (s("o2"), s("alice/eu"))]
    );
    Ok(())
}
