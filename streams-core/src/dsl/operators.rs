//! The processors behind the DSL operators.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::processor::{
    Change, KeyValueStoreHandle, Processor, ProcessorContext, Record, TimestampedKeyValueStoreHandle,
    ValueAndTimestamp, VersionedKeyValueStoreHandle,
};
use crate::serde::{Serde, SerdeError, SharedSerde};
use crate::StreamsError;

use super::ValueGetter;

pub(crate) use crate::internals::stateless::Predicate;

/// `flat_map`: one record in, any number out, same timestamp and headers.
pub(crate) struct FlatMapProcessor<K, V, K2, V2> {
    pub(crate) mapper: Arc<dyn Fn(K, V) -> Vec<(K2, V2)> + Send + Sync>,
}

impl<K: 'static, V: 'static, K2: Clone + 'static, V2: Clone + 'static> Processor<K, V, K2, V2>
    for FlatMapProcessor<K, V, K2, V2>
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K2, V2>) -> Result<(), StreamsError> {
        let Record {
            key,
            value,
            timestamp,
            mut headers,
        } = record;
        let mut outputs = (self.mapper)(key, value).into_iter().peekable();
        while let Some((k, v)) = outputs.next() {
            // The last output takes the headers over; the others get copies.
            let headers = match outputs.peek() {
                Some(_) => headers.clone(),
                None => std::mem::take(&mut headers),
            };
            ctx.forward(Record {
                key: k,
                value: v,
                timestamp,
                headers,
            })?;
        }
        Ok(())
    }
}

/// The values a `flat_map_values` mapper produced: a single one is kept apart so that it needs
/// no vector and its record no copy of key and headers.
pub(crate) enum MappedValues<V> {
    One(V),
    Many(Vec<V>),
}

impl<V> MappedValues<V> {
    /// Every value of `values`, in order.
    pub(crate) fn collect(values: impl IntoIterator<Item = V>) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (Some(first), None) => MappedValues::One(first),
            (None, _) => MappedValues::Many(Vec::new()),
            (Some(first), Some(second)) => MappedValues::Many([first, second].into_iter().chain(values).collect()),
        }
    }
}

/// `flat_map_values`: one record in, any number of values out under the same key, timestamp
/// and headers. Every value is produced before the first is forwarded.
pub(crate) struct FlatMapValuesProcessor<V, V2> {
    pub(crate) mapper: Arc<dyn Fn(V) -> MappedValues<V2> + Send + Sync>,
}

impl<K: Clone + 'static, V: 'static, V2: Clone + 'static> Processor<K, V, K, V2> for FlatMapValuesProcessor<V, V2> {
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V2>) -> Result<(), StreamsError> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let values = match (self.mapper)(value) {
            MappedValues::One(value) => {
                return ctx.forward(Record {
                    key,
                    value,
                    timestamp,
                    headers,
                })
            }
            MappedValues::Many(values) => values,
        };
        let mut values = values.into_iter().peekable();
        while let Some(value) = values.next() {
            if values.peek().is_none() {
                // The last record takes the key and headers over; the others get copies.
                return ctx.forward(Record {
                    key,
                    value,
                    timestamp,
                    headers,
                });
            }
            ctx.forward(Record {
                key: key.clone(),
                value,
                timestamp,
                headers: headers.clone(),
            })?;
        }
        Ok(())
    }
}

/// Forwards every record unchanged (`merge`, branch children).
pub(crate) struct PassThrough;

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for PassThrough {
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<(), StreamsError> {
        ctx.forward(record)
    }
}

/// `split`: the first branch whose predicate matches gets the record; the default branch, if
/// any, gets the rest.
pub(crate) struct BranchProcessor<K, V> {
    pub(crate) predicates: Vec<Predicate<K, V>>,
    pub(crate) has_default: bool,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, V, K, V> for BranchProcessor<K, V> {
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, V>) -> Result<(), StreamsError> {
        match self.predicates.iter().position(|p| p(&record.key, &record.value)) {
            Some(i) => ctx.forward_to_index(i, record),
            None if self.has_default => ctx.forward_to_index(self.predicates.len(), record),
            None => Ok(()),
        }
    }
}

/// How a grouped stream folds values into its aggregate.
pub(crate) enum Aggregation<K, V, VA> {
    /// `aggregate(initializer, aggregator)` and `count`.
    Aggregate {
        initializer: Arc<dyn Fn() -> VA + Send + Sync>,
        aggregator: Arc<dyn Fn(&K, V, VA) -> VA + Send + Sync>,
    },
    /// `reduce(reducer)`: the first value is the initial aggregate.
    Reduce {
        reducer: Arc<dyn Fn(VA, V) -> VA + Send + Sync>,
    },
}

impl<K, V: 'static, VA: 'static> Aggregation<K, V, VA> {
    /// The aggregate a new window or session starts from: the initializer's value, or nothing
    /// for a reduce (its first value becomes the aggregate).
    pub(crate) fn initial(&self) -> Option<VA> {
        match self {
            Aggregation::Aggregate { initializer, .. } => Some(initializer()),
            Aggregation::Reduce { .. } => None,
        }
    }

    /// Folds `value` into `aggregate` (the initial aggregate when `None`).
    pub(crate) fn apply(&self, key: &K, value: V, aggregate: Option<VA>) -> Result<VA, StreamsError> {
        match (self, aggregate) {
            (
                Aggregation::Aggregate {
                    initializer,
                    aggregator,
                },
                None,
            ) => Ok(aggregator(key, value, initializer())),
            (Aggregation::Aggregate { aggregator, .. }, Some(old)) => Ok(aggregator(key, value, old)),
            (Aggregation::Reduce { .. }, None) => into_aggregate::<V, VA>(value)
                .ok_or_else(|| StreamsError::Internal("reduce with different value types".into())),
            (Aggregation::Reduce { reducer }, Some(old)) => Ok(reducer(old, value)),
        }
    }
}

impl<K: 'static, V: 'static> Aggregation<K, V, i64> {
    /// Counting (`count()`): 0, then one more per record.
    pub(crate) fn count() -> Self {
        Aggregation::Aggregate {
            initializer: Arc::new(|| 0i64),
            aggregator: Arc::new(|_: &K, _: V, count: i64| count + 1),
        }
    }
}

impl<K, V, VA> Clone for Aggregation<K, V, VA> {
    fn clone(&self) -> Self {
        match self {
            Aggregation::Aggregate {
                initializer,
                aggregator,
            } => Aggregation::Aggregate {
                initializer: Arc::clone(initializer),
                aggregator: Arc::clone(aggregator),
            },
            Aggregation::Reduce { reducer } => Aggregation::Reduce {
                reducer: Arc::clone(reducer),
            },
        }
    }
}

/// `count`, `reduce`, `aggregate` on a grouped stream (Kafka's `KStreamAggregate` and
/// `KStreamReduce`): updates the aggregate of the record's key in a timestamped store and
/// forwards the change, unless the store's cache forwards it on flush. Records with a null key
/// are dropped and counted.
pub(crate) struct StreamAggregateProcessor<K, V, VA> {
    pub(crate) store: String,
    pub(crate) aggregation: Aggregation<K, V, VA>,
    pub(crate) send_old_values: Arc<AtomicBool>,
    pub(crate) handle: Option<TimestampedKeyValueStoreHandle<K, VA>>,
    pub(crate) cached: bool,
    /// The serialized key and aggregate of the record being processed, kept to reuse their
    /// allocations.
    pub(crate) key_bytes: Vec<u8>,
    pub(crate) value_bytes: Vec<u8>,
}

impl<K, V, VA> Processor<K, V, K, Change<VA>> for StreamAggregateProcessor<K, V, VA>
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
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<VA>>,
    ) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| StreamsError::Internal("aggregate processor used before init".into()))?;
        if handle.is_null_key(&record.key) {
            tracing::warn!(store = %self.store, "skipping a record with a null key");
            ctx.record_dropped();
            return Ok(());
        }
        let old =
            ctx.timestamped_kv(handle)
                .get_with_key_bytes(&record.key, &mut self.key_bytes, &mut self.value_bytes)?;
        let (new_value, timestamp) = match (&self.aggregation, &old) {
            (
                Aggregation::Aggregate {
                    initializer,
                    aggregator,
                },
                None,
            ) => (aggregator(&record.key, record.value, initializer()), record.timestamp),
            (Aggregation::Aggregate { aggregator, .. }, Some(old)) => (
                aggregator(&record.key, record.value, old.value.clone()),
                record.timestamp.max(old.timestamp),
            ),
            (Aggregation::Reduce { .. }, None) => match into_aggregate::<V, VA>(record.value) {
                Some(v) => (v, record.timestamp),
                None => return Err(StreamsError::Internal("reduce with different value types".into())),
            },
            (Aggregation::Reduce { reducer }, Some(old)) => (
                reducer(old.value.clone(), record.value),
                record.timestamp.max(old.timestamp),
            ),
        };
        ctx.timestamped_kv(handle)
            .put_at_key_bytes(&self.key_bytes, &new_value, timestamp, &mut self.value_bytes)?;
        if !self.cached {
            let old_value = if self.send_old_values.load(Ordering::Relaxed) {
                old.map(|o| o.value)
            } else {
                None
            };
            ctx.forward(Record {
                key: record.key,
                value: Change::new(Some(new_value), old_value),
                timestamp,
                headers: record.headers,
            })?;
        }
        Ok(())
    }
}

/// `reduce` keeps values of one type; this moves a `V` into a `VA` when they are the same type.
fn into_aggregate<V: 'static, VA: 'static>(value: V) -> Option<VA> {
    let mut slot = Some(value);
    (&mut slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<VA>>()
        .and_then(Option::take)
}

/// The source of a table (Kafka's `KTableSource`): upserts or deletes the row and forwards the
/// change, also when the value is the one already stored (as Kafka Streams since 2.8, which
/// turned KIP-557's skipping of such updates off again); deleting a row that does not exist
/// forwards nothing. Updates with a null key are dropped and counted.
///
/// On a versioned store, every update goes into the row's history at its own timestamp; only
/// updates that become the row's latest version are forwarded: an out-of-order update (older
/// than the latest) is kept for lookups as of its time, and an update older than the history
/// retention is dropped and counted.
pub(crate) struct TableSourceProcessor<K, V> {
    pub(crate) store: String,
    pub(crate) send_old_values: Arc<AtomicBool>,
    pub(crate) handle: Option<TimestampedKeyValueStoreHandle<K, V>>,
    pub(crate) versioned: Option<VersionedKeyValueStoreHandle<K, V>>,
    pub(crate) cached: bool,
}

impl<K: Clone + 'static, V: Clone + 'static> TableSourceProcessor<K, V> {
    fn forward_change(
        &self,
        record: Record<K, Option<V>>,
        old: Option<V>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<(), StreamsError> {
        let old_value = if self.send_old_values.load(Ordering::Relaxed) {
            old
        } else {
            None
        };
        ctx.forward(Record {
            key: record.key,
            value: Change::new(record.value, old_value),
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }

    fn process_versioned(
        &self,
        handle: &VersionedKeyValueStoreHandle<K, V>,
        record: Record<K, Option<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<(), StreamsError> {
        let mut store = ctx.versioned(handle);
        let old = store.get(&record.key)?.map(|o| o.value);
        match store.put(&record.key, record.value.as_ref(), record.timestamp)? {
            streams_state::PutOutcome::Latest => {}
            streams_state::PutOutcome::ValidTo(valid_to) => {
                tracing::debug!(
                    store = %self.store,
                    "out-of-order table update at {} kept in the history until {valid_to}, not forwarded",
                    record.timestamp
                );
                return Ok(());
            }
            streams_state::PutOutcome::NotPut => {
                tracing::warn!(
                    store = %self.store,
                    "dropping a table update at {}: older than the store's history retention",
                    record.timestamp
                );
                ctx.record_dropped();
                return Ok(());
            }
        }
        if record.value.is_none() && old.is_none() {
            return Ok(());
        }
        self.forward_change(record, old, ctx)
    }
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, Option<V>, K, Change<V>> for TableSourceProcessor<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<(), StreamsError> {
        if ctx.is_versioned_store(&self.store)? {
            self.versioned = Some(ctx.versioned_key_value_store::<K, V>(&self.store)?);
        }
        let handle = ctx.timestamped_key_value_store::<K, V>(&self.store)?;
        self.cached = ctx.caching_enabled(&handle);
        self.handle = Some(handle);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Option<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| StreamsError::Internal("table source used before init".into()))?;
        if handle.is_null_key(&record.key) {
            tracing::warn!(store = %self.store, "skipping a table update with a null key");
            ctx.record_dropped();
            return Ok(());
        }
        if let Some(versioned) = &self.versioned {
            return self.process_versioned(versioned, record, ctx);
        }
        let mut store = ctx.timestamped_kv(handle);
        let old = store.get(&record.key)?;
        if let Some(old) = &old {
            if record.timestamp < old.timestamp {
                tracing::warn!(store = %self.store, "out-of-order table update: timestamp {} is before {}", record.timestamp, old.timestamp);
            }
        }
        match &record.value {
            Some(value) => {
                store.put(&record.key, value, record.timestamp)?;
            }
            None => {
                if old.is_none() {
                    return Ok(());
                }
                store.delete(&record.key)?;
            }
        }
        if !self.cached {
            self.forward_change(record, old.map(|o| o.value), ctx)?;
        }
        Ok(())
    }
}

/// `KTable::filter` / `filter_not` (Kafka's `KTableFilter`): rows that fail the predicate
/// become deletes downstream.
pub(crate) struct TableFilterProcessor<K, V> {
    pub(crate) predicate: Predicate<K, V>,
    pub(crate) keep_if: bool,
    pub(crate) send_old_values: Arc<AtomicBool>,
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, Change<V>, K, Change<V>> for TableFilterProcessor<K, V> {
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<(), StreamsError> {
        let keep = |v: Option<V>| v.filter(|v| (self.predicate)(&record.key, v) == self.keep_if);
        let new_value = keep(record.value.new_value.clone());
        let send_old = self.send_old_values.load(Ordering::Relaxed);
        let old_value = if send_old {
            keep(record.value.old_value.clone())
        } else {
            None
        };
        if send_old && new_value.is_none() && old_value.is_none() {
            return Ok(());
        }
        let change = Change::new(new_value, old_value);
        ctx.forward(record.with_value(change))
    }
}

/// `KTable::map_values`.
pub(crate) struct TableMapValuesProcessor<K, V, V2> {
    pub(crate) mapper: Arc<dyn Fn(&K, V) -> V2 + Send + Sync>,
}

impl<K: Clone + 'static, V: 'static, V2: Clone + 'static> Processor<K, Change<V>, K, Change<V2>>
    for TableMapValuesProcessor<K, V, V2>
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V2>>,
    ) -> Result<(), StreamsError> {
        let key = record.key;
        let new_value = record.value.new_value.map(|v| (self.mapper)(&key, v));
        let old_value = record.value.old_value.map(|v| (self.mapper)(&key, v));
        ctx.forward(Record {
            key,
            value: Change::new(new_value, old_value),
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

/// `KTable::to_stream`: the new value of each change; deletes become `None`.
pub(crate) struct TableToStreamProcessor;

impl<K: Clone + 'static, V: Clone + 'static> Processor<K, Change<V>, K, Option<V>> for TableToStreamProcessor {
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Option<V>>,
    ) -> Result<(), StreamsError> {
        let value = record.value.new_value;
        ctx.forward(Record {
            key: record.key,
            value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

/// The two stream-table joins (Kafka's `KStreamKTableJoin`): each stream record looks up the
/// table row of its key; the result carries the stream record's timestamp. A record with a
/// null key has no row: the inner join drops and counts it, the left join joins it with none.
pub(crate) enum StreamTableJoiner<V, VT, VR> {
    Inner(Arc<dyn Fn(&V, &VT) -> VR + Send + Sync>),
    Left(Arc<dyn Fn(&V, Option<&VT>) -> VR + Send + Sync>),
}

impl<V, VT, VR> Clone for StreamTableJoiner<V, VT, VR> {
    fn clone(&self) -> Self {
        match self {
            StreamTableJoiner::Inner(f) => StreamTableJoiner::Inner(Arc::clone(f)),
            StreamTableJoiner::Left(f) => StreamTableJoiner::Left(Arc::clone(f)),
        }
    }
}

/// A stream-table join (Kafka's `KStreamKTableJoinProcessor`). Against a versioned table each
/// record meets the row as of its own timestamp; with a grace period, records wait in a
/// time-ordered buffer until the stream time passes their timestamp plus the grace period.
pub(crate) struct StreamTableJoinProcessor<K, V, VT, VR> {
    pub(crate) getter: ValueGetter<K, VT>,
    pub(crate) joiner: StreamTableJoiner<V, VT, VR>,
    pub(crate) buffer: Option<JoinBuffer<K, V>>,
    /// Whether a stream value is null (such records are dropped and counted, as in Kafka).
    pub(crate) null_value: NullCheck<V>,
}

/// Whether a value is null on the wire.
pub(crate) type NullCheck<V> = Arc<dyn Fn(&V) -> bool + Send + Sync>;

/// Drops (and counts) a stream record with a null value, which a stream-table join ignores
/// (Kafka's `KStreamKTableJoinProcessor`): `true` when it did.
fn drop_null_value<V, KOut, VOut>(
    null_value: &NullCheck<V>,
    value: &V,
    ctx: &mut ProcessorContext<'_, KOut, VOut>,
) -> bool {
    if null_value(value) {
        tracing::warn!(
            processor = ctx.processor_name(),
            "skipping a join record with a null value"
        );
        ctx.record_dropped();
        return true;
    }
    false
}

/// The grace-period buffer of a stream-table join (Kafka's time-ordered key-value buffer):
/// records in a key-value store under `timestamp (8 bytes, order-preserving) ++ sequence
/// number (8 bytes BE)`, so that the store's key order is arrival order within timestamp
/// order.
pub(crate) struct JoinBuffer<K, V> {
    pub(crate) store: String,
    pub(crate) grace: i64,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) handle: Option<KeyValueStoreHandle<Vec<u8>, Vec<u8>>>,
    pub(crate) observed_stream_time: i64,
    pub(crate) next_seq: u64,
}

fn ordered_time(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

impl<K: 'static, V: 'static> JoinBuffer<K, V> {
    fn corrupt(&self) -> StreamsError {
        StreamsError::StoreAccess {
            store: self.store.clone(),
            reason: "a buffered record is not in the join buffer's layout".into(),
        }
    }

    fn serde_error(&self, source: SerdeError) -> StreamsError {
        StreamsError::Serialization {
            context: self.store.clone(),
            source,
        }
    }

    /// `nullable key ++ value ++ headers`, each length-prefixed.
    fn encode(&self, record: &Record<K, V>) -> Result<Vec<u8>, StreamsError> {
        fn put(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
            match bytes {
                Some(b) => {
                    out.push(1);
                    out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
                    out.extend_from_slice(b);
                }
                None => out.push(0),
            }
        }
        let key = self
            .key_serde
            .serialize_nullable(&record.key)
            .map_err(|e| self.serde_error(e))?;
        let value = self
            .value_serde
            .serialize(&record.value)
            .map_err(|e| self.serde_error(e))?;
        let mut out = Vec::with_capacity(16 + value.len());
        out.extend_from_slice(&record.timestamp.to_be_bytes());
        put(&mut out, key.as_deref());
        put(&mut out, Some(&value));
        out.extend_from_slice(&u32::try_from(record.headers.len()).unwrap_or(u32::MAX).to_be_bytes());
        for header in record.headers.iter() {
            put(&mut out, Some(header.key.as_bytes()));
            put(&mut out, header.value.as_deref());
        }
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Record<K, V>, StreamsError> {
        fn take<'a>(rest: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
            let (&flag, after) = rest.split_first()?;
            if flag == 0 {
                *rest = after;
                return Some(None);
            }
            let (len, after) = after.split_at_checked(4)?;
            let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
            let (b, after) = after.split_at_checked(len)?;
            *rest = after;
            Some(Some(b))
        }
        let parse = || -> Option<(i64, Option<&[u8]>, &[u8], crate::processor::Headers)> {
            let (ts, mut rest) = bytes.split_at_checked(8)?;
            let timestamp = i64::from_be_bytes(ts.try_into().ok()?);
            let key = take(&mut rest)?;
            let value = take(&mut rest)??;
            let (count, after) = rest.split_at_checked(4)?;
            rest = after;
            let mut headers = crate::processor::Headers::new();
            for _ in 0..u32::from_be_bytes(count.try_into().ok()?) {
                let name = String::from_utf8(take(&mut rest)??.to_vec()).ok()?;
                match take(&mut rest)? {
                    Some(v) => headers.add(name, v.to_vec()),
                    None => headers.add_null(name),
                };
            }
            Some((timestamp, key, value, headers))
        };
        let (timestamp, key, value, headers) = parse().ok_or_else(|| self.corrupt())?;
        let key = match key {
            Some(k) => self.key_serde.deserialize(k),
            None => self.key_serde.deserialize_null(),
        }
        .map_err(|e| self.serde_error(e))?;
        let value = self.value_serde.deserialize(value).map_err(|e| self.serde_error(e))?;
        Ok(Record {
            key,
            value,
            timestamp,
            headers,
        })
    }
}

impl<V, VT, VR> StreamTableJoiner<V, VT, VR> {
    /// Joins `record` with the row its lookup key found (`None`: no row; `lookup_null`: the
    /// lookup key is null). As Kafka Streams (KIP-962): a left join joins a null lookup key
    /// with no row, an inner join drops and counts the record; an inner join forwards nothing
    /// for a record without a row. The result keeps the stream record's key and timestamp.
    fn join<K>(
        &self,
        record: Record<K, V>,
        lookup_null: bool,
        row: Option<ValueAndTimestamp<VT>>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<(), StreamsError>
    where
        K: Clone + 'static,
        VR: Clone + 'static,
    {
        let joined = match (self, row) {
            (StreamTableJoiner::Inner(_), _) if lookup_null => {
                ctx.record_dropped();
                return Ok(());
            }
            (StreamTableJoiner::Inner(f), Some(row)) => f(&record.value, &row.value),
            (StreamTableJoiner::Inner(_), None) => return Ok(()),
            (StreamTableJoiner::Left(f), row) => f(&record.value, row.as_ref().map(|r| &r.value)),
        };
        ctx.forward(record.with_value(joined))
    }
}

impl<K, V, VT, VR> StreamTableJoinProcessor<K, V, VT, VR>
where
    K: Clone + 'static,
    V: 'static,
    VT: 'static,
    VR: Clone + 'static,
{
    /// Joins `record` with the table's row: the latest one, or, for a versioned table, the one
    /// valid at the record's timestamp.
    fn join_now(&self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<(), StreamsError> {
        if (self.getter.null_key)(&record.key) {
            return self.joiner.join(record, true, None, ctx);
        }
        let row = match &self.getter.versioned {
            Some(versioned) => (versioned.get_as_of)(ctx.env_mut(), &record.key, record.timestamp)?,
            None => (self.getter.get)(ctx.env_mut(), &record.key)?,
        };
        self.joiner.join(record, false, row, ctx)
    }
}

impl<K, V, VT, VR> Processor<K, V, K, VR> for StreamTableJoinProcessor<K, V, VT, VR>
where
    K: Clone + 'static,
    V: 'static,
    VT: 'static,
    VR: Clone + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<(), StreamsError> {
        let Some(buffer) = &mut self.buffer else {
            return Ok(());
        };
        let handle = ctx.key_value_store::<Vec<u8>, Vec<u8>>(&buffer.store)?;
        // After a restart the buffer holds what was not yet joined: continue its sequence
        // numbers, and its stream time from the newest record held.
        let held = ctx.kv(&handle).all()?;
        for (key, value) in &held {
            let seq = key.get(8..16).and_then(|s| s.try_into().ok()).map(u64::from_be_bytes);
            let ts = value.get(..8).and_then(|t| t.try_into().ok()).map(i64::from_be_bytes);
            let (Some(seq), Some(ts)) = (seq, ts) else {
                return Err(buffer.corrupt());
            };
            buffer.next_seq = buffer.next_seq.max(seq + 1);
            buffer.observed_stream_time = buffer.observed_stream_time.max(ts);
        }
        buffer.handle = Some(handle);
        Ok(())
    }

    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<(), StreamsError> {
        if drop_null_value(&self.null_value, &record.value, ctx) {
            return Ok(());
        }
        if self.buffer.is_none() {
            return self.join_now(record, ctx);
        }
        if matches!(self.joiner, StreamTableJoiner::Inner(_)) && (self.getter.null_key)(&record.key) {
            // Dropped (and counted) before buffering, as Kafka Streams does.
            return self.joiner.join(record, true, None, ctx);
        }
        let ready = match &mut self.buffer {
            Some(buffer) => buffer.admit(record, ctx)?,
            None => vec![record],
        };
        for record in ready {
            self.join_now(record, ctx)?;
        }
        Ok(())
    }
}

impl<K: 'static, V: 'static> JoinBuffer<K, V> {
    /// Takes `record` in and returns, in timestamp order, the records due for joining: those at
    /// or before the stream time minus the grace period (`record` itself at once when it is
    /// already that late).
    fn admit<KOut, VOut>(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<Vec<Record<K, V>>, StreamsError> {
        self.observed_stream_time = self.observed_stream_time.max(record.timestamp);
        let horizon = self.observed_stream_time.saturating_sub(self.grace);
        if record.timestamp < horizon {
            return Ok(vec![record]);
        }
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| StreamsError::Internal("join buffer used before init".into()))?;
        let mut key = ordered_time(record.timestamp).to_vec();
        key.extend_from_slice(&self.next_seq.to_be_bytes());
        self.next_seq += 1;
        let encoded = self.encode(&record)?;
        ctx.kv(handle).put(&key, &encoded)?;
        let mut upto = ordered_time(horizon).to_vec();
        upto.extend_from_slice(&u64::MAX.to_be_bytes());
        let due = ctx.kv(handle).range(&Vec::new(), &upto)?;
        let mut ready = Vec::with_capacity(due.len());
        for (key, encoded) in due {
            ctx.kv(handle).delete(&key)?;
            ready.push(self.decode(&encoded)?);
        }
        Ok(ready)
    }
}

/// The stream-global-table joins (Kafka's `KStreamGlobalKTableJoin`): each stream record looks
/// up the global table's row for the key `key_selector` computes from it.
pub(crate) struct StreamGlobalJoinProcessor<K, V, GK, VT, VR> {
    pub(crate) key_selector: Arc<dyn Fn(&K, &V) -> GK + Send + Sync>,
    pub(crate) getter: ValueGetter<GK, VT>,
    pub(crate) joiner: StreamTableJoiner<V, VT, VR>,
    pub(crate) null_value: NullCheck<V>,
}

impl<K, V, GK, VT, VR> Processor<K, V, K, VR> for StreamGlobalJoinProcessor<K, V, GK, VT, VR>
where
    K: Clone + 'static,
    V: 'static,
    GK: 'static,
    VT: 'static,
    VR: Clone + 'static,
{
    fn process(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<(), StreamsError> {
        if drop_null_value(&self.null_value, &record.value, ctx) {
            return Ok(());
        }
        let lookup = (self.key_selector)(&record.key, &record.value);
        if (self.getter.null_key)(&lookup) {
            return self.joiner.join(record, true, None, ctx);
        }
        let row = (self.getter.get)(ctx.env_mut(), &lookup)?;
        self.joiner.join(record, false, row, ctx)
    }
}

/// Serdes a DSL operation needed but could not know; `build()` reports the problem, so these
/// never run.
pub(crate) struct MissingSerde(pub(crate) String);

impl<T> Serde<T> for MissingSerde {
    fn serialize(&self, _: &T) -> Result<Vec<u8>, SerdeError> {
        Err(SerdeError::Custom(self.0.clone()))
    }
    fn deserialize(&self, _: &[u8]) -> Result<T, SerdeError> {
        Err(SerdeError::Custom(self.0.clone()))
    }
}

/// `Serde<Option<V>>` over any `Serde<V>`: table sources read nulls as deletes and
/// `to_stream` writes deletes as nulls.
pub(crate) struct OptionSerde<V>(pub(crate) SharedSerde<V>);

impl<V: 'static> Serde<Option<V>> for OptionSerde<V> {
    fn serialize(&self, value: &Option<V>) -> Result<Vec<u8>, SerdeError> {
        match value {
            Some(v) => self.0.serialize(v),
            None => Err(SerdeError::Null {
                type_name: std::any::type_name::<V>(),
            }),
        }
    }
    fn deserialize(&self, bytes: &[u8]) -> Result<Option<V>, SerdeError> {
        self.0.deserialize(bytes).map(Some)
    }
    fn serialize_nullable(&self, value: &Option<V>) -> Result<Option<Vec<u8>>, SerdeError> {
        value.as_ref().map(|v| self.0.serialize(v)).transpose()
    }
    fn is_null(&self, value: &Option<V>) -> bool {
        value.is_none()
    }
    fn deserialize_null(&self) -> Result<Option<V>, SerdeError> {
        Ok(None)
    }
}

/// The joiner of a table-table join (Kafka's `KTableKTableJoin`, `...LeftJoin`,
/// `...OuterJoin`), and what a pair of rows joins to.
pub(crate) enum TableJoiner<V, VO, VR> {
    Inner(Arc<dyn Fn(&V, &VO) -> VR + Send + Sync>),
    Left(Arc<dyn Fn(&V, Option<&VO>) -> VR + Send + Sync>),
    Outer(Arc<dyn Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync>),
}

impl<V, VO, VR> Clone for TableJoiner<V, VO, VR> {
    fn clone(&self) -> Self {
        match self {
            TableJoiner::Inner(f) => TableJoiner::Inner(Arc::clone(f)),
            TableJoiner::Left(f) => TableJoiner::Left(Arc::clone(f)),
            TableJoiner::Outer(f) => TableJoiner::Outer(Arc::clone(f)),
        }
    }
}

impl<V, VO, VR> TableJoiner<V, VO, VR> {
    /// The joined row of a key whose rows are `this` and `other`, if the join has one.
    pub(crate) fn result(&self, this: Option<&V>, other: Option<&VO>) -> Option<VR> {
        match (self, this, other) {
            (_, None, None) => None,
            (TableJoiner::Inner(f), Some(v), Some(vo)) => Some(f(v, vo)),
            (TableJoiner::Inner(_), _, _) => None,
            (TableJoiner::Left(f), Some(v), vo) => Some(f(v, vo)),
            (TableJoiner::Left(_), None, _) => None,
            (TableJoiner::Outer(f), v, vo) => Some(f(v, vo)),
        }
    }

    /// Whether a row of this table without a row of the other joins (left and outer joins).
    pub(crate) fn this_outer(&self) -> bool {
        !matches!(self, TableJoiner::Inner(_))
    }

    /// Whether a row of the other table without a row of this one joins (outer join).
    pub(crate) fn other_outer(&self) -> bool {
        matches!(self, TableJoiner::Outer(_))
    }
}

/// Joins a change of one side of a table-table join with the other side's current row, as
/// Kafka Streams' table-table join processors: nothing when the other side has no row and this
/// side's rows do not join alone (or the change carries nothing); otherwise the change of the
/// joined row (the old joined row only when old values are sent), with the larger of the two
/// rows' timestamps.
fn join_table_change<K, M, T, VR>(
    record: Record<K, Change<M>>,
    theirs: Option<ValueAndTimestamp<T>>,
    mine_outer: bool,
    send_old_values: bool,
    result: impl Fn(Option<&M>, Option<&T>) -> Option<VR>,
    ctx: &mut ProcessorContext<'_, K, Change<VR>>,
) -> Result<(), StreamsError>
where
    K: Clone + 'static,
    VR: Clone + 'static,
{
    let their_timestamp = match &theirs {
        Some(row) => row.timestamp,
        None if !mine_outer => return Ok(()),
        None if record.value.new_value.is_none() && record.value.old_value.is_none() => return Ok(()),
        None => i64::MIN,
    };
    let their_value = theirs.as_ref().map(|r| &r.value);
    let new_value = result(record.value.new_value.as_ref(), their_value);
    let old_value = if send_old_values && record.value.old_value.is_some() {
        result(record.value.old_value.as_ref(), their_value)
    } else {
        None
    };
    let timestamp = record.timestamp.max(their_timestamp);
    ctx.forward(Record {
        key: record.key,
        value: Change::new(new_value, old_value),
        timestamp,
        headers: record.headers,
    })
}

/// The processor below this table of a table-table join: this table's changes joined with the
/// other table's rows.
pub(crate) struct TableJoinThis<K, V, VO, VR> {
    pub(crate) other: ValueGetter<K, VO>,
    pub(crate) joiner: TableJoiner<V, VO, VR>,
    pub(crate) send_old_values: Arc<AtomicBool>,
}

impl<K: Clone + 'static, V: 'static, VO: 'static, VR: Clone + 'static> Processor<K, Change<V>, K, Change<VR>>
    for TableJoinThis<K, V, VO, VR>
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<(), StreamsError> {
        let theirs = (self.other.get)(ctx.env_mut(), &record.key)?;
        let joiner = &self.joiner;
        let send_old = self.send_old_values.load(Ordering::Relaxed);
        join_table_change(
            record,
            theirs,
            joiner.this_outer(),
            send_old,
            |m, t| joiner.result(m, t),
            ctx,
        )
    }
}

/// The processor below the other table of a table-table join: the other table's changes
/// joined with this table's rows.
pub(crate) struct TableJoinOther<K, V, VO, VR> {
    pub(crate) this: ValueGetter<K, V>,
    pub(crate) joiner: TableJoiner<V, VO, VR>,
    pub(crate) send_old_values: Arc<AtomicBool>,
}

impl<K: Clone + 'static, V: 'static, VO: 'static, VR: Clone + 'static> Processor<K, Change<VO>, K, Change<VR>>
    for TableJoinOther<K, V, VO, VR>
{
    fn process(
        &mut self,
        record: Record<K, Change<VO>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<(), StreamsError> {
        let theirs = (self.this.get)(ctx.env_mut(), &record.key)?;
        let joiner = &self.joiner;
        let send_old = self.send_old_values.load(Ordering::Relaxed);
        join_table_change(
            record,
            theirs,
            joiner.other_outer(),
            send_old,
            |m, t| joiner.result(t, m),
            ctx,
        )
    }
}
