//! Assembling store stacks: [`KeyValueStoreBuilder`] (Kafka Streams' `StoreBuilder`) and the
//! [`Stores`] factory.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::caching::CachingKeyValueStore;
use crate::logging::LoggingKeyValueStore;
use crate::memory::InMemoryKeyValueBytesStoreSupplier;
use crate::metered::MeteredKeyValueStore;
use crate::store::{ChangelogSink, KeyValueBytesStoreSupplier, KeyValueStore, RecordClock};
use crate::versioned::VersionedBytesStoreSupplier;
use crate::window::SegmentedBytesStoreSupplier;
use crate::StateError;

/// Describes a key-value store stack and builds one instance per task.
///
/// The stack is, from the inside out: the engine from the supplier, then a
/// [`LoggingKeyValueStore`] when logging is enabled, then a [`CachingKeyValueStore`] when
/// caching is enabled, and a [`MeteredKeyValueStore`] over all of it. As in Kafka Streams, logging is enabled and caching disabled by default.
///
/// The builder is cheap to clone and can be shared between tasks; each task calls
/// [`KeyValueStoreBuilder::build`] for its own store.
///
/// ```
/// use streams_state::{KeyValueStore, RecordClock, Stores};
///
/// let builder = Stores::key_value_store_builder(Stores::in_memory_key_value_store("counts"))
///     .with_logging_disabled()
///     .with_caching_enabled(1024);
/// let mut store = builder.build(None, None, RecordClock::shared())?;
/// store.put(b"alice", b"1")?;
/// assert!(store.caching_enabled());
/// # Ok::<(), streams_state::StateError>(())
/// ```
#[derive(Clone)]
pub struct KeyValueStoreBuilder {
    supplier: Arc<dyn KeyValueBytesStoreSupplier>,
    logging_enabled: bool,
    cache_max_bytes: usize,
}

impl KeyValueStoreBuilder {
    /// A builder for stores from `supplier`, with logging enabled and caching disabled.
    pub fn new(supplier: Arc<dyn KeyValueBytesStoreSupplier>) -> Self {
        KeyValueStoreBuilder {
            supplier,
            logging_enabled: true,
            cache_max_bytes: 0,
        }
    }

    /// Logs every change to the store's changelog (the default).
    pub fn with_logging_enabled(mut self) -> Self {
        self.logging_enabled = true;
        self
    }

    /// Keeps the store's changes out of any changelog: the store cannot be restored.
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging_enabled = false;
        self
    }

    /// Adds a write cache of at most `max_bytes` bytes; 0 means no cache.
    pub fn with_caching_enabled(mut self, max_bytes: usize) -> Self {
        self.cache_max_bytes = max_bytes;
        self
    }

    /// Removes the write cache (the default).
    pub fn with_caching_disabled(mut self) -> Self {
        self.cache_max_bytes = 0;
        self
    }

    /// The name of the stores it builds.
    pub fn name(&self) -> &str {
        self.supplier.name()
    }

    /// Whether built stores log their changes.
    pub fn logging_enabled(&self) -> bool {
        self.logging_enabled
    }

    /// Whether built stores have a write cache.
    pub fn caching_enabled(&self) -> bool {
        self.cache_max_bytes > 0
    }

    /// The write cache's maximum size in bytes, 0 when caching is disabled.
    pub fn cache_max_bytes(&self) -> usize {
        self.cache_max_bytes
    }

    /// The supplier of the stores' engine.
    pub fn supplier(&self) -> &Arc<dyn KeyValueBytesStoreSupplier> {
        &self.supplier
    }

    /// Builds one store stack for a task.
    ///
    /// `state_dir` is handed to the supplier. `changelog` is where the logging layer sends
    /// changes: it is required when logging is enabled (otherwise this fails with
    /// [`StateError::MissingChangelogSink`] before creating the engine) and ignored when logging
    /// is disabled. `clock` is the task's record clock, read by the logging and caching layers.
    pub fn build(
        &self,
        state_dir: Option<&Path>,
        changelog: Option<Box<dyn ChangelogSink>>,
        clock: Arc<RecordClock>,
    ) -> Result<Box<dyn KeyValueStore>, StateError> {
        let sink = match (self.logging_enabled, changelog) {
            (true, Some(sink)) => Some(sink),
            (true, None) => {
                return Err(StateError::MissingChangelogSink {
                    store: self.name().to_owned(),
                })
            }
            (false, _) => None,
        };
        let mut store = self.supplier.get(state_dir)?;
        if let Some(sink) = sink {
            store = Box::new(LoggingKeyValueStore::new(store, sink, Arc::clone(&clock)));
        }
        // Versioned stores have no write cache, as in Kafka Streams: every put must reach the
        // history in order.
        if self.cache_max_bytes > 0 && self.supplier.history_retention().is_none() {
            store = Box::new(CachingKeyValueStore::new(store, self.cache_max_bytes, clock)?);
        }
        Ok(Box::new(MeteredKeyValueStore::new(store)))
    }
}

impl fmt::Debug for KeyValueStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueStoreBuilder")
            .field("name", &self.supplier.name())
            .field("engine", &self.supplier.metrics_scope())
            .field("logging_enabled", &self.logging_enabled)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .finish()
    }
}

/// Factory functions for store suppliers and builders, in the style of Kafka Streams' `Stores`.
#[derive(Debug)]
pub enum Stores {}

impl Stores {
    /// A supplier of in-memory key-value stores called `name`.
    pub fn in_memory_key_value_store(name: impl Into<String>) -> Arc<dyn KeyValueBytesStoreSupplier> {
        Arc::new(InMemoryKeyValueBytesStoreSupplier::new(name))
    }

    /// A supplier of persistent key-value stores called `name`, kept in RocksDB under each
    /// task's state directory and sharing [`crate::RocksDbResources::global`] (Kafka Streams'
    /// `Stores.persistentKeyValueStore`).
    #[cfg(feature = "rocksdb")]
    pub fn persistent_key_value_store(name: impl Into<String>) -> Arc<dyn KeyValueBytesStoreSupplier> {
        Arc::new(crate::rocksdb::RocksDbKeyValueBytesStoreSupplier::new(name))
    }

    /// A supplier of in-memory versioned key-value stores keeping `history_retention` ms of
    /// history (see [`crate::versioned`]).
    pub fn in_memory_versioned_key_value_store(
        name: impl Into<String>,
        history_retention: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(VersionedBytesStoreSupplier::new(
            Stores::in_memory_key_value_store(name),
            history_retention,
        )?))
    }

    /// A supplier of persistent versioned key-value stores keeping `history_retention` ms of
    /// history, in RocksDB (Kafka Streams' `Stores.persistentVersionedKeyValueStore`).
    #[cfg(feature = "rocksdb")]
    pub fn persistent_versioned_key_value_store(
        name: impl Into<String>,
        history_retention: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(VersionedBytesStoreSupplier::new(
            Stores::persistent_key_value_store(name),
            history_retention,
        )?))
    }

    /// A supplier of in-memory window stores (Kafka Streams' `Stores.inMemoryWindowStore`):
    /// windows of `window_size` ms kept `retention` ms (which must be at least the window
    /// size). Reach the window API of a built store with
    /// [`KeyValueStore::as_window_store`](crate::KeyValueStore::as_window_store).
    pub fn in_memory_window_store(
        name: impl Into<String>,
        retention: i64,
        window_size: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(SegmentedBytesStoreSupplier::in_memory_window(
            name,
            retention,
            window_size,
        )?))
    }

    /// A supplier of persistent window stores, one RocksDB instance per time segment under
    /// `<task dir>/<name>/` (Kafka Streams' `Stores.persistentTimestampedWindowStore`).
    #[cfg(feature = "rocksdb")]
    pub fn persistent_window_store(
        name: impl Into<String>,
        retention: i64,
        window_size: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(SegmentedBytesStoreSupplier::rocksdb_window(
            name,
            retention,
            window_size,
            None,
        )?))
    }

    /// A supplier of in-memory window stores that retain duplicates (Kafka Streams'
    /// `Stores.inMemoryWindowStore(name, retention, windowSize, true)`): every value written is
    /// kept under its own seqnum, as the window stores of stream-stream joins need.
    pub fn in_memory_window_store_with_duplicates(
        name: impl Into<String>,
        retention: i64,
        window_size: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(
            SegmentedBytesStoreSupplier::in_memory_window(name, retention, window_size)?.with_retain_duplicates()?,
        ))
    }

    /// A supplier of persistent window stores that retain duplicates (Kafka Streams'
    /// `Stores.persistentWindowStore(name, retention, windowSize, true)`).
    #[cfg(feature = "rocksdb")]
    pub fn persistent_window_store_with_duplicates(
        name: impl Into<String>,
        retention: i64,
        window_size: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(
            SegmentedBytesStoreSupplier::rocksdb_window(name, retention, window_size, None)?
                .with_retain_duplicates()?,
        ))
    }

    /// A supplier of in-memory session stores keeping sessions `retention` ms after their end
    /// (Kafka Streams' `Stores.inMemorySessionStore`).
    pub fn in_memory_session_store(
        name: impl Into<String>,
        retention: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(SegmentedBytesStoreSupplier::in_memory_session(
            name, retention,
        )?))
    }

    /// A supplier of persistent session stores in RocksDB (Kafka Streams'
    /// `Stores.persistentSessionStore`).
    #[cfg(feature = "rocksdb")]
    pub fn persistent_session_store(
        name: impl Into<String>,
        retention: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, StateError> {
        Ok(Arc::new(SegmentedBytesStoreSupplier::rocksdb_session(
            name, retention, None,
        )?))
    }

    /// A builder for key-value stores from `supplier` (logging enabled, caching disabled).
    pub fn key_value_store_builder(supplier: Arc<dyn KeyValueBytesStoreSupplier>) -> KeyValueStoreBuilder {
        KeyValueStoreBuilder::new(supplier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_shareable<T: Clone + Send + Sync>() {}

    #[test]
    fn builder_and_supplier_are_shareable() {
        assert_shareable::<KeyValueStoreBuilder>();
        assert_shareable::<Arc<dyn KeyValueBytesStoreSupplier>>();
        assert_shareable::<InMemoryKeyValueBytesStoreSupplier>();
        #[cfg(feature = "rocksdb")]
        assert_shareable::<crate::rocksdb::RocksDbKeyValueBytesStoreSupplier>();
    }
}
