//! The write-caching layer: coalesces updates per key between commits (Kafka Streams'
//! `CachingKeyValueStore` over a `NamedCache`).

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{btree_set, BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::Arc;

use crate::memory::prefix_successor;
use crate::small_bytes::SmallBytes;
use crate::store::{ChangelogRecord, FlushedEntry, KeyValue, KeyValueIterator, KeyValueStore, RecordClock, StateStore};
use crate::window::{SessionStore, WindowStore};
use crate::StateError;

/// Bytes counted for each cached entry on top of its key and value lengths.
///
/// It stands for the entry's bookkeeping: the record timestamp (8 bytes), its position in the
/// dirty-key order (8) and in the recency order (8), the value's presence flag, and the slots of
/// the maps that index it (about 24). It is an estimate used for the cache's size limit,
/// as Kafka Streams' `LRUCacheEntry`/`LRUNode` sizes are, not a measure of heap usage.
pub const CACHE_ENTRY_OVERHEAD_BYTES: usize = 48;

/// The size a cache entry counts for: `key.len() + value.len() +`
/// [`CACHE_ENTRY_OVERHEAD_BYTES`] (a tombstone's value counts as 0 bytes).
pub fn cache_entry_size(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + CACHE_ENTRY_OVERHEAD_BYTES
}

/// The cached entries by key. Hashed with foldhash's randomly seeded hasher: the cache is read
/// and written for every record, and SipHash (std's default) costs several times as much on
/// short keys; short keys and values are kept inline in the table ([`SmallBytes`]), so that a
/// lookup does not follow pointers.
type CacheMap = HashMap<SmallBytes, CacheEntry, foldhash::fast::RandomState>;

#[derive(Debug)]
struct CacheEntry {
    /// The cached value; `None` is a cached tombstone.
    value: Option<SmallBytes>,
    /// Timestamp of the record that last wrote the key.
    timestamp: i64,
    /// The key's position in the dirty order, while it has changes not yet written down.
    dirty_seq: Option<u64>,
    /// The key's position in the recency order; a `Cell` because reads (`&self`) count as use.
    lru_tick: Cell<u64>,
    /// The tick the key is filed under in the recency index: its `lru_tick` when it was last
    /// indexed, so never later than `lru_tick`.
    indexed_tick: u64,
}

/// A key-value store layer that buffers writes in a size-bounded cache, as Kafka Streams'
/// caching key-value store does.
///
/// * `put` and `delete` only update the cache: the entry becomes *dirty* and is stamped with
///   the [`RecordClock`]'s timestamp. A delete caches a tombstone.
/// * `get` answers from the cache when the key is cached (a cached tombstone answers `None`),
///   otherwise from the wrapped store. A cache hit counts as use for eviction. A miss does not
///   load the value into the cache (Kafka does; here reads take `&self`).
/// * `range`, `prefix_scan` and `all` merge the cache over the wrapped store in key order:
///   cached values replace stored ones and cached tombstones hide them.
/// * `flush` writes each dirty entry down to the wrapped store in the order the keys became
///   dirty (re-writing a dirty key moves it to the end) and records a [`FlushedEntry`] for it,
///   to be collected with [`KeyValueStore::drain_flushed`]. A tombstone for a key the wrapped
///   store does not hold is dropped without writing or recording anything. While an entry is
///   written down the clock is set to the entry's own timestamp, so a logging layer below
///   stamps the changelog record with the timestamp of the record that wrote the key (Kafka
///   sets the record context the same way); the clock is restored afterwards.
/// * Each entry counts for [`cache_entry_size`] bytes. When a write makes the cache exceed its
///   maximum, the least recently used entry is evicted; if it is dirty, every dirty entry is
///   written down first — the evicted one, then the others in dirty order, as Kafka's
///   `NamedCache.evict` does — and then clean entries are dropped, least recently used first,
///   until the cache is within its maximum. Flushed tombstones leave the cache.
/// * `restore_batch` drops the restored keys from the cache and restores the wrapped store.
/// * `approximate_num_entries` is the wrapped store's estimate; unflushed entries are not
///   counted (as in Kafka).
/// * `close` flushes, closes the wrapped store and empties the cache; entries flushed on close
///   can still be drained afterwards.
/// * Over a window or session store (see [`crate::window`]) it is a window or session store
///   too (Kafka Streams' `CachingWindowStore` / `CachingSessionStore`): window writes are
///   key-value writes of store keys, cached as above, and window and session scans merge the
///   cached windows over the wrapped store's, in the wrapped store's order.
pub struct CachingKeyValueStore {
    inner: Box<dyn KeyValueStore>,
    clock: Arc<RecordClock>,
    max_bytes: usize,
    current_bytes: usize,
    entries: CacheMap,
    /// The cached keys in order, for range scans.
    keys: BTreeSet<Vec<u8>>,
    /// Keys that became dirty since the last flush, each added when it went from clean to
    /// dirty. It may hold keys that were written down or dropped since (flushes skip them);
    /// flushes order the dirty ones by their `dirty_seq`.
    dirty_keys: Vec<Vec<u8>>,
    /// How many cached entries are dirty.
    dirty_count: usize,
    next_dirty_seq: u64,
    /// Every cached key under its `indexed_tick`. Using an entry only moves its `lru_tick`;
    /// eviction re-files entries whose `lru_tick` moved until the first one is up to date, which
    /// is then the least recently used.
    lru: BTreeMap<u64, Vec<u8>>,
    next_tick: Cell<u64>,
    flushed: Vec<FlushedEntry>,
    /// Whether written-down entries carry the stored value they replace.
    old_values: bool,
    open: bool,
}

impl CachingKeyValueStore {
    /// Wraps `inner` with a cache of at most `max_bytes` bytes, stamping writes with `clock`.
    ///
    /// Fails with [`StateError::Config`] when `max_bytes` is 0.
    pub fn new(inner: Box<dyn KeyValueStore>, max_bytes: usize, clock: Arc<RecordClock>) -> Result<Self, StateError> {
        if max_bytes == 0 {
            return Err(StateError::Config {
                store: inner.name().to_owned(),
                reason: "the cache size must be greater than 0 bytes".to_owned(),
            });
        }
        Ok(CachingKeyValueStore {
            inner,
            clock,
            max_bytes,
            current_bytes: 0,
            entries: CacheMap::default(),
            keys: BTreeSet::new(),
            dirty_keys: Vec::new(),
            dirty_count: 0,
            next_dirty_seq: 0,
            lru: BTreeMap::new(),
            next_tick: Cell::new(0),
            flushed: Vec::new(),
            old_values: true,
            open: true,
        })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &dyn KeyValueStore {
        self.inner.as_ref()
    }

    /// The cache's maximum size in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The cache's current size in bytes (see [`cache_entry_size`]).
    pub fn cache_size_bytes(&self) -> usize {
        self.current_bytes
    }

    /// How many keys are cached, clean or dirty, tombstones included.
    pub fn cached_entries(&self) -> usize {
        self.entries.len()
    }

    /// How many cached keys have changes not yet written to the wrapped store.
    pub fn dirty_entries(&self) -> usize {
        self.dirty_count
    }

    pub(crate) fn check_open(&self) -> Result<(), StateError> {
        if self.open {
            Ok(())
        } else {
            Err(StateError::Closed {
                store: self.inner.name().to_owned(),
            })
        }
    }

    /// The cached entries whose keys are within `lower` and `upper`, ascending by key, with
    /// their values (`None`: a cached tombstone). Reading them does not count as use.
    pub(crate) fn cached_range<'a>(
        &'a self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        let empty = match (lower, upper) {
            (Bound::Included(l), Bound::Included(u)) => l > u,
            (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u))
            | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
            _ => false,
        };
        let keys = if empty {
            None
        } else {
            Some(self.keys.range::<[u8], _>((lower, upper)))
        };
        keys.into_iter().flatten().filter_map(|key| {
            let entry = self.entries.get(key.as_slice())?;
            Some((key.as_slice(), entry.value.as_deref()))
        })
    }

    fn take_tick(&self) -> u64 {
        let tick = self.next_tick.get();
        self.next_tick.set(tick + 1);
        tick
    }

    /// Marks `entry` as the most recently used.
    fn touch(&self, entry: &CacheEntry) {
        entry.lru_tick.set(self.take_tick());
    }

    /// Caches `value` (`None`: a tombstone) for `key` as a dirty entry, then evicts if needed.
    fn put_internal(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError> {
        self.check_open()?;
        let timestamp = self.clock.timestamp();
        let tick = self.take_tick();
        let seq = self.next_dirty_seq;
        self.next_dirty_seq += 1;
        match self.entries.get_mut(key) {
            Some(entry) => {
                self.current_bytes = self
                    .current_bytes
                    .saturating_sub(cache_entry_size(key, entry.value.as_deref()));
                match (&mut entry.value, value) {
                    (Some(buffer), Some(value)) => buffer.set(value),
                    (slot, value) => *slot = value.map(SmallBytes::new),
                }
                entry.timestamp = timestamp;
                if entry.dirty_seq.replace(seq).is_none() {
                    self.dirty_keys.push(key.to_vec());
                    self.dirty_count += 1;
                }
                entry.lru_tick.set(tick);
            }
            None => {
                self.entries.insert(
                    SmallBytes::new(key),
                    CacheEntry {
                        value: value.map(SmallBytes::new),
                        timestamp,
                        dirty_seq: Some(seq),
                        lru_tick: Cell::new(tick),
                        indexed_tick: tick,
                    },
                );
                self.keys.insert(key.to_vec());
                self.dirty_keys.push(key.to_vec());
                self.dirty_count += 1;
                self.lru.insert(tick, key.to_vec());
            }
        }
        self.current_bytes += cache_entry_size(key, value);
        self.maybe_evict()
    }

    /// Evicts least recently used entries until the cache is within its maximum.
    fn maybe_evict(&mut self) -> Result<(), StateError> {
        while self.current_bytes > self.max_bytes {
            let Some(eldest) = self.least_recently_used() else {
                break;
            };
            let eldest_dirty = self
                .entries
                .get(eldest.as_slice())
                .is_some_and(|entry| entry.dirty_seq.is_some());
            if eldest_dirty {
                self.flush_dirty(Some(&eldest))?;
            } else {
                self.remove_entry(&eldest);
            }
        }
        Ok(())
    }

    /// The least recently used key: re-files the first keys of the recency index that were
    /// used since they were filed, until the first one was not.
    fn least_recently_used(&mut self) -> Option<Vec<u8>> {
        loop {
            let first = self.lru.first_entry()?;
            let indexed = *first.key();
            let Some(entry) = self.entries.get_mut(first.get().as_slice()) else {
                // Not cached: a stale index entry.
                first.remove();
                continue;
            };
            let tick = entry.lru_tick.get();
            if tick == indexed {
                return Some(first.get().clone());
            }
            entry.indexed_tick = tick;
            let key = first.remove();
            self.lru.insert(tick, key);
        }
    }

    /// Writes every dirty entry down: `first` (if dirty), then the rest in dirty order.
    fn flush_dirty(&mut self, first: Option<&[u8]>) -> Result<(), StateError> {
        if let Some(key) = first {
            self.write_down(key)?;
        }
        let mut order: Vec<(u64, Vec<u8>)> = std::mem::take(&mut self.dirty_keys)
            .into_iter()
            .filter_map(|key| Some((self.entries.get(key.as_slice())?.dirty_seq?, key)))
            .collect();
        // A key listed twice has one `dirty_seq`: its second write-down finds it clean.
        order.sort_unstable_by_key(|(seq, _)| *seq);
        for index in 0..order.len() {
            if let Err(error) = self.write_down(&order[index].1) {
                self.dirty_keys.extend(order.drain(index..).map(|(_, key)| key));
                return Err(error);
            }
        }
        Ok(())
    }

    /// Writes the dirty entry for `key` down to the wrapped store and records it; returns
    /// whether `key` was cached and dirty. The entry stays dirty if the write fails.
    fn write_down(&mut self, key: &[u8]) -> Result<bool, StateError> {
        let Some(entry) = self.entries.get_mut(key) else {
            return Ok(false);
        };
        if entry.dirty_seq.is_none() {
            return Ok(false);
        }
        {
            let _clock = ClockOverride::set(&self.clock, entry.timestamp);
            // The old value is needed to forward it, and to know whether a delete deletes
            // anything.
            let old_value = if self.old_values || entry.value.is_none() {
                self.inner.get(key)?
            } else {
                None
            };
            match &entry.value {
                Some(value) => {
                    self.inner.put(key, value)?;
                    self.flushed.push(FlushedEntry {
                        key: key.to_vec(),
                        new_value: Some(value.to_vec()),
                        old_value,
                        timestamp: entry.timestamp,
                    });
                    self.clock.mark_flushed();
                }
                None if old_value.is_some() => {
                    self.inner.delete(key)?;
                    self.flushed.push(FlushedEntry {
                        key: key.to_vec(),
                        new_value: None,
                        old_value,
                        timestamp: entry.timestamp,
                    });
                    self.clock.mark_flushed();
                }
                // Nothing stored and nothing to store: nothing to write or forward.
                None => {}
            }
        }
        entry.dirty_seq = None;
        self.dirty_count -= 1;
        let tombstone = entry.value.is_none();
        if tombstone {
            self.remove_entry(key);
        }
        Ok(true)
    }

    /// Drops `key` from the cache and its indexes.
    fn remove_entry(&mut self, key: &[u8]) {
        if let Some(entry) = self.entries.remove(key) {
            self.keys.remove(key);
            self.lru.remove(&entry.indexed_tick);
            if entry.dirty_seq.is_some() {
                self.dirty_count -= 1;
            }
            self.current_bytes = self
                .current_bytes
                .saturating_sub(cache_entry_size(key, entry.value.as_deref()));
        }
    }

    fn clear_cache(&mut self) {
        self.entries.clear();
        self.keys.clear();
        self.dirty_keys.clear();
        self.dirty_count = 0;
        self.lru.clear();
        self.current_bytes = 0;
    }

    fn merge<'a>(
        &'a self,
        cached: btree_set::Range<'a, Vec<u8>>,
        stored: KeyValueIterator<'a>,
    ) -> KeyValueIterator<'a> {
        Box::new(MergedIterator {
            cached: cached.peekable(),
            entries: &self.entries,
            stored: stored.peekable(),
        })
    }

    /// Checks the cache's internal bookkeeping; panics with a description when it is broken.
    #[cfg(test)]
    fn assert_consistent(&self) {
        let mut bytes = 0;
        for (key, entry) in &self.entries {
            bytes += cache_entry_size(key, entry.value.as_deref());
            assert_eq!(
                self.lru.get(&entry.indexed_tick).map(Vec::as_slice),
                Some(&**key),
                "lru index"
            );
            assert!(entry.indexed_tick <= entry.lru_tick.get(), "lru index ahead of use");
            if entry.dirty_seq.is_some() {
                assert!(
                    self.dirty_keys.iter().any(|k| k.as_slice() == &**key),
                    "dirty key not listed"
                );
            } else {
                assert!(entry.value.is_some(), "clean tombstone left in the cache");
            }
        }
        assert_eq!(self.lru.len(), self.entries.len(), "lru index size");
        assert_eq!(self.keys.len(), self.entries.len(), "key order size");
        assert!(
            self.keys.iter().all(|key| self.entries.contains_key(key.as_slice())),
            "key order"
        );
        assert_eq!(
            self.dirty_count,
            self.entries.values().filter(|e| e.dirty_seq.is_some()).count(),
            "dirty count"
        );
        assert_eq!(bytes, self.current_bytes, "size accounting");
        assert!(self.current_bytes <= self.max_bytes, "cache over its maximum");
    }
}

impl fmt::Debug for CachingKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachingKeyValueStore")
            .field("name", &self.inner.name())
            .field("max_bytes", &self.max_bytes)
            .field("current_bytes", &self.current_bytes)
            .field("cached_entries", &self.entries.len())
            .field("dirty_entries", &self.dirty_count)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// Sets a clock for the lifetime of the guard, restoring the previous timestamp on drop.
struct ClockOverride<'a> {
    clock: &'a RecordClock,
    previous: i64,
}

impl<'a> ClockOverride<'a> {
    fn set(clock: &'a RecordClock, timestamp: i64) -> Self {
        let previous = clock.timestamp();
        clock.set(timestamp);
        ClockOverride { clock, previous }
    }
}

impl Drop for ClockOverride<'_> {
    fn drop(&mut self) {
        self.clock.set(self.previous);
    }
}

/// Merges cached entries over stored ones, both ascending by key: a cached entry replaces the
/// stored entry with the same key, and a cached tombstone hides it.
struct MergedIterator<'a> {
    cached: Peekable<btree_set::Range<'a, Vec<u8>>>,
    entries: &'a CacheMap,
    stored: Peekable<KeyValueIterator<'a>>,
}

impl Iterator for MergedIterator<'_> {
    type Item = Result<KeyValue, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let skip_stored = match (self.cached.peek(), self.stored.peek()) {
                (None, None) => return None,
                // Errors and stored entries with no cached entry left come out as they are.
                (_, Some(Err(_))) | (None, Some(Ok(_))) => return self.stored.next(),
                (Some(_), None) => false,
                (Some(cached_key), Some(Ok((stored_key, _)))) => {
                    match cached_key.as_slice().cmp(stored_key.as_slice()) {
                        Ordering::Less => false,
                        Ordering::Equal => true,
                        Ordering::Greater => return self.stored.next(),
                    }
                }
            };
            if skip_stored {
                self.stored.next();
            }
            let key = self.cached.next()?;
            if let Some(value) = self.entries.get(key.as_slice()).and_then(|entry| entry.value.as_ref()) {
                return Some(Ok((key.clone(), value.to_vec())));
            }
            // A cached tombstone: the key is deleted, look further.
        }
    }
}

impl StateStore for CachingKeyValueStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.check_open()?;
        self.flush_dirty(None)?;
        self.inner.flush()
    }

    fn close(&mut self) -> Result<(), StateError> {
        if !self.open {
            return Ok(());
        }
        let flushed = self.flush();
        let closed = self.inner.close();
        self.open = false;
        self.clear_cache();
        flushed.and(closed)
    }

    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
}

impl KeyValueStore for CachingKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.check_open()?;
        match self.entries.get(key) {
            Some(entry) => {
                self.touch(entry);
                Ok(entry.value.as_deref().map(<[u8]>::to_vec))
            }
            None => self.inner.get(key),
        }
    }

    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool, StateError> {
        self.check_open()?;
        match self.entries.get(key) {
            Some(entry) => {
                self.touch(entry);
                out.clear();
                if let Some(value) = &entry.value {
                    out.extend_from_slice(value);
                }
                Ok(entry.value.is_some())
            }
            None => self.inner.get_into(key, out),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.put_internal(key, Some(value))
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let previous = self.get(key)?;
        self.put_internal(key, None)?;
        Ok(previous)
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.check_open()?;
        if from > to {
            return Ok(Box::new(std::iter::empty()));
        }
        let stored = self.inner.range(from, to)?;
        let cached = self.keys.range::<[u8], _>((Bound::Included(from), Bound::Included(to)));
        Ok(self.merge(cached, stored))
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.check_open()?;
        let stored = self.inner.prefix_scan(prefix)?;
        let successor = prefix_successor(prefix);
        let upper = match &successor {
            Some(next) => Bound::Excluded(next.as_slice()),
            None => Bound::Unbounded,
        };
        let cached = self.keys.range::<[u8], _>((Bound::Included(prefix), upper));
        Ok(self.merge(cached, stored))
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.check_open()?;
        let stored = self.inner.all()?;
        let cached = self.keys.range::<[u8], _>(..);
        Ok(self.merge(cached, stored))
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.check_open()?;
        self.inner.approximate_num_entries()
    }

    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        self.check_open()?;
        for record in batch {
            self.remove_entry(&record.key);
        }
        self.inner.restore_batch(batch)
    }

    fn caching_enabled(&self) -> bool {
        true
    }

    fn set_old_values_on_flush(&mut self, needed: bool) {
        self.old_values = needed;
    }

    fn drain_flushed(&mut self) -> Vec<FlushedEntry> {
        std::mem::take(&mut self.flushed)
    }

    // Over a window or session engine the cache is a window or session store too: writes
    // coalesce per store key like any other, and scans merge the cache over the store below
    // (see `crate::window`).
    fn as_window_store(&self) -> Option<&dyn WindowStore> {
        self.inner.as_window_store()?;
        Some(self)
    }

    fn as_window_store_mut(&mut self) -> Option<&mut dyn WindowStore> {
        self.inner.as_window_store()?;
        Some(self)
    }

    fn as_session_store(&self) -> Option<&dyn SessionStore> {
        self.inner.as_session_store()?;
        Some(self)
    }

    fn as_session_store_mut(&mut self) -> Option<&mut dyn SessionStore> {
        self.inner.as_session_store()?;
        Some(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::memory::InMemoryKeyValueStore;
    use proptest::prelude::*;

    fn store(max_bytes: usize) -> CachingKeyValueStore {
        CachingKeyValueStore::new(
            Box::new(InMemoryKeyValueStore::new("s")),
            max_bytes,
            RecordClock::shared(),
        )
        .unwrap()
    }

    #[test]
    fn zero_size_is_rejected() {
        let err =
            CachingKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("s")), 0, RecordClock::shared()).unwrap_err();
        assert!(matches!(err, StateError::Config { .. }), "{err}");
    }

    #[test]
    fn clock_override_restores_the_previous_timestamp() {
        let clock = RecordClock::default();
        clock.set(7);
        {
            let _guard = ClockOverride::set(&clock, 3);
            assert_eq!(clock.timestamp(), 3);
        }
        assert_eq!(clock.timestamp(), 7);
    }

    #[test]
    fn an_entry_larger_than_the_cache_goes_straight_down() {
        let mut s = store(10);
        s.put(b"key", b"value").unwrap();
        assert_eq!(s.cached_entries(), 0);
        assert_eq!(s.inner().get(b"key").unwrap(), Some(b"value".to_vec()));
        assert_eq!(s.drain_flushed().len(), 1);
        s.assert_consistent();
    }

    #[test]
    fn range_with_from_after_to_is_empty() {
        let mut s = store(1000);
        s.put(b"a", b"1").unwrap();
        s.put(b"c", b"3").unwrap();
        assert_eq!(s.range(b"c", b"a").unwrap().count(), 0);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, Vec<u8>),
        Delete(Vec<u8>),
        Get(Vec<u8>),
        Flush,
        Restore(Vec<u8>, Option<Vec<u8>>),
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(0u8..3, 0..3)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (key(), prop::collection::vec(any::<u8>(), 0..6)).prop_map(|(k, v)| Op::Put(k, v)),
            2 => key().prop_map(Op::Delete),
            2 => key().prop_map(Op::Get),
            1 => Just(Op::Flush),
            1 => (key(), prop::option::of(prop::collection::vec(any::<u8>(), 0..3)))
                .prop_map(|(k, v)| Op::Restore(k, v)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The size accounting and the dirty and recency indexes stay consistent with the
        /// cached entries, the cache never stays over its maximum, and the record clock is
        /// marked when entries are written down.
        #[test]
        fn bookkeeping_stays_consistent(
            max_bytes in 1usize..300,
            ops in prop::collection::vec(op(), 0..60),
        ) {
            let mut s = store(max_bytes);
            for op in ops {
                match op {
                    Op::Put(k, v) => s.put(&k, &v).unwrap(),
                    Op::Delete(k) => { s.delete(&k).unwrap(); }
                    Op::Get(k) => { s.get(&k).unwrap(); }
                    Op::Flush => {
                        s.flush().unwrap();
                        prop_assert_eq!(s.dirty_entries(), 0);
                    }
                    Op::Restore(k, v) => s
                        .restore_batch(&[ChangelogRecord { key: k, value: v, timestamp: 0 }])
                        .unwrap(),
                }
                s.assert_consistent();
                // The clock carries the mark exactly when the operation wrote entries down.
                prop_assert_eq!(s.clock.take_flushed(), !s.drain_flushed().is_empty());
            }
        }
    }
}
