//! `KTable`: a changelog stream seen as a table with one current value per key.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::grouped_table::TableRepartitionMapProcessor;
use super::operators::{
    OptionSerde, PassThrough, Predicate, TableFilterProcessor, TableJoinOther, TableJoinThis, TableJoiner,
    TableMapValuesProcessor, TableToStreamProcessor,
};
use super::{lock, processor_factory, Grouped, KGroupedTable, KStream, Named, Shared, ValueGetter};
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
    /// What must send old values for this table's changes to carry them: its own flag and,
    /// through operators that keep no store (`filter`, `map_values`, joins, `suppress`), those
    /// of the tables upstream (Kafka's `enableSendingOldValues(true)` walks up the same way).
    pub(crate) old_value_flags: Vec<Arc<AtomicBool>>,
    pub(crate) source_topics: BTreeSet<TopicName>,
    /// The grace period of the windows upstream, for a table of windowed aggregates (what
    /// `suppress(until_window_closes)` needs to know when a window closes).
    pub(crate) window_grace: Option<i64>,
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
            old_value_flags: self.old_value_flags.clone(),
            source_topics: self.source_topics.clone(),
            window_grace: self.window_grace,
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
            old_value_flags: vec![Arc::clone(&send_old_values)],
            send_old_values,
            source_topics,
            window_grace: None,
            _types: PhantomData,
        }
    }

    /// Makes this table's changes carry their old values, switching them on upstream as far as
    /// needed (Kafka's `enableSendingOldValues(true)`).
    pub(crate) fn enable_sending_old_values(&self) {
        for flag in &self.old_value_flags {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// This table, which keeps no store of its own, sends old values only when `upstream`
    /// does: asking it to also asks `upstream`.
    pub(crate) fn inherit_old_value_flags(&mut self, upstream: &[Arc<AtomicBool>]) {
        self.old_value_flags.extend(upstream.iter().cloned());
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
        let versioned_predicate = Arc::clone(&predicate);
        let getter = ValueGetter {
            stores: parent.stores.clone(),
            null_key: Arc::clone(&parent.null_key),
            versioned: parent.versioned.as_ref().map(|v| {
                v.map(move |key, row| Some(row).filter(|row| versioned_predicate(key, &row.value) == keep_if))
            }),
            get: Arc::new(move |env, key: &K| {
                Ok((parent.get)(env, key)?.filter(|row| predicate(key, &row.value) == keep_if))
            }),
        };
        let mut table = KTable::new(
            Arc::clone(&self.builder),
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            None,
            getter,
            send_old_values,
            self.source_topics.clone(),
        );
        table.window_grace = self.window_grace;
        table.inherit_old_value_flags(&self.old_value_flags);
        table
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
        let versioned_mapper = Arc::clone(&mapper);
        let getter = ValueGetter {
            stores: parent.stores.clone(),
            null_key: Arc::clone(&parent.null_key),
            versioned: parent.versioned.as_ref().map(|v| {
                v.map(move |key, row| {
                    Some(crate::processor::ValueAndTimestamp {
                        value: versioned_mapper(key, row.value),
                        timestamp: row.timestamp,
                    })
                })
            }),
            get: Arc::new(move |env, key: &K| {
                Ok((parent.get)(env, key)?.map(|row| crate::processor::ValueAndTimestamp {
                    value: mapper(key, row.value),
                    timestamp: row.timestamp,
                }))
            }),
        };
        let mut table = KTable::new(
            Arc::clone(&self.builder),
            node,
            self.key_serde.clone(),
            None,
            None,
            getter,
            Arc::new(AtomicBool::new(false)),
            self.source_topics.clone(),
        );
        table.window_grace = self.window_grace;
        table.inherit_old_value_flags(&self.old_value_flags);
        table
    }

    /// Inner join with `other` on the key: the result has a row `joiner(this, other)` for each
    /// key with a row in both tables, updated whenever either side changes; a key losing its
    /// row on either side gets a delete (tombstone). The result's timestamps are the larger of
    /// the two rows' timestamps. Both tables must be co-partitioned.
    ///
    /// ```
    /// use streams_core::dsl::{Consumed, StreamsBuilder};
    /// use streams_core::serde::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let left = builder.table::<String, String>("left", Consumed::with(Serdes::string(), Serdes::string()));
    /// let right = builder.table::<String, String>("right", Consumed::with(Serdes::string(), Serdes::string()));
    /// let joined = left.join(&right, |l, r| format!("{l}+{r}"));
    /// joined.to_stream();
    /// assert!(builder.build()?.describe().to_string().contains("KTABLE-MERGE-0000000006"));
    /// # Ok::<(), streams_core::StreamsError>(())
    /// ```
    pub fn join<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.join_tables(other, TableJoiner::Inner(Arc::new(joiner)))
    }

    /// Left join with `other`: every row of this table joins, with `None` when `other` has no
    /// row for its key.
    pub fn left_join<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.join_tables(other, TableJoiner::Left(Arc::new(joiner)))
    }

    /// Outer join with `other`: every key with a row in either table joins, with `None` for
    /// the side that has no row.
    pub fn outer_join<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.join_tables(other, TableJoiner::Outer(Arc::new(joiner)))
    }

    /// Kafka Streams' `KTableImpl.buildJoin`: `KTABLE-MERGE-<n>` (named first),
    /// `KTABLE-JOINTHIS-<n+1>` below this table reading the other's rows,
    /// `KTABLE-JOINOTHER-<n+2>` below the other reading this table's rows, both forwarding to
    /// the merge node. A side whose rows join alone (this side of left and outer joins, the
    /// other side of outer joins) sends its old values, so that a delete there retracts the
    /// joined row.
    fn join_tables<VO: Clone + 'static, VR: Clone + 'static>(
        &self,
        other: &KTable<K, VO>,
        joiner: TableJoiner<V, VO, VR>,
    ) -> KTable<K, VR> {
        if joiner.this_outer() {
            self.enable_sending_old_values();
        }
        if joiner.other_outer() {
            other.enable_sending_old_values();
        }
        let send_old_values = Arc::new(AtomicBool::new(false));
        let mut b = lock(&self.builder);
        let merge_name = b.new_processor_name("KTABLE-MERGE-");
        let this_name = b.new_processor_name("KTABLE-JOINTHIS-");
        let other_name = b.new_processor_name("KTABLE-JOINOTHER-");
        let (other_getter, this_joiner, this_flag) =
            (other.getter.clone(), joiner.clone(), Arc::clone(&send_old_values));
        let join_this = b.add_node(
            this_name,
            NodeKind::Processor,
            &[self.node],
            other.getter.stores.clone(),
            processor_factory(move || {
                Box::new(TableJoinThis {
                    other: other_getter.clone(),
                    joiner: this_joiner.clone(),
                    send_old_values: Arc::clone(&this_flag),
                }) as Box<dyn Processor<K, Change<V>, K, Change<VR>>>
            }),
        );
        let (this_getter, other_joiner, other_flag) =
            (self.getter.clone(), joiner.clone(), Arc::clone(&send_old_values));
        let join_other = b.add_node(
            other_name,
            NodeKind::Processor,
            &[other.node],
            self.getter.stores.clone(),
            processor_factory(move || {
                Box::new(TableJoinOther {
                    this: this_getter.clone(),
                    joiner: other_joiner.clone(),
                    send_old_values: Arc::clone(&other_flag),
                }) as Box<dyn Processor<K, Change<VO>, K, Change<VR>>>
            }),
        );
        let merge = b.add_node(
            merge_name,
            NodeKind::Processor,
            &[join_this, join_other],
            Vec::new(),
            processor_factory(|| Box::new(PassThrough) as Box<dyn Processor<K, Change<VR>, K, Change<VR>>>),
        );
        let mut topics = self.source_topics.clone();
        topics.extend(other.source_topics.iter().cloned());
        b.copartition_groups.push(topics.clone());
        drop(b);
        let (this_getter, other_getter) = (self.getter.clone(), other.getter.clone());
        let mut stores = this_getter.stores.clone();
        stores.extend(other_getter.stores.iter().cloned());
        let getter = ValueGetter {
            stores,
            null_key: Arc::clone(&this_getter.null_key),
            versioned: None,
            get: Arc::new(move |env, key: &K| {
                let this = (this_getter.get)(env, key)?;
                let other = (other_getter.get)(env, key)?;
                let timestamp = this
                    .iter()
                    .map(|r| r.timestamp)
                    .chain(other.iter().map(|r| r.timestamp))
                    .max();
                Ok(joiner
                    .result(this.as_ref().map(|r| &r.value), other.as_ref().map(|r| &r.value))
                    .zip(timestamp)
                    .map(|(value, timestamp)| crate::processor::ValueAndTimestamp { value, timestamp }))
            }),
        };
        let mut table = KTable::new(
            Arc::clone(&self.builder),
            merge,
            self.key_serde.clone(),
            None,
            None,
            getter,
            send_old_values,
            topics,
        );
        // The joined rows' old values are computed from both sides' old values.
        table.inherit_old_value_flags(&self.old_value_flags);
        table.inherit_old_value_flags(&other.old_value_flags);
        table
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

    /// Groups the table's rows by a new key: `selector` maps each row to the `(key, value)` it
    /// contributes to its group, for [`KGroupedTable`]'s `count`, `reduce` and `aggregate`.
    /// The repartition topic needs the new key's and value's serdes, so a grouping without
    /// them ([`group_by_with`](Self::group_by_with) gives them) fails to build.
    pub fn group_by<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        selector: impl Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
    ) -> KGroupedTable<K2, V2> {
        self.group_by_with(selector, Grouped::default())
    }

    /// [`group_by`](Self::group_by) with the serdes of the new key and value and, optionally, a
    /// name for the selector node and the repartition topic (Kafka's `KTable.groupBy(selector,
    /// Grouped)`).
    ///
    /// As in Kafka Streams (`KTableRepartitionMap`), every change of a row goes through a
    /// repartition topic, carrying the row's old and new `(key, value)`: the old value is
    /// subtracted from its group and the new one added to its group, in one record when the
    /// group is the same, else in two (the subtraction first). A pair whose key or value is
    /// null (an `Option` that is `None`) is left out. The table is made to send old values.
    ///
    /// ```
    /// use streams_core::dsl::{Consumed, Grouped, StreamsBuilder};
    /// use streams_core::serde::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// // user -> region; count the users of each region.
    /// builder
    ///     .table::<String, String>("user-regions", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_with(|user, region| (region.clone(), user.clone()), Grouped::with(Serdes::string(), Serdes::string()))
    ///     .count();
    /// let description = builder.build()?.describe().to_string();
    /// assert!(description.contains("Processor: KTABLE-SELECT-0000000003 (stores: [])"));
    /// assert!(description.contains("(topic: KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition)"));
    /// # Ok::<(), streams_core::StreamsError>(())
    /// ```
    pub fn group_by_with<K2: Clone + 'static, V2: Clone + 'static>(
        &self,
        selector: impl Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
        grouped: Grouped<K2, V2>,
    ) -> KGroupedTable<K2, V2> {
        let selector: Arc<dyn Fn(&K, &V) -> (K2, V2) + Send + Sync> = Arc::new(selector);
        let (key_serde, value_serde) = (grouped.key_serde.clone(), grouped.value_serde.clone());
        let mut b = lock(&self.builder);
        let name = b.name_or(grouped.name.clone(), "KTABLE-SELECT-");
        let node = b.add_node(
            name,
            NodeKind::Processor,
            &[self.node],
            Vec::new(),
            processor_factory(move || {
                Box::new(TableRepartitionMapProcessor {
                    selector: Arc::clone(&selector),
                    key_serde: key_serde.clone(),
                    value_serde: value_serde.clone(),
                }) as Box<dyn Processor<K, Change<V>, K2, Change<V2>>>
            }),
        );
        drop(b);
        // The selector sees both the old and the new row.
        self.enable_sending_old_values();
        KGroupedTable::new(Arc::clone(&self.builder), node, grouped)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

    use super::*;
    use crate::dsl::{processor_factory, Consumed, StreamsBuilder};
    use crate::internals::{RecordCollector, TaskId};
    use crate::processor::{Headers, ProcessorContext, ProducerRecord, RawRecord, Record};
    use crate::serde::Serdes;
    use crate::topology::TaskConfig;
    use crate::StreamsError;

    type Seen = Arc<Mutex<Vec<(String, Change<String>, i64)>>>;

    /// Records every change it receives.
    struct Capture(Seen);

    impl Processor<String, Change<String>, String, Change<String>> for Capture {
        fn process(
            &mut self,
            record: Record<String, Change<String>>,
            _ctx: &mut ProcessorContext<'_, String, Change<String>>,
        ) -> Result<(), StreamsError> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((record.key, record.value, record.timestamp));
            Ok(())
        }
    }

    struct Discard;

    impl RecordCollector for Discard {
        fn send(&self, _record: ProducerRecord) -> Result<(), StreamsError> {
            Ok(())
        }
        fn partitions_for(&self, _topic: &str) -> Option<i32> {
            Some(1)
        }
        fn flush(&self) -> Result<(), StreamsError> {
            Ok(())
        }
    }

    /// Adds a node below `table` that records the changes the table forwards.
    fn capture(table: &KTable<String, String>) -> Seen {
        let seen = Seen::default();
        let shared = Arc::clone(&seen);
        let mut b = lock(&table.builder);
        let name = b.new_processor_name("CAPTURE-");
        b.add_node(
            name,
            NodeKind::Processor,
            &[table.node],
            Vec::new(),
            processor_factory(move || {
                Box::new(Capture(Arc::clone(&shared)))
                    as Box<dyn Processor<String, Change<String>, String, Change<String>>>
            }),
        );
        seen
    }

    /// Runs `records` of topic `t` through the builder's only task, without a cache.
    fn run(builder: &StreamsBuilder, records: &[(&str, Option<&str>, i64)]) -> Result<(), StreamsError> {
        let topology = builder.build()?;
        let id = TaskId {
            subtopology: 0,
            partition: 0,
        };
        let mut task = topology.create_task(id, &TaskConfig::new("app", Arc::new(Discard)))?;
        task.add_records(
            "t",
            records.iter().enumerate().map(|(offset, (k, v, ts))| RawRecord {
                key: Some(k.as_bytes().to_vec()),
                value: v.map(|v| v.as_bytes().to_vec()),
                timestamp: *ts,
                offset: offset as i64,
                headers: Headers::new(),
            }),
        )?;
        task.process_all()?;
        Ok(())
    }

    fn change(new_value: Option<&str>, old_value: Option<&str>) -> Change<String> {
        Change::new(new_value.map(str::to_owned), old_value.map(str::to_owned))
    }

    fn seen(seen: &Seen) -> Vec<(String, Change<String>, i64)> {
        seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn table(builder: &StreamsBuilder) -> KTable<String, String> {
        builder.table("t", Consumed::with(Serdes::string(), Serdes::string()))
    }

    const UPDATES: [(&str, Option<&str>, i64); 4] =
        [("a", Some("1"), 1), ("a", Some("2"), 2), ("a", None, 3), ("b", None, 4)];

    #[test]
    fn a_table_source_forwards_a_delete_as_a_change_without_new_value() -> Result<(), StreamsError> {
        let builder = StreamsBuilder::new();
        let seen_changes = capture(&table(&builder));
        run(&builder, &UPDATES)?;
        assert_eq!(
            seen(&seen_changes),
            vec![
                ("a".to_owned(), change(Some("1"), None), 1),
                ("a".to_owned(), change(Some("2"), None), 2),
                ("a".to_owned(), change(None, None), 3),
            ]
        );
        Ok(())
    }

    #[test]
    fn a_table_source_sends_old_values_when_asked() -> Result<(), StreamsError> {
        let builder = StreamsBuilder::new();
        let source = table(&builder);
        source.send_old_values.store(true, Ordering::Relaxed);
        let seen_changes = capture(&source);
        run(&builder, &UPDATES)?;
        assert_eq!(
            seen(&seen_changes),
            vec![
                ("a".to_owned(), change(Some("1"), None), 1),
                ("a".to_owned(), change(Some("2"), Some("1")), 2),
                ("a".to_owned(), change(None, Some("2")), 3),
            ]
        );
        Ok(())
    }

    const FILTERED: [(&str, Option<&str>, i64); 6] = [
        ("a", Some("yes"), 1),
        ("a", Some("no"), 2),
        ("a", Some("nah"), 3),
        ("b", Some("no"), 4),
        ("a", Some("yup"), 5),
        ("a", None, 6),
    ];

    #[test]
    fn a_table_filter_without_old_values_forwards_every_update() -> Result<(), StreamsError> {
        let builder = StreamsBuilder::new();
        let seen_changes = capture(&table(&builder).filter(|_, v| v.starts_with('y')));
        run(&builder, &FILTERED)?;
        assert_eq!(
            seen(&seen_changes),
            vec![
                ("a".to_owned(), change(Some("yes"), None), 1),
                ("a".to_owned(), change(None, None), 2),
                ("a".to_owned(), change(None, None), 3),
                ("b".to_owned(), change(None, None), 4),
                ("a".to_owned(), change(Some("yup"), None), 5),
                ("a".to_owned(), change(None, None), 6),
            ]
        );
        Ok(())
    }

    #[test]
    fn a_table_filter_with_old_values_drops_changes_between_filtered_out_rows() -> Result<(), StreamsError> {
        let builder = StreamsBuilder::new();
        let source = table(&builder);
        source.send_old_values.store(true, Ordering::Relaxed);
        let filtered = source.filter(|_, v| v.starts_with('y'));
        filtered.send_old_values.store(true, Ordering::Relaxed);
        let seen_changes = capture(&filtered);
        run(&builder, &FILTERED)?;
        assert_eq!(
            seen(&seen_changes),
            vec![
                ("a".to_owned(), change(Some("yes"), None), 1),
                ("a".to_owned(), change(None, Some("yes")), 2),
                ("a".to_owned(), change(Some("yup"), None), 5),
                ("a".to_owned(), change(None, Some("yup")), 6),
            ]
        );
        Ok(())
    }
}
