//! The processors behind windowed aggregations (Kafka Streams' `KStreamWindowAggregate`,
//! `KStreamSlidingWindowAggregate` and `KStreamSessionWindowAggregate`).
//!
//! Each keeps its own observed stream time (the largest timestamp it has processed), as Kafka
//! Streams' processors do; a window is closed once `observed stream time - grace` has reached
//! its end. A record for a closed window is dropped, logged at debug and counted in the task's
//! `dropped-records` metric (once per closed window it would have updated).
//!
//! When their store has a write cache, the processors only write it: the cache forwards the
//! coalesced updates when it writes them down (at commit, or on eviction), through
//! [`WindowChangeForwarder`] / [`SessionChangeForwarder`] (Kafka Streams'
//! `TimestampedCacheFlushListener` and `SessionCacheFlushListener`). Without a cache each update
//! is forwarded as it is made.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use streams_state::window::{parse_session_store_key, parse_window_store_key};
use streams_state::FlushedEntry;

use super::operators::Aggregation;
use super::windows::{SessionWindows, SlidingWindows, TimeWindows, Window, Windowed};
use crate::internals::node::{forward_all, Env, FlushForwarder, NodeId};
use crate::processor::{
    Change, Processor, ProcessorContext, Record, SessionStoreHandle, TimestampedWindowStoreHandle, ValueAndTimestamp,
};
use crate::serde::SharedSerde;
use crate::state::decode_value_and_timestamp;
use crate::StreamsError;

type Ctx<'a, K, VA> = ProcessorContext<'a, Windowed<K>, Change<VA>>;

fn not_initialized(what: &str) -> StreamsError {
    StreamsError::Internal(format!("{what} used before init"))
}

fn skip_expired<K, VA>(ctx: &mut Ctx<'_, K, VA>, store: &str, window: Window, close_time: i64, observed: i64) {
    tracing::debug!(
        store,
        window_start = window.start,
        window_end = window.end,
        expiration = close_time,
        stream_time = observed,
        "skipping a record for an expired window"
    );
    ctx.record_dropped();
}

/// What a windowed aggregation does first with a record: drops (and counts) it when its key
/// is null; otherwise advances the observed stream time to the record's timestamp and returns
/// the close time (stream time minus the grace period): windows ending at or before it are
/// closed.
fn admit<K, VA>(
    ctx: &mut Ctx<'_, K, VA>,
    store: &str,
    null_key: bool,
    observed_stream_time: &mut i64,
    timestamp: i64,
    grace: i64,
) -> Option<i64> {
    if null_key {
        tracing::warn!(store, "skipping a record with a null key");
        ctx.record_dropped();
        return None;
    }
    *observed_stream_time = (*observed_stream_time).max(timestamp);
    Some(observed_stream_time.saturating_sub(grace))
}

/// Tumbling and hopping windows.
pub(crate) struct TimeWindowAggregateProcessor<K, V, VA> {
    pub(crate) store: String,
    pub(crate) windows: TimeWindows,
    pub(crate) aggregation: Aggregation<K, V, VA>,
    pub(crate) send_old_values: Arc<AtomicBool>,
    pub(crate) handle: Option<TimestampedWindowStoreHandle<K, VA>>,
    /// Whether the store has a write cache, which then forwards the coalesced updates.
    pub(crate) cached: bool,
    pub(crate) observed_stream_time: i64,
    /// Buffers reused from record to record: the serialized key, a window's store key, an
    /// encoded aggregate.
    pub(crate) buffers: [Vec<u8>; 3],
}

impl<K, V, VA> Processor<K, V, Windowed<K>, Change<VA>> for TimeWindowAggregateProcessor<K, V, VA>
where
    K: Clone + 'static,
    V: Clone + 'static,
    VA: Clone + 'static,
{
    fn init(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<(), StreamsError> {
        let handle = ctx.timestamped_window_store::<K, VA>(&self.store)?;
        self.cached = ctx.window_store_cached(&handle);
        self.handle = Some(handle);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut Ctx<'_, K, VA>) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| not_initialized("window aggregate"))?;
        let timestamp = record.timestamp;
        let Some(close_time) = admit(
            ctx,
            &self.store,
            handle.is_null_key(&record.key),
            &mut self.observed_stream_time,
            timestamp,
            self.windows.grace_ms(),
        ) else {
            return Ok(());
        };
        let [key_bytes, store_key, value_bytes] = &mut self.buffers;
        handle.key_bytes_into(&record.key, key_bytes)?;
        let send_old = self.send_old_values.load(Ordering::Relaxed);
        let windows = self.windows.windows_for(timestamp);
        let last = windows.len().saturating_sub(1);
        // The record's value is cloned for every window but the last, which takes it.
        let mut value = Some(record.value);
        for (index, window) in windows.into_iter().enumerate() {
            if window.end <= close_time {
                skip_expired(ctx, &self.store, window, close_time, self.observed_stream_time);
                continue;
            }
            let value = if index == last { value.take() } else { value.clone() }
                .ok_or_else(|| StreamsError::Internal("window aggregate: record value used up".into()))?;
            let mut store = ctx.window_store(handle)?;
            // An aggregation's store keeps one value per window (no duplicates): its store key
            // is built once for the read and the write.
            let by_store_key = !store.retains_duplicates();
            let old = if by_store_key {
                streams_state::window::window_store_key_into(store_key, key_bytes, window.start, 0);
                store.fetch_at_store_key(store_key, value_bytes)?
            } else {
                store.fetch(key_bytes, window.start)?
            };
            let (old_value, new_timestamp) = match old {
                Some(old) => (Some(old.value), timestamp.max(old.timestamp)),
                None => (self.aggregation.initial(), timestamp),
            };
            let new_value = self.aggregation.apply(&record.key, value, old_value.clone())?;
            if by_store_key {
                store.put_at_store_key(store_key, &new_value, new_timestamp, value_bytes)?;
            } else {
                store.put(key_bytes, &new_value, new_timestamp, window.start)?;
            }
            if self.cached {
                continue;
            }
            ctx.forward(Record {
                key: Windowed::new(record.key.clone(), window),
                value: Change::new(Some(new_value), if send_old { old_value } else { None }),
                timestamp: new_timestamp,
                headers: record.headers.clone(),
            })?;
        }
        Ok(())
    }
}

/// A window's aggregate as the sliding-window algorithm handles it: `None` is the empty
/// aggregate of a reduce.
type Slot<VA> = (Option<VA>, i64);

/// Sliding windows, following Kafka Streams' algorithm record for record: each record has a
/// left window `[t - d, t]` and, when later records fall within `d` of it, a right window
/// `[t + 1, t + 1 + d]`; records earlier than `d` go to the window `[0, d]`.
pub(crate) struct SlidingWindowAggregateProcessor<K, V, VA> {
    pub(crate) store: String,
    pub(crate) windows: SlidingWindows,
    pub(crate) aggregation: Aggregation<K, V, VA>,
    pub(crate) send_old_values: Arc<AtomicBool>,
    pub(crate) handle: Option<TimestampedWindowStoreHandle<K, VA>>,
    /// Whether the store has a write cache, which then forwards the coalesced updates.
    pub(crate) cached: bool,
    pub(crate) observed_stream_time: i64,
}

/// What the processing of one record works on.
struct SlidingRecord<'r, K, V> {
    key: &'r K,
    key_bytes: &'r [u8],
    value: &'r V,
    timestamp: i64,
    close_time: i64,
    headers: &'r crate::processor::Headers,
}

impl<K, V, VA> SlidingWindowAggregateProcessor<K, V, VA>
where
    K: Clone + 'static,
    V: Clone + 'static,
    VA: Clone + 'static,
{
    fn diff(&self) -> i64 {
        self.windows.time_difference_ms()
    }

    /// Adds the record to the window starting at `start` whose aggregate is `slot`, unless
    /// the window has closed.
    fn update_and_forward(
        &self,
        ctx: &mut Ctx<'_, K, VA>,
        r: &SlidingRecord<'_, K, V>,
        start: i64,
        slot: Slot<VA>,
    ) -> Result<(), StreamsError> {
        let window = Window::new(start, start.saturating_add(self.diff()));
        if window.end < r.close_time {
            skip_expired(ctx, &self.store, window, r.close_time, self.observed_stream_time);
            return Ok(());
        }
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| not_initialized("sliding window aggregate"))?;
        let (old_value, old_timestamp) = slot;
        let new_timestamp = r.timestamp.max(old_timestamp);
        let new_value = self.aggregation.apply(r.key, r.value.clone(), old_value.clone())?;
        ctx.window_store(handle)?
            .put(r.key_bytes, &new_value, new_timestamp, start)?;
        if self.cached {
            return Ok(());
        }
        let send_old = self.send_old_values.load(Ordering::Relaxed);
        ctx.forward(Record {
            key: Windowed::new(r.key.clone(), window),
            value: Change::new(Some(new_value), if send_old { old_value } else { None }),
            timestamp: new_timestamp,
            headers: r.headers.clone(),
        })
    }

    /// Creates the record's right window holding what a later window already aggregated
    /// (the record itself is not in its own right window).
    fn create_right_window(
        &self,
        ctx: &mut Ctx<'_, K, VA>,
        r: &SlidingRecord<'_, K, V>,
        right: ValueAndTimestamp<VA>,
    ) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| not_initialized("sliding window aggregate"))?;
        let start = r.timestamp.saturating_add(1);
        let window = Window::new(start, start.saturating_add(self.diff()));
        ctx.window_store(handle)?
            .put(r.key_bytes, &right.value, right.timestamp, start)?;
        if self.cached {
            return Ok(());
        }
        ctx.forward(Record {
            key: Windowed::new(r.key.clone(), window),
            value: Change::new(Some(right.value), None),
            timestamp: right.timestamp,
            headers: r.headers.clone(),
        })
    }

    fn new_slot(&self, timestamp: i64) -> Slot<VA> {
        (self.aggregation.initial(), timestamp)
    }

    /// The usual case, `timestamp >= time difference`: walks the windows that can hold the
    /// record from the newest back.
    fn process_windows(&self, ctx: &mut Ctx<'_, K, VA>, r: &SlidingRecord<'_, K, V>) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| not_initialized("sliding window aggregate"))?;
        let diff = self.diff();
        let ts = r.timestamp;
        let existing = ctx.window_store(handle)?.backward_fetch_range(
            r.key_bytes,
            ts.saturating_sub(diff.saturating_mul(2)).max(0),
            ts.saturating_add(1),
        )?;
        let mut starts = HashSet::new();
        let mut left_agg: Option<ValueAndTimestamp<VA>> = None;
        let mut right_agg: Option<ValueAndTimestamp<VA>> = None;
        let mut left_created = false;
        let mut right_created = false;
        let mut previous_timestamp: Option<i64> = None;
        for (start, vat) in existing {
            starts.insert(start);
            let end = start.saturating_add(diff);
            let max_timestamp = vat.timestamp;
            if start == ts.saturating_add(1) {
                right_created = true;
            } else if end > ts {
                if right_agg.is_none() {
                    right_agg = Some(vat.clone());
                }
                self.update_and_forward(ctx, r, start, (Some(vat.value), vat.timestamp))?;
            } else if end == ts {
                left_created = true;
                self.update_and_forward(ctx, r, start, (Some(vat.value), vat.timestamp))?;
                if max_timestamp < ts {
                    previous_timestamp = Some(max_timestamp);
                } else {
                    return Ok(());
                }
            } else {
                left_agg = Some(vat);
                previous_timestamp = Some(max_timestamp);
                break;
            }
        }
        // The previous record's right window, if the record falls in it and it is missing.
        if let Some(previous) = previous_timestamp {
            let previous_right_start = previous.saturating_add(1);
            if !starts.contains(&previous_right_start) && previous_right_start.saturating_add(diff) >= ts {
                self.update_and_forward(ctx, r, previous_right_start, self.new_slot(ts))?;
            }
        }
        // The record's left window.
        if !left_created {
            let slot = match (previous_timestamp, left_agg) {
                (Some(previous), Some(left)) if ts.saturating_sub(diff) <= previous => (Some(left.value), ts),
                _ => self.new_slot(ts),
            };
            self.update_and_forward(ctx, r, ts.saturating_sub(diff), slot)?;
        }
        // The record's right window, when later records exist within the time difference.
        if !right_created {
            if let Some(right) = right_agg.filter(|right| right.timestamp > ts) {
                self.create_right_window(ctx, r, right)?;
            }
        }
        Ok(())
    }

    /// Records with `0 <= timestamp < time difference`, whose left window would start before
    /// 0: they go to the window `[0, time difference]`.
    fn process_early(&self, ctx: &mut Ctx<'_, K, VA>, r: &SlidingRecord<'_, K, V>) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| not_initialized("sliding window aggregate"))?;
        let ts = r.timestamp;
        let existing = ctx
            .window_store(handle)?
            .fetch_range(r.key_bytes, 0, ts.saturating_add(1))?;
        let mut combined: Option<ValueAndTimestamp<VA>> = None;
        let mut right_agg: Option<ValueAndTimestamp<VA>> = None;
        let mut right_created = false;
        let mut starts = HashSet::new();
        let mut previous_timestamp: Option<i64> = None;
        for (start, vat) in existing {
            starts.insert(start);
            if start == 0 {
                if vat.timestamp < ts {
                    previous_timestamp = Some(vat.timestamp);
                }
                combined = Some(vat);
            } else if start <= ts {
                right_agg = Some(vat.clone());
                self.update_and_forward(ctx, r, start, (Some(vat.value), vat.timestamp))?;
            } else if start == ts.saturating_add(1) {
                right_created = true;
            } else {
                return Err(StreamsError::Internal(format!(
                    "sliding window aggregate `{}`: unexpected window starting at {start} for a record at {ts}",
                    self.store
                )));
            }
        }
        if right_agg.is_none() {
            right_agg = combined.clone().filter(|c| c.timestamp > ts);
        }
        if !right_created {
            if let Some(right) = right_agg.filter(|right| right.timestamp > ts) {
                self.create_right_window(ctx, r, right)?;
            }
        }
        if let Some(previous) = previous_timestamp {
            if !starts.contains(&previous.saturating_add(1)) {
                self.update_and_forward(ctx, r, previous.saturating_add(1), self.new_slot(ts))?;
            }
        }
        let slot = match combined {
            Some(c) => (Some(c.value), c.timestamp),
            None => self.new_slot(ts),
        };
        self.update_and_forward(ctx, r, 0, slot)
    }
}

impl<K, V, VA> Processor<K, V, Windowed<K>, Change<VA>> for SlidingWindowAggregateProcessor<K, V, VA>
where
    K: Clone + 'static,
    V: Clone + 'static,
    VA: Clone + 'static,
{
    fn init(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<(), StreamsError> {
        let handle = ctx.timestamped_window_store::<K, VA>(&self.store)?;
        self.cached = ctx.window_store_cached(&handle);
        self.handle = Some(handle);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut Ctx<'_, K, VA>) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| not_initialized("sliding window aggregate"))?;
        let timestamp = record.timestamp;
        let Some(close_time) = admit(
            ctx,
            &self.store,
            handle.is_null_key(&record.key),
            &mut self.observed_stream_time,
            timestamp,
            self.windows.grace_ms(),
        ) else {
            return Ok(());
        };
        let diff = self.diff();
        if timestamp.saturating_add(1).saturating_add(diff) <= close_time {
            let window = Window::new(timestamp.saturating_sub(diff), timestamp);
            skip_expired(ctx, &self.store, window, close_time, self.observed_stream_time);
            return Ok(());
        }
        let key_bytes = handle.key_bytes(&record.key)?;
        let r = SlidingRecord {
            key: &record.key,
            key_bytes: &key_bytes,
            value: &record.value,
            timestamp,
            close_time,
            headers: &record.headers,
        };
        if timestamp < diff {
            self.process_early(ctx, &r)
        } else {
            self.process_windows(ctx, &r)
        }
    }
}

/// Session windows: a record joins (and merges) every session of its key within the
/// inactivity gap; merged sessions are removed from the store and deleted downstream.
pub(crate) struct SessionWindowAggregateProcessor<K, V, VA> {
    pub(crate) store: String,
    pub(crate) windows: SessionWindows,
    pub(crate) aggregation: Aggregation<K, V, VA>,
    /// Combines two session aggregates: (key, aggregate so far, a merged session's aggregate).
    pub(crate) merger: Arc<dyn Fn(&K, Option<VA>, VA) -> VA + Send + Sync>,
    pub(crate) send_old_values: Arc<AtomicBool>,
    pub(crate) handle: Option<SessionStoreHandle<K, VA>>,
    /// Whether the store has a write cache, which then forwards the coalesced updates.
    pub(crate) cached: bool,
    pub(crate) observed_stream_time: i64,
}

impl<K, V, VA> Processor<K, V, Windowed<K>, Change<VA>> for SessionWindowAggregateProcessor<K, V, VA>
where
    K: Clone + 'static,
    V: Clone + 'static,
    VA: Clone + 'static,
{
    fn init(&mut self, ctx: &mut Ctx<'_, K, VA>) -> Result<(), StreamsError> {
        let handle = ctx.session_store::<K, VA>(&self.store)?;
        self.cached = ctx.session_store_cached(&handle);
        self.handle = Some(handle);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut Ctx<'_, K, VA>) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| not_initialized("session window aggregate"))?;
        let timestamp = record.timestamp;
        let Some(close_time) = admit(
            ctx,
            &self.store,
            handle.is_null_key(&record.key),
            &mut self.observed_stream_time,
            timestamp,
            self.windows.grace_ms(),
        ) else {
            return Ok(());
        };
        let gap = self.windows.inactivity_gap_ms();
        let key_bytes = handle.key_bytes(&record.key)?;
        let overlapping = ctx.sessions(handle)?.find_sessions(
            &key_bytes,
            timestamp.saturating_sub(gap),
            timestamp.saturating_add(gap),
        )?;
        let new_window = Window::new(timestamp, timestamp);
        let mut merged_window = new_window;
        let mut aggregate = self.aggregation.initial();
        for (window, value) in &overlapping {
            aggregate = Some((self.merger)(&record.key, aggregate, value.clone()));
            merged_window = Window::new(merged_window.start.min(window.start), merged_window.end.max(window.end));
        }
        if merged_window.end < close_time {
            skip_expired(ctx, &self.store, merged_window, close_time, self.observed_stream_time);
            return Ok(());
        }
        let send_old = self.send_old_values.load(Ordering::Relaxed);
        if merged_window != new_window {
            for (window, value) in overlapping {
                ctx.sessions(handle)?.remove(&key_bytes, window)?;
                if self.cached {
                    continue;
                }
                ctx.forward(Record {
                    key: Windowed::new(record.key.clone(), window),
                    value: Change::new(None, if send_old { Some(value) } else { None }),
                    timestamp: window.end,
                    headers: record.headers.clone(),
                })?;
            }
        }
        let aggregate = self.aggregation.apply(&record.key, record.value, aggregate)?;
        ctx.sessions(handle)?.put(&key_bytes, merged_window, &aggregate)?;
        if self.cached {
            return Ok(());
        }
        ctx.forward(Record {
            key: Windowed::new(record.key, merged_window),
            value: Change::new(Some(aggregate), None),
            timestamp: merged_window.end,
            headers: record.headers,
        })
    }
}

/// Forwards the entries a window store's cache wrote down as `Record<Windowed<K>,
/// Change<VA>>`: the window is read back from the store key (ending at `start + size`), the
/// values from their `ValueAndTimestamp` bytes, and the record's timestamp is the new value's
/// (the largest record timestamp of the window), or for a delete the timestamp of the record
/// that deleted it. Old values only when the table sends them.
pub(crate) struct WindowChangeForwarder<K, VA> {
    pub(crate) store: Arc<str>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<VA>,
    pub(crate) size: i64,
    pub(crate) send_old_values: bool,
}

impl<K: Clone + 'static, VA: Clone + 'static> FlushForwarder for WindowChangeForwarder<K, VA> {
    fn needs_old_values(&self) -> bool {
        self.send_old_values
    }

    fn forward(&self, entries: Vec<FlushedEntry>, children: &[NodeId], env: &mut Env) -> Result<(), StreamsError> {
        let decode_err = |source| StreamsError::Serialization {
            context: self.store.to_string(),
            source,
        };
        let decode = |bytes: Option<&[u8]>| {
            bytes
                .map(|bytes| decode_value_and_timestamp(&*self.value_serde, bytes))
                .transpose()
                .map_err(decode_err)
        };
        for entry in entries {
            let (key_bytes, start, _) = parse_window_store_key(&entry.key).ok_or_else(|| {
                StreamsError::Internal(format!("window store `{}` flushed a key without a window", self.store))
            })?;
            let key = self.key_serde.deserialize(key_bytes).map_err(decode_err)?;
            let new_value = decode(entry.new_value.as_deref())?;
            let old_value = if self.send_old_values {
                decode(entry.old_value.as_deref())?
            } else {
                None
            };
            let timestamp = new_value.as_ref().map_or(entry.timestamp, |v| v.timestamp);
            let window = Window::new(start, start.saturating_add(self.size));
            let change = Change::new(new_value.map(|v| v.value), old_value.map(|v| v.value));
            env.clock.set(timestamp);
            forward_all(
                env,
                children,
                Record::new(Windowed::new(key, window), change, timestamp),
            )?;
        }
        Ok(())
    }
}

/// Forwards the entries a session store's cache wrote down as `Record<Windowed<K>,
/// Change<VA>>`, each with its session's end as timestamp (as Kafka Streams'
/// `SessionCacheFlushListener`), deletes of merged-away sessions included. Old values only when
/// the table sends them.
pub(crate) struct SessionChangeForwarder<K, VA> {
    pub(crate) store: Arc<str>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<VA>,
    pub(crate) send_old_values: bool,
}

impl<K: Clone + 'static, VA: Clone + 'static> FlushForwarder for SessionChangeForwarder<K, VA> {
    fn needs_old_values(&self) -> bool {
        self.send_old_values
    }

    fn forward(&self, entries: Vec<FlushedEntry>, children: &[NodeId], env: &mut Env) -> Result<(), StreamsError> {
        let decode_err = |source| StreamsError::Serialization {
            context: self.store.to_string(),
            source,
        };
        let decode = |bytes: Option<&[u8]>| {
            bytes
                .map(|bytes| self.value_serde.deserialize(bytes))
                .transpose()
                .map_err(decode_err)
        };
        for entry in entries {
            let (key_bytes, start, end) = parse_session_store_key(&entry.key).ok_or_else(|| {
                StreamsError::Internal(format!(
                    "session store `{}` flushed a key without a session",
                    self.store
                ))
            })?;
            let key = self.key_serde.deserialize(key_bytes).map_err(decode_err)?;
            let new_value = decode(entry.new_value.as_deref())?;
            let old_value = if self.send_old_values {
                decode(entry.old_value.as_deref())?
            } else {
                None
            };
            env.clock.set(end);
            forward_all(
                env,
                children,
                Record::new(
                    Windowed::new(key, Window::new(start, end)),
                    Change::new(new_value, old_value),
                    end,
                ),
            )?;
        }
        Ok(())
    }
}
