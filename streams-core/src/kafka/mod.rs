//! The Kafka runtime: run a [`Topology`] against a Kafka cluster.
//!
//! [`KafkaStreams`] starts `num.stream.threads` stream threads. Each has a consumer in the
//! group `application.id` (range assignment, so the same partition of co-partitioned topics
//! lands on the same instance), a producer, and one [`Task`](crate::internals::Task) per
//! assigned partition of each sub-topology: the same tasks the testkit runs. Run as many
//! copies of the application as needed; Kafka spreads the partitions over them.
//!
//! ```no_run
//! use std::time::Duration;
//! use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
//! use streams_core::kafka::{KafkaStreams, StreamsConfig};
//! use streams_core::serde::Serdes;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream::<String, String>("in", Consumed::with(Serdes::string(), Serdes::string()))
//!     .filter(|_, v| !v.is_empty())
//!     .to("out", Produced::new());
//! let mut streams = KafkaStreams::new(builder.build()?, StreamsConfig::new("my-app", "localhost:9092"))?;
//! streams.start()?;
//! // ... until a shutdown signal:
//! streams.close(Duration::from_secs(30));
//! # Ok::<(), streams_core::StreamsError>(())
//! ```

mod collector;
mod config;
pub mod embedded;
mod global;
mod restore;
mod state_dir;
mod thread;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

pub use config::{is_secret, DeserializationHandlerKind, ProcessingGuarantee, StreamsConfig};

use crate::internals::{
    DeserializationExceptionHandler, GlobalStores, LogAndContinue, LogAndFail, TaskId, TaskMetrics,
};
use crate::topology::{InternalTopic, Topology};
use crate::StreamsError;

/// The lifecycle states of a [`KafkaStreams`] instance, as in Kafka Streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Created, not started.
    Created,
    /// Partitions are being (re)assigned and tasks restored.
    Rebalancing,
    /// Processing.
    Running,
    /// `close` was called; threads are committing and stopping.
    PendingShutdown,
    /// Stopped cleanly.
    NotRunning,
    /// A thread failed; see [`KafkaStreams::error`].
    Error,
}

type Listener = Arc<dyn Fn(State, State) + Send + Sync>;

/// The instance state, derived from the threads' states, with a listener called on changes.
pub(crate) struct StateMachine {
    inner: Mutex<(State, Vec<State>)>,
    /// Counters of the tasks each thread runs, as of its last commit.
    tasks: Mutex<Vec<BTreeMap<TaskId, TaskMetrics>>>,
    listener: Mutex<Option<Listener>>,
    error: Mutex<Option<String>>,
}

impl StateMachine {
    fn new(threads: usize) -> Self {
        StateMachine {
            inner: Mutex::new((State::Created, vec![State::Created; threads])),
            tasks: Mutex::new(vec![BTreeMap::new(); threads]),
            listener: Mutex::new(None),
            error: Mutex::new(None),
        }
    }

    fn transition(&self, new: State) {
        let old = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let old = inner.0;
            if old == new || matches!(old, State::NotRunning | State::Error) && new != State::Error {
                return;
            }
            inner.0 = new;
            old
        };
        tracing::info!(?old, ?new, "state transition");
        let listener = self.listener.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(listener) = listener {
            listener(new, old);
        }
    }

    /// Records a thread's state; the instance is rebalancing while any thread is.
    pub(crate) fn set_thread(&self, index: usize, state: State) {
        let derived = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = inner.1.get_mut(index) {
                *slot = state;
            }
            if matches!(inner.0, State::PendingShutdown | State::NotRunning | State::Error) {
                return;
            }
            if inner.1.iter().any(|s| *s == State::Rebalancing || *s == State::Created) {
                State::Rebalancing
            } else {
                State::Running
            }
        };
        self.transition(derived);
    }

    fn state(&self) -> State {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// Records the tasks a thread runs now and their counters.
    pub(crate) fn set_tasks(&self, index: usize, tasks: BTreeMap<TaskId, TaskMetrics>) {
        if let Some(slot) = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index) {
            *slot = tasks;
        }
    }
}

/// Creates the internal topics an application needs (repartition and changelog topics).
pub trait TopicCreator {
    /// Creates each topic, or checks that it already exists with the right partition count.
    fn create_topics(&self, topics: &[InternalTopic]) -> Result<(), StreamsError>;
}

/// Creates internal topics with Kafka's admin API (`CreateTopics`); changelogs are compacted.
pub struct AdminTopicCreator {
    client: AdminClient<DefaultClientContext>,
    replication_factor: i32,
}

impl AdminTopicCreator {
    /// An admin client for `config`'s cluster.
    pub fn new(config: &StreamsConfig) -> Result<Self, StreamsError> {
        let client = client_config(config).create().map_err(|e| StreamsError::Config {
            key: "bootstrap.servers".into(),
            reason: format!("could not create an admin client: {e}"),
        })?;
        Ok(AdminTopicCreator {
            client,
            replication_factor: config.replication_factor,
        })
    }
}

impl TopicCreator for AdminTopicCreator {
    fn create_topics(&self, topics: &[InternalTopic]) -> Result<(), StreamsError> {
        let configs: Vec<_> = topics.iter().map(|t| t.kind.topic_config()).collect();
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .zip(&configs)
            .map(|(t, config)| {
                config.iter().fold(
                    NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(self.replication_factor)),
                    |topic, (key, value)| topic.set(key, value),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results =
            futures::executor::block_on(self.client.create_topics(&new, &options)).map_err(|e| StreamsError::Send {
                topic: "CreateTopics".into(),
                reason: e.to_string(),
            })?;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(StreamsError::Send {
                        topic,
                        reason: format!("could not create internal topic: {code}"),
                    })
                }
            }
        }
        Ok(())
    }
}

/// Creates topics on librdkafka's in-process mock cluster (which has no `CreateTopics` API).
pub struct MockClusterTopicCreator<'a, C: rdkafka::ClientContext>(pub &'a rdkafka::mocking::MockCluster<'a, C>);

impl<C: rdkafka::ClientContext> TopicCreator for MockClusterTopicCreator<'_, C> {
    fn create_topics(&self, topics: &[InternalTopic]) -> Result<(), StreamsError> {
        for t in topics {
            match self.0.create_topic(&t.name, t.partitions, 1) {
                Ok(()) => {}
                Err(rdkafka::error::KafkaError::MockCluster(rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err(e) => {
                    return Err(StreamsError::Send {
                        topic: t.name.clone(),
                        reason: format!("could not create topic on the mock cluster: {e}"),
                    })
                }
            }
        }
        Ok(())
    }
}

fn client_config(config: &StreamsConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    for (k, v) in &config.client_properties {
        client.set(k, v);
    }
    client.set("bootstrap.servers", &config.bootstrap_servers);
    client
}

/// librdkafka pauses fetching a partition for `fetch.queue.backoff.ms` (1 s by default) once
/// its prefetch queue is full; a thread that empties the queue faster would then sit idle, so
/// the runtime's consumers check again after 10 ms unless the property is set.
const FETCH_QUEUE_BACKOFF: (&str, &str) = ("fetch.queue.backoff.ms", "10");

/// Sets `key` to `value` unless the application's configuration sets it.
fn set_default(client: &mut ClientConfig, config: &StreamsConfig, (key, value): (&str, &str)) {
    if !config.client_properties.contains_key(key) {
        client.set(key, value);
    }
}

/// Runs a topology against Kafka. See the [module docs](self).
pub struct KafkaStreams {
    topology: Arc<Topology>,
    config: Arc<StreamsConfig>,
    states: Arc<StateMachine>,
    shutdown: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl KafkaStreams {
    /// An instance in state [`State::Created`]; the configuration is validated here.
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self, StreamsError> {
        config.validate()?;
        Ok(KafkaStreams {
            topology: Arc::new(topology),
            states: Arc::new(StateMachine::new(config.num_stream_threads)),
            config: Arc::new(config),
            shutdown: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        })
    }

    /// Calls `listener(new_state, old_state)` on every state change.
    pub fn set_state_listener(&self, listener: impl Fn(State, State) + Send + Sync + 'static) {
        *self.states.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(listener));
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.states.state()
    }

    /// The tasks this instance runs, with their counters as of each thread's last commit.
    pub fn tasks(&self) -> BTreeMap<TaskId, TaskMetrics> {
        self.states
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|m| m.iter().map(|(id, m)| (*id, m.clone())))
            .collect()
    }

    /// The sum of the counters of all tasks (as of the last commits).
    pub fn metrics(&self) -> TaskMetrics {
        self.tasks().values().fold(TaskMetrics::default(), |mut total, m| {
            total.add(m);
            total
        })
    }

    /// The error that stopped a thread, if any.
    pub fn error(&self) -> Option<String> {
        self.states.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The internal topics the application needs, with partition counts from the cluster's
    /// source topics. Fails when joined inputs are not co-partitioned or a source is missing.
    pub fn internal_topics(&self) -> Result<Vec<InternalTopic>, StreamsError> {
        let counts = self.source_partition_counts()?;
        self.topology
            .internal_topics(&self.config.application_id, &|t| counts.get(t).copied())
    }

    fn source_partition_counts(&self) -> Result<HashMap<String, i32>, StreamsError> {
        let consumer: BaseConsumer = client_config(&self.config).create().map_err(|e| StreamsError::Config {
            key: "bootstrap.servers".into(),
            reason: format!("could not create a client: {e}"),
        })?;
        let mut counts = HashMap::new();
        let mut wanted = self.topology.source_topics();
        wanted.extend(self.topology.global_source_topics());
        wanted.extend(self.topology.sink_topics());
        for topic in wanted {
            let metadata = consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(30))
                .map_err(|e| StreamsError::Send {
                    topic: topic.clone(),
                    reason: format!("metadata request failed: {e}"),
                })?;
            if let Some(t) = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            {
                counts.insert(topic, t.partitions().len() as i32);
            }
        }
        Ok(counts)
    }

    /// Creates internal topics with the admin API and starts the stream threads.
    pub fn start(&mut self) -> Result<(), StreamsError> {
        let creator = AdminTopicCreator::new(&self.config)?;
        self.start_with(&creator)
    }

    /// Like [`start`](Self::start), creating internal topics with `creator`.
    pub fn start_with(&mut self, creator: &dyn TopicCreator) -> Result<(), StreamsError> {
        if self.state() != State::Created {
            return Err(StreamsError::Config {
                key: "state".into(),
                reason: format!("start() called in state {:?}; create a new instance", self.state()),
            });
        }
        let counts = self.source_partition_counts()?;
        for topic in self
            .topology
            .source_topics()
            .into_iter()
            .chain(self.topology.global_source_topics())
        {
            if !counts.contains_key(&topic) {
                return Err(StreamsError::Topology(format!(
                    "source topic `{topic}` does not exist; create it before starting"
                )));
            }
        }
        let app = self.config.application_id.clone();
        let internal = self.topology.internal_topics(&app, &|t| counts.get(t).copied())?;
        creator.create_topics(&internal)?;
        let mut partitions = counts.clone();
        for t in &internal {
            partitions.insert(t.name.clone(), t.partitions);
        }
        let mut source_topics: Vec<String> = self
            .topology
            .subtopologies()
            .iter()
            .filter(|s| !s.is_global())
            .flat_map(|s| s.source_topics(&app))
            .collect();
        source_topics.sort();
        source_topics.dedup();
        let eos = self.config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2;
        let handler: Arc<dyn DeserializationExceptionHandler> = match self.config.deserialization_handler {
            DeserializationHandlerKind::LogAndFail => Arc::new(LogAndFail),
            DeserializationHandlerKind::LogAndContinue => Arc::new(LogAndContinue),
        };
        let threads = self.config.num_stream_threads;
        self.states.transition(State::Rebalancing);
        let global_stores = if self.topology.has_global_stores() {
            Some(self.start_global_thread(&counts, Arc::clone(&handler))?)
        } else {
            None
        };
        for index in 0..threads {
            let mut consumer_config = client_config(&self.config);
            consumer_config
                .set("group.id", &app)
                .set("enable.auto.commit", "false")
                .set("auto.offset.reset", "earliest")
                .set("partition.assignment.strategy", "range")
                .set("client.id", format!("{app}-StreamThread-{}-consumer", index + 1));
            if eos {
                consumer_config.set("isolation.level", "read_committed");
            }
            set_default(&mut consumer_config, &self.config, FETCH_QUEUE_BACKOFF);
            let mut producer_config = client_config(&self.config);
            producer_config
                .set("partitioner", "murmur2_random")
                .set("acks", "all")
                .set("client.id", format!("{app}-StreamThread-{}-producer", index + 1));
            if eos {
                producer_config.set("transactional.id", format!("{app}-{}-{index}", std::process::id()));
            }
            let mut restore_config = client_config(&self.config);
            restore_config
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", "true")
                .set("group.id", format!("{app}-restore"))
                .set(
                    "client.id",
                    format!("{app}-StreamThread-{}-restore-consumer", index + 1),
                );
            if eos {
                restore_config.set("isolation.level", "read_committed");
            }
            set_default(&mut restore_config, &self.config, FETCH_QUEUE_BACKOFF);
            let mut probe_config = client_config(&self.config);
            probe_config.set("client.id", format!("{app}-StreamThread-{}-lag-probe", index + 1));
            if eos {
                probe_config.set("isolation.level", "read_committed");
            }
            let setup = thread::ThreadSetup {
                index,
                topology: Arc::clone(&self.topology),
                config: Arc::clone(&self.config),
                consumer_config,
                producer_config,
                restore_config,
                probe_config,
                partitions: partitions.clone(),
                source_topics: source_topics.clone(),
                deserialization_handler: Arc::clone(&handler),
                cache_max_bytes: self.config.cache_max_bytes_buffering / threads,
                shutdown: Arc::clone(&self.shutdown),
                states: Arc::clone(&self.states),
                global_stores: global_stores.clone(),
            };
            let states = Arc::clone(&self.states);
            let shutdown = Arc::clone(&self.shutdown);
            let handle = std::thread::Builder::new()
                .name(format!("{app}-StreamThread-{}", index + 1))
                .spawn(move || {
                    if let Err(e) = thread::run(setup) {
                        tracing::error!(error = %e, "stream thread failed");
                        *states.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        states.transition(State::Error);
                        shutdown.store(true, Ordering::Relaxed);
                    }
                })
                .map_err(|e| StreamsError::Internal(format!("could not spawn a stream thread: {e}")))?;
            self.threads.push(handle);
        }
        Ok(())
    }

    /// Restores the global stores (before any stream thread starts, as Kafka Streams does),
    /// then starts the global stream thread that keeps them up to date.
    fn start_global_thread(
        &mut self,
        counts: &HashMap<String, i32>,
        handler: Arc<dyn DeserializationExceptionHandler>,
    ) -> Result<Arc<GlobalStores>, StreamsError> {
        let app = &self.config.application_id;
        let mut consumer_config = client_config(&self.config);
        consumer_config
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("group.id", format!("{app}-global"))
            .set("client.id", format!("{app}-GlobalStreamThread-global-consumer"));
        if self.config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2 {
            consumer_config.set("isolation.level", "read_committed");
        }
        let partitions = counts.iter().map(|(t, n)| (t.clone(), *n)).collect();
        let global =
            global::GlobalThread::bootstrap(&self.topology, &self.config, &consumer_config, &partitions, handler)?;
        let stores = global.stores();
        let commit_interval = Duration::from_millis(self.config.commit_interval_ms);
        let states = Arc::clone(&self.states);
        let shutdown = Arc::clone(&self.shutdown);
        let handle = std::thread::Builder::new()
            .name(format!("{app}-GlobalStreamThread"))
            .spawn(move || {
                if let Err(e) = global.run(commit_interval, &shutdown) {
                    tracing::error!(error = %e, "global stream thread failed");
                    *states.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                    states.transition(State::Error);
                    shutdown.store(true, Ordering::Relaxed);
                }
            })
            .map_err(|e| StreamsError::Internal(format!("could not spawn the global stream thread: {e}")))?;
        self.threads.push(handle);
        Ok(stores)
    }

    /// Stops the threads: each commits and closes its tasks. Returns `false` if they did not
    /// all stop within `timeout`.
    pub fn close(&mut self, timeout: Duration) -> bool {
        if self.state() != State::Error {
            self.states.transition(State::PendingShutdown);
        }
        self.shutdown.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && self.threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let all = self.threads.iter().all(JoinHandle::is_finished);
        if all {
            for t in self.threads.drain(..) {
                let _ = t.join();
            }
            if self.state() != State::Error {
                self.states.transition(State::NotRunning);
            }
        }
        all
    }
}

impl Drop for KafkaStreams {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.close(Duration::from_secs(30));
        }
    }
}
