//! State stores for the streams framework.
//!
//! Stores are byte-oriented and layered, as in Kafka Streams: an engine at the bottom
//! ([`memory::InMemoryKeyValueStore`], or `rocksdb::RocksDbKeyValueStore` with the default
//! `rocksdb` feature), a logging layer
//! ([`LoggingKeyValueStore`]) that writes every change to the store's changelog through a
//! [`ChangelogSink`], and a caching layer ([`CachingKeyValueStore`]) that coalesces updates per
//! key between commits, under a metering layer ([`MeteredKeyValueStore`]) that counts
//! operations. A [`KeyValueStoreBuilder`] (see [`Stores`]) assembles the stack for each
//! task, and [`restore_all`] replays a changelog into a store. Typed access (serdes) is added by
//! `streams-core`; this crate knows nothing of Kafka.
//!
//! ```
//! use streams_state::memory::InMemoryKeyValueStore;
//! use streams_state::KeyValueStore;
//!
//! let mut store = InMemoryKeyValueStore::new("counts");
//! store.put(b"alice", b"1")?;
//! assert_eq!(store.get(b"alice")?, Some(b"1".to_vec()));
//! # Ok::<(), streams_state::StateError>(())
//! ```

pub mod builder;
pub mod caching;
mod error;
pub mod logging;
pub mod memory;
pub mod metered;
pub mod restore;
#[cfg(feature = "rocksdb")]
pub mod rocksdb;
pub mod shared;
mod small_bytes;
pub mod store;
pub mod versioned;
pub mod window;

#[cfg(feature = "rocksdb")]
pub use self::rocksdb::{
    RocksDbCompression, RocksDbConfig, RocksDbKeyValueBytesStoreSupplier, RocksDbKeyValueStore, RocksDbResources,
};
pub use builder::{KeyValueStoreBuilder, Stores};
pub use caching::{cache_entry_size, CachingKeyValueStore, CACHE_ENTRY_OVERHEAD_BYTES};
pub use error::StateError;
pub use logging::LoggingKeyValueStore;
pub use memory::{InMemoryKeyValueBytesStoreSupplier, InMemoryKeyValueStore};
pub use metered::{MeteredKeyValueStore, StoreMetrics};
pub use restore::restore_all;
pub use shared::{SharedKeyValueStore, SharedStoreReader, SharedStoreWriter};
pub use store::{
    ChangelogRecord, ChangelogSink, FlushedEntry, KeyValue, KeyValueBytesStoreSupplier, KeyValueIterator,
    KeyValueStore, RecordClock, StateStore,
};
pub use versioned::{
    PutOutcome, VersionedBytesStore, VersionedBytesStoreSupplier, VersionedKeyValueStore, VersionedRecord,
};
pub use window::{
    SegmentedBytesStore, SegmentedBytesStoreSupplier, SessionEntry, SessionStore, WindowEntry, WindowStore,
};
