//! A stream thread: one consumer in the application's group, one producer, and the tasks of
//! the partitions assigned to it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

use super::collector::KafkaCollector;
use super::config::{ProcessingGuarantee, StreamsConfig};
use super::restore::restore_task;
use super::state_dir::TaskDirectory;
use super::StateMachine;
use crate::internals::{DeserializationExceptionHandler, GlobalStores, RecordCollector, Task, TaskId};
use crate::processor::{Headers, RawRecord};
use crate::topology::{TaskConfig, Topology};
use crate::StreamsError;

/// Records taken from the consumer per loop before processing, punctuating and checking the
/// commit interval (Kafka Streams' `max.poll.records` default).
const MAX_POLL_RECORDS: usize = 1_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

struct RunningTask {
    task: Task,
    dir: TaskDirectory,
}

/// The tasks of one thread; shared with the consumer's rebalance callbacks, which run on the
/// same thread inside `poll`.
pub(crate) struct TaskManager {
    topology: Arc<Topology>,
    config: Arc<StreamsConfig>,
    collector: Arc<KafkaCollector>,
    task_config: TaskConfig,
    restore_consumer: BaseConsumer,
    topic_subtopology: HashMap<String, u32>,
    tasks: BTreeMap<TaskId, RunningTask>,
    suspended: BTreeMap<TaskId, RunningTask>,
    error: Option<StreamsError>,
    in_transaction: bool,
    thread: usize,
    states: Arc<StateMachine>,
}

impl TaskManager {
    fn eos(&self) -> bool {
        self.config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2
    }

    fn task_of(&self, topic: &str, partition: i32) -> Option<TaskId> {
        self.topic_subtopology
            .get(topic)
            .map(|&subtopology| TaskId { subtopology, partition })
    }

    fn create_task(&mut self, id: TaskId) -> Result<RunningTask, StreamsError> {
        let dir = TaskDirectory::lock(&self.config.state_dir, &self.config.application_id, id)?;
        let config = TaskConfig {
            state_dir: Some(dir.path.clone()),
            wall_clock_ms: now_ms(),
            ..self.task_config.clone()
        };
        let mut task = self.topology.create_task(id, &config)?;
        if self.eos() {
            // Under exactly-once a store may hold writes of an aborted transaction: never
            // trust a checkpoint past the last commit.
            dir.delete_checkpoint();
        }
        let restored = restore_task(&self.restore_consumer, &mut task, &dir)?;
        task.initialize()?;
        tracing::info!(thread = self.thread, task = %id, restored, "task created");
        Ok(RunningTask { task, dir })
    }

    /// Flushes every task, the producer, writes checkpoints, and commits consumed offsets
    /// (in the transaction under exactly-once). Returns `false` when the group refused the
    /// offsets because it is rebalancing: the tasks may have moved, and their records since
    /// the last commit will be processed again by their next owner (at-least-once).
    fn commit_all(&mut self, consumer: &BaseConsumer<ThreadContext>) -> Result<bool, StreamsError> {
        for running in self.tasks.values_mut() {
            running.task.commit()?;
        }
        self.collector.flush()?;
        let mut tpl = TopicPartitionList::new();
        for running in self.tasks.values() {
            for (topic, partition, offset) in running.task.consumed_offsets() {
                tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
                    .map_err(|e| kafka_error("commit", e))?;
            }
        }
        if self.eos() {
            if self.in_transaction {
                if tpl.count() > 0 {
                    let metadata = consumer
                        .group_metadata()
                        .ok_or_else(|| StreamsError::Internal("no consumer group metadata".into()))?;
                    self.collector
                        .producer
                        .send_offsets_to_transaction(&tpl, &metadata, Duration::from_secs(30))
                        .map_err(|e| kafka_error("send_offsets_to_transaction", e))?;
                }
                self.collector
                    .producer
                    .commit_transaction(Duration::from_secs(30))
                    .map_err(|e| kafka_error("commit_transaction", e))?;
                self.in_transaction = false;
            }
        } else if tpl.count() > 0 {
            match consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => {}
                Err(KafkaError::ConsumerCommit(
                    code @ (RDKafkaErrorCode::RebalanceInProgress
                    | RDKafkaErrorCode::IllegalGeneration
                    | RDKafkaErrorCode::UnknownMemberId),
                )) => {
                    tracing::warn!(thread = self.thread, %code, "offset commit refused during a rebalance");
                    self.publish_tasks();
                    return Ok(false);
                }
                Err(e) => return Err(kafka_error("commit", e)),
            }
        }
        if !self.eos() {
            self.write_checkpoints()?;
        }
        self.publish_tasks();
        Ok(true)
    }

    fn publish_tasks(&self) {
        let tasks = self
            .tasks
            .iter()
            .map(|(id, running)| (*id, running.task.metrics()))
            .collect();
        self.states.set_tasks(self.thread, tasks);
    }

    fn write_checkpoints(&mut self) -> Result<(), StreamsError> {
        let written = self.collector.written_offsets();
        for running in self.tasks.values() {
            let partition = running.task.id().partition;
            let mut offsets = running.dir.read_checkpoint();
            let mut persistent = false;
            for (store, topic) in running.task.stores() {
                if let Some(topic) = topic {
                    if running.task.store_is_persistent(store) {
                        persistent = true;
                        if let Some(&last) = written.get(&(topic.to_owned(), partition)) {
                            offsets.insert((topic.to_owned(), partition), last + 1);
                        }
                    }
                }
            }
            if persistent {
                running.dir.write_checkpoint(&offsets)?;
            }
        }
        Ok(())
    }

    fn begin_transaction_if_needed(&mut self) -> Result<(), StreamsError> {
        if self.eos() && !self.in_transaction {
            self.collector
                .producer
                .begin_transaction()
                .map_err(|e| kafka_error("begin_transaction", e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    fn on_revoke(&mut self, consumer: &BaseConsumer<ThreadContext>, revoked: &TopicPartitionList) {
        self.states.set_thread(self.thread, super::State::Rebalancing);
        let committed = match self.commit_all(consumer) {
            Ok(committed) => committed,
            Err(e) => {
                tracing::error!(thread = self.thread, error = %e, "commit before revocation failed");
                self.error.get_or_insert(e);
                false
            }
        };
        let ids: BTreeSet<TaskId> = revoked
            .elements()
            .iter()
            .filter_map(|e| self.task_of(e.topic(), e.partition()))
            .collect();
        for id in ids {
            if let Some(mut running) = self.tasks.remove(&id) {
                if committed {
                    running.task.clear_buffers();
                    self.suspended.insert(id, running);
                } else {
                    // Its state may be ahead of the committed offsets: drop it (a "dirty"
                    // close); if it comes back it is restored from the changelog.
                    tracing::info!(task = %id, "closing a task dirty after a refused commit");
                }
            }
        }
    }

    fn on_assign(&mut self, assigned: &TopicPartitionList) {
        let ids: BTreeSet<TaskId> = assigned
            .elements()
            .iter()
            .filter_map(|e| self.task_of(e.topic(), e.partition()))
            .collect();
        let suspended = std::mem::take(&mut self.suspended);
        for (id, mut running) in suspended {
            if ids.contains(&id) {
                self.tasks.insert(id, running);
            } else if let Err(e) = running.task.close() {
                tracing::warn!(task = %id, error = %e, "closing a revoked task failed");
            }
        }
        for id in ids {
            if self.tasks.contains_key(&id) {
                continue;
            }
            match self.create_task(id) {
                Ok(running) => {
                    self.tasks.insert(id, running);
                }
                Err(e) => {
                    tracing::error!(task = %id, error = %e, "could not create task");
                    self.error.get_or_insert(e);
                }
            }
        }
        self.publish_tasks();
        self.states.set_thread(self.thread, super::State::Running);
    }

    /// Drops every task without committing (their state may hold uncommitted writes) and
    /// recreates them from their changelogs; the consumer goes back to the committed offsets.
    fn recover_dirty(&mut self, consumer: &BaseConsumer<ThreadContext>) -> Result<(), StreamsError> {
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        self.tasks.clear();
        for id in ids {
            let running = self.create_task(id)?;
            self.tasks.insert(id, running);
        }
        let assignment = consumer.assignment().map_err(|e| kafka_error("assignment", e))?;
        let committed = consumer
            .committed_offsets(assignment, Duration::from_secs(30))
            .map_err(|e| kafka_error("committed", e))?;
        for element in committed.elements() {
            let offset = match element.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            consumer
                .seek(element.topic(), element.partition(), offset, Duration::from_secs(10))
                .map_err(|e| kafka_error("seek", e))?;
        }
        Ok(())
    }
}

/// Answers whether a partition has records on the broker that the consumer has not returned
/// yet; positions are read once per loop and watermarks once per partition and loop.
///
/// Watermarks are asked through `probe`, a client of its own: on the consumer's connection the
/// request would wait behind the consumer's pending fetch (up to `fetch.wait.max.ms`).
struct LagCheck<'c> {
    consumer: &'c BaseConsumer<ThreadContext>,
    probe: &'c BaseConsumer,
    positions: Option<Vec<(String, i32, i64)>>,
    committed: Option<Vec<(String, i32, i64)>>,
    answers: Vec<(String, i32, bool)>,
}

/// The offsets in `tpl`, as (topic, partition, offset), leaving out special offsets.
fn offsets_of(tpl: &TopicPartitionList) -> Vec<(String, i32, i64)> {
    tpl.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.topic().to_owned(), e.partition(), o)),
            _ => None,
        })
        .collect()
}

fn offset_in(offsets: &[(String, i32, i64)], topic: &str, partition: i32) -> Option<i64> {
    offsets
        .iter()
        .find(|(t, p, _)| t == topic && *p == partition)
        .map(|(_, _, o)| *o)
}

impl<'c> LagCheck<'c> {
    fn new(consumer: &'c BaseConsumer<ThreadContext>, probe: &'c BaseConsumer) -> Self {
        LagCheck {
            consumer,
            probe,
            positions: None,
            committed: None,
            answers: Vec::new(),
        }
    }

    /// Forgets the positions and answers of the previous loop.
    fn next_loop(&mut self) {
        self.positions = None;
        self.committed = None;
        self.answers.clear();
    }

    fn caught_up(&mut self, topic: &str, partition: i32) -> bool {
        if let Some(&(_, _, known)) = self.answers.iter().find(|(t, p, _)| t == topic && *p == partition) {
            return known;
        }
        let consumer = self.consumer;
        let positions = self
            .positions
            .get_or_insert_with(|| consumer.position().map(|tpl| offsets_of(&tpl)).unwrap_or_default());
        let position = offset_in(positions, topic, partition);
        let result = match self.probe.fetch_watermarks(topic, partition, Duration::from_secs(5)) {
            Ok((low, high)) => match position {
                Some(p) => p >= high,
                // Nothing fetched yet: caught up if the partition is empty or the group's
                // committed offset is already at its end (a restart with no new records there).
                None => {
                    high <= low || {
                        let committed = self.committed.get_or_insert_with(|| {
                            consumer
                                .committed(Duration::from_secs(5))
                                .map(|tpl| offsets_of(&tpl))
                                .unwrap_or_default()
                        });
                        offset_in(committed, topic, partition).is_some_and(|c| c >= high)
                    }
                }
            },
            Err(e) => {
                tracing::debug!(topic, partition, error = %e, "watermark request failed; not waiting");
                true
            }
        };
        self.answers.push((topic.to_owned(), partition, result));
        result
    }
}

/// Processes the task's buffered records in timestamp order, stopping when an input partition
/// is empty but still has records on the broker (they may come first in time).
fn process_ready(task: &mut Task, lag: &mut LagCheck<'_>) -> Result<(), StreamsError> {
    let partition = task.id().partition;
    // Inputs only empty out while processing: check again only when another one did.
    let mut checked = 0;
    while task.buffered() > 0 {
        let empty = task.empty_input_count();
        if empty > checked {
            if !task.empty_inputs().iter().all(|topic| lag.caught_up(topic, partition)) {
                break;
            }
            checked = empty;
        }
        task.process_one()?;
    }
    Ok(())
}

fn kafka_error(operation: &str, e: rdkafka::error::KafkaError) -> StreamsError {
    StreamsError::Send {
        topic: operation.to_owned(),
        reason: e.to_string(),
    }
}

/// Consumer context whose rebalance callbacks commit, suspend, close and create tasks.
pub(crate) struct ThreadContext {
    manager: Arc<Mutex<TaskManager>>,
    /// Revocations so far: the poll loop drops records it polled before one.
    revocations: AtomicU64,
}

impl ClientContext for ThreadContext {}

impl ConsumerContext for ThreadContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            let mut manager = self.manager.lock().unwrap_or_else(|e| e.into_inner());
            manager.on_revoke(consumer, revoked);
            self.revocations.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                let mut manager = self.manager.lock().unwrap_or_else(|e| e.into_inner());
                manager.on_assign(assigned);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
    }
}

/// Everything a stream thread is started with.
pub(crate) struct ThreadSetup {
    pub(crate) index: usize,
    pub(crate) topology: Arc<Topology>,
    pub(crate) config: Arc<StreamsConfig>,
    pub(crate) consumer_config: ClientConfig,
    pub(crate) producer_config: ClientConfig,
    pub(crate) restore_config: ClientConfig,
    /// For the client that asks watermarks while processing.
    pub(crate) probe_config: ClientConfig,
    pub(crate) partitions: HashMap<String, i32>,
    pub(crate) source_topics: Vec<String>,
    pub(crate) deserialization_handler: Arc<dyn DeserializationExceptionHandler>,
    pub(crate) cache_max_bytes: usize,
    pub(crate) shutdown: Arc<AtomicBool>,
    pub(crate) states: Arc<StateMachine>,
    /// The process's global stores, read by the tasks.
    pub(crate) global_stores: Option<Arc<GlobalStores>>,
}

/// The record a consumer read, as tasks take it.
pub(crate) fn raw_record(message: &BorrowedMessage<'_>) -> RawRecord {
    let mut headers = Headers::new();
    if let Some(h) = message.headers() {
        for header in h.iter() {
            match header.value {
                Some(v) => headers.add(header.key, v),
                None => headers.add_null(header.key),
            };
        }
    }
    RawRecord {
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
        offset: message.offset(),
        headers,
    }
}

/// Runs one stream thread until shutdown or a fatal error.
pub(crate) fn run(setup: ThreadSetup) -> Result<(), StreamsError> {
    let config_err = |what: &str, e: rdkafka::error::KafkaError| StreamsError::Config {
        key: "bootstrap.servers".into(),
        reason: format!("could not create the {what}: {e}"),
    };
    let collector = Arc::new(KafkaCollector::new(&setup.producer_config, setup.partitions.clone())?);
    if setup.config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2 {
        collector
            .producer
            .init_transactions(Duration::from_secs(60))
            .map_err(|e| kafka_error("init_transactions", e))?;
    }
    let restore_consumer: BaseConsumer = setup
        .restore_config
        .create()
        .map_err(|e| config_err("restore consumer", e))?;
    let probe: BaseConsumer = setup
        .probe_config
        .create()
        .map_err(|e| config_err("watermark client", e))?;
    let app = setup.config.application_id.clone();
    let topic_subtopology = setup
        .source_topics
        .iter()
        .filter_map(|t| setup.topology.subtopology_reading(&app, t).map(|s| (t.clone(), s)))
        .collect();
    let manager = Arc::new(Mutex::new(TaskManager {
        topology: Arc::clone(&setup.topology),
        config: Arc::clone(&setup.config),
        task_config: TaskConfig {
            deserialization_handler: Arc::clone(&setup.deserialization_handler),
            cache_max_bytes: setup.cache_max_bytes,
            global_stores: setup.global_stores.clone(),
            default_store_type: setup.config.default_dsl_store,
            ..TaskConfig::new(app.clone(), Arc::clone(&collector) as Arc<dyn RecordCollector>)
        },
        collector,
        restore_consumer,
        topic_subtopology,
        tasks: BTreeMap::new(),
        suspended: BTreeMap::new(),
        error: None,
        in_transaction: false,
        thread: setup.index,
        states: Arc::clone(&setup.states),
    }));
    let consumer: BaseConsumer<ThreadContext> = setup
        .consumer_config
        .create_with_context(ThreadContext {
            manager: Arc::clone(&manager),
            revocations: AtomicU64::new(0),
        })
        .map_err(|e| config_err("consumer", e))?;
    let topics: Vec<&str> = setup.source_topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(|e| kafka_error("subscribe", e))?;
    let commit_interval = Duration::from_millis(setup.config.commit_interval_ms);
    let mut last_commit = Instant::now();
    let source_topics = &setup.source_topics;
    let subtopologies: Vec<Option<u32>> = source_topics
        .iter()
        .map(|t| setup.topology.subtopology_reading(&app, t))
        .collect();
    let mut batch: Vec<(usize, i32, RawRecord)> = Vec::new();
    let mut last_topic = 0;
    let mut lag = LagCheck::new(&consumer, &probe);
    let result = (|| -> Result<(), StreamsError> {
        while !setup.shutdown.load(Ordering::Relaxed) {
            // Poll a batch without holding the task manager (the rebalance callbacks inside
            // `poll` take it), then hand the batch to the tasks under one lock.
            batch.clear();
            let mut revocations = consumer.context().revocations.load(Ordering::Relaxed);
            let mut polled = 0usize;
            while polled < MAX_POLL_RECORDS {
                let timeout = if polled == 0 {
                    Duration::from_millis(50)
                } else {
                    Duration::ZERO
                };
                let message = consumer.poll(timeout);
                let now = consumer.context().revocations.load(Ordering::Relaxed);
                if now != revocations {
                    // Records polled before a revocation belong to tasks that were suspended
                    // (their buffers cleared) or closed; the consumer fetches them again.
                    batch.clear();
                    revocations = now;
                }
                let Some(message) = message else { break };
                let message = message.map_err(|e| kafka_error("poll", e))?;
                polled += 1;
                let topic = message.topic();
                if source_topics.get(last_topic).is_none_or(|t| t != topic) {
                    match source_topics.iter().position(|t| t == topic) {
                        Some(index) => last_topic = index,
                        None => continue,
                    }
                }
                batch.push((last_topic, message.partition(), raw_record(&message)));
            }
            let mut manager = manager.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = manager.error.take() {
                return Err(e);
            }
            for (topic, partition, record) in batch.drain(..) {
                let Some(subtopology) = subtopologies[topic] else {
                    continue;
                };
                if let Some(running) = manager.tasks.get_mut(&TaskId { subtopology, partition }) {
                    running.task.add_records(&source_topics[topic], [record])?;
                }
            }
            let step = (|| -> Result<(), StreamsError> {
                // Under exactly-once everything a loop produces (records, punctuation output,
                // changelog writes) belongs to the open transaction.
                manager.begin_transaction_if_needed()?;
                let now = now_ms();
                lag.next_loop();
                for running in manager.tasks.values_mut() {
                    process_ready(&mut running.task, &mut lag)?;
                    running.task.advance_wall_clock(now)?;
                }
                if last_commit.elapsed() >= commit_interval {
                    manager.commit_all(&consumer)?;
                    last_commit = Instant::now();
                }
                Ok(())
            })();
            if let Err(e) = step {
                if manager.eos() && !matches!(e, StreamsError::Deserialization { .. }) {
                    tracing::warn!(error = %e, "aborting the transaction and restoring tasks");
                    let _ = manager.collector.producer.abort_transaction(Duration::from_secs(30));
                    manager.in_transaction = false;
                    manager.recover_dirty(&consumer)?;
                } else {
                    return Err(e);
                }
            }
        }
        let mut manager = manager.lock().unwrap_or_else(|e| e.into_inner());
        manager.commit_all(&consumer)?;
        for (id, running) in manager.tasks.iter_mut() {
            if let Err(e) = running.task.close() {
                tracing::warn!(task = %id, error = %e, "closing task failed");
            }
        }
        manager.tasks.clear();
        manager.publish_tasks();
        Ok(())
    })();
    drop(consumer);
    result
}
