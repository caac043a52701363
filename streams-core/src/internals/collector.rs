//! Where tasks send their output: sink records and changelog entries.

use std::sync::Arc;

use streams_state::ChangelogSink;

use crate::processor::{Headers, ProducerRecord};
use crate::StreamsError;

/// Receives every record a task produces: sink output, repartition records, changelog entries.
///
/// The Kafka runtime implements it with a producer; the testkit with in-memory topics.
pub trait RecordCollector: Send + Sync {
    /// Sends one record.
    fn send(&self, record: ProducerRecord) -> Result<(), StreamsError>;

    /// The number of partitions of `topic`, when known.
    fn partitions_for(&self, topic: &str) -> Option<i32>;

    /// Blocks until every record sent so far is written.
    fn flush(&self) -> Result<(), StreamsError>;
}

/// A changelog sink that writes to a store's changelog topic through the task's collector,
/// to the task's partition.
pub(crate) struct CollectorChangelogSink {
    pub(crate) collector: Arc<dyn RecordCollector>,
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
}

impl ChangelogSink for CollectorChangelogSink {
    fn send(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<(), String> {
        self.collector
            .send(ProducerRecord {
                topic: Arc::clone(&self.topic),
                partition: Some(self.partition),
                key: Some(key.to_vec()),
                value: value.map(<[u8]>::to_vec),
                timestamp,
                headers: Headers::new(),
            })
            .map_err(|e| e.to_string())
    }
}
