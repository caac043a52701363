//! The store traits every engine and layer implements.
//!
//! Stores are bytes inside: keys and values are byte strings ordered lexicographically, exactly
//! as RocksDB orders them. Typed access (serdes) is added by the outermost layer in
//! `streams-core`.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use crate::versioned::VersionedKeyValueStore;
use crate::window::{SessionStore, WindowStore};
use crate::StateError;

/// A key and a value as stored.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An iterator over key-value pairs in ascending key order.
pub type KeyValueIterator<'a> = Box<dyn Iterator<Item = Result<KeyValue, StateError>> + 'a>;

/// The record currently being processed by the task that owns a store.
///
/// The task updates it before each record; store layers that log or cache changes read it to
/// stamp those changes with the record's timestamp, as Kafka Streams stores read
/// `context.timestamp()`. Caching layers also mark on it that they wrote entries down (an
/// eviction), so that the task knows, without asking every store after every record, that
/// there are [`FlushedEntry`]s to forward.
#[derive(Debug, Default)]
pub struct RecordClock {
    timestamp: AtomicI64,
    flushed: AtomicBool,
}

impl RecordClock {
    /// A clock shared between a task and its stores.
    pub fn shared() -> Arc<RecordClock> {
        Arc::new(RecordClock::default())
    }

    /// Sets the timestamp of the record being processed.
    pub fn set(&self, timestamp: i64) {
        self.timestamp.store(timestamp, Ordering::Relaxed);
    }

    /// The timestamp of the record being processed.
    pub fn timestamp(&self) -> i64 {
        self.timestamp.load(Ordering::Relaxed)
    }

    /// Marks that a store of the task has entries to drain with
    /// [`KeyValueStore::drain_flushed`].
    pub fn mark_flushed(&self) {
        self.flushed.store(true, Ordering::Relaxed);
    }

    /// Whether a store marked flushed entries since the last call; clears the mark.
    pub fn take_flushed(&self) -> bool {
        self.flushed.load(Ordering::Relaxed) && self.flushed.swap(false, Ordering::Relaxed)
    }
}

/// A change read back from (or written to) a changelog topic: `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogRecord {
    /// The store key.
    pub key: Vec<u8>,
    /// The new value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
    /// The timestamp of the record that caused the change.
    pub timestamp: i64,
}

/// An entry written down by a caching layer on flush or eviction, to be forwarded downstream.
///
/// It mirrors Kafka Streams' cache flush listener: the new value, the value the underlying store
/// held before, and the timestamp of the record that last wrote the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushedEntry {
    /// The store key.
    pub key: Vec<u8>,
    /// The value now stored, `None` when the key was deleted.
    pub new_value: Option<Vec<u8>>,
    /// The value the underlying store held before this flush.
    pub old_value: Option<Vec<u8>>,
    /// Timestamp of the record that last wrote the key.
    pub timestamp: i64,
}

/// What every store has: a name and a lifecycle.
pub trait StateStore: Send {
    /// The store's name, unique within a topology.
    fn name(&self) -> &str;

    /// Writes buffered changes down to the engine (and, for a caching layer, records the
    /// flushed entries for [`KeyValueStore::drain_flushed`]).
    fn flush(&mut self) -> Result<(), StateError>;

    /// Flushes and releases the store; later calls fail with [`StateError::Closed`].
    fn close(&mut self) -> Result<(), StateError>;

    /// Whether the engine keeps data on disk across restarts.
    fn persistent(&self) -> bool;
}

/// A key-value store over byte strings, ordered by key.
pub trait KeyValueStore: StateStore {
    /// The value stored for `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// [`get`](Self::get) into `out` (replacing its content, so that a caller reading many
    /// keys reuses one buffer); returns whether `key` has a value. `out` is left empty when it
    /// has none.
    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool, StateError> {
        out.clear();
        match self.get(key)? {
            Some(value) => {
                out.extend_from_slice(&value);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Stores `value` for `key`, replacing what was there.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError>;

    /// Stores `value` for `key` only if no value is stored; returns the value that was there.
    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let existing = self.get(key)?;
        if existing.is_none() {
            self.put(key, value)?;
        }
        Ok(existing)
    }

    /// Removes `key`; returns the value that was stored.
    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;

    /// Entries with `from <= key <= to`, ascending (both bounds inclusive, as in Kafka Streams).
    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError>;

    /// Entries whose key starts with `prefix`, ascending.
    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError>;

    /// All entries, ascending.
    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError>;

    /// An estimate of the number of entries (exact for the in-memory engine).
    fn approximate_num_entries(&self) -> Result<u64, StateError>;

    /// Applies changes read from the changelog straight to the engine, bypassing logging and
    /// caching (restoration must not write the changelog again).
    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError>;

    /// Whether a caching layer sits in this stack, so that the processor writing the store lets
    /// the cache forward coalesced updates instead of forwarding each one itself.
    fn caching_enabled(&self) -> bool {
        false
    }

    /// Tells a caching layer whether the entries it writes down must carry the value the
    /// store held before ([`FlushedEntry::old_value`]); without one it reads a key's old value
    /// only when the new one is a delete (to tell whether there is anything to delete), as
    /// Kafka Streams' caching stores do when old values are not sent downstream. The default
    /// (and the answer of stores without a cache) is that they must.
    fn set_old_values_on_flush(&mut self, needed: bool) {
        let _ = needed;
    }

    /// Entries a caching layer wrote down since the last call (on flush or eviction), in the
    /// order they were written. Empty for stores without a cache.
    fn drain_flushed(&mut self) -> Vec<FlushedEntry> {
        Vec::new()
    }

    /// The store's counters, when it is metered ([`crate::MeteredKeyValueStore`], the outermost
    /// layer of every store a [`crate::KeyValueStoreBuilder`] builds); `None` otherwise.
    fn metrics(&self) -> Option<crate::StoreMetrics> {
        None
    }

    /// The window-store view of this stack, when its engine is a window store (see
    /// [`crate::window`]); layers that keep the window API (logging) pass it through.
    fn as_window_store(&self) -> Option<&dyn WindowStore> {
        None
    }

    /// [`as_window_store`](Self::as_window_store), for writing.
    fn as_window_store_mut(&mut self) -> Option<&mut dyn WindowStore> {
        None
    }

    /// The session-store view of this stack, when its engine is a session store.
    fn as_session_store(&self) -> Option<&dyn SessionStore> {
        None
    }

    /// [`as_session_store`](Self::as_session_store), for writing.
    fn as_session_store_mut(&mut self) -> Option<&mut dyn SessionStore> {
        None
    }

    /// The versioned view of this stack, when its engine is a versioned store (see
    /// [`crate::versioned`]); layers that keep the versioned API (logging) pass it through.
    fn as_versioned_store(&self) -> Option<&dyn VersionedKeyValueStore> {
        None
    }

    /// [`as_versioned_store`](Self::as_versioned_store), for writing.
    fn as_versioned_store_mut(&mut self) -> Option<&mut dyn VersionedKeyValueStore> {
        None
    }
}

/// Where a logging layer sends each change: the store's changelog topic.
///
/// `streams-core` implements it with the task's record collector (partition = task partition,
/// topic = `<application.id>-<store>-changelog`); the testkit with an in-memory topic.
pub trait ChangelogSink: Send {
    /// Sends one change; `value: None` is a tombstone.
    fn send(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<(), String>;
}

/// Creates the innermost engine of a key-value store (in-memory, RocksDB, ...).
pub trait KeyValueBytesStoreSupplier: Send + Sync {
    /// Name of the stores it creates.
    fn name(&self) -> &str;

    /// A new, empty (or reopened, for persistent engines) store for one task.
    ///
    /// `state_dir` is the task's own directory (`<state.dir>/<application.id>/<task id>`) when
    /// the runtime has one; in-memory engines ignore it.
    fn get(&self, state_dir: Option<&std::path::Path>) -> Result<Box<dyn KeyValueStore>, StateError>;

    /// A short engine name for descriptions and metrics (`in-memory`, `rocksdb`).
    fn metrics_scope(&self) -> &str;

    /// The window or session store supplier this is, with its retention, window size and
    /// whether it retains duplicates; `None` for key-value suppliers.
    fn as_segmented(&self) -> Option<&crate::window::SegmentedBytesStoreSupplier> {
        None
    }

    /// The history retention (ms) of the versioned stores it creates; `None` for suppliers of
    /// plain key-value stores.
    fn history_retention(&self) -> Option<i64> {
        None
    }
}
