//! The metering layer: counts what a task does with a store (Kafka Streams'
//! `MeteredKeyValueStore`).

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use crate::store::{ChangelogRecord, FlushedEntry, KeyValueIterator, KeyValueStore, StateStore};
use crate::window::{SessionStore, WindowStore};
use crate::StateError;

/// Counters of one store, as [`MeteredKeyValueStore`] keeps them.
///
/// Operations are counted when they are called, whether or not they succeed. Only flushes and
/// restores, which are rare and long, are timed: timing every read and write would cost more
/// than the in-memory operations themselves (Kafka Streams records per-operation latencies only
/// at its `DEBUG` recording level).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreMetrics {
    /// `get` calls.
    pub gets: u64,
    /// `put` calls.
    pub puts: u64,
    /// `put_if_absent` calls.
    pub puts_if_absent: u64,
    /// `delete` calls.
    pub deletes: u64,
    /// `range`, `prefix_scan` and `all` calls.
    pub scans: u64,
    /// `flush` calls (one per commit of the owning task).
    pub flushes: u64,
    /// Time spent in `flush`, including forwarding the cache and writing the engine down.
    pub flush_time: Duration,
    /// Changelog records applied by `restore_batch`.
    pub records_restored: u64,
    /// Time spent in `restore_batch`.
    pub restore_time: Duration,
}

impl StoreMetrics {
    /// Adds `other`'s counters to these (for totals over the tasks holding a store).
    pub fn add(&mut self, other: &StoreMetrics) {
        self.gets += other.gets;
        self.puts += other.puts;
        self.puts_if_absent += other.puts_if_absent;
        self.deletes += other.deletes;
        self.scans += other.scans;
        self.flushes += other.flushes;
        self.flush_time += other.flush_time;
        self.records_restored += other.records_restored;
        self.restore_time += other.restore_time;
    }
}

/// A key-value store layer that counts the calls made to the store below it.
///
/// It is the outermost layer a [`KeyValueStoreBuilder`](crate::KeyValueStoreBuilder) builds,
/// so it sees every call a processor or the runtime makes, including reads the cache answers.
/// [`KeyValueStore::metrics`] returns its counters.
///
/// ```
/// use streams_state::memory::InMemoryKeyValueStore;
/// use streams_state::{KeyValueStore, MeteredKeyValueStore};
///
/// let mut store = MeteredKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("counts")));
/// store.put(b"alice", b"1")?;
/// store.get(b"alice")?;
/// store.get(b"bob")?;
/// let metrics = store.metrics().expect("metered");
/// assert_eq!((metrics.puts, metrics.gets), (1, 2));
/// # Ok::<(), streams_state::StateError>(())
/// ```
pub struct MeteredKeyValueStore {
    inner: Box<dyn KeyValueStore>,
    gets: Cell<u64>,
    scans: Cell<u64>,
    metrics: StoreMetrics,
}

impl MeteredKeyValueStore {
    /// Wraps `inner`, with every counter at zero.
    pub fn new(inner: Box<dyn KeyValueStore>) -> Self {
        MeteredKeyValueStore {
            inner,
            gets: Cell::new(0),
            scans: Cell::new(0),
            metrics: StoreMetrics::default(),
        }
    }

    fn count_scan(&self) {
        self.scans.set(self.scans.get() + 1);
    }
}

impl fmt::Debug for MeteredKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredKeyValueStore")
            .field("name", &self.inner.name())
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

impl StateStore for MeteredKeyValueStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn flush(&mut self) -> Result<(), StateError> {
        let began = Instant::now();
        let flushed = self.inner.flush();
        self.metrics.flushes += 1;
        self.metrics.flush_time += began.elapsed();
        flushed
    }

    fn close(&mut self) -> Result<(), StateError> {
        self.inner.close()
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
}

impl KeyValueStore for MeteredKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key)
    }

    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool, StateError> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get_into(key, out)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.metrics.puts += 1;
        self.inner.put(key, value)
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.metrics.puts_if_absent += 1;
        self.inner.put_if_absent(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.metrics.deletes += 1;
        self.inner.delete(key)
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.count_scan();
        self.inner.range(from, to)
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.count_scan();
        self.inner.prefix_scan(prefix)
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.count_scan();
        self.inner.all()
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.inner.approximate_num_entries()
    }

    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        let began = Instant::now();
        let restored = self.inner.restore_batch(batch);
        self.metrics.records_restored += batch.len() as u64;
        self.metrics.restore_time += began.elapsed();
        restored
    }

    fn caching_enabled(&self) -> bool {
        self.inner.caching_enabled()
    }

    fn set_old_values_on_flush(&mut self, needed: bool) {
        self.inner.set_old_values_on_flush(needed);
    }

    fn drain_flushed(&mut self) -> Vec<FlushedEntry> {
        self.inner.drain_flushed()
    }

    // Window and session operations go straight to the stack below: the counters cover the
    // key-value API, flushes and restores.
    fn as_window_store(&self) -> Option<&dyn WindowStore> {
        self.inner.as_window_store()
    }

    fn as_window_store_mut(&mut self) -> Option<&mut dyn WindowStore> {
        self.inner.as_window_store_mut()
    }

    fn as_session_store(&self) -> Option<&dyn SessionStore> {
        self.inner.as_session_store()
    }

    fn as_session_store_mut(&mut self) -> Option<&mut dyn SessionStore> {
        self.inner.as_session_store_mut()
    }

    fn as_versioned_store(&self) -> Option<&dyn crate::versioned::VersionedKeyValueStore> {
        self.inner.as_versioned_store()
    }

    fn as_versioned_store_mut(&mut self) -> Option<&mut dyn crate::versioned::VersionedKeyValueStore> {
        self.inner.as_versioned_store_mut()
    }

    fn metrics(&self) -> Option<StoreMetrics> {
        Some(StoreMetrics {
            gets: self.gets.get(),
            scans: self.scans.get(),
            ..self.metrics.clone()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::memory::InMemoryKeyValueStore;

    #[test]
    fn every_call_is_counted_once() {
        let mut store = MeteredKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("s")));
        store.put(b"a", b"1").unwrap();
        store.put(b"b", b"2").unwrap();
        assert_eq!(store.put_if_absent(b"a", b"3").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.delete(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(store.delete(b"b").unwrap(), None);
        assert_eq!(store.range(b"a", b"z").unwrap().count(), 1);
        assert_eq!(store.prefix_scan(b"a").unwrap().count(), 1);
        assert_eq!(store.all().unwrap().count(), 1);
        store.flush().unwrap();
        store
            .restore_batch(&[
                ChangelogRecord {
                    key: b"c".to_vec(),
                    value: Some(b"4".to_vec()),
                    timestamp: 1,
                },
                ChangelogRecord {
                    key: b"a".to_vec(),
                    value: None,
                    timestamp: 2,
                },
            ])
            .unwrap();
        let metrics = store.metrics().unwrap();
        assert_eq!(
            StoreMetrics {
                flush_time: Duration::ZERO,
                restore_time: Duration::ZERO,
                ..metrics
            },
            StoreMetrics {
                gets: 1,
                puts: 2,
                puts_if_absent: 1,
                deletes: 2,
                scans: 3,
                flushes: 1,
                flush_time: Duration::ZERO,
                records_restored: 2,
                restore_time: Duration::ZERO,
            }
        );
        assert_eq!(store.get(b"c").unwrap(), Some(b"4".to_vec()));
        assert_eq!(store.get(b"a").unwrap(), None);
        assert_eq!(store.metrics().unwrap().gets, 3);
    }
}
