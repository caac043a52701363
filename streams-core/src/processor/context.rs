//! The context a processor runs in: forwarding, record metadata, time, schedules, stores.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use streams_state::{KeyValueStore, SessionStore, WindowStore};

use super::{PunctuationType, Record, RecordMetadata, Schedule, ValueAndTimestamp};
use crate::internals::node::{dispatch, forward_all, Env, NodeId, ScheduleEntry};
use crate::internals::task::TaskId;
use crate::serde::{Serde, SerdeError, SharedSerde};
use crate::state::{decode_value_and_timestamp, encode_value_and_timestamp};
use crate::StreamsError;

/// What a processor can do while it runs: forward records downstream, read where the current
/// record came from and what time it is, schedule punctuations and use its state stores.
pub struct ProcessorContext<'a, KOut, VOut> {
    env: &'a mut Env,
    node: NodeId,
    name: &'a str,
    children: &'a [NodeId],
    child_names: &'a [Arc<str>],
    _out: PhantomData<fn(KOut, VOut)>,
}

impl<'a, KOut, VOut> ProcessorContext<'a, KOut, VOut> {
    pub(crate) fn new(
        env: &'a mut Env,
        node: NodeId,
        name: &'a str,
        children: &'a [NodeId],
        child_names: &'a [Arc<str>],
    ) -> Self {
        ProcessorContext {
            env,
            node,
            name,
            children,
            child_names,
            _out: PhantomData,
        }
    }

    /// Name of the processor node.
    pub fn processor_name(&self) -> &str {
        self.name
    }

    /// Names of the nodes this processor forwards to, in order.
    pub fn child_names(&self) -> impl Iterator<Item = &str> {
        self.child_names.iter().map(|n| &**n)
    }

    /// Topic, partition and offset of the record being processed; `None` during punctuation
    /// and cache flushes.
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.env.current.as_ref()
    }

    /// The task's stream time: the largest timestamp it has processed (`i64::MIN` before the
    /// first record).
    pub fn stream_time(&self) -> i64 {
        self.env.stream_time
    }

    /// The task's wall-clock time in milliseconds (driven by the testkit in tests).
    pub fn current_system_time_ms(&self) -> i64 {
        self.env.wall_clock
    }

    /// The task running this processor.
    pub fn task_id(&self) -> TaskId {
        self.env.task_id
    }

    /// The application id the topology runs under.
    pub fn application_id(&self) -> &str {
        &self.env.application_id
    }

    /// Schedules [`Processor::punctuate`](super::Processor::punctuate) every `interval` of
    /// stream time or wall-clock time, as Kafka Streams' `schedule`.
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> Result<Schedule, StreamsError> {
        let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if interval_ms < 1 {
            return Err(StreamsError::Processor {
                processor: self.name.to_owned(),
                reason: "punctuation interval must be at least 1 ms".into(),
            });
        }
        let schedule = Schedule {
            id: self.env.next_schedule_id,
            kind,
            interval,
        };
        self.env.next_schedule_id += 1;
        let next = match kind {
            PunctuationType::StreamTime => 0,
            PunctuationType::WallClockTime => self.env.wall_clock.saturating_add(interval_ms),
        };
        self.env.schedules.push(ScheduleEntry {
            schedule,
            node: self.node,
            next,
            cancelled: false,
        });
        Ok(schedule)
    }

    /// Cancels a schedule this processor created.
    pub fn cancel(&mut self, schedule: Schedule) {
        let node = self.node;
        for entry in self.env.schedules.iter_mut() {
            if entry.node == node && entry.schedule.id == schedule.id {
                entry.cancelled = true;
            }
        }
    }

    /// Counts a record this processor dropped (Kafka Streams' `dropped-records` metric).
    pub fn record_dropped(&mut self) {
        self.env.metrics.dropped_records += 1;
    }

    fn store_slot_index(&self, name: &str) -> Result<usize, StreamsError> {
        self.env.node_stores[self.node]
            .iter()
            .copied()
            .find(|&i| &*self.env.stores[i].name == name)
            // Global stores are reachable from every processor, as in Kafka Streams.
            .or_else(|| self.env.stores.iter().position(|s| s.global && &*s.name == name))
            .ok_or_else(|| StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: format!("processor `{}` is not connected to it", self.name),
            })
    }

    /// A handle to the key-value store `name` this processor is connected to, or to the global
    /// store `name` (read-only; no connection needed). Call it in `init` and keep the handle.
    pub fn key_value_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<KeyValueStoreHandle<K, V>, StreamsError> {
        let index = self.store_slot_index(name)?;
        let slot = &self.env.stores[index];
        let (key_serde, value_serde) = slot.meta.serdes::<K, V>(name)?;
        Ok(KeyValueStoreHandle {
            index,
            name: Arc::clone(&slot.name),
            key_serde,
            value_serde,
            timestamped: slot.meta.timestamped,
        })
    }

    /// A handle to the timestamped key-value store `name` (values kept with the timestamp of
    /// the record that wrote them).
    pub fn timestamped_key_value_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<TimestampedKeyValueStoreHandle<K, V>, StreamsError> {
        let handle = self.key_value_store::<K, V>(name)?;
        if !handle.timestamped {
            return Err(StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "it is not a timestamped store; use key_value_store".into(),
            });
        }
        Ok(TimestampedKeyValueStoreHandle(handle))
    }

    /// A handle to the versioned key-value store `name` (see
    /// [`Materialized::as_versioned`](crate::dsl::Materialized::as_versioned)). Call it in
    /// `init` and keep the handle.
    pub fn versioned_key_value_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<VersionedKeyValueStoreHandle<K, V>, StreamsError> {
        let handle = self.key_value_store::<K, V>(name)?;
        if self.env.stores[handle.index].store.as_versioned_store().is_none() {
            return Err(StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "it is not a versioned store".into(),
            });
        }
        Ok(VersionedKeyValueStoreHandle(handle))
    }

    /// Whether the store `name` this processor is connected to is versioned.
    pub fn is_versioned_store(&mut self, name: &str) -> Result<bool, StreamsError> {
        let index = self.store_slot_index(name)?;
        Ok(self.env.stores[index].store.as_versioned_store().is_some())
    }

    /// Typed access to a versioned key-value store.
    pub fn versioned<'s, K, V>(
        &'s mut self,
        handle: &'s VersionedKeyValueStoreHandle<K, V>,
    ) -> VersionedKeyValueStoreView<'s, K, V> {
        VersionedKeyValueStoreView {
            store: &mut *self.env.stores[handle.0.index].store,
            handle: &handle.0,
        }
    }

    /// Typed access to a key-value store.
    pub fn kv<'s, K, V>(&'s mut self, handle: &'s KeyValueStoreHandle<K, V>) -> KeyValueStoreView<'s, K, V> {
        KeyValueStoreView {
            timestamp: self.env.clock.timestamp(),
            store: &mut *self.env.stores[handle.index].store,
            handle,
        }
    }

    /// Typed access to a timestamped key-value store.
    pub fn timestamped_kv<'s, K, V>(
        &'s mut self,
        handle: &'s TimestampedKeyValueStoreHandle<K, V>,
    ) -> TimestampedKeyValueStoreView<'s, K, V> {
        TimestampedKeyValueStoreView {
            store: &mut *self.env.stores[handle.0.index].store,
            handle: &handle.0,
        }
    }

    /// Whether the store has a write cache, in which case the cache forwards coalesced updates
    /// on flush and the processor must not forward them itself.
    pub(crate) fn caching_enabled<K, V>(&self, handle: &TimestampedKeyValueStoreHandle<K, V>) -> bool {
        self.env.stores[handle.0.index].store.caching_enabled()
    }

    /// [`caching_enabled`](Self::caching_enabled) for a window store.
    pub(crate) fn window_store_cached<K, V>(&self, handle: &TimestampedWindowStoreHandle<K, V>) -> bool {
        self.env.stores[handle.0.index].store.caching_enabled()
    }

    /// [`caching_enabled`](Self::caching_enabled) for a session store.
    pub(crate) fn session_store_cached<K, V>(&self, handle: &SessionStoreHandle<K, V>) -> bool {
        self.env.stores[handle.0.index].store.caching_enabled()
    }

    /// Reads another store as a table lookup (used by joins through value getters).
    pub(crate) fn env_mut(&mut self) -> &mut Env {
        self.env
    }

    /// The task-wide value under `key` that processors of this task share, made by `make`
    /// the first time it is asked for.
    pub(crate) fn shared_state<T: Send + Sync + 'static>(
        &mut self,
        key: &str,
        make: impl FnOnce() -> T,
    ) -> Result<Arc<T>, StreamsError> {
        let entry = self
            .env
            .shared
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(make()) as Arc<dyn std::any::Any + Send + Sync>);
        Arc::clone(entry)
            .downcast::<T>()
            .map_err(|_| StreamsError::Internal(format!("task state `{key}` has another type")))
    }

    /// The byte store behind a key-value handle (for processors that scan it in order and stop
    /// early, which the collecting typed views do not).
    pub(crate) fn raw_kv_store<K, V>(&mut self, handle: &KeyValueStoreHandle<K, V>) -> &mut dyn KeyValueStore {
        &mut *self.env.stores[handle.index].store
    }

    /// Sets the timestamp the task's stores stamp their changelog records with (the current
    /// record's), which forwarding moves to that of each record forwarded.
    pub(crate) fn set_record_clock(&mut self, timestamp: i64) {
        self.env.clock.set(timestamp);
    }
}

impl<KOut: Clone + 'static, VOut: Clone + 'static> ProcessorContext<'_, KOut, VOut> {
    /// Sends `record` to every downstream node.
    pub fn forward(&mut self, record: Record<KOut, VOut>) -> Result<(), StreamsError> {
        self.env.clock.set(record.timestamp);
        forward_all(self.env, self.children, record)
    }

    /// Sends `record` to the downstream node called `child` only.
    pub fn forward_to(&mut self, child: &str, record: Record<KOut, VOut>) -> Result<(), StreamsError> {
        let index = self
            .child_names
            .iter()
            .position(|n| &**n == child)
            .ok_or_else(|| StreamsError::Processor {
                processor: self.name.to_owned(),
                reason: format!("`{child}` is not a child of this processor"),
            })?;
        self.forward_to_index(index, record)
    }

    /// Sends `record` to the `index`-th downstream node.
    pub(crate) fn forward_to_index(&mut self, index: usize, record: Record<KOut, VOut>) -> Result<(), StreamsError> {
        let child = *self
            .children
            .get(index)
            .ok_or_else(|| StreamsError::Internal(format!("`{}` has no child {index}", self.name)))?;
        self.env.clock.set(record.timestamp);
        dispatch(self.env, child, record)
    }
}

/// A processor's handle to a key-value store, from [`ProcessorContext::key_value_store`].
pub struct KeyValueStoreHandle<K, V> {
    index: usize,
    name: Arc<str>,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    timestamped: bool,
}

impl<K: 'static, V: 'static> KeyValueStoreHandle<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, source: SerdeError) -> StreamsError {
        StreamsError::Serialization {
            context: self.name.to_string(),
            source,
        }
    }

    fn key_bytes(&self, key: &K) -> Result<Vec<u8>, StreamsError> {
        self.key_serde.serialize(key).map_err(|e| self.err(e))
    }

    /// [`key_bytes`](Self::key_bytes) into `out`, replacing its content.
    fn key_bytes_into(&self, key: &K, out: &mut Vec<u8>) -> Result<(), StreamsError> {
        out.clear();
        self.key_serde.serialize_into(key, out).map_err(|e| self.err(e))
    }

    fn value_bytes(&self, value: &V, timestamp: i64) -> Result<Vec<u8>, StreamsError> {
        if self.timestamped {
            encode_value_and_timestamp(&*self.value_serde, value, timestamp)
        } else {
            self.value_serde.serialize(value)
        }
        .map_err(|e| self.err(e))
    }

    /// [`value_bytes`](Self::value_bytes) into `out`, replacing its content.
    fn value_bytes_into(&self, value: &V, timestamp: i64, out: &mut Vec<u8>) -> Result<(), StreamsError> {
        out.clear();
        if self.timestamped {
            out.extend_from_slice(&timestamp.to_be_bytes());
        }
        self.value_serde.serialize_into(value, out).map_err(|e| self.err(e))
    }

    fn value(&self, bytes: &[u8]) -> Result<V, StreamsError> {
        if self.timestamped {
            decode_value_and_timestamp(&*self.value_serde, bytes).map(|v| v.value)
        } else {
            self.value_serde.deserialize(bytes)
        }
        .map_err(|e| self.err(e))
    }

    fn value_and_timestamp(&self, bytes: &[u8]) -> Result<ValueAndTimestamp<V>, StreamsError> {
        decode_value_and_timestamp(&*self.value_serde, bytes).map_err(|e| self.err(e))
    }

    fn entry(&self, (k, v): (Vec<u8>, Vec<u8>)) -> Result<(K, V), StreamsError> {
        Ok((
            self.key_serde.deserialize(&k).map_err(|e| self.err(e))?,
            self.value(&v)?,
        ))
    }
}

/// A processor's handle to a timestamped key-value store.
pub struct TimestampedKeyValueStoreHandle<K, V>(KeyValueStoreHandle<K, V>);

impl<K: 'static, V: 'static> TimestampedKeyValueStoreHandle<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Whether the store's key serde writes `key` as null: such a key can have no row.
    pub(crate) fn is_null_key(&self, key: &K) -> bool {
        self.0.key_serde.is_null(key)
    }
}

/// A processor's handle to a versioned key-value store.
pub struct VersionedKeyValueStoreHandle<K, V>(KeyValueStoreHandle<K, V>);

impl<K: 'static, V: 'static> VersionedKeyValueStoreHandle<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }
}

/// One version of a value in a versioned store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue<V> {
    /// The value.
    pub value: V,
    /// When it became valid.
    pub timestamp: i64,
    /// When the next version replaced it (exclusive); `None` for the latest version.
    pub valid_to: Option<i64>,
}

/// Typed operations on a versioned key-value store (see [`streams_state::versioned`]).
pub struct VersionedKeyValueStoreView<'s, K, V> {
    store: &'s mut dyn KeyValueStore,
    handle: &'s KeyValueStoreHandle<K, V>,
}

impl<K: 'static, V: 'static> VersionedKeyValueStoreView<'_, K, V> {
    fn not_versioned(&self) -> StreamsError {
        StreamsError::StoreAccess {
            store: self.handle.name.to_string(),
            reason: "it is not a versioned store".into(),
        }
    }

    fn typed(&self, record: Option<streams_state::VersionedRecord>) -> Result<Option<VersionedValue<V>>, StreamsError> {
        record
            .map(|r| {
                Ok(VersionedValue {
                    value: self
                        .handle
                        .value_serde
                        .deserialize(&r.value)
                        .map_err(|e| self.handle.err(e))?,
                    timestamp: r.timestamp,
                    valid_to: r.valid_to,
                })
            })
            .transpose()
    }

    /// Puts `value` (`None`: a tombstone) for `key`, valid from `timestamp`.
    pub fn put(
        &mut self,
        key: &K,
        value: Option<&V>,
        timestamp: i64,
    ) -> Result<streams_state::PutOutcome, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        let value = value
            .map(|v| self.handle.value_serde.serialize(v).map_err(|e| self.handle.err(e)))
            .transpose()?;
        let not_versioned = self.not_versioned();
        Ok(self
            .store
            .as_versioned_store_mut()
            .ok_or(not_versioned)?
            .put_versioned(&key, value.as_deref(), timestamp)?)
    }

    /// Puts a tombstone for `key` at `timestamp`; returns the version valid at `timestamp`.
    pub fn delete(&mut self, key: &K, timestamp: i64) -> Result<Option<VersionedValue<V>>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        let not_versioned = self.not_versioned();
        let record = self
            .store
            .as_versioned_store_mut()
            .ok_or(not_versioned)?
            .delete_versioned(&key, timestamp)?;
        self.typed(record)
    }

    /// The latest version of `key`.
    pub fn get(&self, key: &K) -> Result<Option<VersionedValue<V>>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        let store = self.store.as_versioned_store().ok_or_else(|| self.not_versioned())?;
        self.typed(store.get_latest(&key)?)
    }

    /// The version of `key` valid at `as_of`.
    pub fn get_as_of(&self, key: &K, as_of: i64) -> Result<Option<VersionedValue<V>>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        let store = self.store.as_versioned_store().ok_or_else(|| self.not_versioned())?;
        self.typed(store.get_as_of(&key, as_of)?)
    }
}

/// Typed operations on a key-value store, borrowed from the context for a moment.
///
/// On a timestamped store, values are written with the current record's timestamp and read
/// without it.
pub struct KeyValueStoreView<'s, K, V> {
    store: &'s mut dyn KeyValueStore,
    handle: &'s KeyValueStoreHandle<K, V>,
    timestamp: i64,
}

impl<K: 'static, V: 'static> KeyValueStoreView<'_, K, V> {
    /// The value for `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        self.store.get(&key)?.map(|v| self.handle.value(&v)).transpose()
    }

    /// Stores `value` for `key`.
    pub fn put(&mut self, key: &K, value: &V) -> Result<(), StreamsError> {
        let key = self.handle.key_bytes(key)?;
        let value = self.handle.value_bytes(value, self.timestamp)?;
        Ok(self.store.put(&key, &value)?)
    }

    /// Stores `value` only if `key` has no value; returns the value that was there.
    pub fn put_if_absent(&mut self, key: &K, value: &V) -> Result<Option<V>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        let value = self.handle.value_bytes(value, self.timestamp)?;
        self.store
            .put_if_absent(&key, &value)?
            .map(|v| self.handle.value(&v))
            .transpose()
    }

    /// Removes `key`; returns the value that was there.
    pub fn delete(&mut self, key: &K) -> Result<Option<V>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        self.store.delete(&key)?.map(|v| self.handle.value(&v)).transpose()
    }

    /// Entries with `from <= key <= to` in the order of their serialized keys.
    pub fn range(&self, from: &K, to: &K) -> Result<Vec<(K, V)>, StreamsError> {
        let from = self.handle.key_bytes(from)?;
        let to = self.handle.key_bytes(to)?;
        self.collect(self.store.range(&from, &to)?)
    }

    /// Entries whose serialized key starts with the serialized `prefix`.
    pub fn prefix_scan<P: 'static>(
        &self,
        prefix: &P,
        prefix_serde: &dyn Serde<P>,
    ) -> Result<Vec<(K, V)>, StreamsError> {
        let prefix = prefix_serde.serialize(prefix).map_err(|e| self.handle.err(e))?;
        self.collect(self.store.prefix_scan(&prefix)?)
    }

    /// All entries in the order of their serialized keys.
    pub fn all(&self) -> Result<Vec<(K, V)>, StreamsError> {
        self.collect(self.store.all()?)
    }

    /// An estimate of the number of entries.
    pub fn approximate_num_entries(&self) -> Result<u64, StreamsError> {
        Ok(self.store.approximate_num_entries()?)
    }

    fn collect(&self, iter: streams_state::KeyValueIterator<'_>) -> Result<Vec<(K, V)>, StreamsError> {
        iter.map(|entry| self.handle.entry(entry?)).collect()
    }
}

/// Typed operations on a timestamped key-value store.
pub struct TimestampedKeyValueStoreView<'s, K, V> {
    store: &'s mut dyn KeyValueStore,
    handle: &'s KeyValueStoreHandle<K, V>,
}

impl<K: 'static, V: 'static> TimestampedKeyValueStoreView<'_, K, V> {
    /// The value and timestamp for `key`.
    pub fn get(&self, key: &K) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        self.store
            .get(&key)?
            .map(|v| self.handle.value_and_timestamp(&v))
            .transpose()
    }

    /// Stores `value` written at `timestamp` for `key`.
    pub fn put(&mut self, key: &K, value: &V, timestamp: i64) -> Result<(), StreamsError> {
        let key = self.handle.key_bytes(key)?;
        let value = self.handle.value_bytes(value, timestamp)?;
        Ok(self.store.put(&key, &value)?)
    }

    /// Removes `key`; returns what was there.
    pub fn delete(&mut self, key: &K) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> {
        let key = self.handle.key_bytes(key)?;
        self.store
            .delete(&key)?
            .map(|v| self.handle.value_and_timestamp(&v))
            .transpose()
    }

    /// All entries in the order of their serialized keys.
    pub fn all(&self) -> Result<Vec<(K, ValueAndTimestamp<V>)>, StreamsError> {
        self.store
            .all()?
            .map(|entry| {
                let (k, v) = entry?;
                Ok((
                    self.handle.key_serde.deserialize(&k).map_err(|e| self.handle.err(e))?,
                    self.handle.value_and_timestamp(&v)?,
                ))
            })
            .collect()
    }

    /// [`get`](Self::get), leaving the stored bytes of `key` in `key_bytes` (replacing its
    /// content) for a following [`put_at_key_bytes`](Self::put_at_key_bytes); the stored value
    /// is read into `value_bytes`.
    pub(crate) fn get_with_key_bytes(
        &self,
        key: &K,
        key_bytes: &mut Vec<u8>,
        value_bytes: &mut Vec<u8>,
    ) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> {
        self.handle.key_bytes_into(key, key_bytes)?;
        if !self.store.get_into(key_bytes, value_bytes)? {
            return Ok(None);
        }
        self.handle.value_and_timestamp(value_bytes).map(Some)
    }

    /// [`put`](Self::put) for a key already serialized, encoding the value in `value_bytes`
    /// (replacing its content).
    pub(crate) fn put_at_key_bytes(
        &mut self,
        key_bytes: &[u8],
        value: &V,
        timestamp: i64,
        value_bytes: &mut Vec<u8>,
    ) -> Result<(), StreamsError> {
        self.handle.value_bytes_into(value, timestamp, value_bytes)?;
        Ok(self.store.put(key_bytes, value_bytes)?)
    }
}

impl<KOut, VOut> ProcessorContext<'_, KOut, VOut> {
    /// A handle to the timestamped window store `name` this processor is connected to (values
    /// kept with the timestamp of the latest record in their window). Call it in `init`.
    pub fn timestamped_window_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<TimestampedWindowStoreHandle<K, V>, StreamsError> {
        let handle = self.key_value_store::<K, V>(name)?;
        let store = &self.env.stores[handle.index].store;
        if !handle.timestamped || store.as_window_store().is_none() {
            return Err(StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "it is not a timestamped window store".into(),
            });
        }
        Ok(TimestampedWindowStoreHandle(handle))
    }

    /// Typed access to a timestamped window store.
    pub fn window_store<'s, K, V>(
        &'s mut self,
        handle: &'s TimestampedWindowStoreHandle<K, V>,
    ) -> Result<TimestampedWindowStoreView<'s, K, V>, StreamsError> {
        let store = self.env.stores[handle.0.index]
            .store
            .as_window_store_mut()
            .ok_or_else(|| StreamsError::StoreAccess {
                store: handle.0.name.to_string(),
                reason: "it is not a window store".into(),
            })?;
        Ok(TimestampedWindowStoreView {
            store,
            handle: &handle.0,
        })
    }

    /// A handle to the session store `name` this processor is connected to. Call it in `init`.
    pub fn session_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<SessionStoreHandle<K, V>, StreamsError> {
        let handle = self.key_value_store::<K, V>(name)?;
        if self.env.stores[handle.index].store.as_session_store().is_none() {
            return Err(StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "it is not a session store".into(),
            });
        }
        Ok(SessionStoreHandle(handle))
    }

    /// Typed access to a session store.
    pub fn sessions<'s, K, V>(
        &'s mut self,
        handle: &'s SessionStoreHandle<K, V>,
    ) -> Result<SessionStoreView<'s, K, V>, StreamsError> {
        let store = self.env.stores[handle.0.index]
            .store
            .as_session_store_mut()
            .ok_or_else(|| StreamsError::StoreAccess {
                store: handle.0.name.to_string(),
                reason: "it is not a session store".into(),
            })?;
        Ok(SessionStoreView {
            store,
            handle: &handle.0,
        })
    }
}

/// A processor's handle to a timestamped window store.
pub struct TimestampedWindowStoreHandle<K, V>(KeyValueStoreHandle<K, V>);

impl<K: 'static, V: 'static> TimestampedWindowStoreHandle<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Whether the store's key serde writes `key` as null.
    pub(crate) fn is_null_key(&self, key: &K) -> bool {
        self.0.key_serde.is_null(key)
    }

    /// The serialized `key`.
    pub fn key_bytes(&self, key: &K) -> Result<Vec<u8>, StreamsError> {
        self.0.key_bytes(key)
    }

    /// [`key_bytes`](Self::key_bytes) into `out`, replacing its content.
    pub(crate) fn key_bytes_into(&self, key: &K, out: &mut Vec<u8>) -> Result<(), StreamsError> {
        self.0.key_bytes_into(key, out)
    }
}

/// Typed operations on a timestamped window store. Keys are given serialized once per record
/// ([`TimestampedWindowStoreHandle::key_bytes`]); windows are named by their start.
pub struct TimestampedWindowStoreView<'s, K, V> {
    store: &'s mut dyn WindowStore,
    handle: &'s KeyValueStoreHandle<K, V>,
}

impl<K: 'static, V: 'static> TimestampedWindowStoreView<'_, K, V> {
    /// The value and timestamp of the window of `key` starting at `window_start`.
    pub fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> {
        self.store
            .fetch(key, window_start)?
            .map(|v| self.handle.value_and_timestamp(&v))
            .transpose()
    }

    /// Whether the store keeps every value written (then windows are not addressed by one
    /// store key, and the `*_at_store_key` operations do not apply).
    pub(crate) fn retains_duplicates(&self) -> bool {
        self.store.retains_duplicates()
    }

    /// [`fetch`](Self::fetch) of a window by its store key
    /// ([`streams_state::window::window_store_key`], seqnum 0), in a store that does not
    /// retain duplicates.
    /// `buffer` receives the stored bytes (its content is replaced).
    pub(crate) fn fetch_at_store_key(
        &self,
        store_key: &[u8],
        buffer: &mut Vec<u8>,
    ) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> {
        if !self.store.get_into(store_key, buffer)? {
            return Ok(None);
        }
        self.handle.value_and_timestamp(buffer).map(Some)
    }

    /// [`put`](Self::put) of a window by its store key, encoding the value in `value_bytes`
    /// (replacing its content), in a store that does not retain duplicates.
    pub(crate) fn put_at_store_key(
        &mut self,
        store_key: &[u8],
        value: &V,
        timestamp: i64,
        value_bytes: &mut Vec<u8>,
    ) -> Result<(), StreamsError> {
        self.handle.value_bytes_into(value, timestamp, value_bytes)?;
        Ok(self.store.put(store_key, value_bytes)?)
    }

    /// Stores `value` written at `timestamp` in the window of `key` starting at `window_start`.
    pub fn put(&mut self, key: &[u8], value: &V, timestamp: i64, window_start: i64) -> Result<(), StreamsError> {
        let bytes = self.handle.value_bytes(value, timestamp)?;
        Ok(self.store.put_window(key, Some(&bytes), window_start)?)
    }

    /// Removes the window of `key` starting at `window_start`.
    pub fn delete(&mut self, key: &[u8], window_start: i64) -> Result<(), StreamsError> {
        Ok(self.store.put_window(key, None, window_start)?)
    }

    /// `key`'s windows starting in `[from, to]`, oldest first, as (start, value).
    pub fn fetch_range(
        &self,
        key: &[u8],
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, ValueAndTimestamp<V>)>, StreamsError> {
        self.decode(self.store.fetch_range(key, from, to)?)
    }

    /// `key`'s windows starting in `[from, to]`, newest first.
    pub fn backward_fetch_range(
        &self,
        key: &[u8],
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, ValueAndTimestamp<V>)>, StreamsError> {
        self.decode(self.store.backward_fetch_range(key, from, to)?)
    }

    /// Every key's windows starting in `[from, to]`, ascending by (start, key bytes), as (key,
    /// start, value).
    pub fn fetch_all(&self, from: i64, to: i64) -> Result<Vec<(K, i64, ValueAndTimestamp<V>)>, StreamsError> {
        self.store
            .fetch_all(from, to)?
            .into_iter()
            .map(|e| {
                Ok((
                    self.handle
                        .key_serde
                        .deserialize(&e.key)
                        .map_err(|err| self.handle.err(err))?,
                    e.window_start,
                    self.handle.value_and_timestamp(&e.value)?,
                ))
            })
            .collect()
    }

    fn decode(
        &self,
        entries: Vec<streams_state::WindowEntry>,
    ) -> Result<Vec<(i64, ValueAndTimestamp<V>)>, StreamsError> {
        entries
            .into_iter()
            .map(|e| Ok((e.window_start, self.handle.value_and_timestamp(&e.value)?)))
            .collect()
    }
}

/// A processor's handle to a window store whose values are stored as they are (no timestamp),
/// like the window stores of stream-stream joins.
pub(crate) struct WindowStoreHandle<K, V>(KeyValueStoreHandle<K, V>);

impl<K: 'static, V: 'static> WindowStoreHandle<K, V> {
    /// The store's name.
    pub(crate) fn name(&self) -> &str {
        self.0.name()
    }

    /// Whether the store's key serde writes `key` as null.
    pub(crate) fn is_null_key(&self, key: &K) -> bool {
        self.0.key_serde.is_null(key)
    }

    /// Whether the store's value serde writes `value` as null.
    pub(crate) fn is_null_value(&self, value: &V) -> bool {
        self.0.value_serde.is_null(value)
    }

    /// The serialized `key`.
    pub(crate) fn key_bytes(&self, key: &K) -> Result<Vec<u8>, StreamsError> {
        self.0.key_bytes(key)
    }

    /// The serialized `value`.
    pub(crate) fn value_bytes(&self, value: &V) -> Result<Vec<u8>, StreamsError> {
        self.0.value_bytes(value, 0)
    }
}

/// Typed operations on a window store of plain values; keys are given serialized.
pub(crate) struct WindowStoreView<'s, K, V> {
    store: &'s mut dyn WindowStore,
    handle: &'s KeyValueStoreHandle<K, V>,
}

impl<K: 'static, V: 'static> WindowStoreView<'_, K, V> {
    /// Whether a write of a window starting at `window_start` would be skipped as expired.
    pub(crate) fn write_expired(&self, window_start: i64) -> bool {
        self.store.write_expired(window_start)
    }

    /// Stores already-serialized `value` bytes for `key`'s window starting at `window_start`.
    pub(crate) fn put_bytes(&mut self, key: &[u8], value: &[u8], window_start: i64) -> Result<(), StreamsError> {
        Ok(self.store.put_window(key, Some(value), window_start)?)
    }

    /// `key`'s windows starting in `[from, to]`, oldest first (then in the order written), as
    /// (start, value).
    pub(crate) fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Result<Vec<(i64, V)>, StreamsError> {
        self.store
            .fetch_range(key, from, to)?
            .into_iter()
            .map(|e| Ok((e.window_start, self.handle.value(&e.value)?)))
            .collect()
    }
}

impl<KOut, VOut> ProcessorContext<'_, KOut, VOut> {
    /// A handle to the window store `name` of plain values this processor is connected to.
    pub(crate) fn plain_window_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
    ) -> Result<WindowStoreHandle<K, V>, StreamsError> {
        let handle = self.key_value_store::<K, V>(name)?;
        let store = &self.env.stores[handle.index].store;
        if handle.timestamped || store.as_window_store().is_none() {
            return Err(StreamsError::StoreAccess {
                store: name.to_owned(),
                reason: "it is not a window store of plain values".into(),
            });
        }
        Ok(WindowStoreHandle(handle))
    }

    /// Typed access to a window store of plain values.
    pub(crate) fn plain_windows<'s, K, V>(
        &'s mut self,
        handle: &'s WindowStoreHandle<K, V>,
    ) -> Result<WindowStoreView<'s, K, V>, StreamsError> {
        let store = self.env.stores[handle.0.index]
            .store
            .as_window_store_mut()
            .ok_or_else(|| StreamsError::StoreAccess {
                store: handle.0.name.to_string(),
                reason: "it is not a window store".into(),
            })?;
        Ok(WindowStoreView {
            store,
            handle: &handle.0,
        })
    }
}

/// A processor's handle to a session store.
pub struct SessionStoreHandle<K, V>(KeyValueStoreHandle<K, V>);

impl<K: 'static, V: 'static> SessionStoreHandle<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Whether the store's key serde writes `key` as null.
    pub(crate) fn is_null_key(&self, key: &K) -> bool {
        self.0.key_serde.is_null(key)
    }

    /// The serialized `key`.
    pub fn key_bytes(&self, key: &K) -> Result<Vec<u8>, StreamsError> {
        self.0.key_bytes(key)
    }
}

/// Typed operations on a session store; keys are given serialized.
pub struct SessionStoreView<'s, K, V> {
    store: &'s mut dyn SessionStore,
    handle: &'s KeyValueStoreHandle<K, V>,
}

impl<K: 'static, V: 'static> SessionStoreView<'_, K, V> {
    /// `key`'s sessions ending at or after `earliest_end` and starting at or before
    /// `latest_start`, ascending by (end, start).
    pub fn find_sessions(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(crate::dsl::Window, V)>, StreamsError> {
        self.store
            .find_sessions(key, earliest_end, latest_start)?
            .into_iter()
            .map(|e| Ok((crate::dsl::Window::new(e.start, e.end), self.handle.value(&e.value)?)))
            .collect()
    }

    /// The value of `key`'s session `window`.
    pub fn fetch_session(&self, key: &[u8], window: crate::dsl::Window) -> Result<Option<V>, StreamsError> {
        self.store
            .fetch_session(key, window.start, window.end)?
            .map(|v| self.handle.value(&v))
            .transpose()
    }

    /// Stores `value` for `key`'s session `window`.
    pub fn put(&mut self, key: &[u8], window: crate::dsl::Window, value: &V) -> Result<(), StreamsError> {
        let bytes = self.handle.value_bytes(value, 0)?;
        Ok(self.store.put_session(key, window.start, window.end, &bytes)?)
    }

    /// Removes `key`'s session `window`.
    pub fn remove(&mut self, key: &[u8], window: crate::dsl::Window) -> Result<(), StreamsError> {
        Ok(self.store.remove_session(key, window.start, window.end)?)
    }
}
