//! Options for RocksDB instances and the memory they share.

use std::fmt;
use std::sync::{Arc, OnceLock};

use ::rocksdb::{
    BlockBasedOptions, Cache, DBCompactionStyle, DBCompressionType, LogLevel, Options, WriteBufferManager,
};

/// One mebibyte.
const MIB: usize = 1024 * 1024;

/// How RocksDB compresses SST blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RocksDbCompression {
    /// No compression (the default, as in Kafka Streams): state is rebuilt from changelogs and
    /// read often, so CPU is worth more than disk.
    #[default]
    None,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl RocksDbCompression {
    fn to_rocksdb(self) -> DBCompressionType {
        match self {
            RocksDbCompression::None => DBCompressionType::None,
            RocksDbCompression::Snappy => DBCompressionType::Snappy,
            RocksDbCompression::Lz4 => DBCompressionType::Lz4,
            RocksDbCompression::Zstd => DBCompressionType::Zstd,
        }
    }
}

/// Settings for the RocksDB instances behind persistent stores.
///
/// The memory settings are per process: every store opened with the same
/// [`RocksDbResources`] shares one block cache and one write buffer manager, so the memory
/// RocksDB uses does not grow with the number of stores or tasks. The other settings apply to
/// each instance.
///
/// | field | default | Kafka Streams' default |
/// |---|---|---|
/// | `block_cache_bytes` | 64 MiB, shared | 50 MiB per store |
/// | `write_buffer_manager_bytes` | 32 MiB, shared | unbounded |
/// | `charge_write_buffers_to_cache` | `true` | — |
/// | `write_buffer_bytes` | 16 MiB | 16 MiB |
/// | `max_write_buffer_number` | 3 | 3 |
/// | `block_size_bytes` | 4 KiB | 4 KiB |
/// | `bloom_filter_bits_per_key` | 10 | 10 |
/// | `compression` | none | none |
/// | `background_threads` | number of CPUs, at least 2 | number of CPUs, at least 2 |
///
/// Compaction is level-style with dynamic level sizes (Kafka Streams uses universal
/// compaction). Index and filter blocks live in the block cache, so they count against it;
/// the level-0 ones are pinned there. RocksDB's info log only records errors. Writes skip the
/// write-ahead log: the changelog topic is what makes a store durable.
///
/// With `charge_write_buffers_to_cache` on, memtable memory is charged to the block cache, so
/// `block_cache_bytes` bounds memtables, data blocks, index and filter blocks together (about
/// 64 MiB per process by default).
///
/// ```
/// use streams_state::rocksdb::RocksDbConfig;
///
/// let config = RocksDbConfig {
///     block_cache_bytes: 256 * 1024 * 1024,
///     ..RocksDbConfig::default()
/// };
/// assert_eq!(config.max_write_buffer_number, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RocksDbConfig {
    /// Capacity of the block cache shared by all stores, in bytes.
    pub block_cache_bytes: usize,
    /// Total memtable memory of all stores, in bytes; when it is exceeded RocksDB flushes
    /// memtables early. 0 means no shared limit.
    pub write_buffer_manager_bytes: usize,
    /// Whether memtable memory is charged to the block cache, making `block_cache_bytes` the
    /// one bound on both.
    pub charge_write_buffers_to_cache: bool,
    /// Size of one memtable, in bytes (RocksDB's `write_buffer_size`).
    pub write_buffer_bytes: usize,
    /// Memtables a store may hold, the active one included (RocksDB raises values below 2
    /// to 2).
    pub max_write_buffer_number: i32,
    /// Uncompressed size of an SST data block, in bytes.
    pub block_size_bytes: usize,
    /// Bits per key of the full Bloom filters; 0 turns filters off.
    pub bloom_filter_bits_per_key: u32,
    /// Compression of SST blocks.
    pub compression: RocksDbCompression,
    /// Threads of RocksDB's background flush and compaction pools (shared by the process).
    pub background_threads: i32,
}

impl Default for RocksDbConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        RocksDbConfig {
            block_cache_bytes: 64 * MIB,
            write_buffer_manager_bytes: 32 * MIB,
            charge_write_buffers_to_cache: true,
            write_buffer_bytes: 16 * MIB,
            max_write_buffer_number: 3,
            block_size_bytes: 4 * 1024,
            bloom_filter_bits_per_key: 10,
            compression: RocksDbCompression::None,
            background_threads: i32::try_from(cpus).unwrap_or(i32::MAX).max(2),
        }
    }
}

struct Shared {
    config: RocksDbConfig,
    cache: Cache,
    write_buffer_manager: WriteBufferManager,
}

/// A block cache and a write buffer manager made from a [`RocksDbConfig`], shared by every
/// RocksDB instance opened with it.
///
/// Clones share the same memory. [`RocksDbResources::global`] is the process-wide instance that
/// suppliers use unless given other resources.
#[derive(Clone)]
pub struct RocksDbResources {
    shared: Arc<Shared>,
}

static GLOBAL: OnceLock<RocksDbResources> = OnceLock::new();

impl RocksDbResources {
    /// New resources (a new cache and write buffer manager) for `config`.
    pub fn new(config: RocksDbConfig) -> Self {
        let cache = Cache::new_lru_cache(config.block_cache_bytes);
        let write_buffer_manager = if config.charge_write_buffers_to_cache {
            WriteBufferManager::new_write_buffer_manager_with_cache(
                config.write_buffer_manager_bytes,
                false,
                cache.clone(),
            )
        } else {
            WriteBufferManager::new_write_buffer_manager(config.write_buffer_manager_bytes, false)
        };
        RocksDbResources {
            shared: Arc::new(Shared {
                config,
                cache,
                write_buffer_manager,
            }),
        }
    }

    /// The process-wide resources, created from [`RocksDbConfig::default`] on first use unless
    /// [`RocksDbResources::init_global`] ran before.
    pub fn global() -> RocksDbResources {
        GLOBAL
            .get_or_init(|| RocksDbResources::new(RocksDbConfig::default()))
            .clone()
    }

    /// Creates the process-wide resources from `config`. Call it before the first persistent
    /// store opens; once they exist they cannot be replaced, and `config` is handed back as
    /// the error unless it equals the configuration in use.
    pub fn init_global(config: RocksDbConfig) -> Result<RocksDbResources, RocksDbConfig> {
        let mut config = Some(config);
        let global = GLOBAL.get_or_init(|| RocksDbResources::new(config.take().unwrap_or_default()));
        match config {
            Some(rejected) if rejected != global.shared.config => Err(rejected),
            _ => Ok(global.clone()),
        }
    }

    /// The configuration these resources were made from.
    pub fn config(&self) -> &RocksDbConfig {
        &self.shared.config
    }

    /// Bytes currently held in the block cache (memtable charges included when they are
    /// charged to the cache).
    pub fn block_cache_usage(&self) -> usize {
        self.shared.cache.get_usage()
    }

    /// Bytes of memtable memory currently counted by the write buffer manager.
    pub fn write_buffer_usage(&self) -> usize {
        self.shared.write_buffer_manager.get_usage()
    }

    /// Options for one instance: the configured settings over the shared cache and write
    /// buffer manager.
    pub(crate) fn db_options(&self) -> Options {
        let config = &self.shared.config;

        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.shared.cache);
        table.set_block_size(config.block_size_bytes);
        if config.bloom_filter_bits_per_key > 0 {
            table.set_bloom_filter(f64::from(config.bloom_filter_bits_per_key), false);
        }
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);

        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_error_if_exists(false);
        options.set_block_based_table_factory(&table);
        options.set_write_buffer_manager(&self.shared.write_buffer_manager);
        options.set_write_buffer_size(config.write_buffer_bytes);
        options.set_max_write_buffer_number(config.max_write_buffer_number);
        options.set_compression_type(config.compression.to_rocksdb());
        options.set_compaction_style(DBCompactionStyle::Level);
        options.set_level_compaction_dynamic_level_bytes(true);
        options.increase_parallelism(config.background_threads);
        options.set_log_level(LogLevel::Error);
        options
    }
}

impl fmt::Debug for RocksDbResources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbResources")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
