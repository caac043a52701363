//! The Processor API: write your own operators, with state stores and punctuation.
//!
//! A [`Processor`] receives typed records one at a time and forwards any number of records
//! downstream through its [`ProcessorContext`]. Add it to a stream with
//! [`KStream::process`](crate::dsl::KStream::process).
//!
//! ```
//! use streams_core::processor::{Processor, ProcessorContext, Record};
//! use streams_core::StreamsError;
//!
//! /// Forwards each value with its length.
//! struct WithLength;
//!
//! impl Processor<String, String, String, (String, usize)> for WithLength {
//!     fn process(
//!         &mut self,
//!         record: Record<String, String>,
//!         ctx: &mut ProcessorContext<'_, String, (String, usize)>,
//!     ) -> Result<(), StreamsError> {
//!         let len = record.value.len();
//!         let value = (record.value.clone(), len);
//!         ctx.forward(record.with_value(value))
//!     }
//! }
//! ```

mod context;
mod record;

use std::time::Duration;

pub(crate) use context::WindowStoreHandle;
pub use context::{
    KeyValueStoreHandle, KeyValueStoreView, ProcessorContext, SessionStoreHandle, SessionStoreView,
    TimestampedKeyValueStoreHandle, TimestampedKeyValueStoreView, TimestampedWindowStoreHandle,
    TimestampedWindowStoreView, VersionedKeyValueStoreHandle, VersionedKeyValueStoreView, VersionedValue,
};
pub use record::{Change, Header, Headers, ProducerRecord, RawRecord, Record, RecordMetadata, ValueAndTimestamp};

use crate::StreamsError;

/// When a scheduled punctuation fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PunctuationType {
    /// When stream time (the largest record timestamp seen by the task) advances past the
    /// schedule; the first fires with the first record.
    StreamTime,
    /// When wall-clock time advances past the schedule.
    WallClockTime,
}

/// Identifies a schedule created by [`ProcessorContext::schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// Sequence number of the schedule within its task.
    pub id: u64,
    /// The kind of time it follows.
    pub kind: PunctuationType,
    /// Interval between punctuations.
    pub interval: Duration,
}

/// A processor: consumes records of `(KIn, VIn)`, forwards records of `(KOut, VOut)`.
///
/// One instance exists per task; it is created by the supplier given to the topology and is
/// never shared between threads while running.
pub trait Processor<KIn, VIn, KOut, VOut>: Send {
    /// Called once before the first record: look up stores, create schedules.
    fn init(&mut self, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<(), StreamsError> {
        let _ = ctx;
        Ok(())
    }

    /// Processes one record.
    fn process(
        &mut self,
        record: Record<KIn, VIn>,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError>;

    /// Called for each due punctuation of a schedule this processor created; `timestamp` is
    /// the current stream time or wall-clock time.
    fn punctuate(
        &mut self,
        schedule: Schedule,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<(), StreamsError> {
        let _ = (schedule, timestamp, ctx);
        Ok(())
    }

    /// Called when the task commits (and so before it closes), in topological order, before
    /// its stores flush and its input offsets are committed: a processor that buffers records
    /// in memory forwards them here, so that no record is held past the offsets being
    /// committed (under at-least-once a crash would otherwise lose it).
    fn flush(&mut self, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<(), StreamsError> {
        let _ = ctx;
        Ok(())
    }

    /// Called when the task closes.
    fn close(&mut self) {}
}
