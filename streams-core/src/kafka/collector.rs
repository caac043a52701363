//! The record collector of a stream thread: an rdkafka producer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message};

use crate::internals::RecordCollector;
use crate::processor::ProducerRecord;
use crate::StreamsError;

/// Tracks delivery results: the first failure, and the last offset written per partition
/// (for changelog checkpoints).
#[derive(Default)]
pub(crate) struct DeliveryTracker {
    pub(crate) failure: Mutex<Option<String>>,
    /// Per topic, per partition; looked up by `&str` so that a delivery allocates nothing.
    offsets: Mutex<HashMap<String, HashMap<i32, i64>>>,
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let mut offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
                let topic = match offsets.get_mut(message.topic()) {
                    Some(topic) => topic,
                    None => offsets.entry(message.topic().to_owned()).or_default(),
                };
                let entry = topic.entry(message.partition()).or_insert(-1);
                *entry = (*entry).max(message.offset());
            }
            Err((error, message)) => {
                let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                if failure.is_none() {
                    *failure = Some(format!("{}-{}: {error}", message.topic(), message.partition()));
                }
            }
        }
    }
}

/// Sends a thread's output through one producer.
pub(crate) struct KafkaCollector {
    pub(crate) producer: ThreadedProducer<DeliveryTracker>,
    /// Partition counts known at start (source, sink and internal topics): read without a
    /// lock, as every sink asks for every record.
    known: Vec<(String, i32)>,
    /// Other topics, asked from the cluster once.
    partitions: Mutex<HashMap<String, Option<i32>>>,
}

impl KafkaCollector {
    pub(crate) fn new(config: &ClientConfig, partitions: HashMap<String, i32>) -> Result<Self, StreamsError> {
        let producer: ThreadedProducer<DeliveryTracker> = config
            .create_with_context(DeliveryTracker::default())
            .map_err(|e| StreamsError::Config {
                key: "bootstrap.servers".into(),
                reason: format!("could not create a producer: {e}"),
            })?;
        Ok(KafkaCollector {
            producer,
            known: partitions.into_iter().collect(),
            partitions: Mutex::new(HashMap::new()),
        })
    }

    /// The last offset written to each partition so far.
    pub(crate) fn written_offsets(&self) -> HashMap<(String, i32), i64> {
        self.producer
            .context()
            .offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .flat_map(|(topic, partitions)| partitions.iter().map(|(p, o)| ((topic.clone(), *p), *o)))
            .collect()
    }

    fn check_failure(&self) -> Result<(), StreamsError> {
        let failure = self
            .producer
            .context()
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match failure {
            Some(reason) => Err(StreamsError::Send {
                topic: reason.split(':').next().unwrap_or_default().to_owned(),
                reason,
            }),
            None => Ok(()),
        }
    }
}

impl RecordCollector for KafkaCollector {
    fn send(&self, record: ProducerRecord) -> Result<(), StreamsError> {
        let mut base: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&record.topic).timestamp(record.timestamp);
        // librdkafka allocates a header list even when it is empty: attach one only when needed.
        if !record.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for h in record.headers.iter() {
                headers = headers.insert(KafkaHeader {
                    key: &h.key,
                    value: h.value.as_deref(),
                });
            }
            base = base.headers(headers);
        }
        if let Some(key) = record.key.as_deref() {
            base = base.key(key);
        }
        if let Some(value) = record.value.as_deref() {
            base = base.payload(value);
        }
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    base = returned;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((error, _)) => {
                    return Err(StreamsError::Send {
                        topic: record.topic.to_string(),
                        reason: error.to_string(),
                    })
                }
            }
        }
    }

    fn partitions_for(&self, topic: &str) -> Option<i32> {
        if let Some((_, n)) = self.known.iter().find(|(t, _)| t == topic) {
            return Some(*n);
        }
        let mut cache = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = cache.get(topic) {
            return *known;
        }
        let found = self
            .producer
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().len() as i32)
            })
            .filter(|n| *n > 0);
        cache.insert(topic.to_owned(), found);
        found
    }

    fn flush(&self) -> Result<(), StreamsError> {
        self.producer
            .flush(Duration::from_secs(60))
            .map_err(|e| StreamsError::Send {
                topic: "*".into(),
                reason: format!("flush failed: {e}"),
            })?;
        self.check_failure()
    }
}
