//! The RocksDB engine for persistent stores (cargo feature `rocksdb`, on by default).
//!
//! * [`config`]: [`RocksDbConfig`] (the options, with their defaults) and [`RocksDbResources`]
//!   (the block cache and write buffer manager every instance of the process shares).

pub mod config;

pub use config::{RocksDbCompression, RocksDbConfig, RocksDbResources};
