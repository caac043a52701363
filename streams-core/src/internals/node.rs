//! Runtime processor nodes and the environment they run in.
//!
//! Nodes of one task live in an arena (`Env::nodes`). Records travel between nodes typed:
//! a parent puts its `Record<K, V>` into an `Option` and hands it to the child as `&mut dyn Any`;
//! the child takes it out with one type check. This is the single place where types are erased.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use streams_state::{FlushedEntry, KeyValueStore, RecordClock, StoreMetrics};

use super::collector::RecordCollector;
use super::handler::{DeserializationExceptionHandler, DeserializationResponse};
use super::partitioner::{murmur2_partition, StreamPartitioner};
use super::task::TaskId;
use crate::processor::{
    Change, Processor, ProcessorContext, ProducerRecord, RawRecord, Record, RecordMetadata, Schedule,
};
use crate::serde::SharedSerde;
use crate::state::decode_value_and_timestamp;
use crate::StreamsError;

/// Index of a node within its task.
pub(crate) type NodeId = usize;

/// Counters kept per task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskMetrics {
    /// Records taken from input partitions.
    pub records_processed: u64,
    /// Records dropped by operators (null keys or values where not allowed, records for closed
    /// windows), as Kafka Streams' `dropped-records` metric.
    pub dropped_records: u64,
    /// Records skipped because they failed to deserialize and the handler said continue.
    pub deserialization_errors_skipped: u64,
    /// Punctuations run.
    pub punctuations: u64,
    /// Commits done.
    pub commits: u64,
    /// Counters of the task's stores by store name.
    pub stores: BTreeMap<String, StoreMetrics>,
}

impl TaskMetrics {
    /// Adds `other`'s counters to these, store by store (for totals over tasks).
    pub fn add(&mut self, other: &TaskMetrics) {
        self.records_processed += other.records_processed;
        self.dropped_records += other.dropped_records;
        self.deserialization_errors_skipped += other.deserialization_errors_skipped;
        self.punctuations += other.punctuations;
        self.commits += other.commits;
        for (name, store) in &other.stores {
            self.stores.entry(name.clone()).or_default().add(store);
        }
    }
}

/// Type information and serdes of a store, as registered in the topology.
pub(crate) struct StoreMeta {
    pub(crate) key_type: TypeId,
    pub(crate) value_type: TypeId,
    pub(crate) key_type_name: &'static str,
    pub(crate) value_type_name: &'static str,
    /// Holds a `SharedSerde<K>`.
    pub(crate) key_serde: Arc<dyn Any + Send + Sync>,
    /// Holds a `SharedSerde<V>`.
    pub(crate) value_serde: Arc<dyn Any + Send + Sync>,
    /// Values are stored as Kafka's `ValueAndTimestamp` (8-byte timestamp, then the value).
    pub(crate) timestamped: bool,
}

impl StoreMeta {
    pub(crate) fn new<K: 'static, V: 'static>(
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        timestamped: bool,
    ) -> Self {
        StoreMeta {
            key_type: TypeId::of::<K>(),
            value_type: TypeId::of::<V>(),
            key_type_name: std::any::type_name::<K>(),
            value_type_name: std::any::type_name::<V>(),
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            timestamped,
        }
    }

    pub(crate) fn serdes<K: 'static, V: 'static>(
        &self,
        store: &str,
    ) -> Result<(SharedSerde<K>, SharedSerde<V>), StreamsError> {
        if self.key_type != TypeId::of::<K>() || self.value_type != TypeId::of::<V>() {
            return Err(StreamsError::StoreAccess {
                store: store.to_owned(),
                reason: format!(
                    "store holds <{}, {}>, asked for <{}, {}>",
                    self.key_type_name,
                    self.value_type_name,
                    std::any::type_name::<K>(),
                    std::any::type_name::<V>()
                ),
            });
        }
        let key = self.key_serde.downcast_ref::<SharedSerde<K>>();
        let value = self.value_serde.downcast_ref::<SharedSerde<V>>();
        match (key, value) {
            (Some(k), Some(v)) => Ok((Arc::clone(k), Arc::clone(v))),
            _ => Err(StreamsError::Internal(format!(
                "serdes of store `{store}` have the wrong type"
            ))),
        }
    }
}

/// Turns entries flushed by a store's cache into typed records forwarded by the store's owner.
pub(crate) trait FlushForwarder: Send {
    fn forward(&self, entries: Vec<FlushedEntry>, children: &[NodeId], env: &mut Env) -> Result<(), StreamsError>;

    /// Whether the forwarded changes carry old values (the cache must then read them).
    fn needs_old_values(&self) -> bool;
}

/// Forwards flushed entries of a timestamped key-value store as `Record<K, Change<V>>`.
pub(crate) struct TimestampedChangeForwarder<K, V> {
    pub(crate) store: Arc<str>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) send_old_values: bool,
}

impl<K: Clone + 'static, V: Clone + 'static> FlushForwarder for TimestampedChangeForwarder<K, V> {
    fn needs_old_values(&self) -> bool {
        self.send_old_values
    }

    fn forward(&self, entries: Vec<FlushedEntry>, children: &[NodeId], env: &mut Env) -> Result<(), StreamsError> {
        let decode_err = |source| StreamsError::Serialization {
            context: self.store.to_string(),
            source,
        };
        for entry in entries {
            let key = self.key_serde.deserialize(&entry.key).map_err(decode_err)?;
            let new_value = entry
                .new_value
                .as_deref()
                .map(|bytes| decode_value_and_timestamp(&*self.value_serde, bytes))
                .transpose()
                .map_err(decode_err)?;
            let old_value = if self.send_old_values {
                entry
                    .old_value
                    .as_deref()
                    .map(|bytes| decode_value_and_timestamp(&*self.value_serde, bytes))
                    .transpose()
                    .map_err(decode_err)?
            } else {
                None
            };
            let timestamp = new_value.as_ref().map_or(entry.timestamp, |v| v.timestamp);
            let change = Change::new(new_value.map(|v| v.value), old_value.map(|v| v.value));
            env.clock.set(timestamp);
            forward_all(env, children, Record::new(key, change, timestamp))?;
        }
        Ok(())
    }
}

/// A store of a task, with what is needed to reach it typed.
pub(crate) struct StoreSlot {
    pub(crate) name: Arc<str>,
    pub(crate) store: Box<dyn KeyValueStore>,
    pub(crate) meta: Arc<StoreMeta>,
    pub(crate) changelog_topic: Option<Arc<str>>,
    /// The node that forwards this store's cache flushes, and how.
    pub(crate) forwarder: Option<(NodeId, Box<dyn FlushForwarder>)>,
    /// A global store: every processor of the task may read it without being connected.
    pub(crate) global: bool,
}

/// A punctuation schedule registered by a node.
#[derive(Debug, Clone)]
pub(crate) struct ScheduleEntry {
    pub(crate) schedule: Schedule,
    pub(crate) node: NodeId,
    pub(crate) next: i64,
    pub(crate) cancelled: bool,
}

/// Everything a running node can reach: the other nodes, the stores, the record context.
pub(crate) struct Env {
    pub(crate) nodes: Vec<Option<Box<dyn RuntimeNode>>>,
    pub(crate) node_stores: Vec<Vec<usize>>,
    pub(crate) stores: Vec<StoreSlot>,
    pub(crate) current: Option<RecordMetadata>,
    pub(crate) stream_time: i64,
    pub(crate) wall_clock: i64,
    pub(crate) clock: Arc<RecordClock>,
    pub(crate) collector: Arc<dyn RecordCollector>,
    pub(crate) deserialization_handler: Arc<dyn DeserializationExceptionHandler>,
    pub(crate) schedules: Vec<ScheduleEntry>,
    pub(crate) next_schedule_id: u64,
    pub(crate) task_id: TaskId,
    pub(crate) application_id: Arc<str>,
    pub(crate) metrics: TaskMetrics,
    /// State that several processors of the task share, by a key they agree on (the two sides
    /// of a stream-stream join share their stream time this way, as Kafka Streams' processors
    /// share a `TimeTracker` per task).
    pub(crate) shared: BTreeMap<String, Arc<dyn Any + Send + Sync>>,
}

/// A node of the running graph.
pub(crate) trait RuntimeNode: Send {
    fn init(&mut self, env: &mut Env) -> Result<(), StreamsError>;
    /// `input` holds an `Option<Record<K, V>>` of the node's input types (a `SourceInput` for
    /// sources).
    fn process(&mut self, input: &mut dyn Any, env: &mut Env) -> Result<(), StreamsError>;
    fn punctuate(&mut self, schedule: Schedule, timestamp: i64, env: &mut Env) -> Result<(), StreamsError>;
    fn children(&self) -> &[NodeId];
    /// Lets a processor forward what it buffers, before a commit.
    fn flush(&mut self, env: &mut Env) -> Result<(), StreamsError> {
        let _ = env;
        Ok(())
    }
    fn close(&mut self);
}

/// Hands `record` to node `child`.
pub(crate) fn dispatch<K: 'static, V: 'static>(
    env: &mut Env,
    child: NodeId,
    record: Record<K, V>,
) -> Result<(), StreamsError> {
    dispatch_slot(env, child, &mut Some(record))
}

/// Hands node `child` the slot its input is in (an `Option<Record<K, V>>`, or a
/// [`SourceInput`] for a source); the child takes the record out or looks at it in place.
pub(crate) fn dispatch_slot(env: &mut Env, child: NodeId, slot: &mut dyn Any) -> Result<(), StreamsError> {
    let mut node = env
        .nodes
        .get_mut(child)
        .and_then(Option::take)
        .ok_or_else(|| StreamsError::Internal(format!("node {child} is missing or re-entered")))?;
    let result = node.process(slot, env);
    env.nodes[child] = Some(node);
    result
}

/// Hands the record in `slot` to every node in `children`: a clone to all but the last, the
/// slot itself to the last.
pub(crate) fn forward_slot<K: Clone + 'static, V: Clone + 'static>(
    env: &mut Env,
    children: &[NodeId],
    slot: &mut Option<Record<K, V>>,
) -> Result<(), StreamsError> {
    let Some((&last, rest)) = children.split_last() else {
        return Ok(());
    };
    for &child in rest {
        if let Some(record) = slot.as_ref() {
            dispatch(env, child, record.clone())?;
        }
    }
    dispatch_slot(env, last, slot)
}

/// Hands `record` to every node in `children`, cloning it for all but the last.
pub(crate) fn forward_all<K: Clone + 'static, V: Clone + 'static>(
    env: &mut Env,
    children: &[NodeId],
    record: Record<K, V>,
) -> Result<(), StreamsError> {
    forward_slot(env, children, &mut Some(record))
}

fn take_input<T: 'static>(input: &mut dyn Any, node: &str) -> Result<T, StreamsError> {
    input.downcast_mut::<Option<T>>().and_then(Option::take).ok_or_else(|| {
        StreamsError::Internal(format!(
            "node `{node}` received a record that is not a {}",
            std::any::type_name::<T>()
        ))
    })
}

/// Runs a user or DSL [`Processor`].
pub(crate) struct ProcessorNode<KIn, VIn, KOut, VOut> {
    pub(crate) id: NodeId,
    pub(crate) name: Arc<str>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) child_names: Vec<Arc<str>>,
    pub(crate) processor: Box<dyn Processor<KIn, VIn, KOut, VOut>>,
    pub(crate) _types: PhantomData<fn(KIn, VIn)>,
}

impl<KIn, VIn, KOut, VOut> RuntimeNode for ProcessorNode<KIn, VIn, KOut, VOut>
where
    KIn: 'static,
    VIn: 'static,
    KOut: Clone + 'static,
    VOut: Clone + 'static,
{
    fn init(&mut self, env: &mut Env) -> Result<(), StreamsError> {
        let mut ctx = ProcessorContext::new(env, self.id, &self.name, &self.children, &self.child_names);
        self.processor.init(&mut ctx)
    }

    fn process(&mut self, input: &mut dyn Any, env: &mut Env) -> Result<(), StreamsError> {
        let record = take_input::<Record<KIn, VIn>>(input, &self.name)?;
        let mut ctx = ProcessorContext::new(env, self.id, &self.name, &self.children, &self.child_names);
        self.processor.process(record, &mut ctx)
    }

    fn punctuate(&mut self, schedule: Schedule, timestamp: i64, env: &mut Env) -> Result<(), StreamsError> {
        let mut ctx = ProcessorContext::new(env, self.id, &self.name, &self.children, &self.child_names);
        self.processor.punctuate(schedule, timestamp, &mut ctx)
    }

    fn children(&self) -> &[NodeId] {
        &self.children
    }

    fn flush(&mut self, env: &mut Env) -> Result<(), StreamsError> {
        let mut ctx = ProcessorContext::new(env, self.id, &self.name, &self.children, &self.child_names);
        self.processor.flush(&mut ctx)
    }

    fn close(&mut self) {
        self.processor.close();
    }
}

/// What a source node receives: a raw record and the partition it came from (its topic is in
/// the task's current record metadata).
pub(crate) struct SourceInput {
    pub(crate) partition: i32,
    pub(crate) record: RawRecord,
}

/// Deserializes raw records and forwards them typed.
pub(crate) struct SourceNode<K, V> {
    pub(crate) name: Arc<str>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
}

impl<K: Clone + 'static, V: Clone + 'static> SourceNode<K, V> {
    fn handle_error(
        &self,
        env: &mut Env,
        input: &SourceInput,
        part: &'static str,
        error: crate::serde::SerdeError,
    ) -> Result<(), StreamsError> {
        let topic = env
            .current
            .as_ref()
            .map(|m| Arc::clone(&m.topic))
            .unwrap_or_else(|| Arc::from(""));
        match env
            .deserialization_handler
            .handle(&topic, input.partition, &input.record, &error)
        {
            DeserializationResponse::Continue => {
                env.metrics.deserialization_errors_skipped += 1;
                Ok(())
            }
            DeserializationResponse::Fail => Err(StreamsError::Deserialization {
                part,
                topic: topic.to_string(),
                partition: input.partition,
                offset: input.record.offset,
                source: error,
            }),
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> RuntimeNode for SourceNode<K, V> {
    fn init(&mut self, _env: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn process(&mut self, input: &mut dyn Any, env: &mut Env) -> Result<(), StreamsError> {
        let mut input = take_input::<SourceInput>(input, &self.name)?;
        // The serdes may take the raw buffers over; the raw record is only needed again to
        // report a deserialization error.
        let had_key = input.record.key.is_some();
        let key = match self.key_serde.deserialize_nullable_taken(&mut input.record.key) {
            Ok(key) => key,
            Err(e) => return self.handle_error(env, &input, "key", e),
        };
        let value = match self.value_serde.deserialize_nullable_taken(&mut input.record.value) {
            Ok(value) => value,
            Err(e) => {
                if had_key && input.record.key.is_none() {
                    // The key serde took the key bytes: report the record as it was read.
                    input.record.key = self.key_serde.serialize_nullable(&key).ok().flatten();
                }
                return self.handle_error(env, &input, "value", e);
            }
        };
        let mut record = Some(Record {
            key,
            value,
            timestamp: input.record.timestamp,
            headers: input.record.headers,
        });
        forward_slot(env, &self.children, &mut record)
    }

    fn punctuate(&mut self, _: Schedule, _: i64, _: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn children(&self) -> &[NodeId] {
        &self.children
    }

    fn close(&mut self) {}
}

/// Serializes records and sends them to a topic, partitioned like Kafka's Java producer.
pub(crate) struct SinkNode<K, V> {
    pub(crate) name: Arc<str>,
    pub(crate) topic: Arc<str>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
}

impl<K: 'static, V: 'static> RuntimeNode for SinkNode<K, V> {
    fn init(&mut self, _env: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn process(&mut self, input: &mut dyn Any, env: &mut Env) -> Result<(), StreamsError> {
        let record = take_input::<Record<K, V>>(input, &self.name)?;
        let ser_err = |source| StreamsError::Serialization {
            context: self.topic.to_string(),
            source,
        };
        let Some(partitioner) = &self.partitioner else {
            // Without a partitioner the typed record is not needed after serialization: the
            // serdes may reuse its buffers.
            let Record {
                key,
                value,
                timestamp,
                headers,
            } = record;
            let key = self.key_serde.serialize_nullable_owned(key).map_err(ser_err)?;
            let value = self.value_serde.serialize_nullable_owned(value).map_err(ser_err)?;
            let partition = env
                .collector
                .partitions_for(&self.topic)
                .and_then(|n| key.as_deref().map(|k| murmur2_partition(k, n)));
            return env.collector.send(ProducerRecord {
                topic: Arc::clone(&self.topic),
                partition,
                key,
                value,
                timestamp,
                headers,
            });
        };
        let key = self.key_serde.serialize_nullable(&record.key).map_err(ser_err)?;
        let value = self.value_serde.serialize_nullable(&record.value).map_err(ser_err)?;
        let partition = env.collector.partitions_for(&self.topic).map(|n| {
            partitioner
                .partition(&self.topic, &record.key, &record.value, n)
                .or_else(|| key.as_deref().map(|k| murmur2_partition(k, n)))
        });
        env.collector.send(ProducerRecord {
            topic: Arc::clone(&self.topic),
            partition: partition.flatten(),
            key,
            value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }

    fn punctuate(&mut self, _: Schedule, _: i64, _: &mut Env) -> Result<(), StreamsError> {
        Ok(())
    }

    fn children(&self) -> &[NodeId] {
        &[]
    }

    fn close(&mut self) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::dsl::{Consumed, Produced, StreamsBuilder};
    use crate::processor::Headers;
    use crate::serde::Serdes;
    use crate::topology::TaskConfig;

    /// Keeps the key and value bytes of every record it is asked about, and skips them.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, Option<Vec<u8>>, Option<Vec<u8>>)>>);

    impl DeserializationExceptionHandler for Recorder {
        fn handle(
            &self,
            topic: &str,
            _: i32,
            record: &RawRecord,
            _: &crate::serde::SerdeError,
        ) -> DeserializationResponse {
            let seen = (topic.to_owned(), record.key.clone(), record.value.clone());
            self.0.lock().unwrap().push(seen);
            DeserializationResponse::Continue
        }
    }

    struct Discard;

    impl RecordCollector for Discard {
        fn send(&self, _: ProducerRecord) -> Result<(), StreamsError> {
            Ok(())
        }
        fn partitions_for(&self, _: &str) -> Option<i32> {
            None
        }
        fn flush(&self) -> Result<(), StreamsError> {
            Ok(())
        }
    }

    /// The handler sees the record as it was read even when the key serde took the key's
    /// buffer before the value failed.
    #[test]
    fn deserialization_handlers_see_the_raw_record_as_read() {
        let builder = StreamsBuilder::new();
        builder
            .stream::<String, i64>("in", Consumed::with(Serdes::string(), Serdes::i64()))
            .to("out", Produced::new());
        let handler = Arc::new(Recorder::default());
        let config = TaskConfig {
            deserialization_handler: handler.clone(),
            ..TaskConfig::new("app", Arc::new(Discard))
        };
        let id = TaskId {
            subtopology: 0,
            partition: 0,
        };
        let mut task = builder.build().unwrap().create_task(id, &config).unwrap();
        let raw = |key: &[u8], value: &[u8]| RawRecord {
            key: Some(key.to_vec()),
            value: Some(value.to_vec()),
            timestamp: 1,
            offset: 0,
            headers: Headers::new(),
        };
        let records = [
            raw(b"k", b"short"),
            raw(b"\xff", &7i64.to_be_bytes()),
            raw(b"ok", &[0; 8]),
        ];
        task.add_records("in", records).unwrap();
        assert_eq!(task.process_all().unwrap(), 3);
        assert_eq!(
            *handler.0.lock().unwrap(),
            vec![
                ("in".to_owned(), Some(b"k".to_vec()), Some(b"short".to_vec())),
                (
                    "in".to_owned(),
                    Some(b"\xff".to_vec()),
                    Some(7i64.to_be_bytes().to_vec())
                ),
            ]
        );
        assert_eq!(task.metrics().deserialization_errors_skipped, 2);
    }
}
