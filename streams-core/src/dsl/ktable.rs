//! `KTable`: a changelog stream seen as a table with one current value per key.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::operators::{OptionSerde, Predicate, TableFilterProcessor, TableMapValuesProcessor, TableToStreamProcessor};
use super::{lock, processor_factory, KStream, Named, Shared, ValueGetter};
use crate::processor::{Change, Processor};
use crate::serde::SharedSerde;
use crate::topology::{NodeKind, TopicName};

/// A table of `K` to `V`: each update replaces the row of its key; a delete removes it.
///
/// Downstream operators receive the table's changes. Tables from a topic or an aggregation are
/// materialized in a store that joins read.
pub struct KTable<K, V> {
    pub(crate) builder: Shared,
    pub(crate) node: usize,
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) store: Option<String>,
    pub(crate) getter: ValueGetter<K, V>,
    pub(crate) send_old_values: Arc<AtomicBool>,
    pub(crate) source_topics: BTreeSet<TopicName>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable {
            builder: Arc::clone(&self.builder),
            node: self.node,
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            store: self.store.clone(),
            getter: self.getter.clone(),
            send_old_values: Arc::clone(&self.send_old_values),
            source_topics: self.source_topics.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        builder: Shared,
        node: usize,
        key_serde: Option<SharedSerde<K>>,
        value_serde: Option<SharedSerde<V>>,
        store: Option<String>,
        getter: ValueGetter<K, V>,
        send_old_values: Arc<AtomicBool>,
        source_topics: BTreeSet<TopicName>,
    ) -> Self {
        KTable {
            builder,
            node,
            key_serde,
            value_serde,
            store,
            getter,
            send_old_values,
            source_topics,
            _types: PhantomData,
        }
    }

    /// The name of the store the table is materialized in, if it is.
    pub fn queryable_store_name(&self) -> Option<&str> {
        self.store.as_deref()
    }

    fn add<V2: Clone + 'static, P>(
        &self,
        named: Option<Named>,
        prefix: &str,
        make: impl Fn() -> P + Send + Sync + 'static,
    ) -> usize
    where
        P: Processor<K, Change<V>, K, Change<V2>> + 'static,
    {
        let mut b = lock(&self.builder);
        let name = b.name_or(named.map(|n| n.0), prefix);
        b.add_node(
            name,
            NodeKind::Processor,
            &[self.node],
            Vec::new(),
            processor_factory(move || Box::new(make()) as Box<dyn Processor<K, Change<V>, K, Change<V2>>>),
        )
    }

    fn filter_impl(&self, named: Option<Named>, keep_if: bool, predicate: Predicate<K, V>) -> KTable<K, V> {
        let send_old_values = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&send_old_values);
        let processor_predicate = Arc::clone(&predicate);
        let node = self.add(named, "KTABLE-FILTER-", move || TableFilterProcessor {
            predicate: Arc::clone(&processor_predicate),
            keep_if,
            send_old_values: Arc::clone(&flag),
        });
        let parent = self.getter.clone();
        let getter = ValueGetter {
            stores: parent.stores.clone(),
            get: Arc::new(move |env, key: &K| {
                Ok((parent.get)(env, key)?.filter(|row| predicate(key, &row.value) == keep_if))
            }),
        };
        KTable::new(
            Arc::clone(&self.builder),
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            None,
            getter,
            send_old_values,
            self.source_topics.clone(),
        )
    }

    /// Keeps the rows for which `predicate` is true; an update that fails it becomes a delete
    /// downstream.
    pub fn filter(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KTable<K, V> {
        self.filter_impl(None, true, Arc::new(predicate))
    }

    /// [`filter`](Self::filter) with a processor name.
    pub fn filter_named(
        &self,
        named: Named,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KTable<K, V> {
        self.filter_impl(Some(named), true, Arc::new(predicate))
    }

    /// Drops the rows for which `predicate` is true.
    pub fn filter_not(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KTable<K, V> {
        self.filter_impl(None, false, Arc::new(predicate))
    }

    /// Replaces each row's value.
    pub fn map_values<V2: Clone + 'static>(
        &self,
        mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
    ) -> KTable<K, V2> {
        self.map_values_named_impl(None, mapper)
    }

    /// [`map_values`](Self::map_values) with a processor name.
    pub fn map_values_named<V2: Clone + 'static>(
        &self,
        named: Named,
        mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
    ) -> KTable<K, V2> {
        self.map_values_named_impl(Some(named), mapper)
    }

    fn map_values_named_impl<V2: Clone + 'static>(
        &self,
        named: Option<Named>,
        mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
    ) -> KTable<K, V2> {
        let mapper: Arc<dyn Fn(&K, V) -> V2 + Send + Sync> = Arc::new(mapper);
        let processor_mapper = Arc::clone(&mapper);
        let node = self.add(named, "KTABLE-MAPVALUES-", move || TableMapValuesProcessor {
            mapper: Arc::clone(&processor_mapper),
        });
        let parent = self.getter.clone();
        let getter = ValueGetter {
            stores: parent.stores.clone(),
            get: Arc::new(move |env, key: &K| {
                Ok((parent.get)(env, key)?.map(|row| crate::processor::ValueAndTimestamp {
                    value: mapper(key, row.value),
                    timestamp: row.timestamp,
                }))
            }),
        };
        KTable::new(
            Arc::clone(&self.builder),
            node,
            self.key_serde.clone(),
            None,
            None,
            getter,
            Arc::new(AtomicBool::new(false)),
            self.source_topics.clone(),
        )
    }

    /// The table's changes as a stream: each update's new value, `None` for deletes.
    pub fn to_stream(&self) -> KStream<K, Option<V>> {
        self.to_stream_named_impl(None)
    }

    /// [`to_stream`](Self::to_stream) with a processor name.
    pub fn to_stream_named(&self, named: Named) -> KStream<K, Option<V>> {
        self.to_stream_named_impl(Some(named))
    }

    fn to_stream_named_impl(&self, named: Option<Named>) -> KStream<K, Option<V>> {
        let mut b = lock(&self.builder);
        let name = b.name_or(named.map(|n| n.0), "KTABLE-TOSTREAM-");
        let node = b.add_node(
            name,
            NodeKind::Processor,
            &[self.node],
            Vec::new(),
            processor_factory(|| Box::new(TableToStreamProcessor) as Box<dyn Processor<K, Change<V>, K, Option<V>>>),
        );
        drop(b);
        let value_serde: Option<SharedSerde<Option<V>>> = self
            .value_serde
            .clone()
            .map(|s| Arc::new(OptionSerde(s)) as SharedSerde<Option<V>>);
        KStream::new(
            Arc::clone(&self.builder),
            node,
            self.key_serde.clone(),
            value_serde,
            false,
            self.source_topics.clone(),
        )
    }
}
