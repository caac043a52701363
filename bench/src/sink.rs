//! Where both sides write their output: a producer-like append-only buffer per topic kind,
//! behind a lock as a thread-safe producer is. The framework's task sends through
//! [`SinkCollector`]'s [`RecordCollector`] implementation, the reference through
//! [`SinkCollector::produce`].
//!
//! Each record is appended as `partition (i32, -1 for none) | key length (u32, u32::MAX for
//! null) | key | value length | value | timestamp (i64)`, all little-endian, as a producer
//! copies records into a batch. Buffers keep their capacity between runs.

use std::sync::{Arc, Mutex, PoisonError};

use streams_core::internals::RecordCollector;
use streams_core::processor::ProducerRecord;
use streams_core::StreamsError;

use crate::data::OUTPUT_TOPIC;

/// Output records and changelog records, appended.
#[derive(Debug, Default, Clone)]
pub struct Sink {
    /// Records for the output topic.
    pub output: Vec<u8>,
    /// Number of records in `output`.
    pub output_records: u64,
    /// Records for any other topic (store changelogs).
    pub changelog: Vec<u8>,
    /// Number of records in `changelog`.
    pub changelog_records: u64,
}

impl Sink {
    /// An empty sink whose output buffer has room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Sink {
        Sink {
            output: Vec::with_capacity(bytes),
            changelog: Vec::with_capacity(bytes),
            ..Sink::default()
        }
    }

    /// Appends an output record.
    pub fn output(&mut self, partition: Option<i32>, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) {
        append(&mut self.output, partition, key, value, timestamp);
        self.output_records += 1;
    }

    /// Appends a changelog record.
    pub fn changelog(&mut self, partition: Option<i32>, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) {
        append(&mut self.changelog, partition, key, value, timestamp);
        self.changelog_records += 1;
    }

    /// Empties the buffers, keeping their capacity.
    pub fn clear(&mut self) {
        self.output.clear();
        self.changelog.clear();
        self.output_records = 0;
        self.changelog_records = 0;
    }

    /// Moves the content out, leaving the sink empty.
    pub fn take(&mut self) -> Sink {
        std::mem::take(self)
    }
}

fn append(buffer: &mut Vec<u8>, partition: Option<i32>, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) {
    buffer.extend_from_slice(&partition.unwrap_or(-1).to_le_bytes());
    for part in [key, value] {
        match part {
            Some(bytes) => {
                buffer.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                buffer.extend_from_slice(bytes);
            }
            None => buffer.extend_from_slice(&u32::MAX.to_le_bytes()),
        }
    }
    buffer.extend_from_slice(&timestamp.to_le_bytes());
}

/// A record read back from a buffer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SinkRecord {
    /// Partition, `None` when the producer was to choose.
    pub partition: Option<i32>,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Option<Vec<u8>>,
    /// Timestamp.
    pub timestamp: i64,
}

/// Reads back the records of a buffer. Panics on a malformed buffer (only this module writes
/// them).
pub fn decode(mut buffer: &[u8]) -> Vec<SinkRecord> {
    fn take<'a>(buffer: &mut &'a [u8], n: usize) -> &'a [u8] {
        let (head, tail) = buffer.split_at(n);
        *buffer = tail;
        head
    }
    fn array<const N: usize>(buffer: &mut &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(take(buffer, N));
        out
    }
    fn bytes(buffer: &mut &[u8]) -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(array(buffer));
        (len != u32::MAX).then(|| take(buffer, len as usize).to_vec())
    }
    let mut records = Vec::new();
    while !buffer.is_empty() {
        let partition = i32::from_le_bytes(array(&mut buffer));
        let key = bytes(&mut buffer);
        let value = bytes(&mut buffer);
        let timestamp = i64::from_le_bytes(array(&mut buffer));
        records.push(SinkRecord {
            partition: (partition >= 0).then_some(partition),
            key,
            value,
            timestamp,
        });
    }
    records
}

/// How two outputs compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// The same records in the same order.
    Identical,
    /// The same records in another order.
    SameRecordsReordered,
    /// Different records.
    Different(String),
}

/// Compares the output records of two sinks (changelog records are not compared: the
/// reference keeps no changelog).
pub fn compare(actual: &Sink, expected: &Sink) -> Comparison {
    if actual.output_records == expected.output_records && actual.output == expected.output {
        return Comparison::Identical;
    }
    let mut a = decode(&actual.output);
    let mut e = decode(&expected.output);
    a.sort();
    e.sort();
    if a == e {
        return Comparison::SameRecordsReordered;
    }
    let first = a.iter().zip(&e).position(|(x, y)| x != y);
    Comparison::Different(format!(
        "{} records vs {} expected; first difference (sorted) at {first:?}: {:?} vs {:?}",
        a.len(),
        e.len(),
        first.and_then(|i| a.get(i)),
        first.and_then(|i| e.get(i)),
    ))
}

/// A [`RecordCollector`] writing into a [`Sink`]: records to [`OUTPUT_TOPIC`] go to the
/// output buffer, every other record (the changelogs) to the changelog buffer.
pub struct SinkCollector {
    partitions: i32,
    sink: Mutex<Sink>,
}

impl SinkCollector {
    /// A collector into `sink`; the output topic has `partitions` partitions.
    pub fn new(partitions: i32, sink: Sink) -> Arc<SinkCollector> {
        Arc::new(SinkCollector {
            partitions,
            sink: Mutex::new(sink),
        })
    }

    /// Takes what was collected out, leaving the buffers empty.
    pub fn take(&self) -> Sink {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Sends an output record from borrowed bytes, as a hand-written application hands them to
    /// a thread-safe producer (the same lock and buffer as [`RecordCollector::send`]).
    pub fn produce(&self, partition: i32, key: &[u8], value: &[u8], timestamp: i64) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        sink.output(Some(partition), Some(key), Some(value), timestamp);
    }

    /// Forgets what was collected, keeping the buffers.
    pub fn clear(&self) {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl RecordCollector for SinkCollector {
    fn send(&self, record: ProducerRecord) -> Result<(), StreamsError> {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let (key, value) = (record.key.as_deref(), record.value.as_deref());
        if &*record.topic == OUTPUT_TOPIC {
            sink.output(record.partition, key, value, record.timestamp);
        } else {
            sink.changelog(record.partition, key, value, record.timestamp);
        }
        Ok(())
    }

    fn partitions_for(&self, topic: &str) -> Option<i32> {
        (topic == OUTPUT_TOPIC).then_some(self.partitions)
    }

    fn flush(&self) -> Result<(), StreamsError> {
        Ok(())
    }
}
