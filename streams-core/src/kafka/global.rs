//! The global stream thread: one consumer per instance reading every partition of the global
//! topics (no group), restoring the global stores before the stream threads start, then
//! keeping them up to date.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::config::StreamsConfig;
use super::restore::read_to_end;
use super::state_dir::TaskDirectory;
use super::thread::raw_record;
use crate::internals::{DeserializationExceptionHandler, GlobalStores, GlobalTask, RecordCollector};
use crate::processor::ProducerRecord;
use crate::topology::{TaskConfig, Topology};
use crate::StreamsError;

/// The global task's collector: global processors fill their stores and send nothing.
struct NoOutput;

impl RecordCollector for NoOutput {
    fn send(&self, record: ProducerRecord) -> Result<(), StreamsError> {
        Err(StreamsError::Send {
            topic: record.topic.to_string(),
            reason: "a global processor cannot send records; it only fills its global store".into(),
        })
    }

    fn partitions_for(&self, _topic: &str) -> Option<i32> {
        None
    }

    fn flush(&self) -> Result<(), StreamsError> {
        Ok(())
    }
}

fn kafka_error(operation: &str, e: rdkafka::error::KafkaError) -> StreamsError {
    StreamsError::Send {
        topic: operation.to_owned(),
        reason: format!("global consumer: {e}"),
    }
}

/// The global task with its consumer, restored and ready to follow the global topics.
pub(crate) struct GlobalThread {
    task: GlobalTask,
    consumer: BaseConsumer,
    dir: TaskDirectory,
    stores: Arc<GlobalStores>,
    /// Offset of the next record to read, per global topic partition.
    positions: BTreeMap<(String, i32), i64>,
    /// Topics whose stores are persistent: their positions are checkpointed.
    persistent_topics: Vec<String>,
}

impl GlobalThread {
    /// Locks `<state.dir>/<application.id>/global/`, creates the global stores and task, and
    /// restores the stores to the end of their topics by running every record (from the
    /// checkpoint, for persistent stores; else from the beginning) through the global
    /// processors.
    pub(crate) fn bootstrap(
        topology: &Topology,
        config: &StreamsConfig,
        consumer_config: &ClientConfig,
        partitions: &BTreeMap<String, i32>,
        handler: Arc<dyn DeserializationExceptionHandler>,
    ) -> Result<Self, StreamsError> {
        let dir = TaskDirectory::lock_named(&config.state_dir, &config.application_id, "global")?;
        let stores = Arc::new(topology.create_global_stores(Some(&dir.path), config.default_dsl_store)?);
        let task_config = TaskConfig {
            deserialization_handler: handler,
            state_dir: Some(dir.path.clone()),
            global_stores: Some(Arc::clone(&stores)),
            ..TaskConfig::new(config.application_id.clone(), Arc::new(NoOutput))
        };
        let mut task = topology
            .create_global_task(&task_config)?
            .ok_or_else(|| StreamsError::Internal("the topology has no global store".into()))?;
        let consumer: BaseConsumer = consumer_config.create().map_err(|e| StreamsError::Config {
            key: "bootstrap.servers".into(),
            reason: format!("could not create the global consumer: {e}"),
        })?;
        let persistent_topics = task.persistent_topics();
        let checkpoint = dir.read_checkpoint();
        let began = Instant::now();
        let mut positions = BTreeMap::new();
        let mut restored = 0;
        let topics: Vec<String> = task.topics().map(str::to_owned).collect();
        for topic in &topics {
            let count = partitions.get(topic).copied().ok_or_else(|| {
                StreamsError::Topology(format!(
                    "global topic `{topic}` does not exist; create it before starting"
                ))
            })?;
            for partition in 0..count {
                let start = if persistent_topics.contains(topic) {
                    checkpoint.get(&(topic.clone(), partition)).copied()
                } else {
                    None
                };
                let read = read_to_end(&consumer, topic, partition, start, "global stores", |message| {
                    task.process(topic, partition, raw_record(message))
                })?;
                restored += read.records;
                positions.insert((topic.clone(), partition), read.position);
            }
        }
        let mut thread = GlobalThread {
            task,
            consumer,
            dir,
            stores,
            positions,
            persistent_topics,
        };
        thread.commit()?;
        tracing::info!(
            restored,
            elapsed_ms = began.elapsed().as_millis() as u64,
            "global stores restored"
        );
        Ok(thread)
    }

    /// The global stores, for the stream threads' tasks.
    pub(crate) fn stores(&self) -> Arc<GlobalStores> {
        Arc::clone(&self.stores)
    }

    /// Flushes the global stores and checkpoints the positions of the persistent ones.
    fn commit(&mut self) -> Result<(), StreamsError> {
        self.task.commit()?;
        let offsets: BTreeMap<(String, i32), i64> = self
            .positions
            .iter()
            .filter(|((topic, _), _)| self.persistent_topics.contains(topic))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        if offsets.is_empty() {
            self.dir.delete_checkpoint();
            Ok(())
        } else {
            self.dir.write_checkpoint(&offsets)
        }
    }

    /// Follows the global topics until `shutdown`: every record goes through its global
    /// processor; every `commit.interval.ms` the stores are flushed and checkpointed.
    pub(crate) fn run(mut self, commit_interval: Duration, shutdown: &AtomicBool) -> Result<(), StreamsError> {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.positions {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| kafka_error("assign", e))?;
        }
        self.consumer.assign(&tpl).map_err(|e| kafka_error("assign", e))?;
        let mut last_commit = Instant::now();
        let result = (|| -> Result<(), StreamsError> {
            while !shutdown.load(Ordering::Relaxed) {
                match self.consumer.poll(Duration::from_millis(50)) {
                    Some(Ok(message)) => {
                        use rdkafka::Message;
                        let topic = message.topic().to_owned();
                        let partition = message.partition();
                        self.positions.insert((topic.clone(), partition), message.offset() + 1);
                        self.task.process(&topic, partition, raw_record(&message))?;
                    }
                    Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) | None => {}
                    Some(Err(e)) => return Err(kafka_error("poll", e)),
                }
                if last_commit.elapsed() >= commit_interval {
                    self.commit()?;
                    last_commit = Instant::now();
                }
            }
            self.commit()
        })();
        if let Err(e) = self.task.close() {
            tracing::warn!(error = %e, "closing the global stores failed");
        }
        result
    }
}
