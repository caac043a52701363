//! The driver: tasks of every sub-topology and partition over in-memory topics.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use streams_core::internals::partitioner::murmur2_partition;
use streams_core::internals::{
    DeserializationExceptionHandler, GlobalTask, LogAndFail, RecordCollector, Task, TaskId, TaskMetrics,
};
use streams_core::processor::{Headers, ProducerRecord, RawRecord, ValueAndTimestamp, VersionedValue};
use streams_core::serde::Serde;
use streams_core::state::StoreType;
use streams_core::topology::{TaskConfig, Topology};
use streams_core::StreamsError;
use streams_state::ChangelogRecord;

use crate::topics::{TestInputTopic, TestOutputTopic};

/// Settings of a [`TopologyTestDriver`].
#[derive(Clone)]
pub struct DriverConfig {
    /// `application.id` (prefix of internal topics). Default `test-app`.
    pub application_id: String,
    /// Partition counts of user topics; topics not listed have one partition.
    pub partitions: HashMap<String, i32>,
    /// Write cache per task in bytes. Default 10 MiB, Kafka Streams' default.
    pub cache_max_bytes: usize,
    /// Commit after every processed record (the default), as Kafka Streams' test driver does:
    /// each piped record, each record read back from a repartition topic, and each wall-clock
    /// punctuation is followed by a commit, so caches forward what one record changed.
    pub commit_every_record: bool,
    /// What to do with records that fail to deserialize. Default: fail.
    pub deserialization_handler: Arc<dyn DeserializationExceptionHandler>,
    /// Wall-clock time at start, in milliseconds. Default 0.
    pub initial_wall_clock_ms: i64,
    /// Changelog records applied to stores before the tasks initialize, as a restart restores
    /// them: `(store, partition, records)`. Default none.
    pub restored: Vec<(String, i32, Vec<ChangelogRecord>)>,
    /// Records already on global topics when the driver starts, `(topic, key, value,
    /// timestamp)` in the order written: they go through the global processors before any
    /// stream task initializes, as the runtime restores global stores before its stream
    /// threads start. Default none.
    pub global_topic_records: Vec<(String, Option<Vec<u8>>, Option<Vec<u8>>, i64)>,
    /// The engine of DSL stores that name none. Default: in-memory (the Kafka runtime's
    /// default is RocksDB); RocksDB stores live in a temporary directory removed with the driver.
    pub default_store_type: StoreType,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            application_id: "test-app".into(),
            partitions: HashMap::new(),
            cache_max_bytes: 10 * 1024 * 1024,
            commit_every_record: true,
            deserialization_handler: Arc::new(LogAndFail),
            initial_wall_clock_ms: 0,
            restored: Vec::new(),
            global_topic_records: Vec::new(),
            default_store_type: StoreType::InMemory,
        }
    }
}

impl DriverConfig {
    /// Sets the partition count of a user topic.
    pub fn with_partitions(mut self, topic: impl Into<String>, partitions: i32) -> Self {
        self.partitions.insert(topic.into(), partitions);
        self
    }

    /// Sets the cache size (0: every update is forwarded at once).
    pub fn with_cache_max_bytes(mut self, bytes: usize) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// Sets the deserialization handler.
    pub fn with_deserialization_handler(mut self, handler: impl DeserializationExceptionHandler + 'static) -> Self {
        self.deserialization_handler = Arc::new(handler);
        self
    }

    /// Sets the engine of DSL stores that name none (`default.dsl.store`).
    pub fn with_default_store_type(mut self, store_type: StoreType) -> Self {
        self.default_store_type = store_type;
        self
    }

    /// Sets the application id.
    pub fn with_application_id(mut self, id: impl Into<String>) -> Self {
        self.application_id = id.into();
        self
    }

    /// Restores `records` (read from the changelog of store `store`, e.g. with
    /// [`TopologyTestDriver::produced_records`] of an earlier driver) into the store of the
    /// task for `partition` before the tasks initialize, so that processors see the restored
    /// state in `init`, as after a restart.
    pub fn with_restored_store(
        mut self,
        store: impl Into<String>,
        partition: i32,
        records: Vec<ChangelogRecord>,
    ) -> Self {
        self.restored.push((store.into(), partition, records));
        self
    }

    /// Puts `records` (`(key, value, timestamp)`, raw bytes, in the order written) on the
    /// global topic `topic` before the driver starts: the global stores are restored from them,
    /// through their global processors, before any stream task initializes, as after a
    /// restart of an application whose global topic already holds them. Each record goes to
    /// the partition murmur2 gives its key, at the next offset; records piped later follow.
    /// Stream tasks that read the topic too start after these records, as if they had
    /// committed them.
    ///
    /// ```
    /// use streams_core::dsl::{Consumed, StreamsBuilder};
    /// use streams_core::serde::Serdes;
    /// use testkit::{DriverConfig, TopologyTestDriver};
    ///
    /// let builder = StreamsBuilder::new();
    /// let table = builder.global_table::<String, String>("regions", Consumed::with(Serdes::string(), Serdes::string()));
    /// let config = DriverConfig::default()
    ///     .with_global_topic_records("regions", [(Some(b"alice".to_vec()), Some(b"eu".to_vec()), 1)]);
    /// let driver = TopologyTestDriver::with_config(builder.build()?, config)?;
    /// assert_eq!(
    ///     driver.key_value_store::<String, String>(table.queryable_store_name())?,
    ///     vec![("alice".to_owned(), "eu".to_owned())]
    /// );
    /// # Ok::<(), streams_core::StreamsError>(())
    /// ```
    pub fn with_global_topic_records(
        mut self,
        topic: impl Into<String>,
        records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>, i64)>,
    ) -> Self {
        let topic = topic.into();
        self.global_topic_records
            .extend(records.into_iter().map(|(k, v, ts)| (topic.clone(), k, v, ts)));
        self
    }

    /// Commit only when [`TopologyTestDriver::commit`] is called.
    pub fn with_manual_commit(mut self) -> Self {
        self.commit_every_record = false;
        self
    }
}

/// Every record the topology produced, per topic, in order; shared with the tasks.
#[derive(Default)]
pub(crate) struct TopicLog {
    /// All records ever written, per topic (with the partition chosen).
    pub(crate) history: BTreeMap<String, Vec<ProducerRecord>>,
    /// Records not yet read by an output topic reader, per topic.
    pub(crate) unread: HashMap<String, VecDeque<ProducerRecord>>,
    /// Records written to internal topics and not yet routed back.
    pub(crate) pending_internal: VecDeque<ProducerRecord>,
}

pub(crate) struct Collector {
    pub(crate) log: Mutex<TopicLog>,
    pub(crate) partitions: HashMap<String, i32>,
    pub(crate) internal_topics: Vec<String>,
}

impl RecordCollector for Collector {
    fn send(&self, mut record: ProducerRecord) -> Result<(), StreamsError> {
        if record.partition.is_none() {
            record.partition = Some(0);
        }
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let topic = record.topic.to_string();
        if self.internal_topics.contains(&topic) && topic.ends_with("-repartition") {
            log.pending_internal.push_back(record.clone());
        }
        log.unread.entry(topic.clone()).or_default().push_back(record.clone());
        log.history.entry(topic).or_default().push(record);
        Ok(())
    }

    fn partitions_for(&self, topic: &str) -> Option<i32> {
        Some(self.partitions.get(topic).copied().unwrap_or(1))
    }

    fn flush(&self) -> Result<(), StreamsError> {
        Ok(())
    }
}

pub(crate) struct DriverState {
    pub(crate) topology: Topology,
    pub(crate) config: DriverConfig,
    pub(crate) tasks: BTreeMap<TaskId, Task>,
    /// The global task, when the topology has global stores.
    pub(crate) global: Option<GlobalTask>,
    pub(crate) collector: Arc<Collector>,
    pub(crate) offsets: HashMap<(String, i32), i64>,
    pub(crate) wall_clock: i64,
    /// The tasks' state directories (persistent stores); declared last so that it is removed
    /// after the tasks are dropped.
    _state_dir: tempfile::TempDir,
}

impl DriverState {
    fn partitions_of(&self, topic: &str) -> i32 {
        self.collector.partitions.get(topic).copied().unwrap_or(1)
    }

    /// Writes a raw record to an input topic and runs everything it causes.
    pub(crate) fn pipe(
        &mut self,
        topic: &str,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
        headers: Headers,
    ) -> Result<(), StreamsError> {
        let partitions = self.partitions_of(topic);
        let partition = key.as_deref().map_or(0, |k| murmur2_partition(k, partitions));
        if let Some(global) = self.global.as_mut().filter(|g| g.reads(topic)) {
            // A global topic updates its store at once, through the global processor.
            let offset = *self.offsets.get(&(topic.to_owned(), partition)).unwrap_or(&0);
            let record = RawRecord {
                key: key.clone(),
                value: value.clone(),
                timestamp,
                offset,
                headers: headers.clone(),
            };
            global.process(topic, partition, record)?;
            global.commit()?;
            let app = self.config.application_id.clone();
            if self.topology.subtopology_reading(&app, topic).is_none() {
                self.offsets.insert((topic.to_owned(), partition), offset + 1);
                return Ok(());
            }
            // Stream tasks read it too: they get the record at the same offset, after the
            // global store took it.
        }
        self.enqueue(topic, partition, key, value, timestamp, headers)?;
        self.run()?;
        if self.config.commit_every_record {
            self.commit()?;
        }
        Ok(())
    }

    fn enqueue(
        &mut self,
        topic: &str,
        partition: i32,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
        headers: Headers,
    ) -> Result<(), StreamsError> {
        let app = self.config.application_id.clone();
        let sub = self
            .topology
            .subtopology_reading(&app, topic)
            .ok_or_else(|| StreamsError::Config {
                key: topic.to_owned(),
                reason: "the topology does not read this topic".into(),
            })?;
        let offset = self.offsets.entry((topic.to_owned(), partition)).or_insert(0);
        let record = RawRecord {
            key,
            value,
            timestamp,
            offset: *offset,
            headers,
        };
        *offset += 1;
        let id = TaskId {
            subtopology: sub,
            partition,
        };
        let task = self
            .tasks
            .get_mut(&id)
            .ok_or_else(|| StreamsError::Internal(format!("no task {id} for {topic}-{partition}")))?;
        task.add_records(topic, [record])
    }

    /// Processes until no task has buffered records and no repartition record is pending; when
    /// commits follow every record, each task commits after each record it processes.
    fn run(&mut self) -> Result<(), StreamsError> {
        let commit_each = self.config.commit_every_record;
        loop {
            for task in self.tasks.values_mut() {
                while task.process_one()? {
                    if commit_each {
                        task.commit()?;
                    }
                }
            }
            if !self.route_internal()? {
                return Ok(());
            }
        }
    }

    /// Moves records written to repartition topics into the tasks that read them.
    fn route_internal(&mut self) -> Result<bool, StreamsError> {
        let pending: Vec<ProducerRecord> = {
            let mut log = self.collector.log.lock().unwrap_or_else(|e| e.into_inner());
            log.pending_internal.drain(..).collect()
        };
        let routed = !pending.is_empty();
        for record in pending {
            self.enqueue(
                &record.topic,
                record.partition.unwrap_or(0),
                record.key,
                record.value,
                record.timestamp,
                record.headers,
            )?;
        }
        Ok(routed)
    }

    pub(crate) fn commit(&mut self) -> Result<(), StreamsError> {
        loop {
            for task in self.tasks.values_mut() {
                task.commit()?;
            }
            let routed = self.route_internal()?;
            if !routed {
                return Ok(());
            }
            self.run()?;
        }
    }

    pub(crate) fn read_unread(&self, topic: &str) -> Option<ProducerRecord> {
        let mut log = self.collector.log.lock().unwrap_or_else(|e| e.into_inner());
        log.unread.get_mut(topic).and_then(VecDeque::pop_front)
    }

    pub(crate) fn unread_count(&self, topic: &str) -> usize {
        let log = self.collector.log.lock().unwrap_or_else(|e| e.into_inner());
        log.unread.get(topic).map_or(0, VecDeque::len)
    }
}

/// Runs a [`Topology`] without a broker, through the same tasks as production.
pub struct TopologyTestDriver {
    pub(crate) state: Rc<RefCell<DriverState>>,
}

impl TopologyTestDriver {
    /// A driver with the default [`DriverConfig`].
    pub fn new(topology: Topology) -> Result<Self, StreamsError> {
        Self::with_config(topology, DriverConfig::default())
    }

    /// A driver with `config`. Fails when joined inputs are not co-partitioned.
    pub fn with_config(topology: Topology, config: DriverConfig) -> Result<Self, StreamsError> {
        let partitions_of = |t: &str| Some(config.partitions.get(t).copied().unwrap_or(1));
        let internal = topology.internal_topics(&config.application_id, &partitions_of)?;
        let mut partitions = config.partitions.clone();
        for topic in &internal {
            partitions.insert(topic.name.clone(), topic.partitions);
        }
        let collector = Arc::new(Collector {
            log: Mutex::new(TopicLog::default()),
            partitions,
            internal_topics: internal.iter().map(|t| t.name.clone()).collect(),
        });
        let counts = topology.task_counts(&partitions_of)?;
        let state_dir = tempfile::Builder::new()
            .prefix("testkit-state-")
            .tempdir()
            .map_err(|e| StreamsError::Internal(format!("cannot create the driver's state directory: {e}")))?;
        let global_stores = if topology.has_global_stores() {
            Some(Arc::new(topology.create_global_stores(
                Some(&state_dir.path().join("global")),
                config.default_store_type,
            )?))
        } else {
            None
        };
        let task_config = TaskConfig {
            cache_max_bytes: config.cache_max_bytes,
            deserialization_handler: Arc::clone(&config.deserialization_handler),
            wall_clock_ms: config.initial_wall_clock_ms,
            global_stores,
            default_store_type: config.default_store_type,
            ..TaskConfig::new(
                config.application_id.clone(),
                Arc::clone(&collector) as Arc<dyn RecordCollector>,
            )
        };
        let mut global = topology.create_global_task(&task_config)?;
        let mut offsets: HashMap<(String, i32), i64> = HashMap::new();
        for (topic, key, value, timestamp) in &config.global_topic_records {
            let global = global
                .as_mut()
                .filter(|g| g.reads(topic))
                .ok_or_else(|| StreamsError::Config {
                    key: topic.clone(),
                    reason: "records were given for it as a global topic, and no global store reads it".into(),
                })?;
            let partition = key
                .as_deref()
                .map_or(0, |k| murmur2_partition(k, partitions_of(topic).unwrap_or(1)));
            let offset = offsets.entry((topic.clone(), partition)).or_insert(0);
            let record = RawRecord {
                key: key.clone(),
                value: value.clone(),
                timestamp: *timestamp,
                offset: *offset,
                headers: Headers::default(),
            };
            *offset += 1;
            global.process(topic, partition, record)?;
        }
        if let Some(global) = global.as_mut() {
            global.commit()?;
        }
        let mut tasks = BTreeMap::new();
        for (sub, &count) in counts.iter().enumerate() {
            for partition in 0..count {
                let id = TaskId {
                    subtopology: sub as u32,
                    partition,
                };
                let task_config = TaskConfig {
                    state_dir: Some(state_dir.path().join(id.to_string())),
                    ..task_config.clone()
                };
                let mut task = topology.create_task(id, &task_config)?;
                for (store, _, records) in config.restored.iter().filter(|(_, p, _)| *p == partition) {
                    if task.stores().any(|(s, _)| s == store) {
                        task.restore(store, records)?;
                    }
                }
                tasks.insert(id, task);
            }
        }
        for (store, partition, _) in &config.restored {
            if !tasks
                .values()
                .any(|t| t.id().partition == *partition && t.stores().any(|(s, _)| s == store))
            {
                return Err(StreamsError::StoreAccess {
                    store: store.clone(),
                    reason: format!("no task of partition {partition} holds it"),
                });
            }
        }
        for task in tasks.values_mut() {
            task.initialize()?;
        }
        Ok(TopologyTestDriver {
            state: Rc::new(RefCell::new(DriverState {
                topology,
                wall_clock: config.initial_wall_clock_ms,
                config,
                tasks,
                global,
                collector,
                offsets,
                _state_dir: state_dir,
            })),
        })
    }

    /// An input topic writing keys with `key_serde` and values with `value_serde`.
    pub fn create_input_topic<K: 'static, V: 'static>(
        &self,
        topic: &str,
        key_serde: impl Serde<K>,
        value_serde: impl Serde<V>,
    ) -> TestInputTopic<K, V> {
        TestInputTopic::new(
            Rc::clone(&self.state),
            topic,
            Arc::new(key_serde),
            Arc::new(value_serde),
        )
    }

    /// An output topic reading keys with `key_serde` and values with `value_serde`. Internal
    /// topics are named in full (`<application.id>-...`).
    pub fn create_output_topic<K: 'static, V: 'static>(
        &self,
        topic: &str,
        key_serde: impl Serde<K>,
        value_serde: impl Serde<V>,
    ) -> TestOutputTopic<K, V> {
        TestOutputTopic::new(
            Rc::clone(&self.state),
            topic,
            Arc::new(key_serde),
            Arc::new(value_serde),
        )
    }

    /// Every record written to `topic` so far, read or not, in order (output, repartition and
    /// changelog topics alike).
    pub fn produced_records(&self, topic: &str) -> Vec<ProducerRecord> {
        let state = self.state.borrow();
        let log = state.collector.log.lock().unwrap_or_else(|e| e.into_inner());
        log.history.get(topic).cloned().unwrap_or_default()
    }

    /// The records of partition `partition` of store `name`'s changelog topic so far, as a
    /// restore reads them (for [`DriverConfig::with_restored_store`] or
    /// [`restore_store`](Self::restore_store) in a restart test).
    pub fn changelog(&self, name: &str, partition: i32) -> Vec<ChangelogRecord> {
        let topic = streams_core::topology::changelog_topic(&self.application_id(), name);
        self.produced_records(&topic)
            .into_iter()
            .filter(|r| r.partition.unwrap_or(0) == partition)
            .map(|r| ChangelogRecord {
                key: r.key.unwrap_or_default(),
                value: r.value,
                timestamp: r.timestamp,
            })
            .collect()
    }

    /// Names of every topic written so far.
    pub fn produced_topics(&self) -> Vec<String> {
        let state = self.state.borrow();
        let log = state.collector.log.lock().unwrap_or_else(|e| e.into_inner());
        log.history.keys().cloned().collect()
    }

    /// Commits every task: caches flush and forward.
    pub fn commit(&self) -> Result<(), StreamsError> {
        self.state.borrow_mut().commit()
    }

    /// Advances wall-clock time, running due wall-clock punctuations.
    pub fn advance_wall_clock_time(&self, by: Duration) -> Result<(), StreamsError> {
        let mut state = self.state.borrow_mut();
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        state.wall_clock = state.wall_clock.saturating_add(ms);
        let now = state.wall_clock;
        for task in state.tasks.values_mut() {
            task.advance_wall_clock(now)?;
        }
        if state.config.commit_every_record {
            state.commit()
        } else {
            state.run()
        }
    }

    /// Every entry of store `name`, over all tasks, sorted by key bytes within a task and by
    /// task id across tasks (a global store is read once, from the global task). Timestamps of
    /// timestamped stores are dropped.
    pub fn key_value_store<K: 'static, V: 'static>(&self, name: &str) -> Result<Vec<(K, V)>, StreamsError> {
        let state = self.state.borrow();
        let mut entries = Vec::new();
        for task in Self::tasks_with_store(&state, name)? {
            entries.extend(task.store_entries::<K, V>(name)?);
        }
        Ok(entries)
    }

    /// Every entry of the timestamped store `name`, over all tasks.
    pub fn timestamped_key_value_store<K: 'static, V: 'static>(
        &self,
        name: &str,
    ) -> Result<Vec<(K, ValueAndTimestamp<V>)>, StreamsError> {
        let state = self.state.borrow();
        let mut entries = Vec::new();
        for task in Self::tasks_with_store(&state, name)? {
            entries.extend(task.timestamped_store_entries::<K, V>(name)?);
        }
        Ok(entries)
    }

    /// The value of `key` in store `name` (whichever task holds it).
    pub fn store_get<K: 'static, V: 'static>(&self, name: &str, key: &K) -> Result<Option<V>, StreamsError> {
        let state = self.state.borrow();
        for task in Self::tasks_with_store(&state, name)? {
            if let Some(found) = task.store_get::<K, V>(name, key)? {
                return Ok(Some(found.value));
            }
        }
        Ok(None)
    }

    /// The version of `key` valid at `as_of` in the versioned store `name` (whichever task
    /// holds it): its value, the time it became valid and, unless it is the latest, the time
    /// the next version replaced it.
    pub fn versioned_store_get<K: 'static, V: 'static>(
        &self,
        name: &str,
        key: &K,
        as_of: i64,
    ) -> Result<Option<VersionedValue<V>>, StreamsError> {
        let state = self.state.borrow();
        for task in Self::tasks_with_store(&state, name)? {
            if let Some(found) = task.versioned_store_get::<K, V>(name, key, as_of)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Whether store `name` is kept on disk (RocksDB) rather than in memory.
    pub fn store_is_persistent(&self, name: &str) -> Result<bool, StreamsError> {
        let state = self.state.borrow();
        let tasks = Self::tasks_with_store(&state, name)?;
        Ok(tasks.iter().all(|t| t.store_is_persistent(name)))
    }

    fn tasks_with_store<'a>(state: &'a DriverState, name: &str) -> Result<Vec<&'a Task>, StreamsError> {
        // A global store is read from the global task (stream tasks only see it).
        if let Some(task) = state.global.as_ref().and_then(|g| g.task_with_store(name)) {
            return Ok(vec![task]);
        }
        let tasks: Vec<&Task> = state
            .tasks
            .values()
            .filter(|t| t.stores().any(|(s, _)| s == name))
            .collect();
        if tasks.is_empty() {
            return Err(StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "no such store in the topology".into(),
            });
        }
        Ok(tasks)
    }

    /// Applies changelog records to store `name` of the task for `partition` (as a restore
    /// after a restart would), without logging them again.
    pub fn restore_store(&self, name: &str, partition: i32, records: &[ChangelogRecord]) -> Result<(), StreamsError> {
        let mut state = self.state.borrow_mut();
        let task = state
            .tasks
            .values_mut()
            .find(|t| t.id().partition == partition && t.stores().any(|(s, _)| s == name))
            .ok_or_else(|| StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: format!("no task of partition {partition} holds it"),
            })?;
        task.restore(name, records)
    }

    /// Counters of every task.
    pub fn metrics(&self) -> BTreeMap<TaskId, TaskMetrics> {
        let state = self.state.borrow();
        state.tasks.iter().map(|(id, t)| (*id, t.metrics())).collect()
    }

    /// The sum of the counters of all tasks.
    pub fn total_metrics(&self) -> TaskMetrics {
        let mut total = TaskMetrics::default();
        for m in self.metrics().values() {
            total.add(m);
        }
        total
    }

    /// The topology under test.
    pub fn topology(&self) -> Topology {
        self.state.borrow().topology.clone()
    }

    /// The application id internal topics are prefixed with.
    pub fn application_id(&self) -> String {
        self.state.borrow().config.application_id.clone()
    }

    /// Closes every task (commits first).
    pub fn close(self) -> Result<(), StreamsError> {
        let mut state = self.state.borrow_mut();
        for task in state.tasks.values_mut() {
            task.close()?;
        }
        if let Some(global) = state.global.as_mut() {
            global.close()?;
        }
        Ok(())
    }
}
