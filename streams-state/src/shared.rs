//! One store shared by several tasks: a global store.
//!
//! A global store holds every partition of its topic and is filled by one writer (the global
//! task) while the tasks of every stream thread read it. [`SharedKeyValueStore`] keeps the store
//! behind a mutex (store engines are `Send`, not `Sync`; each call holds the lock only for that
//! call) and hands out two views that are themselves [`KeyValueStore`]s, so
//! the tasks use them like any other store:
//!
//! - [`SharedKeyValueStore::writer`]: everything, each call under the lock;
//! - [`SharedKeyValueStore::reader`]: reads only; `put` and `delete` fail with
//!   [`StateError::ReadOnly`], and closing or flushing it does nothing (the writer owns the
//!   store's lifecycle).
//!
//! Iterators are collected under the lock, so a scan sees one consistent state and never
//! holds the lock while the caller iterates. Stores that are not shared pay nothing for this:
//! they are never wrapped.
//!
//! ```
//! use streams_state::memory::InMemoryKeyValueStore;
//! use streams_state::{KeyValueStore, SharedKeyValueStore, StateError};
//!
//! let shared = SharedKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("models")));
//! let mut writer = shared.writer();
//! let mut reader = shared.reader();
//! writer.put(b"m1", b"weights")?;
//! assert_eq!(reader.get(b"m1")?, Some(b"weights".to_vec()));
//! assert!(matches!(reader.put(b"m1", b"x"), Err(StateError::ReadOnly { .. })));
//! # Ok::<(), StateError>(())
//! ```

use std::sync::{Arc, Mutex, MutexGuard};

use crate::{ChangelogRecord, KeyValueIterator, KeyValueStore, StateError, StateStore};

/// A store behind a mutex, shared by one writer and many readers.
#[derive(Clone)]
pub struct SharedKeyValueStore {
    name: Arc<str>,
    inner: Arc<Mutex<Box<dyn KeyValueStore>>>,
}

impl std::fmt::Debug for SharedKeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeyValueStore").field("name", &self.name).finish()
    }
}

impl SharedKeyValueStore {
    /// Shares `store`.
    pub fn new(store: Box<dyn KeyValueStore>) -> Self {
        SharedKeyValueStore {
            name: Arc::from(store.name()),
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A view that reads and writes.
    pub fn writer(&self) -> SharedStoreWriter {
        SharedStoreWriter(self.clone())
    }

    /// A view that only reads.
    pub fn reader(&self) -> SharedStoreReader {
        SharedStoreReader(self.clone())
    }

    // A panic while the lock was held cannot leave the byte map half-written in a way a reader
    // could notice (each engine call is complete or not made), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Box<dyn KeyValueStore>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn collect(iter: Result<KeyValueIterator<'_>, StateError>) -> Result<KeyValueIterator<'static>, StateError> {
        let entries: Vec<_> = iter?.collect();
        Ok(Box::new(entries.into_iter()))
    }

    fn range(&self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'static>, StateError> {
        Self::collect(self.lock().range(from, to))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIterator<'static>, StateError> {
        Self::collect(self.lock().prefix_scan(prefix))
    }

    fn all(&self) -> Result<KeyValueIterator<'static>, StateError> {
        Self::collect(self.lock().all())
    }
}

/// The writing view of a [`SharedKeyValueStore`].
pub struct SharedStoreWriter(SharedKeyValueStore);

/// The read-only view of a [`SharedKeyValueStore`].
pub struct SharedStoreReader(SharedKeyValueStore);

impl StateStore for SharedStoreWriter {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.0.lock().flush()
    }

    fn close(&mut self) -> Result<(), StateError> {
        self.0.lock().close()
    }

    fn persistent(&self) -> bool {
        self.0.lock().persistent()
    }
}

impl KeyValueStore for SharedStoreWriter {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.0.lock().get(key)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.0.lock().put(key, value)
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.0.lock().put_if_absent(key, value)
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.0.lock().delete(key)
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.0.range(from, to)
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.0.prefix_scan(prefix)
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.0.all()
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.0.lock().approximate_num_entries()
    }

    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        self.0.lock().restore_batch(batch)
    }
}

impl SharedStoreReader {
    fn read_only(&self) -> StateError {
        StateError::ReadOnly {
            store: self.0.name.to_string(),
        }
    }
}

impl StateStore for SharedStoreReader {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn flush(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    fn close(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    fn persistent(&self) -> bool {
        self.0.lock().persistent()
    }
}

impl KeyValueStore for SharedStoreReader {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.0.lock().get(key)
    }

    fn put(&mut self, _key: &[u8], _value: &[u8]) -> Result<(), StateError> {
        Err(self.read_only())
    }

    fn put_if_absent(&mut self, _key: &[u8], _value: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(self.read_only())
    }

    fn delete(&mut self, _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(self.read_only())
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.0.range(from, to)
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.0.prefix_scan(prefix)
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.0.all()
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.0.lock().approximate_num_entries()
    }

    fn restore_batch(&mut self, _batch: &[ChangelogRecord]) -> Result<(), StateError> {
        Err(self.read_only())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::memory::InMemoryKeyValueStore;

    fn shared() -> SharedKeyValueStore {
        SharedKeyValueStore::new(Box::new(InMemoryKeyValueStore::new("g")))
    }

    #[test]
    fn readers_see_what_the_writer_wrote_and_cannot_write() {
        let store = shared();
        let mut writer = store.writer();
        let mut reader = store.reader();
        writer.put(b"b", b"2").unwrap();
        writer.put(b"a", b"1").unwrap();
        writer.put(b"c", b"3").unwrap();
        assert_eq!(writer.delete(b"c").unwrap(), Some(b"3".to_vec()));
        assert_eq!(reader.get(b"a").unwrap(), Some(b"1".to_vec()));
        let all: Vec<_> = reader.all().unwrap().map(Result::unwrap).collect();
        assert_eq!(
            all,
            vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]
        );
        let range: Vec<_> = reader.range(b"b", b"z").unwrap().map(Result::unwrap).collect();
        assert_eq!(range, vec![(b"b".to_vec(), b"2".to_vec())]);
        assert_eq!(reader.approximate_num_entries().unwrap(), 2);
        let err = reader.put(b"a", b"9").unwrap_err();
        assert_eq!(
            err.to_string(),
            "state store `g` is read-only here: only its global processor writes it"
        );
        assert!(matches!(reader.delete(b"a"), Err(StateError::ReadOnly { .. })));
        assert!(matches!(
            reader.put_if_absent(b"z", b"9"),
            Err(StateError::ReadOnly { .. })
        ));
        assert!(matches!(reader.restore_batch(&[]), Err(StateError::ReadOnly { .. })));
        // Closing a reader leaves the store open for the writer and the other readers.
        reader.close().unwrap();
        assert_eq!(store.reader().get(b"b").unwrap(), Some(b"2".to_vec()));
        writer.close().unwrap();
        assert!(matches!(store.reader().get(b"b"), Err(StateError::Closed { .. })));
    }

    #[test]
    fn readers_on_other_threads_see_the_writes() {
        let store = shared();
        let mut writer = store.writer();
        let reader = store.reader();
        writer.put(b"k", b"v").unwrap();
        let seen = std::thread::spawn(move || reader.get(b"k").unwrap()).join().unwrap();
        assert_eq!(seen, Some(b"v".to_vec()));
    }
}
