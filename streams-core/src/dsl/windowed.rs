//! Windowed grouped streams: [`TimeWindowedKStream`] (time and sliding windows) and
//! [`SessionWindowedKStream`], from [`KGroupedStream::windowed_by`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use streams_state::KeyValueBytesStoreSupplier;

use super::operators::Aggregation;
use super::window_ops::{
    SessionChangeForwarder, SessionWindowAggregateProcessor, SlidingWindowAggregateProcessor,
    TimeWindowAggregateProcessor, WindowChangeForwarder,
};
use super::windows::{SessionWindows, SlidingWindows, TimeWindows, Windowed};
use super::{
    lock, missing_serde, processor_factory, KGroupedStream, KTable, Materialized, Named, StoreSpec, ValueGetter,
};
use crate::internals::node::Env;
use crate::processor::{Change, Processor, ValueAndTimestamp};
use crate::serde::{I64Serde, SessionWindowedSerde, SharedSerde, TimeWindowedSerde};
use crate::state::decode_value_and_timestamp;
use crate::state::StoreType;
use crate::topology::{ForwarderFactory, NodeKind, StoreEngine, SupplierMaker};
use crate::StreamsError;

/// The window store of a windowed aggregation whose `Materialized` gives no supplier, for an
/// engine type: the type `Materialized::with_store_type` names, else the task's
/// `default.dsl.store` (as key-value stores follow it).
pub(crate) fn default_window_store_supplier(
    store: &str,
    retention: i64,
    window_size: i64,
    store_type: StoreType,
) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, streams_state::StateError> {
    match store_type {
        StoreType::RocksDb => streams_state::Stores::persistent_window_store(store, retention, window_size),
        StoreType::InMemory => streams_state::Stores::in_memory_window_store(store, retention, window_size),
    }
}

/// See [`default_window_store_supplier`].
pub(crate) fn default_session_store_supplier(
    store: &str,
    retention: i64,
    store_type: StoreType,
) -> Result<Arc<dyn KeyValueBytesStoreSupplier>, streams_state::StateError> {
    match store_type {
        StoreType::RocksDb => streams_state::Stores::persistent_session_store(store, retention),
        StoreType::InMemory => streams_state::Stores::in_memory_session_store(store, retention),
    }
}

/// A window specification [`KGroupedStream::windowed_by`] accepts.
pub trait Windowing {
    /// The windowed stream it gives.
    type Stream<K: Clone + 'static, V: Clone + 'static>;

    /// Windows `grouped`.
    fn windowed<K: Clone + 'static, V: Clone + 'static>(self, grouped: KGroupedStream<K, V>) -> Self::Stream<K, V>;
}

impl Windowing for TimeWindows {
    type Stream<K: Clone + 'static, V: Clone + 'static> = TimeWindowedKStream<K, V>;

    fn windowed<K: Clone + 'static, V: Clone + 'static>(
        self,
        grouped: KGroupedStream<K, V>,
    ) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped,
            spec: TimeSpec::Fixed(self),
        }
    }
}

impl Windowing for SlidingWindows {
    type Stream<K: Clone + 'static, V: Clone + 'static> = TimeWindowedKStream<K, V>;

    fn windowed<K: Clone + 'static, V: Clone + 'static>(
        self,
        grouped: KGroupedStream<K, V>,
    ) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped,
            spec: TimeSpec::Sliding(self),
        }
    }
}

impl Windowing for SessionWindows {
    type Stream<K: Clone + 'static, V: Clone + 'static> = SessionWindowedKStream<K, V>;

    fn windowed<K: Clone + 'static, V: Clone + 'static>(
        self,
        grouped: KGroupedStream<K, V>,
    ) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream { grouped, windows: self }
    }
}

#[derive(Debug, Clone, Copy)]
enum TimeSpec {
    Fixed(TimeWindows),
    Sliding(SlidingWindows),
}

impl TimeSpec {
    /// (window size, grace, smallest retention): `size + grace` for time windows, `2 *
    /// difference + grace` for sliding windows, as Kafka Streams requires.
    fn sizes(&self) -> (i64, i64, i64) {
        match self {
            TimeSpec::Fixed(w) => (w.size_ms(), w.grace_ms(), w.size_ms().saturating_add(w.grace_ms())),
            TimeSpec::Sliding(w) => (
                w.time_difference_ms(),
                w.grace_ms(),
                w.time_difference_ms().saturating_mul(2).saturating_add(w.grace_ms()),
            ),
        }
    }
}

/// Retention in milliseconds from `Materialized`, or `minimum`; records a build error when the
/// given retention is shorter than `minimum`.
fn retention_ms<K, V>(
    b: &mut super::BuilderInner,
    store: &str,
    materialized: &Materialized<K, V>,
    minimum: i64,
    what: &str,
) -> i64 {
    match materialized.retention {
        None => minimum,
        Some(retention) => {
            let ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
            if ms < minimum {
                b.error(format!(
                    "the retention period of window store `{store}` ({ms} ms) must be no smaller than {what} ({minimum} ms)"
                ));
            }
            ms
        }
    }
}

/// The key and aggregate serdes of a windowed aggregation, recording build errors for missing
/// ones.
fn aggregation_serdes<K: 'static, VA: 'static>(
    b: &mut super::BuilderInner,
    name: &str,
    store: &str,
    materialized: &Materialized<K, VA>,
    grouped_key_serde: Option<SharedSerde<K>>,
) -> (SharedSerde<K>, SharedSerde<VA>) {
    let key_serde = materialized.key_serde.clone().or(grouped_key_serde).unwrap_or_else(|| {
        b.error(format!(
            "aggregation `{name}` needs a key serde for store `{store}`: use Grouped::with or Materialized::with"
        ));
        missing_serde("key serde".into())
    });
    let value_serde = materialized.value_serde.clone().unwrap_or_else(|| {
        b.error(format!(
            "aggregation `{name}` needs a value serde for store `{store}`: use Materialized::with(key_serde, value_serde)"
        ));
        missing_serde("value serde".into())
    });
    (key_serde, value_serde)
}

/// The engine of a windowed store: the supplier given in `Materialized`, else one `make`s for
/// the type `Materialized` names or, when it names none, for the task's `default.dsl.store`.
/// `make` is tried once here so that a configuration it refuses fails the build.
fn window_engine<K, V>(
    b: &mut super::BuilderInner,
    store: &str,
    materialized: &Materialized<K, V>,
    make: SupplierMaker,
) -> StoreEngine {
    if let Some(supplier) = &materialized.supplier {
        return StoreEngine::Supplier(Arc::clone(supplier));
    }
    let store_type = materialized.store_type;
    if let Err(e) = make(store_type.unwrap_or(StoreType::InMemory)) {
        b.error(format!("window store `{store}`: {e}"));
        return StoreEngine::Supplier(crate::state::Stores::in_memory_key_value_store(store));
    }
    StoreEngine::Made { make, store_type }
}

fn store_slot<'e>(env: &'e Env, store: &str) -> Result<&'e dyn streams_state::KeyValueStore, StreamsError> {
    env.stores
        .iter()
        .find(|s| &*s.name == store)
        .map(|s| &*s.store)
        .ok_or_else(|| StreamsError::StoreAccess {
            store: store.to_owned(),
            reason: "windowed table store is not in this task".into(),
        })
}

fn not_windowed(store: &str, kind: &str) -> StreamsError {
    StreamsError::StoreAccess {
        store: store.to_owned(),
        reason: format!("it is not a {kind} store"),
    }
}

/// Forwards a window store's cache flushes as `Change`s from node `owner` (Kafka Streams'
/// `TimestampedCacheFlushListener` over a window store): windows end at `start + size`.
fn window_forwarder<K: Clone + 'static, VA: Clone + 'static>(
    owner: &str,
    store: &str,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<VA>,
    size: i64,
    send_old_values: Arc<AtomicBool>,
) -> (String, ForwarderFactory) {
    let store: Arc<str> = Arc::from(store);
    let factory: ForwarderFactory = Arc::new(move || {
        Box::new(WindowChangeForwarder {
            store: Arc::clone(&store),
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            size,
            send_old_values: send_old_values.load(Ordering::Relaxed),
        })
    });
    (owner.to_owned(), factory)
}

/// Forwards a session store's cache flushes as `Change`s from node `owner` (Kafka Streams'
/// `SessionCacheFlushListener`).
fn session_forwarder<K: Clone + 'static, VA: Clone + 'static>(
    owner: &str,
    store: &str,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<VA>,
    send_old_values: Arc<AtomicBool>,
) -> (String, ForwarderFactory) {
    let store: Arc<str> = Arc::from(store);
    let factory: ForwarderFactory = Arc::new(move || {
        Box::new(SessionChangeForwarder {
            store: Arc::clone(&store),
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            send_old_values: send_old_values.load(Ordering::Relaxed),
        })
    });
    (owner.to_owned(), factory)
}

/// Reads a windowed table's row from its window store.
fn window_getter<K: 'static, VA: 'static>(
    store: &str,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<VA>,
) -> ValueGetter<Windowed<K>, VA> {
    let name: Arc<str> = Arc::from(store);
    let null_serde = Arc::clone(&key_serde);
    ValueGetter {
        stores: vec![store.to_owned()],
        versioned: None,
        null_key: Arc::new(move |key: &Windowed<K>| null_serde.is_null(&key.key)),
        get: Arc::new(move |env: &mut Env, key: &Windowed<K>| {
            let err = |source| StreamsError::Serialization {
                context: name.to_string(),
                source,
            };
            let store = store_slot(env, &name)?
                .as_window_store()
                .ok_or_else(|| not_windowed(&name, "window"))?;
            let key_bytes = key_serde.serialize(&key.key).map_err(err)?;
            store
                .fetch(&key_bytes, key.window.start)?
                .map(|bytes| decode_value_and_timestamp(&*value_serde, &bytes).map_err(err))
                .transpose()
        }),
    }
}

/// Reads a session table's row (its timestamp is the session end) from its session store.
fn session_getter<K: 'static, VA: 'static>(
    store: &str,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<VA>,
) -> ValueGetter<Windowed<K>, VA> {
    let name: Arc<str> = Arc::from(store);
    let null_serde = Arc::clone(&key_serde);
    ValueGetter {
        stores: vec![store.to_owned()],
        versioned: None,
        null_key: Arc::new(move |key: &Windowed<K>| null_serde.is_null(&key.key)),
        get: Arc::new(move |env: &mut Env, key: &Windowed<K>| {
            let err = |source| StreamsError::Serialization {
                context: name.to_string(),
                source,
            };
            let store = store_slot(env, &name)?
                .as_session_store()
                .ok_or_else(|| not_windowed(&name, "session"))?;
            let key_bytes = key_serde.serialize(&key.key).map_err(err)?;
            store
                .fetch_session(&key_bytes, key.window.start, key.window.end)?
                .map(|bytes| {
                    Ok(ValueAndTimestamp {
                        value: value_serde.deserialize(&bytes).map_err(err)?,
                        timestamp: key.window.end,
                    })
                })
                .transpose()
        }),
    }
}

/// A grouped stream in time windows (tumbling, hopping or sliding), ready to aggregate per key
/// and window (Kafka Streams' `TimeWindowedKStream`).
///
/// ```
/// use std::time::Duration;
/// use streams_core::dsl::{Consumed, StreamsBuilder, TimeWindows};
/// use streams_core::serde::Serdes;
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream::<String, String>("clicks", Consumed::with(Serdes::string(), Serdes::string()))
///     .group_by_key()
///     .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60))?)
///     .count();
/// let topology = builder.build()?;
/// assert!(topology.describe().to_string().contains(
///     "Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])"
/// ));
/// # Ok::<(), streams_core::StreamsError>(())
/// ```
pub struct TimeWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    spec: TimeSpec,
}

impl<K: Clone + 'static, V: Clone + 'static> TimeWindowedKStream<K, V> {
    /// Counts the records of each key and window.
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        self.count_with(Materialized::new())
    }

    /// [`count`](Self::count) with store options.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        let materialized = materialized.or_value_serde(|| Arc::new(I64Serde));
        self.aggregate_impl("KSTREAM-AGGREGATE-", None, materialized, Aggregation::count())
    }

    /// Combines the values of each key and window with `reducer(aggregate, value)`.
    pub fn reduce(&self, reducer: impl Fn(V, V) -> V + Send + Sync + 'static) -> KTable<Windowed<K>, V> {
        self.reduce_with(reducer, Materialized::new())
    }

    /// [`reduce`](Self::reduce) with store options.
    pub fn reduce_with(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        let materialized = materialized.or_value_serde_from(self.grouped.value_serde());
        self.aggregate_impl(
            "KSTREAM-REDUCE-",
            None,
            materialized,
            Aggregation::Reduce {
                reducer: Arc::new(reducer),
            },
        )
    }

    /// Folds the values of each key and window: `initializer()` starts a window's aggregate,
    /// `aggregator(key, value, aggregate)` updates it. `materialized` must carry the
    /// aggregate's value serde.
    pub fn aggregate<VA: Clone + 'static>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.aggregate_named(None, initializer, aggregator, materialized)
    }

    /// [`aggregate`](Self::aggregate) with a processor name.
    pub fn aggregate_named<VA: Clone + 'static>(
        &self,
        named: Option<Named>,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.aggregate_impl(
            "KSTREAM-AGGREGATE-",
            named,
            materialized,
            Aggregation::Aggregate {
                initializer: Arc::new(initializer),
                aggregator: Arc::new(aggregator),
            },
        )
    }

    fn aggregate_impl<VA: Clone + 'static>(
        &self,
        prefix: &str,
        named: Option<Named>,
        materialized: Materialized<K, VA>,
        aggregation: Aggregation<K, V, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let (store, name, input) = self
            .grouped
            .prepare_aggregation(prefix, named, materialized.name.clone());
        let builder = Arc::clone(self.grouped.builder());
        let mut b = lock(&builder);
        let (size, grace, min_retention) = self.spec.sizes();
        let what = match self.spec {
            TimeSpec::Fixed(_) => "its window size plus the grace period",
            TimeSpec::Sliding(_) => "twice its time difference plus the grace period",
        };
        let retention = retention_ms(&mut b, &store, &materialized, min_retention, what);
        let (key_serde, value_serde) =
            aggregation_serdes(&mut b, &name, &store, &materialized, self.grouped.key_serde());
        let supplier_store = store.clone();
        let engine = window_engine(
            &mut b,
            &store,
            &materialized,
            Arc::new(move |store_type| default_window_store_supplier(&supplier_store, retention, size, store_type)),
        );
        let send_old_values = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&send_old_values);
        let processor_store = store.clone();
        let spec = self.spec;
        let factory = match spec {
            TimeSpec::Fixed(windows) => processor_factory(move || {
                Box::new(TimeWindowAggregateProcessor::<K, V, VA> {
                    store: processor_store.clone(),
                    windows,
                    aggregation: aggregation.clone(),
                    send_old_values: Arc::clone(&flag),
                    handle: None,
                    cached: false,
                    observed_stream_time: i64::MIN,
                    buffers: Default::default(),
                }) as Box<dyn Processor<K, V, Windowed<K>, Change<VA>>>
            }),
            TimeSpec::Sliding(windows) => processor_factory(move || {
                Box::new(SlidingWindowAggregateProcessor::<K, V, VA> {
                    store: processor_store.clone(),
                    windows,
                    aggregation: aggregation.clone(),
                    send_old_values: Arc::clone(&flag),
                    handle: None,
                    cached: false,
                    observed_stream_time: i64::MIN,
                }) as Box<dyn Processor<K, V, Windowed<K>, Change<VA>>>
            }),
        };
        let node = b.add_node(name, NodeKind::Processor, &[input.node], vec![store.clone()], factory);
        let forwarder = window_forwarder(
            &b.nodes[node].name,
            &store,
            Arc::clone(&key_serde),
            Arc::clone(&value_serde),
            size,
            Arc::clone(&send_old_values),
        );
        b.add_store(StoreSpec {
            name: store.clone(),
            engine,
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            timestamped: true,
            logging: materialized.logging,
            caching: materialized.caching,
            forwarder: Some(forwarder),
        });
        drop(b);
        let getter = window_getter(&store, Arc::clone(&key_serde), Arc::clone(&value_serde));
        let windowed_serde: SharedSerde<Windowed<K>> = Arc::new(TimeWindowedSerde::shared(key_serde, size));
        let mut table = KTable::new(
            builder,
            node,
            Some(windowed_serde),
            Some(value_serde),
            Some(store),
            getter,
            send_old_values,
            input.source_topics.clone(),
        );
        table.window_grace = Some(grace);
        table
    }
}

/// A grouped stream in session windows, ready to aggregate per key and session (Kafka
/// Streams' `SessionWindowedKStream`).
pub struct SessionWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    windows: SessionWindows,
}

impl<K: Clone + 'static, V: Clone + 'static> SessionWindowedKStream<K, V> {
    /// Counts the records of each key and session.
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        self.count_with(Materialized::new())
    }

    /// [`count`](Self::count) with store options.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        let materialized = materialized.or_value_serde(|| Arc::new(I64Serde));
        self.aggregate_impl(
            "KSTREAM-AGGREGATE-",
            None,
            materialized,
            Aggregation::count(),
            Arc::new(|_: &K, a: Option<i64>, b: i64| a.unwrap_or(0) + b),
        )
    }

    /// Combines the values of each key and session with `reducer(aggregate, value)`; merging
    /// sessions reduces their aggregates the same way.
    pub fn reduce(&self, reducer: impl Fn(V, V) -> V + Send + Sync + 'static) -> KTable<Windowed<K>, V> {
        self.reduce_with(reducer, Materialized::new())
    }

    /// [`reduce`](Self::reduce) with store options.
    pub fn reduce_with(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<Windowed<K>, V> {
        let materialized = materialized.or_value_serde_from(self.grouped.value_serde());
        let reducer: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(reducer);
        let merge_reducer = Arc::clone(&reducer);
        self.aggregate_impl(
            "KSTREAM-REDUCE-",
            None,
            materialized,
            Aggregation::Reduce { reducer },
            Arc::new(move |_: &K, a: Option<V>, b: V| match a {
                Some(a) => merge_reducer(a, b),
                None => b,
            }),
        )
    }

    /// Folds the values of each key and session: `initializer()` starts a session's
    /// aggregate, `aggregator(key, value, aggregate)` updates it, and `merger(key, aggregate,
    /// other)` combines the aggregates of sessions a record bridges.
    pub fn aggregate<VA: Clone + 'static>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        merger: impl Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        self.aggregate_named(None, initializer, aggregator, merger, materialized)
    }

    /// [`aggregate`](Self::aggregate) with a processor name.
    pub fn aggregate_named<VA: Clone + 'static>(
        &self,
        named: Option<Named>,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        merger: impl Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let initializer: Arc<dyn Fn() -> VA + Send + Sync> = Arc::new(initializer);
        let merge_initializer = Arc::clone(&initializer);
        self.aggregate_impl(
            "KSTREAM-AGGREGATE-",
            named,
            materialized,
            Aggregation::Aggregate {
                initializer,
                aggregator: Arc::new(aggregator),
            },
            Arc::new(move |k: &K, a: Option<VA>, b: VA| merger(k, a.unwrap_or_else(|| merge_initializer()), b)),
        )
    }

    fn aggregate_impl<VA: Clone + 'static>(
        &self,
        prefix: &str,
        named: Option<Named>,
        materialized: Materialized<K, VA>,
        aggregation: Aggregation<K, V, VA>,
        merger: Arc<dyn Fn(&K, Option<VA>, VA) -> VA + Send + Sync>,
    ) -> KTable<Windowed<K>, VA> {
        let (store, name, input) = self
            .grouped
            .prepare_aggregation(prefix, named, materialized.name.clone());
        let builder = Arc::clone(self.grouped.builder());
        let mut b = lock(&builder);
        let windows = self.windows;
        let min_retention = windows.inactivity_gap_ms().saturating_add(windows.grace_ms());
        let retention = retention_ms(
            &mut b,
            &store,
            &materialized,
            min_retention,
            "its inactivity gap plus the grace period",
        );
        let (key_serde, value_serde) =
            aggregation_serdes(&mut b, &name, &store, &materialized, self.grouped.key_serde());
        let supplier_store = store.clone();
        let engine = window_engine(
            &mut b,
            &store,
            &materialized,
            Arc::new(move |store_type| default_session_store_supplier(&supplier_store, retention, store_type)),
        );
        let send_old_values = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&send_old_values);
        let processor_store = store.clone();
        let factory = processor_factory(move || {
            Box::new(SessionWindowAggregateProcessor::<K, V, VA> {
                store: processor_store.clone(),
                windows,
                aggregation: aggregation.clone(),
                merger: Arc::clone(&merger),
                send_old_values: Arc::clone(&flag),
                handle: None,
                cached: false,
                observed_stream_time: i64::MIN,
            }) as Box<dyn Processor<K, V, Windowed<K>, Change<VA>>>
        });
        let node = b.add_node(name, NodeKind::Processor, &[input.node], vec![store.clone()], factory);
        let forwarder = session_forwarder(
            &b.nodes[node].name,
            &store,
            Arc::clone(&key_serde),
            Arc::clone(&value_serde),
            Arc::clone(&send_old_values),
        );
        b.add_store(StoreSpec {
            name: store.clone(),
            engine,
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            timestamped: false,
            logging: materialized.logging,
            caching: materialized.caching,
            forwarder: Some(forwarder),
        });
        drop(b);
        let getter = session_getter(&store, Arc::clone(&key_serde), Arc::clone(&value_serde));
        let windowed_serde: SharedSerde<Windowed<K>> = Arc::new(SessionWindowedSerde::shared(key_serde));
        let mut table = KTable::new(
            builder,
            node,
            Some(windowed_serde),
            Some(value_serde),
            Some(store),
            getter,
            send_old_values,
            input.source_topics.clone(),
        );
        // A session can still grow until its end plus the gap plus the grace period; that is
        // when suppression may emit it (as Kafka Streams' `findAndVerifyWindowGrace`).
        table.window_grace = Some(windows.grace_ms().saturating_add(windows.inactivity_gap_ms()));
        table
    }
}
