//! `KStream`: an unbounded stream of independent records.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::sync::Arc;

use super::operators::{
    BranchProcessor, FlatMapProcessor, FlatMapValuesProcessor, JoinBuffer, MappedValues, NullCheck, PassThrough,
    Predicate, StreamGlobalJoinProcessor, StreamTableJoinProcessor, StreamTableJoiner,
};
use super::{
    lock, missing_serde, processor_factory, sink_factory, source_factory, Branched, GlobalKTable, Grouped, Joined,
    KGroupedStream, KTable, Named, Produced, Repartitioned, Shared, StoreSpec,
};
use crate::internals::partitioner::StreamPartitioner;
use crate::internals::stateless::{inspect_factory, map_factory, Inspect, RecordMapper};
use crate::processor::{Processor, Record};
use crate::serde::SharedSerde;
use crate::topology::{NodeKind, RepartitionTopicDef, TopicName};

/// A stream of records with keys of type `K` and values of type `V`.
///
/// Every operation returns a new handle; the same stream can feed several operations.
pub struct KStream<K, V> {
    pub(crate) builder: Shared,
    pub(crate) node: usize,
    pub(crate) key_serde: Option<SharedSerde<K>>,
    pub(crate) value_serde: Option<SharedSerde<V>>,
    pub(crate) repartition_required: bool,
    pub(crate) source_topics: BTreeSet<TopicName>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream {
            builder: Arc::clone(&self.builder),
            node: self.node,
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            repartition_required: self.repartition_required,
            source_topics: self.source_topics.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    pub(crate) fn new(
        builder: Shared,
        node: usize,
        key_serde: Option<SharedSerde<K>>,
        value_serde: Option<SharedSerde<V>>,
        repartition_required: bool,
        source_topics: BTreeSet<TopicName>,
    ) -> Self {
        KStream {
            builder,
            node,
            key_serde,
            value_serde,
            repartition_required,
            source_topics,
            _types: PhantomData,
        }
    }

    fn derive<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        node: usize,
        key_serde: Option<SharedSerde<K2>>,
        value_serde: Option<SharedSerde<V2>>,
        repartition_required: bool,
    ) -> KStream<K2, V2> {
        KStream::new(
            Arc::clone(&self.builder),
            node,
            key_serde,
            value_serde,
            repartition_required,
            self.source_topics.clone(),
        )
    }

    /// Adds a stateless operator's node (see [`crate::internals::stateless`]) below this stream.
    fn add_stateless(&self, named: Option<Named>, prefix: &str, factory: crate::topology::NodeFactory) -> usize {
        let mut b = lock(&self.builder);
        let name = b.name_or(named.map(|n| n.0), prefix);
        b.add_node(name, NodeKind::Processor, &[self.node], Vec::new(), factory)
    }

    /// Adds a processor node below this stream.
    fn add<K2: Clone + 'static, V2: Clone + 'static, P>(
        &self,
        named: Option<Named>,
        prefix: &str,
        stores: Vec<String>,
        make: impl Fn() -> P + Send + Sync + 'static,
    ) -> usize
    where
        P: Processor<K, V, K2, V2> + 'static,
    {
        let mut b = lock(&self.builder);
        let name = b.name_or(named.map(|n| n.0), prefix);
        b.add_node(
            name,
            NodeKind::Processor,
            &[self.node],
            stores,
            processor_factory(move || Box::new(make()) as Box<dyn Processor<K, V, K2, V2>>),
        )
    }

    fn filter_impl(&self, named: Option<Named>, keep_if: bool, predicate: Predicate<K, V>) -> KStream<K, V> {
        let node = self.add_stateless(
            named,
            "KSTREAM-FILTER-",
            inspect_factory(Inspect::Filter { predicate, keep_if }),
        );
        self.derive(
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.repartition_required,
        )
    }

    /// Keeps the records for which `predicate` is true.
    pub fn filter(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KStream<K, V> {
        self.filter_impl(None, true, Arc::new(predicate))
    }

    /// [`filter`](Self::filter) with a processor name.
    pub fn filter_named(
        &self,
        named: Named,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.filter_impl(Some(named), true, Arc::new(predicate))
    }

    /// Drops the records for which `predicate` is true.
    pub fn filter_not(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KStream<K, V> {
        self.filter_impl(None, false, Arc::new(predicate))
    }

    /// [`filter_not`](Self::filter_not) with a processor name.
    pub fn filter_not_named(
        &self,
        named: Named,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.filter_impl(Some(named), false, Arc::new(predicate))
    }

    fn map_impl<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        named: Option<Named>,
        prefix: &str,
        mapper: RecordMapper<K, V, K2, V2>,
    ) -> usize {
        self.add_stateless(named, prefix, map_factory(mapper))
    }

    /// Replaces each record's key and value (marks the stream for repartitioning before a
    /// stateful operation).
    pub fn map<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        mapper: impl Fn(K, V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        self.map_named_impl(None, mapper)
    }

    /// [`map`](Self::map) with a processor name.
    pub fn map_named<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        named: Named,
        mapper: impl Fn(K, V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        self.map_named_impl(Some(named), mapper)
    }

    fn map_named_impl<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        named: Option<Named>,
        mapper: impl Fn(K, V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KStream<K2, V2> {
        let node = self.map_impl(
            named,
            "KSTREAM-MAP-",
            Arc::new(move |r: Record<K, V>| {
                let (k, v) = mapper(r.key, r.value);
                Record {
                    key: k,
                    value: v,
                    timestamp: r.timestamp,
                    headers: r.headers,
                }
            }),
        );
        self.derive(node, None, None, true)
    }

    /// Replaces each record's value; the key (and partitioning) is kept.
    pub fn map_values<V2: Clone + 'static>(&self, mapper: impl Fn(V) -> V2 + Send + Sync + 'static) -> KStream<K, V2> {
        self.map_values_with_key_impl(None, move |_, v| mapper(v))
    }

    /// [`map_values`](Self::map_values) with a processor name.
    pub fn map_values_named<V2: Clone + 'static>(
        &self,
        named: Named,
        mapper: impl Fn(V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        self.map_values_with_key_impl(Some(named), move |_, v| mapper(v))
    }

    /// Replaces each record's value, computed from key and value.
    pub fn map_values_with_key<V2: Clone + 'static>(
        &self,
        mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        self.map_values_with_key_impl(None, mapper)
    }

    fn map_values_with_key_impl<V2: Clone + 'static>(
        &self,
        named: Option<Named>,
        mapper: impl Fn(&K, V) -> V2 + Send + Sync + 'static,
    ) -> KStream<K, V2> {
        let node = self.map_impl(
            named,
            "KSTREAM-MAPVALUES-",
            Arc::new(move |r: Record<K, V>| {
                let value = mapper(&r.key, r.value);
                Record {
                    key: r.key,
                    value,
                    timestamp: r.timestamp,
                    headers: r.headers,
                }
            }),
        );
        self.derive(node, self.key_serde.clone(), None, self.repartition_required)
    }

    /// Replaces each record's key (marks the stream for repartitioning).
    pub fn select_key<K2: Clone + 'static>(
        &self,
        mapper: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> KStream<K2, V> {
        self.select_key_impl(None, mapper)
    }

    /// [`select_key`](Self::select_key) with a processor name.
    pub fn select_key_named<K2: Clone + 'static>(
        &self,
        named: Named,
        mapper: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> KStream<K2, V> {
        self.select_key_impl(Some(named), mapper)
    }

    fn select_key_impl<K2: Clone + 'static>(
        &self,
        named: Option<Named>,
        mapper: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> KStream<K2, V> {
        let node = self.map_impl(
            named,
            "KSTREAM-KEY-SELECT-",
            Arc::new(move |r: Record<K, V>| {
                let key = mapper(&r.key, &r.value);
                r.with_key(key)
            }),
        );
        self.derive(node, None, self.value_serde.clone(), true)
    }

    /// Turns each record into any number of records (marks the stream for repartitioning).
    pub fn flat_map<K2: Clone + 'static, V2: Clone + 'static, I>(
        &self,
        mapper: impl Fn(K, V) -> I + Send + Sync + 'static,
    ) -> KStream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)>,
    {
        self.flat_map_impl(
            None,
            "KSTREAM-FLATMAP-",
            move |k, v| mapper(k, v).into_iter().collect(),
            true,
        )
    }

    /// [`flat_map`](Self::flat_map) with a processor name.
    pub fn flat_map_named<K2: Clone + 'static, V2: Clone + 'static, I>(
        &self,
        named: Named,
        mapper: impl Fn(K, V) -> I + Send + Sync + 'static,
    ) -> KStream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)>,
    {
        self.flat_map_impl(
            Some(named),
            "KSTREAM-FLATMAP-",
            move |k, v| mapper(k, v).into_iter().collect(),
            true,
        )
    }

    /// Turns each value into any number of values under the same key.
    pub fn flat_map_values<V2: Clone + 'static, I>(
        &self,
        mapper: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> KStream<K, V2>
    where
        I: IntoIterator<Item = V2>,
    {
        self.flat_map_values_impl(None, mapper)
    }

    /// [`flat_map_values`](Self::flat_map_values) with a processor name.
    pub fn flat_map_values_named<V2: Clone + 'static, I>(
        &self,
        named: Named,
        mapper: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> KStream<K, V2>
    where
        I: IntoIterator<Item = V2>,
    {
        self.flat_map_values_impl(Some(named), mapper)
    }

    fn flat_map_values_impl<V2: Clone + 'static, I>(
        &self,
        named: Option<Named>,
        mapper: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> KStream<K, V2>
    where
        I: IntoIterator<Item = V2>,
    {
        let mapper: Arc<dyn Fn(V) -> MappedValues<V2> + Send + Sync> =
            Arc::new(move |v| MappedValues::collect(mapper(v)));
        let node = self.add(named, "KSTREAM-FLATMAPVALUES-", Vec::new(), move || {
            FlatMapValuesProcessor {
                mapper: Arc::clone(&mapper),
            }
        });
        self.derive(node, self.key_serde.clone(), None, self.repartition_required)
    }

    fn flat_map_impl<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        named: Option<Named>,
        prefix: &str,
        mapper: impl Fn(K, V) -> Vec<(K2, V2)> + Send + Sync + 'static,
        repartition_required: bool,
    ) -> KStream<K2, V2> {
        let mapper: Arc<dyn Fn(K, V) -> Vec<(K2, V2)> + Send + Sync> = Arc::new(mapper);
        let node = self.add(named, prefix, Vec::new(), move || FlatMapProcessor {
            mapper: Arc::clone(&mapper),
        });
        self.derive(node, None, None, repartition_required)
    }

    /// Calls `action` for each record and passes the record on unchanged.
    pub fn peek(&self, action: impl Fn(&K, &V) + Send + Sync + 'static) -> KStream<K, V> {
        self.peek_impl(None, "KSTREAM-PEEK-", Arc::new(action), true)
    }

    /// [`peek`](Self::peek) with a processor name.
    pub fn peek_named(&self, named: Named, action: impl Fn(&K, &V) + Send + Sync + 'static) -> KStream<K, V> {
        self.peek_impl(Some(named), "KSTREAM-PEEK-", Arc::new(action), true)
    }

    /// Calls `action` for each record; the stream ends here.
    pub fn for_each(&self, action: impl Fn(&K, &V) + Send + Sync + 'static) {
        self.peek_impl(None, "KSTREAM-FOREACH-", Arc::new(action), false);
    }

    /// [`for_each`](Self::for_each) with a processor name.
    pub fn for_each_named(&self, named: Named, action: impl Fn(&K, &V) + Send + Sync + 'static) {
        self.peek_impl(Some(named), "KSTREAM-FOREACH-", Arc::new(action), false);
    }

    fn peek_impl(
        &self,
        named: Option<Named>,
        prefix: &str,
        action: Arc<dyn Fn(&K, &V) + Send + Sync>,
        forward: bool,
    ) -> KStream<K, V> {
        let node = self.add_stateless(named, prefix, inspect_factory(Inspect::Peek { action, forward }));
        self.derive(
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.repartition_required,
        )
    }

    /// One stream with the records of both streams.
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        self.merge_impl(None, other)
    }

    /// [`merge`](Self::merge) with a processor name.
    pub fn merge_named(&self, named: Named, other: &KStream<K, V>) -> KStream<K, V> {
        self.merge_impl(Some(named), other)
    }

    fn merge_impl(&self, named: Option<Named>, other: &KStream<K, V>) -> KStream<K, V> {
        let mut b = lock(&self.builder);
        let name = b.name_or(named.map(|n| n.0), "KSTREAM-MERGE-");
        let node = b.add_node(
            name,
            NodeKind::Processor,
            &[self.node, other.node],
            Vec::new(),
            processor_factory(|| Box::new(PassThrough) as Box<dyn Processor<K, V, K, V>>),
        );
        drop(b);
        let mut merged = self.derive(
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.repartition_required || other.repartition_required,
        );
        merged.source_topics.extend(other.source_topics.iter().cloned());
        merged
    }

    /// Splits the stream into branches by predicates; see [`BranchedKStream`].
    pub fn split(&self) -> BranchedKStream<K, V> {
        self.split_impl(None)
    }

    /// [`split`](Self::split) with a name: the splitter is called `name`, and it prefixes
    /// the branch names.
    pub fn split_named(&self, named: Named) -> BranchedKStream<K, V> {
        self.split_impl(Some(named))
    }

    fn split_impl(&self, named: Option<Named>) -> BranchedKStream<K, V> {
        let prefix = named.as_ref().map(|n| n.0.clone()).unwrap_or_default();
        let name = lock(&self.builder).name_or(named.map(|n| n.0), "KSTREAM-BRANCH-");
        BranchedKStream {
            stream: self.clone(),
            splitter_name: name,
            prefix,
            branches: Vec::new(),
        }
    }

    /// Runs a [`Processor`] on each record; `stores` names the stores it may use. Marks the
    /// stream for repartitioning, as the processor may change keys.
    pub fn process<K2: Clone + 'static, V2: Clone + 'static, P>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<K2, V2>
    where
        P: Processor<K, V, K2, V2> + 'static,
    {
        self.process_impl(None, supplier, stores)
    }

    /// [`process`](Self::process) with a processor name.
    pub fn process_named<K2: Clone + 'static, V2: Clone + 'static, P>(
        &self,
        named: Named,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<K2, V2>
    where
        P: Processor<K, V, K2, V2> + 'static,
    {
        self.process_impl(Some(named), supplier, stores)
    }

    fn process_impl<K2: Clone + 'static, V2: Clone + 'static, P>(
        &self,
        named: Option<Named>,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<K2, V2>
    where
        P: Processor<K, V, K2, V2> + 'static,
    {
        let stores = stores.iter().map(|s| (*s).to_owned()).collect();
        let node = self.add(named, "KSTREAM-PROCESSOR-", stores, supplier);
        self.derive(node, None, None, true)
    }

    /// Writes the stream to `topic` with the stream's serdes (or those in `produced`).
    pub fn to(&self, topic: &str, produced: Produced<K, V>) {
        self.sink(TopicName::user(topic), produced);
    }

    fn sink(&self, topic: TopicName, produced: Produced<K, V>) {
        let mut b = lock(&self.builder);
        let name = b.name_or(produced.name, "KSTREAM-SINK-");
        let key_serde = produced.key_serde.or_else(|| self.key_serde.clone());
        let value_serde = produced.value_serde.or_else(|| self.value_serde.clone());
        let key_serde = key_serde.unwrap_or_else(|| {
            b.error(format!(
                "sink `{name}` to `{}` needs a key serde (the key type changed upstream): use Produced::with(key_serde, value_serde)",
                topic.name
            ));
            missing_serde("key serde".into())
        });
        let value_serde = value_serde.unwrap_or_else(|| {
            b.error(format!(
                "sink `{name}` to `{}` needs a value serde (the value type changed upstream): use Produced::with(key_serde, value_serde)",
                topic.name
            ));
            missing_serde("value serde".into())
        });
        let factory = sink_factory(topic.clone(), key_serde, value_serde, produced.partitioner);
        b.add_node(name, NodeKind::Sink { topic }, &[self.node], Vec::new(), factory);
    }

    /// Sends the stream through a repartition topic `<application.id>-<name>-repartition`
    /// (re-keyed records land on the partition of their new key).
    pub fn repartition(&self) -> KStream<K, V> {
        self.repartition_with(Repartitioned::default())
    }

    /// [`repartition`](Self::repartition) with options.
    pub fn repartition_with(&self, repartitioned: Repartitioned<K, V>) -> KStream<K, V> {
        let prefix = lock(&self.builder).name_or(repartitioned.name, "KSTREAM-REPARTITION-");
        let key_serde = repartitioned.key_serde.or_else(|| self.key_serde.clone());
        let value_serde = repartitioned.value_serde.or_else(|| self.value_serde.clone());
        self.through_repartition_topic(
            &prefix,
            key_serde,
            value_serde,
            repartitioned.partitions,
            repartitioned.partitioner,
            "repartition",
        )
    }

    /// Inserts filter -> sink -> `<prefix>-repartition` -> source, as Kafka Streams does before
    /// a stateful operation on a re-keyed stream and for an explicit `repartition`; the filter
    /// passes every record, as Kafka's does.
    ///
    /// The nodes are named as Kafka Streams names them: generated names when `prefix` is itself
    /// generated (`KSTREAM...-<10 digits>`), else `<topic>-sink`, `<topic>-filter` and
    /// `<topic>-source`.
    pub(crate) fn through_repartition_topic(
        &self,
        prefix: &str,
        key_serde: Option<SharedSerde<K>>,
        value_serde: Option<SharedSerde<V>>,
        partitions: Option<i32>,
        partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
        operation: &str,
    ) -> KStream<K, V> {
        let topic = if prefix.ends_with("-repartition") {
            prefix.to_owned()
        } else {
            format!("{prefix}-repartition")
        };
        let mut b = lock(&self.builder);
        let key_serde = key_serde.unwrap_or_else(|| {
            b.error(format!(
                "{operation} needs repartition topic `{topic}` after a key-changing operation, but the key serde is \
                 unknown: pass serdes (Grouped::with / Joined::with / Repartitioned::with)"
            ));
            missing_serde("key serde".into())
        });
        let value_serde = value_serde.unwrap_or_else(|| {
            b.error(format!(
                "{operation} needs repartition topic `{topic}` after a value-changing operation, but the value serde is \
                 unknown: pass serdes (Grouped::with / Joined::with / Repartitioned::with)"
            ));
            missing_serde("value serde".into())
        });
        // The three names are generated whether or not they are used, so that the generated
        // names of later operations keep Kafka Streams' numbers.
        let generated_sink = b.new_processor_name("KSTREAM-SINK-");
        let generated_filter = b.new_processor_name("KSTREAM-FILTER-");
        let generated_source = b.new_processor_name("KSTREAM-SOURCE-");
        let (sink_name, filter_name, source_name) = if is_generated_name(prefix) {
            (generated_sink, generated_filter, generated_source)
        } else {
            (
                format!("{topic}-sink"),
                format!("{topic}-filter"),
                format!("{topic}-source"),
            )
        };
        // As in Kafka Streams, records whose key is null (an `Option` key that is `None`) do not
        // go through the repartition topic.
        let filter_serde = Arc::clone(&key_serde);
        let not_null: Predicate<K, V> = Arc::new(move |key: &K, _: &V| !filter_serde.is_null(key));
        let filter = b.add_node(
            filter_name,
            NodeKind::Processor,
            &[self.node],
            Vec::new(),
            inspect_factory(Inspect::Filter {
                predicate: not_null,
                keep_if: true,
            }),
        );
        let internal = TopicName::internal(topic.as_str());
        b.repartition_topics.push(RepartitionTopicDef {
            name: topic.clone(),
            partitions,
        });
        b.add_node(
            sink_name,
            NodeKind::Sink {
                topic: internal.clone(),
            },
            &[filter],
            Vec::new(),
            sink_factory(
                internal.clone(),
                Arc::clone(&key_serde),
                Arc::clone(&value_serde),
                partitioner,
            ),
        );
        let source = b.add_node(
            source_name,
            NodeKind::Source {
                topics: vec![internal.clone()],
            },
            &[],
            Vec::new(),
            source_factory(Arc::clone(&key_serde), Arc::clone(&value_serde)),
        );
        drop(b);
        KStream::new(
            Arc::clone(&self.builder),
            source,
            Some(key_serde),
            Some(value_serde),
            false,
            BTreeSet::from([internal]),
        )
    }

    /// Groups by the current key, for aggregation.
    pub fn group_by_key(&self) -> KGroupedStream<K, V> {
        self.group_by_key_with(Grouped::default())
    }

    /// [`group_by_key`](Self::group_by_key) with serdes and a name for the repartition topic.
    pub fn group_by_key_with(&self, grouped: Grouped<K, V>) -> KGroupedStream<K, V> {
        KGroupedStream::new(self.clone(), grouped)
    }

    /// Groups by a new key computed by `selector` (the aggregation repartitions first).
    pub fn group_by<K2: Clone + 'static>(
        &self,
        selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
    ) -> KGroupedStream<K2, V> {
        self.group_by_with(selector, Grouped::default())
    }

    /// [`group_by`](Self::group_by) with serdes and a name.
    pub fn group_by_with<K2: Clone + 'static>(
        &self,
        selector: impl Fn(&K, &V) -> K2 + Send + Sync + 'static,
        grouped: Grouped<K2, V>,
    ) -> KGroupedStream<K2, V> {
        let named = grouped.name.clone().map(Named);
        let selected = self.select_key_impl(named, selector);
        KGroupedStream::new(selected, grouped)
    }

    /// Inner join with a table: each record with a row for its key in `table` produces
    /// `joiner(value, row)`; records without a row are dropped. The result has the stream
    /// record's timestamp. Records with a null key or a null value (a `None` of a stream whose
    /// serde maps `None` to null) are dropped and counted, as in Kafka Streams. Against a
    /// versioned table ([`Materialized::as_versioned`](crate::dsl::Materialized::as_versioned))
    /// the row is the one valid at the record's timestamp; see also
    /// [`Joined::with_grace_period`](crate::dsl::Joined::with_grace_period).
    pub fn join<VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.join_table(table, StreamTableJoiner::Inner(Arc::new(joiner)), Joined::default())
    }

    /// [`join`](Self::join) with options.
    pub fn join_with<VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR> {
        self.join_table(table, StreamTableJoiner::Inner(Arc::new(joiner)), joined)
    }

    /// Left join with a table: every record produces `joiner(value, row)`, with `None` when the
    /// table has no row for its key (a record with a null key too, KIP-962); records with a
    /// null value are dropped and counted.
    pub fn left_join<VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.join_table(table, StreamTableJoiner::Left(Arc::new(joiner)), Joined::default())
    }

    /// [`left_join`](Self::left_join) with options.
    pub fn left_join_with<VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR> {
        self.join_table(table, StreamTableJoiner::Left(Arc::new(joiner)), joined)
    }

    /// Inner join with a global table: each record looks up the row of the key
    /// `key_selector` computes from it and, when there is one, produces `joiner(value, row)`
    /// with the stream record's key and timestamp. No co-partitioning is needed: every
    /// instance holds the whole table. A record whose lookup key is null is dropped and counted.
    ///
    /// ```
    /// use streams_core::dsl::{Consumed, Produced, StreamsBuilder};
    /// use streams_core::serde::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let regions = builder.global_table::<String, String>("regions", Consumed::with(Serdes::string(), Serdes::string()));
    /// builder
    ///     .stream::<String, String>("orders", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .join_global(&regions, |_order_id, customer| customer.clone(), |order, region| format!("{order}@{region}"))
    ///     .to("orders-by-region", Produced::with(Serdes::string(), Serdes::string()));
    /// assert!(builder.build()?.describe().to_string().contains("KSTREAM-JOIN-0000000004"));
    /// # Ok::<(), streams_core::StreamsError>(())
    /// ```
    pub fn join_global<GK: 'static, VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &GlobalKTable<GK, VT>,
        key_selector: impl Fn(&K, &V) -> GK + Send + Sync + 'static,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.join_global_impl(
            None,
            table,
            Arc::new(key_selector),
            StreamTableJoiner::Inner(Arc::new(joiner)),
        )
    }

    /// [`join_global`](Self::join_global) with a processor name.
    pub fn join_global_named<GK: 'static, VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &GlobalKTable<GK, VT>,
        key_selector: impl Fn(&K, &V) -> GK + Send + Sync + 'static,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
        named: Named,
    ) -> KStream<K, VR> {
        self.join_global_impl(
            Some(named),
            table,
            Arc::new(key_selector),
            StreamTableJoiner::Inner(Arc::new(joiner)),
        )
    }

    /// Left join with a global table: every record produces `joiner(value, row)`, with `None`
    /// when the global table has no row for the key `key_selector` computes (or that key is
    /// null).
    pub fn left_join_global<GK: 'static, VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &GlobalKTable<GK, VT>,
        key_selector: impl Fn(&K, &V) -> GK + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.join_global_impl(
            None,
            table,
            Arc::new(key_selector),
            StreamTableJoiner::Left(Arc::new(joiner)),
        )
    }

    /// [`left_join_global`](Self::left_join_global) with a processor name.
    pub fn left_join_global_named<GK: 'static, VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &GlobalKTable<GK, VT>,
        key_selector: impl Fn(&K, &V) -> GK + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
        named: Named,
    ) -> KStream<K, VR> {
        self.join_global_impl(
            Some(named),
            table,
            Arc::new(key_selector),
            StreamTableJoiner::Left(Arc::new(joiner)),
        )
    }

    fn join_global_impl<GK: 'static, VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        named: Option<Named>,
        table: &GlobalKTable<GK, VT>,
        key_selector: Arc<dyn Fn(&K, &V) -> GK + Send + Sync>,
        joiner: StreamTableJoiner<V, VT, VR>,
    ) -> KStream<K, VR> {
        let prefix = match joiner {
            StreamTableJoiner::Inner(_) => "KSTREAM-JOIN-",
            StreamTableJoiner::Left(_) => "KSTREAM-LEFTJOIN-",
        };
        let getter = table.getter.clone();
        // As in Kafka Streams, the join node is not connected to the global store: every task
        // can read every global store.
        let null_value = self.null_value_check();
        let node = self.add(named, prefix, Vec::new(), move || StreamGlobalJoinProcessor {
            key_selector: Arc::clone(&key_selector),
            getter: getter.clone(),
            joiner: joiner.clone(),
            null_value: Arc::clone(&null_value),
        });
        self.derive(node, self.key_serde.clone(), None, self.repartition_required)
    }

    /// Whether a value of this stream is null, as far as its serde (when known) says.
    fn null_value_check(&self) -> NullCheck<V> {
        match &self.value_serde {
            Some(serde) => {
                let serde = Arc::clone(serde);
                Arc::new(move |value: &V| serde.is_null(value))
            }
            None => Arc::new(|_: &V| false),
        }
    }

    fn join_table<VT: Clone + 'static, VR: Clone + 'static>(
        &self,
        table: &KTable<K, VT>,
        joiner: StreamTableJoiner<V, VT, VR>,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR> {
        let left = matches!(joiner, StreamTableJoiner::Left(_));
        let stream = if self.repartition_required {
            let prefix = match &joined.name {
                Some(name) => name.clone(),
                None => lock(&self.builder).nodes[self.node].name.clone(),
            };
            self.through_repartition_topic(
                &prefix,
                joined.key_serde.clone().or_else(|| self.key_serde.clone()),
                joined.value_serde.clone().or_else(|| self.value_serde.clone()),
                None,
                None,
                "a stream-table join",
            )
        } else {
            self.clone()
        };
        let getter = table.getter.clone();
        let mut stores = getter.stores.clone();
        let name = lock(&self.builder).name_or(joined.name, if left { "KSTREAM-LEFTJOIN-" } else { "KSTREAM-JOIN-" });
        let buffer = match joined.grace_period {
            None => None,
            Some(grace) => {
                let store = format!("{name}-Buffer");
                let key_serde = joined.key_serde.clone().or_else(|| stream.key_serde.clone());
                let value_serde = joined.value_serde.clone().or_else(|| stream.value_serde.clone());
                let mut b = lock(&self.builder);
                match &getter.versioned {
                    None => b.error(format!(
                        "`{name}`: the table must be versioned to use a grace period in a stream-table join \
                         (materialize it with `Materialized::as_versioned`)"
                    )),
                    Some(v) if v.history_retention < grace => b.error(format!(
                        "`{name}`: the table's history retention ({} ms) must be at least the join's grace period ({grace} ms)",
                        v.history_retention
                    )),
                    Some(_) => {}
                }
                match (key_serde, value_serde) {
                    (Some(key_serde), Some(value_serde)) => {
                        b.add_store(StoreSpec::<Vec<u8>, Vec<u8>> {
                            name: store.clone(),
                            engine: crate::topology::StoreEngine::Default,
                            key_serde: Arc::new(crate::serde::BytesSerde),
                            value_serde: Arc::new(crate::serde::BytesSerde),
                            timestamped: false,
                            logging: true,
                            caching: false,
                            forwarder: None,
                        });
                        stores.push(store.clone());
                        Some((store, grace, key_serde, value_serde))
                    }
                    _ => {
                        b.error(format!(
                            "`{name}`: a stream-table join with a grace period buffers stream records and needs the \
                             stream's key and value serdes; give them with `Joined::with`"
                        ));
                        None
                    }
                }
            }
        };
        let null_value = stream.null_value_check();
        let node = stream.add(Some(Named(name)), "", stores, move || StreamTableJoinProcessor {
            getter: getter.clone(),
            joiner: joiner.clone(),
            null_value: Arc::clone(&null_value),
            buffer: buffer
                .as_ref()
                .map(|(store, grace, key_serde, value_serde)| JoinBuffer {
                    store: store.clone(),
                    grace: *grace,
                    key_serde: Arc::clone(key_serde),
                    value_serde: Arc::clone(value_serde),
                    handle: None,
                    observed_stream_time: i64::MIN,
                    next_seq: 0,
                }),
        });
        let mut group: BTreeSet<TopicName> = stream.source_topics.clone();
        group.extend(table.source_topics.iter().cloned());
        lock(&self.builder).copartition_groups.push(group.clone());
        let mut out = stream.derive(node, stream.key_serde.clone(), None, false);
        out.source_topics = group;
        out
    }
}

/// Whether `name` is a generated name (Kafka's `KSTREAM.*-[0-9]{10}`).
fn is_generated_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 18
        && name.starts_with("KSTREAM")
        && bytes[bytes.len() - 11] == b'-'
        && bytes[bytes.len() - 10..].iter().all(u8::is_ascii_digit)
}

/// The branches of a split stream, by name: the split's prefix plus the branch name (or its
/// position from 1; `0` for the default branch).
pub struct Branches<K, V>(BTreeMap<String, KStream<K, V>>);

impl<K, V> Branches<K, V> {
    /// The branch called `name`.
    pub fn get(&self, name: &str) -> Option<&KStream<K, V>> {
        self.0.get(name)
    }

    /// Takes the branch called `name` out of the map.
    pub fn remove(&mut self, name: &str) -> Option<KStream<K, V>> {
        self.0.remove(name)
    }

    /// Branch names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Number of branches.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no branches.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A stream being split: add branches in order with [`branch`](Self::branch), then finish
/// with [`default_branch`](Self::default_branch) or [`no_default_branch`](Self::no_default_branch).
///
/// Each record goes to the first branch whose predicate it matches, else to the default
/// branch, else nowhere.
pub struct BranchedKStream<K, V> {
    stream: KStream<K, V>,
    splitter_name: String,
    prefix: String,
    branches: Vec<(Predicate<K, V>, Branched)>,
}

impl<K: Clone + 'static, V: Clone + 'static> BranchedKStream<K, V> {
    /// Adds a branch for the records matching `predicate`.
    pub fn branch(mut self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static, branched: Branched) -> Self {
        self.branches.push((Arc::new(predicate), branched));
        self
    }

    /// Ends the split with a branch for the records no predicate matched.
    pub fn default_branch(self, branched: Branched) -> Branches<K, V> {
        self.finish(Some(branched))
    }

    /// Ends the split; records no predicate matched are dropped.
    pub fn no_default_branch(self) -> Branches<K, V> {
        self.finish(None)
    }

    fn finish(self, default: Option<Branched>) -> Branches<K, V> {
        let predicates: Vec<Predicate<K, V>> = self.branches.iter().map(|(p, _)| Arc::clone(p)).collect();
        let has_default = default.is_some();
        let mut b = lock(&self.stream.builder);
        let splitter = b.add_node(
            self.splitter_name.clone(),
            NodeKind::Processor,
            &[self.stream.node],
            Vec::new(),
            processor_factory(move || {
                Box::new(BranchProcessor {
                    predicates: predicates.clone(),
                    has_default,
                }) as Box<dyn Processor<K, V, K, V>>
            }),
        );
        let mut named: Vec<String> = self
            .branches
            .iter()
            .enumerate()
            .map(|(i, (_, branched))| branched.0.clone().unwrap_or_else(|| (i + 1).to_string()))
            .collect();
        if let Some(branched) = default {
            named.push(branched.0.unwrap_or_else(|| "0".to_owned()));
        }
        let mut out = BTreeMap::new();
        for suffix in named {
            // Kafka Streams consumes an index for every branch, named or not.
            b.next_index();
            let node = b.add_node(
                format!("{}{suffix}", self.splitter_name),
                NodeKind::Processor,
                &[splitter],
                Vec::new(),
                processor_factory(|| Box::new(PassThrough) as Box<dyn Processor<K, V, K, V>>),
            );
            out.insert(
                format!("{}{suffix}", self.prefix),
                self.stream.derive(
                    node,
                    self.stream.key_serde.clone(),
                    self.stream.value_serde.clone(),
                    self.stream.repartition_required,
                ),
            );
        }
        Branches(out)
    }
}
