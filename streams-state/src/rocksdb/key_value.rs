//! The RocksDB key-value store (Kafka Streams' `RocksDBStore`) and its supplier.

use std::fmt;
use std::path::{Path, PathBuf};

use ::rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch, WriteOptions, DB};

use super::config::RocksDbResources;
use crate::memory::prefix_successor;
use crate::store::{ChangelogRecord, KeyValueBytesStoreSupplier, KeyValueIterator, KeyValueStore, StateStore};
use crate::StateError;

/// The directory, under a task's state directory, that holds its RocksDB key-value stores.
pub const KEY_VALUE_STORES_DIR: &str = "rocksdb";

/// The RocksDB property [`KeyValueStore::approximate_num_entries`] reads.
const ESTIMATE_NUM_KEYS: &str = "rocksdb.estimate-num-keys";

/// A key-value store kept in one RocksDB instance, as Kafka Streams' `RocksDBStore`.
///
/// * Keys are ordered bytewise, as in the in-memory engine; `range` is inclusive at both ends
///   and empty when `from > to`; iterators read a consistent snapshot taken when they are
///   created and fetch entries from RocksDB as they advance.
/// * `put`, `delete` and `restore_batch` (one `WriteBatch` per call) skip the write-ahead log:
///   the store's changelog is its durability, so writes not yet flushed are lost if the process
///   dies, and a runtime should only checkpoint changelog offsets after [`StateStore::flush`].
/// * `flush` flushes the memtables to SST files and waits for it; `close` flushes and releases
///   the instance (and its directory lock), after which every call fails with
///   [`StateError::Closed`] and the directory can be opened again.
/// * `approximate_num_entries` is RocksDB's `rocksdb.estimate-num-keys`, which counts
///   overwritten keys more than once until compaction.
/// * Every engine failure is a [`StateError::Engine`] naming the store.
pub struct RocksDbKeyValueStore {
    name: String,
    path: PathBuf,
    db: Option<DB>,
    write_options: WriteOptions,
}

impl RocksDbKeyValueStore {
    /// Opens (creating it if needed) the store `name` in the directory `path`, with the
    /// options and shared memory of `resources`.
    ///
    /// The directory and its parents are created if missing. Opening fails with
    /// [`StateError::Engine`] if the directory is in use by another open instance.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        resources: &RocksDbResources,
    ) -> Result<Self, StateError> {
        let name = name.into();
        let path = path.into();
        std::fs::create_dir_all(&path).map_err(|e| StateError::Engine {
            store: name.clone(),
            reason: format!("cannot create directory {}: {e}", path.display()),
        })?;
        let db = DB::open(&resources.db_options(), &path).map_err(|e| StateError::Engine {
            store: name.clone(),
            reason: format!("cannot open RocksDB in {}: {e}", path.display()),
        })?;
        let mut write_options = WriteOptions::default();
        write_options.disable_wal(true);
        tracing::debug!(store = %name, path = %path.display(), "opened RocksDB store");
        Ok(RocksDbKeyValueStore {
            name,
            path,
            db: Some(db),
            write_options,
        })
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> Result<&DB, StateError> {
        self.db.as_ref().ok_or_else(|| StateError::Closed {
            store: self.name.clone(),
        })
    }

    fn engine_error(&self, action: &str, error: ::rocksdb::Error) -> StateError {
        engine_error(&self.name, action, error)
    }

    /// Entries from `lower` (inclusive, or the first key) up to `upper` (exclusive, or the
    /// last key), read lazily.
    fn iter_bounded<'a>(
        &'a self,
        lower: Option<&[u8]>,
        upper: Option<Vec<u8>>,
    ) -> Result<KeyValueIterator<'a>, StateError> {
        let db = self.db()?;
        let mut read_options = ReadOptions::default();
        if let Some(lower) = lower {
            read_options.set_iterate_lower_bound(lower);
        }
        if let Some(upper) = upper {
            read_options.set_iterate_upper_bound(upper);
        }
        let mode = match lower {
            Some(lower) => IteratorMode::From(lower, Direction::Forward),
            None => IteratorMode::Start,
        };
        let name: &'a str = &self.name;
        Ok(Box::new(db.iterator_opt(mode, read_options).map(move |item| {
            item.map(|(key, value)| (key.into_vec(), value.into_vec()))
                .map_err(|e| engine_error(name, "iterate", e))
        })))
    }
}

fn engine_error(store: &str, action: &str, error: ::rocksdb::Error) -> StateError {
    StateError::Engine {
        store: store.to_owned(),
        reason: format!("{action} failed: {error}"),
    }
}

/// The smallest byte string greater than `key`: every key `k <= key` sorts before it.
fn inclusive_upper_bound(key: &[u8]) -> Vec<u8> {
    let mut bound = Vec::with_capacity(key.len() + 1);
    bound.extend_from_slice(key);
    bound.push(0);
    bound
}

impl StateStore for RocksDbKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.db()?.flush().map_err(|e| self.engine_error("flush", e))
    }

    fn close(&mut self) -> Result<(), StateError> {
        let Some(db) = self.db.take() else {
            return Ok(());
        };
        let flushed = db.flush().map_err(|e| self.engine_error("flush on close", e));
        drop(db);
        tracing::debug!(store = %self.name, path = %self.path.display(), "closed RocksDB store");
        flushed
    }

    fn persistent(&self) -> bool {
        true
    }
}

impl KeyValueStore for RocksDbKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.db()?.get(key).map_err(|e| self.engine_error("get", e))
    }

    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool, StateError> {
        out.clear();
        match self.db()?.get_pinned(key).map_err(|e| self.engine_error("get", e))? {
            Some(value) => {
                out.extend_from_slice(&value);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.db()?
            .put_opt(key, value, &self.write_options)
            .map_err(|e| self.engine_error("put", e))
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let previous = self.get(key)?;
        if previous.is_some() {
            self.db()?
                .delete_opt(key, &self.write_options)
                .map_err(|e| self.engine_error("delete", e))?;
        }
        Ok(previous)
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.db()?;
        if from > to {
            return Ok(Box::new(std::iter::empty()));
        }
        self.iter_bounded(Some(from), Some(inclusive_upper_bound(to)))
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.iter_bounded(Some(prefix), prefix_successor(prefix))
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.iter_bounded(None, None)
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.db()?
            .property_int_value(ESTIMATE_NUM_KEYS)
            .map_err(|e| self.engine_error("reading rocksdb.estimate-num-keys", e))?
            .ok_or_else(|| StateError::Engine {
                store: self.name.clone(),
                reason: format!("RocksDB does not report `{ESTIMATE_NUM_KEYS}`"),
            })
    }

    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        let db = self.db()?;
        let mut write_batch = WriteBatch::default();
        for record in batch {
            match &record.value {
                Some(value) => write_batch.put(&record.key, value),
                None => write_batch.delete(&record.key),
            }
        }
        db.write_opt(write_batch, &self.write_options)
            .map_err(|e| self.engine_error("restore", e))
    }
}

impl fmt::Debug for RocksDbKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbKeyValueStore")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("open", &self.db.is_some())
            .finish()
    }
}

/// Supplies [`RocksDbKeyValueStore`]s: each task's store lives in
/// `<task state dir>/rocksdb/<store name>`.
#[derive(Debug, Clone)]
pub struct RocksDbKeyValueBytesStoreSupplier {
    name: String,
    resources: Option<RocksDbResources>,
}

impl RocksDbKeyValueBytesStoreSupplier {
    /// A supplier of RocksDB stores called `name`, sharing [`RocksDbResources::global`].
    pub fn new(name: impl Into<String>) -> Self {
        RocksDbKeyValueBytesStoreSupplier {
            name: name.into(),
            resources: None,
        }
    }

    /// A supplier of RocksDB stores called `name` that share `resources`.
    pub fn with_resources(name: impl Into<String>, resources: RocksDbResources) -> Self {
        RocksDbKeyValueBytesStoreSupplier {
            name: name.into(),
            resources: Some(resources),
        }
    }

    /// The directory of the store for the task whose state directory is `state_dir`.
    pub fn store_dir(&self, state_dir: &Path) -> PathBuf {
        state_dir.join(KEY_VALUE_STORES_DIR).join(&self.name)
    }

    fn config_error(&self, reason: String) -> StateError {
        StateError::Config {
            store: self.name.clone(),
            reason,
        }
    }
}

/// Store names become directory names: they must be one plain path component.
pub(crate) fn check_store_name(name: &str) -> Result<(), StateError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(StateError::Config {
            store: name.to_owned(),
            reason: format!(
                "the name {name:?} cannot be a directory name for a persistent store; \
                 use letters, digits, `.`, `_` and `-`"
            ),
        });
    }
    Ok(())
}

impl KeyValueBytesStoreSupplier for RocksDbKeyValueBytesStoreSupplier {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, state_dir: Option<&Path>) -> Result<Box<dyn KeyValueStore>, StateError> {
        check_store_name(&self.name)?;
        let Some(state_dir) = state_dir else {
            return Err(self.config_error(
                "persistent (RocksDB) stores need a state directory, but none was given; \
                 configure a state directory or use an in-memory store"
                    .to_owned(),
            ));
        };
        let resources = match &self.resources {
            Some(resources) => resources.clone(),
            None => RocksDbResources::global(),
        };
        let store = RocksDbKeyValueStore::open(self.name.clone(), self.store_dir(state_dir), &resources)?;
        Ok(Box::new(store))
    }

    fn metrics_scope(&self) -> &str {
        "rocksdb"
    }
}
