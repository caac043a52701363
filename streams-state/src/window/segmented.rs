//! The time-segmented engine behind window and session stores (Kafka Streams'
//! `AbstractRocksDBSegmentedBytesStore` and its segments).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{
    parse_session_store_key, parse_window_store_key, window_store_key, SessionEntry, SessionStore, WindowEntry,
    WindowStore,
};
use crate::memory::InMemoryKeyValueStore;
use crate::store::{
    ChangelogRecord, KeyValue, KeyValueBytesStoreSupplier, KeyValueIterator, KeyValueStore, StateStore,
};
use crate::StateError;

/// Kafka Streams' smallest default segment interval: one minute.
const MIN_SEGMENT_INTERVAL_MS: i64 = 60_000;

/// How store keys carry their time, and so which time segments them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySchema {
    /// `key ++ start ++ seqnum`: segmented by window start.
    Window,
    /// `key ++ end ++ start`: segmented by session end.
    Session,
}

impl KeySchema {
    /// The record key and the segmenting time of a store key.
    fn split<'a>(&self, store_key: &'a [u8]) -> Option<(&'a [u8], i64)> {
        match self {
            KeySchema::Window => parse_window_store_key(store_key).map(|(key, start, _)| (key, start)),
            KeySchema::Session => parse_session_store_key(store_key).map(|(key, _, end)| (key, end)),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            KeySchema::Window => "window",
            KeySchema::Session => "session",
        }
    }
}

/// The seqnum of a window store key (0 if malformed).
fn seqnum_of(store_key: &[u8]) -> u32 {
    parse_window_store_key(store_key).map_or(0, |(_, _, seqnum)| seqnum)
}

/// Where segments live.
#[derive(Clone)]
enum Engine {
    InMemory,
    #[cfg(feature = "rocksdb")]
    RocksDb {
        dir: PathBuf,
        resources: crate::RocksDbResources,
    },
}

/// A store split into time segments of `segment_interval` milliseconds, each a key-value
/// engine of its own (an in-memory map, or a RocksDB instance in
/// `<task dir>/<store>/<store>.<segment start>` as Kafka Streams names them).
///
/// It implements [`KeyValueStore`] over store keys (see [`crate::window`]) and, according to
/// its [`KeySchema`], [`WindowStore`] or [`SessionStore`]. Retention follows Kafka Streams:
///
/// * the *observed stream time* is the largest segmenting time written (window start, session
///   end), restored records included;
/// * an entry whose time is at or before `observed stream time - retention` is expired: a write
///   of it is skipped (logged at debug), reads leave it out;
/// * a segment whose whole time span is expired is dropped (its RocksDB directory deleted).
///
/// A window store may *retain duplicates* ([`retaining_duplicates`](Self::retaining_duplicates),
/// Kafka's `retainDuplicates`): [`WindowStore::put_window`] then adds each value under a new
/// seqnum (1, 2, ... wrapping at 2^31, as Kafka Streams counts them) and a `None` write does
/// nothing. After a restore, or when RocksDB segments were reopened from disk, seqnums go on
/// after the largest one held, and each new one is checked against the entries of its key and
/// window first, so that no restored value is overwritten (Kafka Streams starts again at 1).
pub struct SegmentedBytesStore {
    name: String,
    schema: KeySchema,
    retention: i64,
    segment_interval: i64,
    engine: Engine,
    segments: BTreeMap<i64, Box<dyn KeyValueStore>>,
    observed_stream_time: i64,
    open: bool,
    retain_duplicates: bool,
    seqnum: u32,
    /// Entries this instance did not write itself exist (restored or reopened), so a seqnum
    /// may already be taken.
    seqnum_may_collide: bool,
}

impl SegmentedBytesStore {
    /// An in-memory store.
    pub fn in_memory(name: impl Into<String>, schema: KeySchema, retention: i64, segment_interval: i64) -> Self {
        Self::new(name.into(), schema, retention, segment_interval, Engine::InMemory)
    }

    /// A RocksDB store in `dir` (one instance per segment), reopening the segments found there.
    #[cfg(feature = "rocksdb")]
    pub fn rocksdb(
        name: impl Into<String>,
        schema: KeySchema,
        retention: i64,
        segment_interval: i64,
        dir: impl Into<PathBuf>,
        resources: crate::RocksDbResources,
    ) -> Result<Self, StateError> {
        let dir = dir.into();
        let mut store = Self::new(
            name.into(),
            schema,
            retention,
            segment_interval,
            Engine::RocksDb {
                dir: dir.clone(),
                resources,
            },
        );
        if dir.is_dir() {
            let entries = std::fs::read_dir(&dir).map_err(|e| store.io_error(&dir, e))?;
            let prefix = format!("{}.", store.name);
            for entry in entries {
                let entry = entry.map_err(|e| store.io_error(&dir, e))?;
                let file_name = entry.file_name();
                let Some(start) = file_name
                    .to_str()
                    .and_then(|n| n.strip_prefix(&prefix))
                    .and_then(|n| n.parse::<i64>().ok())
                else {
                    continue;
                };
                let id = start.div_euclid(store.segment_interval);
                let segment = store.open_segment(id)?;
                store.segments.insert(id, segment);
                store.seqnum_may_collide = true;
            }
        }
        Ok(store)
    }

    fn new(name: String, schema: KeySchema, retention: i64, segment_interval: i64, engine: Engine) -> Self {
        SegmentedBytesStore {
            name,
            schema,
            retention: retention.max(0),
            segment_interval: segment_interval.max(1),
            engine,
            segments: BTreeMap::new(),
            observed_stream_time: i64::MIN,
            open: true,
            retain_duplicates: false,
            seqnum: 0,
            seqnum_may_collide: false,
        }
    }

    /// Makes a window store keep every value written (see the type's documentation). Entries
    /// already held (RocksDB segments reopened from disk) are scanned for the largest seqnum, so
    /// that new values sort after them.
    pub fn retaining_duplicates(mut self) -> Result<Self, StateError> {
        self.retain_duplicates = self.schema == KeySchema::Window;
        if self.retain_duplicates && !self.segments.is_empty() {
            let mut largest = self.seqnum;
            for segment in self.segments.values() {
                for entry in segment.all()? {
                    let (store_key, _) = entry?;
                    largest = largest.max(seqnum_of(&store_key));
                }
            }
            self.seqnum = largest;
        }
        Ok(self)
    }

    /// Continues seqnums after `store_key`'s, for a store that retains duplicates.
    fn note_seqnum(&mut self, store_key: &[u8]) {
        self.seqnum = self.seqnum.max(seqnum_of(store_key));
    }

    /// The retention period in milliseconds.
    pub fn retention(&self) -> i64 {
        self.retention
    }

    /// The segment interval in milliseconds.
    pub fn segment_interval(&self) -> i64 {
        self.segment_interval
    }

    /// The largest segmenting time written so far (`i64::MIN` before the first write).
    pub fn observed_stream_time(&self) -> i64 {
        self.observed_stream_time
    }

    /// Start times of the segments held, oldest first.
    pub fn segment_starts(&self) -> Vec<i64> {
        self.segments.keys().map(|id| id * self.segment_interval).collect()
    }

    fn io_error(&self, path: &Path, error: std::io::Error) -> StateError {
        StateError::Engine {
            store: self.name.clone(),
            reason: format!("{}: {error}", path.display()),
        }
    }

    fn check_open(&self) -> Result<(), StateError> {
        if self.open {
            Ok(())
        } else {
            Err(StateError::Closed {
                store: self.name.clone(),
            })
        }
    }

    fn segment_id(&self, time: i64) -> i64 {
        time.div_euclid(self.segment_interval)
    }

    /// The oldest time still retained.
    fn min_live_time(&self) -> i64 {
        self.observed_stream_time
            .saturating_sub(self.retention)
            .saturating_add(1)
    }

    fn split_key<'a>(&self, store_key: &'a [u8]) -> Result<(&'a [u8], i64), StateError> {
        self.schema.split(store_key).ok_or_else(|| StateError::InvalidKey {
            store: self.name.clone(),
            reason: format!(
                "a {} store key of {} bytes is too short to hold its window",
                self.schema.describe(),
                store_key.len()
            ),
        })
    }

    fn segment_name(&self, id: i64) -> String {
        format!("{}.{}", self.name, id.saturating_mul(self.segment_interval))
    }

    fn open_segment(&self, id: i64) -> Result<Box<dyn KeyValueStore>, StateError> {
        let name = self.segment_name(id);
        match &self.engine {
            Engine::InMemory => Ok(Box::new(InMemoryKeyValueStore::new(name))),
            #[cfg(feature = "rocksdb")]
            Engine::RocksDb { dir, resources } => Ok(Box::new(crate::RocksDbKeyValueStore::open(
                name.clone(),
                dir.join(&name),
                resources,
            )?)),
        }
    }

    fn drop_segment(&self, id: i64, mut segment: Box<dyn KeyValueStore>) -> Result<(), StateError> {
        segment.close()?;
        drop(segment);
        tracing::debug!(store = %self.name, segment = %self.segment_name(id), "dropping an expired segment");
        match &self.engine {
            Engine::InMemory => Ok(()),
            #[cfg(feature = "rocksdb")]
            Engine::RocksDb { dir, .. } => {
                let path = dir.join(self.segment_name(id));
                std::fs::remove_dir_all(&path).map_err(|e| self.io_error(&path, e))
            }
        }
    }

    /// Drops the segments whose whole span is expired.
    fn drop_expired_segments(&mut self) -> Result<(), StateError> {
        let min_live_segment = self.segment_id(self.min_live_time());
        while let Some(entry) = self.segments.first_entry() {
            if *entry.key() >= min_live_segment {
                break;
            }
            let (id, segment) = entry.remove_entry();
            self.drop_segment(id, segment)?;
        }
        Ok(())
    }

    /// Notes `time` as written: advances the observed stream time and drops expired segments.
    /// Returns whether an entry at `time` is still live.
    fn observe(&mut self, time: i64) -> Result<bool, StateError> {
        if time > self.observed_stream_time {
            self.observed_stream_time = time;
            self.drop_expired_segments()?;
        }
        Ok(time >= self.min_live_time())
    }

    fn write(&mut self, store_key: &[u8], value: Option<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        self.check_open()?;
        let (_, time) = self.split_key(store_key)?;
        if !self.observe(time)? {
            tracing::debug!(store = %self.name, time, observed_stream_time = self.observed_stream_time,
                "skipping a write for an expired window");
            return Ok(None);
        }
        let id = self.segment_id(time);
        match value {
            Some(value) => {
                if !self.segments.contains_key(&id) {
                    let segment = self.open_segment(id)?;
                    self.segments.insert(id, segment);
                }
                let segment = self.segments.get_mut(&id).ok_or_else(|| StateError::Engine {
                    store: self.name.clone(),
                    reason: format!("segment {id} vanished"),
                })?;
                segment.put(store_key, value)?;
                Ok(None)
            }
            None => match self.segments.get_mut(&id) {
                Some(segment) => segment.delete(store_key),
                None => Ok(None),
            },
        }
    }

    /// Live entries whose segmenting time is in `[time_from, time_to]`, of `key` (exactly) or of
    /// every key, that `keep` accepts; in no particular order.
    fn scan(
        &self,
        key: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Vec<KeyValue>, StateError> {
        self.check_open()?;
        let time_from = time_from.max(self.min_live_time());
        if time_from > time_to {
            return Ok(Vec::new());
        }
        let mut entries = Vec::new();
        for segment in self
            .segments
            .range(self.segment_id(time_from)..=self.segment_id(time_to))
            .map(|(_, s)| s)
        {
            let iter = match key {
                Some(key) => segment.prefix_scan(key)?,
                None => segment.all()?,
            };
            for entry in iter {
                let (store_key, value) = entry?;
                let (entry_key, time) = self.split_key(&store_key)?;
                if key.is_some_and(|k| k != entry_key) || time < time_from || time > time_to || !keep(&store_key) {
                    continue;
                }
                entries.push((store_key, value));
            }
        }
        Ok(entries)
    }

    /// Live entries with `from <= store key <= to` (either bound open), ascending by store key.
    fn key_range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueIterator<'_>, StateError> {
        let in_range = |k: &[u8]| from.is_none_or(|f| k >= f) && to.is_none_or(|t| k <= t);
        let mut entries = self.scan(None, i64::MIN, i64::MAX, &in_range)?;
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Box::new(entries.into_iter().map(Ok)))
    }
}

impl fmt::Debug for SegmentedBytesStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentedBytesStore")
            .field("name", &self.name)
            .field("schema", &self.schema)
            .field("retention", &self.retention)
            .field("segment_interval", &self.segment_interval)
            .field("segments", &self.segment_starts())
            .field("observed_stream_time", &self.observed_stream_time)
            .finish_non_exhaustive()
    }
}

impl StateStore for SegmentedBytesStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn flush(&mut self) -> Result<(), StateError> {
        self.check_open()?;
        for segment in self.segments.values_mut() {
            segment.flush()?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), StateError> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        for segment in self.segments.values_mut() {
            segment.close()?;
        }
        self.segments.clear();
        Ok(())
    }

    fn persistent(&self) -> bool {
        match self.engine {
            Engine::InMemory => false,
            #[cfg(feature = "rocksdb")]
            Engine::RocksDb { .. } => true,
        }
    }
}

impl KeyValueStore for SegmentedBytesStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.check_open()?;
        let (_, time) = self.split_key(key)?;
        if time < self.min_live_time() {
            return Ok(None);
        }
        match self.segments.get(&self.segment_id(time)) {
            Some(segment) => segment.get(key),
            None => Ok(None),
        }
    }

    fn get_into(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool, StateError> {
        self.check_open()?;
        out.clear();
        let (_, time) = self.split_key(key)?;
        if time < self.min_live_time() {
            return Ok(false);
        }
        match self.segments.get(&self.segment_id(time)) {
            Some(segment) => segment.get_into(key, out),
            None => Ok(false),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.write(key, Some(value)).map(drop)
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.write(key, None)
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        self.key_range(Some(from), Some(to))
    }

    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<KeyValueIterator<'a>, StateError> {
        let mut entries = self.scan(None, i64::MIN, i64::MAX, &|k: &[u8]| k.starts_with(prefix))?;
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(Box::new(entries.into_iter().map(Ok)))
    }

    fn all<'a>(&'a self) -> Result<KeyValueIterator<'a>, StateError> {
        self.key_range(None, None)
    }

    fn approximate_num_entries(&self) -> Result<u64, StateError> {
        self.check_open()?;
        self.segments
            .values()
            .try_fold(0u64, |sum, s| Ok(sum.saturating_add(s.approximate_num_entries()?)))
    }

    fn restore_batch(&mut self, batch: &[ChangelogRecord]) -> Result<(), StateError> {
        if !batch.is_empty() {
            self.seqnum_may_collide = true;
        }
        for record in batch {
            if self.retain_duplicates {
                self.note_seqnum(&record.key);
            }
            self.write(&record.key, record.value.as_deref())?;
        }
        Ok(())
    }

    fn as_window_store(&self) -> Option<&dyn WindowStore> {
        (self.schema == KeySchema::Window).then_some(self as &dyn WindowStore)
    }

    fn as_window_store_mut(&mut self) -> Option<&mut dyn WindowStore> {
        (self.schema == KeySchema::Window).then_some(self as &mut dyn WindowStore)
    }

    fn as_session_store(&self) -> Option<&dyn SessionStore> {
        (self.schema == KeySchema::Session).then_some(self as &dyn SessionStore)
    }

    fn as_session_store_mut(&mut self) -> Option<&mut dyn SessionStore> {
        (self.schema == KeySchema::Session).then_some(self as &mut dyn SessionStore)
    }
}

impl WindowStore for SegmentedBytesStore {
    fn window_scan(&self, key: Option<&[u8]>, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>, StateError> {
        let mut entries: Vec<WindowEntry> = self
            .scan(key, time_from, time_to, &|_| true)?
            .into_iter()
            .filter_map(|(store_key, value)| {
                parse_window_store_key(&store_key).map(|(key, window_start, seqnum)| WindowEntry {
                    key: key.to_vec(),
                    window_start,
                    seqnum,
                    value,
                })
            })
            .collect();
        entries.sort_unstable_by(|a, b| (a.window_start, &a.key, a.seqnum).cmp(&(b.window_start, &b.key, b.seqnum)));
        Ok(entries)
    }

    fn retains_duplicates(&self) -> bool {
        self.retain_duplicates
    }

    fn next_window_store_key(&mut self, key: &[u8], window_start: i64) -> Result<Vec<u8>, StateError> {
        if !self.retain_duplicates {
            return Ok(window_store_key(key, window_start, 0));
        }
        // Kafka Streams' `(seqnum + 1) & 0x7FFFFFFF`; past a wrap, numbers may be taken again.
        let mut tries: u64 = 0;
        loop {
            self.seqnum = self.seqnum.wrapping_add(1) & 0x7FFF_FFFF;
            if self.seqnum == 0 {
                self.seqnum_may_collide = true;
            }
            let store_key = window_store_key(key, window_start, self.seqnum);
            tries += 1;
            if !self.seqnum_may_collide || self.get(&store_key)?.is_none() || tries > 0x7FFF_FFFF {
                return Ok(store_key);
            }
        }
    }

    fn write_expired(&self, window_start: i64) -> bool {
        let observed = self.observed_stream_time.max(window_start);
        window_start <= observed.saturating_sub(self.retention)
    }
}

impl SessionStore for SegmentedBytesStore {
    fn session_scan(
        &self,
        key: Option<&[u8]>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<SessionEntry>, StateError> {
        let starts_in_time =
            |k: &[u8]| parse_session_store_key(k).is_some_and(|(_, start, _)| start <= latest_session_start);
        let mut entries: Vec<SessionEntry> = self
            .scan(key, earliest_session_end, i64::MAX, &starts_in_time)?
            .into_iter()
            .filter_map(|(store_key, value)| {
                parse_session_store_key(&store_key).map(|(key, start, end)| SessionEntry {
                    key: key.to_vec(),
                    start,
                    end,
                    value,
                })
            })
            .collect();
        entries.sort_unstable_by(|a, b| (a.end, &a.key, a.start).cmp(&(b.end, &b.key, b.start)));
        Ok(entries)
    }
}

/// The engine a [`SegmentedBytesStoreSupplier`] builds on.
#[derive(Clone)]
enum SupplierEngine {
    InMemory,
    #[cfg(feature = "rocksdb")]
    RocksDb(Option<crate::RocksDbResources>),
}

/// Supplies [`SegmentedBytesStore`]s: window or session stores, in memory or in RocksDB (see
/// [`crate::Stores`] for the constructors in Kafka Streams' vocabulary).
///
/// It is a [`KeyValueBytesStoreSupplier`], so a window store is built, logged and restored by
/// the same [`crate::KeyValueStoreBuilder`] as any key-value store; reach its window API with
/// [`KeyValueStore::as_window_store`] / [`KeyValueStore::as_session_store`].
#[derive(Clone)]
pub struct SegmentedBytesStoreSupplier {
    name: String,
    schema: KeySchema,
    retention: i64,
    window_size: i64,
    segment_interval: i64,
    engine: SupplierEngine,
    retain_duplicates: bool,
}

impl SegmentedBytesStoreSupplier {
    fn new(
        name: String,
        schema: KeySchema,
        retention: i64,
        window_size: i64,
        engine: SupplierEngine,
    ) -> Result<Self, StateError> {
        if retention < 0 {
            return Err(StateError::Config {
                store: name,
                reason: format!("retention period must not be negative, got {retention} ms"),
            });
        }
        if window_size < 0 || (schema == KeySchema::Window && window_size > retention) {
            return Err(StateError::Config {
                store: name,
                reason: format!(
                    "the retention period ({retention} ms) must be at least the window size ({window_size} ms), \
                     and the window size not negative"
                ),
            });
        }
        Ok(SegmentedBytesStoreSupplier {
            name,
            schema,
            retention,
            window_size,
            segment_interval: (retention / 2).max(MIN_SEGMENT_INTERVAL_MS),
            engine,
            retain_duplicates: false,
        })
    }

    /// Makes the window stores it supplies keep every value written (Kafka's
    /// `retainDuplicates`), as stream-stream joins need; see [`SegmentedBytesStore`]. Session
    /// stores cannot.
    pub fn with_retain_duplicates(mut self) -> Result<Self, StateError> {
        if self.schema != KeySchema::Window {
            return Err(StateError::Config {
                store: self.name,
                reason: "only window stores can retain duplicates".to_owned(),
            });
        }
        self.retain_duplicates = true;
        Ok(self)
    }

    /// Whether the window stores it supplies retain duplicates.
    pub fn retains_duplicates(&self) -> bool {
        self.retain_duplicates
    }

    /// Whether its stores live in RocksDB (else in memory).
    pub fn is_persistent(&self) -> bool {
        !matches!(self.engine, SupplierEngine::InMemory)
    }

    /// An in-memory window store supplier.
    pub fn in_memory_window(name: impl Into<String>, retention: i64, window_size: i64) -> Result<Self, StateError> {
        Self::new(
            name.into(),
            KeySchema::Window,
            retention,
            window_size,
            SupplierEngine::InMemory,
        )
    }

    /// An in-memory session store supplier.
    pub fn in_memory_session(name: impl Into<String>, retention: i64) -> Result<Self, StateError> {
        Self::new(name.into(), KeySchema::Session, retention, 0, SupplierEngine::InMemory)
    }

    /// A RocksDB window store supplier (`resources: None` shares
    /// [`crate::RocksDbResources::global`]).
    #[cfg(feature = "rocksdb")]
    pub fn rocksdb_window(
        name: impl Into<String>,
        retention: i64,
        window_size: i64,
        resources: Option<crate::RocksDbResources>,
    ) -> Result<Self, StateError> {
        Self::new(
            name.into(),
            KeySchema::Window,
            retention,
            window_size,
            SupplierEngine::RocksDb(resources),
        )
    }

    /// A RocksDB session store supplier.
    #[cfg(feature = "rocksdb")]
    pub fn rocksdb_session(
        name: impl Into<String>,
        retention: i64,
        resources: Option<crate::RocksDbResources>,
    ) -> Result<Self, StateError> {
        Self::new(
            name.into(),
            KeySchema::Session,
            retention,
            0,
            SupplierEngine::RocksDb(resources),
        )
    }

    /// Sets the segment interval (by default `max(retention / 2, 60 s)`, as Kafka Streams).
    pub fn with_segment_interval(mut self, segment_interval: i64) -> Result<Self, StateError> {
        if segment_interval < 1 {
            return Err(StateError::Config {
                store: self.name,
                reason: format!("segment interval must be at least 1 ms, got {segment_interval}"),
            });
        }
        self.segment_interval = segment_interval;
        Ok(self)
    }

    /// Window or session.
    pub fn schema(&self) -> KeySchema {
        self.schema
    }

    /// The retention period in milliseconds.
    pub fn retention(&self) -> i64 {
        self.retention
    }

    /// The window size in milliseconds (0 for sessions).
    pub fn window_size(&self) -> i64 {
        self.window_size
    }

    /// The segment interval in milliseconds.
    pub fn segment_interval(&self) -> i64 {
        self.segment_interval
    }

    /// The directory of the store for the task whose state directory is `state_dir`, as Kafka
    /// Streams places segmented stores: `<task dir>/<store>`.
    pub fn store_dir(&self, state_dir: &Path) -> PathBuf {
        state_dir.join(&self.name)
    }
}

impl fmt::Debug for SegmentedBytesStoreSupplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentedBytesStoreSupplier")
            .field("name", &self.name)
            .field("schema", &self.schema)
            .field("engine", &self.metrics_scope())
            .field("retention", &self.retention)
            .field("window_size", &self.window_size)
            .field("segment_interval", &self.segment_interval)
            .field("retain_duplicates", &self.retain_duplicates)
            .finish()
    }
}

impl KeyValueBytesStoreSupplier for SegmentedBytesStoreSupplier {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, state_dir: Option<&Path>) -> Result<Box<dyn KeyValueStore>, StateError> {
        let store = self.get_segmented(state_dir)?;
        Ok(Box::new(if self.retain_duplicates {
            store.retaining_duplicates()?
        } else {
            store
        }))
    }

    fn metrics_scope(&self) -> &str {
        match (&self.engine, self.schema) {
            (SupplierEngine::InMemory, KeySchema::Window) => "in-memory-window",
            (SupplierEngine::InMemory, KeySchema::Session) => "in-memory-session",
            #[cfg(feature = "rocksdb")]
            (SupplierEngine::RocksDb(_), KeySchema::Window) => "rocksdb-window",
            #[cfg(feature = "rocksdb")]
            (SupplierEngine::RocksDb(_), KeySchema::Session) => "rocksdb-session",
        }
    }

    fn as_segmented(&self) -> Option<&SegmentedBytesStoreSupplier> {
        Some(self)
    }
}

impl SegmentedBytesStoreSupplier {
    fn get_segmented(&self, state_dir: Option<&Path>) -> Result<SegmentedBytesStore, StateError> {
        match &self.engine {
            SupplierEngine::InMemory => Ok(SegmentedBytesStore::in_memory(
                self.name.clone(),
                self.schema,
                self.retention,
                self.segment_interval,
            )),
            #[cfg(feature = "rocksdb")]
            SupplierEngine::RocksDb(resources) => {
                let Some(state_dir) = state_dir else {
                    return Err(StateError::Config {
                        store: self.name.clone(),
                        reason: "persistent (RocksDB) stores need a state directory, but none was given; \
                                 configure a state directory or use an in-memory store"
                            .to_owned(),
                    });
                };
                crate::rocksdb::check_store_name(&self.name)?;
                let resources = resources.clone().unwrap_or_else(crate::RocksDbResources::global);
                SegmentedBytesStore::rocksdb(
                    self.name.clone(),
                    self.schema,
                    self.retention,
                    self.segment_interval,
                    self.store_dir(state_dir),
                    resources,
                )
            }
        }
    }
}
