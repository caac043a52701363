//! What happens to a record that cannot be deserialized.

use crate::processor::RawRecord;
use crate::serde::SerdeError;

/// The decision of a [`DeserializationExceptionHandler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeserializationResponse {
    /// Skip the record (it is counted) and go on.
    Continue,
    /// Stop processing with [`StreamsError::Deserialization`](crate::StreamsError).
    Fail,
}

/// Decides what to do with a record whose key or value fails to deserialize
/// (Kafka's `default.deserialization.exception.handler`).
pub trait DeserializationExceptionHandler: Send + Sync {
    /// Called with the source of the record, the record and the error.
    fn handle(&self, topic: &str, partition: i32, record: &RawRecord, error: &SerdeError) -> DeserializationResponse;
}

/// Fails on the first bad record (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogAndFail;

impl DeserializationExceptionHandler for LogAndFail {
    fn handle(&self, topic: &str, partition: i32, record: &RawRecord, error: &SerdeError) -> DeserializationResponse {
        tracing::error!(topic, partition, offset = record.offset, %error, "failed to deserialize a record; stopping");
        DeserializationResponse::Fail
    }
}

/// Logs each bad record at warn level, counts it and skips it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogAndContinue;

impl DeserializationExceptionHandler for LogAndContinue {
    fn handle(&self, topic: &str, partition: i32, record: &RawRecord, error: &SerdeError) -> DeserializationResponse {
        tracing::warn!(topic, partition, offset = record.offset, %error, "skipping a record that failed to deserialize");
        DeserializationResponse::Continue
    }
}
