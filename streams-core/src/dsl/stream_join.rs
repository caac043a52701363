//! KStream-KStream windowed joins, built and run as Kafka Streams does (`KStreamImplJoin`,
//! `KStreamJoinWindow`, `KStreamKStreamJoinLeftSide` / `KStreamKStreamJoinRightSide`, in the
//! 3.8+ form with the outer-join store that holds records without a partner until their window
//! closes).
//!
//! The graph of `left.join_stream(right, ...)`:
//!
//! ```text
//! left  -> KSTREAM-WINDOWED-a (puts left records into the this-store)  -> KSTREAM-JOINTHIS-c  --\
//!                                                                         (reads the other-store) >-> KSTREAM-MERGE-e
//! right -> KSTREAM-WINDOWED-b (puts right records into the other-store) -> KSTREAM-JOINOTHER-d --/
//!                                                                         (reads the this-store)
//! ```
//!
//! Left and outer joins name the join processors `KSTREAM-OUTERTHIS-` / `KSTREAM-OUTEROTHER-`
//! (for the sides whose records are kept without a partner) and share a key-value store
//! `KSTREAM-OUTERSHARED-<n>-store` between the two join processors.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use streams_state::KeyValueBytesStoreSupplier;

use super::operators::PassThrough;
use super::windows::JoinWindows;
use super::{lock as lock_builder, missing_serde, processor_factory, KStream, StoreSpec, StreamJoined};
use crate::processor::{Headers, KeyValueStoreHandle, Processor, ProcessorContext, Record, WindowStoreHandle};
use crate::serde::{BytesSerde, SerdeError, SharedSerde};
use crate::state::StoreType;
use crate::topology::{NodeKind, StoreEngine, TopicName};
use crate::StreamsError;

/// The user's joiner, by join kind.
pub(crate) enum StreamJoiner<V, VO, VR> {
    /// `join`: both values.
    Inner(Arc<dyn Fn(&V, &VO) -> VR + Send + Sync>),
    /// `left_join`: the left value and the right one if any.
    Left(Arc<dyn Fn(&V, Option<&VO>) -> VR + Send + Sync>),
    /// `outer_join`: whichever values there are.
    Outer(Arc<dyn Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync>),
}

/// A joiner of two present values.
pub(crate) type BothJoiner<A, B, VR> = Arc<dyn Fn(&A, &B) -> VR + Send + Sync>;
/// A joiner of one value whose partner is missing.
pub(crate) type OneJoiner<A, VR> = Arc<dyn Fn(&A) -> VR + Send + Sync>;

impl<V: 'static, VO: 'static, VR: 'static> StreamJoiner<V, VO, VR> {
    /// Whether left records without a partner are emitted (left and outer joins).
    pub(crate) fn left_outer(&self) -> bool {
        !matches!(self, StreamJoiner::Inner(_))
    }

    /// Whether right records without a partner are emitted (outer joins).
    pub(crate) fn right_outer(&self) -> bool {
        matches!(self, StreamJoiner::Outer(_))
    }

    /// Joins a left value with a right one.
    pub(crate) fn both(&self) -> BothJoiner<V, VO, VR> {
        match self {
            StreamJoiner::Inner(f) => Arc::clone(f),
            StreamJoiner::Left(f) => {
                let f = Arc::clone(f);
                Arc::new(move |l: &V, r: &VO| f(l, Some(r)))
            }
            StreamJoiner::Outer(f) => {
                let f = Arc::clone(f);
                Arc::new(move |l: &V, r: &VO| f(Some(l), Some(r)))
            }
        }
    }

    /// Joins a left value with no right one (left and outer joins).
    pub(crate) fn left_only(&self) -> Option<OneJoiner<V, VR>> {
        match self {
            StreamJoiner::Inner(_) => None,
            StreamJoiner::Left(f) => {
                let f = Arc::clone(f);
                Some(Arc::new(move |l: &V| f(l, None)))
            }
            StreamJoiner::Outer(f) => {
                let f = Arc::clone(f);
                Some(Arc::new(move |l: &V| f(Some(l), None)))
            }
        }
    }

    /// Joins a right value with no left one (outer joins).
    pub(crate) fn right_only(&self) -> Option<OneJoiner<VO, VR>> {
        match self {
            StreamJoiner::Outer(f) => {
                let f = Arc::clone(f);
                Some(Arc::new(move |r: &VO| f(None, Some(r))))
            }
            _ => None,
        }
    }
}

/// The stream time both join processors of a task have seen and the smallest timestamp the
/// outer-join store may hold (Kafka Streams' `KStreamImplJoin.TimeTracker`).
#[derive(Debug)]
pub(crate) struct TimeTracker {
    stream_time: i64,
    /// `i64::MIN` until known (after a restart the store may hold anything: scan it), then the
    /// smallest timestamp put since the last scan, or the timestamp the last scan stopped at;
    /// `i64::MAX` after a scan of an empty store.
    min_time: i64,
}

impl Default for TimeTracker {
    fn default() -> Self {
        TimeTracker {
            stream_time: i64::MIN,
            min_time: i64::MIN,
        }
    }
}

fn lock(tracker: &Mutex<TimeTracker>) -> MutexGuard<'_, TimeTracker> {
    tracker.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn not_initialized(what: &str) -> StreamsError {
    StreamsError::Internal(format!("{what} used before init"))
}

fn serde_error(store: &str, source: SerdeError) -> StreamsError {
    StreamsError::Serialization {
        context: store.to_owned(),
        source,
    }
}

/// `KSTREAM-WINDOWED-`: forwards each record to its side's join processor, then keeps it in
/// its side's window store (Kafka Streams' `KStreamJoinWindow`). Records with a null key are
/// not stored (they can never join), nor are null values (a store that retains duplicates
/// ignores them). A record the store no longer accepts because its window has expired
/// (timestamp at or before the store's observed stream time minus `before + after + grace`)
/// is not stored and is counted in `dropped-records`, as Kafka Streams' window stores count
/// such records.
pub(crate) struct JoinWindowProcessor<K, V> {
    pub(crate) store: String,
    pub(crate) handle: Option<WindowStoreHandle<K, V>>,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for JoinWindowProcessor<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, V>) -> Result<(), StreamsError> {
        self.handle = Some(ctx.plain_window_store::<K, V>(&self.store)?);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<(), StreamsError> {
        let handle = self.handle.as_ref().ok_or_else(|| not_initialized("join window"))?;
        let timestamp = record.timestamp;
        let entry = if handle.is_null_key(&record.key) || handle.is_null_value(&record.value) {
            None
        } else {
            Some((handle.key_bytes(&record.key)?, handle.value_bytes(&record.value)?))
        };
        ctx.forward(record)?;
        let Some((key, value)) = entry else {
            return Ok(());
        };
        ctx.set_record_clock(timestamp);
        let mut store = ctx.plain_windows(handle)?;
        if store.write_expired(timestamp) {
            tracing::debug!(store = %handle.name(), timestamp, "skipping a record for an expired window (later than the join window's grace period)");
            ctx.record_dropped();
            return Ok(());
        }
        store.put_bytes(&key, &value, timestamp)
    }
}

/// One side of the join (Kafka Streams' `KStreamKStreamJoin` processor): joins each record of
/// this side with the other side's records of the same key in its window, and, in left and
/// outer joins, keeps records without a partner in the outer-join store until their window
/// has closed.
///
/// `VL` and `VR` are the left and right value types (`VThis` is one, `VOther` the other):
/// either processor may emit either side's unmatched records from the shared store.
pub(crate) struct StreamJoinProcessor<K, VThis, VOther, VL, VR, VOut> {
    pub(crate) this_is_left: bool,
    /// Key of the shared [`TimeTracker`] in the task: the same for both sides.
    pub(crate) tracker_key: String,
    pub(crate) other_store: String,
    pub(crate) outer_store: Option<String>,
    pub(crate) windows: JoinWindows,
    pub(crate) matched: BothJoiner<VThis, VOther, VOut>,
    /// This side's records without a partner are emitted (this side is outer).
    pub(crate) this_only: Option<OneJoiner<VThis, VOut>>,
    pub(crate) left_only: Option<OneJoiner<VL, VOut>>,
    pub(crate) right_only: Option<OneJoiner<VR, VOut>>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) this_serde: SharedSerde<VThis>,
    pub(crate) left_serde: SharedSerde<VL>,
    pub(crate) right_serde: SharedSerde<VR>,
    pub(crate) other: Option<WindowStoreHandle<K, VOther>>,
    pub(crate) outer: Option<KeyValueStoreHandle<Vec<u8>, Vec<u8>>>,
    pub(crate) tracker: Option<Arc<Mutex<TimeTracker>>>,
}

/// The outer-join store's key (Kafka's `TimestampedKeyAndJoinSide`): `timestamp (8 bytes BE)
/// ++ side (1: left, 0: right) ++ key`, so the store iterates by timestamp.
fn outer_key(timestamp: i64, left: bool, key: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(9 + key.len());
    bytes.extend_from_slice(&timestamp.to_be_bytes());
    bytes.push(u8::from(left));
    bytes.extend_from_slice(key);
    bytes
}

fn parse_outer_key(bytes: &[u8]) -> Option<(i64, bool, &[u8])> {
    let (ts, rest) = bytes.split_at_checked(8)?;
    let (&side, key) = rest.split_first()?;
    Some((i64::from_be_bytes(ts.try_into().ok()?), side == 1, key))
}

/// The outer-join store's values: Kafka's `ListSerde` of byte arrays (`1` for variable-size
/// entries, an `i32` count, then each entry as an `i32` length and its bytes; length -1 is a
/// null entry), each entry a `LeftOrRightValue` (`1` left / `0` right, then the value).
fn encode_list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(5 + items.iter().map(|i| 4 + i.len()).sum::<usize>());
    bytes.push(1);
    bytes.extend_from_slice(&(items.len() as i32).to_be_bytes());
    for item in items {
        bytes.extend_from_slice(&(item.len() as i32).to_be_bytes());
        bytes.extend_from_slice(item);
    }
    bytes
}

fn decode_list(store: &str, bytes: &[u8]) -> Result<Vec<Vec<u8>>, StreamsError> {
    let corrupt = || StreamsError::Internal(format!("outer-join store `{store}` holds a malformed value list"));
    let read_i32 = |at: usize| -> Result<i32, StreamsError> {
        let chunk = bytes.get(at..at + 4).ok_or_else(corrupt)?;
        Ok(i32::from_be_bytes(chunk.try_into().map_err(|_| corrupt())?))
    };
    if bytes.first() != Some(&1) {
        return Err(corrupt());
    }
    let count = read_i32(1)?;
    let mut at = 5;
    let mut items = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1024));
    for _ in 0..count {
        let len = read_i32(at)?;
        at += 4;
        if len < 0 {
            continue;
        }
        let len = len as usize;
        items.push(bytes.get(at..at + len).ok_or_else(corrupt)?.to_vec());
        at += len;
    }
    Ok(items)
}

impl<K, VThis, VOther, VL, VR, VOut> StreamJoinProcessor<K, VThis, VOther, VL, VR, VOut>
where
    K: Clone + 'static,
    VThis: 'static,
    VOther: 'static,
    VL: 'static,
    VR: 'static,
    VOut: Clone + 'static,
{
    fn tracker(&self) -> Result<Arc<Mutex<TimeTracker>>, StreamsError> {
        self.tracker
            .clone()
            .ok_or_else(|| not_initialized("stream-stream join"))
    }

    /// How far before this side's record the other side's records join.
    fn join_before(&self) -> i64 {
        if self.this_is_left {
            self.windows.before_ms()
        } else {
            self.windows.after_ms()
        }
    }

    /// How far after this side's record the other side's records join.
    fn join_after(&self) -> i64 {
        if self.this_is_left {
            self.windows.after_ms()
        } else {
            self.windows.before_ms()
        }
    }

    /// Emits, with `None` for the missing side, the records of the outer-join store whose join
    /// window has closed (Kafka's `emitNonJoinedOuterRecords`): a left record at `t` once
    /// stream time is past `t + after + grace`, a right one once it is past `t + before +
    /// grace`. They are emitted in the store's order (timestamp, side, key), with their own
    /// timestamps, and removed.
    fn emit_non_joined(
        &self,
        ctx: &mut ProcessorContext<'_, K, VOut>,
        record_timestamp: i64,
        headers: &Headers,
    ) -> Result<(), StreamsError> {
        let (Some(outer), Some(store_name)) = (self.outer.as_ref(), self.outer_store.as_deref()) else {
            return Ok(());
        };
        let tracker = self.tracker()?;
        let grace = self.windows.grace_ms();
        let stream_time = {
            let t = lock(&tracker);
            // Only scan when a record might be due (Kafka's check, with this side's `after`).
            if t.min_time.saturating_add(self.join_after()).saturating_add(grace) >= t.stream_time {
                return Ok(());
            }
            t.stream_time
        };
        // Kafka Streams also throttles this scan to one per `emit interval` of wall-clock time
        // (an internal setting, 1 s by default, 0 in its TopologyTestDriver); here every record
        // that may find something due scans, as with an interval of 0.
        let mut min_time = i64::MAX;
        let mut due: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        {
            let store = ctx.raw_kv_store(outer);
            let mut left_open = false;
            let mut right_open = false;
            for entry in store.all()? {
                let (key, value) = entry?;
                let (timestamp, left, _) = parse_outer_key(&key).ok_or_else(|| {
                    StreamsError::Internal(format!("outer-join store `{store_name}` holds a malformed key"))
                })?;
                min_time = timestamp;
                if left_open && right_open {
                    break;
                }
                let look_back = if left {
                    self.windows.after_ms()
                } else {
                    self.windows.before_ms()
                };
                if min_time.saturating_add(look_back).saturating_add(grace) >= stream_time {
                    if left {
                        left_open = true;
                    } else {
                        right_open = true;
                    }
                    continue;
                }
                due.push((key, value));
            }
        }
        lock(&tracker).min_time = min_time;
        for (store_key, list) in due {
            let (timestamp, _, key_bytes) = parse_outer_key(&store_key).ok_or_else(|| {
                StreamsError::Internal(format!("outer-join store `{store_name}` holds a malformed key"))
            })?;
            let key = self
                .key_serde
                .deserialize(key_bytes)
                .map_err(|e| serde_error(store_name, e))?;
            for item in decode_list(store_name, &list)? {
                let value = self.join_alone(store_name, &item)?;
                ctx.forward(Record {
                    key: key.clone(),
                    value,
                    timestamp,
                    headers: headers.clone(),
                })?;
            }
            ctx.set_record_clock(record_timestamp);
            ctx.raw_kv_store(outer).delete(&store_key)?;
        }
        Ok(())
    }

    /// The joiner's result for a `LeftOrRightValue` from the outer-join store.
    fn join_alone(&self, store: &str, item: &[u8]) -> Result<VOut, StreamsError> {
        let (&side, value) = item
            .split_first()
            .ok_or_else(|| StreamsError::Internal(format!("outer-join store `{store}` holds an empty value")))?;
        let missing = || StreamsError::Internal(format!("outer-join store `{store}` holds a record of an inner side"));
        if side == 1 {
            let value = self.left_serde.deserialize(value).map_err(|e| serde_error(store, e))?;
            Ok((self.left_only.as_ref().ok_or_else(missing)?)(&value))
        } else {
            let value = self.right_serde.deserialize(value).map_err(|e| serde_error(store, e))?;
            Ok((self.right_only.as_ref().ok_or_else(missing)?)(&value))
        }
    }
}

impl<K, VThis, VOther, VL, VR, VOut> Processor<K, VThis, K, VOut>
    for StreamJoinProcessor<K, VThis, VOther, VL, VR, VOut>
where
    K: Clone + 'static,
    VThis: 'static,
    VOther: 'static,
    VL: 'static,
    VR: 'static,
    VOut: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VOut>) -> Result<(), StreamsError> {
        self.other = Some(ctx.plain_window_store::<K, VOther>(&self.other_store)?);
        if let Some(store) = &self.outer_store {
            self.outer = Some(ctx.key_value_store::<Vec<u8>, Vec<u8>>(store)?);
        }
        self.tracker = Some(ctx.shared_state(&self.tracker_key, || Mutex::new(TimeTracker::default()))?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, VThis>,
        ctx: &mut ProcessorContext<'_, K, VOut>,
    ) -> Result<(), StreamsError> {
        let tracker = self.tracker()?;
        let timestamp = record.timestamp;
        let stream_time = {
            let mut t = lock(&tracker);
            t.stream_time = t.stream_time.max(timestamp);
            t.stream_time
        };
        let null_key = self.key_serde.is_null(&record.key);
        let null_value = self.this_serde.is_null(&record.value);
        // KIP-962 (Kafka 3.7): a left (outer) join passes a record with a null key straight
        // through, joined with nothing.
        if let Some(this_only) = &self.this_only {
            if null_key && !null_value {
                let value = this_only(&record.value);
                return ctx.forward(record.with_value(value));
            }
        }
        if null_key || null_value {
            tracing::warn!(
                topic = ctx.record_metadata().map(|m| m.topic.to_string()),
                partition = ctx.record_metadata().map(|m| m.partition),
                offset = ctx.record_metadata().map(|m| m.offset),
                "skipping a record of a stream-stream join due to a null key or value"
            );
            ctx.record_dropped();
            return Ok(());
        }
        if timestamp == stream_time {
            self.emit_non_joined(ctx, timestamp, &record.headers)?;
        }
        let other = self
            .other
            .as_ref()
            .ok_or_else(|| not_initialized("stream-stream join"))?;
        let key_bytes = other.key_bytes(&record.key)?;
        let time_from = timestamp.saturating_sub(self.join_before()).max(0);
        let time_to = timestamp.saturating_add(self.join_after()).max(0);
        let partners = ctx.plain_windows(other)?.fetch_range(&key_bytes, time_from, time_to)?;
        let need_outer = self.this_only.is_some() && partners.is_empty();
        for (other_timestamp, other_value) in partners {
            if let Some(outer) = &self.outer {
                // The partner, if it waited in the outer-join store, has found one now.
                ctx.set_record_clock(timestamp);
                let store = ctx.raw_kv_store(outer);
                let waiting = outer_key(other_timestamp, !self.this_is_left, &key_bytes);
                if store.get(&waiting)?.is_some() {
                    store.delete(&waiting)?;
                }
            }
            ctx.forward(Record {
                key: record.key.clone(),
                value: (self.matched)(&record.value, &other_value),
                timestamp: timestamp.max(other_timestamp),
                headers: record.headers.clone(),
            })?;
        }
        if !need_outer {
            return Ok(());
        }
        let stream_time = lock(&tracker).stream_time;
        match (&self.outer, &self.this_only) {
            // Its window has already closed (an out-of-order record): emit it now.
            (outer, Some(this_only)) if outer.is_none() || time_to < stream_time => {
                let value = this_only(&record.value);
                ctx.forward(record.with_value(value))
            }
            (Some(outer), Some(_)) => {
                {
                    let mut t = lock(&tracker);
                    t.min_time = t.min_time.min(timestamp);
                }
                let store_name = self.outer_store.as_deref().unwrap_or_default();
                let mut item = vec![u8::from(self.this_is_left)];
                self.this_serde
                    .serialize_into(&record.value, &mut item)
                    .map_err(|e| serde_error(store_name, e))?;
                let store_key = outer_key(timestamp, self.this_is_left, &key_bytes);
                ctx.set_record_clock(timestamp);
                let store = ctx.raw_kv_store(outer);
                let mut items = match store.get(&store_key)? {
                    Some(list) => decode_list(store_name, &list)?,
                    None => Vec::new(),
                };
                items.push(item);
                store.put(&store_key, &encode_list(&items))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The DSL side: `join_stream`, `left_join_stream`, `outer_join_stream`.
impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Inner join with another stream in a time window: each record of either stream is joined
    /// with every record of the other stream that has the same key and whose timestamp lies in
    /// its join window (`[t - before, t + after]` for a record of this stream, `[t - after, t +
    /// before]` for one of `other`); each pair produces `joiner(this value, other value)` with
    /// the larger of the two timestamps. Records with a null key or value are dropped and
    /// counted (`dropped-records`).
    ///
    /// Both streams must be co-partitioned; a stream whose key changed upstream is
    /// repartitioned first (serdes from the stream or [`StreamJoined`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::dsl::{Consumed, JoinWindows, Produced, StreamsBuilder};
    /// use streams_core::serde::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let views = builder.stream::<String, String>("views", Consumed::with(Serdes::string(), Serdes::string()));
    /// let clicks = builder.stream::<String, String>("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    /// views
    ///     .join_stream(&clicks, |view, click| format!("{view}/{click}"), JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(5))?)
    ///     .to("views-with-clicks", Produced::with(Serdes::string(), Serdes::string()));
    /// let description = builder.build()?.describe().to_string();
    /// assert!(description.contains("Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-JOINOTHER-0000000005-store])"));
    /// assert!(description.contains("<-- KSTREAM-JOINOTHER-0000000005, KSTREAM-JOINTHIS-0000000004"));
    /// # Ok::<(), streams_core::StreamsError>(())
    /// ```
    pub fn join_stream<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR> {
        self.join_stream_impl(
            other,
            StreamJoiner::Inner(Arc::new(joiner)),
            windows,
            StreamJoined::new(),
        )
    }

    /// [`join_stream`](Self::join_stream) with serdes, names and stores.
    pub fn join_stream_with<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        stream_joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        self.join_stream_impl(other, StreamJoiner::Inner(Arc::new(joiner)), windows, stream_joined)
    }

    /// Left join with another stream in a time window: as [`join_stream`](Self::join_stream),
    /// and each record of this stream that found no partner produces `joiner(value, None)`
    /// (with its own timestamp) once its window has closed, that is once stream time has
    /// passed `t + after + grace` — not when it arrives, as in Kafka Streams 3.8+. A record of
    /// this stream with a null key is passed through at once as `joiner(value, None)`
    /// (KIP-962); null values are dropped and counted.
    pub fn left_join_stream<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR> {
        self.join_stream_impl(
            other,
            StreamJoiner::Left(Arc::new(joiner)),
            windows,
            StreamJoined::new(),
        )
    }

    /// [`left_join_stream`](Self::left_join_stream) with serdes, names and stores.
    pub fn left_join_stream_with<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        stream_joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        self.join_stream_impl(other, StreamJoiner::Left(Arc::new(joiner)), windows, stream_joined)
    }

    /// Outer join with another stream in a time window: as
    /// [`left_join_stream`](Self::left_join_stream), for the records of both streams: a record
    /// of `other` without a partner produces `joiner(None, value)` once stream time has passed
    /// `t + before + grace`.
    pub fn outer_join_stream<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR> {
        self.join_stream_impl(
            other,
            StreamJoiner::Outer(Arc::new(joiner)),
            windows,
            StreamJoined::new(),
        )
    }

    /// [`outer_join_stream`](Self::outer_join_stream) with serdes, names and stores.
    pub fn outer_join_stream_with<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        stream_joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        self.join_stream_impl(other, StreamJoiner::Outer(Arc::new(joiner)), windows, stream_joined)
    }

    fn join_stream_impl<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KStream<K, VO>,
        joiner: StreamJoiner<V, VO, VR>,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR> {
        let left_outer = joiner.left_outer();
        let right_outer = joiner.right_outer();
        let name = joined.name.clone();
        // Kafka's `doJoin`: each side marked for repartitioning goes through a topic named
        // `<name>-left` / `<name>-right`, or after its last node.
        let this = if self.repartition_required {
            let prefix = match &name {
                Some(name) => format!("{name}-left"),
                None => lock_builder(&self.builder).nodes[self.node].name.clone(),
            };
            self.through_repartition_topic(
                &prefix,
                joined.key_serde.clone().or_else(|| self.key_serde.clone()),
                joined.value_serde.clone().or_else(|| self.value_serde.clone()),
                None,
                None,
                "a stream-stream join",
            )
        } else {
            self.clone()
        };
        let other = if other.repartition_required {
            let prefix = match &name {
                Some(name) => format!("{name}-right"),
                None => lock_builder(&other.builder).nodes[other.node].name.clone(),
            };
            other.through_repartition_topic(
                &prefix,
                joined.key_serde.clone().or_else(|| other.key_serde.clone()),
                joined.other_value_serde.clone().or_else(|| other.value_serde.clone()),
                None,
                None,
                "a stream-stream join",
            )
        } else {
            other.clone()
        };

        let mut b = lock_builder(&self.builder);
        // Names, consumed in Kafka's order (`KStreamImplJoin.join`).
        let this_windowed = b.name_or(name.as_ref().map(|n| format!("{n}-this-windowed")), "KSTREAM-WINDOWED-");
        let other_windowed = b.name_or(
            name.as_ref().map(|n| format!("{n}-other-windowed")),
            "KSTREAM-WINDOWED-",
        );
        let this_prefix = if right_outer {
            "KSTREAM-OUTERTHIS-"
        } else {
            "KSTREAM-JOINTHIS-"
        };
        let join_this_generated = b.new_processor_name(this_prefix);
        let join_other_generated = b.new_processor_name(if left_outer {
            "KSTREAM-OUTEROTHER-"
        } else {
            "KSTREAM-JOINOTHER-"
        });
        let this_suffix = if right_outer { "-outer-this-join" } else { "-this-join" };
        let other_suffix = if left_outer { "-outer-other-join" } else { "-other-join" };
        let join_this = name
            .as_ref()
            .map_or_else(|| join_this_generated.clone(), |n| format!("{n}{this_suffix}"));
        let join_other = name
            .as_ref()
            .map_or_else(|| join_other_generated.clone(), |n| format!("{n}{other_suffix}"));
        let merge = b.name_or(name.as_ref().map(|n| format!("{n}-merge")), "KSTREAM-MERGE-");

        let store_name = |supplier: &Option<Arc<dyn KeyValueBytesStoreSupplier>>, suffix: &str, generated: &str| match (
            supplier,
            &joined.store_name,
        ) {
            (Some(supplier), _) => supplier.name().to_owned(),
            (None, Some(base)) => format!("{base}{suffix}-store"),
            (None, None) => format!("{generated}-store"),
        };
        let this_store = store_name(&joined.this_supplier, this_suffix, &join_this_generated);
        let other_store = store_name(&joined.other_supplier, other_suffix, &join_other_generated);
        let outer_store = left_outer.then(|| {
            let suffix = if right_outer {
                "-outer-shared-join"
            } else {
                "-left-shared-join"
            };
            match (&joined.this_supplier, &joined.store_name) {
                (Some(supplier), _) if !supplier.name().is_empty() => format!("{}{suffix}-store", supplier.name()),
                (_, Some(base)) => format!("{base}{suffix}-store"),
                _ => format!(
                    "KSTREAM-OUTERSHARED-{}-store",
                    join_this_generated
                        .strip_prefix(this_prefix)
                        .unwrap_or(&join_this_generated)
                ),
            }
        });

        // Serdes for the stores.
        let key_serde = joined
            .key_serde
            .clone()
            .or_else(|| this.key_serde.clone())
            .unwrap_or_else(|| {
                b.error(format!(
                    "stream-stream join `{join_this}` needs a key serde for its window stores: use StreamJoined::with"
                ));
                missing_serde("key serde".into())
            });
        let value_serde = joined
            .value_serde
            .clone()
            .or_else(|| this.value_serde.clone())
            .unwrap_or_else(|| {
                b.error(format!(
                    "stream-stream join `{join_this}` needs a serde for this stream's values (store `{this_store}`): \
                 use StreamJoined::with"
                ));
                missing_serde("value serde".into())
            });
        let other_value_serde = joined
            .other_value_serde
            .clone()
            .or_else(|| other.value_serde.clone())
            .unwrap_or_else(|| {
                b.error(format!(
                    "stream-stream join `{join_this}` needs a serde for the other stream's values (store \
                     `{other_store}`): use StreamJoined::with"
                ));
                missing_serde("other value serde".into())
            });

        // Stores: two window stores retaining duplicates, kept `before + after + grace`, and
        // for left and outer joins the shared key-value store of records still without a partner.
        let size = windows.size_ms();
        let retention = size.saturating_add(windows.grace_ms());
        if let (Some(a), Some(c)) = (&joined.this_supplier, &joined.other_supplier) {
            if a.name() == c.name() {
                b.error(format!(
                    "stream-stream join `{join_this}`: both store suppliers are named `{}`; they must have unique names",
                    a.name()
                ));
            }
        }
        let window_engine = |b: &mut super::BuilderInner,
                             store: &str,
                             supplier: &Option<Arc<dyn KeyValueBytesStoreSupplier>>| {
            match supplier {
                Some(supplier) => {
                    let ok = supplier.as_segmented().is_some_and(|s| {
                        s.schema() == streams_state::window::KeySchema::Window
                            && s.retains_duplicates()
                            && s.retention() == retention
                            && s.window_size() == size
                    });
                    if !ok {
                        b.error(format!(
                            "stream-stream join `{join_this}`: store supplier `{store}` must be a window store supplier \
                             that retains duplicates, with retention {retention} ms (before + after + grace) and window \
                             size {size} ms (before + after), as the join windows say; got {supplier_desc}",
                            supplier_desc = supplier
                                .as_segmented()
                                .map_or_else(|| supplier.metrics_scope().to_owned(), |s| format!("{s:?}"))
                        ));
                    }
                    StoreEngine::Supplier(Arc::clone(supplier))
                }
                None => match joined.store_type {
                    Some(store_type) => match store_type.window_supplier(store, retention, size, true) {
                        Ok(supplier) => StoreEngine::Supplier(supplier),
                        Err(e) => {
                            b.error(format!("stream-stream join `{join_this}`: window store `{store}`: {e}"));
                            StoreEngine::Type(store_type)
                        }
                    },
                    None => {
                        let name = store.to_owned();
                        StoreEngine::Made {
                            make: Arc::new(move |store_type: StoreType| {
                                store_type.window_supplier(name.clone(), retention, size, true)
                            }),
                            store_type: None,
                        }
                    }
                },
            }
        };
        let this_engine = window_engine(&mut b, &this_store, &joined.this_supplier);
        let other_engine = window_engine(&mut b, &other_store, &joined.other_supplier);
        b.add_store(StoreSpec {
            name: this_store.clone(),
            engine: this_engine,
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            timestamped: false,
            logging: joined.logging,
            caching: false,
            forwarder: None,
        });
        b.add_store(StoreSpec {
            name: other_store.clone(),
            engine: other_engine,
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&other_value_serde),
            timestamped: false,
            logging: joined.logging,
            caching: false,
            forwarder: None,
        });
        if let Some(outer_store) = &outer_store {
            // As Kafka Streams: the engine named for the join, else that of the given this-side
            // supplier, else the default.
            let engine = match (
                joined.store_type,
                joined.this_supplier.as_ref().and_then(|s| s.as_segmented()),
            ) {
                (Some(store_type), _) => StoreEngine::Type(store_type),
                (None, Some(supplier)) if supplier.is_persistent() => StoreEngine::Type(StoreType::RocksDb),
                (None, Some(_)) => StoreEngine::Type(StoreType::InMemory),
                (None, None) => StoreEngine::Default,
            };
            let bytes: SharedSerde<Vec<u8>> = Arc::new(BytesSerde);
            b.add_store(StoreSpec {
                name: outer_store.clone(),
                engine,
                key_serde: Arc::clone(&bytes),
                value_serde: bytes,
                timestamped: false,
                logging: joined.logging,
                caching: false,
                forwarder: None,
            });
        }

        // Nodes.
        let this_window_store = this_store.clone();
        let this_windowed_node = b.add_node(
            this_windowed,
            NodeKind::Processor,
            &[this.node],
            vec![this_store.clone()],
            processor_factory(move || {
                Box::new(JoinWindowProcessor::<K, V> {
                    store: this_window_store.clone(),
                    handle: None,
                }) as Box<dyn Processor<K, V, K, V>>
            }),
        );
        let other_window_store = other_store.clone();
        let other_windowed_node = b.add_node(
            other_windowed,
            NodeKind::Processor,
            &[other.node],
            vec![other_store.clone()],
            processor_factory(move || {
                Box::new(JoinWindowProcessor::<K, VO> {
                    store: other_window_store.clone(),
                    handle: None,
                }) as Box<dyn Processor<K, VO, K, VO>>
            }),
        );
        let with_outer = |mut stores: Vec<String>| {
            stores.extend(outer_store.iter().cloned());
            stores
        };
        let both = joiner.both();
        let left_only = joiner.left_only();
        let right_only = joiner.right_only();
        let tracker_key = format!("stream-stream join {join_this}");
        let this_factory = {
            let tracker_key = tracker_key.clone();
            let other_store = other_store.clone();
            let outer_store = outer_store.clone();
            let matched = Arc::clone(&both);
            let left_only = left_only.clone();
            let right_only = right_only.clone();
            let key_serde = Arc::clone(&key_serde);
            let left_serde = Arc::clone(&value_serde);
            let right_serde = Arc::clone(&other_value_serde);
            processor_factory(move || {
                Box::new(StreamJoinProcessor::<K, V, VO, V, VO, VR> {
                    this_is_left: true,
                    tracker_key: tracker_key.clone(),
                    other_store: other_store.clone(),
                    outer_store: outer_store.clone(),
                    windows,
                    matched: Arc::clone(&matched),
                    this_only: left_only.clone(),
                    left_only: left_only.clone(),
                    right_only: right_only.clone(),
                    key_serde: Arc::clone(&key_serde),
                    this_serde: Arc::clone(&left_serde),
                    left_serde: Arc::clone(&left_serde),
                    right_serde: Arc::clone(&right_serde),
                    other: None,
                    outer: None,
                    tracker: None,
                }) as Box<dyn Processor<K, V, K, VR>>
            })
        };
        let other_factory = {
            let this_store = this_store.clone();
            let outer_store = outer_store.clone();
            let matched: BothJoiner<VO, V, VR> = Arc::new(move |r: &VO, l: &V| both(l, r));
            let key_serde = Arc::clone(&key_serde);
            let left_serde = Arc::clone(&value_serde);
            let right_serde = Arc::clone(&other_value_serde);
            processor_factory(move || {
                Box::new(StreamJoinProcessor::<K, VO, V, V, VO, VR> {
                    this_is_left: false,
                    tracker_key: tracker_key.clone(),
                    other_store: this_store.clone(),
                    outer_store: outer_store.clone(),
                    windows,
                    matched: Arc::clone(&matched),
                    this_only: right_only.clone(),
                    left_only: left_only.clone(),
                    right_only: right_only.clone(),
                    key_serde: Arc::clone(&key_serde),
                    this_serde: Arc::clone(&right_serde),
                    left_serde: Arc::clone(&left_serde),
                    right_serde: Arc::clone(&right_serde),
                    other: None,
                    outer: None,
                    tracker: None,
                }) as Box<dyn Processor<K, VO, K, VR>>
            })
        };
        let join_this_node = b.add_node(
            join_this,
            NodeKind::Processor,
            &[this_windowed_node],
            with_outer(vec![other_store]),
            this_factory,
        );
        let join_other_node = b.add_node(
            join_other,
            NodeKind::Processor,
            &[other_windowed_node],
            with_outer(vec![this_store]),
            other_factory,
        );
        let merge_node = b.add_node(
            merge,
            NodeKind::Processor,
            &[join_this_node, join_other_node],
            Vec::new(),
            processor_factory(|| Box::new(PassThrough) as Box<dyn Processor<K, VR, K, VR>>),
        );
        let mut group: BTreeSet<TopicName> = this.source_topics.clone();
        group.extend(other.source_topics.iter().cloned());
        b.copartition_groups.push(group.clone());
        drop(b);
        KStream::new(
            Arc::clone(&self.builder),
            merge_node,
            Some(key_serde),
            None,
            false,
            group,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_store_layouts_are_kafkas() {
        let key = outer_key(0x0102, true, b"k");
        assert_eq!(key, vec![0, 0, 0, 0, 0, 0, 1, 2, 1, b'k']);
        assert_eq!(parse_outer_key(&key), Some((0x0102, true, &b"k"[..])));
        assert_eq!(parse_outer_key(&[0; 8]), None);
        let list = encode_list(&[vec![1, b'A'], vec![0]]);
        assert_eq!(list, vec![1, 0, 0, 0, 2, 0, 0, 0, 2, 1, b'A', 0, 0, 0, 1, 0]);
        assert_eq!(decode_list("s", &list).ok(), Some(vec![vec![1, b'A'], vec![0]]));
        assert!(decode_list("s", &[1, 0, 0, 0, 1, 0, 0, 0, 5, 1]).is_err());
    }
}
