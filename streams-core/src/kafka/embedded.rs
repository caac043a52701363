//! An embedded Kafka-protocol cluster for integration tests and demos: librdkafka's mock
//! cluster, speaking the real wire protocol on loopback ports, with helpers to produce input
//! and read output.
//!
//! The mock has known limits (no `CreateTopics` API: create topics with
//! [`EmbeddedKafka::create_topic`]; no compaction; transactions are not faithful; group joins
//! take about 3 s). Fault and exactly-once tests need a real broker.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{MockClusterTopicCreator, TopicCreator};
use crate::topology::InternalTopic;
use crate::StreamsError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A record read back from a topic: raw key and value bytes, timestamp, partition, offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Option<Vec<u8>>,
    /// Timestamp in milliseconds.
    pub timestamp: i64,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

fn err(what: &str, e: impl std::fmt::Display) -> StreamsError {
    StreamsError::Send {
        topic: what.to_owned(),
        reason: e.to_string(),
    }
}

/// librdkafka's in-process mock cluster with a producer for test input.
pub struct EmbeddedKafka {
    // Fields drop in order: the producer goes before the cluster it talks to.
    producer: ThreadedProducer<DefaultProducerContext>,
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedKafka {
    /// Starts a mock cluster of `brokers` brokers on loopback ports.
    pub fn start(brokers: i32) -> Result<Self, StreamsError> {
        let cluster = MockCluster::new(brokers).map_err(|e| err("mock cluster", e))?;
        let producer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "1")
            .create()
            .map_err(|e| err("producer", e))?;
        Ok(EmbeddedKafka { producer, cluster })
    }

    /// `host:port,...` of the brokers.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), StreamsError> {
        self.cluster
            .create_topic(topic, partitions, 1)
            .map_err(|e| err(topic, e))
    }

    /// Creates internal topics for [`KafkaStreams::start_with`](super::KafkaStreams::start_with).
    pub fn topic_creator(&self) -> impl TopicCreator + '_ {
        MockClusterTopicCreator(&self.cluster)
    }

    /// Creates the given internal topics.
    pub fn create_internal_topics(&self, topics: &[InternalTopic]) -> Result<(), StreamsError> {
        self.topic_creator().create_topics(topics)
    }

    /// Produces records `(key, value, timestamp)` to `topic`; see [`produce`].
    pub fn produce(
        &self,
        topic: &str,
        records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>, i64)>,
    ) -> Result<(), StreamsError> {
        produce_with(&self.producer, topic, records)
    }

    /// Reads `topic`; see [`consume`].
    pub fn consume(
        &self,
        topic: &str,
        expected: usize,
        timeout: Duration,
    ) -> Result<Vec<ConsumedRecord>, StreamsError> {
        consume(&self.bootstrap_servers(), topic, expected, timeout)
    }
}

/// Produces records `(key, value, timestamp)` to `topic` on the cluster at `bootstrap_servers`
/// (partitioned by murmur2 of the key, as Java's producer would) and waits until they are
/// written.
pub fn produce(
    bootstrap_servers: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>, i64)>,
) -> Result<(), StreamsError> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "1")
        .create()
        .map_err(|e| err("producer", e))?;
    produce_with(&producer, topic, records)
}

fn produce_with(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>, i64)>,
) -> Result<(), StreamsError> {
    for (key, value, timestamp) in records {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).timestamp(timestamp);
        if let Some(k) = key.as_deref() {
            record = record.key(k);
        }
        if let Some(v) = value.as_deref() {
            record = record.payload(v);
        }
        let mut pending = record;
        loop {
            match producer.send(pending) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    r,
                )) => {
                    pending = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(err(topic, e)),
            }
        }
    }
    producer.flush(Duration::from_secs(30)).map_err(|e| err(topic, e))
}

/// Reads `topic` on the cluster at `bootstrap_servers` from the beginning of every partition
/// until `expected` records were read or `timeout` passed; returns them per partition in
/// offset order, partitions in order.
pub fn consume(
    bootstrap_servers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Result<Vec<ConsumedRecord>, StreamsError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("enable.auto.commit", "false")
        .set("group.id", "embedded-kafka-reader")
        .create()
        .map_err(|e| err("consumer", e))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| err(topic, e))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len() as i32);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| err(topic, e))?;
    }
    consumer.assign(&tpl).map_err(|e| err(topic, e))?;
    let deadline = Instant::now() + timeout;
    let mut records: HashMap<i32, Vec<ConsumedRecord>> = HashMap::new();
    let mut count = 0;
    while count < expected && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                count += 1;
                records.entry(m.partition()).or_default().push(ConsumedRecord {
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    timestamp: m.timestamp().to_millis().unwrap_or(-1),
                    partition: m.partition(),
                    offset: m.offset(),
                });
            }
            Some(Err(e)) => return Err(err(topic, e)),
            None => {}
        }
    }
    let mut out = Vec::with_capacity(count);
    for p in 0..partitions {
        out.extend(records.remove(&p).unwrap_or_default());
    }
    Ok(out)
}
