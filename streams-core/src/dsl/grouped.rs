//! `KGroupedStream`: a stream grouped by key, ready to aggregate.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::operators::{Aggregation, StreamAggregateProcessor};
use super::{lock, missing_serde, processor_factory, Grouped, KStream, KTable, Materialized, Named};
use crate::processor::{Change, Processor};
use crate::serde::{I64Serde, SharedSerde};
use crate::topology::NodeKind;

/// A stream grouped by key. Aggregations produce a [`KTable`] with one row per key; if the key
/// was changed upstream, the records first go through a repartition topic so that each key is
/// aggregated in one place.
#[derive(Clone)]
pub struct KGroupedStream<K, V> {
    stream: KStream<K, V>,
    name: Option<String>,
    key_serde: Option<SharedSerde<K>>,
    value_serde: Option<SharedSerde<V>>,
}

impl<K: Clone + 'static, V: Clone + 'static> KGroupedStream<K, V> {
    pub(crate) fn new(stream: KStream<K, V>, grouped: Grouped<K, V>) -> Self {
        KGroupedStream {
            key_serde: grouped.key_serde.or_else(|| stream.key_serde.clone()),
            value_serde: grouped.value_serde.or_else(|| stream.value_serde.clone()),
            name: grouped.name,
            stream,
        }
    }

    /// Counts records per key (store `KSTREAM-AGGREGATE-STATE-STORE-<n>`).
    pub fn count(&self) -> KTable<K, i64> {
        self.count_with(Materialized::new())
    }

    /// [`count`](Self::count) with store options.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        let materialized = materialized.or_value_serde(|| Arc::new(I64Serde));
        self.aggregate_impl("KSTREAM-AGGREGATE-", None, materialized, Aggregation::count())
    }

    /// Combines the values of each key with `reducer(aggregate, value)`; the first value is the
    /// initial aggregate.
    pub fn reduce(&self, reducer: impl Fn(V, V) -> V + Send + Sync + 'static) -> KTable<K, V> {
        self.reduce_with(reducer, Materialized::new())
    }

    /// [`reduce`](Self::reduce) with store options.
    pub fn reduce_with(
        &self,
        reducer: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let materialized = materialized.or_value_serde_from(self.value_serde.clone());
        self.aggregate_impl(
            "KSTREAM-REDUCE-",
            None,
            materialized,
            Aggregation::Reduce {
                reducer: Arc::new(reducer),
            },
        )
    }

    /// Folds the values of each key into an aggregate: `initializer()` starts it,
    /// `aggregator(key, value, aggregate)` updates it. `materialized` must carry the
    /// aggregate's value serde.
    pub fn aggregate<VA: Clone + 'static>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        self.aggregate_named(None, initializer, aggregator, materialized)
    }

    /// [`aggregate`](Self::aggregate) with a processor name.
    pub fn aggregate_named<VA: Clone + 'static>(
        &self,
        named: Option<Named>,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        aggregator: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
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

    /// Names an aggregation's store and processor (the store first, as Kafka Streams consumes
    /// the index) and, when the key changed upstream, routes the stream through a repartition
    /// topic. Returns (store name, processor name, the stream to aggregate).
    pub(crate) fn prepare_aggregation(
        &self,
        prefix: &str,
        named: Option<Named>,
        store_name: Option<String>,
    ) -> (String, String, KStream<K, V>) {
        let (store, name) = {
            let mut b = lock(&self.stream.builder);
            let store = match store_name {
                Some(name) => name,
                None => b.new_store_name(prefix),
            };
            let name = b.name_or(named.map(|n| n.0), prefix);
            (store, name)
        };
        let input = if self.stream.repartition_required {
            let topic_prefix = self.name.clone().unwrap_or_else(|| store.clone());
            self.stream.through_repartition_topic(
                &topic_prefix,
                self.key_serde.clone(),
                self.value_serde.clone(),
                None,
                None,
                &format!("aggregation `{name}`"),
            )
        } else {
            self.stream.clone()
        };
        (store, name, input)
    }

    /// The key serde of the grouping, if known.
    pub(crate) fn key_serde(&self) -> Option<SharedSerde<K>> {
        self.key_serde.clone()
    }

    /// The value serde of the grouping, if known.
    pub(crate) fn value_serde(&self) -> Option<SharedSerde<V>> {
        self.value_serde.clone()
    }

    /// The builder the grouping belongs to.
    pub(crate) fn builder(&self) -> &super::Shared {
        &self.stream.builder
    }

    /// Windows the grouped stream for windowed aggregations: [`TimeWindows`](super::TimeWindows)
    /// and [`SlidingWindows`](super::SlidingWindows) give a
    /// [`TimeWindowedKStream`](super::TimeWindowedKStream),
    /// [`SessionWindows`](super::SessionWindows) a
    /// [`SessionWindowedKStream`](super::SessionWindowedKStream).
    pub fn windowed_by<W: super::Windowing>(&self, windows: W) -> W::Stream<K, V> {
        windows.windowed(self.clone())
    }

    fn aggregate_impl<VA: Clone + 'static>(
        &self,
        prefix: &str,
        named: Option<Named>,
        materialized: Materialized<K, VA>,
        aggregation: Aggregation<K, V, VA>,
    ) -> KTable<K, VA> {
        let (store, name, input) = self.prepare_aggregation(prefix, named, materialized.name.clone());
        let mut b = lock(&self.stream.builder);
        let key_serde = materialized
            .key_serde
            .clone()
            .or_else(|| self.key_serde.clone())
            .unwrap_or_else(|| {
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
        let send_old_values = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&send_old_values);
        let processor_store = store.clone();
        let node = b.add_node(
            name.clone(),
            NodeKind::Processor,
            &[input.node],
            vec![store.clone()],
            processor_factory(move || {
                Box::new(StreamAggregateProcessor::<K, V, VA> {
                    store: processor_store.clone(),
                    aggregation: aggregation.clone(),
                    send_old_values: Arc::clone(&flag),
                    handle: None,
                    cached: false,
                    key_bytes: Vec::new(),
                    value_bytes: Vec::new(),
                }) as Box<dyn Processor<K, V, K, Change<VA>>>
            }),
        );
        let getter = b.add_table_store(&name, &store, &materialized, &key_serde, &value_serde, &send_old_values);
        drop(b);
        KTable::new(
            Arc::clone(&self.stream.builder),
            node,
            Some(key_serde),
            Some(value_serde),
            Some(store),
            getter,
            send_old_values,
            input.source_topics.clone(),
        )
    }
}
