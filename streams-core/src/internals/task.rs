//! The task: one sub-topology running for one partition.
//!
//! A task buffers raw records per input partition, always processes the buffered record with
//! the lowest timestamp next (so joins see a deterministic interleaving), keeps stream time,
//! runs punctuations and commits its stores. The Kafka runtime and the testkit drive the very
//! same tasks.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use streams_state::ChangelogRecord;

use super::collector::timestamped_restore_records;
use super::node::{Env, NodeId, SourceInput, StoreSlot, TaskMetrics};
use crate::processor::{PunctuationType, RawRecord, RecordMetadata, ValueAndTimestamp};
use crate::state::decode_value_and_timestamp;
use crate::StreamsError;

/// Identifies a task: `<sub-topology>_<partition>`, as Kafka Streams prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The sub-topology the task runs.
    pub subtopology: u32,
    /// The partition of its input topics.
    pub partition: i32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

struct PartitionQueue {
    topic: Arc<str>,
    source: NodeId,
    records: VecDeque<RawRecord>,
    /// Offset after the last record taken from this partition.
    next_offset: Option<i64>,
}

/// One sub-topology instantiated for one partition.
pub struct Task {
    id: TaskId,
    env: Env,
    queues: Vec<PartitionQueue>,
    initialized: bool,
    /// The metadata of the last processed record, reused for the next record of the same topic
    /// so that processing a record does not touch the topic's reference count.
    spare_metadata: Option<RecordMetadata>,
}

impl Task {
    pub(crate) fn new(id: TaskId, env: Env, sources: Vec<(Arc<str>, NodeId)>) -> Self {
        let queues = sources
            .into_iter()
            .map(|(topic, source)| PartitionQueue {
                topic,
                source,
                records: VecDeque::new(),
                next_offset: None,
            })
            .collect();
        Task {
            id,
            env,
            queues,
            initialized: false,
            spare_metadata: None,
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The topics this task reads (its partition of each).
    pub fn input_topics(&self) -> impl Iterator<Item = &str> {
        self.queues.iter().map(|q| &*q.topic)
    }

    /// Whether the task reads `topic`.
    pub fn reads(&self, topic: &str) -> bool {
        self.queues.iter().any(|q| &*q.topic == topic)
    }

    /// Calls `init` on every processor. Runs once, before the first record; processing calls
    /// it when needed.
    pub fn initialize(&mut self) -> Result<(), StreamsError> {
        if self.initialized {
            return Ok(());
        }
        self.initialized = true;
        for id in 0..self.env.nodes.len() {
            self.with_node(id, |node, env| node.init(env))?;
        }
        Ok(())
    }

    fn with_node<T>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut dyn super::node::RuntimeNode, &mut Env) -> Result<T, StreamsError>,
    ) -> Result<T, StreamsError> {
        let mut node = self
            .env
            .nodes
            .get_mut(id)
            .and_then(Option::take)
            .ok_or_else(|| StreamsError::Internal(format!("node {id} is missing")))?;
        let result = f(&mut *node, &mut self.env);
        self.env.nodes[id] = Some(node);
        result
    }

    /// Buffers records read from this task's partition of `topic`.
    pub fn add_records(
        &mut self,
        topic: &str,
        records: impl IntoIterator<Item = RawRecord>,
    ) -> Result<(), StreamsError> {
        let queue = self
            .queues
            .iter_mut()
            .find(|q| &*q.topic == topic)
            .ok_or_else(|| StreamsError::Internal(format!("task {} does not read topic `{topic}`", self.id)))?;
        if queue.records.is_empty() {
            // Collecting a `Vec`'s iterator into a `VecDeque` keeps its buffer: the usual case
            // (a whole poll handed over while the queue is drained) copies no record.
            queue.records = records.into_iter().collect();
        } else {
            queue.records.extend(records);
        }
        Ok(())
    }

    /// For each input partition a record was taken from: the offset to commit (the offset
    /// after the last record taken), as `(topic, partition, offset)`.
    pub fn consumed_offsets(&self) -> Vec<(Arc<str>, i32, i64)> {
        self.queues
            .iter()
            .filter_map(|q| q.next_offset.map(|o| (Arc::clone(&q.topic), self.id.partition, o)))
            .collect()
    }

    /// Drops buffered records (after a rebalance or a failure; they will be fetched again).
    pub fn clear_buffers(&mut self) {
        for q in &mut self.queues {
            q.records.clear();
        }
    }

    /// Whether some input topic has no buffered record.
    pub fn has_empty_input(&self) -> bool {
        self.queues.iter().any(|q| q.records.is_empty())
    }

    /// Number of input topics with no buffered record.
    pub fn empty_input_count(&self) -> usize {
        self.queues.iter().filter(|q| q.records.is_empty()).count()
    }

    /// Input topics with no buffered record. Kafka Streams waits before processing while such a
    /// partition still has records on the broker, so that records are taken in timestamp order
    /// across partitions; the runtime uses this to decide.
    pub fn empty_inputs(&self) -> Vec<Arc<str>> {
        self.queues
            .iter()
            .filter(|q| q.records.is_empty())
            .map(|q| Arc::clone(&q.topic))
            .collect()
    }

    /// Number of buffered records.
    pub fn buffered(&self) -> usize {
        self.queues.iter().map(|q| q.records.len()).sum()
    }

    /// Processes the buffered record with the lowest timestamp (ties: the input listed first),
    /// then any stream-time punctuation it made due. Returns `false` when nothing was buffered.
    pub fn process_one(&mut self) -> Result<bool, StreamsError> {
        if !self.initialized {
            self.initialize()?;
        }
        let next = self
            .queues
            .iter()
            .enumerate()
            .filter_map(|(i, q)| q.records.front().map(|r| (r.timestamp, i)))
            .min();
        let Some((_, index)) = next else {
            return Ok(false);
        };
        let queue = &mut self.queues[index];
        let Some(record) = queue.records.pop_front() else {
            return Ok(false);
        };
        queue.next_offset = Some(record.offset + 1);
        self.process_raw(index, self.id.partition, record)?;
        Ok(true)
    }

    /// Processes `record` of `partition` of `topic` at once, without buffering: the global
    /// task's way, which reads every partition of its topics.
    pub(crate) fn process_now(&mut self, topic: &str, partition: i32, record: RawRecord) -> Result<(), StreamsError> {
        if !self.initialized {
            self.initialize()?;
        }
        let index = self
            .queues
            .iter()
            .position(|q| &*q.topic == topic)
            .ok_or_else(|| StreamsError::Internal(format!("task {} does not read topic `{topic}`", self.id)))?;
        self.process_raw(index, partition, record)
    }

    /// Processes one record taken from input `index`, then any stream-time punctuation it made
    /// due.
    #[inline]
    fn process_raw(&mut self, index: usize, partition: i32, record: RawRecord) -> Result<(), StreamsError> {
        let queue = &self.queues[index];
        let source = queue.source;
        self.env.metrics.records_processed += 1;
        if record.timestamp < 0 {
            tracing::warn!(task = %self.id, topic = %queue.topic, offset = record.offset, timestamp = record.timestamp,
                "skipping a record with a negative timestamp");
            self.env.metrics.dropped_records += 1;
            return Ok(());
        }
        let metadata = match self.spare_metadata.take() {
            Some(mut metadata) if Arc::ptr_eq(&metadata.topic, &queue.topic) && metadata.partition == partition => {
                metadata.offset = record.offset;
                metadata
            }
            _ => RecordMetadata {
                topic: Arc::clone(&queue.topic),
                partition,
                offset: record.offset,
            },
        };
        self.env.stream_time = self.env.stream_time.max(record.timestamp);
        self.env.clock.set(record.timestamp);
        self.env.current = Some(metadata);
        let mut input = Some(SourceInput { partition, record });
        self.with_node(source, |node, env| node.process(&mut input, env))?;
        self.spare_metadata = self.env.current.take();
        // Checked here so that a record that evicted nothing from a cache, and a task without
        // schedules, pay no call per record.
        if self.env.clock.take_flushed() {
            self.forward_evicted()?;
        }
        if !self.env.schedules.is_empty() {
            self.punctuate(PunctuationType::StreamTime, self.env.stream_time)?;
        }
        Ok(())
    }

    /// Processes every buffered record.
    pub fn process_all(&mut self) -> Result<usize, StreamsError> {
        let mut count = 0;
        while self.process_one()? {
            count += 1;
        }
        Ok(count)
    }

    /// The task's stream time (`i64::MIN` before its first record).
    pub fn stream_time(&self) -> i64 {
        self.env.stream_time
    }

    /// Sets wall-clock time and runs the wall-clock punctuations that became due.
    pub fn advance_wall_clock(&mut self, now_ms: i64) -> Result<bool, StreamsError> {
        self.initialize()?;
        self.env.wall_clock = now_ms;
        self.punctuate(PunctuationType::WallClockTime, now_ms)
    }

    fn punctuate(&mut self, kind: PunctuationType, now: i64) -> Result<bool, StreamsError> {
        if self.env.schedules.is_empty() || (kind == PunctuationType::StreamTime && now == i64::MIN) {
            return Ok(false);
        }
        let mut punctuated = false;
        loop {
            let due = self
                .env
                .schedules
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.cancelled && e.schedule.kind == kind && e.next <= now)
                .min_by_key(|(_, e)| (e.next, e.schedule.id))
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let entry = self.env.schedules[i].clone();
            let interval = i64::try_from(entry.schedule.interval.as_millis())
                .unwrap_or(i64::MAX)
                .max(1);
            let mut next = entry.next.saturating_add(interval);
            if now >= next {
                let missed = (now - entry.next) / interval;
                next = entry.next.saturating_add((missed + 1).saturating_mul(interval));
            }
            self.env.schedules[i].next = next;
            self.env.current = None;
            self.env.clock.set(now);
            self.env.metrics.punctuations += 1;
            self.with_node(entry.node, |node, env| node.punctuate(entry.schedule, now, env))?;
            self.forward_evicted()?;
            punctuated = true;
        }
        self.env.schedules.retain(|e| !e.cancelled);
        Ok(punctuated)
    }

    /// Forwards what caches wrote down since the last call (evictions, flushes); returns
    /// whether anything was forwarded.
    fn forward_evicted(&mut self) -> Result<bool, StreamsError> {
        let mut forwarded = false;
        for index in 0..self.env.stores.len() {
            if !self.env.stores[index].store.caching_enabled() {
                continue;
            }
            let entries = self.env.stores[index].store.drain_flushed();
            if entries.is_empty() {
                continue;
            }
            let Some((owner, forwarder)) = self.env.stores[index].forwarder.take() else {
                continue;
            };
            forwarded = true;
            let result = self.with_node(owner, |node, env| {
                let children = node.children().to_vec();
                forwarder.forward(entries, &children, env)
            });
            self.env.stores[index].forwarder = Some((owner, forwarder));
            result?;
        }
        Ok(forwarded)
    }

    /// Lets every processor forward what it buffers ([`Processor::flush`], in topological
    /// order), flushes every store (caches forward their coalesced updates downstream), then
    /// the collector. The runtime commits input offsets only after this returns.
    ///
    /// [`Processor::flush`]: crate::processor::Processor::flush
    pub fn commit(&mut self) -> Result<(), StreamsError> {
        self.initialize()?;
        self.env.current = None;
        for id in 0..self.env.nodes.len() {
            self.with_node(id, |node, env| node.flush(env))?;
        }
        // Forwarding a flushed cache can dirty caches downstream: flush until all are quiet.
        loop {
            for index in 0..self.env.stores.len() {
                self.env.stores[index].store.flush()?;
            }
            if !self.forward_evicted()? {
                break;
            }
        }
        self.env.collector.flush()?;
        self.env.metrics.commits += 1;
        Ok(())
    }

    /// Commits, then closes processors and stores.
    pub fn close(&mut self) -> Result<(), StreamsError> {
        self.commit()?;
        for id in 0..self.env.nodes.len() {
            if let Some(node) = self.env.nodes[id].as_mut() {
                node.close();
            }
        }
        for slot in &mut self.env.stores {
            slot.store.close()?;
        }
        Ok(())
    }

    /// Counters of this task.
    pub fn metrics(&self) -> TaskMetrics {
        let mut metrics = self.env.metrics.clone();
        for slot in &self.env.stores {
            if let Some(store) = slot.store.metrics() {
                metrics.stores.insert(slot.name.to_string(), store);
            }
        }
        metrics
    }

    /// Whether store `name` keeps its data on disk across restarts.
    pub fn store_is_persistent(&self, name: &str) -> bool {
        self.env.stores.iter().any(|s| &*s.name == name && s.store.persistent())
    }

    /// Names of the task's stores with their changelog topics (when logged).
    pub fn stores(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.env.stores.iter().map(|s| (&*s.name, s.changelog_topic.as_deref()))
    }

    fn slot(&self, name: &str) -> Result<&StoreSlot, StreamsError> {
        self.env
            .stores
            .iter()
            .find(|s| &*s.name == name)
            .ok_or_else(|| StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: format!("task {} has no such store", self.id),
            })
    }

    /// Applies records read from the changelog topic of store `name` to it without logging them
    /// again. For a timestamped store each record's timestamp goes back in front of its value.
    pub fn restore(&mut self, name: &str, batch: &[ChangelogRecord]) -> Result<(), StreamsError> {
        let index = self
            .env
            .stores
            .iter()
            .position(|s| &*s.name == name)
            .ok_or_else(|| StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: format!("task {} has no such store", self.id),
            })?;
        let slot = &mut self.env.stores[index];
        // A versioned store's changelog already carries plain values at their own timestamps,
        // which is what it restores from.
        if slot.meta.timestamped && slot.store.as_versioned_store().is_none() {
            Ok(slot.store.restore_batch(&timestamped_restore_records(batch))?)
        } else {
            Ok(slot.store.restore_batch(batch)?)
        }
    }

    /// Every entry of store `name`, typed, in key-byte order; on a timestamped store the
    /// timestamps are dropped.
    pub fn store_entries<K: 'static, V: 'static>(&self, name: &str) -> Result<Vec<(K, V)>, StreamsError> {
        Ok(self
            .timestamped_store_entries_inner::<K, V>(name)?
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect())
    }

    /// Every entry of the timestamped store `name`, typed, in key-byte order.
    pub fn timestamped_store_entries<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<Vec<(K, ValueAndTimestamp<V>)>, StreamsError> {
        let slot = self.slot(name)?;
        if !slot.meta.timestamped {
            return Err(StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "it is not a timestamped store".into(),
            });
        }
        self.timestamped_store_entries_inner(name)
    }

    /// The value of `key` in store `name` (with its timestamp on a timestamped store, else
    /// `-1`), read through the cache.
    pub fn store_get<K: 'static, V: 'static>(
        &self,
        name: &str,
        key: &K,
    ) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> {
        let slot = self.slot(name)?;
        let (key_serde, value_serde) = slot.meta.serdes::<K, V>(name)?;
        let err = |source| StreamsError::Serialization {
            context: name.to_owned(),
            source,
        };
        let key = key_serde.serialize(key).map_err(err)?;
        let Some(bytes) = slot.store.get(&key)? else {
            return Ok(None);
        };
        if slot.meta.timestamped {
            decode_value_and_timestamp(&*value_serde, &bytes).map(Some).map_err(err)
        } else {
            Ok(Some(ValueAndTimestamp {
                value: value_serde.deserialize(&bytes).map_err(err)?,
                timestamp: -1,
            }))
        }
    }

    /// The version of `key` valid at `as_of` in the versioned store `name`.
    pub fn versioned_store_get<K: 'static, V: 'static>(
        &self,
        name: &str,
        key: &K,
        as_of: i64,
    ) -> Result<Option<crate::processor::VersionedValue<V>>, StreamsError> {
        let slot = self.slot(name)?;
        let (key_serde, value_serde) = slot.meta.serdes::<K, V>(name)?;
        let err = |source| StreamsError::Serialization {
            context: name.to_owned(),
            source,
        };
        let versions = slot
            .store
            .as_versioned_store()
            .ok_or_else(|| StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "it is not a versioned store".into(),
            })?;
        let key = key_serde.serialize(key).map_err(err)?;
        versions
            .get_as_of(&key, as_of)?
            .map(|r| {
                Ok(crate::processor::VersionedValue {
                    value: value_serde.deserialize(&r.value).map_err(err)?,
                    timestamp: r.timestamp,
                    valid_to: r.valid_to,
                })
            })
            .transpose()
    }

    fn timestamped_store_entries_inner<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<Vec<(K, ValueAndTimestamp<V>)>, StreamsError> {
        let slot = self.slot(name)?;
        let (key_serde, value_serde) = slot.meta.serdes::<K, V>(name)?;
        let err = |source| StreamsError::Serialization {
            context: name.to_owned(),
            source,
        };
        slot.store
            .all()?
            .map(|entry| {
                let (k, v) = entry?;
                let key = key_serde.deserialize(&k).map_err(err)?;
                let value = if slot.meta.timestamped {
                    decode_value_and_timestamp(&*value_serde, &v).map_err(err)?
                } else {
                    ValueAndTimestamp {
                        value: value_serde.deserialize(&v).map_err(err)?,
                        timestamp: -1,
                    }
                };
                Ok((key, value))
            })
            .collect()
    }
}
