//! The typed DSL: [`StreamsBuilder`], [`KStream`], [`KTable`], [`KGroupedStream`],
//! [`KGroupedTable`].
//!
//! Handles are cheap (a node id and a reference to the builder); each operation adds one node
//! and returns a new handle typed by what flows out of it, so a pipeline that does not
//! type-check does not compile.
//!
//! ```
//! use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
//! use streams_core::serde::Serdes;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()))
//!     .filter(|_, order| !order.is_empty())
//!     .map_values(|order| order.to_uppercase())
//!     .to("orders-upper", Produced::with(Serdes::string(), Serdes::string()));
//! let topology = builder.build()?;
//! assert!(topology.describe().to_string().contains("KSTREAM-FILTER-0000000001"));
//! # Ok::<(), streams_core::StreamsError>(())
//! ```

mod global;
mod grouped;
mod grouped_table;
mod kstream;
mod ktable;
pub(crate) mod operators;
mod options;
mod stream_join;
mod suppress;
mod window_ops;
mod windowed;
mod windows;

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

pub use global::GlobalKTable;
pub use grouped::KGroupedStream;
pub use grouped_table::KGroupedTable;
pub use kstream::{BranchedKStream, Branches, KStream};
pub use ktable::KTable;
pub use options::{Branched, Consumed, Grouped, Joined, Materialized, Named, Produced, Repartitioned, StreamJoined};
pub use suppress::{BufferConfig, Suppressed};
pub use windowed::{SessionWindowedKStream, TimeWindowedKStream, Windowing};
pub use windows::{JoinWindows, SessionWindows, SlidingWindows, TimeWindows, Window, Windowed};

use crate::internals::node::{
    Env, ProcessorNode, RuntimeNode, SinkNode, SourceNode, StoreMeta, TimestampedChangeForwarder,
};
use crate::internals::partitioner::StreamPartitioner;
use crate::processor::{Processor, ValueAndTimestamp};
use crate::serde::SharedSerde;
use crate::state::{decode_value_and_timestamp, StoreBuilder};
use crate::topology::{
    ForwarderFactory, NodeBuildCtx, NodeDef, NodeFactory, NodeKind, RepartitionTopicDef, StoreDef, StoreEngine,
    TopicName, Topology,
};
use crate::StreamsError;
use operators::{MissingSerde, OptionSerde, TableSourceProcessor};

/// Reads a table's current row for a key, as a join sees it.
pub(crate) struct ValueGetter<K, V> {
    pub(crate) stores: Vec<String>,
    pub(crate) get: Arc<dyn Fn(&mut Env, &K) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> + Send + Sync>,
    /// Whether a key is null on the wire; the table has no row for it and joins treat it as
    /// Kafka Streams treats null keys.
    pub(crate) null_key: Arc<dyn Fn(&K) -> bool + Send + Sync>,
    /// Lookups as of a time, when the table is versioned.
    pub(crate) versioned: Option<VersionedGetter<K, V>>,
}

impl<K, V> Clone for ValueGetter<K, V> {
    fn clone(&self) -> Self {
        ValueGetter {
            stores: self.stores.clone(),
            get: Arc::clone(&self.get),
            null_key: Arc::clone(&self.null_key),
            versioned: self.versioned.clone(),
        }
    }
}

/// Reads a versioned table's row for a key as of a time.
pub(crate) type AsOfGet<K, V> =
    Arc<dyn Fn(&mut Env, &K, i64) -> Result<Option<ValueAndTimestamp<V>>, StreamsError> + Send + Sync>;

/// How a versioned table answers lookups as of a time.
pub(crate) struct VersionedGetter<K, V> {
    /// The history retention of the table's store (ms).
    pub(crate) history_retention: i64,
    pub(crate) get_as_of: AsOfGet<K, V>,
}

impl<K, V> Clone for VersionedGetter<K, V> {
    fn clone(&self) -> Self {
        VersionedGetter {
            history_retention: self.history_retention,
            get_as_of: Arc::clone(&self.get_as_of),
        }
    }
}

impl<K: 'static, V: 'static> VersionedGetter<K, V> {
    /// The same lookups with each row passed through `map` (for tables derived without a
    /// store of their own: `filter`, `map_values`).
    pub(crate) fn map<V2: 'static>(
        &self,
        map: impl Fn(&K, ValueAndTimestamp<V>) -> Option<ValueAndTimestamp<V2>> + Send + Sync + 'static,
    ) -> VersionedGetter<K, V2> {
        let parent = Arc::clone(&self.get_as_of);
        VersionedGetter {
            history_retention: self.history_retention,
            get_as_of: Arc::new(move |env, key, as_of| Ok(parent(env, key, as_of)?.and_then(|row| map(key, row)))),
        }
    }
}

impl<K: 'static, V: 'static> ValueGetter<K, V> {
    /// Reads rows from the timestamped store `store`.
    pub(crate) fn from_store(store: &str, key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        let name: Arc<str> = Arc::from(store);
        let lookup = Arc::clone(&name);
        let null_serde = Arc::clone(&key_serde);
        ValueGetter {
            stores: vec![store.to_owned()],
            versioned: None,
            null_key: Arc::new(move |key: &K| null_serde.is_null(key)),
            get: Arc::new(move |env: &mut Env, key: &K| {
                let err = |source| StreamsError::Serialization {
                    context: lookup.to_string(),
                    source,
                };
                let slot = env
                    .stores
                    .iter()
                    .find(|s| s.name == lookup)
                    .ok_or_else(|| StreamsError::StoreAccess {
                        store: lookup.to_string(),
                        reason: "table store is not in this task".into(),
                    })?;
                let key = key_serde.serialize(key).map_err(err)?;
                slot.store
                    .get(&key)?
                    .map(|bytes| decode_value_and_timestamp(&*value_serde, &bytes).map_err(err))
                    .transpose()
            }),
        }
    }
}

impl<K: 'static, V: 'static> ValueGetter<K, V> {
    /// [`from_store`](Self::from_store) for a versioned store keeping `history_retention` ms:
    /// latest rows as there, and rows as of a time.
    pub(crate) fn from_versioned_store(
        store: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        history_retention: i64,
    ) -> Self {
        let mut getter = Self::from_store(store, Arc::clone(&key_serde), Arc::clone(&value_serde));
        let lookup: Arc<str> = Arc::from(store);
        getter.versioned = Some(VersionedGetter {
            history_retention,
            get_as_of: Arc::new(move |env: &mut Env, key: &K, as_of: i64| {
                let err = |source| StreamsError::Serialization {
                    context: lookup.to_string(),
                    source,
                };
                let not_versioned = || StreamsError::StoreAccess {
                    store: lookup.to_string(),
                    reason: "the table's store is not versioned in this task".into(),
                };
                let slot = env.stores.iter().find(|s| s.name == lookup).ok_or_else(not_versioned)?;
                let versions = slot.store.as_versioned_store().ok_or_else(not_versioned)?;
                let key = key_serde.serialize(key).map_err(err)?;
                versions
                    .get_as_of(&key, as_of)?
                    .map(|r| {
                        Ok(ValueAndTimestamp {
                            value: value_serde.deserialize(&r.value).map_err(err)?,
                            timestamp: r.timestamp,
                        })
                    })
                    .transpose()
            }),
        });
        getter
    }
}

pub(crate) struct BuilderInner {
    pub(crate) nodes: Vec<NodeDef>,
    pub(crate) stores: Vec<StoreDef>,
    pub(crate) index: u64,
    pub(crate) repartition_topics: Vec<RepartitionTopicDef>,
    pub(crate) copartition_groups: Vec<BTreeSet<TopicName>>,
    pub(crate) errors: Vec<String>,
}

impl BuilderInner {
    pub(crate) fn next_index(&mut self) -> u64 {
        let i = self.index;
        self.index += 1;
        i
    }

    /// `<prefix><10-digit index>`, as Kafka Streams generates processor names.
    pub(crate) fn new_processor_name(&mut self, prefix: &str) -> String {
        format!("{prefix}{:010}", self.next_index())
    }

    /// `<prefix>STATE-STORE-<10-digit index>`, as Kafka Streams generates store names.
    pub(crate) fn new_store_name(&mut self, prefix: &str) -> String {
        format!("{prefix}STATE-STORE-{:010}", self.next_index())
    }

    pub(crate) fn name_or(&mut self, given: Option<String>, prefix: &str) -> String {
        given.unwrap_or_else(|| self.new_processor_name(prefix))
    }

    pub(crate) fn add_node(
        &mut self,
        name: String,
        kind: NodeKind,
        parents: &[usize],
        stores: Vec<String>,
        factory: NodeFactory,
    ) -> usize {
        let id = self.nodes.len();
        for &p in parents {
            self.nodes[p].children.push(id);
        }
        self.nodes.push(NodeDef {
            name,
            kind,
            parents: parents.to_vec(),
            children: Vec::new(),
            stores,
            factory,
            global: false,
        });
        id
    }

    pub(crate) fn add_store<K: 'static, V: 'static>(&mut self, def: StoreSpec<K, V>) {
        self.stores.push(StoreDef {
            name: def.name,
            engine: def.engine,
            meta: Arc::new(StoreMeta::new(def.key_serde, def.value_serde, def.timestamped)),
            logging: def.logging,
            caching: def.caching,
            forwarder: def.forwarder,
            global: false,
        });
    }

    /// Adds the timestamped store behind a table (a table source or an aggregation), whose
    /// cache flushes node `owner` forwards as `Change`s, and returns the table's value getter.
    pub(crate) fn add_table_store<K: Clone + 'static, V: Clone + 'static>(
        &mut self,
        owner: &str,
        store: &str,
        materialized: &Materialized<K, V>,
        key_serde: &SharedSerde<K>,
        value_serde: &SharedSerde<V>,
        send_old_values: &Arc<AtomicBool>,
    ) -> ValueGetter<K, V> {
        self.add_store(StoreSpec {
            name: store.to_owned(),
            engine: materialized.engine(),
            key_serde: Arc::clone(key_serde),
            value_serde: Arc::clone(value_serde),
            timestamped: true,
            logging: materialized.logging,
            caching: materialized.caching,
            forwarder: Some(change_forwarder(
                owner,
                store,
                Arc::clone(key_serde),
                Arc::clone(value_serde),
                Arc::clone(send_old_values),
            )),
        });
        match materialized.history_retention() {
            Some(history) => {
                ValueGetter::from_versioned_store(store, Arc::clone(key_serde), Arc::clone(value_serde), history)
            }
            None => ValueGetter::from_store(store, Arc::clone(key_serde), Arc::clone(value_serde)),
        }
    }

    /// Records a problem `build()` will report.
    pub(crate) fn error(&mut self, message: String) {
        self.errors.push(message);
    }
}

/// A store to add to the topology.
pub(crate) struct StoreSpec<K, V> {
    pub(crate) name: String,
    pub(crate) engine: StoreEngine,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) timestamped: bool,
    pub(crate) logging: bool,
    pub(crate) caching: bool,
    pub(crate) forwarder: Option<(String, ForwarderFactory)>,
}

/// Forwards a timestamped store's cache flushes as `Change` records from node `owner`.
pub(crate) fn change_forwarder<K: Clone + 'static, V: Clone + 'static>(
    owner: &str,
    store: &str,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    send_old_values: Arc<AtomicBool>,
) -> (String, ForwarderFactory) {
    let store: Arc<str> = Arc::from(store);
    let factory: ForwarderFactory = Arc::new(move || {
        Box::new(TimestampedChangeForwarder {
            store: Arc::clone(&store),
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            send_old_values: send_old_values.load(std::sync::atomic::Ordering::Relaxed),
        })
    });
    (owner.to_owned(), factory)
}

pub(crate) type Shared = Arc<Mutex<BuilderInner>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, BuilderInner> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A node factory for a processor made by `make`.
pub(crate) fn processor_factory<KIn, VIn, KOut, VOut, F>(make: F) -> NodeFactory
where
    KIn: 'static,
    VIn: 'static,
    KOut: Clone + 'static,
    VOut: Clone + 'static,
    F: Fn() -> Box<dyn Processor<KIn, VIn, KOut, VOut>> + Send + Sync + 'static,
{
    Arc::new(move |ctx: &NodeBuildCtx<'_>| {
        Box::new(ProcessorNode {
            id: ctx.id,
            name: Arc::clone(&ctx.name),
            children: ctx.children.clone(),
            child_names: ctx.child_names.clone(),
            processor: make(),
            _types: PhantomData,
        }) as Box<dyn RuntimeNode>
    })
}

pub(crate) fn source_factory<K: Clone + 'static, V: Clone + 'static>(
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
) -> NodeFactory {
    Arc::new(move |ctx: &NodeBuildCtx<'_>| {
        Box::new(SourceNode {
            name: Arc::clone(&ctx.name),
            children: ctx.children.clone(),
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
        }) as Box<dyn RuntimeNode>
    })
}

pub(crate) fn sink_factory<K: 'static, V: 'static>(
    topic: TopicName,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
) -> NodeFactory {
    Arc::new(move |ctx: &NodeBuildCtx<'_>| {
        Box::new(SinkNode {
            name: Arc::clone(&ctx.name),
            topic: ctx.topic(&topic),
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            partitioner: partitioner.clone(),
        }) as Box<dyn RuntimeNode>
    })
}

pub(crate) fn missing_serde<T: 'static>(what: String) -> SharedSerde<T> {
    Arc::new(MissingSerde(what))
}

/// Records a topology: sources, operators, stores, sinks. Call [`build`](Self::build) to get
/// a [`Topology`].
#[derive(Clone)]
pub struct StreamsBuilder {
    inner: Shared,
}

impl Default for StreamsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        StreamsBuilder {
            inner: Arc::new(Mutex::new(BuilderInner {
                nodes: Vec::new(),
                stores: Vec::new(),
                index: 0,
                repartition_topics: Vec::new(),
                copartition_groups: Vec::new(),
                errors: Vec::new(),
            })),
        }
    }

    /// A stream of the records of `topic`.
    pub fn stream<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        self.stream_from_topics(&[topic], consumed)
    }

    /// One stream of the records of several topics (one source node).
    pub fn stream_from_topics<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topics: &[&str],
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        let topics: Vec<TopicName> = topics.iter().map(|t| TopicName::user(*t)).collect();
        let mut b = lock(&self.inner);
        let name = b.name_or(consumed.name, "KSTREAM-SOURCE-");
        let factory = source_factory(Arc::clone(&consumed.key_serde), Arc::clone(&consumed.value_serde));
        let node = b.add_node(
            name,
            NodeKind::Source { topics: topics.clone() },
            &[],
            Vec::new(),
            factory,
        );
        drop(b);
        KStream::new(
            Arc::clone(&self.inner),
            node,
            Some(consumed.key_serde),
            Some(consumed.value_serde),
            false,
            topics.into_iter().collect(),
        )
    }

    /// A table of the latest value per key of `topic` (null values delete), materialized in a
    /// store named `<topic>-STATE-STORE-<n>`.
    pub fn table<K: Clone + 'static, V: Clone + 'static>(&self, topic: &str, consumed: Consumed<K, V>) -> KTable<K, V> {
        self.table_with(topic, consumed, Materialized::new())
    }

    /// A table of `topic` materialized as `materialized` says.
    pub fn table_with<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let mut b = lock(&self.inner);
        let store = match materialized.name.clone() {
            Some(name) => name,
            None => b.new_store_name(&format!("{topic}-")),
        };
        let source_name = b.name_or(consumed.name.clone(), "KSTREAM-SOURCE-");
        // As in Kafka Streams: `<source name>-table-source` when the source is named, the
        // generated name's index consumed either way.
        let generated_table_name = b.new_processor_name("KTABLE-SOURCE-");
        let table_name = match consumed.name {
            Some(name) => format!("{name}-table-source"),
            None => generated_table_name,
        };
        let key_serde = materialized.key_serde.clone().unwrap_or(consumed.key_serde);
        let value_serde = materialized.value_serde.clone().unwrap_or(consumed.value_serde);
        let topics = vec![TopicName::user(topic)];
        let nullable: SharedSerde<Option<V>> = Arc::new(OptionSerde(Arc::clone(&value_serde)));
        let source = b.add_node(
            source_name,
            NodeKind::Source { topics: topics.clone() },
            &[],
            Vec::new(),
            source_factory(Arc::clone(&key_serde), nullable),
        );
        let send_old_values = Arc::new(AtomicBool::new(false));
        let processor_store = store.clone();
        let flag = Arc::clone(&send_old_values);
        let node = b.add_node(
            table_name.clone(),
            NodeKind::Processor,
            &[source],
            vec![store.clone()],
            processor_factory(move || {
                Box::new(TableSourceProcessor::<K, V> {
                    store: processor_store.clone(),
                    send_old_values: Arc::clone(&flag),
                    handle: None,
                    versioned: None,
                    cached: false,
                })
            }),
        );
        let getter = b.add_table_store(
            &table_name,
            &store,
            &materialized,
            &key_serde,
            &value_serde,
            &send_old_values,
        );
        drop(b);
        KTable::new(
            Arc::clone(&self.inner),
            node,
            Some(key_serde),
            Some(value_serde),
            Some(store),
            getter,
            send_old_values,
            topics.into_iter().collect(),
        )
    }

    /// Adds a store that Processor API nodes can use (connect it by name in
    /// [`KStream::process`]).
    pub fn add_state_store<K: 'static, V: 'static>(&self, store: StoreBuilder<K, V>) -> &Self {
        let mut b = lock(&self.inner);
        b.add_store(StoreSpec {
            name: store.name().to_owned(),
            engine: StoreEngine::Supplier(store.supplier),
            key_serde: store.key_serde,
            value_serde: store.value_serde,
            timestamped: store.timestamped,
            logging: store.logging,
            caching: store.caching,
            forwarder: None,
        });
        self
    }

    /// Validates what was recorded and returns the [`Topology`].
    pub fn build(&self) -> Result<Topology, StreamsError> {
        let b = lock(&self.inner);
        if !b.errors.is_empty() {
            return Err(StreamsError::Topology(b.errors.join("; ")));
        }
        Topology::new(
            b.nodes.clone(),
            b.stores.clone(),
            b.repartition_topics.clone(),
            b.copartition_groups.clone(),
        )
    }
}
