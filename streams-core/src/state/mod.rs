//! Typed access to state stores, and the store builders the DSL and Processor API use.
//!
//! Stores hold bytes (see `streams-state`); this module adds the serdes. Table stores keep
//! values as Kafka's `ValueAndTimestamp`: an 8-byte big-endian timestamp followed by the value
//! bytes. Their changelog records carry the plain value with that timestamp as the record
//! timestamp, as Kafka Streams logs timestamped stores, so a changelog written here restores in
//! Kafka Streams and the other way round.

use std::sync::Arc;

use streams_state::memory::InMemoryKeyValueBytesStoreSupplier;
use streams_state::KeyValueBytesStoreSupplier;
pub use streams_state::StoreMetrics;

use crate::processor::ValueAndTimestamp;
use crate::serde::{Serde, SerdeError, SharedSerde};

/// Encodes a value and its timestamp as Kafka's `ValueAndTimestampSerializer` does.
pub fn encode_value_and_timestamp<V: 'static>(
    serde: &dyn Serde<V>,
    value: &V,
    timestamp: i64,
) -> Result<Vec<u8>, SerdeError> {
    // Room for most values, as serde_json's `to_vec` starts with.
    let mut bytes = Vec::with_capacity(128);
    bytes.extend_from_slice(&timestamp.to_be_bytes());
    serde.serialize_into(value, &mut bytes)?;
    Ok(bytes)
}

/// Decodes what [`encode_value_and_timestamp`] wrote.
pub fn decode_value_and_timestamp<V: 'static>(
    serde: &dyn Serde<V>,
    bytes: &[u8],
) -> Result<ValueAndTimestamp<V>, SerdeError> {
    if bytes.len() < 8 {
        return Err(SerdeError::Length {
            type_name: "ValueAndTimestamp",
            expected: 8,
            actual: bytes.len(),
        });
    }
    let (ts, value) = bytes.split_at(8);
    let mut ts_bytes = [0u8; 8];
    ts_bytes.copy_from_slice(ts);
    Ok(ValueAndTimestamp {
        value: serde.deserialize(value)?,
        timestamp: i64::from_be_bytes(ts_bytes),
    })
}

/// A typed key-value store definition: an engine supplier, serdes, logging and caching.
///
/// Add one to a topology with
/// [`StreamsBuilder::add_state_store`](crate::dsl::StreamsBuilder::add_state_store) and connect
/// it to a processor by name.
pub struct StoreBuilder<K, V> {
    pub(crate) supplier: Arc<dyn KeyValueBytesStoreSupplier>,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) logging: bool,
    pub(crate) caching: bool,
    pub(crate) timestamped: bool,
}

impl<K, V> StoreBuilder<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        self.supplier.name()
    }

    /// Turns changelogging off (on by default).
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// Turns changelogging on.
    pub fn with_logging_enabled(mut self) -> Self {
        self.logging = true;
        self
    }

    /// Puts the task's write cache in front of the store (off by default for Processor API
    /// stores, as in Kafka Streams).
    pub fn with_caching_enabled(mut self) -> Self {
        self.caching = true;
        self
    }

    /// No write cache.
    pub fn with_caching_disabled(mut self) -> Self {
        self.caching = false;
        self
    }
}

/// The engine of a DSL store that names no supplier, after Kafka's `Materialized.StoreType` and
/// its `default.dsl.store` setting.
///
/// The Kafka runtime uses `default.dsl.store` (RocksDB unless set); the testkit uses in-memory
/// stores unless its `DriverConfig` says otherwise. A store given a type with
/// [`Materialized::with_store_type`](crate::dsl::Materialized::with_store_type) or a supplier
/// with [`Materialized::as_supplier`](crate::dsl::Materialized::as_supplier) keeps it everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreType {
    /// RocksDB under the task's state directory (`rocksDB`), the default.
    #[default]
    RocksDb,
    /// Memory only (`in_memory`): rebuilt from the changelog after every restart.
    InMemory,
}

impl StoreType {
    /// The value naming this type in `default.dsl.store`.
    pub fn config_value(self) -> &'static str {
        match self {
            StoreType::RocksDb => "rocksDB",
            StoreType::InMemory => "in_memory",
        }
    }

    /// The type a `default.dsl.store` value names, as Kafka spells them.
    pub fn from_config_value(value: &str) -> Option<StoreType> {
        match value {
            "rocksDB" => Some(StoreType::RocksDb),
            "in_memory" => Some(StoreType::InMemory),
            _ => None,
        }
    }

    /// A supplier of key-value stores of this type called `name`.
    pub fn key_value_supplier(self, name: impl Into<String>) -> Arc<dyn KeyValueBytesStoreSupplier> {
        match self {
            StoreType::RocksDb => Stores::persistent_key_value_store(name),
            StoreType::InMemory => Stores::in_memory_key_value_store(name),
        }
    }

    /// A supplier of versioned key-value stores of this type called `name`, keeping
    /// `history_retention` ms of history.
    pub fn versioned_supplier(
        self,
        name: impl Into<String>,
        history_retention: i64,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, streams_state::StateError> {
        match self {
            StoreType::RocksDb => streams_state::Stores::persistent_versioned_key_value_store(name, history_retention),
            StoreType::InMemory => streams_state::Stores::in_memory_versioned_key_value_store(name, history_retention),
        }
    }

    /// A supplier of window stores of this type called `name`, keeping windows of
    /// `window_size` ms for `retention` ms, retaining duplicates or not.
    pub fn window_supplier(
        self,
        name: impl Into<String>,
        retention: i64,
        window_size: i64,
        retain_duplicates: bool,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, streams_state::StateError> {
        use streams_state::Stores as S;
        match (self, retain_duplicates) {
            (StoreType::RocksDb, false) => S::persistent_window_store(name, retention, window_size),
            (StoreType::RocksDb, true) => S::persistent_window_store_with_duplicates(name, retention, window_size),
            (StoreType::InMemory, false) => S::in_memory_window_store(name, retention, window_size),
            (StoreType::InMemory, true) => S::in_memory_window_store_with_duplicates(name, retention, window_size),
        }
    }
}

/// Factory for store suppliers and builders, after Kafka's `Stores`.
#[derive(Debug, Clone, Copy)]
pub struct Stores;

impl Stores {
    /// An in-memory key-value engine called `name`.
    pub fn in_memory_key_value_store(name: impl Into<String>) -> Arc<dyn KeyValueBytesStoreSupplier> {
        Arc::new(InMemoryKeyValueBytesStoreSupplier::new(name))
    }

    /// A RocksDB key-value engine called `name`, kept under each task's state directory (Kafka's
    /// `Stores.persistentKeyValueStore`). Its instances share one block cache and write buffer
    /// budget ([`streams_state::RocksDbResources::global`]).
    pub fn persistent_key_value_store(name: impl Into<String>) -> Arc<dyn KeyValueBytesStoreSupplier> {
        streams_state::Stores::persistent_key_value_store(name)
    }

    /// A RocksDB versioned key-value engine called `name`, keeping `history_retention` of
    /// history (Kafka's `Stores.persistentVersionedKeyValueStore`); see
    /// [`streams_state::versioned`].
    pub fn persistent_versioned_key_value_store(
        name: impl Into<String>,
        history_retention: std::time::Duration,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, streams_state::StateError> {
        StoreType::RocksDb.versioned_supplier(name, i64::try_from(history_retention.as_millis()).unwrap_or(i64::MAX))
    }

    /// An in-memory versioned key-value engine called `name`, keeping `history_retention` of
    /// history.
    pub fn in_memory_versioned_key_value_store(
        name: impl Into<String>,
        history_retention: std::time::Duration,
    ) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, streams_state::StateError> {
        StoreType::InMemory.versioned_supplier(name, i64::try_from(history_retention.as_millis()).unwrap_or(i64::MAX))
    }

    /// A key-value store of `K` to `V` on `supplier`, logged, not cached.
    pub fn key_value_store_builder<K, V>(
        supplier: Arc<dyn KeyValueBytesStoreSupplier>,
        key_serde: impl Serde<K>,
        value_serde: impl Serde<V>,
    ) -> StoreBuilder<K, V> {
        StoreBuilder {
            supplier,
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            logging: true,
            caching: false,
            timestamped: false,
        }
    }

    /// A key-value store of `K` to `ValueAndTimestamp<V>` on `supplier`, logged, not cached.
    pub fn timestamped_key_value_store_builder<K, V>(
        supplier: Arc<dyn KeyValueBytesStoreSupplier>,
        key_serde: impl Serde<K>,
        value_serde: impl Serde<V>,
    ) -> StoreBuilder<K, V> {
        StoreBuilder {
            timestamped: true,
            ..Self::key_value_store_builder(supplier, key_serde, value_serde)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::serde::{Nullable, Serdes};

    fn expected<V: 'static>(serde: &dyn Serde<V>, value: &V, timestamp: i64) -> Vec<u8> {
        let mut bytes = timestamp.to_be_bytes().to_vec();
        bytes.extend(serde.serialize(value).unwrap());
        bytes
    }

    /// The encoding is the timestamp followed by what `serialize` gives, whether the serde
    /// writes in place or not, and decodes back.
    #[test]
    fn value_and_timestamp_is_the_timestamp_then_the_serialized_value() {
        let long = "x".repeat(300);
        let json = serde_json::json!({"key": "k0001", "count": 7, "long": long});
        let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (
                encode_value_and_timestamp(&Serdes::i64(), &-5, 42).unwrap(),
                expected(&Serdes::i64(), &-5, 42),
            ),
            (
                encode_value_and_timestamp(&Serdes::string(), &long, -1).unwrap(),
                expected(&Serdes::string(), &long, -1),
            ),
            (
                encode_value_and_timestamp(&Serdes::bytes(), &vec![1, 2, 3], 0).unwrap(),
                expected(&Serdes::bytes(), &vec![1, 2, 3], 0),
            ),
            (
                encode_value_and_timestamp(&Serdes::json(), &json, 9).unwrap(),
                expected(&Serdes::json(), &json, 9),
            ),
            (
                encode_value_and_timestamp(&Nullable(Serdes::f64()), &Some(1.5), 3).unwrap(),
                expected(&Nullable(Serdes::f64()), &Some(1.5), 3),
            ),
        ];
        for (actual, expected) in cases {
            assert_eq!(actual, expected);
        }
        let bytes = encode_value_and_timestamp(&Serdes::json(), &json, 9).unwrap();
        let decoded = decode_value_and_timestamp::<serde_json::Value>(&Serdes::json(), &bytes).unwrap();
        assert_eq!(
            decoded,
            ValueAndTimestamp {
                value: json,
                timestamp: 9
            }
        );
    }
}
