//! `KGroupedTable`: a table re-grouped by [`KTable::group_by`](super::KTable::group_by), ready
//! to aggregate with an adder and a subtractor.
//!
//! As Kafka Streams builds it (`KTableImpl.groupBy`, `KGroupedTableImpl`): the selector node
//! `KTABLE-SELECT-<n>` (Kafka's `KTableRepartitionMap`) maps each change of a row to the old and
//! new `(group key, value)`; they go through a repartition topic (values in Kafka's `Change`
//! layout, [`ChangeSerde`]) to `KTABLE-AGGREGATE-<n>` / `KTABLE-REDUCE-<n>` (Kafka's
//! `KTableAggregate` / `KTableReduce`), which subtracts the old value from its group and adds
//! the new one to its group.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{
    lock, missing_serde, processor_factory, sink_factory, source_factory, BuilderInner, Grouped, KTable, Materialized,
    Named, Shared,
};
use crate::processor::{Change, Processor, ProcessorContext, Record, TimestampedKeyValueStoreHandle};
use crate::serde::{I64Serde, Serde, SerdeError, SharedSerde};
use crate::topology::{NodeKind, RepartitionTopicDef, TopicName};
use crate::StreamsError;

/// A table grouped by a new key (see [`KTable::group_by`](super::KTable::group_by)).
/// Aggregations produce a [`KTable`] with one row per group, fed through a repartition topic:
/// each change of a row of the original table subtracts its old value from the old group and
/// adds its new value to the new group.
pub struct KGroupedTable<K, V> {
    builder: Shared,
    /// The selector node, parent of the repartition sink.
    node: usize,
    name: Option<String>,
    key_serde: Option<SharedSerde<K>>,
    value_serde: Option<SharedSerde<V>>,
    /// The repartition source and topic made by the first aggregation. As in Kafka Streams,
    /// the aggregations of a named grouping share its repartition topic; those of an unnamed
    /// one each get their own (named after their store).
    repartition: Arc<Mutex<Option<(usize, TopicName)>>>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KGroupedTable<K, V> {
    fn clone(&self) -> Self {
        KGroupedTable {
            builder: Arc::clone(&self.builder),
            node: self.node,
            name: self.name.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            repartition: Arc::clone(&self.repartition),
            _types: PhantomData,
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KGroupedTable<K, V> {
    pub(crate) fn new(builder: Shared, node: usize, grouped: Grouped<K, V>) -> Self {
        KGroupedTable {
            builder,
            node,
            name: grouped.name,
            key_serde: grouped.key_serde,
            value_serde: grouped.value_serde,
            repartition: Arc::new(Mutex::new(None)),
            _types: PhantomData,
        }
    }

    /// Counts the rows in each group (store `KTABLE-AGGREGATE-STATE-STORE-<n>`). A group whose
    /// rows all left counts 0; it is not deleted.
    pub fn count(&self) -> KTable<K, i64> {
        self.count_with(Materialized::new())
    }

    /// [`count`](Self::count) with store options.
    pub fn count_with(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.count_impl(None, materialized)
    }

    /// [`count_with`](Self::count_with) with a name for the processor (and `<name>-sink`,
    /// `<name>-source` for the repartition nodes).
    pub fn count_named(&self, named: Named, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.count_impl(Some(named), materialized)
    }

    fn count_impl(&self, named: Option<Named>, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        let materialized = materialized.or_value_serde(|| Arc::new(I64Serde));
        self.aggregate_impl(
            "KTABLE-AGGREGATE-",
            named,
            materialized,
            Arc::new(AggregateFns {
                initializer: Arc::new(|| 0i64),
                adder: Arc::new(|_: &K, _: V, count: i64| count + 1),
                subtractor: Arc::new(|_: &K, _: V, count: i64| count - 1),
            }),
        )
    }

    /// Combines the values of each group: `adder(aggregate, value)` when a row joins the group
    /// or changes, `subtractor(aggregate, value)` when it leaves or changes (with its old
    /// value, before the adder). The first value of a group is its initial aggregate; the
    /// subtractor's result is kept even when the group has no rows left.
    pub fn reduce(
        &self,
        adder: impl Fn(V, V) -> V + Send + Sync + 'static,
        subtractor: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> KTable<K, V> {
        self.reduce_with(adder, subtractor, Materialized::new())
    }

    /// [`reduce`](Self::reduce) with store options.
    pub fn reduce_with(
        &self,
        adder: impl Fn(V, V) -> V + Send + Sync + 'static,
        subtractor: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        self.reduce_impl(None, Arc::new(adder), Arc::new(subtractor), materialized)
    }

    /// [`reduce_with`](Self::reduce_with) with a name for the processor (and `<name>-sink`,
    /// `<name>-source` for the repartition nodes).
    pub fn reduce_named(
        &self,
        named: Named,
        adder: impl Fn(V, V) -> V + Send + Sync + 'static,
        subtractor: impl Fn(V, V) -> V + Send + Sync + 'static,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        self.reduce_impl(Some(named), Arc::new(adder), Arc::new(subtractor), materialized)
    }

    fn reduce_impl(
        &self,
        named: Option<Named>,
        adder: Arc<dyn Fn(V, V) -> V + Send + Sync>,
        subtractor: Arc<dyn Fn(V, V) -> V + Send + Sync>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        let materialized = materialized.or_value_serde_from(self.value_serde.clone());
        self.aggregate_impl(
            "KTABLE-REDUCE-",
            named,
            materialized,
            Arc::new(ReduceFns { adder, subtractor }),
        )
    }

    /// Folds the values of each group into an aggregate: `initializer()` starts a group,
    /// `adder(key, value, aggregate)` adds a row's value when it joins the group or changes,
    /// `subtractor(key, value, aggregate)` removes a row's old value when it leaves or changes
    /// (before the adder). `materialized` must carry the aggregate's value serde.
    pub fn aggregate<VA: Clone + 'static>(
        &self,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        adder: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        subtractor: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        self.aggregate_with_fns(None, initializer, adder, subtractor, materialized)
    }

    /// [`aggregate`](Self::aggregate) with a name for the processor (and `<name>-sink`,
    /// `<name>-source` for the repartition nodes).
    pub fn aggregate_named<VA: Clone + 'static>(
        &self,
        named: Named,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        adder: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        subtractor: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        self.aggregate_with_fns(Some(named), initializer, adder, subtractor, materialized)
    }

    fn aggregate_with_fns<VA: Clone + 'static>(
        &self,
        named: Option<Named>,
        initializer: impl Fn() -> VA + Send + Sync + 'static,
        adder: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        subtractor: impl Fn(&K, V, VA) -> VA + Send + Sync + 'static,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA> {
        self.aggregate_impl(
            "KTABLE-AGGREGATE-",
            named,
            materialized,
            Arc::new(AggregateFns {
                initializer: Arc::new(initializer),
                adder: Arc::new(adder),
                subtractor: Arc::new(subtractor),
            }),
        )
    }

    /// Kafka's `KGroupedTableImpl.doAggregate`: names the store
    /// (`KTABLE-AGGREGATE-STATE-STORE-<n>`, for reductions too), the repartition sink and
    /// source (`KSTREAM-SINK-<n+1>`, `KSTREAM-SOURCE-<n+2>`, or `<named>-sink` /
    /// `<named>-source`, the indexes consumed either way) and the processor, in that order;
    /// the repartition topic is `<grouped name or store>-repartition`.
    fn aggregate_impl<VA: Clone + 'static>(
        &self,
        prefix: &str,
        named: Option<Named>,
        materialized: Materialized<K, VA>,
        aggregator: Arc<dyn TableAggregator<K, V, VA>>,
    ) -> KTable<K, VA> {
        let named = named.map(|n| n.0);
        let mut b = lock(&self.builder);
        let store = match materialized.name.clone() {
            Some(name) => name,
            None => b.new_store_name("KTABLE-AGGREGATE-"),
        };
        let sink_name = suffixed_name(&mut b, named.as_deref(), "-sink", "KSTREAM-SINK-");
        let source_name = suffixed_name(&mut b, named.as_deref(), "-source", "KSTREAM-SOURCE-");
        let name = b.name_or(named, prefix);
        let topic = format!("{}-repartition", self.name.as_deref().unwrap_or(&store));

        let mut repartition = self.repartition.lock().unwrap_or_else(|e| e.into_inner());
        let (source, internal) = match repartition.as_ref() {
            Some(shared) if self.name.is_some() => shared.clone(),
            _ => {
                let made = self.add_repartition(&mut b, &name, &topic, sink_name, source_name);
                *repartition = Some(made.clone());
                made
            }
        };
        drop(repartition);

        let key_serde = materialized
            .key_serde
            .clone()
            .or_else(|| self.key_serde.clone())
            .unwrap_or_else(|| missing_serde("key serde".into()));
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
            &[source],
            vec![store.clone()],
            processor_factory(move || {
                Box::new(TableAggregateProcessor::<K, V, VA> {
                    store: processor_store.clone(),
                    aggregator: Arc::clone(&aggregator),
                    send_old_values: Arc::clone(&flag),
                    handle: None,
                    cached: false,
                }) as Box<dyn Processor<K, Change<V>, K, Change<VA>>>
            }),
        );
        let getter = b.add_table_store(&name, &store, &materialized, &key_serde, &value_serde, &send_old_values);
        drop(b);
        KTable::new(
            Arc::clone(&self.builder),
            node,
            Some(key_serde),
            Some(value_serde),
            Some(store),
            getter,
            send_old_values,
            BTreeSet::from([internal]),
        )
    }

    /// Adds the repartition topic below the selector: a sink writing it and a source reading
    /// it (no filter node: the selector already left out null keys), values as `Change`s.
    /// Returns the source node and the topic.
    fn add_repartition(
        &self,
        b: &mut BuilderInner,
        aggregation: &str,
        topic: &str,
        sink_name: String,
        source_name: String,
    ) -> (usize, TopicName) {
        let fix = "use KTable::group_by_with(selector, Grouped::with(key_serde, value_serde))";
        let key_serde = self.key_serde.clone().unwrap_or_else(|| {
            b.error(format!(
                "aggregation `{aggregation}` of a grouped table needs repartition topic `{topic}`, but the key serde \
                 of the grouping is unknown: {fix}"
            ));
            missing_serde("key serde".into())
        });
        let value_serde = self.value_serde.clone().unwrap_or_else(|| {
            b.error(format!(
                "aggregation `{aggregation}` of a grouped table needs repartition topic `{topic}`, but the value \
                 serde of the grouping is unknown: {fix}"
            ));
            missing_serde("value serde".into())
        });
        let change_serde: SharedSerde<Change<V>> = Arc::new(ChangeSerde(value_serde));
        let internal = TopicName::internal(topic);
        b.repartition_topics.push(RepartitionTopicDef {
            name: topic.to_owned(),
            partitions: None,
        });
        b.add_node(
            sink_name,
            NodeKind::Sink {
                topic: internal.clone(),
            },
            &[self.node],
            Vec::new(),
            sink_factory(
                internal.clone(),
                Arc::clone(&key_serde),
                Arc::clone(&change_serde),
                None,
            ),
        );
        let source = b.add_node(
            source_name,
            NodeKind::Source {
                topics: vec![internal.clone()],
            },
            &[],
            Vec::new(),
            source_factory(key_serde, change_serde),
        );
        (source, internal)
    }
}

/// Kafka's `NamedInternal.suffixWithOrElseGet`: `<named><suffix>` when named (the generated
/// name's index consumed all the same), else a generated `<prefix><n>`.
fn suffixed_name(b: &mut BuilderInner, named: Option<&str>, suffix: &str, prefix: &str) -> String {
    let generated = b.new_processor_name(prefix);
    match named {
        Some(name) => format!("{name}{suffix}"),
        None => generated,
    }
}

/// The selector of `KTable::group_by` (Kafka's `KTableRepartitionMap`): maps the old and the
/// new row of a change to `(group key, value)` pairs and forwards, when both are there and
/// in the same group, one change from the old to the new value; otherwise the old pair as a
/// change without new value (a subtraction), then the new pair as a change without old
/// value (an addition). Pairs whose key or value is null are left out. Groups are the same
/// when their keys serialize to the same bytes (Kafka compares them with `equals`).
pub(crate) struct TableRepartitionMapProcessor<K, V, K2, V2> {
    pub(crate) selector: Arc<dyn Fn(&K, &V) -> (K2, V2) + Send + Sync>,
    /// The grouping's serdes, which tell null keys and values; a grouping without them does not
    /// build.
    pub(crate) key_serde: Option<SharedSerde<K2>>,
    pub(crate) value_serde: Option<SharedSerde<V2>>,
}

impl<K, V, K2, V2> TableRepartitionMapProcessor<K, V, K2, V2>
where
    K2: 'static,
    V2: 'static,
{
    /// The pair with its key's bytes, or `None` when the key or the value is null.
    fn not_null(
        &self,
        pair: Option<(K2, V2)>,
        ctx: &ProcessorContext<'_, K2, Change<V2>>,
    ) -> Result<Option<(Option<Vec<u8>>, K2, V2)>, StreamsError> {
        let Some((key, value)) = pair else {
            return Ok(None);
        };
        let err = |source| StreamsError::Serialization {
            context: ctx.processor_name().to_owned(),
            source,
        };
        let key_bytes = match &self.key_serde {
            Some(serde) => match serde.serialize_nullable(&key).map_err(err)? {
                Some(bytes) => Some(bytes),
                None => return Ok(None),
            },
            None => None,
        };
        if let Some(serde) = &self.value_serde {
            if serde.serialize_nullable(&value).map_err(err)?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some((key_bytes, key, value)))
    }
}

impl<K, V, K2, V2> Processor<K, Change<V>, K2, Change<V2>> for TableRepartitionMapProcessor<K, V, K2, V2>
where
    K: 'static,
    V: 'static,
    K2: Clone + 'static,
    V2: Clone + 'static,
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K2, Change<V2>>,
    ) -> Result<(), StreamsError> {
        let Record {
            key,
            value: change,
            timestamp,
            headers,
        } = record;
        let new_pair = change.new_value.as_ref().map(|v| (self.selector)(&key, v));
        let old_pair = change.old_value.as_ref().map(|v| (self.selector)(&key, v));
        let new_pair = self.not_null(new_pair, ctx)?;
        let old_pair = self.not_null(old_pair, ctx)?;
        match (old_pair, new_pair) {
            (Some((Some(old_bytes), old_key, old_value)), Some((Some(new_bytes), _, new_value)))
                if old_bytes == new_bytes =>
            {
                ctx.forward(Record {
                    key: old_key,
                    value: Change::new(Some(new_value), Some(old_value)),
                    timestamp,
                    headers,
                })
            }
            (old_pair, new_pair) => {
                if let Some((_, old_key, old_value)) = old_pair {
                    ctx.forward(Record {
                        key: old_key,
                        value: Change::new(None, Some(old_value)),
                        timestamp,
                        headers: headers.clone(),
                    })?;
                }
                if let Some((_, new_key, new_value)) = new_pair {
                    ctx.forward(Record {
                        key: new_key,
                        value: Change::new(Some(new_value), None),
                        timestamp,
                        headers,
                    })?;
                }
                Ok(())
            }
        }
    }
}

/// How a grouped table folds values into its aggregates.
pub(crate) trait TableAggregator<K, V, VA>: Send + Sync {
    /// Adds `value` to `aggregate` (`None`: the group has no aggregate yet).
    fn add(&self, key: &K, value: V, aggregate: Option<VA>) -> VA;
    /// Removes `value` from `aggregate`.
    fn subtract(&self, key: &K, value: V, aggregate: VA) -> VA;
}

/// `aggregate(initializer, adder, subtractor)` and `count`.
struct AggregateFns<K, V, VA> {
    initializer: Arc<dyn Fn() -> VA + Send + Sync>,
    adder: Arc<dyn Fn(&K, V, VA) -> VA + Send + Sync>,
    subtractor: Arc<dyn Fn(&K, V, VA) -> VA + Send + Sync>,
}

impl<K, V, VA> TableAggregator<K, V, VA> for AggregateFns<K, V, VA> {
    fn add(&self, key: &K, value: V, aggregate: Option<VA>) -> VA {
        (self.adder)(key, value, aggregate.unwrap_or_else(|| (self.initializer)()))
    }

    fn subtract(&self, key: &K, value: V, aggregate: VA) -> VA {
        (self.subtractor)(key, value, aggregate)
    }
}

/// `reduce(adder, subtractor)`: the first value of a group is its aggregate.
struct ReduceFns<V> {
    adder: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    subtractor: Arc<dyn Fn(V, V) -> V + Send + Sync>,
}

impl<K, V> TableAggregator<K, V, V> for ReduceFns<V> {
    fn add(&self, _: &K, value: V, aggregate: Option<V>) -> V {
        match aggregate {
            Some(aggregate) => (self.adder)(aggregate, value),
            None => value,
        }
    }

    fn subtract(&self, _: &K, value: V, aggregate: V) -> V {
        (self.subtractor)(aggregate, value)
    }
}

/// `count`, `reduce`, `aggregate` on a grouped table (Kafka's `KTableAggregate` and
/// `KTableReduce`): subtracts the change's old value from the group's aggregate (when the
/// group has one), then adds its new value, stores the result with the larger of the record's
/// and the aggregate's timestamps (the record's for a new group) and forwards the change,
/// unless the store's cache forwards it on flush.
pub(crate) struct TableAggregateProcessor<K, V, VA> {
    pub(crate) store: String,
    pub(crate) aggregator: Arc<dyn TableAggregator<K, V, VA>>,
    pub(crate) send_old_values: Arc<AtomicBool>,
    pub(crate) handle: Option<TimestampedKeyValueStoreHandle<K, VA>>,
    pub(crate) cached: bool,
}

impl<K, V, VA> Processor<K, Change<V>, K, Change<VA>> for TableAggregateProcessor<K, V, VA>
where
    K: Clone + 'static,
    V: 'static,
    VA: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<(), StreamsError> {
        let handle = ctx.timestamped_key_value_store::<K, VA>(&self.store)?;
        self.cached = ctx.caching_enabled(&handle);
        self.handle = Some(handle);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<VA>>,
    ) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| StreamsError::Internal("table aggregate processor used before init".into()))?;
        if handle.is_null_key(&record.key) {
            // The selector leaves null keys out, so this is a bug upstream, as Kafka sees it.
            return Err(StreamsError::Processor {
                processor: ctx.processor_name().to_owned(),
                reason: format!(
                    "record key for KTable aggregate operator with state {} should not be null",
                    self.store
                ),
            });
        }
        let Record {
            key,
            value: change,
            timestamp,
            headers,
        } = record;
        let old = ctx.timestamped_kv(handle).get(&key)?;
        let (old_aggregate, old_timestamp) = match old {
            Some(row) => (Some(row.value), Some(row.timestamp)),
            None => (None, None),
        };
        let forwarded_old = if self.send_old_values.load(Ordering::Relaxed) {
            old_aggregate.clone()
        } else {
            None
        };
        let later = |t: i64| t.max(timestamp);
        let mut new_timestamp = timestamp;
        // First remove the old value, then add the new one.
        let intermediate = match (change.old_value, old_aggregate) {
            (Some(old_value), Some(aggregate)) => {
                new_timestamp = old_timestamp.map_or(timestamp, later);
                Some(self.aggregator.subtract(&key, old_value, aggregate))
            }
            (_, aggregate) => aggregate,
        };
        let new_aggregate = match change.new_value {
            Some(new_value) => {
                new_timestamp = old_timestamp.map_or(timestamp, later);
                Some(self.aggregator.add(&key, new_value, intermediate))
            }
            None => intermediate,
        };
        let mut store = ctx.timestamped_kv(handle);
        match &new_aggregate {
            Some(aggregate) => store.put(&key, aggregate, new_timestamp)?,
            None => {
                store.delete(&key)?;
            }
        }
        if !self.cached {
            ctx.forward(Record {
                key,
                value: Change::new(new_aggregate, forwarded_old),
                timestamp: new_timestamp,
                headers,
            })?;
        }
        Ok(())
    }
}

/// The values of a grouped table's repartition topic: Kafka's `ChangedSerializer` /
/// `ChangedDeserializer` layout, so that Kafka Streams and this crate read each other's
/// records: `{old}{0}` (a subtraction), `{new}{1}` (an addition), `{varint length of new}{new}
/// {old}{2}` (both, for a row that stays in its group); the varint is zig-zag encoded, as
/// Kafka's `ByteUtils.writeVarint`. Reading also accepts flags 3 to 5 (the same with an
/// `isLatest` byte before the flag, which versioned tables use; ignored here). A change with
/// neither value cannot be written.
pub(crate) struct ChangeSerde<V>(pub(crate) SharedSerde<V>);

const SUBTRACT: u8 = 0;
const ADD: u8 = 1;
const BOTH: u8 = 2;

impl<V: 'static> Serde<Change<V>> for ChangeSerde<V> {
    fn serialize(&self, change: &Change<V>) -> Result<Vec<u8>, SerdeError> {
        let mut out = Vec::new();
        match (&change.new_value, &change.old_value) {
            (Some(new_value), Some(old_value)) => {
                let new_bytes = self.0.serialize(new_value)?;
                let length = i32::try_from(new_bytes.len())
                    .map_err(|_| SerdeError::Custom("a new value longer than 2^31 bytes in a change".into()))?;
                write_varint(length, &mut out);
                out.extend_from_slice(&new_bytes);
                self.0.serialize_into(old_value, &mut out)?;
                out.push(BOTH);
            }
            (Some(new_value), None) => {
                self.0.serialize_into(new_value, &mut out)?;
                out.push(ADD);
            }
            (None, Some(old_value)) => {
                self.0.serialize_into(old_value, &mut out)?;
                out.push(SUBTRACT);
            }
            (None, None) => {
                return Err(SerdeError::Custom(
                    "both old and new values are null in a change, which the change serde does not allow".into(),
                ))
            }
        }
        Ok(out)
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<Change<V>, SerdeError> {
        let corrupt = |what: &str| SerdeError::Custom(format!("invalid change encoding: {what}"));
        let (&flag, body) = bytes.split_last().ok_or_else(|| corrupt("no bytes"))?;
        fn without_latest(body: &[u8]) -> Result<&[u8], SerdeError> {
            match body.split_last() {
                Some((0 | 1, rest)) => Ok(rest),
                Some((other, _)) => Err(SerdeError::Custom(format!(
                    "invalid change encoding: isLatest flag {other}"
                ))),
                None => Err(SerdeError::Custom("invalid change encoding: no isLatest flag".into())),
            }
        }
        let (new_bytes, old_bytes): (Option<&[u8]>, Option<&[u8]>) = match flag {
            0 => (None, Some(body)),
            1 => (Some(body), None),
            2 | 5 => {
                let body = if flag == 5 { without_latest(body)? } else { body };
                let (length, rest) = read_varint(body).ok_or_else(|| corrupt("bad varint length"))?;
                let length = usize::try_from(length).map_err(|_| corrupt("negative length"))?;
                if length > rest.len() {
                    return Err(corrupt("new value longer than the record"));
                }
                let (new_bytes, old_bytes) = rest.split_at(length);
                (Some(new_bytes), Some(old_bytes))
            }
            3 => (None, Some(without_latest(body)?)),
            4 => (Some(without_latest(body)?), None),
            other => return Err(corrupt(&format!("unknown flag {other}"))),
        };
        Ok(Change::new(
            new_bytes.map(|b| self.0.deserialize(b)).transpose()?,
            old_bytes.map(|b| self.0.deserialize(b)).transpose()?,
        ))
    }
}

/// Kafka's `ByteUtils.writeVarint`: zig-zag, then 7 bits a byte, low bits first.
fn write_varint(value: i32, out: &mut Vec<u8>) {
    let mut v = ((value << 1) ^ (value >> 31)) as u32;
    while v & !0x7f != 0 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Kafka's `ByteUtils.readVarint`: the value and the bytes after it; `None` when the bytes end
/// early or the varint is longer than 5 bytes.
fn read_varint(bytes: &[u8]) -> Option<(i32, &[u8])> {
    let mut raw: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(5) {
        raw |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let value = ((raw >> 1) as i32) ^ -((raw & 1) as i32);
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::Serdes;

    fn serde() -> ChangeSerde<String> {
        ChangeSerde(Arc::new(Serdes::string()))
    }

    fn change(new_value: Option<&str>, old_value: Option<&str>) -> Change<String> {
        Change::new(new_value.map(str::to_owned), old_value.map(str::to_owned))
    }

    #[test]
    fn changes_are_written_in_kafkas_layout() -> Result<(), SerdeError> {
        let serde = serde();
        assert_eq!(serde.serialize(&change(None, Some("old")))?, b"old\x00".to_vec());
        assert_eq!(serde.serialize(&change(Some("new"), None))?, b"new\x01".to_vec());
        // Zig-zag varint 3 is 6.
        assert_eq!(
            serde.serialize(&change(Some("new"), Some("old")))?,
            b"\x06newold\x02".to_vec()
        );
        assert!(serde.serialize(&change(None, None)).is_err());
        Ok(())
    }

    #[test]
    fn changes_read_back_including_kafkas_is_latest_layouts() -> Result<(), SerdeError> {
        let serde = serde();
        for c in [
            change(None, Some("old")),
            change(Some("new"), None),
            change(Some("new"), Some("old")),
            change(Some(""), Some("")),
        ] {
            assert_eq!(serde.deserialize(&serde.serialize(&c)?)?, c);
        }
        assert_eq!(serde.deserialize(b"old\x01\x03")?, change(None, Some("old")));
        assert_eq!(serde.deserialize(b"new\x00\x04")?, change(Some("new"), None));
        assert_eq!(
            serde.deserialize(b"\x06newold\x01\x05")?,
            change(Some("new"), Some("old"))
        );
        for bad in [
            &b""[..],
            b"x\x06",
            b"old\x07\x03",
            b"\x0anew\x02",
            b"\xff\xff\xff\xff\xff\xff\x02",
        ] {
            assert!(serde.deserialize(bad).is_err(), "{bad:?}");
        }
        Ok(())
    }

    #[test]
    fn varints_match_kafkas_zig_zag_encoding() {
        for (value, bytes) in [
            (0, vec![0x00]),
            (1, vec![0x02]),
            (-1, vec![0x01]),
            (63, vec![0x7e]),
            (64, vec![0x80, 0x01]),
            (300, vec![0xd8, 0x04]),
            (i32::MAX, vec![0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            let mut out = Vec::new();
            write_varint(value, &mut out);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(read_varint(&bytes), Some((value, &[][..])));
        }
    }
}
