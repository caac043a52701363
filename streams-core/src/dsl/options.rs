//! Operator options in Kafka Streams' vocabulary: `Consumed`, `Produced`, `Grouped`,
//! `Materialized`, `Joined`, `StreamJoined`, `Named`, `Repartitioned`, `Branched`.

use std::sync::Arc;

use streams_state::KeyValueBytesStoreSupplier;

use crate::internals::partitioner::StreamPartitioner;
use crate::serde::{Serde, SharedSerde};
use crate::state::StoreType;
use crate::topology::StoreEngine;

/// A name for the processor an operation adds (instead of a generated `KSTREAM-...` name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named(pub(crate) String);

impl Named {
    /// The name `name`.
    pub fn as_(name: impl Into<String>) -> Self {
        Named(name.into())
    }
}

/// How a source topic is read: its serdes and, optionally, the source node's name.
pub struct Consumed<K, V> {
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) name: Option<String>,
}

impl<K, V> Consumed<K, V> {
    /// Read keys with `key_serde` and values with `value_serde`.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Consumed {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
        }
    }

    /// Names the source node.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// How records are written to a topic: serdes, partitioner, sink name. Serdes left out are
/// taken from the stream when it still knows them.
pub struct Produced<K, V> {
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Default for Produced<K, V> {
    fn default() -> Self {
        Produced {
            key_serde: None,
            value_serde: None,
            partitioner: None,
            name: None,
        }
    }
}

impl<K, V> Produced<K, V> {
    /// Write with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Produced {
            key_serde: Some(Arc::new(key_serde)),
            value_serde: Some(Arc::new(value_serde)),
            ..Self::default()
        }
    }

    /// Write with the stream's serdes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use `partitioner` instead of murmur2 of the key.
    pub fn with_partitioner(mut self, partitioner: impl StreamPartitioner<K, V> + 'static) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }

    /// Names the sink node.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// How a stream is grouped: serdes for the repartition topic and its name.
pub struct Grouped<K, V> {
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Default for Grouped<K, V> {
    fn default() -> Self {
        Grouped {
            key_serde: None,
            value_serde: None,
            name: None,
        }
    }
}

impl<K, V> Grouped<K, V> {
    /// Group with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Grouped {
            key_serde: Some(Arc::new(key_serde)),
            value_serde: Some(Arc::new(value_serde)),
            name: None,
        }
    }

    /// Names the grouping: the repartition topic becomes `<application.id>-<name>-repartition`
    /// and a `group_by` key selector is called `name`.
    pub fn as_(name: impl Into<String>) -> Self {
        Grouped {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// How an operation's state store is made: its name (queryable, and naming the changelog
/// topic), engine, serdes, logging and caching.
pub struct Materialized<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) supplier: Option<Arc<dyn KeyValueBytesStoreSupplier>>,
    pub(crate) store_type: Option<StoreType>,
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) logging: bool,
    pub(crate) caching: bool,
    pub(crate) retention: Option<std::time::Duration>,
    pub(crate) history_retention: Option<i64>,
}

impl<K, V> Default for Materialized<K, V> {
    fn default() -> Self {
        Materialized {
            name: None,
            supplier: None,
            store_type: None,
            key_serde: None,
            value_serde: None,
            logging: true,
            caching: true,
            retention: None,
            history_retention: None,
        }
    }
}

impl<K, V> Materialized<K, V> {
    /// A store with a generated name and the operation's serdes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store called `name`.
    pub fn as_(name: impl Into<String>) -> Self {
        Materialized {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// A store on the engine `supplier` (named after it). For a windowed aggregation it must
    /// be a window store supplier (`streams_state::Stores::persistent_window_store`, ...) or,
    /// for sessions, a session store supplier.
    pub fn as_supplier(supplier: Arc<dyn KeyValueBytesStoreSupplier>) -> Self {
        Materialized {
            name: Some(supplier.name().to_owned()),
            supplier: Some(supplier),
            ..Self::default()
        }
    }

    /// A *versioned* store called `name` that keeps every row's older values for
    /// `history_retention` (Kafka's `Materialized.as(Stores.persistentVersionedKeyValueStore(name,
    /// history))`), on the engine `default.dsl.store` or [`with_store_type`](Self::with_store_type)
    /// names. See [`streams_state::versioned`] for the store's semantics.
    ///
    /// A table read into a versioned store (`StreamsBuilder::table_with`) applies out-of-order
    /// updates (older than the row's latest) to the row's history only, and does not forward
    /// them; updates older than the history retention are dropped. A stream-table join with
    /// such a table joins each stream record with the row *as of the record's timestamp*, and
    /// can buffer stream records for a grace period
    /// ([`Joined::with_grace_period`]). Versioned stores have no write cache.
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::dsl::Materialized;
    ///
    /// let regions = Materialized::<String, String>::as_versioned("regions", Duration::from_secs(600));
    /// # let _ = regions;
    /// ```
    pub fn as_versioned(name: impl Into<String>, history_retention: std::time::Duration) -> Self {
        Materialized {
            name: Some(name.into()),
            caching: false,
            history_retention: Some(i64::try_from(history_retention.as_millis()).unwrap_or(i64::MAX)),
            ..Self::default()
        }
    }

    /// The history retention (ms) of the store, when it is versioned.
    pub(crate) fn history_retention(&self) -> Option<i64> {
        match &self.supplier {
            Some(supplier) => supplier.history_retention(),
            None => self.history_retention,
        }
    }

    /// A store of engine type `store_type` whatever `default.dsl.store` says (Kafka's
    /// `Materialized.withStoreType`). A supplier given with [`as_supplier`](Self::as_supplier)
    /// takes precedence.
    ///
    /// ```
    /// use streams_core::dsl::Materialized;
    /// use streams_core::state::StoreType;
    ///
    /// let counts = Materialized::<String, i64>::as_("counts").with_store_type(StoreType::InMemory);
    /// # let _ = counts;
    /// ```
    pub fn with_store_type(mut self, store_type: StoreType) -> Self {
        self.store_type = Some(store_type);
        self
    }

    /// The engine the store is made with.
    pub(crate) fn engine(&self) -> StoreEngine {
        match (&self.supplier, self.store_type) {
            (Some(supplier), _) => StoreEngine::Supplier(Arc::clone(supplier)),
            (None, store_type) if self.history_retention.is_some() => {
                let name = self.name.clone().unwrap_or_default();
                let history = self.history_retention.unwrap_or_default();
                StoreEngine::Made {
                    make: Arc::new(move |store_type: StoreType| store_type.versioned_supplier(name.clone(), history)),
                    store_type,
                }
            }
            (None, Some(store_type)) => StoreEngine::Type(store_type),
            (None, None) => StoreEngine::Default,
        }
    }

    /// The store's value serde if given, else the one `default` makes.
    pub(crate) fn or_value_serde(self, default: impl FnOnce() -> SharedSerde<V>) -> Self {
        Materialized {
            value_serde: self.value_serde.or_else(|| Some(default())),
            ..self
        }
    }

    /// The store's value serde if given, else `default` (the operation's, when it knows one).
    pub(crate) fn or_value_serde_from(self, default: Option<SharedSerde<V>>) -> Self {
        Materialized {
            value_serde: self.value_serde.or(default),
            ..self
        }
    }

    /// A store with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Self::default().with_key_serde(key_serde).with_value_serde(value_serde)
    }

    /// Sets the key serde.
    pub fn with_key_serde(mut self, serde: impl Serde<K>) -> Self {
        self.key_serde = Some(Arc::new(serde));
        self
    }

    /// Sets the value serde.
    pub fn with_value_serde(mut self, serde: impl Serde<V>) -> Self {
        self.value_serde = Some(Arc::new(serde));
        self
    }

    /// No changelog topic: the store is rebuilt from nothing after a failure.
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// No write cache: every update is forwarded downstream.
    pub fn with_caching_disabled(mut self) -> Self {
        self.caching = false;
        self
    }

    /// How long a window or session store keeps windows (windowed aggregations only). It must
    /// be at least the window size plus the grace period (twice the time difference plus the
    /// grace period for sliding windows, the inactivity gap plus the grace period for
    /// sessions), which is the default. Ignored when a supplier is given, which has its own.
    pub fn with_retention(mut self, retention: std::time::Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Write cache on (the default for DSL stores).
    pub fn with_caching_enabled(mut self) -> Self {
        self.caching = true;
        self
    }
}

/// Serdes and name for a join whose stream side must be repartitioned first.
pub struct Joined<K, V, VO> {
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    #[allow(dead_code)] // kept for Kafka's `Joined.with(key, value, otherValue)` shape
    pub(crate) other_value_serde: Option<SharedSerde<VO>>,
    pub(crate) name: Option<String>,
    pub(crate) grace_period: Option<i64>,
}

impl<K, V, VO> Default for Joined<K, V, VO> {
    fn default() -> Self {
        Joined {
            key_serde: None,
            value_serde: None,
            other_value_serde: None,
            name: None,
            grace_period: None,
        }
    }
}

impl<K, V, VO> Joined<K, V, VO> {
    /// Join with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>, other_value_serde: impl Serde<VO>) -> Self {
        Joined {
            key_serde: Some(Arc::new(key_serde)),
            value_serde: Some(Arc::new(value_serde)),
            other_value_serde: Some(Arc::new(other_value_serde)),
            name: None,
            grace_period: None,
        }
    }

    /// Names the join processor (and its repartition topic, if one is needed).
    pub fn as_(name: impl Into<String>) -> Self {
        Joined {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Buffers stream records for `grace` before joining them (Kafka's
    /// `Joined.withGracePeriod`, KIP-923): each record waits until the stream time (the
    /// largest timestamp the join has seen) reaches its timestamp plus `grace`, then joins the
    /// table as of its own timestamp, so table updates that arrive up to `grace` late are
    /// still seen. Records leave the buffer in timestamp order; a record already older than
    /// the stream time minus `grace` when it arrives joins at once. The table must be
    /// versioned ([`Materialized::as_versioned`]) with a history retention of at least
    /// `grace`, and the stream's key and value serdes must be known (from the stream or from
    /// [`Joined::with`]): the buffer is a state store (`<join name>-Buffer`) with a changelog.
    /// A grace period of zero joins every record at once, as without one.
    pub fn with_grace_period(mut self, grace: std::time::Duration) -> Self {
        self.grace_period = Some(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
        self
    }
}

/// Options of a stream-stream join (Kafka Streams' `StreamJoined`): the serdes of the key and
/// of both sides' values (for the join's window stores and, after a key-changing operation,
/// its repartition topics), the processor names, the store names, the store engines and
/// whether the stores are logged.
///
/// Names follow Kafka Streams. With [`with_name`](Self::with_name)`("n")` the processors are
/// `n-this-windowed`, `n-other-windowed`, `n-this-join` (`n-outer-this-join` in an outer
/// join), `n-other-join` (`n-outer-other-join` in a left or outer join) and `n-merge`, and
/// repartition topics `n-left-repartition` / `n-right-repartition`. With
/// [`as_`](Self::as_)`("s")` the stores are `s-this-join-store`, `s-other-join-store` (with
/// the same `outer-` prefixes) and, for left and outer joins, `s-left-shared-join-store` /
/// `s-outer-shared-join-store`; otherwise they are named after the generated processor names
/// (`KSTREAM-JOINTHIS-0000000004-store`, `KSTREAM-OUTERSHARED-0000000004-store`, ...).
///
/// ```
/// use streams_core::dsl::StreamJoined;
/// use streams_core::serde::Serdes;
///
/// let joined: StreamJoined<String, i64, String> =
///     StreamJoined::with(Serdes::string(), Serdes::i64(), Serdes::string())
///         .with_name("orders-payments")
///         .with_store_name("orders-payments");
/// # let _ = joined;
/// ```
pub struct StreamJoined<K, V, VO> {
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) other_value_serde: Option<SharedSerde<VO>>,
    pub(crate) name: Option<String>,
    pub(crate) store_name: Option<String>,
    pub(crate) this_supplier: Option<Arc<dyn KeyValueBytesStoreSupplier>>,
    pub(crate) other_supplier: Option<Arc<dyn KeyValueBytesStoreSupplier>>,
    pub(crate) store_type: Option<StoreType>,
    pub(crate) logging: bool,
}

impl<K, V, VO> Default for StreamJoined<K, V, VO> {
    fn default() -> Self {
        StreamJoined {
            key_serde: None,
            value_serde: None,
            other_value_serde: None,
            name: None,
            store_name: None,
            this_supplier: None,
            other_supplier: None,
            store_type: None,
            logging: true,
        }
    }
}

impl<K, V, VO> StreamJoined<K, V, VO> {
    /// The streams' own serdes, generated names, default stores.
    pub fn new() -> Self {
        Self::default()
    }

    /// Join with these serdes: the key's, this stream's values' and the other stream's values'.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>, other_value_serde: impl Serde<VO>) -> Self {
        StreamJoined {
            key_serde: Some(Arc::new(key_serde)),
            value_serde: Some(Arc::new(value_serde)),
            other_value_serde: Some(Arc::new(other_value_serde)),
            ..Self::default()
        }
    }

    /// Names the join's stores after `store_name` (Kafka's `StreamJoined.as`).
    pub fn as_(store_name: impl Into<String>) -> Self {
        Self::default().with_store_name(store_name)
    }

    /// Names the join's processors (and repartition topics) after `name`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Names the join's stores (and so their changelog topics) after `store_name`.
    pub fn with_store_name(mut self, store_name: impl Into<String>) -> Self {
        self.store_name = Some(store_name.into());
        self
    }

    /// Sets the key serde.
    pub fn with_key_serde(mut self, serde: impl Serde<K>) -> Self {
        self.key_serde = Some(Arc::new(serde));
        self
    }

    /// Sets the serde of this stream's values.
    pub fn with_value_serde(mut self, serde: impl Serde<V>) -> Self {
        self.value_serde = Some(Arc::new(serde));
        self
    }

    /// Sets the serde of the other stream's values.
    pub fn with_other_value_serde(mut self, serde: impl Serde<VO>) -> Self {
        self.other_value_serde = Some(Arc::new(serde));
        self
    }

    /// The window store of this stream's records: a window store supplier that retains
    /// duplicates, with retention `before + after + grace` and window size `before + after` of
    /// the join's windows (`streams_state::Stores::in_memory_window_store_with_duplicates`,
    /// `persistent_window_store_with_duplicates`); the join checks this when the topology is
    /// built. Its name is the store's.
    pub fn with_this_store_supplier(mut self, supplier: Arc<dyn KeyValueBytesStoreSupplier>) -> Self {
        self.this_supplier = Some(supplier);
        self
    }

    /// The window store of the other stream's records (see
    /// [`with_this_store_supplier`](Self::with_this_store_supplier)).
    pub fn with_other_store_supplier(mut self, supplier: Arc<dyn KeyValueBytesStoreSupplier>) -> Self {
        self.other_supplier = Some(supplier);
        self
    }

    /// Keeps the join's stores on engine `store_type` whatever `default.dsl.store` says
    /// (Kafka's `StreamJoined.withDslStoreSuppliers`). Suppliers given take precedence.
    pub fn with_store_type(mut self, store_type: StoreType) -> Self {
        self.store_type = Some(store_type);
        self
    }

    /// No changelog topics for the join's stores (they are rebuilt from nothing after a
    /// failure).
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// Changelog topics for the join's stores (the default).
    pub fn with_logging_enabled(mut self) -> Self {
        self.logging = true;
        self
    }
}

/// Options of an explicit [`KStream::repartition`](super::KStream::repartition).
pub struct Repartitioned<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) partitions: Option<i32>,
    pub(crate) partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
}

impl<K, V> Default for Repartitioned<K, V> {
    fn default() -> Self {
        Repartitioned {
            name: None,
            key_serde: None,
            value_serde: None,
            partitions: None,
            partitioner: None,
        }
    }
}

impl<K, V> Repartitioned<K, V> {
    /// Repartition with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Repartitioned {
            key_serde: Some(Arc::new(key_serde)),
            value_serde: Some(Arc::new(value_serde)),
            ..Self::default()
        }
    }

    /// Names the repartition topic `<application.id>-<name>-repartition`.
    pub fn as_(name: impl Into<String>) -> Self {
        Repartitioned {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the repartition topic's partition count.
    pub fn with_number_of_partitions(mut self, partitions: i32) -> Self {
        self.partitions = Some(partitions);
        self
    }

    /// Partitions with `partitioner` instead of murmur2 of the key.
    pub fn with_partitioner(mut self, partitioner: impl StreamPartitioner<K, V> + 'static) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }
}

/// Names a branch of [`KStream::split`](super::KStream::split).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branched(pub(crate) Option<String>);

impl Branched {
    /// A branch called `name` (its key in the result is the split's prefix + `name`).
    pub fn as_(name: impl Into<String>) -> Self {
        Branched(Some(name.into()))
    }

    /// An unnamed branch (its key is the prefix + its position, counted from 1; the default
    /// branch is `0`).
    pub fn unnamed() -> Self {
        Branched(None)
    }
}
