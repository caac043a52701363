//! Where tasks send their output: sink records and changelog entries.

use std::sync::Arc;

use streams_state::{ChangelogRecord, ChangelogSink};

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
///
/// For a timestamped store (values kept as Kafka's `ValueAndTimestamp`), the changelog record
/// carries the plain value with the row's timestamp as the record timestamp, as Kafka Streams'
/// `ChangeLoggingTimestampedKeyValueBytesStore` logs it; [`Task::restore`](super::Task::restore)
/// puts the timestamp back in front of the value.
pub(crate) struct CollectorChangelogSink {
    pub(crate) collector: Arc<dyn RecordCollector>,
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) timestamped: bool,
}

impl ChangelogSink for CollectorChangelogSink {
    fn send(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<(), String> {
        let (value, timestamp) = match value {
            Some(bytes) if self.timestamped => {
                let (ts, raw) = split_timestamp(bytes).ok_or_else(|| {
                    format!(
                        "a value of timestamped store changelog `{}` has {} bytes, fewer than its 8-byte timestamp",
                        self.topic,
                        bytes.len()
                    )
                })?;
                (Some(raw), ts)
            }
            value => (value, timestamp),
        };
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

/// Splits a `ValueAndTimestamp` encoding into its timestamp and the plain value bytes.
fn split_timestamp(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (ts, raw) = bytes.split_first_chunk::<8>()?;
    Some((i64::from_be_bytes(*ts), raw))
}

/// Turns changelog records of a timestamped store back into the store's encoding: the record
/// timestamp, 8 bytes big-endian, in front of each value (Kafka's
/// `RecordConverters.rawValueToTimestampedValue`).
pub(crate) fn timestamped_restore_records(batch: &[ChangelogRecord]) -> Vec<ChangelogRecord> {
    batch
        .iter()
        .map(|record| ChangelogRecord {
            key: record.key.clone(),
            value: record.value.as_ref().map(|raw| {
                let mut bytes = Vec::with_capacity(8 + raw.len());
                bytes.extend_from_slice(&record.timestamp.to_be_bytes());
                bytes.extend_from_slice(raw);
                bytes
            }),
            timestamp: record.timestamp,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Captured(Mutex<Vec<ProducerRecord>>);

    impl RecordCollector for Captured {
        fn send(&self, record: ProducerRecord) -> Result<(), StreamsError> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(record);
            Ok(())
        }
        fn partitions_for(&self, _topic: &str) -> Option<i32> {
            None
        }
        fn flush(&self) -> Result<(), StreamsError> {
            Ok(())
        }
    }

    fn sink(collector: &Arc<Captured>, timestamped: bool) -> CollectorChangelogSink {
        CollectorChangelogSink {
            collector: Arc::clone(collector) as Arc<dyn RecordCollector>,
            topic: Arc::from("app-store-changelog"),
            partition: 3,
            timestamped,
        }
    }

    fn sent(collector: &Captured) -> Vec<(Option<Vec<u8>>, i64, Option<i32>)> {
        collector
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|r| (r.value.clone(), r.timestamp, r.partition))
            .collect()
    }

    #[test]
    fn a_timestamped_store_logs_the_plain_value_at_the_row_timestamp() {
        let collector = Arc::new(Captured::default());
        let mut sink = sink(&collector, true);
        let mut value = 42i64.to_be_bytes().to_vec();
        value.extend_from_slice(b"v");
        assert_eq!(sink.send(b"k", Some(&value), 7), Ok(()));
        assert_eq!(sink.send(b"k", None, 9), Ok(()));
        assert_eq!(
            sent(&collector),
            vec![(Some(b"v".to_vec()), 42, Some(3)), (None, 9, Some(3))]
        );
        assert!(sink.send(b"k", Some(b"short"), 1).is_err());
    }

    #[test]
    fn a_plain_store_logs_values_unchanged_at_the_record_timestamp() {
        let collector = Arc::new(Captured::default());
        let mut sink = sink(&collector, false);
        assert_eq!(sink.send(b"k", Some(b"v"), 7), Ok(()));
        assert_eq!(sent(&collector), vec![(Some(b"v".to_vec()), 7, Some(3))]);
    }

    #[test]
    fn restoring_a_timestamped_store_puts_the_record_timestamp_back() {
        let restored = timestamped_restore_records(&[
            ChangelogRecord {
                key: b"k".to_vec(),
                value: Some(b"v".to_vec()),
                timestamp: 42,
            },
            ChangelogRecord {
                key: b"j".to_vec(),
                value: None,
                timestamp: 43,
            },
        ]);
        let mut expected = 42i64.to_be_bytes().to_vec();
        expected.extend_from_slice(b"v");
        assert_eq!(restored[0].value, Some(expected));
        assert_eq!(restored[1].value, None);
    }
}
