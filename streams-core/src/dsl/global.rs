//! Global stores and [`GlobalKTable`]: state replicated whole to every instance.
//!
//! `StreamsBuilder::global_table` and `StreamsBuilder::add_global_store` add a global
//! sub-topology: a source reading every partition of a topic and a global processor writing a
//! global store. The store is not logged (its topic is its changelog), has no write cache, and
//! is read-only for stream tasks, which reach it through the processor context like their own
//! stores, or through a stream-global-table join.

use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::operators::{OptionSerde, TableSourceProcessor};
use super::{lock, processor_factory, source_factory, Consumed, Materialized, StoreSpec, StreamsBuilder, ValueGetter};
use crate::processor::Processor;
use crate::serde::SharedSerde;
use crate::state::StoreBuilder;
use crate::topology::{NodeKind, StoreEngine, TopicName};

/// A table whose every partition is held by every instance of the application, from
/// [`StreamsBuilder::global_table`]. Streams join it on any key they compute from their
/// records, without co-partitioning.
pub struct GlobalKTable<K, V> {
    pub(crate) store: String,
    pub(crate) getter: ValueGetter<K, V>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for GlobalKTable<K, V> {
    fn clone(&self) -> Self {
        GlobalKTable {
            store: self.store.clone(),
            getter: self.getter.clone(),
            _types: PhantomData,
        }
    }
}

impl<K, V> GlobalKTable<K, V> {
    /// The name of the global store holding the table.
    pub fn queryable_store_name(&self) -> &str {
        &self.store
    }
}

impl StreamsBuilder {
    /// A global table of `topic`: the latest value per key over every partition (null values
    /// delete), in a global store named `<topic>-STATE-STORE-<n>`.
    ///
    /// ```
    /// use streams_core::dsl::{Consumed, StreamsBuilder};
    /// use streams_core::serde::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let regions = builder.global_table::<String, String>("regions", Consumed::with(Serdes::string(), Serdes::string()));
    /// assert_eq!(regions.queryable_store_name(), "regions-STATE-STORE-0000000000");
    /// let description = builder.build()?.describe().to_string();
    /// assert!(description.contains("Sub-topology: 0 for global store (will not generate tasks)"));
    /// # Ok::<(), streams_core::StreamsError>(())
    /// ```
    pub fn global_table<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
    ) -> GlobalKTable<K, V> {
        self.global_table_with(topic, consumed, Materialized::new())
    }

    /// [`global_table`](Self::global_table) materialized as `materialized` says (name, engine,
    /// serdes; logging and caching settings do not apply to global stores).
    pub fn global_table_with<K: Clone + 'static, V: Clone + 'static>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> GlobalKTable<K, V> {
        let engine = materialized.engine();
        let mut b = lock(&self.inner);
        let store = match materialized.name {
            Some(name) => name,
            None => b.new_store_name(&format!("{topic}-")),
        };
        let key_serde = materialized.key_serde.unwrap_or(Arc::clone(&consumed.key_serde));
        let value_serde = materialized.value_serde.unwrap_or(Arc::clone(&consumed.value_serde));
        let nullable: SharedSerde<Option<V>> = Arc::new(OptionSerde(Arc::clone(&value_serde)));
        let processor_store = store.clone();
        let make = move || TableSourceProcessor::<K, V> {
            store: processor_store.clone(),
            send_old_values: Arc::new(AtomicBool::new(false)),
            handle: None,
            versioned: None,
            cached: false,
        };
        b.add_store(StoreSpec {
            name: store.clone(),
            engine,
            key_serde: Arc::clone(&key_serde),
            value_serde: Arc::clone(&value_serde),
            timestamped: true,
            logging: false,
            caching: false,
            forwarder: None,
        });
        drop(b);
        self.add_global_nodes(
            &store,
            topic,
            consumed.name,
            source_factory(Arc::clone(&key_serde), nullable),
            processor_factory(move || {
                Box::new(make()) as Box<dyn Processor<K, Option<V>, K, crate::processor::Change<V>>>
            }),
        );
        GlobalKTable {
            getter: ValueGetter::from_store(&store, key_serde, value_serde),
            store,
            _types: PhantomData,
        }
    }

    /// Adds a global store filled by a custom global processor: every record of every
    /// partition of `topic` goes to a processor made by `processor`, which writes the store
    /// (reached by name through its context) and forwards nothing. Stream processors read the
    /// store by connecting to it by name; for them it is read-only.
    ///
    /// When an instance starts, the store is restored by running the topic's records through
    /// the same processor (as Kafka Streams 3.7+ does for custom global processors), so state
    /// the processor keeps besides the store (parsed models, say) is rebuilt too. The store
    /// must have logging disabled: its topic is its changelog.
    ///
    /// ```
    /// use streams_core::dsl::{Consumed, StreamsBuilder};
    /// use streams_core::processor::{KeyValueStoreHandle, Processor, ProcessorContext, Record};
    /// use streams_core::serde::Serdes;
    /// use streams_core::state::Stores;
    /// use streams_core::StreamsError;
    ///
    /// /// Keeps the length of each config value.
    /// struct Lengths(Option<KeyValueStoreHandle<String, i64>>);
    ///
    /// impl Processor<String, String, (), ()> for Lengths {
    ///     fn init(&mut self, ctx: &mut ProcessorContext<'_, (), ()>) -> Result<(), StreamsError> {
    ///         self.0 = Some(ctx.key_value_store("lengths")?);
    ///         Ok(())
    ///     }
    ///     fn process(&mut self, record: Record<String, String>, ctx: &mut ProcessorContext<'_, (), ()>) -> Result<(), StreamsError> {
    ///         if let Some(handle) = &self.0 {
    ///             ctx.kv(handle).put(&record.key, &(record.value.len() as i64))?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let builder = StreamsBuilder::new();
    /// let store = Stores::key_value_store_builder::<String, i64>(Stores::in_memory_key_value_store("lengths"), Serdes::string(), Serdes::i64())
    ///     .with_logging_disabled();
    /// builder.add_global_store(store, "configs", Consumed::with(Serdes::string(), Serdes::string()), || Lengths(None));
    /// assert!(builder.build()?.has_global_stores());
    /// # Ok::<(), streams_core::StreamsError>(())
    /// ```
    pub fn add_global_store<K, V, SK, SV, P>(
        &self,
        store: StoreBuilder<SK, SV>,
        topic: &str,
        consumed: Consumed<K, V>,
        processor: impl Fn() -> P + Send + Sync + 'static,
    ) -> &Self
    where
        K: Clone + 'static,
        V: Clone + 'static,
        SK: 'static,
        SV: 'static,
        P: Processor<K, V, (), ()> + 'static,
    {
        let name = store.name().to_owned();
        let mut b = lock(&self.inner);
        if store.logging {
            b.error(format!(
                "global store `{name}` must have logging disabled (its topic `{topic}` is its changelog); \
                 call with_logging_disabled() on its StoreBuilder"
            ));
        }
        b.add_store(StoreSpec {
            name: name.clone(),
            engine: StoreEngine::Supplier(store.supplier),
            key_serde: store.key_serde,
            value_serde: store.value_serde,
            timestamped: store.timestamped,
            logging: false,
            caching: false,
            forwarder: None,
        });
        drop(b);
        self.add_global_nodes(
            &name,
            topic,
            consumed.name,
            source_factory(consumed.key_serde, consumed.value_serde),
            processor_factory(move || Box::new(processor()) as Box<dyn Processor<K, V, (), ()>>),
        );
        self
    }

    /// Adds a global store's source and processor (named as Kafka Streams names them:
    /// `KSTREAM-SOURCE-<n>` and `KTABLE-SOURCE-<n+1>`, or `<name>` and `<name>-table-source`
    /// when `Consumed` names the source) and marks them and the store, added last, global.
    fn add_global_nodes(
        &self,
        store: &str,
        topic: &str,
        source_name: Option<String>,
        source: crate::topology::NodeFactory,
        processor: crate::topology::NodeFactory,
    ) {
        let mut b = lock(&self.inner);
        let name = b.name_or(source_name.clone(), "KSTREAM-SOURCE-");
        let generated = b.new_processor_name("KTABLE-SOURCE-");
        let processor_name = source_name.map_or(generated, |n| format!("{n}-table-source"));
        let source = b.add_node(
            name,
            NodeKind::Source {
                topics: vec![TopicName::user(topic)],
            },
            &[],
            Vec::new(),
            source,
        );
        let node = b.add_node(
            processor_name,
            NodeKind::Processor,
            &[source],
            vec![store.to_owned()],
            processor,
        );
        b.nodes[source].global = true;
        b.nodes[node].global = true;
        if let Some(def) = b.stores.iter_mut().find(|d| d.name == store) {
            def.global = true;
        }
    }
}
