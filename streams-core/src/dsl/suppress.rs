//! `KTable::suppress`: holding back a windowed table's updates until each window closes, and
//! then emitting its final result once (Kafka Streams' `Suppressed.untilWindowCloses`).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::windows::Windowed;
use super::{lock, missing_serde, processor_factory, KTable, StoreSpec};
use crate::processor::{Change, Headers, KeyValueStoreHandle, Processor, ProcessorContext, Record};
use crate::serde::{BytesSerde, SharedSerde};
use crate::topology::NodeKind;
use crate::StreamsError;

/// How many updates a suppression may hold. Kafka Streams' `untilWindowCloses` only accepts
/// strict buffers that shut down when full: when a bound is exceeded, processing fails with
/// an error rather than emit a result early.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferConfig {
    max_records: Option<u64>,
    max_bytes: Option<u64>,
}

impl BufferConfig {
    /// No bound: the buffer holds as many windows as stay open.
    pub fn unbounded() -> Self {
        BufferConfig::default()
    }

    /// At most `records` windows held.
    pub fn max_records(records: u64) -> Self {
        BufferConfig::default().with_max_records(records)
    }

    /// At most `bytes` held (each window counts its serialized windowed key, its serialized
    /// new and prior values, and 18 bytes of framing).
    pub fn max_bytes(bytes: u64) -> Self {
        BufferConfig::default().with_max_bytes(bytes)
    }

    /// Adds a bound on the number of windows held.
    pub fn with_max_records(mut self, records: u64) -> Self {
        self.max_records = Some(records);
        self
    }

    /// Adds a bound on the bytes held.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }
}

/// What [`KTable::suppress`] holds back.
///
/// ```
/// use std::time::Duration;
/// use streams_core::dsl::{BufferConfig, Consumed, StreamsBuilder, Suppressed, TimeWindows};
/// use streams_core::serde::Serdes;
///
/// let builder = StreamsBuilder::new();
/// builder
///     .stream::<String, String>("clicks", Consumed::with(Serdes::string(), Serdes::string()))
///     .group_by_key()
///     .windowed_by(TimeWindows::of_size_and_grace(Duration::from_secs(60), Duration::from_secs(10))?)
///     .count()
///     .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()));
/// let description = builder.build()?.describe().to_string();
/// assert!(description.contains(
///     "Processor: KTABLE-SUPPRESS-0000000003 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000004])"
/// ));
/// # Ok::<(), streams_core::StreamsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    name: Option<String>,
    buffer: BufferConfig,
}

impl Suppressed {
    /// Emit only the final result of each window, once stream time has passed the window's
    /// end plus its grace period.
    pub fn until_window_closes(buffer: BufferConfig) -> Self {
        Suppressed { name: None, buffer }
    }

    /// Names the suppression processor (its buffer store becomes `<name>-store`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<Windowed<K>, V> {
    /// Holds back the updates of each window and emits one final result per window when it
    /// closes: when the largest timestamp the suppression has seen reaches the window's end
    /// plus the grace period of the windowed aggregation upstream (for sessions, plus the
    /// inactivity gap too, as a session can grow until then). Deletes (sessions merged away)
    /// are never emitted.
    ///
    /// The updates wait in a logged key-value store (`KTABLE-SUPPRESS-STATE-STORE-<n>`), so
    /// they survive a restart; a buffer over its [`BufferConfig`] bounds fails the task.
    pub fn suppress(&self, suppressed: Suppressed) -> KTable<Windowed<K>, V> {
        let mut b = lock(&self.builder);
        let name = b.name_or(suppressed.name.clone(), "KTABLE-SUPPRESS-");
        let store = match &suppressed.name {
            Some(name) => format!("{name}-store"),
            None => b.new_store_name("KTABLE-SUPPRESS-"),
        };
        let grace = self.window_grace.unwrap_or_else(|| {
            b.error(format!(
                "suppress `{name}`: until_window_closes needs a table from a windowed aggregation \
                 (window close time is only defined for windowed computations)"
            ));
            0
        });
        let key_serde = self.key_serde.clone().unwrap_or_else(|| {
            b.error(format!("suppress `{name}` needs the table's key serde"));
            missing_serde("windowed key serde".into())
        });
        let value_serde = self.value_serde.clone().unwrap_or_else(|| {
            b.error(format!(
                "suppress `{name}` needs the table's value serde: materialize the table with Materialized::with"
            ));
            missing_serde("value serde".into())
        });
        let processor_store = store.clone();
        let processor_name = name.clone();
        let (keys, values) = (Arc::clone(&key_serde), Arc::clone(&value_serde));
        let buffer = suppressed.buffer;
        let node = b.add_node(
            name,
            NodeKind::Processor,
            &[self.node],
            vec![store.clone()],
            processor_factory(move || {
                Box::new(SuppressProcessor::<K, V> {
                    name: processor_name.clone(),
                    store: processor_store.clone(),
                    grace,
                    buffer,
                    key_serde: Arc::clone(&keys),
                    value_serde: Arc::clone(&values),
                    handle: None,
                    index: BTreeSet::new(),
                    entries: HashMap::new(),
                    bytes: 0,
                    observed_stream_time: i64::MIN,
                }) as Box<dyn Processor<Windowed<K>, Change<V>, Windowed<K>, Change<V>>>
            }),
        );
        b.add_store(StoreSpec::<Vec<u8>, Vec<u8>> {
            engine: crate::topology::StoreEngine::Supplier(crate::state::Stores::in_memory_key_value_store(
                store.clone(),
            )),
            name: store,
            key_serde: Arc::new(BytesSerde),
            value_serde: Arc::new(BytesSerde),
            timestamped: false,
            logging: true,
            caching: false,
            forwarder: None,
        });
        drop(b);
        let mut table = KTable::new(
            Arc::clone(&self.builder),
            node,
            Some(key_serde),
            Some(value_serde),
            None,
            self.getter.clone(),
            Arc::new(AtomicBool::new(false)),
            self.source_topics.clone(),
        );
        table.window_grace = self.window_grace;
        // The buffer forwards the old values it receives: asking it for old values asks the
        // table upstream (as Kafka's `KTableSuppressProcessorSupplier` does).
        table.inherit_old_value_flags(&self.old_value_flags);
        table
    }
}

/// One window held back: the timestamp of its latest update, its latest value (`None`: a
/// delete), and the value it had before the first update held.
struct Buffered {
    timestamp: i64,
    new_value: Option<Vec<u8>>,
    prior_value: Option<Vec<u8>>,
}

impl Buffered {
    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(18 + self.new_value.as_ref().map_or(0, Vec::len));
        bytes.extend_from_slice(&self.timestamp.to_be_bytes());
        for value in [&self.new_value, &self.prior_value] {
            match value {
                Some(v) => {
                    bytes.push(1);
                    bytes.extend_from_slice(&u32::try_from(v.len()).unwrap_or(u32::MAX).to_be_bytes());
                    bytes.extend_from_slice(v);
                }
                None => bytes.push(0),
            }
        }
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Buffered> {
        let (timestamp, mut rest) = bytes.split_at_checked(8)?;
        let mut values = [None, None];
        for value in &mut values {
            let (&flag, after) = rest.split_first()?;
            rest = after;
            if flag == 1 {
                let (len, after) = rest.split_at_checked(4)?;
                let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
                let (v, after) = after.split_at_checked(len)?;
                *value = Some(v.to_vec());
                rest = after;
            }
        }
        let [new_value, prior_value] = values;
        Some(Buffered {
            timestamp: i64::from_be_bytes(timestamp.try_into().ok()?),
            new_value,
            prior_value,
        })
    }
}

/// The suppression buffer (Kafka Streams' `KTableSuppressProcessor` with an in-memory
/// time-ordered buffer): windows wait ordered by (window end, windowed key bytes).
struct SuppressProcessor<K, V> {
    name: String,
    store: String,
    grace: i64,
    buffer: BufferConfig,
    key_serde: SharedSerde<Windowed<K>>,
    value_serde: SharedSerde<V>,
    handle: Option<KeyValueStoreHandle<Vec<u8>, Vec<u8>>>,
    /// (window end, windowed key bytes) of every window held.
    index: BTreeSet<(i64, Vec<u8>)>,
    /// Window end and counted size of every window held, by windowed key bytes.
    entries: HashMap<Vec<u8>, (i64, u64)>,
    bytes: u64,
    observed_stream_time: i64,
}

impl<K: Clone + 'static, V: Clone + 'static> SuppressProcessor<K, V> {
    fn serde_error(&self, source: crate::serde::SerdeError) -> StreamsError {
        StreamsError::Serialization {
            context: self.store.clone(),
            source,
        }
    }

    fn corrupt(&self) -> StreamsError {
        StreamsError::StoreAccess {
            store: self.store.clone(),
            reason: "a buffered entry is not in the suppression buffer's layout".into(),
        }
    }

    fn hold(&mut self, key_bytes: Vec<u8>, end: i64, size: u64) {
        if let Some((old_end, old_size)) = self.entries.insert(key_bytes.clone(), (end, size)) {
            self.index.remove(&(old_end, key_bytes.clone()));
            self.bytes = self.bytes.saturating_sub(old_size);
        }
        self.index.insert((end, key_bytes));
        self.bytes = self.bytes.saturating_add(size);
    }

    fn value(&self, bytes: Option<Vec<u8>>) -> Result<Option<V>, StreamsError> {
        bytes
            .map(|b| self.value_serde.deserialize(&b).map_err(|e| self.serde_error(e)))
            .transpose()
    }

    /// Emits, in order, every window whose end is at or before `stream time - grace`.
    fn evict(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<V>>) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| StreamsError::Internal("suppress used before init".into()))?;
        let expiry = self.observed_stream_time.saturating_sub(self.grace);
        while let Some((end, key_bytes)) = self.index.first().cloned() {
            if end > expiry {
                break;
            }
            self.index.pop_first();
            if let Some((_, size)) = self.entries.remove(&key_bytes) {
                self.bytes = self.bytes.saturating_sub(size);
            }
            let Some(encoded) = ctx.kv(handle).delete(&key_bytes)? else {
                continue;
            };
            let buffered = Buffered::decode(&encoded).ok_or_else(|| self.corrupt())?;
            if buffered.new_value.is_none() {
                continue;
            }
            let key = self
                .key_serde
                .deserialize(&key_bytes)
                .map_err(|e| self.serde_error(e))?;
            let change = Change::new(self.value(buffered.new_value)?, self.value(buffered.prior_value)?);
            ctx.forward(Record {
                key,
                value: change,
                timestamp: buffered.timestamp,
                headers: Headers::default(),
            })?;
        }
        Ok(())
    }
}

impl<K: Clone + 'static, V: Clone + 'static> Processor<Windowed<K>, Change<V>, Windowed<K>, Change<V>>
    for SuppressProcessor<K, V>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<V>>) -> Result<(), StreamsError> {
        let handle = ctx.key_value_store::<Vec<u8>, Vec<u8>>(&self.store)?;
        let held = ctx.kv(&handle).all()?;
        for (key_bytes, encoded) in held {
            let key = self
                .key_serde
                .deserialize(&key_bytes)
                .map_err(|e| self.serde_error(e))?;
            let size = (key_bytes.len() + encoded.len()) as u64;
            self.hold(key_bytes, key.window.end, size);
        }
        self.handle = Some(handle);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<Windowed<K>, Change<V>>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<V>>,
    ) -> Result<(), StreamsError> {
        let handle = self
            .handle
            .as_ref()
            .ok_or_else(|| StreamsError::Internal("suppress used before init".into()))?;
        self.observed_stream_time = self.observed_stream_time.max(record.timestamp);
        let key_bytes = self.key_serde.serialize(&record.key).map_err(|e| self.serde_error(e))?;
        let serialize = |v: &Option<V>| -> Result<Option<Vec<u8>>, StreamsError> {
            v.as_ref()
                .map(|v| self.value_serde.serialize(v).map_err(|e| self.serde_error(e)))
                .transpose()
        };
        let prior_value = match ctx.kv(handle).get(&key_bytes)? {
            Some(held) => Buffered::decode(&held).ok_or_else(|| self.corrupt())?.prior_value,
            None => serialize(&record.value.old_value)?,
        };
        let buffered = Buffered {
            timestamp: record.timestamp,
            new_value: serialize(&record.value.new_value)?,
            prior_value,
        };
        let encoded = buffered.encode();
        ctx.kv(handle).put(&key_bytes, &encoded)?;
        let size = (key_bytes.len() + encoded.len()) as u64;
        self.hold(key_bytes, record.key.window.end, size);
        self.evict(ctx)?;
        let records = self.index.len() as u64;
        let over_records = self.buffer.max_records.is_some_and(|max| records > max);
        let over_bytes = self.buffer.max_bytes.is_some_and(|max| self.bytes > max);
        if over_records || over_bytes {
            let bound = |b: Option<u64>| b.map_or_else(|| "unbounded".to_owned(), |b| b.to_string());
            return Err(StreamsError::Processor {
                processor: self.name.clone(),
                reason: format!(
                    "the suppression buffer exceeded its max capacity (until_window_closes shuts down when full): \
                     currently [{records}/{}] records and [{}/{}] bytes",
                    bound(self.buffer.max_records),
                    self.bytes,
                    bound(self.buffer.max_bytes)
                ),
            });
        }
        Ok(())
    }
}
