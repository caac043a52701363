//! Restoring task stores from their changelog topics.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use streams_state::ChangelogRecord;

use super::state_dir::TaskDirectory;
use crate::internals::Task;
use crate::StreamsError;

const BATCH: usize = 10_000;
const STALL: Duration = Duration::from_secs(30);
/// Past the high watermark, this long without a record ends the restore.
const IDLE_END: Duration = Duration::from_secs(1);

fn kafka_err(topic: &str, e: KafkaError) -> StreamsError {
    StreamsError::Send {
        topic: topic.to_owned(),
        reason: format!("restore failed: {e}"),
    }
}

/// Reads each logged store's changelog partition from the checkpoint (persistent stores) or
/// from the beginning, to its end, into the store. Returns the number of records applied.
pub(crate) fn restore_task(consumer: &BaseConsumer, task: &mut Task, dir: &TaskDirectory) -> Result<u64, StreamsError> {
    let partition = task.id().partition;
    let checkpoint = dir.read_checkpoint();
    let stores: Vec<(String, String)> = task
        .stores()
        .filter_map(|(name, topic)| topic.map(|t| (name.to_owned(), t.to_owned())))
        .collect();
    let mut total = 0;
    for (store, topic) in stores {
        let start = if task.store_is_persistent(&store) {
            checkpoint.get(&(topic.clone(), partition)).copied()
        } else {
            None
        };
        let mut batch = Vec::with_capacity(BATCH.min(1024));
        let what = format!("task {} store {store}", task.id());
        let read = read_to_end(consumer, &topic, partition, start, &what, |message| {
            batch.push(ChangelogRecord {
                key: message.key().unwrap_or_default().to_vec(),
                value: message.payload().map(<[u8]>::to_vec),
                timestamp: message.timestamp().to_millis().unwrap_or(-1),
            });
            if batch.len() >= BATCH {
                task.restore(&store, &batch)?;
                batch.clear();
            }
            Ok(())
        })?;
        if !batch.is_empty() {
            task.restore(&store, &batch)?;
        }
        total += read.records;
    }
    Ok(total)
}

/// What [`read_to_end`] read: how many records, and the offset after the last one.
pub(crate) struct ReadToEnd {
    pub(crate) records: u64,
    pub(crate) position: i64,
}

/// Reads `partition` of `topic` from `start` (else from the beginning) to its end, giving each
/// record to `apply`, logging progress every second as `what`.
pub(crate) fn read_to_end(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    start: Option<i64>,
    what: &str,
    mut apply: impl FnMut(&BorrowedMessage<'_>) -> Result<(), StreamsError>,
) -> Result<ReadToEnd, StreamsError> {
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .map_err(|e| kafka_err(topic, e))?;
    if high == 0 {
        return Ok(ReadToEnd {
            records: 0,
            position: start.unwrap_or(0),
        });
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, start.map_or(Offset::Beginning, Offset::Offset))
        .map_err(|e| kafka_err(topic, e))?;
    consumer.assign(&tpl).map_err(|e| kafka_err(topic, e))?;
    let began = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_record = Instant::now();
    let mut position = start.unwrap_or(low);
    let mut records = 0u64;
    // Read to the end of the partition. The high watermark read above is only a guide: some
    // Kafka-compatible brokers report it too low, so the end is the consumer's end of
    // partition, or, past the watermark, a pause with nothing more to read.
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_record = Instant::now();
                position = message.offset() + 1;
                records += 1;
                apply(&message)?;
                if last_progress.elapsed() > Duration::from_secs(1) {
                    tracing::info!(
                        what,
                        topic,
                        partition,
                        records,
                        position,
                        end_offset = high,
                        "restoring"
                    );
                    last_progress = Instant::now();
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => return Err(kafka_err(topic, e)),
            None if position >= high && last_record.elapsed() > IDLE_END => break,
            None if last_record.elapsed() > STALL => return Err(kafka_err(topic, KafkaError::Canceled)),
            None => {}
        }
    }
    consumer.unassign().map_err(|e| kafka_err(topic, e))?;
    tracing::info!(
        what,
        topic,
        partition,
        records,
        elapsed_ms = began.elapsed().as_millis() as u64,
        "restored"
    );
    Ok(ReadToEnd { records, position })
}
