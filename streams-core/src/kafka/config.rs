//! `StreamsConfig`: Kafka Streams' configuration keys, validated at start.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::state::StoreType;
use crate::StreamsError;

/// Delivery guarantee (`processing.guarantee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessingGuarantee {
    /// `at_least_once` (default): flush stores and producer, then commit offsets; a crash may
    /// replay records since the last commit.
    AtLeastOnce,
    /// `exactly_once_v2`: output, changelog writes and input offsets commit in one transaction
    /// per stream thread; consumers read committed data only.
    ExactlyOnceV2,
}

/// What to do with records that fail to deserialize
/// (`default.deserialization.exception.handler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeserializationHandlerKind {
    /// `LogAndFailExceptionHandler` (default): stop with an error naming the record.
    LogAndFail,
    /// `LogAndContinueExceptionHandler`: log, count, skip.
    LogAndContinue,
}

/// The configuration of a [`KafkaStreams`](super::KafkaStreams) instance.
///
/// Keys are Kafka Streams' own; every other key is passed to librdkafka unchanged (for
/// example `security.protocol`, `sasl.*`, `ssl.*`, `client.id`). Values of secret keys never
/// appear in `Debug` output or logs.
///
/// ```
/// use streams_core::kafka::StreamsConfig;
///
/// let config = StreamsConfig::from_pairs([
///     ("application.id", "clicks"),
///     ("bootstrap.servers", "localhost:9092"),
///     ("num.stream.threads", "2"),
///     ("sasl.password", "hunter2"),
/// ])?;
/// assert_eq!(config.num_stream_threads, 2);
/// assert!(!format!("{config:?}").contains("hunter2"));
///
/// let err = StreamsConfig::from_pairs([("application.id", "x"), ("bootstrap.servers", "b:9092"),
///                                       ("commit.interval.ms", "soon")]).unwrap_err();
/// assert!(err.to_string().contains("commit.interval.ms"));
/// # Ok::<(), streams_core::StreamsError>(())
/// ```
#[derive(Clone)]
pub struct StreamsConfig {
    /// `application.id`: consumer group id and prefix of internal topics.
    pub application_id: String,
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `state.dir` (default: `<temp dir>/kafka-streams`).
    pub state_dir: PathBuf,
    /// `num.stream.threads` (default 1).
    pub num_stream_threads: usize,
    /// `commit.interval.ms` (default 30000, or 100 under exactly-once).
    pub commit_interval_ms: u64,
    /// `processing.guarantee` (default `at_least_once`).
    pub processing_guarantee: ProcessingGuarantee,
    /// `cache.max.bytes.buffering` (default 10 MiB), shared by the stream threads.
    pub cache_max_bytes_buffering: usize,
    /// `default.deserialization.exception.handler`.
    pub deserialization_handler: DeserializationHandlerKind,
    /// `default.dsl.store`: the engine of DSL stores that name none (`rocksDB`, the default, or
    /// `in_memory`).
    pub default_dsl_store: StoreType,
    /// `replication.factor` of internal topics (default -1: the broker's default).
    pub replication_factor: i32,
    /// Other properties, passed to librdkafka clients unchanged.
    pub client_properties: BTreeMap<String, String>,
}

/// Whether a property's value must never be printed.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas",
        "ssl.key.pem",
        "sasl.oauthbearer.config",
        "token",
    ]
    .iter()
    .any(|s| key.contains(s))
}

fn invalid(key: &str, reason: impl Into<String>) -> StreamsError {
    StreamsError::Config {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn parse<T: FromStr>(key: &str, value: &str, expected: &str) -> Result<T, StreamsError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, format!("`{value}` is not {expected}")))
}

impl StreamsConfig {
    /// A configuration with the defaults for everything but the two required keys.
    pub fn new(application_id: impl Into<String>, bootstrap_servers: impl Into<String>) -> Self {
        StreamsConfig {
            application_id: application_id.into(),
            bootstrap_servers: bootstrap_servers.into(),
            state_dir: std::env::temp_dir().join("kafka-streams"),
            num_stream_threads: 1,
            commit_interval_ms: 30_000,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            cache_max_bytes_buffering: 10 * 1024 * 1024,
            deserialization_handler: DeserializationHandlerKind::LogAndFail,
            default_dsl_store: StoreType::RocksDb,
            replication_factor: -1,
            client_properties: BTreeMap::new(),
        }
    }

    /// Builds a configuration from `key = value` pairs, validating each Kafka Streams key.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, StreamsError> {
        let pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.as_ref().trim().to_owned(), v.as_ref().to_owned()))
            .collect();
        let get = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let application_id = get("application.id").ok_or_else(|| {
            invalid(
                "application.id",
                "is required: set it to a name unique to this application",
            )
        })?;
        let bootstrap = get("bootstrap.servers")
            .ok_or_else(|| invalid("bootstrap.servers", "is required: host:port of one or more brokers"))?;
        let mut config = StreamsConfig::new(application_id, bootstrap);
        let mut commit_set = false;
        for (key, value) in &pairs {
            match key.as_str() {
                "application.id" | "bootstrap.servers" => {}
                "commit.interval.ms" => commit_set = true,
                _ => {
                    config.set(key, value)?;
                }
            }
        }
        if config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2 {
            config.commit_interval_ms = 100;
        }
        if commit_set {
            config.set("commit.interval.ms", &get("commit.interval.ms").unwrap_or_default())?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Sets one property (Kafka Streams keys are parsed; others are kept for librdkafka).
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, StreamsError> {
        match key {
            "application.id" => self.application_id = value.to_owned(),
            "bootstrap.servers" => self.bootstrap_servers = value.to_owned(),
            "state.dir" => self.state_dir = PathBuf::from(value),
            "num.stream.threads" => {
                self.num_stream_threads = parse(key, value, "a whole number of threads (at least 1)")?
            }
            "commit.interval.ms" => self.commit_interval_ms = parse(key, value, "a number of milliseconds")?,
            "cache.max.bytes.buffering" | "statestore.cache.max.bytes" => {
                self.cache_max_bytes_buffering = parse(key, value, "a number of bytes")?
            }
            "replication.factor" => self.replication_factor = parse(key, value, "a replication factor (-1 or >= 1)")?,
            "processing.guarantee" => {
                self.processing_guarantee = match value.trim() {
                    "at_least_once" => ProcessingGuarantee::AtLeastOnce,
                    "exactly_once_v2" => ProcessingGuarantee::ExactlyOnceV2,
                    other => {
                        return Err(invalid(
                            key,
                            format!("`{other}` is not a guarantee: use at_least_once or exactly_once_v2"),
                        ))
                    }
                }
            }
            "default.deserialization.exception.handler" => {
                self.deserialization_handler = match value.trim().rsplit('.').next().unwrap_or_default() {
                    "LogAndFailExceptionHandler" | "log_and_fail" => DeserializationHandlerKind::LogAndFail,
                    "LogAndContinueExceptionHandler" | "log_and_continue" => DeserializationHandlerKind::LogAndContinue,
                    other => {
                        return Err(invalid(
                            key,
                            format!(
                                "`{other}` is not a handler: use LogAndFailExceptionHandler or \
                                 LogAndContinueExceptionHandler"
                            ),
                        ))
                    }
                }
            }
            "default.dsl.store" => {
                self.default_dsl_store = StoreType::from_config_value(value.trim()).ok_or_else(|| {
                    invalid(
                        key,
                        format!("`{}` is not a store type: use rocksDB or in_memory", value.trim()),
                    )
                })?
            }
            "group.id" | "enable.auto.commit" | "transactional.id" | "isolation.level" => {
                return Err(invalid(
                    key,
                    "is managed by the runtime (group.id is application.id; commits and transactions follow \
                     processing.guarantee): remove it",
                ))
            }
            _ => {
                self.client_properties.insert(key.to_owned(), value.to_owned());
            }
        }
        Ok(self)
    }

    /// Checks the values together.
    pub fn validate(&self) -> Result<(), StreamsError> {
        if self.application_id.trim().is_empty()
            || !self
                .application_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(invalid(
                "application.id",
                format!(
                    "`{}` is not a valid topic prefix: use letters, digits, '.', '_' and '-' only",
                    self.application_id
                ),
            ));
        }
        if self.bootstrap_servers.trim().is_empty() {
            return Err(invalid(
                "bootstrap.servers",
                "is empty: give host:port of one or more brokers",
            ));
        }
        if self.num_stream_threads == 0 {
            return Err(invalid("num.stream.threads", "must be at least 1"));
        }
        if self.commit_interval_ms == 0 {
            return Err(invalid("commit.interval.ms", "must be at least 1"));
        }
        if self.replication_factor == 0 || self.replication_factor < -1 {
            return Err(invalid(
                "replication.factor",
                "must be -1 (broker default) or at least 1",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for StreamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let client: BTreeMap<&str, &str> = self
            .client_properties
            .iter()
            .map(|(k, v)| (k.as_str(), if is_secret(k) { "[hidden]" } else { v.as_str() }))
            .collect();
        f.debug_struct("StreamsConfig")
            .field("application_id", &self.application_id)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("state_dir", &self.state_dir)
            .field("num_stream_threads", &self.num_stream_threads)
            .field("commit_interval_ms", &self.commit_interval_ms)
            .field("processing_guarantee", &self.processing_guarantee)
            .field("cache_max_bytes_buffering", &self.cache_max_bytes_buffering)
            .field("deserialization_handler", &self.deserialization_handler)
            .field("default_dsl_store", &self.default_dsl_store)
            .field("replication_factor", &self.replication_factor)
            .field("client_properties", &client)
            .finish()
    }
}
