//! The RocksDB engine for persistent stores (cargo feature `rocksdb`, on by default).
//!
//! * [`config`]: [`RocksDbConfig`] (the options, with their defaults) and [`RocksDbResources`]
//!   (the block cache and write buffer manager every instance of the process shares).
//! * [`key_value`]: [`RocksDbKeyValueStore`], one RocksDB instance in one directory, and
//!   [`RocksDbKeyValueBytesStoreSupplier`], which puts each task's store in
//!   `<task state dir>/rocksdb/<store name>` (see [`crate::Stores::persistent_key_value_store`]).
//!
//! [`RocksDbKeyValueStore::open`] takes any directory, so a store made of several instances
//! can open each of them where its own layout says.
//!
//! ```
//! use streams_state::{KeyValueBytesStoreSupplier, KeyValueStore, StateStore, Stores};
//!
//! let dir = std::env::temp_dir().join(format!("streams-state-doc-{}", std::process::id()));
//! let supplier = Stores::persistent_key_value_store("counts");
//! let mut store = supplier.get(Some(&dir))?;
//! store.put(b"alice", b"1")?;
//! store.close()?;
//!
//! let store = supplier.get(Some(&dir))?;
//! assert_eq!(store.get(b"alice")?, Some(b"1".to_vec()));
//! # drop(store);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), streams_state::StateError>(())
//! ```

pub mod config;
pub mod key_value;

pub use config::{RocksDbCompression, RocksDbConfig, RocksDbResources};
pub(crate) use key_value::check_store_name;
pub use key_value::{RocksDbKeyValueBytesStoreSupplier, RocksDbKeyValueStore, KEY_VALUE_STORES_DIR};
